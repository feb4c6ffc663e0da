#!/usr/bin/env bats
#
# The job fields of POST /v1/tasks: network_policy and the
# resources object (cpu_cores, memory_mb, workspace_mb, tmp_mb) checked by
# the body table with garbage and good values, kept in the job's payload for
# the node, refused for prompt tasks; and the "job" object of GET
# /v1/tasks/{id}: status, node, attempts, exit code, times, durations and the
# fields the job was created with.

load ../lib/harness

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	TOKEN=$(cy_admin_token)
	export TOKEN
}

create()
{
	cy_api POST /v1/tasks "$1" "$TOKEN"
}

# The stored payload of the job of task $1.
payload()
{
	cy_psql "SELECT payload FROM jobs WHERE task_id = '$1'"
}

@test "garbage network_policy and resources are 400 naming the field" {
	local -a bad=(
		'"network_policy":"bridge"' '"network_policy":1' '"network_policy":""'
		'"resources":[]' '"resources":"2G"' '"resources":{"gpu":1}'
		'"resources":{"cpu_cores":0}' '"resources":{"cpu_cores":4097}'
		'"resources":{"cpu_cores":1.5}' '"resources":{"cpu_cores":"2"}'
		'"resources":{"memory_mb":15}' '"resources":{"memory_mb":16777217}'
		'"resources":{"memory_mb":-1}' '"resources":{"tmp_mb":0}'
		'"resources":{"tmp_mb":1048577}' '"resources":{"tmp_mb":true}'
		'"resources":{"workspace_mb":0}' '"resources":{"workspace_mb":16777217}'
		'"resources":{"workspace_mb":"1G"}'
		'"requirements":{"labels":["a\u0001b"]}'
	)
	local b field

	for b in "${bad[@]}"; do
		create "{\"prompt\":\"true\",\"input_mode\":\"commands\",$b}"
		cy_status 400
		field=${b#\"}
		field=${field%%\"*}
		[[ $(jq -r .detail <<<"$body") == *"$field"* ]] || {
			echo "$b: detail does not name $field: $body" >&2
			return 1
		}
	done
	create '{"prompt":"true","input_mode":"commands","resources":{"cpu_cores":1,"bogus":2}}'
	cy_status 400
	[[ $body == *"bogus"* ]]
}

@test "network_policy and resources are refused for a prompt task" {
	create '{"prompt":"hello","network_policy":"none"}'
	cy_status 400
	[[ $body == *"runs no sandbox"* ]]
	create '{"prompt":"hello","resources":{"memory_mb":64}}'
	cy_status 400
	[[ $body == *"runs no sandbox"* ]]
}

@test "good values reach the job payload; null stands for absent" {
	local id

	create '{"prompt":"true","input_mode":"commands","network_policy":"none",
		"resources":{"cpu_cores":2,"memory_mb":512,"tmp_mb":64,"workspace_mb":100},"image":"host",
		"timeout_seconds":120,"priority":5,"max_attempts":4,"retry_backoff_seconds":0,
		"requirements":{"labels":["zone=eu","ssd"],"gpus":0},"allow_pending":true}'
	cy_status 201
	id=$(jq -r .task_id <<<"$body")
	run jq -e '.network_policy == "none" and .image == "host" and .timeout_seconds == 120
		and .resources == {"cpu_cores": 2, "memory_mb": 512, "tmp_mb": 64,
			"workspace_mb": 100}' \
		<<<"$(payload "$id")"
	[ "$status" -eq 0 ]
	create '{"prompt":"true","input_mode":"commands","network_policy":null,"resources":null}'
	cy_status 201
	id=$(jq -r .task_id <<<"$body")
	run jq -e '.network_policy == "restricted" and (has("resources") | not)' \
		<<<"$(payload "$id")"
	[ "$status" -eq 0 ]
	create '{"prompt":"true","input_mode":"commands","network_policy":"host","resources":{}}'
	cy_status 201
	id=$(jq -r .task_id <<<"$body")
	run jq -e '.network_policy == "host" and (has("resources") | not)' <<<"$(payload "$id")"
	[ "$status" -eq 0 ]
}

@test "GET /v1/tasks/{id} has the job: queued, then as it ran" {
	local id

	create '{"prompt":"true","input_mode":"commands","priority":-3,"max_attempts":1,
		"retry_backoff_seconds":60,"resources":{"memory_mb":128},
		"requirements":{"labels":["ssd"],"gpus":1}}'
	cy_status 400
	assert_output --partial "no node can run this task: no node is registered"
	create '{"prompt":"true","input_mode":"commands","priority":-3,"max_attempts":1,
		"retry_backoff_seconds":60,"resources":{"memory_mb":128},
		"requirements":{"labels":["ssd"],"gpus":1},"allow_pending":true}'
	cy_status 201
	id=$(jq -r .task_id <<<"$body")
	cy_api GET "/v1/tasks/$id" "" "$TOKEN"
	cy_status 200
	jq -e '.job.pending_reason == "NoMatchingNode: no node is registered"' <<<"$body"
	run jq -e '.job.status == "queued" and .job.node == null and .job.attempts == 0
		and .job.exit_code == null and (.job.queued_at | test("^[0-9-]+T[0-9:]+Z$"))
		and .job.started_at == null and .job.ended_at == null
		and .job.queued_seconds >= 0 and .job.run_seconds == null
		and .job.priority == -3 and .job.max_attempts == 1
		and .job.retry_backoff_seconds == 60 and .job.timeout_seconds == 3600
		and .job.resources == {"memory_mb": 128} and .job.network_policy == "restricted"
		and .job.requirements == {"labels": ["ssd"], "gpus": 1, "gpu_model": null, "nodes": []}
		and (.job.id | test("^[0-9a-f-]{36}$"))' <<<"$body"
	[ "$status" -eq 0 ]
	# As if a node had run it for 2.5 s after 1.25 s in the queue.
	cy_psql "INSERT INTO nodes (node_slug, status) VALUES ('node-x', 'active');
		UPDATE jobs SET status = 'completed', exit_code = 0, attempts = 1,
		node_id = (SELECT id FROM nodes WHERE node_slug = 'node-x'),
		started_at = created_at + interval '1.25 s',
		ended_at = created_at + interval '3.75 s' WHERE task_id = '$id'" >/dev/null
	cy_api GET "/v1/tasks/$id" "" "$TOKEN"
	cy_status 200
	run jq -e '.job.status == "completed" and .job.node == "node-x" and .job.attempts == 1
		and .job.exit_code == 0 and .job.queued_seconds == 1.25
		and .job.run_seconds == 2.5 and (.job.ended_at | test("Z$"))' <<<"$body"
	[ "$status" -eq 0 ]
	# The list stays as it was: no job objects.
	cy_api GET "/v1/tasks?limit=1" "" "$TOKEN"
	cy_status 200
	run jq -e '.tasks[0] | has("job") | not' <<<"$body"
	[ "$status" -eq 0 ]
}
