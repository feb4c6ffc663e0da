#!/usr/bin/env bats
#
# chat.bats: `cynork chat` (spec/cli.md section 1.3) and the chat flags of
# `task create`, against the real stack: the server's OpenAI-compatible
# gateway, one node, and fake-ollama as the node's model backend
# (chat-gateway.bash).  Usage errors and the login check come first, then
# what cynork sends (body, headers, the conversation) against a recording
# server (capture.bash), then replies: one-shot with -m and with standard
# input, -o json, the gateway's default model, streamed output arriving in
# pieces, replies cut mid-way, backend errors and their exit codes, and
# interactive sessions in a pseudo-terminal (a private tmux server): slash
# commands (the gateway's other endpoints too), !CMD, Ctrl-C, Tab
# completion, Markdown rendering, and no history file.

load ../lib/harness
load capture
load chat-gateway
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start MAX_REQUEST_BODY_MB=1
	cy_login >/dev/null
	mkdir -p "$CY_TMP/home"
	capture_start
	chat_gateway_start
}

teardown_file()
{
	local s

	for s in "$CY_TMP"/tmux*; do
		[ -S "$s" ] && tmux -S "$s" kill-server 2>/dev/null
	done
	cy_teardown_file
}

setup()
{
	if [ -n "${FAKE_URL:-}" ]; then
		curl -s -o /dev/null -X DELETE "$FAKE_URL/_fake/faults"
		curl -s -o /dev/null -X DELETE "$FAKE_URL/_fake/requests"
	fi
}

# --- usage and login: no gateway needed -------------------------------------

@test "usage errors exit 64 before the login check and before any request" {
	# The gateway URL is a closed port: a request would exit 69.
	export CYNORK_GATEWAY_URL=http://127.0.0.1:1
	run -64 --separate-stderr cynork chat -m hi --project-id not-a-uuid
	[[ $stderr == *"--project-id"*"UUID"* ]]
	run -64 --separate-stderr cynork chat -m ''
	[[ $stderr == *"empty"* ]]
	run -64 --separate-stderr cynork chat </dev/null
	[[ $stderr == *"standard input is empty"* ]]
	run -64 --separate-stderr cynork chat <<<$'  \n\n'
	[[ $stderr == *"empty"* ]]
	run -64 --separate-stderr cynork chat < <(printf 'bad \377 byte')
	[[ $stderr == *"UTF-8"* ]]
	head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' a >"$CY_TMP/big.txt"
	run -64 --separate-stderr cynork chat <"$CY_TMP/big.txt"
	[[ $stderr == *"more than 1048576 bytes"* ]]
	run -64 cynork chat -m hi extra-argument
	run -64 cynork chat --plain=yes -m hi
	# usage wins over a missing login
	CYNORK_TOKEN= run -64 cynork --config "$CY_TMP/none.yaml" chat </dev/null
}

@test "no token: exit 77 before any request" {
	CYNORK_GATEWAY_URL=http://127.0.0.1:1 CYNORK_TOKEN= \
		run -77 --separate-stderr cynork --config "$CY_TMP/none.yaml" chat -m hi
	[[ $stderr == *"not logged in"* ]]
	CYNORK_GATEWAY_URL=http://127.0.0.1:1 CYNORK_TOKEN= \
		run -77 cynork --config "$CY_TMP/none.yaml" chat <<<'from stdin'
	CYNORK_GATEWAY_URL=http://127.0.0.1:1 CYNORK_TOKEN= \
		run -77 cynork --config "$CY_TMP/none.yaml" models list
}

@test "an unreachable gateway exits 69" {
	CYNORK_GATEWAY_URL=http://127.0.0.1:1 run -69 --separate-stderr cynork chat -m hi
	[[ $stderr == *"cannot reach the gateway"* ]]
}

@test "chat --help and cynork-chat(1) list the flags and the slash commands" {
	local c

	run cynork chat --help
	assert_success
	for c in --model --message --plain --no-stream --project-id; do
		assert_output --partial -- "$c"
	done
	for c in /help /exit /quit /clear /model /models /version /status /whoami /task /nodes /skills; do
		grep -q "^\\.B \"$c" "$CY_ROOT/man/cynork-chat.1" || { echo "no $c in cynork-chat.1" >&2; false; }
	done
	grep -q '^\.SH RENDERING' "$CY_ROOT/man/cynork-chat.1"
	grep -q '^\.SH EXIT STATUS' "$CY_ROOT/man/cynork-chat.1"
}

# --- what cynork sends (recording server) -------------------------------------

@test "the request: model, messages, stream, bearer token, OpenAI-Project, Accept" {
	local pid=3fa85f64-5717-4562-b3fc-2c963f66afa6

	CYNORK_GATEWAY_URL=$CAPTURE_URL run --separate-stderr cynork chat --model zeta:1b \
		--project-id "$pid" -m 'hello "there"'
	assert_success
	assert_output 'captured reply to 1 messages'
	run capture_last
	run jq -e --arg p "$pid" '.method == "POST" and .path == "/v1/chat/completions" and
		.body.model == "zeta:1b" and .body.stream == true and
		.body.messages == [{"role":"user","content":"hello \"there\""}] and
		(.headers.authorization | startswith("Bearer ")) and
		.headers["openai-project"] == $p and .headers.accept == "text/event-stream" and
		(.headers["user-agent"] | startswith("cynork/"))' <<<"$output"
	assert_success
	# no --model: no "model" field (the gateway's default); no project: no header
	CYNORK_GATEWAY_URL=$CAPTURE_URL run cynork chat --no-stream -m hi
	assert_success
	assert_output 'captured reply to 1 messages'
	run capture_last
	run jq -e '(.body | has("model") | not) and .body.stream == false and
		(.headers | has("openai-project") | not) and .headers.accept == "application/json"' <<<"$output"
	assert_success
}

@test "task create --model and --use-inference: the body fields, and where they may go" {
	CYNORK_GATEWAY_URL=$CAPTURE_URL run cynork task create -p 'summarise' --model zeta:1b
	assert_success
	run capture_last .body
	run jq -e '.prompt == "summarise" and .input_mode == "prompt" and .model == "zeta:1b" and
		(has("use_inference") | not)' <<<"$output"
	assert_success
	CYNORK_GATEWAY_URL=$CAPTURE_URL run cynork task create --command 'echo $INFERENCE_PROXY_URL' \
		--use-inference
	assert_success
	run capture_last .body
	run jq -e '.input_mode == "commands" and .use_inference == true and (has("model") | not)' \
		<<<"$output"
	assert_success
	CYNORK_GATEWAY_URL=$CAPTURE_URL run cynork task create -f - --model zeta:1b <<<'from a file'
	assert_success
	export CYNORK_GATEWAY_URL=http://127.0.0.1:1
	run -64 --separate-stderr cynork task create --command true --model m
	[[ $stderr == *"--model goes with prompt input"* ]]
	run -64 --separate-stderr cynork task create -s /dev/null --model m
	run -64 --separate-stderr cynork task create -p hi --use-inference
	[[ $stderr == *"--use-inference goes with"* ]]
	run -64 cynork task create --command true --input-mode prompt --use-inference
	run -64 cynork task create -p hi --model ''
	# usage before login
	CYNORK_TOKEN= run -64 cynork --config "$CY_TMP/none.yaml" task create --command true --model m
	run cynork task create --help
	assert_output --partial "answered by a model"
	refute_output --partial "needs an inference backend"
}

# Runs `cynork chat ARGS` in the tmux pane against URL with a private HOME.
tm()
{
	tmux -S "$CY_TMP/tmux${TM_N:-0}" "$@"
}

# Waits until the pane shows text matching the ERE $1 (up to ~30 s).
tm_wait()
{
	local i

	for i in $(seq 1 150); do
		tm capture-pane -p -J -S -200 | sed 's/ *$//' | grep -Eq -- "$1" && return 0
		sleep 0.2
	done
	echo "pane never showed /$1/:" >&2
	tm capture-pane -p -J -S -200 >&2
	return 1
}

# Waits for the program in the pane to end; its exit status is in $CY_TMP/pane.rc.
tm_wait_exit()
{
	local i

	for i in $(seq 1 150); do
		[ -s "$CY_TMP/pane.rc" ] && return 0
		sleep 0.2
	done
	echo "the program in the pane did not end:" >&2
	tm capture-pane -p -J -S -200 >&2
	return 1
}

# The pane's text, trailing spaces dropped.
tm_text()
{
	tm capture-pane -p -J -S -200 | sed 's/ *$//'
}

# The last non-empty line of the pane.
tm_last()
{
	tm capture-pane -p -J | sed 's/ *$//; /^$/d' | tail -n 1
}

# tm_start URL COMMAND...: runs cynork COMMAND in a fresh pane (HOME, config
# and cache private to the test file).
tm_start()
{
	local url=$1

	shift
	rm -f "$CY_TMP/pane.rc"
	# A fresh tmux server each time (the last one is killed, whatever it holds).
	TM_N=$(cat "$CY_TMP/tm.n" 2>/dev/null || echo 0)
	[ -S "$CY_TMP/tmux$TM_N" ] && { tm kill-server 2>/dev/null || true; }
	TM_N=$((TM_N + 1))
	echo "$TM_N" >"$CY_TMP/tm.n"
	tm -f /dev/null new-session -d -x 200 -y 50 \
		"env HOME=$CY_TMP/home XDG_CONFIG_HOME=$CY_TMP/xdg XDG_CACHE_HOME=$CY_TMP/cache CYNORK_GATEWAY_URL=$url TERM=xterm $CY_BUILD/cynork $*; echo \$? >$CY_TMP/pane.rc; sleep 60"
}

@test "a session sends the whole conversation each turn; /clear forgets it" {
	tm_start "$CAPTURE_URL" chat --model zeta:1b
	tm_wait 'chat zeta:1b>$'
	tm send-keys "first question" Enter
	tm_wait '^captured reply to 1 messages$'
	tm send-keys "second question" Enter
	tm_wait '^captured reply to 3 messages$'
	run capture_last .body.messages
	run jq -e '. == [{"role":"user","content":"first question"},
		{"role":"assistant","content":"captured reply to 1 messages"},
		{"role":"user","content":"second question"}]' <<<"$output"
	assert_success
	tm send-keys "/clear" Enter
	tm_wait 'conversation cleared'
	tm send-keys "third" Enter
	tm_wait '^captured reply to 1 messages$'
	tm send-keys "/exit" Enter
	tm_wait_exit
	[ "$(cat "$CY_TMP/pane.rc")" = 0 ]
}

# --- replies from the chat-capable gateway ------------------------------------

@test "one-shot: -m and standard input print the reply and exit 0" {
	run --separate-stderr gwcy chat --model "$MODEL" -m 'hello there'
	assert_success
	assert_output "[$MODEL] echo: hello there"
	[ -z "$stderr" ]
	run gwcy chat --model "$MODEL" <<<'from standard input'
	assert_success
	assert_output "[$MODEL] echo: from standard input"
	run gwcy chat --model "$MODEL" --no-stream -m whole
	assert_success
	assert_output "[$MODEL] echo: whole"
	run fake_chat_requests
	run jq -e 'length == 3 and ([.[].stream] == [true, true, false])' <<<"$output"
	assert_success
}

@test "no --model: the gateway's default model answers; the prompt names it once known" {
	run gwcy chat -m 'who answers'
	assert_success
	assert_output "[$MODEL] echo: who answers"
	run fake_chat_requests
	run jq -e --arg m "$MODEL" '.[-1].model == $m' <<<"$output"
	assert_success
	tm_start "$CY_GATEWAY_URL" chat
	tm_wait 'chat default>$'
	tm send-keys "/model" Enter
	tm_wait "^model: the gateway's default\$"
	tm send-keys "hi" Enter
	tm_wait "^\\[$MODEL\\] echo: hi\$"
	tm_wait "chat $MODEL>\$"
	tm send-keys "/model" Enter
	tm_wait "^model: the gateway's default \\(the last reply came from $MODEL\\)\$"
	tm send-keys C-d
	tm_wait_exit
	[ "$(cat "$CY_TMP/pane.rc")" = 0 ]
}

@test "one-shot -o json prints the completion object, pretty" {
	local completion

	run gwcy -o json chat --model "$MODEL" -m 'as json'
	assert_success
	[ "${#lines[@]}" -gt 5 ]
	completion=$output
	run jq -e --arg m "$MODEL" '.object == "chat.completion" and
		.choices[0].message.content == "[\($m)] echo: as json"' <<<"$output"
	assert_success
	# The keys cynork(1) JSON OUTPUT names: OpenAI's shape, as relayed.
	run jq -e '(["id", "object", "created", "model", "choices", "usage"] - keys) == []
		and (.choices[0] | keys) == ["finish_reason", "index", "message"]
		and (.choices[0].message | keys) == ["content", "role"]
		and (.usage | keys) == ["completion_tokens", "prompt_tokens", "total_tokens"]' <<<"$completion"
	assert_success
	# -o json asks for the reply in one piece
	run fake_chat_requests
	run jq -e '.[-1].stream == false' <<<"$output"
	assert_success
}

@test "streamed output arrives in pieces, before the reply ends" {
	local i pid

	fake_fault '{"kind":"slow","path":"/v1/chat/completions","delay_ms":200,"count":1}'
	gwcy chat --model "$MODEL" -m '#long 15' >"$CY_TMP/stream.out" 2>&1 &
	pid=$!
	for i in $(seq 1 100); do
		grep -q 'tok2 ' "$CY_TMP/stream.out" && break
		sleep 0.1
	done
	grep -q 'tok2 ' "$CY_TMP/stream.out"
	# 13 tokens still come, 200 ms apart: the reply has not ended yet
	refute grep -q 'tok15' "$CY_TMP/stream.out"
	wait "$pid"
	run cat "$CY_TMP/stream.out"
	assert_output "$(seq -f 'tok%g' 1 15 | paste -sd ' ')"
}

@test "exit codes: unknown model 66, backend 500 is 69, a bad request 65, too large 65" {
	run -66 --separate-stderr gwcy chat --model no-such-model -m hi
	[[ $stderr == *"no-such-model"* ]]
	fake_fault '{"kind":"status","status":500,"path":"/v1/chat/completions","count":1}'
	run -69 --separate-stderr gwcy chat --model "$MODEL" -m hi
	[[ $stderr == *"HTTP 5"* ]]
	fake_fault '{"kind":"status","status":500,"path":"/v1/chat/completions","count":1}'
	run -69 gwcy chat --model "$MODEL" --no-stream -m hi
	fake_fault '{"kind":"status","status":400,"path":"/v1/chat/completions","count":1}'
	run -65 gwcy chat --model "$MODEL" -m hi
	[ -z "$output" ] || [[ $output != *"echo:"* ]]
	# a message of 1 MiB passes cynork's limit, not the gateway's (MAX_REQUEST_BODY_MB=1)
	head -c $((1024 * 1024)) /dev/zero | tr '\0' a >"$CY_TMP/mib.txt"
	run -65 --separate-stderr gwcy chat --model "$MODEL" <"$CY_TMP/mib.txt"
	[[ $stderr == *"(HTTP 413)"* ]]
}

@test "API tokens: the inference scope may chat, others get 403 (exit 77)" {
	local chat_tok tasks_tok

	chat_tok=$(cynork -o name token create --name chat-ci --scope inference)
	tasks_tok=$(cynork -o name token create --name tasks-ci --scope tasks:read)
	CYNORK_TOKEN=$chat_tok run gwcy chat --model "$MODEL" -m 'from ci'
	assert_success
	assert_output "[$MODEL] echo: from ci"
	CYNORK_TOKEN=$chat_tok run gwcy -o name models list
	assert_success
	CYNORK_TOKEN=$tasks_tok run -77 --separate-stderr gwcy chat --model "$MODEL" -m 'from ci'
	[[ $stderr == *"(HTTP 403)"* ]]
	CYNORK_TOKEN=$tasks_tok run -77 gwcy models list
}

@test "a stream cut mid-way exits 69 and keeps what arrived" {
	fake_fault '{"kind":"disconnect_mid_stream","path":"/v1/chat/completions","after":3,"count":1}'
	run -69 --separate-stderr gwcy chat --model "$MODEL" -m '#long 10'
	assert_output 'tok1 tok2 tok3'
	[[ $stderr == *"reply was cut off"* ]]
	fake_fault '{"kind":"error_mid_stream","path":"/v1/chat/completions","after":2,"count":1,"message":"backend crashed"}'
	run -69 --separate-stderr gwcy chat --model "$MODEL" -m '#long 10'
	assert_output 'tok1 tok2'
	[[ $stderr == *"reply was cut off"*"backend crashed"* ]]
}

@test "piped output is the reply as it came; a terminal gets Markdown, --plain raw, --no-color no colour" {
	run gwcy chat --model "$MODEL" -m '#markdown'
	assert_success
	assert_line "# Answer from $MODEL"
	assert_line 'This is **bold**, this is *italic* and this is `inline code`.'
	assert_line '```python'

	tm_start "$CY_GATEWAY_URL" chat --model "$MODEL" -m "'#markdown'"
	tm_wait_exit
	run tm_text
	assert_line "Answer from $MODEL"
	assert_line 'This is bold, this is italic and this is inline code.'
	assert_line '  • first item'
	assert_line '    ◦ nested item'
	assert_line '  1. one'
	assert_line '    def hello():'
	assert_line '│ a quote'
	refute_output --partial '```'
	refute_output --partial '**'
	# colours: bold and the code colour are set on the terminal
	run tm capture-pane -p -e -J -S -200
	assert_output --partial $'\033[1m'
	assert_output --partial $'\033[36m'

	tm_start "$CY_GATEWAY_URL" --no-color chat --model "$MODEL" -m "'#markdown'"
	tm_wait_exit
	run tm capture-pane -p -e -J -S -200
	refute_output --partial $'\033['
	run tm_text
	assert_line "# Answer from $MODEL"
	assert_line 'This is bold, this is italic and this is `inline code`.'

	tm_start "$CY_GATEWAY_URL" chat --plain --model "$MODEL" -m "'#markdown'"
	tm_wait_exit
	run tm_text
	assert_line 'This is **bold**, this is *italic* and this is `inline code`.'
	assert_line '```python'
	[ "$(cat "$CY_TMP/pane.rc")" = 0 ]
}

@test "session: messages, /model, /models, /clear, unknown slash commands, !CMD, /help, /exit" {
	tm_start "$CY_GATEWAY_URL" chat --model "$MODEL"
	tm_wait "chat $MODEL>\$"
	tm send-keys "hello there" Enter
	tm_wait "^\\[$MODEL\\] echo: hello there\$"
	tm send-keys "/model" Enter
	tm_wait "^model: $MODEL\$"
	tm send-keys "/MODELS" Enter
	tm_wait "^\\* $MODEL"
	tm_wait "^  $MODEL2"
	tm send-keys "/model nope" Enter
	tm_wait "unknown model 'nope'; the models are: $MODEL, $MODEL2"
	tm send-keys "/model $MODEL2" Enter
	tm_wait "chat $MODEL2>\$"
	tm send-keys "again" Enter
	tm_wait "^\\[$MODEL2\\] echo: again\$"
	tm send-keys "/clear" Enter
	tm_wait 'conversation cleared'
	tm send-keys "/bogus x" Enter
	tm_wait "unknown command '/bogus': /help lists them"
	tm send-keys "!echo hi from sh" Enter
	tm_wait '^hi from sh$'
	tm send-keys "!exit 3" Enter
	tm_wait '^\(exit 3\)$'
	tm send-keys "!" Enter
	tm_wait 'usage: !COMMAND'
	tm send-keys "/version" Enter
	tm_wait '^cynork version='
	tm send-keys "/help" Enter
	tm_wait '^  /model \[ID\] +show the model'
	tm_wait '^  !COMMAND'
	# a failing slash command prints its error and the session goes on
	tm send-keys "/task get" Enter
	tm_wait "needs <task>"
	tm send-keys "/exit" Enter
	tm_wait_exit
	[ "$(cat "$CY_TMP/pane.rc")" = 0 ]
	# only the two messages reached the model: no slash command, no ! line
	run fake_chat_requests
	run jq -e 'length == 2' <<<"$output"
	assert_success
}

@test "session: Ctrl-C stops a streaming reply and returns to the prompt; at an empty prompt it ends the session" {
	local i

	fake_fault '{"kind":"slow","path":"/v1/chat/completions","delay_ms":300,"count":1}'
	tm_start "$CY_GATEWAY_URL" chat --model "$MODEL"
	tm_wait "chat $MODEL>\$"
	tm send-keys "#long 60" Enter
	tm_wait 'tok2 '
	tm send-keys C-c
	tm_wait 'reply canceled'
	tm_wait "chat $MODEL>\$"
	run tm_text
	refute_output --partial 'tok60'
	# the session goes on, and the canceled turn is not in the conversation
	tm send-keys "next one" Enter
	tm_wait "^\\[$MODEL\\] echo: next one\$"
	# Ctrl-C with text typed drops the text; at an empty prompt it ends the session
	tm send-keys "typed" C-c
	sleep 0.3
	[ ! -s "$CY_TMP/pane.rc" ]
	tm send-keys C-c
	tm_wait_exit
	[ "$(cat "$CY_TMP/pane.rc")" = 0 ]
	# the canceled request was stopped upstream too, not read to its end
	for i in $(seq 1 50); do
		fake_chat_requests | jq -e '.[0].outcome != "pending"' >/dev/null && break
		sleep 0.2
	done
	run fake_chat_requests
	run jq -e '.[0].outcome == "client_gone" or .[0].outcome == "aborted"' <<<"$output"
	assert_success
}

@test "session: Tab completes slash commands and model ids; --model completes model ids (cached)" {
	local n

	tm_start "$CY_GATEWAY_URL" chat --model "$MODEL"
	tm_wait "chat $MODEL>\$"
	tm send-keys "/cle" Tab
	tm_wait '> /clear$'
	tm send-keys C-u "/model tin" Tab
	tm_wait "> /model $MODEL2\$"
	tm send-keys C-u C-d
	tm_wait_exit
	[ "$(cat "$CY_TMP/pane.rc")" = 0 ]

	rm -rf "$CY_TMP/cache"
	n=$(grep -c 'method=GET path=/v1/models ' "$CY_TMP/server.log" || true)
	XDG_CACHE_HOME=$CY_TMP/cache run gwcy __complete chat --model ''
	assert_success
	assert_line "$MODEL"
	assert_line "$MODEL2"
	XDG_CACHE_HOME=$CY_TMP/cache run gwcy __complete task create -p x --model tin
	assert_line "$MODEL2"
	refute_line "$MODEL"
	[ "$(stat -c %a "$CY_TMP/cache/cynork/models.json")" = 600 ]
	[ "$(stat -c %a "$CY_TMP/cache/cynork")" = 700 ]
	# the second completion came from the cache: one request for both
	[ "$(grep -c 'method=GET path=/v1/models ' "$CY_TMP/server.log")" = $((n + 1)) ]
}

@test "nothing typed in a chat reaches a history file, from the shell either" {
	local hist=$CY_TMP/xdg/cynork/history

	tm_start "$CY_GATEWAY_URL" chat --model "$MODEL"
	tm_wait "chat $MODEL>\$"
	tm send-keys "zebra question one" Enter
	tm_wait 'echo: zebra question one$'
	tm send-keys "/models" Enter
	tm_wait "^\\* $MODEL"
	# Up recalls the session's lines (kept in memory)
	tm send-keys Up Up
	tm_wait "> zebra question one\$"
	tm send-keys C-u "/exit" Enter
	tm_wait_exit
	run grep -rl zebra "$CY_TMP/home" "$CY_TMP/xdg" "$CY_TMP/cache"
	assert_output ""

	# chat started from the shell: the shell's history gets the chat line only
	tm_start "$CY_GATEWAY_URL" shell
	tm_wait '^cynork .*>$'
	tm send-keys "version" Enter
	tm_wait '^cynork version='
	tm send-keys "chat --model $MODEL" Enter
	tm_wait "chat $MODEL>\$"
	# the shell's lines are not in the chat's history
	tm send-keys Up
	sleep 0.3
	run tm_last
	assert_output "chat $MODEL>"
	tm send-keys C-u "zebra question two" Enter
	tm_wait 'echo: zebra question two$'
	tm send-keys "/exit" Enter
	tm_wait '^cynork .*>$'
	tm send-keys Up
	tm_wait "> chat --model $MODEL\$"
	tm send-keys Up
	tm_wait '> version$'
	tm send-keys C-u "exit" Enter
	tm_wait_exit
	# (libedit's history file writes a space as \040)
	grep -qx 'version' "$hist"
	grep -qxF 'chat\040--model\040'"$MODEL" "$hist"
	run grep -rl zebra "$CY_TMP/home" "$CY_TMP/xdg" "$CY_TMP/cache"
	assert_output ""
}

@test "session slash commands reach the gateway's other endpoints (/whoami, /status, /task list)" {
	tm_start "$CY_GATEWAY_URL" chat --model "$MODEL"
	tm_wait "chat $MODEL>\$"
	tm send-keys "/whoami" Enter
	tm_wait 'user=admin'
	tm send-keys "/status" Enter
	tm_wait '^gateway=ok'
	tm send-keys "/task list" Enter
	tm send-keys "/exit" Enter
	tm_wait_exit
	[ "$(cat "$CY_TMP/pane.rc")" = 0 ]
}

@test "session: /skills lists your skills, /skills get ID prints one" {
	printf '# Chat skill\n\nAnswer in haiku.\n' >"$CY_TMP/haiku.md"
	id=$(cynork -o name skills load "$CY_TMP/haiku.md")
	[[ "$id" =~ ^[0-9a-f-]{36}$ ]]
	tm_start "$CY_GATEWAY_URL" chat --model "$MODEL"
	tm_wait "chat $MODEL>\$"
	tm send-keys "/skills" Enter
	tm_wait '^skill_id[[:space:]]+name[[:space:]]+scope'
	tm_wait "^$id[[:space:]]+haiku[[:space:]]+user"
	tm send-keys "/SKILLS get $id" Enter
	tm_wait "^skill_id=$id name=haiku scope=user"
	tm_wait '^Answer in haiku\.$'
	tm send-keys "/skills get nope" Enter
	tm_wait "invalid skill id 'nope'"
	tm send-keys "/help" Enter
	tm_wait '^  /skills \[\.\.\.\] +list your skills'
	tm send-keys "/exit" Enter
	tm_wait_exit
	[ "$(cat "$CY_TMP/pane.rc")" = 0 ]
	# Leave no skill behind for the other tests.
	cy_psql "DELETE FROM skills WHERE id = '$id'" >/dev/null
}

@test "chat --skill and /skill: the skill goes first as the system prompt, not into the conversation" {
	printf 'Speak like a pirate.\n' >"$CY_TMP/pirate.md"
	run gwcy skills load "$CY_TMP/pirate.md"
	assert_success
	# The backend counts every message's words as prompt tokens: 3, then 3 + 4.
	run gwcy -o json chat --model "$MODEL" -m 'a b c'
	assert_success
	[ "$(jq -r .usage.prompt_tokens <<<"$output")" = 3 ]
	run gwcy -o json chat --model "$MODEL" --skill pirate -m 'a b c'
	assert_success
	[ "$(jq -r .usage.prompt_tokens <<<"$output")" = 7 ]
	run --separate-stderr gwcy chat --model "$MODEL" --skill ghost -m hi
	assert_failure 66
	[[ $stderr == *"no skill named 'ghost'"* ]]
	# Interactive: /skill NAME, a turn, /skill shows it, /skill off.
	tm_start "$CY_GATEWAY_URL" chat --model "$MODEL"
	tm_wait "chat $MODEL>\$"
	tm send-keys "/skill pirate" Enter
	tm_wait '^skill pirate: the model gets it as its system prompt from now on$'
	tm send-keys "/skill" Enter
	tm_wait '^pirate$'
	tm send-keys "x y" Enter
	tm_wait "^\\[$MODEL\\] echo: x y\$"
	last_tokens() { cy_psql "SELECT prompt_tokens FROM inference_usage WHERE kind = 'chat' ORDER BY id DESC LIMIT 1"; }
	# The gateway records the usage once the answer is relayed.
	for i in $(seq 1 50); do [ "$(last_tokens)" = 6 ] && break; sleep 0.1; done
	[ "$(last_tokens)" = 6 ]
	tm send-keys "/skill off" Enter
	tm_wait '^no skill from now on$'
	tm send-keys "z" Enter
	tm_wait "^\\[$MODEL\\] echo: z\$"
	# The conversation: x y, the answer (4 words), z; no system message.
	for i in $(seq 1 50); do [ "$(last_tokens)" = 7 ] && break; sleep 0.1; done
	[ "$(last_tokens)" = 7 ] || { echo "prompt tokens: $(last_tokens)"; false; }
	tm send-keys C-d
	tm_wait_exit
}
