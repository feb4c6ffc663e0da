# shellcheck shell=bash
#
# chat-gateway.bash: the chat-capable stack of the chat and models tests
# (loaded by chat.bats and models.bats after the harness): fake-ollama as
# the inference backend of one real node, behind the real gateway.
#
#   chat_gateway_start   starts the backend (FAKE_URL, models $MODEL and
#                        $MODEL2) and node-01 using it, and waits until the
#                        gateway's GET /v1/models lists both models.
#   gwcy ARGS...         cynork against the gateway (CYNORK_GATEWAY_URL).
#   fake_fault JSON      installs a fault on the backend (see fake-ollama's
#                        header): the node relays what it does.
#   fake_chat_requests   the chat requests the backend saw (JSON array of
#                        fake-ollama's request log entries).
#   gw_models            the model ids the gateway lists, one a line.

MODEL=qwen3.5:0.8b
MODEL2=tinyllama:1b

chat_gateway_start()
{
	local i

	cy_ollama_start ollama FAKE_OLLAMA_MODELS="$MODEL,$MODEL2" || return 1
	FAKE_URL=$CY_OLLAMA_URL
	export FAKE_URL
	cy_node_start node-01 "inference.url=\"$FAKE_URL\"" \
		orchestrator.heartbeat_interval_seconds=1 orchestrator.report_interval_seconds=1 ||
		return 1
	for i in $(seq 1 150); do
		[ "$(gw_models | paste -sd ' ')" = "$MODEL $MODEL2" ] && return 0
		sleep 0.2
	done
	echo "the gateway never listed $MODEL and $MODEL2: $(gw_models | paste -sd ' ')" >&2
	return 1
}

gw_models()
{
	cynork -o name models list 2>/dev/null
}

gwcy()
{
	cynork "$@"
}

fake_fault()
{
	curl -sf -o /dev/null -X POST --data-binary "$1" "$FAKE_URL/_fake/faults"
}

fake_chat_requests()
{
	curl -sf "$FAKE_URL/_fake/requests" | jq -c '[.[] | select(.path == "/v1/chat/completions")]'
}
