# shellcheck shell=bash
#
# chat-gateway.bash: the chat-capable gateway of the chat and models tests
# (loaded by chat.bats and models.bats after the harness).
#
#   chat_gateway_start   sets CHAT_URL (the gateway cynork talks to for
#                        /v1/models and /v1/chat/completions; empty when
#                        there is none) and CHAT_REAL (1: cynode-server).
#   need_chat            skips a test when CHAT_URL is empty.
#   need_real_gateway    skips a test unless CHAT_REAL=1.
#   gwcy ARGS...         cynork against CHAT_URL.
#   fake_start           starts fake-ollama (FAKE_URL) with $MODEL and $MODEL2.
#   fake_fault JSON      installs a fault on the fake (see its header).
#   fake_chat_requests   the fake's /v1/chat/completions requests (JSON array).

MODEL=qwen3.5:0.8b
MODEL2=tinyllama:1b
FAKE=${CY_FAKE_OLLAMA:-$CY_ROOT/tests/ollama/fake-ollama}

# --- the chat-capable gateway -----------------------------------------------
#
# TODO(gateway): until cynode-server serves GET /v1/models and POST
# /v1/chat/completions, the tests that need a chat-capable gateway point
# cynork straight at fake-ollama's OpenAI-compatible endpoints (CHAT_URL is
# the fake; cynork sends it the session's token, which the fake ignores).
# To switch to the real gateway, change only this function: start the fake
# as node-01's inference backend (cy_node_start with the node.yaml
# inference settings naming $FAKE_URL), wait until GET /v1/models on the
# gateway lists $MODEL, then set CHAT_URL=$CY_GATEWAY_URL and CHAT_REAL=1.
# Faults stay on the fake (fake_fault), where the node's backend sees them.
# The tests expect from the gateway: GET /v1/models as {"object":"list",
# "data":[{"id","object":"model","created","owned_by","nodes"}]} listing
# $MODEL and $MODEL2; POST /v1/chat/completions with fake-ollama's replies
# passed through ("[MODEL] echo: TEXT", "#long N", "#markdown"), streamed as
# server-sent events ending with "data: [DONE]" and each upstream chunk
# forwarded as it comes; an unknown model 404 (OpenAI error shape); a
# backend 500 as a 5xx; a backend stream cut mid-way or ending in an error
# as a stream without [DONE] (or with an error event); and a client that
# goes away cancels the upstream request (fake request outcome client_gone).
chat_gateway_start()
{
	CHAT_URL=
	CHAT_REAL=0
	if [ -x "$FAKE" ]; then
		fake_start || return 1
		CHAT_URL=$FAKE_URL
	fi
	export CHAT_URL CHAT_REAL
}

# Skips a test that needs a chat-capable gateway when there is none.
need_chat()
{
	[ -n "${CHAT_URL:-}" ] || skip "no chat-capable gateway (fake-ollama not found at $FAKE)"
}

# Skips a test that only the real gateway can pass (slash commands that
# reach the gateway's other endpoints).
need_real_gateway()
{
	need_chat
	[ "${CHAT_REAL:-0}" = 1 ] || skip "TODO(gateway): needs cynode-server's chat endpoints"
}

fake_start()
{
	local port i

	port=$(cy_free_port) || return 1
	OLLAMA_HOST=127.0.0.1:$port FAKE_OLLAMA_MODELS="$MODEL,$MODEL2" \
		"$FAKE" serve >"$CY_TMP/fake-ollama.out" 2>&1 &
	cy__track $!
	FAKE_URL=http://127.0.0.1:$port
	export FAKE_URL
	for i in $(seq 1 100); do
		curl -sf -o /dev/null "$FAKE_URL/api/version" && return 0
		sleep 0.1
	done
	echo "fake-ollama did not start:" >&2
	cat "$CY_TMP/fake-ollama.out" >&2
	return 1
}

# fake_fault JSON: installs a fault on the fake backend (see fake-ollama's header).
fake_fault()
{
	curl -sf -o /dev/null -X POST --data-binary "$1" "$FAKE_URL/_fake/faults"
}

# The requests the fake saw for /v1/chat/completions, as a JSON array.
fake_chat_requests()
{
	curl -sf "$FAKE_URL/_fake/requests" | jq -c '[.[] | select(.path == "/v1/chat/completions")]'
}

# cynork against the chat-capable gateway.
gwcy()
{
	CYNORK_GATEWAY_URL=$CHAT_URL cynork "$@"
}

