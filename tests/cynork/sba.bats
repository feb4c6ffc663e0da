#!/usr/bin/env bats
#
# sba.bats: cynork task create --use-sba and --job-spec against the real
# server and a node with the Ollama-API test server as its model: the
# agent's reply in task result, the spec from a file and from stdin, and
# the flags' usage errors (exit 64, nothing created).

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	cy_ollama_start ollama FAKE_OLLAMA_MODELS=qwen3.5:0.8b
	cy_node_start node-01 "inference.url=\"$CY_OLLAMA_URL\"" \
		orchestrator.heartbeat_interval_seconds=1 orchestrator.report_interval_seconds=1
	cy_login >/dev/null
}

@test "--use-sba: the agent runs the model's tool call; --wait prints its reply" {
	run --separate-stderr cynork task create --use-sba --wait \
		-p "$(printf 'count\n#tool run_command {"command": "echo 6*7 | bc 2>/dev/null || echo 42"}')"
	assert_success
	assert_output --partial 'reply="[qwen3.5:0.8b] echo: status: ok\nexit_code: 0\n42\n"'
	id=$(cynork task list -o json | jq -r '.tasks[0].task_id')
	run cynork task result "$id" -o json
	assert_success
	jq -e '.sba_result.status == "completed" and .sba_result.steps[0].type == "run" and
		(.reply | test("42"))' <<<"$output"
}

@test "--job-spec FILE and - (stdin): the spec's steps; its goal names the task" {
	printf '%s' '{"protocol_version":"1.0","steps":[{"type":"run","argv":["sh","-c","echo from-spec"]}]}' >"$CY_TMP/spec.json"
	run --separate-stderr cynork task create --job-spec "$CY_TMP/spec.json" --wait -o json
	assert_success
	jq -e '.sba_result.steps[0].output == "from-spec\n" and .status == "completed"' <<<"$output"
	run --separate-stderr cynork task create --job-spec - --wait -o json \
		<<<'{"protocol_version":"1.0","goal":"say hello"}'
	assert_success
	jq -e '.reply == "[qwen3.5:0.8b] echo: say hello"' <<<"$output"
	[ "$(cynork task list -o json | jq -r '.tasks[0].prompt // .tasks[0].task_name')" != "" ]
}

@test "--use-sba and --job-spec refuse what does not go with them (exit 64, nothing created)" {
	local before
	before=$(cy_psql "SELECT count(*) FROM tasks")
	run --separate-stderr cynork task create --use-sba --command true
	assert_failure 64
	[[ $stderr == *"--use-sba runs an agent on prompt input"* ]]
	run --separate-stderr cynork task create --job-spec "$CY_TMP/nope.json"
	assert_failure 64
	[[ $stderr == *nope.json* ]]
	printf '[1,2]' >"$CY_TMP/arr.json"
	run --separate-stderr cynork task create --job-spec "$CY_TMP/arr.json"
	assert_failure 64
	[[ $stderr == *"want a JSON object"* ]]
	printf '{"protocol_version":' >"$CY_TMP/cut.json"
	run --separate-stderr cynork task create --job-spec "$CY_TMP/cut.json"
	assert_failure 64
	[[ $stderr == *cut.json* ]]
	run --separate-stderr cynork task create --job-spec - -f - <<<'{}'
	assert_failure 64
	[[ $stderr == *"cannot both read stdin"* ]]
	[ "$(cy_psql "SELECT count(*) FROM tasks")" = "$before" ]
	# The server names the spec's field.
	printf '%s' '{"protocol_version":"9.0","goal":"g"}' >"$CY_TMP/v9.json"
	run --separate-stderr cynork task create --job-spec "$CY_TMP/v9.json"
	assert_failure
	[[ $stderr == *"major version 9"* ]]
}
