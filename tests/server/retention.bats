#!/usr/bin/env bats
# Retention: the chores leader deletes finished tasks older than
# retention.finished_tasks, every retention.interval, with their jobs,
# attempts and artifacts; queued, running and recently finished tasks stay;
# a pruned task is 404 and its Idempotency-Key is free again; 0 keeps all;
# a backlog larger than one run is worked off without waiting an interval.
# Timing: retention 10s, interval 1s; the "recent" task finishes 5 s after
# the old ones, so it outlives them by at least 5 s.  The later tests
# restart the server (the node, left on the old port, is not needed).

load ../lib/harness
bats_require_minimum_version 1.5.0

RETAIN=10

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start RETENTION_FINISHED_TASKS=${RETAIN}s RETENTION_INTERVAL=1s
	cy_node_start node-01 sandbox.max_concurrency=4 sandbox.timeouts.max_seconds=300
	CY_TOKEN=$(cy_admin_token)
	export CY_TOKEN
}

# create JSON [IDEMPOTENCY-KEY]: POST /v1/tasks, prints the task id.
create()
{
	local -a h=()

	[ -n "${2:-}" ] && h=(-H "Idempotency-Key: $2")
	curl -s -m 20 -H "Authorization: Bearer $CY_TOKEN" -H 'Content-Type: application/json' \
		"${h[@]}" --data-binary "$1" "$CY_GATEWAY_URL/v1/tasks" | jq -er .task_id
}

# finish ID: waits for the task to end, prints its status.
finish()
{
	curl -s -m 40 -H "Authorization: Bearer $CY_TOKEN" \
		"$CY_GATEWAY_URL/v1/tasks/$1/result?wait=30" | jq -r .status
}

# wait_for SECONDS COMMAND...: retries COMMAND every 0.3 s until it succeeds.
wait_for()
{
	local end=$((SECONDS + $1))

	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.3
	done
}

task_status()
{
	cy_api GET "/v1/tasks/$1" "" "$CY_TOKEN"
	cy_status 200 && jq -r .status <<<"$body"
}

is_running()
{
	[ "$(task_status "$1")" = running ]
}

# Sum of the tasks= counts of the retention_pruned lines of LOG.
pruned_sum()
{
	grep 'event=retention_pruned' "$1" | sed -n 's/.* tasks=\([0-9]*\).*/\1/p' |
		awk '{ n += $1 } END { print n + 0 }'
}

@test "finished tasks older than the retention go with their jobs; queued, running and recent ones stay" {
	run=$(create '{"input_mode":"commands","prompt":"sleep 120"}')
	queued=$(create '{"input_mode":"commands","prompt":"true","requirements":{"labels":["never"]},"allow_pending":true}')
	canceled=$(create '{"input_mode":"commands","prompt":"true","requirements":{"labels":["never"]},"allow_pending":true}')
	cy_api POST "/v1/tasks/$canceled/cancel" "" "$CY_TOKEN"
	cy_status 200
	in_sha=$(printf 'in\n' | curl -s -m 10 -H "Authorization: Bearer $CY_TOKEN" \
		--data-binary @- "$CY_GATEWAY_URL/v1/uploads" | jq -er .sha256)
	done1=$(create "$(jq -cn --arg s "$in_sha" '{input_mode:"commands",prompt:"cat in.txt",
		attachments:[{name:"in.txt",sha256:$s}]}')" ret-a)
	failed=$(create '{"input_mode":"commands","prompt":"exit 3","max_attempts":1}')
	[ "$(finish "$done1")" = completed ]
	[ "$(finish "$failed")" = failed ]
	old="'$done1','$failed','$canceled'"
	# all three are still there while younger than the retention
	[ "$(cy_psql "SELECT count(*) FROM tasks WHERE id IN ($old)")" = 3 ]
	jobs=$(cy_psql "SELECT string_agg(quote_literal(id), ',') FROM jobs WHERE task_id IN ($old)")
	[ "$(cy_psql "SELECT count(*) FROM jobs WHERE id IN ($jobs)")" = 3 ]
	[ "$(cy_psql "SELECT count(*) FROM job_attempts WHERE job_id IN ($jobs)")" = 2 ]
	[ "$(cy_psql "SELECT count(*) FROM task_attachments WHERE task_id = '$done1'")" = 1 ]
	wait_for 20 is_running "$run"

	sleep 5
	recent=$(create '{"input_mode":"commands","prompt":"echo recent"}')
	[ "$(finish "$recent")" = completed ]

	# One snapshot: the old ones are gone while the recent one is still there.
	gone()
	{
		snap=$(cy_psql "SELECT count(*) FILTER (WHERE id IN ($old)) || ' ' ||
			count(*) FILTER (WHERE id = '$recent') FROM tasks")
		[ "${snap%% *}" = 0 ]
	}
	wait_for 30 gone
	[ "$snap" = "0 1" ]
	# the server logged what it deleted: exactly the three old tasks so far
	# (checked now: the recent one goes a few seconds later)
	pruned_three() { [ "$(pruned_sum "$CY_TMP/server.log")" = 3 ]; }
	wait_for 5 pruned_three
	run cy_psql "SELECT (SELECT count(*) FROM jobs WHERE id IN ($jobs)) || ' ' ||
		(SELECT count(*) FROM job_attempts WHERE job_id IN ($jobs)) || ' ' ||
		(SELECT count(*) FROM task_attachments WHERE task_id = '$done1')"
	assert_output "0 0 0"

	# open tasks older than the retention stay, whatever their age
	run cy_psql "SELECT status, now() - updated_at > interval '$RETAIN seconds' FROM tasks
		WHERE id IN ('$run', '$queued') ORDER BY status"
	assert_output "pending|t
running|t"
	[ "$(cy_psql "SELECT status FROM jobs WHERE task_id = '$run'")" = running ]
	[ "$(cy_psql "SELECT status FROM jobs WHERE task_id = '$queued'")" = queued ]

	# a pruned task is not found
	for id in "$done1" "$failed" "$canceled"; do
		cy_api GET "/v1/tasks/$id" "" "$CY_TOKEN"
		cy_status 404 || { echo "GET $id: $status_code"; false; }
		cy_api GET "/v1/tasks/$id/result" "" "$CY_TOKEN"
		cy_status 404 || { echo "GET $id/result: $status_code"; false; }
	done
	cy_api POST "/v1/tasks/$done1/cancel" "" "$CY_TOKEN"
	cy_status 404

	# the Idempotency-Key went with its task: the same key makes a new one
	again=$(create '{"input_mode":"commands","prompt":"echo again"}' ret-a)
	[ -n "$again" ] && [ "$again" != "$done1" ]
	[ "$(finish "$again")" = completed ]
	[ "$(cy_psql "SELECT count(*) FROM tasks WHERE idempotency_key = 'ret-a'")" = 1 ]

	# the running task still runs: cancel it (and the queued one) now
	[ "$(task_status "$run")" = running ]
	cy_api POST "/v1/tasks/$run/cancel" "" "$CY_TOKEN"
	cy_status 200
	cy_api POST "/v1/tasks/$queued/cancel" "" "$CY_TOKEN"
	cy_status 200
}

@test "retention.finished_tasks 0 keeps finished tasks" {
	cy_server_stop
	mv "$CY_TMP/server.log" "$CY_TMP/server-retain.log"
	cy_server_start RETENTION_FINISHED_TASKS=0 RETENTION_INTERVAL=1s
	# a task that ended a day ago, which any retention up to 24h would delete
	old=$(cy_psql "WITH t AS (INSERT INTO tasks (created_by, status, closed, updated_at)
		SELECT id, 'completed', true, now() - interval '1 day' FROM users
		WHERE handle = 'admin' RETURNING id),
		j AS (INSERT INTO jobs (task_id, status, ended_at) SELECT id, 'completed', now()
		FROM t) SELECT id FROM t")
	before=$(cy_psql "SELECT count(*) FROM tasks WHERE closed")
	[ "$before" -ge 3 ]
	wait_for 15 grep -q 'event=chores_leader' "$CY_TMP/server.log"
	sleep 4	# four retention intervals
	[ "$(cy_psql "SELECT count(*) FROM tasks WHERE closed")" = "$before" ]
	[ "$(cy_psql "SELECT count(*) FROM jobs WHERE task_id = '$old'")" = 1 ]
	run grep -c 'event=retention_pruned' "$CY_TMP/server.log"
	assert_output 0
	CY_TOKEN=$(cy_admin_token)
	cy_api GET "/v1/tasks/$old" "" "$CY_TOKEN"
	cy_status 200
}

@test "a backlog beyond one run (10 batches of 1000) is worked off without waiting an interval" {
	CY_SERVER_PID=$(cat "$CY_TMP/server.pid")	# started by the test before
	cy_server_stop
	mv "$CY_TMP/server.log" "$CY_TMP/server-keep.log"
	# 12,000 tasks that ended a day ago, one that ended 10 minutes ago
	cy_psql "WITH t AS (INSERT INTO tasks (created_by, status, closed, updated_at)
		SELECT u.id, 'completed', true, now() - interval '1 day'
		FROM users u, generate_series(1, 12000) WHERE u.handle = 'admin' RETURNING id)
		INSERT INTO jobs (task_id, status, ended_at) SELECT id, 'completed', now() FROM t"
	young=$(cy_psql "INSERT INTO tasks (created_by, status, closed, updated_at)
		SELECT id, 'failed', true, now() - interval '10 minutes' FROM users
		WHERE handle = 'admin' RETURNING id")
	cy_server_start RETENTION_FINISHED_TASKS=1h RETENTION_INTERVAL=1h
	old_left()
	{
		[ "$(cy_psql "SELECT count(*) FROM tasks WHERE updated_at < now() - interval '1 hour'")" = 0 ]
	}
	wait_for 90 old_left
	[ "$(cy_psql "SELECT count(*) FROM tasks WHERE id = '$young'")" = 1 ]
	wait_for 5 grep -q 'event=retention_pruned.*backlog=false' "$CY_TMP/server.log"
	run grep 'event=retention_pruned' "$CY_TMP/server.log"
	assert_line --index 0 --partial "tasks=10000 backlog=true"
	[ "$(pruned_sum "$CY_TMP/server.log")" -ge 12000 ]
}
