#!/usr/bin/env bats
#
# The node's telemetry store and the Worker API's telemetry routes
# (contract 2.3, worker_telemetry.feature, node_manager_telemetry_ownership
# .feature) against the real server and a real job: node:info, node:stats,
# containers, containers/{id}, logs with their filters, the 401s, the
# lifecycle events (shutdown seen after a restart), the size cap and the
# retention (expired lines pruned from disk on a quiet node).

load ../lib/harness
load ../lib/identity

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	cy_node_start node-01 telemetry.max_bytes=65536 telemetry.retention=1h
	CY_TOKEN=$(cy_admin_token)
	export CY_TOKEN
}

worker_token()
{
	curl -s -m 10 -H "Authorization: Bearer $(cat "$CY_TMP/node-node-01/state/credentials/node.jwt")" \
		"$CY_CONTROL_URL/v1/nodes/config" | jq -er .worker_api.orchestrator_bearer_token
}

# tel PATH: GET /v1/worker/telemetry/PATH with the worker bearer
tel()
{
	cy_api GET "$CY_NODE_URL/v1/worker/telemetry/$1" "" "$(worker_token)"
}

@test "every telemetry route is 401 without the bearer and with a wrong one" {
	local p
	for p in node:info node:stats containers containers/x logs; do
		cy_api GET "$CY_NODE_URL/v1/worker/telemetry/$p"
		cy_status 401
		[ "$(jq -r .type <<<"$body")" = urn:cynodeai:error:authentication ]
		cy_api GET "$CY_NODE_URL/v1/worker/telemetry/$p" "" wrong-token
		cy_status 401
	done
}

@test "node:info has version 1, the slug, the build and the platform" {
	tel node:info
	cy_status 200
	[ "$(jq -r .version <<<"$body")" = 1 ]
	[ "$(jq -r .node_slug <<<"$body")" = node-01 ]
	[ "$(jq -r .build.version <<<"$body")" = "$("$CY_BUILD/cynode-node" --version | awk '{print $2}')" ]
	[ "$(jq -r .platform.os <<<"$body")" = "$(uname -s)" ]
	[ "$(jq -r .platform.arch <<<"$body")" = "$(uname -m)" ]
}

@test "node:stats is a snapshot with captured_at, cpu, memory, load, disk and jobs" {
	tel node:stats
	cy_status 200
	[ "$(jq -r .version <<<"$body")" = 1 ]
	[[ $(jq -r .captured_at <<<"$body") == 20*T*Z ]]
	[ "$(jq -r .cpu.cores <<<"$body")" = "$(nproc --all 2>/dev/null || nproc)" ] ||
		[ "$(jq -r .cpu.cores <<<"$body")" -ge 1 ]
	jq -e '.memory.total_bytes > 0 and .memory.free_bytes >= 0' <<<"$body"
	jq -e '.load["1m"] >= 0 and .disk.state_dir.free_bytes > 0' <<<"$body"
	jq -e '.jobs.running == 0 and .jobs.slots >= 1 and .config_applied == true' <<<"$body"
}

@test "the node manager's start, registration and config applied are in the logs" {
	tel 'logs?source=node'
	cy_status 200
	[ "$(jq -r .truncated <<<"$body")" = false ]
	[ "$(jq -r '[.events[].kind] | join(",")' <<<"$body")" = \
		node_starting,node_registered,config_applied ]
	jq -e '.events | all(.source == "node" and (.ts | test("Z$")))' <<<"$body"
	# Its own directory, not the credentials (secure store).
	[ -s "$CY_TMP/node-node-01/state/telemetry/events.jsonl" ]
	[ "$(stat -c %a "$CY_TMP/node-node-01/state/telemetry")" = 700 ]
	[ -z "$(ls "$CY_TMP/node-node-01/state/credentials" | grep -i tele)" ]
}

@test "a job's record is listed in containers with its task and job ids, and its events in logs" {
	local task job
	cy_api POST /v1/tasks '{"input_mode":"commands","prompt":"exit 3"}' "$CY_TOKEN"
	task=$(jq -r .task_id <<<"$body")
	cy_api GET "/v1/tasks/$task/result?wait=30" "" "$CY_TOKEN"
	[ "$(jq -r .status <<<"$body")" = failed ]
	tel containers
	cy_status 200
	[ "$(jq -r '.containers | length' <<<"$body")" = 1 ]
	[ "$(jq -r '.containers[0].task_id' <<<"$body")" = "$task" ]
	job=$(jq -r '.containers[0].job_id' <<<"$body")
	[ -n "$job" ] && [ "$job" != null ]
	[ "$(jq -r '.containers[0].status' <<<"$body")" = failed ]
	[ "$(jq -r '.containers[0].exit_code' <<<"$body")" = 3 ]
	[[ $(jq -r '.containers[0].ended_at' <<<"$body") == 20*Z ]]
	tel "containers/$job"
	cy_status 200
	[ "$(jq -r .container.task_id <<<"$body")" = "$task" ]
	tel containers/no-such-job
	cy_status 404
	tel 'logs?source=job'
	cy_status 200
	[ "$(jq -r '[.events[].kind] | join(",")' <<<"$body")" = job_started,job_finished ]
	jq -e --arg t "$task" --arg j "$job" '.events | all(.task_id == $t and .job_id == $j)' \
		<<<"$body"
	# A second job: newest first; limit keeps the newest.
	cy_api POST /v1/tasks '{"input_mode":"commands","prompt":"true"}' "$CY_TOKEN"
	task=$(jq -r .task_id <<<"$body")
	cy_api GET "/v1/tasks/$task/result?wait=30" "" "$CY_TOKEN"
	[ "$(jq -r .status <<<"$body")" = completed ]
	tel containers
	[ "$(jq -r '[.containers[].status] | join(",")' <<<"$body")" = completed,failed ]
	tel 'containers?limit=1'
	cy_status 200
	[ "$(jq -r '.containers | length' <<<"$body")" = 1 ]
	[ "$(jq -r '.containers[0].task_id' <<<"$body")" = "$task" ]
	tel 'logs?limit=1'
	[ "$(jq -r '.events | length' <<<"$body")" = 1 ]
	[ "$(jq -r '.events[0].kind' <<<"$body")" = job_finished ]
	[ "$(jq -r .truncated <<<"$body")" = true ]
}

@test "logs filters: since and until by time and duration; garbage is 400 naming the parameter" {
	local tok p
	tel 'logs?since=1h'
	cy_status 200
	jq -e '.events | length >= 3' <<<"$body"
	tel 'logs?since=2999-01-01T00:00:00Z'
	cy_status 200
	[ "$(jq -r '.events | length' <<<"$body")" = 0 ]
	tel 'logs?until=2000-01-01T00:00:00Z'
	cy_status 200
	[ "$(jq -r '.events | length' <<<"$body")" = 0 ]
	tel "logs?since=2000-01-01T00:00:00Z&until=$(date -u -d '+1 min' +%Y-%m-%dT%H:%M:%SZ)"
	cy_status 200
	jq -e '.events | length >= 3' <<<"$body"
	tok=$(worker_token)
	for p in source=kernel source= since=yesterday since=-5m 'since=2026-13-01T00:00:00Z' \
		until=soon limit=0 limit=1001 limit=abc limit=-1 \
		'since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z'; do
		cy_api GET "$CY_NODE_URL/v1/worker/telemetry/logs?$p" "" "$tok"
		[ "$status_code" = 400 ] || { echo "$p -> $status_code $body"; return 1; }
		[ "$(jq -r .type <<<"$body")" = urn:cynodeai:error:validation ]
		[[ $(jq -r .detail <<<"$body") == "${p%%=*}"* || $p == *until=2026* ]] ||
			{ echo "$p -> $body"; return 1; }
	done
	for p in limit=0 limit=x limit=5000; do
		cy_api GET "$CY_NODE_URL/v1/worker/telemetry/containers?$p" "" "$tok"
		cy_status 400
		[[ $(jq -r .detail <<<"$body") == limit* ]]
	done
}

@test "the shutdown is visible in the logs after a restart" {
	cy_node_stop node-01
	cy_node_start node-01 telemetry.max_bytes=65536 telemetry.retention=1h
	tel 'logs?source=node'
	cy_status 200
	[ "$(jq -r '[.events[].kind] | join(",")' <<<"$body")" = \
		node_starting,node_registered,config_applied,node_stopping,node_stopped,node_starting,node_registered,config_applied ]
	# The job records survived the restart.
	tel containers
	[ "$(jq -r '.containers | length' <<<"$body")" = 2 ]
}

@test "operators reach stats and logs through the server; users and unknown nodes do not" {
	cy_api GET /v1/nodes/node-01/telemetry/stats "" "$CY_TOKEN"
	cy_status 200
	[ "$(jq -r .node_slug <<<"$body")" = node-01 ]
	[[ $(jq -r .captured_at <<<"$body") == 20*Z ]]
	cy_api GET '/v1/nodes/node-01/telemetry/logs?source=node&since=1h&limit=3' "" "$CY_TOKEN"
	cy_status 200
	[ "$(jq -r '.events | length' <<<"$body")" = 3 ]
	jq -e '.events | all(.source == "node")' <<<"$body"
	[ "$(jq -r .truncated <<<"$body")" = true ]
	# The node's 400 naming the parameter comes through.
	cy_api GET '/v1/nodes/node-01/telemetry/logs?since=whenever' "" "$CY_TOKEN"
	cy_status 400
	[[ $(jq -r .detail <<<"$body") == since* ]]
	cy_api GET '/v1/nodes/node-01/telemetry/logs?limit=1%26source%3Dx' "" "$CY_TOKEN"
	cy_status 400
	[[ $(jq -r .detail <<<"$body") == limit* ]]
	cy_api GET /v1/nodes/no-such-node/telemetry/stats "" "$CY_TOKEN"
	cy_status 404
	cy_api GET /v1/nodes/node-01/telemetry/logs
	cy_status 401
	id_user tel-user user >/dev/null
	id_login tel-user
	cy_api GET /v1/nodes/node-01/telemetry/logs "" "$access"
	cy_status 403
	id_user tel-op operator >/dev/null
	id_login tel-op
	cy_api GET /v1/nodes/node-01/telemetry/stats "" "$access"
	cy_status 200
}

@test "a node that is down is a 503 naming it" {
	cy_node_stop node-01
	cy_api GET /v1/nodes/node-01/telemetry/stats "" "$CY_TOKEN"
	cy_status 503
	[[ $(jq -r .detail <<<"$body") == *node-01* ]]
	cy_node_start node-01 telemetry.max_bytes=65536 telemetry.retention=1h
}

@test "the store stays under telemetry.max_bytes: old lines rotate out" {
	local i d=$CY_TMP/node-node-01/state/telemetry tok total
	tok=$(worker_token)
	# Refused jobs each add a record and an event (about 400 bytes).
	for i in $(seq 1 200); do
		curl -s -o /dev/null -m 5 -H "Authorization: Bearer $tok" \
			--data-binary "{\"version\":1,\"task_id\":\"t-$i\",\"job_id\":\"j-fill-$i\",\"sandbox\":{\"command\":\"bad\"}}" \
			"$CY_NODE_URL/v1/worker/jobs:run"
	done
	total=$(cat "$d"/* | wc -c)
	[ "$total" -le 65536 ] || { echo "store is $total bytes"; return 1; }
	[ -s "$d/events.jsonl.1" ] && [ -s "$d/jobs.jsonl.1" ]
	tel 'containers?limit=1000'
	cy_status 200
	[ "$(jq -r '.containers[0].job_id' <<<"$body")" = j-fill-200 ]
	[ "$(jq -r '.containers[0].status' <<<"$body")" = refused ]
	[[ $(jq -r '.containers[0].detail' <<<"$body") == *sandbox.command* ]]
	# The oldest went: the first lifecycle events are gone.
	tel 'logs?source=node'
	[ "$(jq -r '[.events[] | select(.kind == "node_starting")] | length' <<<"$body")" -lt 2 ]
	tel 'containers?limit=1000'
	[ "$(jq -r '[.containers[].job_id] | index("j-fill-1")' <<<"$body")" = null ]
}

@test "telemetry config keys refuse garbage" {
	local conf
	local kv
	for kv in telemetry.max_bytes=12 telemetry.max_bytes=\"big\" telemetry.retention=\"forever\" \
		telemetry.retention=\"1s\"; do
		conf=$(cy_node_config node-bad "$kv")
		run "$CY_BUILD/cynode-node" --config "$conf" --check-config
		assert_failure
		assert_output --partial "${kv%%=*}"
	done
	conf=$(cy_node_config node-bad telemetry.max_bytes=1048576 telemetry.retention=\"48h\")
	run "$CY_BUILD/cynode-node" --config "$conf" --check-config
	assert_success
	assert_output --partial 1048576
	assert_output --partial "retention: 48h"
}

# old_line KIND: an event line three hours old (past the 1h retention)
old_line()
{
	printf '{"ts":"%s","source":"node","level":"info","kind":"%s","message":"old"}\n' \
		"$(date -u -d '-3 hours' +%Y-%m-%dT%H:%M:%SZ)" "$1"
}

@test "expired lines are pruned from the files on a quiet node: at start and at each heartbeat" {
	local d=$CY_TMP/node-node-01/state/telemetry i
	cy_node_stop node-01
	# A rotated file holding only expired lines, expired lines before the
	# current ones, and an expired job record.
	{ old_line expired-a; old_line expired-b; } >"$d/events.jsonl.1"
	{ old_line expired-c; cat "$d/events.jsonl"; } >"$d/ev.tmp" && mv "$d/ev.tmp" "$d/events.jsonl"
	printf '{"id":"j-old","job_id":"j-old","status":"completed","started_at":"%s","task_id":null}\n' \
		"$(date -u -d '-3 hours' +%Y-%m-%dT%H:%M:%SZ)" >"$d/jobs.jsonl.1"
	cy_node_start node-01 telemetry.max_bytes=65536 telemetry.retention=1h \
		orchestrator.heartbeat_interval_seconds=1
	# At start: gone from disk, no read needed; the current lines stay.
	[ ! -e "$d/events.jsonl.1" ]
	[ ! -e "$d/jobs.jsonl.1" ]
	run ! grep -l expired "$d"/*
	grep -q node_starting "$d/events.jsonl"
	[ "$(stat -c %a "$d/events.jsonl")" = 600 ]
	# A quiet node (no job, no read): an expired line goes within a heartbeat or two.
	{ old_line expired-quiet; cat "$d/events.jsonl"; } >"$d/ev.tmp" && mv "$d/ev.tmp" "$d/events.jsonl"
	for i in $(seq 1 50); do
		grep -q expired-quiet "$d/events.jsonl" || break
		sleep 0.2
	done
	run ! grep -q expired-quiet "$d/events.jsonl"
	grep -q node_starting "$d/events.jsonl"
	[ ! -e "$d/events.jsonl.prune" ]
	# What is served is unchanged: the newest lifecycle events.
	tel 'logs?source=node'
	cy_status 200
	[ "$(jq -r '.events[-1].kind' <<<"$body")" = config_applied ]
}
