#!/usr/bin/env bats
#
# tests/ollama/fake-ollama: the Ollama-API test server the inference tests use
# in place of a model runtime (see tests/ollama/README.md).  Checks its
# endpoints' shapes, content types and status codes against Ollama's
# documented API, that streams really arrive over time, the /_fake control
# API and every fault kind.  No PostgreSQL and no cynode program is started.

load ../lib/harness

FAKE=$CY_ROOT/tests/ollama/fake-ollama
MODEL=qwen3.5:0.8b

# fake_start NAME PORT PROGRAM [VAR=VALUE...]: run `PROGRAM serve` on
# 127.0.0.1:PORT with the extra environment (which may override OLLAMA_HOST);
# stdout goes to $CY_TMP/NAME.out, stderr to $CY_TMP/NAME.log.
fake_start()
{
	local name=$1 port=$2 program=$3 pid

	shift 3
	env OLLAMA_HOST="127.0.0.1:$port" "$@" "$program" serve \
		>"$CY_TMP/$name.out" 2>"$CY_TMP/$name.log" </dev/null 3>&- &
	pid=$!
	echo "$pid" >>"$CY_TMP/pids"
	echo "$pid" >"$CY_TMP/$name.pid"
	stack_wait_http "http://127.0.0.1:$port/" 200 10 "$pid"
}

setup_file()
{
	cy_setup_file
	mkdir -p "$CY_TMP/bin"
	ln -s "$FAKE" "$CY_TMP/bin/ollama"
	FAKE_PORT=$(cy_free_port)
	SLOW_PORT=$(cy_free_port)
	while [ "$SLOW_PORT" = "$FAKE_PORT" ]; do SLOW_PORT=$(cy_free_port); done
	FAKE_URL=http://127.0.0.1:$FAKE_PORT
	SLOW_URL=http://127.0.0.1:$SLOW_PORT
	export FAKE_PORT SLOW_PORT FAKE_URL SLOW_URL
	fake_start main "$FAKE_PORT" "$FAKE" \
		FAKE_OLLAMA_MODELS="$MODEL,nomic-embed-text" \
		FAKE_OLLAMA_PULLABLE=tinyllama,smollm2:135m \
		FAKE_OLLAMA_LOG="$CY_TMP/requests.jsonl"
	# The second one runs as `ollama serve` through a symlink, with the
	# scheme form of OLLAMA_HOST and a token delay.
	fake_start slow "$SLOW_PORT" "$CY_TMP/bin/ollama" \
		OLLAMA_HOST="http://127.0.0.1:$SLOW_PORT" FAKE_OLLAMA_TOKEN_DELAY_MS=100
}

setup()
{
	curl -sf -m 5 -X POST "$FAKE_URL/_fake/reset" >/dev/null
	curl -sf -m 5 -X POST "$SLOW_URL/_fake/reset" >/dev/null
}

# req METHOD PATH [BODY] [BASE_URL]: one request to the main fake (or
# BASE_URL); sets $code, $ctype and $body (also $output).  Never fails.
req()
{
	local method=$1 path=$2 data=${3-} base=${4:-$FAKE_URL} meta
	local -a args=(-s -m 10 -X "$method" -o "$CY_TMP/body" -w '%{http_code} %{content_type}')

	[ -n "$data" ] && args+=(--data-binary "$data")
	rm -f "$CY_TMP/body"
	meta=$(curl "${args[@]}" "$base$path") || true
	code=${meta%% *}
	ctype=${meta#* }
	body=$(cat "$CY_TMP/body" 2>/dev/null || true)
	output=$body
}

# fault JSON [BASE_URL]: install faults.
fault()
{
	curl -sf -m 5 "${2:-$FAKE_URL}/_fake/faults" --data-binary "$1" >/dev/null
}

# now_ns: nanoseconds since the epoch.
now_ns() { date +%s%N; }

# last_request [BASE_URL]: the last entry of the request log, once it ended.
last_request()
{
	local entry

	for _ in $(seq 1 30); do
		entry=$(curl -sf -m 5 "${1:-$FAKE_URL}/_fake/requests" | jq -c '.[-1]')
		[ "$(jq -r .outcome <<<"$entry")" != pending ] && break
		sleep 0.1
	done
	printf '%s\n' "$entry"
}

@test "GET and HEAD / answer 'Ollama is running'; connections are kept alive" {
	req GET /
	[ "$code" = 200 ]
	[ "$body" = "Ollama is running" ]
	[[ $ctype == text/plain* ]]
	run curl -sI -m 5 "$FAKE_URL/"
	assert_output --partial "HTTP/1.1 200"
	assert_output --partial "Content-Length: 17"
	run curl -sv -m 5 -o /dev/null -o /dev/null "$FAKE_URL/api/version" "$FAKE_URL/api/tags"
	assert_output --partial "Re-using existing connection"
}

@test "/api/version answers the fake's version" {
	req GET /api/version
	[ "$code" = 200 ]
	[[ $ctype == application/json* ]]
	[ "$(jq -r .version <<<"$body")" = 0.0.0-fake ]
}

@test "/api/tags lists the present models with Ollama's fields" {
	req GET /api/tags
	[ "$code" = 200 ]
	[[ $ctype == application/json* ]]
	run jq -r '.models[].name' <<<"$body"
	assert_output "$MODEL"$'\nnomic-embed-text:latest'
	jq -e '[.models[] | .model == .name and (.size | type == "number")
		and (.digest | test("^[0-9a-f]{64}$"))
		and (.modified_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$"))
		and (.details | .format == "gguf" and (.family | type == "string")
			and (.parameter_size | type == "string")
			and (.quantization_level | type == "string"))] | all' <<<"$body"
	[ "$(jq -r '.models[0].details.parameter_size' <<<"$body")" = 0.8B ]
}

@test "/v1/models and /v1/models/{model} answer in OpenAI's shape" {
	req GET /v1/models
	[ "$code" = 200 ]
	[[ $ctype == application/json* ]]
	jq -e '.object == "list" and (.data | length == 2)
		and ([.data[] | (.id | type == "string") and .object == "model"
			and (.created | type == "number") and .owned_by == "library"] | all)' <<<"$body"
	req GET "/v1/models/$MODEL"
	[ "$code" = 200 ]
	jq -e --arg m "$MODEL" '.id == $m and .object == "model"' <<<"$body"
	req GET /v1/models/nosuch:1b
	[ "$code" = 404 ]
	[ "$(jq -r .error.type <<<"$body")" = not_found_error ]
}

@test "/api/generate streams NDJSON in chunks and ends with done and the statistics" {
	curl -sN -m 10 -D "$CY_TMP/h" -o "$CY_TMP/out" "$FAKE_URL/api/generate" \
		-d '{"model":"'"$MODEL"'","prompt":"why is the sky blue"}'
	grep -qi '^content-type: application/x-ndjson' "$CY_TMP/h"
	grep -qi '^transfer-encoding: chunked' "$CY_TMP/h"
	[ "$(wc -l <"$CY_TMP/out")" = 8 ]
	run jq -sr 'map(.response) | join("")' "$CY_TMP/out"
	assert_output "[$MODEL] echo: why is the sky blue"
	jq -se --arg m "$MODEL" '(.[:-1] | all(.done == false and .model == $m))
		and (.[-1] | .done == true and .done_reason == "stop" and .response == ""
			and .eval_count == 7 and .prompt_eval_count == 5
			and (.created_at | test("Z$")) and (.context | type == "array")
			and all(.total_duration, .load_duration, .prompt_eval_duration,
				.eval_duration; type == "number" and . > 0))' "$CY_TMP/out"
}

@test "/api/generate with stream false answers one JSON object" {
	req POST /api/generate '{"model":"'"$MODEL"'","prompt":"why is the sky blue","stream":false}'
	[ "$code" = 200 ]
	[[ $ctype == application/json* ]]
	jq -e --arg r "[$MODEL] echo: why is the sky blue" \
		'.response == $r and .done == true and .done_reason == "stop" and .eval_count == 7' <<<"$body"
}

@test "an HTTP/1.0 client gets the stream without chunked encoding" {
	curl -sN -0 -m 10 -D "$CY_TMP/h" -o "$CY_TMP/out" "$FAKE_URL/api/generate" \
		-d '{"model":"'"$MODEL"'","prompt":"old client"}'
	run grep -ci '^transfer-encoding' "$CY_TMP/h"
	assert_output 0
	[ "$(jq -s 'last.done' "$CY_TMP/out")" = true ]
}

@test "/api/chat answers the last user message; prompt tokens count every message" {
	local msgs='[{"role":"system","content":"be brief"},{"role":"user","content":"first question"},
		{"role":"assistant","content":"first answer"},{"role":"user","content":"second question here"}]'
	curl -sN -m 10 -D "$CY_TMP/h" -o "$CY_TMP/out" "$FAKE_URL/api/chat" \
		-d '{"model":"'"$MODEL"'","messages":'"$msgs"'}'
	grep -qi '^content-type: application/x-ndjson' "$CY_TMP/h"
	run jq -sr 'map(.message.content) | join("")' "$CY_TMP/out"
	assert_output "[$MODEL] echo: second question here"
	jq -se '(.[:-1] | all(.done == false and .message.role == "assistant"))
		and (.[-1] | .done and .done_reason == "stop" and .message.content == ""
			and .prompt_eval_count == 9 and .eval_count == 5)' "$CY_TMP/out"
	req POST /api/chat '{"model":"'"$MODEL"'","stream":false,"messages":'"$msgs"'}'
	[ "$code" = 200 ]
	jq -e --arg c "[$MODEL] echo: second question here" \
		'.message == {role: "assistant", content: $c} and .done and .eval_count == 5' <<<"$body"
}

@test "/v1/chat/completions without stream answers a chat.completion with usage" {
	req POST /v1/chat/completions '{"model":"'"$MODEL"'","messages":[{"role":"user","content":"hello there"}]}'
	[ "$code" = 200 ]
	[ "$ctype" = application/json ]
	jq -e --arg m "$MODEL" --arg c "[$MODEL] echo: hello there" '
		(.id | startswith("chatcmpl-")) and .object == "chat.completion" and .model == $m
		and (.created | type == "number") and .system_fingerprint == "fp_ollama"
		and .choices == [{index: 0, message: {role: "assistant", content: $c}, finish_reason: "stop"}]
		and .usage == {prompt_tokens: 2, completion_tokens: 4, total_tokens: 6}' <<<"$body"
}

@test "/v1/chat/completions with tools: #tool lines become tool calls; a tool message is answered" {
	local tools='[{"type":"function","function":{"name":"run_command","parameters":{"type":"object"}}}]'
	req POST /v1/chat/completions '{"model":"'"$MODEL"'","tools":'"$tools"',"messages":[{"role":"user","content":"go\n#tool run_command {\"command\": \"ls\"}\n#tool other {}\n#tool run_command {bad"}]}'
	[ "$code" = 200 ]
	jq -e '.choices[0].finish_reason == "tool_calls" and .choices[0].message.content == ""
		and (.choices[0].message.tool_calls | length) == 1
		and .choices[0].message.tool_calls[0].function.name == "run_command"
		and (.choices[0].message.tool_calls[0].function.arguments | fromjson) == {"command":"ls"}' <<<"$body"
	req POST /v1/chat/completions '{"model":"'"$MODEL"'","tools":'"$tools"',"messages":[{"role":"user","content":"#tool run_command {}"},{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"run_command","arguments":"{}"}}]},{"role":"tool","tool_call_id":"call_1","content":"file-a"}]}'
	[ "$code" = 200 ]
	jq -e --arg c "[$MODEL] echo: file-a" '.choices[0].finish_reason == "stop" and .choices[0].message.content == $c and (.choices[0].message | has("tool_calls") | not)' <<<"$body"
	# Without tools offered, the line is just text.
	req POST /v1/chat/completions '{"model":"'"$MODEL"'","messages":[{"role":"user","content":"#tool run_command {}"}]}'
	jq -e '.choices[0].finish_reason == "stop"' <<<"$body"
	req POST /v1/chat/completions '{"model":"'"$MODEL"'","stream":true,"tools":'"$tools"',"messages":[{"role":"user","content":"#tool run_command {}"}]}'
	[ "$code" = 400 ]
}

@test "/v1/chat/completions streams SSE chunks, a usage chunk and data: [DONE]" {
	curl -sN -m 10 -D "$CY_TMP/h" -o "$CY_TMP/out" "$FAKE_URL/v1/chat/completions" \
		-d '{"model":"'"$MODEL"'","stream":true,"stream_options":{"include_usage":true},
			"messages":[{"role":"user","content":"hello there"}]}'
	grep -qi '^content-type: text/event-stream' "$CY_TMP/h"
	grep -qi '^transfer-encoding: chunked' "$CY_TMP/h"
	run grep -cv -e '^data: ' -e '^$' "$CY_TMP/out"
	assert_output 0
	[ "$(grep -v '^$' "$CY_TMP/out" | tail -n 1)" = "data: [DONE]" ]
	sed -n 's/^data: //p' "$CY_TMP/out" | grep -v '^\[DONE\]$' >"$CY_TMP/chunks"
	[ "$(wc -l <"$CY_TMP/chunks")" = 6 ]
	jq -se --arg c "[$MODEL] echo: hello there" '
		all(.object == "chat.completion.chunk") and (map(.id) | unique | length == 1)
		and ([.[].choices[]?.delta.content] | join("")) == $c
		and (.[:-2] | all(.choices[0].finish_reason == null and .choices[0].delta.role == "assistant"))
		and .[-2].choices[0].finish_reason == "stop"
		and .[-1].choices == [] and .[-1].usage == {prompt_tokens: 2, completion_tokens: 4, total_tokens: 6}
		and (.[:-1] | all(has("usage") | not))' "$CY_TMP/chunks"
	# without stream_options no chunk carries usage
	curl -sN -m 10 -o "$CY_TMP/out" "$FAKE_URL/v1/chat/completions" \
		-d '{"model":"'"$MODEL"'","stream":true,"messages":[{"role":"user","content":"hi"}]}'
	run grep -c usage "$CY_TMP/out"
	assert_output 0
}

@test "num_predict and max_tokens cut the reply with done_reason/finish_reason length" {
	req POST /api/generate '{"model":"'"$MODEL"'","prompt":"#long 10","stream":false,"options":{"num_predict":3}}'
	jq -e '.response == "tok1 tok2 tok3" and .done_reason == "length" and .eval_count == 3' <<<"$body"
	req POST /v1/chat/completions '{"model":"'"$MODEL"'","max_tokens":2,"messages":[{"role":"user","content":"a b c"}]}'
	jq -e --arg c "[$MODEL] echo:" '.choices[0].message.content == $c
		and .choices[0].finish_reason == "length" and .usage.completion_tokens == 2' <<<"$body"
}

@test "#long N answers N tokens, #markdown a Markdown sample, format json a JSON object" {
	req POST /api/generate '{"model":"'"$MODEL"'","prompt":"count #long 12","stream":false}'
	jq -e '.eval_count == 12 and (.response | split(" ") | length == 12 and .[11] == "tok12")' <<<"$body"
	req POST /api/chat '{"model":"'"$MODEL"'","stream":false,"messages":[{"role":"user","content":"#markdown please"}]}'
	jq -r .message.content <<<"$body" >"$CY_TMP/md"
	grep -qx "# Answer from $MODEL" "$CY_TMP/md"
	grep -q '\*\*bold\*\*' "$CY_TMP/md"
	grep -qx -e '- first item' "$CY_TMP/md"
	grep -qx '```python' "$CY_TMP/md"
	req POST /api/generate '{"model":"'"$MODEL"'","prompt":"give json","format":"json","stream":false}'
	jq -r .response <<<"$body" | jq -e --arg m "$MODEL" '. == {model: $m, echo: "give json"}'
}

@test "a token delay spreads the stream over time (served as ollama through a symlink)" {
	local first last second
	curl -sN -m 10 "$SLOW_URL/api/generate" -d '{"model":"'"$MODEL"'","prompt":"#long 8"}' |
		while IFS= read -r line; do printf '%s %s\n' "$(now_ns)" "$line"; done >"$CY_TMP/timed"
	[ "$(wc -l <"$CY_TMP/timed")" = 9 ]
	first=$(sed -n 1p "$CY_TMP/timed" | cut -d' ' -f1)
	second=$(sed -n 2p "$CY_TMP/timed" | cut -d' ' -f1)
	last=$(tail -n 1 "$CY_TMP/timed" | cut -d' ' -f1)
	# 7 gaps of 100 ms between the 8 tokens; each chunk arrives on its own
	[ $((last - first)) -ge 600000000 ]
	[ $((second - first)) -ge 70000000 ]
	cut -d' ' -f2- "$CY_TMP/timed" | jq -se 'last.eval_count == 8' >/dev/null
	# a non-streamed answer takes as long
	first=$(now_ns)
	curl -sf -m 10 "$SLOW_URL/api/generate" -d '{"model":"'"$MODEL"'","prompt":"#long 8","stream":false}' >/dev/null
	[ $(($(now_ns) - first)) -ge 600000000 ]
}

@test "/api/ps lists a model once it answered, with expires_at; keep_alive 0 unloads it" {
	req GET /api/ps
	[ "$code" = 200 ]
	[ "$(jq -c . <<<"$body")" = '{"models":[]}' ]
	req POST /api/generate '{"model":"'"$MODEL"'","prompt":"hi","stream":false}'
	req GET /api/ps
	jq -e --arg m "$MODEL" --arg now "$(date -u +%Y-%m-%dT%H:%M:%S)" '.models | length == 1
		and .[0].name == $m and .[0].model == $m and (.[0].size_vram | type == "number")
		and (.[0].digest | test("^[0-9a-f]{64}$")) and (.[0].details.format == "gguf")
		and .[0].expires_at[:19] > $now' <<<"$body"
	req POST /api/generate '{"model":"'"$MODEL"'","keep_alive":0}'
	jq -e '.done and .done_reason == "unload"' <<<"$body"
	req GET /api/ps
	[ "$(jq '.models | length' <<<"$body")" = 0 ]
	req POST /api/chat '{"model":"'"$MODEL"'","messages":[]}'
	jq -e '.done and .done_reason == "load" and .message.role == "assistant"' <<<"$body"
	req GET /api/ps
	[ "$(jq '.models | length' <<<"$body")" = 1 ]
}

@test "/api/pull streams progress; afterwards the model is listed, shown and usable" {
	curl -sN -m 10 -D "$CY_TMP/h" -o "$CY_TMP/out" "$FAKE_URL/api/pull" -d '{"model":"tinyllama"}'
	grep -qi '^content-type: application/x-ndjson' "$CY_TMP/h"
	jq -se 'first == {status: "pulling manifest"} and last == {status: "success"}
		and (map(select(.digest)) | length >= 2 and all((.digest | test("^sha256:[0-9a-f]{64}$"))
			and (.status | startswith("pulling ")) and (.total | type == "number")
			and .completed <= .total))
		and (map(select(.digest)) | last | .completed == .total)
		and any(.[]; .status == "writing manifest")' "$CY_TMP/out"
	req GET /api/tags
	jq -e 'any(.models[]; .name == "tinyllama:latest")' <<<"$body"
	req POST /api/show '{"model":"tinyllama"}'
	[ "$code" = 200 ]
	req POST /api/chat '{"model":"tinyllama","stream":false,"messages":[{"role":"user","content":"hi"}]}'
	[ "$(jq -r .message.content <<<"$body")" = "[tinyllama] echo: hi" ]
}

@test "/api/pull with stream false answers one status object" {
	req POST /api/pull '{"model":"smollm2:135m","stream":false}'
	[ "$code" = 200 ]
	[[ $ctype == application/json* ]]
	[ "$(jq -c . <<<"$body")" = '{"status":"success"}' ]
	req GET /v1/models
	jq -e 'any(.data[]; .id == "smollm2:135m")' <<<"$body"
}

@test "pulling a model FAKE_OLLAMA_PULLABLE does not list fails as Ollama does" {
	req POST /api/pull '{"model":"llama9:70b"}'
	[ "$code" = 200 ]
	run jq -c . <<<"$body"
	assert_output '{"status":"pulling manifest"}
{"error":"pull model manifest: file does not exist"}'
	req POST /api/pull '{"model":"llama9:70b","stream":false}'
	[ "$code" = 500 ]
	[ "$(jq -r .error <<<"$body")" = "pull model manifest: file does not exist" ]
	req GET /api/tags
	jq -e 'all(.models[]; .name != "llama9:70b")' <<<"$body"
}

@test "/api/show describes a present model and is 404 for others" {
	req POST /api/show '{"model":"'"$MODEL"'"}'
	[ "$code" = 200 ]
	jq -e '(.modelfile | type == "string") and (.template | type == "string")
		and .details.format == "gguf" and (.model_info["general.architecture"] | type == "string")
		and .capabilities == ["completion"]' <<<"$body"
	req POST /api/show '{"model":"nosuch"}'
	[ "$code" = 404 ]
	[ "$(jq -r .error <<<"$body")" = "model 'nosuch' not found" ]
	req POST /api/show '{}'
	[ "$code" = 400 ]
}

@test "/api/embed answers deterministic vectors" {
	req POST /api/embed '{"model":"nomic-embed-text","input":["a b","c"]}'
	[ "$code" = 200 ]
	jq -e '.model == "nomic-embed-text" and (.embeddings | length == 2 and (.[0] | length) > 0)
		and .prompt_eval_count == 3' <<<"$body"
	local first=$body
	req POST /api/embed '{"model":"nomic-embed-text","input":["a b","c"]}'
	[ "$(jq -c .embeddings <<<"$body")" = "$(jq -c .embeddings <<<"$first")" ]
}

@test "an unknown model is 404 in Ollama's and in OpenAI's error shape" {
	local msg='model "llama9:70b" not found, try pulling it first'
	req POST /api/chat '{"model":"llama9:70b","messages":[{"role":"user","content":"x"}]}'
	[ "$code" = 404 ]
	[[ $ctype == application/json* ]]
	[ "$(jq -c . <<<"$body")" = "$(jq -cn --arg m "$msg" '{error: $m}')" ]
	req POST /api/generate '{"model":"llama9:70b","prompt":"x"}'
	[ "$code" = 404 ]
	[ "$(jq -r .error <<<"$body")" = "$msg" ]
	req POST /v1/chat/completions '{"model":"llama9:70b","messages":[{"role":"user","content":"x"}]}'
	[ "$code" = 404 ]
	[[ $ctype == application/json* ]]
	jq -e --arg m "$msg" '.error == {message: $m, type: "not_found_error", param: null, code: null}' <<<"$body"
}

@test "bad requests are 400 with Ollama's messages, and never a traceback" {
	req POST /api/chat '{bad'
	[ "$code" = 400 ]
	jq -e '.error | type == "string"' <<<"$body"
	req POST /api/chat ''
	[ "$code" = 400 ]
	[ "$(jq -r .error <<<"$body")" = "missing request body" ]
	req POST /api/chat '[]'
	[ "$(jq -r .error <<<"$body")" = "json: cannot unmarshal array into Go value of type api.ChatRequest" ]
	req POST /api/chat '{"model":5,"messages":[]}'
	[ "$code" = 400 ]
	[ "$(jq -r .error <<<"$body")" = "json: cannot unmarshal number into Go struct field ChatRequest.model of type string" ]
	req POST /api/chat '{"model":"'"$MODEL"'","messages":[{"role":"user","content":["x"]}]}'
	[ "$code" = 400 ]
	req POST /api/generate '{"model":"'"$MODEL"'","prompt":"x","stream":"yes"}'
	[ "$code" = 400 ]
	req POST /api/chat '{"messages":[{"role":"user","content":"x"}]}'
	[ "$code" = 400 ]
	[ "$(jq -r .error <<<"$body")" = "model is required" ]
	req POST /api/chat '{"model":"nomic-embed-text","messages":[{"role":"user","content":"x"}]}'
	[ "$code" = 400 ]
	[ "$(jq -r .error <<<"$body")" = '"nomic-embed-text" does not support chat' ]
	req POST /api/generate '{"model":"'"$MODEL"'","prompt":"x","keep_alive":"soon"}'
	[ "$code" = 400 ]
	req POST /v1/chat/completions '{bad'
	[ "$code" = 400 ]
	[ "$(jq -r .error.type <<<"$body")" = invalid_request_error ]
	req POST /v1/chat/completions '{"model":"'"$MODEL"'","messages":[]}'
	[ "$code" = 400 ]
	[ "$(jq -r .error.message <<<"$body")" = "[] is too short - 'messages'" ]
	req POST /v1/chat/completions '{"model":"'"$MODEL"'","messages":[{"role":"user","content":5}]}'
	[ "$code" = 400 ]
	[ "$(jq -r .error.message <<<"$body")" = "invalid message content type: float64" ]
	run grep -c Traceback "$CY_TMP/main.log"
	assert_output 0
	req GET /api/version
	[ "$code" = 200 ]
}

@test "request bodies: a chunked upload is read, one over 64 MiB is refused with 413" {
	run curl -s -m 10 -H 'Transfer-Encoding: chunked' "$FAKE_URL/api/generate" \
		--data-binary '{"model":"'"$MODEL"'","prompt":"chunked body","stream":false}'
	[ "$(jq -r .response <<<"$output")" = "[$MODEL] echo: chunked body" ]
	truncate -s $((64 * 1024 * 1024 + 1)) "$CY_TMP/big"
	run curl -s -m 20 -o "$CY_TMP/out" -w '%{http_code}' -T "$CY_TMP/big" -X POST "$FAKE_URL/api/chat"
	assert_output 413
	[ "$(jq -r .error "$CY_TMP/out")" = "http: request body too large" ]
	run curl -s -m 20 -o "$CY_TMP/out" -w '%{http_code}' -H 'Expect:' --data-binary "@$CY_TMP/big" "$FAKE_URL/api/chat"
	assert_output 413
	rm -f "$CY_TMP/big"
	req GET /api/version
	[ "$code" = 200 ]
}

@test "unknown paths are 404 and wrong methods 405, as gin answers them" {
	req GET /api/nothing
	[ "$code" = 404 ]
	[ "$body" = "404 page not found" ]
	req GET /api/chat
	[ "$code" = 405 ]
	[ "$body" = "405 method not allowed" ]
}

@test "fault status answers that status in the endpoint's error shape, count times" {
	fault '{"path":"/api/chat","kind":"status","status":503,"count":1,"message":"server busy"}'
	req POST /api/chat '{"model":"'"$MODEL"'","stream":false,"messages":[{"role":"user","content":"x"}]}'
	[ "$code" = 503 ]
	[ "$(jq -c . <<<"$body")" = '{"error":"server busy"}' ]
	req POST /api/chat '{"model":"'"$MODEL"'","stream":false,"messages":[{"role":"user","content":"x"}]}'
	[ "$code" = 200 ]
	fault '{"path":"/v1/*","kind":"status","status":429,"count":1}'
	req POST /v1/chat/completions '{"model":"'"$MODEL"'","messages":[{"role":"user","content":"x"}]}'
	[ "$code" = 429 ]
	jq -e '.error | .type == "api_error" and (.message | type == "string")
		and has("param") and has("code")' <<<"$body"
}

@test "fault disconnect_mid_stream cuts streams and bodies short (curl 18, or 56 with reset)" {
	fault '{"path":"/api/chat","kind":"disconnect_mid_stream","count":1}'
	run curl -sN -m 10 "$FAKE_URL/api/chat" \
		-d '{"model":"'"$MODEL"'","messages":[{"role":"user","content":"one two three four"}]}'
	[ "$status" -eq 18 ] || [ "$status" -eq 56 ]
	[ "${#lines[@]}" -eq 2 ]
	refute_output --partial '"done":true'
	fault '{"path":"/v1/chat/completions","kind":"disconnect_mid_stream","after":1,"reset":true,"count":1}'
	run curl -sN -m 10 "$FAKE_URL/v1/chat/completions" \
		-d '{"model":"'"$MODEL"'","stream":true,"messages":[{"role":"user","content":"a b c"}]}'
	[ "$status" -eq 56 ] || [ "$status" -eq 18 ]
	[ "$(grep -c '^data: ' <<<"$output")" = 1 ]
	refute_output --partial '[DONE]'
	fault '{"path":"/api/tags","kind":"disconnect_mid_stream","count":1}'
	run curl -s -m 10 "$FAKE_URL/api/tags"
	[ "$status" -eq 18 ]
	[ "$(jq -r .fault <<<"$(last_request)")" = disconnect_mid_stream ]
	req GET /api/tags
	[ "$code" = 200 ]
}

@test "fault error_mid_stream ends the stream with an error object instead of done" {
	fault '{"path":"/api/chat","kind":"error_mid_stream","after":1,"message":"boom","count":1}'
	run curl -sN -m 10 "$FAKE_URL/api/chat" \
		-d '{"model":"'"$MODEL"'","messages":[{"role":"user","content":"one two"}]}'
	assert_success
	[ "${#lines[@]}" -eq 2 ]
	[ "${lines[1]}" = '{"error":"boom"}' ]
	fault '{"path":"/v1/chat/completions","kind":"error_mid_stream","after":2,"message":"boom","count":2}'
	run curl -sN -m 10 "$FAKE_URL/v1/chat/completions" \
		-d '{"model":"'"$MODEL"'","stream":true,"messages":[{"role":"user","content":"one two"}]}'
	assert_success
	refute_output --partial '[DONE]'
	[ "$(grep '^data: ' <<<"$output" | tail -n 1 | cut -c7- | jq -r .error.message)" = boom ]
	req POST /v1/chat/completions '{"model":"'"$MODEL"'","messages":[{"role":"user","content":"x"}]}'
	[ "$code" = 500 ]
	[ "$(jq -r .error.message <<<"$body")" = boom ]
}

@test "fault slow delays every chunk, or a whole answer" {
	local t0
	fault '{"path":"/api/tags","kind":"slow","delay_ms":300,"count":1}'
	t0=$(now_ns)
	req GET /api/tags
	[ "$code" = 200 ]
	[ $(($(now_ns) - t0)) -ge 300000000 ]
	fault '{"path":"/api/generate","kind":"slow","delay_ms":100,"count":1}'
	t0=$(now_ns)
	curl -sfN -m 10 -o "$CY_TMP/out" "$FAKE_URL/api/generate" -d '{"model":"'"$MODEL"'","prompt":"#long 3"}'
	[ $(($(now_ns) - t0)) -ge 400000000 ]
	[ "$(wc -l <"$CY_TMP/out")" = 4 ]
}

@test "fault hang never answers; the client's timeout ends the request" {
	fault '{"path":"/api/tags","kind":"hang","count":1}'
	run curl -s -m 1 "$FAKE_URL/api/tags"
	[ "$status" -eq 28 ]
	jq -e '.path == "/api/tags" and .fault == "hang" and .outcome == "client_gone" and .status == null' \
		<<<"$(last_request)"
	req GET /api/tags
	[ "$code" = 200 ]
}

@test "fault close_before_response closes without any answer (curl 52)" {
	fault '{"path":"/api/version","kind":"close_before_response","count":1}'
	run curl -s -m 5 "$FAKE_URL/api/version"
	[ "$status" -eq 52 ]
	fault '{"path":"/api/version","kind":"close_before_response","reset":true,"count":1}'
	run curl -s -m 5 "$FAKE_URL/api/version"
	[ "$status" -eq 56 ] || [ "$status" -eq 52 ]
	req GET /api/version
	[ "$code" = 200 ]
}

@test "faults: count, method and model filters, listing, DELETE, bad descriptions" {
	fault '{"path":"/api/version","kind":"status"}'
	req GET /api/version
	[ "$code" = 500 ]
	req GET /api/version
	[ "$code" = 500 ]
	fault '{"path":"/api/chat","kind":"status","status":502,"count":2,"model":"other:1b"}'
	fault '{"kind":"status","status":418,"method":"DELETE","count":1}'
	req GET /_fake/faults
	jq -e '.faults | length == 3 and .[0].hits == 2 and .[1].count == 2' <<<"$body"
	req POST /api/chat '{"model":"'"$MODEL"'","stream":false,"messages":[{"role":"user","content":"x"}]}'
	[ "$code" = 200 ]
	req DELETE /api/delete '{"model":"nosuch"}'
	[ "$code" = 418 ]
	req DELETE /_fake/faults
	[ "$code" = 200 ]
	req GET /api/version
	[ "$code" = 200 ]
	req POST /_fake/faults '{"kind":"explode"}'
	[ "$code" = 400 ]
	req POST /_fake/faults '{"kind":"status","colour":"red"}'
	[ "$code" = 400 ]
	req POST /_fake/faults '{"kind":"status","count":0}'
	[ "$code" = 400 ]
	req GET /_fake/faults
	[ "$(jq -c . <<<"$body")" = '{"faults":[]}' ]
}

@test "the request log records each request without secrets; DELETE clears it" {
	curl -sf -m 10 -o /dev/null -H 'Authorization: Bearer sekrit-token-42' -A cynode-test/1 \
		-H 'Content-Type: application/json' "$FAKE_URL/api/chat" \
		-d '{"model":"'"$MODEL"'","stream":false,"messages":[{"role":"user","content":"log me"}]}'
	req GET /_fake/requests
	jq -e --arg m "$MODEL" 'length == 1 and (.[0] | .method == "POST" and .path == "/api/chat"
		and .model == $m and .stream == false and .prompt == "log me" and .status == 200
		and .outcome == "ok" and .authorization == true and .authorization_scheme == "Bearer"
		and .user_agent == "cynode-test/1" and .content_type == "application/json"
		and (.client | startswith("127.0.0.1:")) and (.duration_ms | type == "number")
		and (.id | type == "number") and (.time | test("Z$")))' <<<"$body"
	run grep -l sekrit "$CY_TMP/requests.jsonl" "$CY_TMP/main.log"
	assert_failure 1
	[ "$(tail -n 1 "$CY_TMP/requests.jsonl" | jq -r '.path + " " + .prompt')" = "/api/chat log me" ]
	req DELETE /_fake/requests
	[ "$(jq .cleared <<<"$body")" = 1 ]
	req GET /_fake/requests
	[ "$body" = "[]" ]
}

@test "/_fake/models adds and removes models at run time" {
	req POST /_fake/models '{"add":["llama3.2"]}'
	[ "$code" = 200 ]
	jq -e 'any(.models[]; . == "llama3.2:latest")' <<<"$body"
	req POST /api/chat '{"model":"llama3.2","stream":false,"messages":[{"role":"user","content":"hi"}]}'
	[ "$code" = 200 ]
	req GET /_fake/models
	jq -e '.loaded == ["llama3.2:latest"]' <<<"$body"
	req POST /_fake/models '{"remove":["llama3.2:latest"]}'
	req POST /api/chat '{"model":"llama3.2","stream":false,"messages":[{"role":"user","content":"hi"}]}'
	[ "$code" = 404 ]
	req POST /_fake/models '{"add":"not a list!"}'
	[ "$code" = 400 ]
}

@test "a client that goes away mid-stream is noticed; the server keeps serving" {
	run curl -sN -m 0.35 "$SLOW_URL/api/generate" -d '{"model":"'"$MODEL"'","prompt":"#long 20"}'
	[ "$status" -eq 28 ]
	jq -e '.outcome == "client_gone" and .status == 200 and .duration_ms < 1500' \
		<<<"$(last_request "$SLOW_URL")"
	req GET /api/version "" "$SLOW_URL"
	[ "$code" = 200 ]
}

@test "the ollama client commands: --version, list, pull, run, ps" {
	local ollama=$CY_TMP/bin/ollama
	OLLAMA_HOST=$SLOW_URL run "$ollama" --version
	assert_success
	assert_output "ollama version is 0.0.0-fake"
	OLLAMA_HOST=127.0.0.1:$FAKE_PORT run "$ollama" list
	assert_success
	assert_output --partial "$MODEL"
	OLLAMA_HOST=127.0.0.1:$FAKE_PORT run "$ollama" pull tinyllama
	assert_success
	assert_output --partial success
	OLLAMA_HOST=127.0.0.1:$FAKE_PORT run "$ollama" pull llama9:70b
	assert_failure 1
	assert_output --partial "Error: pull model manifest: file does not exist"
	OLLAMA_HOST=127.0.0.1:$FAKE_PORT run "$ollama" run "$MODEL" say hello
	assert_success
	assert_output "[$MODEL] echo: say hello"
	OLLAMA_HOST=127.0.0.1:$FAKE_PORT run "$ollama" ps
	assert_output --partial "$MODEL"
	# no server there
	OLLAMA_HOST=127.0.0.1:$(cy_free_port) run "$ollama" --version
	assert_success
	assert_output $'Warning: could not connect to a running Ollama instance\nWarning: client version is 0.0.0-fake'
	OLLAMA_HOST=127.0.0.1:$(cy_free_port) run "$ollama" list
	assert_failure 1
}

@test "OLLAMA_HOST=:port, FAKE_OLLAMA_FAULTS and the pidfile; SIGTERM exits 0" {
	local port pid rc=0 url
	port=$(cy_free_port)
	url=http://127.0.0.1:$port
	OLLAMA_HOST=":$port" FAKE_OLLAMA_MODELS="" FAKE_OLLAMA_PIDFILE=$CY_TMP/t.pid \
		FAKE_OLLAMA_FAULTS='{"path":"/api/version","kind":"status","status":418,"count":1}' \
		"$FAKE" serve >"$CY_TMP/t.out" 2>"$CY_TMP/t.log" </dev/null 3>&- &
	pid=$!
	echo "$pid" >>"$CY_TMP/pids"
	stack_wait_http "$url/" 200 10 "$pid"
	[ "$(cat "$CY_TMP/t.pid")" = "$pid" ]
	req GET /api/version "" "$url"
	[ "$code" = 418 ]
	req GET /api/version "" "$url"
	[ "$code" = 200 ]
	req GET /api/tags "" "$url"
	[ "$(jq -c . <<<"$body")" = '{"models":[]}' ]
	req GET /v1/models "" "$url"
	[ "$(jq -c . <<<"$body")" = '{"object":"list","data":null}' ]
	# a request in progress does not keep the server from stopping
	fault '{"kind":"hang"}' "$url"
	curl -s -m 10 "$url/api/tags" >/dev/null 2>&1 3>&- &
	sleep 0.3
	kill -TERM "$pid"
	wait "$pid" || rc=$?
	[ "$rc" = 0 ]
	[ ! -e "$CY_TMP/t.pid" ]
	[ ! -s "$CY_TMP/t.out" ]
	grep -q 'level=INFO msg=stopped' "$CY_TMP/t.log"
	wait
}

@test "bad settings and commands exit non-zero with a message" {
	FAKE_OLLAMA_TOKEN_DELAY_MS=soon run "$FAKE" serve
	assert_failure 2
	assert_output --partial FAKE_OLLAMA_TOKEN_DELAY_MS
	FAKE_OLLAMA_FAULTS='{"kind":"explode"}' run "$FAKE" serve
	assert_failure 2
	assert_output --partial FAKE_OLLAMA_FAULTS
	OLLAMA_HOST=127.0.0.1:$FAKE_PORT run "$FAKE" serve
	assert_failure 1
	assert_output --partial "address already in use"
	run "$FAKE" frobnicate
	assert_failure 1
	assert_output --partial 'unknown command "frobnicate"'
}

@test "serve writes nothing to stdout and logs one logfmt line per event" {
	[ ! -s "$CY_TMP/main.out" ]
	run grep -cv '^time=[^ ]* level=[A-Z]* msg=' "$CY_TMP/main.log"
	assert_output 0
	grep -q 'msg="Listening on 127.0.0.1:'"$FAKE_PORT"' (version 0.0.0-fake)"' "$CY_TMP/main.log"
	grep -q 'msg=request method=POST path=/api/chat' "$CY_TMP/main.log"
}
