#!/usr/bin/env bats
#
# sba.bats: agent (SBA) jobs through the real server, node and agent runner
# (cynode-sba in the job's bubblewrap sandbox), with the Ollama-API test
# server as the node's model: a prompt the model answers with tool calls
# (its deterministic "#tool NAME {args}" lines, tests/ollama/README.md), a
# job spec's explicit steps, the spec's validation in the server and the
# node (unknown major version, unknown fields, missing job_id; the reference's
# sandbox.job_spec_json taken as sandbox.sba), max_steps,
# a step that fails the job, a runner that leaves no valid result, and the
# server's verdict on a redelivered result (a completed one needs a valid
# sba_result; a failed one keeps its own reason).

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	cy_ollama_start ollama FAKE_OLLAMA_MODELS=qwen3.5:0.8b
	cy_node_start node-a "inference.url=\"$CY_OLLAMA_URL\"" \
		orchestrator.heartbeat_interval_seconds=1 orchestrator.report_interval_seconds=1
	TOKEN=$(cy_admin_token)
	export TOKEN
}

# task_result BODY: creates a task and waits for it; $TASK its id, $res its result.
task_result()
{
	cy_api POST /v1/tasks "$1" "$TOKEN"
	cy_status 201 || { echo "create: $status_code $body" >&2; return 1; }
	TASK=$(jq -r .task_id <<<"$body")
	cy_api GET "/v1/tasks/$TASK/result?wait=60" "" "$TOKEN"
	res=$body
}

@test "a prompt: the model calls tools in the sandbox, its answer is the reply" {
	local prompt
	prompt=$(printf '%s\n' 'make the report' \
		'#tool run_command {"command": "mkdir -p out && echo built > out/a.txt && uname -n && echo ran"}' \
		'#tool write_file {"path": "out/b.txt", "content": "from the agent"}' \
		'#tool read_file {"path": "out/a.txt"}')
	task_result "$(jq -cn --arg p "$prompt" '{prompt:$p, use_sba:true}')"
	jq -e '.status == "completed"' <<<"$res" || { echo "$res"; false; }
	run jq -r '.jobs[0].result | fromjson | .sba_result | .protocol_version, .status, (.steps | length),
		(.steps | map(.type) | join(",")), (.steps | map(.status) | join(",")),
		(.artifacts | join(",")), .model' <<<"$res"
	assert_output "$(printf '%s\n' 1.0 completed 3 run,write_file,read_file ok,ok,ok out/b.txt qwen3.5:0.8b)"
	# The job's id is the spec's; the reply is the model's last answer (here an
	# echo of the last tool output), also in the job's log.
	[ "$(jq -r '.jobs[0].result | fromjson | .sba_result.job_id' <<<"$res")" = "$(jq -r '.jobs[0].id // .jobs[0].job_id' <<<"$res")" ]
	run jq -r '.jobs[0].result | fromjson | .reply' <<<"$res"
	assert_output --partial "[qwen3.5:0.8b] echo: status: ok"
	assert_output --partial "built"
	run jq -r '.jobs[0].result | fromjson | .stdout' <<<"$res"
	assert_output --partial "==> reply"
	assert_output --partial "ran"
	# The command ran in the sandbox (its own hostname), the files are artifacts.
	run jq -r '.jobs[0].result | fromjson | .sba_result.steps[0].output' <<<"$res"
	assert_output --partial ran
	cy_api GET "/v1/tasks/$TASK/artifacts" "" "$TOKEN"
	run jq -r '[.artifacts[].name] | sort | join(",")' <<<"$body"
	assert_output "out/a.txt,out/b.txt"
	# The model was reached through the job's socket, with the tools offered.
	curl -sf "$CY_OLLAMA_URL/_fake/requests" | jq -e 'map(select(.path == "/v1/chat/completions")) | length >= 2' >/dev/null
}

@test "job_spec_json: explicit steps in order, an inference step saved as a file" {
	local spec
	spec='{"protocol_version":"1.0","steps":[
		{"id":"hello","type":"run","argv":["sh","-c","echo step one; echo $CYNODE_TASK_ID"]},
		{"type":"write_file","path":"out/notes.md","content":"# notes\n"},
		{"id":"sum","type":"inference","prompt":"summarize the notes","save_as":"out/summary.txt"}]}'
	task_result "$(jq -cn --argjson s "$spec" '{prompt:"explicit steps", use_sba:true, job_spec_json:$s}')"
	jq -e '.status == "completed"' <<<"$res" || { echo "$res"; false; }
	run jq -r '.jobs[0].result | fromjson | .sba_result.steps | map(.id + ":" + .type + ":" + .status) | join(" ")' <<<"$res"
	assert_output "hello:run:ok step-2:write_file:ok sum:inference:ok"
	run jq -r '.jobs[0].result | fromjson | .sba_result.steps[0].output' <<<"$res"
	assert_output --partial "step one"
	assert_output --partial "$TASK"
	# Without a goal the last inference answer is the reply.
	[ "$(jq -r '.jobs[0].result | fromjson | .reply' <<<"$res")" = "[qwen3.5:0.8b] echo: summarize the notes" ]
	cy_api GET "/v1/tasks/$TASK/artifacts/content?name=out/summary.txt" "" "$TOKEN"
	[ "$body" = "[qwen3.5:0.8b] echo: summarize the notes" ]
	# The spec as JSON text (the reference's form) works the same.
	task_result "$(jq -cn --arg s '{"protocol_version":"1.2","steps":[{"type":"run","argv":["true"]}]}' '{prompt:"as text", use_sba:true, job_spec_json:$s}')"
	jq -e '.status == "completed"' <<<"$res"
}

@test "a failing step fails the task; continue_on_error goes on" {
	task_result "$(jq -cn '{prompt:"x", use_sba:true, job_spec_json:{protocol_version:"1.0",
		steps:[{type:"run",argv:["sh","-c","echo bad; exit 3"]},{type:"run",argv:["true"]}]}}')"
	jq -e '.status == "failed"' <<<"$res"
	run jq -r '.jobs[0].result | fromjson | .sba_result | .status, (.steps | length), .steps[0].exit_code, .error' <<<"$res"
	assert_output "$(printf '%s\n' failed 1 3 'step step-1 (run) failed')"
	task_result "$(jq -cn '{prompt:"x", use_sba:true, job_spec_json:{protocol_version:"1.0",
		steps:[{type:"run",argv:["false"],continue_on_error:true},{type:"run",argv:["sh","-c","echo second"]}]}}')"
	jq -e '.status == "completed" and (.jobs[0].sba_result.steps | map(.status)) == ["failed","ok"]' <<<"$res"
	# A command that does not stop in its step's time is killed.
	task_result "$(jq -cn '{prompt:"x", use_sba:true, job_spec_json:{protocol_version:"1.0",
		steps:[{type:"run",argv:["sleep","30"],timeout_seconds:1}]}}')"
	jq -e '.status == "failed" and .jobs[0].sba_result.steps[0].status == "timeout"' <<<"$res"
}

@test "max_steps: a model that keeps calling tools fails the job" {
	local prompt
	prompt=$(printf '%s\n' 'loop' '#tool run_command {"command": "true"}' \
		'#tool run_command {"command": "true"}' '#tool run_command {"command": "true"}')
	task_result "$(jq -cn --arg p "$prompt" '{prompt:"loop", use_sba:true,
		job_spec_json:{protocol_version:"1.0", goal:$p, max_steps:2}}')"
	jq -e '.status == "failed"' <<<"$res"
	run jq -r '.jobs[0].result | fromjson | .sba_result.error' <<<"$res"
	assert_output --partial "more than max_steps (2) tool calls"
}

@test "the server refuses a bad job spec, naming the field" {
	local case
	while IFS='|' read -r case want; do
		cy_api POST /v1/tasks "$case" "$TOKEN"
		cy_status 400 || { echo "$case -> $status_code $body"; return 1; }
		[[ $(jq -r .detail <<<"$body") == *"$want"* ]] || { echo "$case -> $body"; return 1; }
	done <<-'EOF2'
	{"prompt":"bad-spec","use_sba":true,"job_spec_json":{"protocol_version":"2.0","goal":"g"}}|major version 2 is not supported
	{"prompt":"bad-spec","use_sba":true,"job_spec_json":{"protocol_version":"1.0","goal":"g","colour":1}}|unknown field 'colour'
	{"prompt":"bad-spec","use_sba":true,"job_spec_json":{"goal":"g"}}|protocol_version is required
	{"prompt":"bad-spec","use_sba":true,"job_spec_json":{"protocol_version":"one","goal":"g"}}|protocol_version must be a version
	{"prompt":"bad-spec","use_sba":true,"job_spec_json":{"protocol_version":"1.0","job_id":"j","goal":"g"}}|job_id is set by the server
	{"prompt":"bad-spec","use_sba":true,"job_spec_json":{"protocol_version":"1.0"}}|goal or steps is required
	{"prompt":"bad-spec","use_sba":true,"job_spec_json":{"protocol_version":"1.0","steps":[{"type":"fly"}]}}|steps[0].type
	{"prompt":"bad-spec","use_sba":true,"job_spec_json":{"protocol_version":"1.0","steps":[{"type":"run","path":"a"}]}}|steps[0].path does not go with a step of type run
	{"prompt":"bad-spec","use_sba":true,"job_spec_json":{"protocol_version":"1.0","steps":[{"type":"run"}]}}|steps[0].argv is required
	{"prompt":"bad-spec","use_sba":true,"job_spec_json":{"protocol_version":"1.0","steps":[{"type":"write_file","path":"../etc/x","content":""}]}}|steps[0].path
	{"prompt":"bad-spec","use_sba":true,"job_spec_json":{"protocol_version":"1.0","goal":"g","max_steps":0}}|max_steps
	{"prompt":"bad-spec","use_sba":true,"job_spec_json":"{not json"}|job_spec_json is not a JSON object
	{"prompt":"bad-spec","use_sba":true,"job_spec_json":[1]}|job_spec_json must be an object
	{"prompt":"bad-spec","job_spec_json":{"protocol_version":"1.0","goal":"g"}}|job_spec_json goes with use_sba
	{"prompt":"bad-spec","use_sba":true,"input_mode":"commands"}|use_sba runs an agent on the prompt
	{"prompt":"bad-spec","use_sba":"yes"}|use_sba
	{"prompt":"bad-spec","use_sba":true,"model":"nope:1b"}|model 'nope:1b' is not served
	{"prompt":"bad-spec","use_sba":true,"model":"qwen3.5:0.8b","job_spec_json":{"protocol_version":"1.0","goal":"g","model":"other:1b"}}|differ
	EOF2
	# Nothing was created.
	[ "$(cy_psql "SELECT count(*) FROM tasks WHERE prompt = 'bad-spec'")" = 0 ]
}

# node_job SANDBOX_JSON: runs a RunJobRequest through the node's --run-job.
node_job()
{
	jq -cn --argjson sb "$1" '{version:1, task_id:"t-sba", job_id:"j-sba", sandbox:$sb}' >"$CY_TMP/sba-req.json"
	run "$CY_BUILD/cynode-node" --config "${CONF:-$CY_TMP/node-node-a/node.yaml}" --run-job "$CY_TMP/sba-req.json"
}

@test "the node checks the spec itself: missing job_id, unknown major, unknown field, a command too" {
	node_job '{"use_inference":true,"sba":{"protocol_version":"1.0","goal":"g"}}'
	assert_failure
	[[ $(jq -r .detail <<<"$output") == *"sandbox.sba.job_id is required"* ]] || { echo "$output"; false; }
	node_job '{"use_inference":true,"sba":{"protocol_version":"3.1","job_id":"j-sba","goal":"g"}}'
	[[ $(jq -r .detail <<<"$output") == *"major version 3"* ]]
	node_job '{"use_inference":true,"sba":{"protocol_version":"1.0","job_id":"j-sba","goal":"g","extra":true}}'
	[[ $(jq -r .detail <<<"$output") == *"unknown field 'extra'"* ]]
	node_job '{"use_inference":true,"sba":{"protocol_version":"1.0","job_id":"other","goal":"g"}}'
	[[ $(jq -r .detail <<<"$output") == *"not this job's"* ]]
	node_job '{"use_inference":true,"command":["true"],"sba":{"protocol_version":"1.0","job_id":"j-sba","goal":"g"}}'
	[[ $(jq -r .detail <<<"$output") == *"do not go together"* ]]
	node_job '{"sba":{"protocol_version":"1.0","job_id":"j-sba","goal":"g"}}'
	[[ $(jq -r .detail <<<"$output") == *"needs sandbox.use_inference"* ]]
	node_job '{"use_inference":true,"sba":"goal"}'
	[[ $(jq -r .detail <<<"$output") == *"must be a JSON object"* ]]
}

@test "a runner that exits 0 without a valid sba_result fails the job" {
	local conf=$CY_TMP/sba-node.yaml
	printf '#!/bin/sh\necho pretending\nmkdir -p /workspace/.cynode\necho "$FAKE_RESULT" >/workspace/.cynode/sba_result.json\nexit 0\n' >"$CY_TMP/fake-runner"
	chmod 0755 "$CY_TMP/fake-runner"
	sed -e "/^sandbox:/a\\  agent_runner: \"$CY_TMP/fake-runner\"" "$CY_TMP/node-node-a/node.yaml" >"$conf"
	grep -q agent_runner "$conf" || printf 'sandbox:\n  agent_runner: "%s"\n' "$CY_TMP/fake-runner" >>"$conf"
	CONF=$conf node_job '{"use_inference":true,"sba":{"protocol_version":"1.0","job_id":"j-sba","goal":"g"}}'
	[ "$(jq -r .status <<<"$output")" = failed ] || { echo "$output"; false; }
	[[ $(jq -r .stderr <<<"$output") == *"without a valid sba_result"* ]]
	[ "$(jq -r .sba_result <<<"$output")" = null ]
	# A result for another job is not this job's.
	CONF=$conf FAKE_RESULT='{"protocol_version":"1.0","job_id":"x","status":"completed","steps":[],"artifacts":[]}' \
		node_job '{"use_inference":true,"env":{"FAKE_RESULT":"{\"protocol_version\":\"1.0\",\"job_id\":\"x\",\"status\":\"completed\",\"steps\":[],\"artifacts\":[]}"},"sba":{"protocol_version":"1.0","job_id":"j-sba","goal":"g"}}'
	[ "$(jq -r .status <<<"$output")" = failed ]
	[[ $(jq -r .stderr <<<"$output") == *"not this job's"* ]]
	# A valid one is reported.
	CONF=$conf node_job '{"use_inference":true,"env":{"FAKE_RESULT":"{\"protocol_version\":\"1.0\",\"job_id\":\"j-sba\",\"status\":\"completed\",\"steps\":[{\"type\":\"run\",\"status\":\"ok\"}],\"artifacts\":[],\"reply\":\"hi\"}"},"sba":{"protocol_version":"1.0","job_id":"j-sba","goal":"g"}}'
	[ "$(jq -r '.status + " " + .reply + " " + .sba_result.steps[0].type' <<<"$output")" = "completed hi run" ]
}

@test "the node takes the reference's sandbox.job_spec_json (object or JSON text) as sandbox.sba; both is refused" {
	local conf=$CY_TMP/sba-alias.yaml ok spec
	# A runner that shows what it was given and leaves a valid result.
	printf '#!/bin/sh\necho "sba=$(grep -c "\\"sba\\"" /job/job.json) alias=$(grep -c job_spec_json /job/job.json)"\nmkdir -p /workspace/.cynode\necho "$FAKE_RESULT" >/workspace/.cynode/sba_result.json\nexit 0\n' >"$CY_TMP/alias-runner"
	chmod 0755 "$CY_TMP/alias-runner"
	sed -e "/^sandbox:/a\\  agent_runner: \"$CY_TMP/alias-runner\"" "$CY_TMP/node-node-a/node.yaml" >"$conf"
	grep -q agent_runner "$conf" || printf 'sandbox:\n  agent_runner: "%s"\n' "$CY_TMP/alias-runner" >>"$conf"
	ok='{"protocol_version":"1.0","job_id":"j-sba","status":"completed","steps":[],"artifacts":[],"reply":"aliased"}'
	spec='{"protocol_version":"1.0","job_id":"j-sba","goal":"g"}'
	# An object.
	CONF=$conf node_job "$(jq -cn --arg r "$ok" --argjson s "$spec" '{use_inference:true, env:{FAKE_RESULT:$r}, job_spec_json:$s}')"
	[ "$(jq -r '.status + " " + .reply' <<<"$output")" = "completed aliased" ] || { echo "$output"; false; }
	# The runner found it as sandbox.sba in job.json, the alias gone.
	[[ $(jq -r .stdout <<<"$output") == *"sba=1 alias=0"* ]] || { echo "$output"; false; }
	# Its JSON text, as the reference sends it.
	CONF=$conf node_job "$(jq -cn --arg r "$ok" --arg s "$spec" '{use_inference:true, env:{FAKE_RESULT:$r}, job_spec_json:$s}')"
	[ "$(jq -r '.status + " " + .reply' <<<"$output")" = "completed aliased" ] || { echo "$output"; false; }
	# Checked as sandbox.sba is, the member named as the request named it.
	CONF=$conf node_job '{"use_inference":true,"job_spec_json":{"protocol_version":"1.0","goal":"g"}}'
	assert_failure
	[[ $(jq -r .detail <<<"$output") == *"sandbox.job_spec_json.job_id is required"* ]] || { echo "$output"; false; }
	CONF=$conf node_job '{"use_inference":true,"job_spec_json":"{\"protocol_version\":\"2.0\",\"job_id\":\"j-sba\",\"goal\":\"g\"}"}'
	[[ $(jq -r .detail <<<"$output") == *"sandbox.job_spec_json.protocol_version"*"major version 2"* ]] || { echo "$output"; false; }
	CONF=$conf node_job '{"job_spec_json":{"protocol_version":"1.0","job_id":"j-sba","goal":"g"}}'
	[[ $(jq -r .detail <<<"$output") == *"sandbox.job_spec_json needs sandbox.use_inference"* ]] || { echo "$output"; false; }
	# Not a spec at all.
	CONF=$conf node_job '{"use_inference":true,"job_spec_json":"not json"}'
	assert_failure
	[[ $(jq -r .detail <<<"$output") == *"sandbox.job_spec_json is not a JSON object"* ]] || { echo "$output"; false; }
	CONF=$conf node_job '{"use_inference":true,"job_spec_json":7}'
	[[ $(jq -r .detail <<<"$output") == *"sandbox.job_spec_json must be the agent job spec"* ]] || { echo "$output"; false; }
	# Both: which one was meant is not guessed.
	CONF=$conf node_job "$(jq -cn --argjson s "$spec" '{use_inference:true, sba:$s, job_spec_json:$s}')"
	assert_failure
	[[ $(jq -r .detail <<<"$output") == *"sandbox.sba and sandbox.job_spec_json do not go together"* ]] || { echo "$output"; false; }
}

@test "cynode-sba on its own: steps in a given workspace, usage errors, a spec it refuses" {
	local ws=$CY_TMP/sba-ws
	mkdir -p "$ws"
	jq -cn '{version:1, sandbox:{sba:{protocol_version:"1.0", job_id:"j-own", steps:[
		{type:"run", argv:["sh","-c","echo own; exit 0"]},
		{type:"write_file", path:"out/x/y.txt", content:"deep"},
		{type:"run", argv:["no-such-program-here"], continue_on_error:true},
		{type:"run", argv:["sh","-c","sleep 97 & echo left-running"], timeout_seconds:60},
		{type:"run", argv:["sh","-c","exec >/dev/null 2>&1; sleep 96"], timeout_seconds:1, continue_on_error:true}]}}}' >"$CY_TMP/own.json"
	SECONDS=0
	# Leaks are checked here (outside a sandbox) when built with SANITIZE=1.
	ASAN_OPTIONS=detect_leaks=1 CYNODE_WORKSPACE_DIR=$ws CYNODE_JOB_ID=j-own \
		INFERENCE_PROXY_URL=http+unix://%2Fnonexistent%2Fsock CYNODE_INFERENCE_MODEL=m \
		run "$CY_BUILD/cynode-sba" "$CY_TMP/own.json"
	assert_success
	assert_output --partial own
	[ "$(cat "$ws/out/x/y.txt")" = deep ]
	run jq -r '.status, (.steps | map(.status + ":" + (.exit_code // "-" | tostring)) | join(" "))' "$ws/.cynode/sba_result.json"
	assert_output "$(printf '%s\n' completed 'ok:0 ok:- failed:127 ok:0 timeout:-')"
	# A command that leaves a process behind ends its step, and takes it along;
	# one that closed its output is still held to its timeout.
	[ "$SECONDS" -lt 20 ]
	run pgrep -f 'sleep 9[67]'
	assert_failure
	# An inference step with no socket fails the job, with the reason.
	jq -cn '{version:1, sandbox:{sba:{protocol_version:"1.0", job_id:"j-own", goal:"g"}}}' >"$CY_TMP/own2.json"
	ASAN_OPTIONS=detect_leaks=1 CYNODE_WORKSPACE_DIR=$ws CYNODE_JOB_ID=j-own \
		INFERENCE_PROXY_URL=http+unix://%2Fnonexistent%2Fsock CYNODE_INFERENCE_MODEL=m \
		run "$CY_BUILD/cynode-sba" "$CY_TMP/own2.json"
	assert_failure 1
	run jq -r '.status + " " + .error' "$ws/.cynode/sba_result.json"
	assert_output --partial "failed the inference socket"
	# Refused before anything runs: exit 2.
	CYNODE_JOB_ID=other run "$CY_BUILD/cynode-sba" "$CY_TMP/own.json"
	assert_failure 2
	assert_output --partial "not this job's"
	run "$CY_BUILD/cynode-sba" "$CY_TMP/nope.json"
	assert_failure 2
	CYNODE_JOB_ID=j-own CYNODE_INFERENCE_MODEL=m run "$CY_BUILD/cynode-sba" "$CY_TMP/own.json"
	assert_failure 2
	assert_output --partial "INFERENCE_PROXY_URL is not set"
	run "$CY_BUILD/cynode-sba" -x
	assert_failure 2
	assert_output --partial usage
	run "$CY_BUILD/cynode-sba" --version
	assert_success
	assert_output --partial "protocol 1.0"
}

@test "skills: a prompt task's model gets them as its system prompt, an agent as instructions" {
	local words
	cy_api POST /v1/skills/load '{"name":"pirate","content_md":"Speak like a pirate, always."}' "$TOKEN"
	cy_status 201
	SKILL_ID=$(jq -r .skill_id <<<"$body")
	task_result '{"prompt":"hello there","skills":["pirate"]}'
	jq -e '.status == "completed"' <<<"$res" || { echo "$res"; false; }
	# The payload holds a copy; the model counted its words as prompt tokens
	# ("## Skill: pirate" + the content + the prompt).
	run cy_psql "SELECT payload->>'system' FROM jobs WHERE task_id = '$TASK'"
	assert_output "$(printf '## Skill: pirate\n\nSpeak like a pirate, always.')"
	words=$(jq -r '.jobs[0].result | fromjson | .inference.prompt_tokens' <<<"$res")
	[ "$words" = 10 ] || { echo "prompt tokens: $words"; false; }
	# By id too; an agent gets them as the spec's instructions.
	task_result "$(jq -cn --arg id "$SKILL_ID" '{prompt:"agent", use_sba:true, skills:[$id]}')"
	jq -e '.status == "completed"' <<<"$res"
	run cy_psql "SELECT payload->'sba'->>'instructions' FROM jobs WHERE task_id = '$TASK'"
	assert_output --partial "Speak like a pirate"
	# Refused: unknown, another user's, a command task, too many, garbage.
	while IFS='|' read -r case want; do
		cy_api POST /v1/tasks "$case" "$TOKEN"
		cy_status 400 || { echo "$case -> $status_code $body"; return 1; }
		[[ $(jq -r .detail <<<"$body") == *"$want"* ]] || { echo "$case -> $body"; return 1; }
	done <<-'EOF2'
	{"prompt":"s","skills":["nope"]}|skills[0]: you have no skill 'nope'
	{"prompt":"s","skills":["pirate","ghost"]}|skills[1]: you have no skill 'ghost'
	{"prompt":"s","input_mode":"commands","skills":["pirate"]}|skills go with prompt tasks and agent jobs
	{"prompt":"s","skills":["a","b","c","d","e","f","g","h","i"]}|skills
	{"prompt":"s","skills":[]}|skills
	{"prompt":"s","skills":[""]}|skills[0]
	{"prompt":"s","skills":"pirate"}|skills
	EOF2
}

@test "an agent job's secrets are masked in its sba_result and reply, as in its log" {
	cy_api PUT /v1/secrets/AGENT_KEY '{"value":"s3cr3t-agent-value"}' "$TOKEN"
	[[ $status_code == 20? ]]
	task_result "$(jq -cn '{prompt:"x", use_sba:true, secrets:[{name:"AGENT_KEY"}],
		job_spec_json:{protocol_version:"1.0", steps:[
		{type:"run", argv:["sh","-c","echo key=$AGENT_KEY"]},
		{type:"write_file", path:"out/k.txt", content:"not the key"}]}}')"
	jq -e '.status == "completed"' <<<"$res" || { echo "$res"; false; }
	[[ $res != *s3cr3t-agent-value* ]] || { echo "$res"; false; }
	run jq -r '.jobs[0].sba_result.steps[0].output' <<<"$res"
	assert_output 'key=***'
	run cy_psql "SELECT count(*) FROM jobs WHERE result::text LIKE '%s3cr3t-agent-value%'"
	assert_output 0
}

@test "a redelivered 'completed' result of an agent job without an sba_result fails the job" {
	local job jwt
	cy_api POST /v1/tasks "$(jq -cn '{prompt:"x", use_sba:true, job_spec_json:{protocol_version:"1.0",
		steps:[{type:"run", argv:["sleep","4"]}]}}')" "$TOKEN"
	cy_status 201
	TASK=$(jq -r .task_id <<<"$body")
	for i in $(seq 1 100); do
		[ "$(cy_psql "SELECT status FROM jobs WHERE task_id = '$TASK'")" = running ] && break
		sleep 0.1
	done
	job=$(cy_psql "SELECT id FROM jobs WHERE task_id = '$TASK'")
	jwt=$(cat "$CY_TMP/node-node-a/state/credentials/node.jwt")
	cy_api POST "$CY_CONTROL_URL/v1/nodes/jobs/$job/result" \
		"{\"version\":1,\"task_id\":\"$TASK\",\"job_id\":\"$job\",\"status\":\"completed\",\"exit_code\":0,\"stdout\":\"\",\"stderr\":\"\"}" "$jwt"
	cy_status 200
	[ "$(jq -r .applied <<<"$body")" = true ]
	cy_api GET "/v1/tasks/$TASK/result?wait=20" "" "$TOKEN"
	jq -e '.status == "failed" and (.jobs[0].result | fromjson | .error) == "sba_result: the agent job completed without an sba_result"' <<<"$body" || { echo "$body"; false; }
	# The node's own run ends too (its workspace unmounted before the stack stops).
	for i in $(seq 1 150); do
		grep -q "event=job_finished .*job_id=$job" "$CY_TMP/node-node-a.log" && break
		sleep 0.2
	done
	grep -q "event=job_finished .*job_id=$job" "$CY_TMP/node-node-a.log"
}

# agent_job_running: an agent job (a 4 s step) running on the node; sets TASK, job and jwt.
agent_job_running()
{
	cy_api POST /v1/tasks "$(jq -cn '{prompt:"x", use_sba:true, job_spec_json:{protocol_version:"1.0",
		steps:[{type:"run", argv:["sleep","4"]}]}}')" "$TOKEN"
	cy_status 201
	TASK=$(jq -r .task_id <<<"$body")
	for i in $(seq 1 100); do
		[ "$(cy_psql "SELECT status FROM jobs WHERE task_id = '$TASK'")" = running ] && break
		sleep 0.1
	done
	job=$(cy_psql "SELECT id FROM jobs WHERE task_id = '$TASK'")
	jwt=$(cat "$CY_TMP/node-node-a/state/credentials/node.jwt")
}

# agent_job_ended: the node's own run of $job has finished (its workspace gone).
agent_job_ended()
{
	for i in $(seq 1 150); do
		grep -q "event=job_finished .*job_id=$job" "$CY_TMP/node-node-a.log" && break
		sleep 0.2
	done
	grep -q "event=job_finished .*job_id=$job" "$CY_TMP/node-node-a.log"
}

@test "a 'completed' agent result with an invalid sba_result fails the task, naming why" {
	local sr
	# Another job's result.
	agent_job_running
	sr='{"protocol_version":"1.0","job_id":"not-this-one","status":"completed","steps":[],"artifacts":[]}'
	cy_api POST "$CY_CONTROL_URL/v1/nodes/jobs/$job/result" \
		"$(jq -cn --arg t "$TASK" --arg j "$job" --argjson sr "$sr" \
			'{version:1, task_id:$t, job_id:$j, status:"completed", exit_code:0, stdout:"", stderr:"", sba_result:$sr}')" "$jwt"
	cy_status 200
	cy_api GET "/v1/tasks/$TASK/result?wait=20" "" "$TOKEN"
	jq -e '.status == "failed"' <<<"$body" || { echo "$body"; false; }
	run jq -r '.jobs[0].result | fromjson | .error' <<<"$body"
	[[ $output == "sba_result: "*"not this job's"* ]] || { echo "$body"; false; }
	# The invalid sba_result is not shown as the job's.
	jq -e '(.jobs[0].result | fromjson | has("sba_result")) == false and (.jobs[0].sba_result // null) == null' <<<"$body"
	agent_job_ended
	# This job's, but without its steps.
	agent_job_running
	sr=$(jq -cn --arg j "$job" '{protocol_version:"1.0", job_id:$j, status:"completed", artifacts:[]}')
	cy_api POST "$CY_CONTROL_URL/v1/nodes/jobs/$job/result" \
		"$(jq -cn --arg t "$TASK" --arg j "$job" --argjson sr "$sr" \
			'{version:1, task_id:$t, job_id:$j, status:"completed", exit_code:0, stdout:"", stderr:"", sba_result:$sr}')" "$jwt"
	cy_status 200
	cy_api GET "/v1/tasks/$TASK/result?wait=20" "" "$TOKEN"
	jq -e '.status == "failed"' <<<"$body" || { echo "$body"; false; }
	run jq -r '.jobs[0].result | fromjson | .error' <<<"$body"
	[[ $output == "sba_result: "*steps* ]] || { echo "$body"; false; }
	agent_job_ended
}

@test "a 'failed' agent result without an sba_result stays failed with its own reason" {
	agent_job_running
	cy_api POST "$CY_CONTROL_URL/v1/nodes/jobs/$job/result" \
		"$(jq -cn --arg t "$TASK" --arg j "$job" \
			'{version:1, task_id:$t, job_id:$j, status:"failed", exit_code:2, stdout:"", stderr:"cynode-sba: the model went away\n"}')" "$jwt"
	cy_status 200
	[ "$(jq -r .applied <<<"$body")" = true ]
	cy_api GET "/v1/tasks/$TASK/result?wait=20" "" "$TOKEN"
	jq -e '.status == "failed"' <<<"$body" || { echo "$body"; false; }
	# Its own exit code and stderr; no sba_result verdict added.
	jq -e '.jobs[0].result | fromjson | .exit_code == 2 and (.stderr | contains("the model went away"))' <<<"$body" || { echo "$body"; false; }
	run jq -r '.jobs[0].result | fromjson | .error // ""' <<<"$body"
	[[ $output != *sba_result* ]] || { echo "$body"; false; }
	agent_job_ended
}

@test "text cut inside a character still reaches the model (a read of a large or binary file)" {
	local goal
	goal=$(printf '%s\n' 'read them' '#tool read_file {"path": "bin.dat"}' '#tool read_file {"path": "big.txt"}')
	# big.txt: 16383 bytes and a 2-byte character, cut by the 16 KiB tool answer cap.
	task_result "$(jq -cn --arg g "$goal" '{prompt:"cut", use_sba:true, job_spec_json:{protocol_version:"1.0", goal:$g,
		steps:[{type:"run", argv:["sh","-c","printf \"\\\\377\\\\376bin\" >bin.dat"]},
		{type:"write_file", path:"big.txt", content:(("a" * 16383) + "é")}]}}')"
	jq -e '.status == "completed"' <<<"$res" || { echo "$res"; false; }
	# The last answer (big.txt's) reached the model: its echo is the reply.
	run jq -r '.jobs[0].reply' <<<"$res"
	assert_output --partial "[qwen3.5:0.8b] echo: status: ok"
	assert_output --partial "aaaaaaaa"
	[ "$(jq -r '.jobs[0].sba_result.steps | map(.type + ":" + .status) | join(" ")' <<<"$res")" = "run:ok write_file:ok read_file:ok read_file:ok" ]
}
