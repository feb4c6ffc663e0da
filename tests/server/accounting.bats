#!/usr/bin/env bats
#
# accounting.bats: the accounting of finished job attempts (migration 0093,
# GET /v1/accounting/jobs and /v1/accounting/summary) with the real server,
# PostgreSQL and a node running jobs in bubblewrap: a job that burns CPU
# reports its CPU seconds and one that fills 64 MiB its peak memory (from
# the job's cgroup where this host gives the node cgroups), requested
# resources, exit codes and states are kept, the filters and paging work,
# a user sees only their own records, a result without usage (an older
# node) or with garbage in it is still stored, and bad parameters are 400.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	cy_node_start node-01 sandbox.max_concurrency=4
	# A second user sharing the admin's password hash.
	cy_psql "INSERT INTO users (handle) VALUES ('alice');
		INSERT INTO password_credentials (user_id, password_hash)
		SELECT (SELECT id FROM users WHERE handle = 'alice'), password_hash
		FROM password_credentials pc JOIN users u ON u.id = pc.user_id
		WHERE u.handle = 'admin';" >/dev/null
	TOKEN=$(cy_admin_token)
	ALICE=$(curl -s -m 10 -H 'Content-Type: application/json' \
		--data-binary "$(jq -cn --arg p "$CY_ADMIN_PASSWORD" '{handle:"alice",password:$p}')" \
		"$CY_GATEWAY_URL/v1/auth/login" | jq -r .access_token)
	export TOKEN ALICE
}

# run_task SCRIPT [TOKEN] [EXTRA_JSON]: a commands task run to its end; $id its id
run_task()
{
	local extra=${3:-"{}"}

	cy_api POST /v1/tasks "$(jq -cn --arg s "$1" --argjson e "$extra" \
		'{input_mode:"commands", prompt:$s} + $e')" "${2:-$TOKEN}"
	cy_status 201 || return 1
	id=$(jq -r .task_id <<<"$body")
	cy_api GET "/v1/tasks/$id/result?wait=60" "" "${2:-$TOKEN}"
	cy_status 200 || return 1
	jq -e '.status != "queued" and .status != "running"' <<<"$body" >/dev/null || { echo "$body"; return 1; }
}

# record TASK_ID [TOKEN]: $rec the task's accounting record (the list as that caller sees it)
record()
{
	cy_api GET "/v1/accounting/jobs?limit=1000" "" "${2:-$TOKEN}"
	cy_status 200 || return 1
	rec=$(jq -c --arg t "$1" '[.jobs[] | select(.task_id == $t)] | first // empty' <<<"$body")
	[ -n "$rec" ] || { echo "no record of $1 in $body"; return 1; }
}

# Whether this host lets the node use cgroups (as tests/node/runtimes.bats asks).
have_cgroups()
{
	[ "$(id -u)" = 0 ] && { [ -w /sys/fs/cgroup/pids ] || [ -f /sys/fs/cgroup/cgroup.controllers ]; }
}

@test "a job that burns a second of CPU reports more than 0.5 CPU seconds, with what it asked for" {
	run_task 'python3 -c "
import time
t = time.process_time()
while time.process_time() - t < 1.0:
    pass
"' "$ALICE" '{"resources":{"cpu_cores":2,"memory_mb":512}}'
	jq -e '.status == "completed"' <<<"$body" || { echo "$body"; false; }
	# The node's result carries the usage object (Worker API RunJobResponse.usage).
	jq -e '.jobs[0].result | fromjson | .usage.cpu_seconds > 0.5 and
		(.usage.source | test("^(cgroup_v[12]|rusage|mixed)$"))' <<<"$body" || { echo "$body"; false; }
	record "$id" "$ALICE"
	jq -e '.user == "alice" and .queue == "default" and .node == "node-01" and .attempt == 1
		and .attempts == 1 and .state == "completed" and .exit_code == 0
		and .req_cpus == 2 and .req_memory_mb == 512 and .req_gpus == 0
		and .cpu_seconds > 0.5 and .cpu_user_seconds + .cpu_system_seconds > 0.5 and .gpu_seconds == null
		and .wall_seconds >= 0.9 and .wall_seconds < 30
		and (.started_at | test("Z$")) and (.ended_at | test("Z$"))' <<<"$rec" || { echo "$rec"; false; }
}

@test "a job that fills 64 MiB reports a peak of at least 64 MiB (from its cgroup where the host has them)" {
	run_task 'dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null && echo filled' "$ALICE"
	jq -e '.status == "completed"' <<<"$body" || { echo "$body"; false; }
	record "$id" "$ALICE"
	jq -e '.peak_memory_bytes >= 67108864' <<<"$rec" || { echo "$rec"; false; }
	have_cgroups || skip "this host gives the node no cgroups (the peak came from rusage)"
	src=$(jq -r .usage_source <<<"$rec")
	# The memory peak is the cgroup's (CPU may come from rusage on v1 without cpuacct).
	[[ $src == cgroup_v* || $src == mixed ]] || { echo "$rec"; false; }
}

@test "a failed job keeps its exit code and state; a canceled one is canceled" {
	run_task 'exit 3' "$ALICE"
	failed=$id
	record "$failed" "$ALICE"
	jq -e '.state == "failed" and .exit_code == 3' <<<"$rec" || { echo "$rec"; false; }
	cy_api POST /v1/tasks '{"input_mode":"commands","prompt":"sleep 30"}' "$ALICE"
	cy_status 201
	c=$(jq -r .task_id <<<"$body")
	for _ in $(seq 50); do
		[ "$(cy_psql "SELECT status FROM jobs WHERE task_id = '$c'")" = running ] && break
		sleep 0.1
	done
	cy_api POST "/v1/tasks/$c/cancel" '{}' "$ALICE"
	cy_api GET "/v1/tasks/$c/result?wait=30" "" "$ALICE"
	record "$c" "$ALICE"
	jq -e '.state == "canceled" and .node == "node-01"' <<<"$rec" || { echo "$rec"; false; }
}

@test "filters: state, node, queue, time window; paging with limit and cursor" {
	run_task 'echo admin-job'
	admin_job=$id
	cy_api GET "/v1/accounting/jobs?state=failed" "" "$TOKEN"
	cy_status 200
	jq -e '(.jobs | length) >= 1 and all(.jobs[]; .state == "failed")' <<<"$body" || { echo "$body"; false; }
	cy_api GET "/v1/accounting/jobs?node=node-01" "" "$TOKEN"
	jq -e '(.jobs | length) >= 4 and all(.jobs[]; .node == "node-01")' <<<"$body" || { echo "$body"; false; }
	cy_api GET "/v1/accounting/jobs?node=no-such-node" "" "$TOKEN"
	jq -e '.jobs == []' <<<"$body"
	cy_api GET "/v1/accounting/jobs?queue=default&user=admin" "" "$TOKEN"
	jq -e --arg t "$admin_job" '.jobs | length == 1 and .[0].task_id == $t' <<<"$body" || { echo "$body"; false; }
	cy_api GET "/v1/accounting/jobs?queue=other" "" "$TOKEN"
	jq -e '.jobs == []' <<<"$body"
	# A window in the future holds nothing; one around now holds everything.
	cy_api GET "/v1/accounting/jobs?since=2099-01-01T00:00:00Z" "" "$TOKEN"
	jq -e '.jobs == []' <<<"$body"
	cy_api GET "/v1/accounting/jobs?since=2020-01-01T00:00:00Z&until=2099-01-01T00:00:00Z" "" "$TOKEN"
	all=$(jq '.jobs | length' <<<"$body")
	[ "$all" -ge 5 ]
	cy_api GET "/v1/accounting/jobs?until=2020-01-01T00:00:00Z" "" "$TOKEN"
	jq -e '.jobs == []' <<<"$body"
	# Pages of 2, newest first, cover every record once.
	seen=() cursor=
	while :; do
		cy_api GET "/v1/accounting/jobs?limit=2${cursor:+&cursor=$cursor}" "" "$TOKEN"
		cy_status 200
		mapfile -t -O "${#seen[@]}" seen < <(jq -r '.jobs[].attempt_id' <<<"$body")
		cursor=$(jq -r '.next_cursor // empty' <<<"$body")
		[ -n "$cursor" ] || break
	done
	[ "${#seen[@]}" -eq "$all" ]
	[ "$(printf '%s\n' "${seen[@]}" | sort -u | wc -l)" -eq "$all" ]
}

@test "a user sees only their own records; operators and admins see everyone's" {
	cy_api GET "/v1/accounting/jobs" "" "$ALICE"
	cy_status 200
	jq -e '(.jobs | length) >= 3 and all(.jobs[]; .user == "alice")' <<<"$body" || { echo "$body"; false; }
	cy_api GET "/v1/accounting/jobs?user=admin" "" "$ALICE"
	cy_status 403
	cy_api GET "/v1/accounting/summary?user=admin" "" "$ALICE"
	cy_status 403
	cy_api GET "/v1/accounting/jobs?user=alice" "" "$ALICE"
	cy_status 200
	cy_api GET "/v1/accounting/summary" "" "$ALICE"
	jq -e '.by == "user" and (.rows | length == 1) and .rows[0].user == "alice"' <<<"$body" || { echo "$body"; false; }
	cy_api GET "/v1/accounting/jobs" "" "$TOKEN"
	jq -e '[.jobs[].user] | unique == ["admin", "alice"]' <<<"$body" || { echo "$body"; false; }
	cy_api GET "/v1/accounting/jobs?user=alice" "" "$TOKEN"
	jq -e 'all(.jobs[]; .user == "alice")' <<<"$body"
	cy_api GET "/v1/accounting/jobs"
	cy_status 401
}

@test "summary: totals per user and per queue" {
	cy_api GET "/v1/accounting/summary?by=user" "" "$TOKEN"
	cy_status 200
	jq -e '.by == "user" and ([.rows[].user] == ["admin", "alice"])' <<<"$body" || { echo "$body"; false; }
	jq -e '.rows[] | select(.user == "alice") | .jobs >= 4 and .attempts >= 4
		and .failures >= 1 and .canceled >= 1 and .completed >= 2 and .cpu_seconds > 0.5
		and .wall_seconds > 0.9 and .peak_memory_bytes_max >= 67108864' <<<"$body" || { echo "$body"; false; }
	cy_api GET "/v1/accounting/summary?by=queue&state=failed" "" "$TOKEN"
	jq -e '.by == "queue" and (.rows | length == 1) and .rows[0].queue == "default"
		and .rows[0].failures == .rows[0].attempts' <<<"$body" || { echo "$body"; false; }
}

@test "a job in a named queue is accounted in that queue; summary by queue" {
	cy_api POST /v1/queues '{"name":"batch"}' "$TOKEN"
	cy_status 201
	run_task 'echo in batch' "$ALICE" '{"queue":"batch"}'
	record "$id" "$ALICE"
	jq -e '.queue == "batch" and .state == "completed"' <<<"$rec" || { echo "$rec"; false; }
	cy_api GET "/v1/accounting/jobs?queue=batch" "" "$ALICE"
	jq -e --arg t "$id" '.jobs | length == 1 and .[0].task_id == $t' <<<"$body" || { echo "$body"; false; }
	cy_api GET "/v1/accounting/summary?by=queue" "" "$TOKEN"
	jq -e '[.rows[].queue] == ["batch", "default"] and (.rows[0].jobs == 1)' <<<"$body" || { echo "$body"; false; }
}

@test "a result without usage (an older node) or with garbage in it is stored; the record keeps nulls" {
	uid=$(cy_psql "SELECT id FROM users WHERE handle = 'alice'")
	node=$(cy_psql "SELECT id FROM nodes WHERE node_slug = 'node-01'")
	for u in 'null' '{"cpu_seconds":"lots","peak_memory_bytes":-5,"wall_seconds":1e300,"source":"guess","gpu_seconds":[1]}' \
		'{"cpu_seconds":2.5,"peak_memory_bytes":1048576,"source":"cgroup_v2"}'; do
		lease=$(cy_psql "SELECT gen_random_uuid()")
		job=$(cy_psql "WITH t AS (INSERT INTO tasks (created_by, input_mode, status) VALUES ('$uid', 'commands', 'running') RETURNING id)
			INSERT INTO jobs (task_id, status, attempts, node_id, lease_id, lease_expires_at, started_at)
			SELECT id, 'running', 1, '$node', '$lease', now() + interval '1 hour', now() FROM t RETURNING id")
		cy_psql "INSERT INTO job_attempts (job_id, attempt, node_id, lease_id) VALUES ('$job', 1, '$node', '$lease')" >/dev/null
		cy_psql "BEGIN;
			UPDATE jobs SET status = 'completed', exit_code = 0, ended_at = now(),
				result = jsonb_build_object('version', 1, 'status', 'completed') || CASE WHEN '$u' = 'null' THEN '{}'::jsonb ELSE jsonb_build_object('usage', '$u'::jsonb) END
				WHERE id = '$job';
			UPDATE job_attempts SET status = 'completed', ended_at = now() WHERE lease_id = '$lease';
			COMMIT;" >/dev/null
		got=$(cy_psql "SELECT concat_ws(',', status, exit_code, coalesce(cpu_seconds::text, '-'), coalesce(peak_memory_bytes::text, '-'), coalesce(usage_source, '-'), coalesce(gpu_seconds::text, '-'), wall_seconds < 5) FROM job_accounting WHERE lease_id = '$lease'")
		case $u in
		null) [ "$got" = "completed,0,-,-,-,-,t" ] || { echo "$got"; false; } ;;
		*lots*) [ "$got" = "completed,0,-,-,-,-,t" ] || { echo "$got"; false; } ;;
		*) [ "$got" = "completed,0,2.5,1048576,cgroup_v2,-,t" ] || { echo "$got"; false; } ;;
		esac
	done
	# Ending again (a second UPDATE) does not add a record.
	cy_psql "UPDATE job_attempts SET ended_at = now() WHERE lease_id = '$lease'" >/dev/null
	[ "$(cy_psql "SELECT count(*) FROM job_accounting WHERE lease_id = '$lease'")" = 1 ]
}

@test "the record survives the task's deletion (retention)" {
	n=$(cy_psql "SELECT count(*) FROM job_accounting")
	t=$(cy_psql "SELECT task_id FROM job_accounting WHERE status = 'failed' LIMIT 1")
	cy_psql "DELETE FROM tasks WHERE id = '$t'" >/dev/null
	[ "$(cy_psql "SELECT count(*) FROM job_accounting")" = "$n" ]
}

@test "garbage parameters are refused with 400" {
	for q in limit=0 limit=1001 limit=abc 'limit=' state=running state=bogus since=yesterday \
		until=2026-13-01T00:00:00Z 'since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z' \
		cursor=xyz user= node= "node=$(printf 'n%.0s' {1..200})" foo=1 'by=user'; do
		cy_api GET "/v1/accounting/jobs?$q" "" "$TOKEN"
		[ "$status_code" = 400 ] || { echo "$q: $status_code $body"; false; }
		jq -e '.type and .detail' <<<"$body" >/dev/null
	done
	for q in by=node by= limit=5 cursor=x state=done; do
		cy_api GET "/v1/accounting/summary?$q" "" "$TOKEN"
		[ "$status_code" = 400 ] || { echo "$q: $status_code $body"; false; }
	done
}
