#!/usr/bin/env bats
#
# inference.bats: the inference path through the real server and node
#, with the Ollama-API test server (tests/ollama/fake-ollama)
# as the node's existing backend: readiness (contract 3.8), the model list,
# prompt tasks answered by the model on a node that has it, the
# OpenAI-compatible chat completions relayed gateway -> node -> backend
# (whole and streamed; errors in OpenAI's shape: unknown model, backend
# down, a stream cut in the middle, oversized bodies, a drained node), a
# client that leaves stopping the backend's request, and the token usage
# recorded per user and model.

load ../lib/harness
bats_require_minimum_version 1.5.0

FAST=(orchestrator.heartbeat_interval_seconds=1 orchestrator.report_interval_seconds=1)

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start READINESS_REQUIRE_INFERENCE=true MAX_REQUEST_BODY_MB=1
	cy_ollama_start ollama FAKE_OLLAMA_MODELS=qwen3.5:0.8b,llama3.2:1b
	OLLAMA_A=$CY_OLLAMA_URL
	export OLLAMA_A
	TOKEN=$(cy_admin_token)
	export TOKEN
}

# wait_for CMD...: retries CMD for up to 30 s.
wait_for()
{
	local i

	for i in $(seq 1 150); do
		"$@" && return 0
		sleep 0.2
	done
	echo "timed out waiting for: $*" >&2
	return 1
}

models_listed()
{
	cy_api GET /v1/models "" "$TOKEN"
	cy_status 200 && jq -e --arg m "$1" '[.data[].id] | index($m) != null' \
		<<<"$body" >/dev/null
}

@test "readyz is 503 until a node serves a model, then 200" {
	cy_api GET /readyz
	cy_status 503
	assert_output --partial "no inference path available (no dispatchable nodes"
	cy_api GET "$CY_CONTROL_URL/readyz"
	cy_status 503
	# cy_node_start waits for the gateway's readyz: the node brings a model.
	cy_node_start node-a "inference.url=\"$OLLAMA_A\"" "${FAST[@]}"
	cy_api GET /readyz
	cy_status 200
	cy_api GET "$CY_CONTROL_URL/readyz"
	cy_status 200
}

@test "models: GET /v1/models lists the fleet's models in OpenAI's shape" {
	wait_for models_listed llama3.2:1b
	cy_api GET /v1/models "" "$TOKEN"
	cy_status 200
	run jq -e '.object == "list" and (.data | length) == 2 and
		(.data | map(.object == "model" and .owned_by == "cynode" and .nodes == 1 and
		(.created | type) == "number") | all) and
		([.data[].id] == ["llama3.2:1b", "qwen3.5:0.8b"])' <<<"$body"
	assert_success
	# No token: 401 in OpenAI's error shape, never problem+json.
	cy_api GET /v1/models
	cy_status 401
	run jq -e '.error.type == "cynodeai_error" and .error.code == "unauthorized" and
		(.error.message | length) > 0 and .error.param == null' <<<"$body"
	assert_success
}

@test "prompt task: answered by the model on the node, usage recorded" {
	cy_api POST /v1/tasks '{"prompt":"what is a cynode"}' "$TOKEN"
	cy_status 201
	id=$(jq -r .task_id <<<"$body")
	cy_api GET "/v1/tasks/$id/result?wait=30" "" "$TOKEN"
	[ "$(jq -r .status <<<"$body")" = completed ]
	res=$(jq -r '.jobs[0].result' <<<"$body")
	run jq -r .stdout <<<"$res"
	assert_output "[qwen3.5:0.8b] echo: what is a cynode"
	run jq -e '.exit_code == 0 and .inference.model == "qwen3.5:0.8b" and
		.inference.prompt_tokens == 4 and .inference.completion_tokens > 0' <<<"$res"
	assert_success
	run cy_psql "SELECT kind, model, prompt_tokens, completion_tokens > 0,
		user_id = (SELECT id FROM users WHERE handle = 'admin'),
		node_id = (SELECT id FROM nodes WHERE node_slug = 'node-a')
		FROM inference_usage WHERE task_id = '$id'"
	assert_output "prompt|qwen3.5:0.8b|4|t|t|t"
}

@test "prompt task: a model asked for by name; unknown models refused" {
	cy_api POST /v1/tasks '{"prompt":"hi there","model":"llama3.2:1b"}' "$TOKEN"
	cy_status 201
	id=$(jq -r .task_id <<<"$body")
	cy_api GET "/v1/tasks/$id/result?wait=30" "" "$TOKEN"
	run jq -r '.jobs[0].result | fromjson | .stdout' <<<"$body"
	assert_output "[llama3.2:1b] echo: hi there"
	cy_api POST /v1/tasks '{"prompt":"hi","model":"nosuch:7b"}' "$TOKEN"
	cy_status 400
	assert_output --partial "model 'nosuch:7b' is not served by any dispatchable node"
	assert_output --partial "llama3.2:1b, qwen3.5:0.8b"
}

@test "chat: a whole completion relayed gateway -> node -> backend" {
	cy_api POST /v1/chat/completions '{"model":"qwen3.5:0.8b","messages":[{"role":"user","content":"hello fleet"}]}' "$TOKEN"
	cy_status 200
	run jq -e '.object == "chat.completion" and
		.choices[0].message.content == "[qwen3.5:0.8b] echo: hello fleet" and
		.usage.prompt_tokens == 2' <<<"$body"
	assert_success
	# No model: the default one (contract 4.6: the small-VRAM tier).
	cy_api POST /v1/chat/completions '{"messages":[{"role":"user","content":"x"}]}' "$TOKEN"
	cy_status 200
	[ "$(jq -r .choices[0].message.content <<<"$body")" = "[qwen3.5:0.8b] echo: x" ]
	wait_for test "$(cy_psql "SELECT count(*) FROM inference_usage WHERE kind = 'chat'")" -ge 2
}

@test "chat: streamed as server-sent events, token by token" {
	run curl -sN -m 20 -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
		--data '{"model":"qwen3.5:0.8b","stream":true,"messages":[{"role":"user","content":"one two three"}]}' \
		-D "$CY_TMP/h" "$CY_GATEWAY_URL/v1/chat/completions"
	assert_success
	grep -qi '^content-type: text/event-stream' "$CY_TMP/h"
	grep -qi '^transfer-encoding: chunked' "$CY_TMP/h"
	[ "$(grep -c '^data: ' <<<"$output")" -ge 5 ]
	assert_line "data: [DONE]"
	run bash -c "grep '^data: {' <<<'$output' | sed 's/^data: //' | jq -rj '.choices[0].delta.content // empty'"
	assert_output "[qwen3.5:0.8b] echo: one two three"
	# The usage chunk the gateway asked for is not passed on unasked...
	! grep -q '"usage"' <<<"$output" || false
	# ...but when the client asks, it is.
	run curl -sN -m 20 -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
		--data '{"model":"qwen3.5:0.8b","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"a b"}]}' \
		"$CY_GATEWAY_URL/v1/chat/completions"
	assert_output --partial '"usage"'
}

# job_run BODY: creates a task, waits for it, prints its job's result.
job_run()
{
	cy_api POST /v1/tasks "$1" "$TOKEN"
	cy_status 201 || { echo "create: $status_code $body" >&2; return 1; }
	cy_api GET "/v1/tasks/$(jq -r .task_id <<<"$body")/result?wait=60" "" "$TOKEN"
	jq -r '.jobs[0].result' <<<"$body"
}

@test "use_inference: the sandbox reaches the model through its Unix socket only" {
	local cmd res
	cmd='echo "url=$INFERENCE_PROXY_URL"; ls /run/cynode;
curl -s --unix-socket /run/cynode/inference.sock -d "{\"model\":\"qwen3.5:0.8b\",\"prompt\":\"from the sandbox\",\"stream\":false}" http://inference/api/generate | jq -r .response;
curl -sN --unix-socket /run/cynode/inference.sock -d "{\"model\":\"llama3.2:1b\",\"messages\":[{\"role\":\"user\",\"content\":\"a b c\"}]}" http://inference/api/chat | wc -l;
curl -s --unix-socket /run/cynode/inference.sock -H "Content-Type: application/json" -d "{\"model\":\"qwen3.5:0.8b\",\"messages\":[{\"role\":\"user\",\"content\":\"via v1\"}]}" http://inference/v1/chat/completions | jq -r ".choices[0].message.content";
curl -s -o /dev/null -w "pull=%{http_code}\n" --unix-socket /run/cynode/inference.sock -d "{\"model\":\"x\"}" http://inference/api/pull;
curl -s -m 3 '"$OLLAMA_A"'/api/version; echo "tcp=$?";
curl -s --unix-socket /run/cynode/inference.sock http://inference/healthz; echo;
echo "ollama_env=$(env | grep -c -i -e ollama -e 11434)";
head -c 11000000 /dev/zero | tr "\\0" a >/tmp/big;
curl -s -o /dev/null -w "big=%{http_code}\n" --unix-socket /run/cynode/inference.sock --data-binary @/tmp/big http://inference/api/generate'
	res=$(job_run "$(jq -cn --arg c "$cmd" '{prompt:$c, input_mode:"commands", use_inference:true}')")
	run jq -r .stdout <<<"$res"
	assert_line "url=http+unix://%2Frun%2Fcynode%2Finference.sock"
	assert_line "inference.sock"
	assert_line "[qwen3.5:0.8b] echo: from the sandbox"
	assert_line "[qwen3.5:0.8b] echo: via v1"
	assert_line "pull=403"
	# No network in the sandbox: TCP to the backend fails to connect (curl 7).
	assert_line "tcp=7"
	# Health over the socket; no TCP address of a backend in the environment;
	# bodies over inference.max_request_bytes (10 MiB) refused.
	assert_line ok
	assert_line "ollama_env=0"
	assert_line "big=413"
	# The streamed /api/chat came through as several NDJSON lines.
	[ "$(sed -n 4p <<<"$output")" -ge 3 ]
	run jq -e '.exit_code == 0 and (.inference_usage | map(.model) | sort) ==
		["llama3.2:1b", "qwen3.5:0.8b"] and
		(.inference_usage[] | select(.model == "qwen3.5:0.8b") | .requests == 2 and
		.prompt_tokens > 0 and .completion_tokens > 0)' <<<"$res"
	assert_success
	run cy_psql "SELECT kind, sum(requests) FROM inference_usage WHERE kind = 'proxy' GROUP BY kind"
	assert_output "proxy|3"
	# A request's env cannot point the job elsewhere.
	res=$(job_run "$(jq -cn '{prompt:"echo $INFERENCE_PROXY_URL", input_mode:"commands", use_inference:false}')")
	[ "$(jq -r .stdout <<<"$res")" = "" ]
}

@test "use_inference: another process cannot use a job's socket" {
	local staging id job sock
	# The socket is staged under the node's sandbox.staging_dir (/run/cynode/<id>).
	staging=$("$CY_BUILD/cynode-node" --config "$CY_TMP/node-node-a/node.yaml" --check-config |
		awk '$1 == "staging_dir:" { print $2 }')
	[ -n "$staging" ]
	cy_api POST /v1/tasks "$(jq -cn '{prompt:"sleep 20", input_mode:"commands", use_inference:true, task_name:"holder"}')" "$TOKEN"
	id=$(jq -r .task_id <<<"$body")
	wait_for test "$(cy_psql "SELECT status FROM jobs WHERE task_id = '$id'")" = running
	job=$(cy_psql "SELECT id FROM jobs WHERE task_id = '$id'")
	sock=$staging/jobs/$job/run/inference.sock
	wait_for test -S "$sock"
	# A host process (not one of the job's) is refused...
	run bash -c "cd '${sock%/*}' && curl -s -w '\n%{http_code}' --unix-socket inference.sock http://x/api/tags"
	assert_line 403
	assert_output --partial "serves job $job's processes only"
	grep -q "event=inference_proxy_denied job_id=$job" "$CY_TMP/node-node-a.log"
	# ...and another job cannot even see it: nothing of the host's mount root.
	res=$(job_run "$(jq -cn --arg s "$sock" '{prompt:("test -e " + $s + " && echo visible || echo hidden; ls /run"), input_mode:"commands", use_inference:true}')")
	run jq -r .stdout <<<"$res"
	assert_line hidden
	assert_line cynode
	cy_api POST "/v1/tasks/$id/cancel" "" "$TOKEN"
	# The socket goes with the job.
	wait_for test ! -e "$sock"
}

@test "prompt task: logs --follow shows the answer being written; cancel stops the backend" {
	local id
	fault '{"kind":"slow","path":"/api/generate","delay_ms":300,"count":1}'
	curl -sf -X DELETE "$OLLAMA_A/_fake/requests" >/dev/null
	cy_api POST /v1/tasks '{"prompt":"#long 40","task_name":"slow-answer"}' "$TOKEN"
	cy_status 201
	id=$(jq -r .task_id <<<"$body")
	# Some of the answer is there while the task still runs.
	partial() {
		cy_api GET "/v1/tasks/$id/logs?follow=true" "" "$TOKEN"
		[ "$(jq -r .stdout <<<"$body")" != "" ] &&
			[ "$(cy_psql "SELECT status FROM tasks WHERE id = '$id'")" = running ]
	}
	wait_for partial
	[[ $(jq -r .stdout <<<"$body") == tok1* ]]
	# The node streamed the answer so far to the server, which stored it.
	[ "$(cy_psql "SELECT count(*) FROM job_log_chunks c JOIN job_logs l USING (lease_id, stream)
		JOIN jobs j ON j.id = l.job_id WHERE j.task_id = '$id' AND stream = 'stdout'")" -ge 1 ]
	cy_api POST "/v1/tasks/$id/cancel" "" "$TOKEN"
	cy_status 200
	backend_gone() {
		curl -sf "$OLLAMA_A/_fake/requests" | jq -e \
			'map(select(.path == "/api/generate")) | .[-1].outcome == "client_gone"' >/dev/null
	}
	wait_for backend_gone
	grep -q "event=job_cancel job_id=" "$CY_TMP/node-node-a.log"
	[ "$(cy_psql "SELECT status FROM tasks WHERE id = '$id'")" = canceled ]
	faults_clear
}

@test "prompt jobs: the node refuses garbage in the inference object" {
	local conf=$CY_TMP/node-node-a/node.yaml req
	for inf in '"x"' '{}' '{"model":"qwen3.5:0.8b"}' '{"model":"qwen3.5:0.8b","prompt":""}' \
		'{"model":"a b","prompt":"x"}' '{"model":7,"prompt":"x"}' \
		'{"model":"qwen3.5:0.8b","prompt":"x","timeout_seconds":-1}' \
		'{"model":"qwen3.5:0.8b","prompt":"x","timeout_seconds":"1"}'; do
		req="{\"version\":1,\"task_id\":\"t1\",\"job_id\":\"j1\",\"inference\":$inf}"
		printf '%s' "$req" >"$CY_TMP/req.json"
		run "$CY_BUILD/cynode-node" --config "$conf" --run-job "$CY_TMP/req.json"
		[ "$status" = 1 ] || { echo "$inf: $status $output"; return 1; }
		jq -e '.status == 400 and (.detail | test("inference"))' <<<"$output" >/dev/null ||
			{ echo "$inf: $output"; return 1; }
	done
	# A sandbox job's use_inference must be a boolean.
	printf '%s' '{"version":1,"task_id":"t1","job_id":"j2","sandbox":{"command":["true"],"use_inference":"yes"}}' >"$CY_TMP/req.json"
	run "$CY_BUILD/cynode-node" --config "$conf" --run-job "$CY_TMP/req.json"
	assert_output --partial "use_inference must be a boolean"
}

# fault JSON: a fault of the Ollama-API test server (see its README).
fault()
{
	curl -sf -m 5 -H 'Content-Type: application/json' --data "$1" "$OLLAMA_A/_fake/faults" >/dev/null
}

faults_clear()
{
	curl -sf -m 5 -X DELETE "$OLLAMA_A/_fake/faults" >/dev/null
}

chat()
{
	cy_api POST /v1/chat/completions "$1" "${2:-$TOKEN}"
}

@test "chat errors: OpenAI's shape with the right status for each failure" {
	local big
	# Unknown model: 404 model_not_found.
	chat '{"model":"nosuch:1b","messages":[{"role":"user","content":"x"}]}'
	cy_status 404
	run jq -e '.error.code == "model_not_found" and .error.type == "cynodeai_error" and
		(.error.message | test("nosuch:1b"))' <<<"$body"
	assert_success
	# Garbage bodies: 400 invalid_request, never problem+json.
	for b in '{"messages":[]}' '{"messages":"hi"}' '{"messages":[{"content":"x"}]}' \
		'{"messages":[{"role":"wizard","content":"x"}]}' '{"messages":[{"role":"user","content":7}]}' \
		'{"model":"a b","messages":[{"role":"user","content":"x"}]}' \
		'{"model":7,"messages":[{"role":"user","content":"x"}]}' \
		'{"stream":"yes","messages":[{"role":"user","content":"x"}]}' '{"messages":' '[1]' ''; do
		chat "$b"
		cy_status 400 || { echo "body $b: $status_code $body"; return 1; }
		jq -e '.error.code == "invalid_request"' <<<"$body" >/dev/null ||
			{ echo "body $b: $body"; return 1; }
	done
	# Oversized body: 413 request_too_large (the gateway's 1 MiB cap here).
	big=$(head -c 1200000 /dev/zero | tr '\0' a | jq -Rc '{messages:[{role:"user",content:.}]}')
	printf '%s' "$big" >"$CY_TMP/big.json"
	chat "@$CY_TMP/big.json"
	cy_status 413
	[ "$(jq -r .error.code <<<"$body")" = request_too_large ]
	# The backend fails: 502 inference_failed with its reason.
	fault '{"kind":"status","status":500,"path":"/v1/chat/completions","message":"gpu on fire","count":1}'
	chat '{"model":"qwen3.5:0.8b","messages":[{"role":"user","content":"x"}]}'
	cy_status 502
	run jq -e '.error.code == "inference_failed" and (.error.message | test("gpu on fire"))' <<<"$body"
	assert_success
	# The backend does not answer in time... (the node's relay has its own
	# timeout; a hang is cut by the client here, see the disconnect test).
	faults_clear
}

@test "chat: a backend that dies mid-stream ends the reply with an error event" {
	fault '{"kind":"disconnect_mid_stream","path":"/v1/chat/completions","after":3,"count":1}'
	run curl -sN -m 20 -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
		--data '{"model":"qwen3.5:0.8b","stream":true,"messages":[{"role":"user","content":"one two three four five six"}]}' \
		"$CY_GATEWAY_URL/v1/chat/completions"
	# The gateway's answer itself ends cleanly (curl 0), without [DONE], with
	# the OpenAI error as the last event.
	assert_success
	refute_line "data: [DONE]"
	[ "$(grep -c '"delta"' <<<"$output")" -ge 1 ]
	run bash -c "grep '^data: ' <<<'$output' | tail -n 1 | sed 's/^data: //' | jq -r .error.code"
	assert_output inference_failed
	grep -q "event=chat_stream_cut node=node-a" "$CY_TMP/server.log"
	faults_clear
}

@test "chat: a client that goes away stops the backend's request" {
	fault '{"kind":"slow","path":"/v1/chat/completions","delay_ms":1000,"count":1}'
	curl -sf -X DELETE "$OLLAMA_A/_fake/requests" >/dev/null
	run curl -sN -m 2 -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
		--data '{"model":"qwen3.5:0.8b","stream":true,"messages":[{"role":"user","content":"#long 60"}]}' \
		"$CY_GATEWAY_URL/v1/chat/completions"
	[ "$status" = 28 ]
	# The backend sees its client (the node) go within a few seconds, long
	# before the 60 slow tokens are through.
	backend_gone()
	{
		curl -sf "$OLLAMA_A/_fake/requests" | jq -e \
			'map(select(.path == "/v1/chat/completions")) | .[-1].outcome == "client_gone"' >/dev/null
	}
	wait_for backend_gone
	faults_clear
}

@test "chat: the inference scope of API tokens; drained nodes serve nothing" {
	local tok
	cy_api POST /v1/tokens '{"name":"ci-tasks","scopes":["tasks:read","tasks:write"]}' "$TOKEN"
	tok=$(jq -r .token <<<"$body")
	chat '{"messages":[{"role":"user","content":"x"}]}' "$tok"
	cy_status 403
	[ "$(jq -r .error.code <<<"$body")" = forbidden ]
	cy_api GET /v1/models "" "$tok"
	cy_status 403
	cy_api POST /v1/tokens '{"name":"ci-chat","scopes":["inference"]}' "$TOKEN"
	tok=$(jq -r .token <<<"$body")
	chat '{"messages":[{"role":"user","content":"scoped"}]}' "$tok"
	cy_status 200
	# A drained node gets no inference work: no model, no path, no readiness.
	cy_api POST /v1/nodes/node-a/drain '{"reason":"maintenance"}' "$TOKEN"
	cy_status 200
	cy_api GET /v1/models "" "$TOKEN"
	[ "$(jq '.data | length' <<<"$body")" = 0 ]
	chat '{"messages":[{"role":"user","content":"x"}]}'
	cy_status 503
	[ "$(jq -r .error.code <<<"$body")" = inference_unavailable ]
	cy_api POST /v1/tasks '{"prompt":"x"}' "$TOKEN"
	cy_status 503
	cy_api GET /readyz
	cy_status 503
	cy_api POST /v1/nodes/node-a/undrain "" "$TOKEN"
	cy_status 200
	stack_wait_http "$CY_GATEWAY_URL/readyz" 200 30
}

@test "the backend going down: nodes report it, readiness and placement follow" {
	kill "$(cat "$CY_TMP/ollama.pid")"
	# Within a heartbeat or two the node reports running: false.
	not_ready() { [ "$(stack_http_code "$CY_GATEWAY_URL/readyz")" = 503 ]; }
	wait_for not_ready
	cy_api GET /readyz
	assert_output --partial "none with a running inference backend"
	chat '{"messages":[{"role":"user","content":"x"}]}'
	cy_status 503
	cy_api POST /v1/tasks '{"prompt":"x"}' "$TOKEN"
	cy_status 503
	# Back on the same port: inference returns by itself.
	port=${OLLAMA_A##*:}
	env OLLAMA_HOST="127.0.0.1:$port" FAKE_OLLAMA_MODELS=qwen3.5:0.8b \
		"${CY_FAKE_OLLAMA:-$CY_ROOT/tests/ollama/fake-ollama}" serve \
		>>"$CY_TMP/ollama.log" 2>&1 </dev/null 3>&- &
	cy__track $!
	echo $! >"$CY_TMP/ollama.pid"
	stack_wait_http "$CY_GATEWAY_URL/readyz" 200 30
	chat '{"messages":[{"role":"user","content":"back"}]}'
	cy_status 200
}
