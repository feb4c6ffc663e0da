#!/usr/bin/env bats
# Dispatch: idempotent creation, priority/retry/requirement
# fields, placement by labels, long polls that hold no HTTP thread, the
# multi-task wait, cancel reaching the node, leases, per-task timeouts
# capped by the node, and the node-facing sync/result endpoints.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start HTTP_THREADS=4 DISPATCH_LEASE=3s
	cy_node_start node-01 sandbox.max_concurrency=4 sandbox.timeouts.max_seconds=8
	CY_TOKEN=$(cy_admin_token)
	export CY_TOKEN
}

create()
{
	cy_api POST /v1/tasks "$1" "$CY_TOKEN"
}

# POST /v1/tasks with an Idempotency-Key header; sets status_code, body, hdrs.
create_idem()
{
	local key=$1 data=$2

	status_code=$(curl -s -m 20 -D "$CY_TMP/hdrs" -o "$CY_TMP/body" -w '%{http_code}' \
		-H "Authorization: Bearer $CY_TOKEN" -H 'Content-Type: application/json' \
		-H "Idempotency-Key: $key" --data-binary "$data" "$CY_GATEWAY_URL/v1/tasks")
	body=$(cat "$CY_TMP/body")
	hdrs=$(cat "$CY_TMP/hdrs")
}

node_jwt()
{
	cat "$CY_TMP/node-node-01/state/credentials/node.jwt"
}

@test "Idempotency-Key: the same key returns the first task, never a second" {
	create_idem key-1 '{"input_mode":"commands","prompt":"echo once"}'
	cy_status 201
	first=$(jq -r .task_id <<<"$body")
	create_idem key-1 '{"input_mode":"commands","prompt":"echo once"}'
	cy_status 200
	[ "$(jq -r .task_id <<<"$body")" = "$first" ]
	[[ $hdrs == *"Idempotent-Replayed: true"* ]]
	# even with another body, the key wins
	create_idem key-1 '{"input_mode":"commands","prompt":"echo other"}'
	[ "$(jq -r .task_id <<<"$body")" = "$first" ]
	[ "$(cy_psql "SELECT count(*) FROM tasks WHERE idempotency_key = 'key-1'")" = 1 ]
	create_idem key-2 '{"input_mode":"commands","prompt":"echo once"}'
	cy_status 201
	[ "$(jq -r .task_id <<<"$body")" != "$first" ]
	# concurrent creates with one key still make one task
	for i in 1 2 3 4 5 6; do
		curl -s -m 20 -o /dev/null -H "Authorization: Bearer $CY_TOKEN" \
			-H 'Content-Type: application/json' -H 'Idempotency-Key: race' \
			--data-binary '{"input_mode":"commands","prompt":"true"}' \
			"$CY_GATEWAY_URL/v1/tasks" &
	done
	wait
	[ "$(cy_psql "SELECT count(*) FROM tasks WHERE idempotency_key = 'race'")" = 1 ]
}

@test "Idempotency-Key: garbage keys are refused with 400" {
	create_idem "$(printf 'k%.0s' {1..256})" '{"input_mode":"commands","prompt":"true"}'
	cy_status 400
	[[ $body == *Idempotency-Key* ]]
	create_idem 'has space' '{"input_mode":"commands","prompt":"true"}'
	cy_status 400
}

@test "create: priority, retry policy and requirements are stored; garbage is 400" {
	create '{"input_mode":"commands","prompt":"true","priority":7,"max_attempts":5,"retry_backoff_seconds":2,"requirements":{"labels":["a","b\"c"],"gpus":0},"allow_pending":true}'
	cy_status 201
	id=$(jq -r .task_id <<<"$body")
	run cy_psql "SELECT priority, max_attempts, retry_backoff_s, req_labels::text, req_gpus FROM jobs WHERE task_id = '$id'"
	assert_output '7|5|2|{a,"b\"c"}|0'
	for bad in '"priority":1001' '"priority":"high"' '"max_attempts":0' \
		'"max_attempts":101' '"retry_backoff_seconds":-1' '"requirements":[]' \
		'"requirements":{"labels":"a"}' '"requirements":{"labels":[""]}' \
		'"requirements":{"labels":[1]}' '"requirements":{"gpus":-1}' \
		'"requirements":{"gpus":"2"}'; do
		create "{\"input_mode\":\"commands\",\"prompt\":\"true\",$bad}"
		cy_status 400 || { echo "accepted: $bad"; false; }
	done
	cy_api POST /v1/tasks/$id/cancel "" "$CY_TOKEN"
}

@test "placement: a job needing a label or GPUs no node has stays queued; others run" {
	create '{"input_mode":"commands","prompt":"true","requirements":{"labels":["no-such-label"]},"allow_pending":true}'
	stuck=$(jq -r .task_id <<<"$body")
	create '{"input_mode":"commands","prompt":"true","requirements":{"gpus":2},"allow_pending":true}'
	gpu=$(jq -r .task_id <<<"$body")
	create '{"input_mode":"commands","prompt":"echo free"}'
	free=$(jq -r .task_id <<<"$body")
	cy_api GET "/v1/tasks/$free/result?wait=20" "" "$CY_TOKEN"
	[ "$(jq -r .status <<<"$body")" = completed ]
	sleep 1.5	# two backup polls
	[ "$(cy_psql "SELECT status FROM jobs WHERE task_id = '$stuck'")" = queued ]
	[ "$(cy_psql "SELECT status FROM jobs WHERE task_id = '$gpu'")" = queued ]
	cy_api POST /v1/tasks/$stuck/cancel "" "$CY_TOKEN"
	cy_status 200
	cy_api POST /v1/tasks/$gpu/cancel "" "$CY_TOKEN"
}

@test "priority: a higher priority job runs before older ones" {
	cy_psql "UPDATE nodes SET status = 'drained'"
	create '{"input_mode":"commands","prompt":"true"}'
	low=$(jq -r .task_id <<<"$body")
	create '{"input_mode":"commands","prompt":"true","priority":5}'
	high=$(jq -r .task_id <<<"$body")
	cy_psql "UPDATE nodes SET status = 'active'"
	curl -s -o /dev/null -H "Authorization: Bearer $CY_TOKEN" "$CY_GATEWAY_URL/v1/tasks/$low/result?wait=20"
	curl -s -o /dev/null -H "Authorization: Bearer $CY_TOKEN" "$CY_GATEWAY_URL/v1/tasks/$high/result?wait=20"
	run cy_psql "SELECT (SELECT started_at FROM jobs WHERE task_id = '$high') <= (SELECT started_at FROM jobs WHERE task_id = '$low')"
	assert_output t
}

@test "timing: the node's result says when it took the job, forked and reaped bwrap, answered" {
	create '{"input_mode":"commands","prompt":"sleep 0.2"}'
	id=$(jq -r .task_id <<<"$body")
	curl -s -o /dev/null -H "Authorization: Bearer $CY_TOKEN" "$CY_GATEWAY_URL/v1/tasks/$id/result?wait=20"
	# In order, within the claim and the result's transactions, and the
	# sandbox held the job's 0.2 s.
	run cy_psql "SELECT (t->>'received_us')::bigint >= (extract(epoch FROM j.started_at) * 1e6)::bigint
		AND (t->>'received_us')::bigint <= (t->>'sandbox_fork_us')::bigint
		AND (t->>'sandbox_exit_us')::bigint - (t->>'sandbox_fork_us')::bigint >= 200000
		AND (t->>'sandbox_exit_us')::bigint <= (t->>'responded_us')::bigint
		AND (t->>'responded_us')::bigint <= (extract(epoch FROM clock_timestamp()) * 1e6)::bigint
		FROM jobs j, LATERAL (SELECT j.result->'timing' t) x WHERE j.task_id = '$id'"
	assert_output t
}

@test "long poll: answers as soon as the task ends, and holds no HTTP thread" {
	create '{"input_mode":"commands","prompt":"sleep 1; echo done"}'
	id=$(jq -r .task_id <<<"$body")
	# 12 parked long polls on a gateway with 4 HTTP threads; they wait 60 s
	# unless the cancel below wakes them, so every bound below is far from
	# what a held thread would cost, even on a slow machine.
	create '{"input_mode":"commands","prompt":"true","requirements":{"labels":["never"]},"allow_pending":true}'
	never=$(jq -r .task_id <<<"$body")
	for i in $(seq 12); do
		curl -s -m 70 -o /dev/null -H "Authorization: Bearer $CY_TOKEN" \
			"$CY_GATEWAY_URL/v1/tasks/$never/result?wait=60" &
	done
	sleep 0.5
	s=$(date +%s%N)
	cy_api GET "/v1/tasks/$id/result?wait=30" "" "$CY_TOKEN"
	ms=$((($(date +%s%N) - s) / 1000000))
	cy_status 200
	[ "$(jq -r .status <<<"$body")" = completed ]
	[ "$ms" -lt 15000 ]
	# the other endpoints still answer at once
	cy_api GET "/v1/tasks/$id" "" "$CY_TOKEN"
	cy_status 200
	# a wait that runs out answers with the current status
	s=$(date +%s%N)
	cy_api GET "/v1/tasks/$never/result?wait=1" "" "$CY_TOKEN"
	ms=$((($(date +%s%N) - s) / 1000000))
	[ "$(jq -r .status <<<"$body")" = queued ]
	[ "$ms" -ge 900 ] && [ "$ms" -lt 10000 ]
	# cancel wakes the parked polls
	s=$(date +%s%N)
	cy_api POST /v1/tasks/$never/cancel "" "$CY_TOKEN"
	wait
	ms=$((($(date +%s%N) - s) / 1000000))
	[ "$ms" -lt 15000 ]
	cy_api GET "/v1/tasks/$id/result?wait=61" "" "$CY_TOKEN"
	cy_status 400
	cy_api GET "/v1/tasks/$id/result?wait=abc" "" "$CY_TOKEN"
	cy_status 400
}

@test "tasks:wait: waits for all (or any) of several tasks" {
	create '{"input_mode":"commands","prompt":"sleep 0.5"}'
	a=$(jq -r .task_id <<<"$body")
	create '{"input_mode":"commands","prompt":"sleep 1","task_name":"wait-b"}'
	b=$(jq -r .task_id <<<"$body")
	cy_api POST /v1/tasks:wait "{\"task_ids\":[\"$a\",\"wait-b\"],\"wait\":30}" "$CY_TOKEN"
	cy_status 200
	[ "$(jq -r .ended <<<"$body")" = true ]
	[ "$(jq -r '[.tasks[].status] | join(",")' <<<"$body")" = completed,completed ]
	[ "$(jq -r '.tasks[1].task_id' <<<"$body")" = "$b" ]
	create '{"input_mode":"commands","prompt":"true","requirements":{"labels":["never"]},"allow_pending":true}'
	never=$(jq -r .task_id <<<"$body")
	cy_api POST /v1/tasks:wait "{\"task_ids\":[\"$a\",\"$never\"],\"wait\":1}" "$CY_TOKEN"
	[ "$(jq -r .ended <<<"$body")" = false ]
	cy_api POST /v1/tasks:wait "{\"task_ids\":[\"$a\",\"$never\"],\"wait\":10,\"any\":true}" "$CY_TOKEN"
	[ "$(jq -r .ended <<<"$body")" = true ]
	cy_api POST /v1/tasks/$never/cancel "" "$CY_TOKEN"
	for bad in '{}' '{"task_ids":[]}' '{"task_ids":"x"}' '{"task_ids":[1]}' \
		"{\"task_ids\":[\"$a\"],\"wait\":61}" "{\"task_ids\":[\"$a\"],\"wait\":-1}" \
		"{\"task_ids\":[\"$a\"],\"any\":1}" 'not json'; do
		cy_api POST /v1/tasks:wait "$bad" "$CY_TOKEN"
		cy_status 400 || { echo "accepted: $bad"; false; }
	done
	cy_api POST /v1/tasks:wait '{"task_ids":["no-such-task"]}' "$CY_TOKEN"
	cy_status 404
	cy_api POST /v1/tasks:wait "{\"task_ids\":[\"$a\"]}"
	cy_status 401
}

@test "cancel reaches the node, kills the sandbox; the late result changes nothing" {
	create '{"input_mode":"commands","prompt":"sleep 27.5"}'
	id=$(jq -r .task_id <<<"$body")
	for i in $(seq 300); do
		pgrep -f 'sleep 27.5' >/dev/null && break
		sleep 0.1
	done
	pgrep -f 'sleep 27.5' >/dev/null
	[ "$(cy_psql "SELECT status FROM jobs WHERE task_id = '$id'")" = running ]
	cy_api POST /v1/tasks/$id/cancel "" "$CY_TOKEN"
	cy_status 200
	for i in $(seq 200); do
		pgrep -f 'sleep 27.5' >/dev/null || break
		sleep 0.1
	done
	! pgrep -f 'sleep 27.5' >/dev/null || false
	# The server sent the cancel at once, and the node killed the job: on
	# that cancel, or on its next sync (every second here) when the sync
	# came first; then the cancel found nothing left and the server says so.
	job=$(cy_psql "SELECT id FROM jobs WHERE task_id = '$id'")
	for i in $(seq 100); do
		grep -Eq "event=job_(canceled_by_server|killed_by_sync) job_id=$job" \
			"$CY_TMP/node-node-01.log" &&
			grep -Eq "event=job_cancel_(sent|not_delivered) job_id=$job" "$CY_TMP/server.log" &&
			break
		sleep 0.1
	done
	grep -Eq "event=job_(canceled_by_server|killed_by_sync) job_id=$job" "$CY_TMP/node-node-01.log"
	grep -Eq "event=job_cancel_(sent|not_delivered) job_id=$job" "$CY_TMP/server.log"
	sleep 1
	[ "$(cy_psql "SELECT status FROM tasks WHERE id = '$id'")" = canceled ]
	[ "$(cy_psql "SELECT status FROM jobs WHERE task_id = '$id'")" = canceled ]
}

@test "timeout: a task's timeout is capped by the node's maximum" {
	create '{"input_mode":"commands","prompt":"sleep 25","timeout_seconds":100}'
	id=$(jq -r .task_id <<<"$body")
	s=$SECONDS
	cy_api GET "/v1/tasks/$id/result?wait=30" "" "$CY_TOKEN"
	[ "$(jq -r .status <<<"$body")" = failed ]
	[ "$(jq -r '.jobs[0].result | fromjson | .status' <<<"$body")" = timeout ]
	[ $((SECONDS - s)) -lt 20 ]	# the 8 s cap, not the task's own 25 s run
}

@test "lease: a job whose node stops renewing is retried, then failed; attempts recorded" {
	create '{"input_mode":"commands","prompt":"sleep 8","max_attempts":2,"retry_backoff_seconds":0}'
	id=$(jq -r .task_id <<<"$body")
	job=""
	for i in $(seq 300); do
		job=$(cy_psql "SELECT id FROM jobs WHERE task_id = '$id' AND status = 'running'")
		[ -n "$job" ] && break
		sleep 0.1
	done
	[ -n "$job" ]
	kill -STOP "$CY_NODE_PID"
	# lease 3s, chores every 0.5s: requeued, re-claimed for the stopped node, expired again
	cy_api GET "/v1/tasks/$id/result?wait=20" "" "$CY_TOKEN"
	kill -CONT "$CY_NODE_PID"
	[ "$(jq -r .status <<<"$body")" = failed ]
	[[ $(jq -r '.jobs[0].result' <<<"$body") == *"lease expired after 2 attempt"* ]]
	run cy_psql "SELECT attempt, status FROM job_attempts WHERE job_id = '$job' ORDER BY attempt"
	assert_output $'1|lease_expired\n2|lease_expired'
	# the stopped node's own result arrives later and changes nothing
	sleep 4
	[ "$(cy_psql "SELECT status FROM tasks WHERE id = '$id'")" = failed ]
	run cy_psql "SELECT result->>'error' FROM jobs WHERE id = '$job'"
	assert_output --partial "lease expired"
}

@test "node sync: renews leases, wants only running jobs' results; garbage is 400/401" {
	jwt=$(node_jwt)
	cy_api POST "$CY_CONTROL_URL/v1/nodes/jobs/sync" '{"version":1,"running":[],"finished":["00000000-0000-4000-8000-000000000000"]}' "$jwt"
	cy_status 200
	[ "$(jq -c .want <<<"$body")" = '[]' ]
	[ "$(jq -r .lease_seconds <<<"$body")" = 3 ]
	[ "$(jq -r .sync_seconds <<<"$body")" = 1 ]
	cy_api POST "$CY_CONTROL_URL/v1/nodes/jobs/sync" '{"version":1,"running":["00000000-0000-4000-8000-000000000001"]}' "$jwt"
	[ "$(jq -c .cancel <<<"$body")" = '["00000000-0000-4000-8000-000000000001"]' ]
	for bad in '{}' '{"version":2}' '{"version":1,"running":"x"}' \
		'{"version":1,"running":["not-a-uuid"]}' '{"version":1,"finished":[1]}' '[]'; do
		cy_api POST "$CY_CONTROL_URL/v1/nodes/jobs/sync" "$bad" "$jwt"
		cy_status 400 || { echo "accepted: $bad"; false; }
	done
	cy_api POST "$CY_CONTROL_URL/v1/nodes/jobs/sync" '{"version":1}'
	cy_status 401
	cy_api POST "$CY_CONTROL_URL/v1/nodes/jobs/sync" '{"version":1}' "$CY_TOKEN"
	cy_status 401
}

@test "result redelivery: applied once; duplicates and garbage change nothing" {
	jwt=$(node_jwt)
	create '{"input_mode":"commands","prompt":"echo real"}'
	id=$(jq -r .task_id <<<"$body")
	cy_api GET "/v1/tasks/$id/result?wait=20" "" "$CY_TOKEN"
	job=$(jq -r '.jobs[0].id' <<<"$body")
	fake="{\"version\":1,\"task_id\":\"$id\",\"job_id\":\"$job\",\"status\":\"failed\",\"exit_code\":3,\"stdout\":\"forged\",\"stderr\":\"\"}"
	cy_api POST "$CY_CONTROL_URL/v1/nodes/jobs/$job/result" "$fake" "$jwt"
	cy_status 200
	[ "$(jq -r .applied <<<"$body")" = false ]
	cy_api GET "/v1/tasks/$id/logs" "" "$CY_TOKEN"
	[ "$(jq -r .stdout <<<"$body")" = real ]
	for bad in '{}' "{\"version\":1,\"job_id\":\"$job\",\"status\":\"weird\"}" \
		"{\"version\":1,\"job_id\":\"00000000-0000-4000-8000-000000000000\",\"status\":\"failed\"}" \
		"{\"version\":1,\"job_id\":\"$job\",\"status\":\"failed\",\"lease_id\":\"x\"}" 'nope'; do
		cy_api POST "$CY_CONTROL_URL/v1/nodes/jobs/$job/result" "$bad" "$jwt"
		cy_status 400 || { echo "accepted: $bad"; false; }
	done
	cy_api POST "$CY_CONTROL_URL/v1/nodes/jobs/not-a-uuid/result" "$fake" "$jwt"
	cy_status 400
	cy_api POST "$CY_CONTROL_URL/v1/nodes/jobs/$job/result" "$fake"
	cy_status 401
}

@test "worker cancel endpoint needs the worker token" {
	cy_api POST "$CY_NODE_URL/v1/worker/jobs/no-such-job/cancel" '{}'
	cy_status 401
}

@test "a claim whose COMMIT fails is rolled back; the server lives and dispatches later" {
	# A deferred trigger refuses the claim at COMMIT, as when PostgreSQL goes
	# away between the claim's statements and its commit (this crashed the
	# server once: the node list was freed twice).
	cy_refuse jobs "NEW.status = 'running'" deferred
	cy_api POST /v1/tasks '{"input_mode":"commands","prompt":"echo survived"}' "$CY_TOKEN"
	cy_status 201
	id=$(jq -r .task_id <<<"$body")
	for i in $(seq 300); do
		grep -q 'event=dispatch_claim_failed.*refused by the test' "$CY_TMP/server.log" && break
		sleep 0.1
	done
	grep -q 'event=dispatch_claim_failed.*refused by the test' "$CY_TMP/server.log"
	sleep 1	# a few more refused claims
	kill -0 "$CY_SERVER_PID"
	run cy_psql "SELECT j.status, j.attempts, (SELECT count(*) FROM job_attempts a WHERE a.job_id = j.id)
		FROM jobs j WHERE j.task_id = '$id'"
	assert_output "queued|0|0"
	cy_refuse_end jobs
	cy_api GET "/v1/tasks/$id/result?wait=30" "" "$CY_TOKEN"
	[ "$(jq -r .status <<<"$body")" = completed ]
	cy_api GET "/v1/tasks/$id/logs" "" "$CY_TOKEN"
	[ "$(jq -r .stdout <<<"$body")" = survived ]
}

@test "a result that arrives while claims fail is stored on its own; the queue waits" {
	local first second i
	# A claim that cannot commit must not hold up the results of jobs that
	# ended meanwhile.
	cy_api POST /v1/tasks '{"input_mode":"commands","prompt":"sleep 1.53; echo first"}' "$CY_TOKEN"
	cy_status 201
	first=$(jq -r .task_id <<<"$body")
	for i in $(seq 100); do
		[ "$(cy_psql "SELECT status FROM jobs WHERE task_id = '$first'")" = running ] && break
		sleep 0.1
	done
	cy_refuse jobs "NEW.status = 'running'" deferred
	cy_api POST /v1/tasks '{"input_mode":"commands","prompt":"echo second"}' "$CY_TOKEN"
	cy_status 201
	second=$(jq -r .task_id <<<"$body")
	cy_api GET "/v1/tasks/$first/result?wait=30" "" "$CY_TOKEN"
	[ "$(jq -r .status <<<"$body")" = completed ]
	cy_api GET "/v1/tasks/$first/logs" "" "$CY_TOKEN"
	[ "$(jq -r .stdout <<<"$body")" = first ]
	grep -q 'event=dispatch_claim_failed.*refused by the test' "$CY_TMP/server.log"
	run cy_psql "SELECT status FROM jobs WHERE task_id = '$second'"
	assert_output queued
	cy_refuse_end jobs
	cy_api GET "/v1/tasks/$second/result?wait=30" "" "$CY_TOKEN"
	[ "$(jq -r .status <<<"$body")" = completed ]
}
