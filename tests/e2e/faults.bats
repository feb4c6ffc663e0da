#!/usr/bin/env bats
# Fault tests: no task is lost and none runs twice when the
# server is killed mid-batch, when a node is killed, when PostgreSQL
# restarts under load, with two server replicas sharing two nodes, and when
# nodes crash or restart holding results the server has not taken.

load ../lib/harness
bats_require_minimum_version 1.5.0

LEASE=6s

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start DISPATCH_LEASE=$LEASE DISPATCH_POLL_INTERVAL_MS=500
	cy_node_start node-a sandbox.max_concurrency=8
	cy_node_start node-b sandbox.max_concurrency=8
	CY_TOKEN=$(cy_admin_token)
	export CY_TOKEN
}

# Submits $2 tasks running $1 (JSON string) with extra fields $3; ids to $CY_TMP/ids.
submit()
{
	local i data

	data="{\"input_mode\":\"commands\",\"prompt\":$1${3:+,$3}}"
	: >"$CY_TMP/ids"
	for ((i = 0; i < $2; i++)); do
		printf 'url = "%s/v1/tasks"\n' "${GW:-$CY_GATEWAY_URL}"
	done >"$CY_TMP/curl.cfg"
	curl -s --no-progress-meter -Z --parallel-max 8 -K "$CY_TMP/curl.cfg" -H "Authorization: Bearer $CY_TOKEN" \
		-H 'Content-Type: application/json' --data-binary "$data" -w '\n' >"$CY_TMP/submit.out"
	jq -r '.task_id // empty' <"$CY_TMP/submit.out" >>"$CY_TMP/ids"
	[ "$(wc -l <"$CY_TMP/ids")" -eq "$2" ] || {
		echo "submitted $(wc -l <"$CY_TMP/ids") of $2; other answers:"
		jq -c 'select(.task_id == null)' <"$CY_TMP/submit.out" | sort | uniq -c | head
		grep -h 'level=error' "$CY_TMP"/server*.log | head -5
		return 1
	}
}

# Waits until every task of $CY_TMP/ids is closed (at most $1 seconds).
wait_closed()
{
	local end=$((SECONDS + $1)) open

	while :; do
		open=$(cy_psql "SELECT count(*) FROM tasks WHERE id IN ($(ids_sql)) AND NOT closed")
		[ "$open" = 0 ] && return 0
		[ "$SECONDS" -lt "$end" ] || { echo "$open tasks still open"; return 1; }
		sleep 0.2
	done
}

ids_sql()
{
	sed "s/.*/'&'/" "$CY_TMP/ids" | paste -sd,
}

# Every task completed, every job ran once (one attempt, one sandbox start).
assert_all_once()
{
	local n=$1 starts

	run cy_psql "SELECT status, count(*) FROM tasks WHERE id IN ($(ids_sql)) GROUP BY status"
	assert_output "completed|$n"
	run cy_psql "SELECT count(*) FROM jobs WHERE task_id IN ($(ids_sql)) AND attempts = 1"
	assert_output "$n"
	run cy_psql "SELECT count(*) FROM job_attempts a JOIN jobs j ON j.id = a.job_id
		WHERE j.task_id IN ($(ids_sql))"
	assert_output "$n"
	cy_psql "SELECT id FROM jobs WHERE task_id IN ($(ids_sql))" >"$CY_TMP/jobs"
	starts=$(cat "$CY_TMP"/node-*.log | grep -h 'job_started' | grep -oFf "$CY_TMP/jobs" |
		sort | uniq -c | awk '$1 != 1' | wc -l)
	[ "$starts" = 0 ] || { echo "$starts jobs started more than once"; return 1; }
	[ "$(cat "$CY_TMP"/node-*.log | grep -h 'job_started' | grep -cFf "$CY_TMP/jobs")" = "$n" ]
}

# Restarts the killed server on the same ports (the nodes keep their URLs);
# arguments are more VAR=VALUE settings.
server_restart()
{
	local gw=${CY_GATEWAY_URL##*:} cp=${CY_CONTROL_URL##*:} i

	# A server just killed may still hold its ports for a moment (longer
	# under AddressSanitizer): wait until neither answers.
	for i in $(seq 1 100); do
		! (exec 3<>"/dev/tcp/127.0.0.1/$gw") 2>/dev/null &&
			! (exec 3<>"/dev/tcp/127.0.0.1/$cp") 2>/dev/null && break
		sleep 0.1
	done
	stack_server_start "$gw" "$cp" "$CY_TMP/server-2.log" "$CY_TMP/server.pid" \
		"JWT_SECRET=$CY_JWT_SECRET" "NODE_REGISTRATION_PSK=$CY_PSK" \
		"BOOTSTRAP_ADMIN_PASSWORD=$CY_ADMIN_PASSWORD" DISPATCH_LEASE=$LEASE \
		DISPATCH_POLL_INTERVAL_MS=500 READINESS_REQUIRE_INFERENCE=false "$@"
	CY_SERVER_PID=$STACK_SERVER_PID
	cy__track "$CY_SERVER_PID"
}

@test "kill -9 the server mid-batch: every task completes, none runs twice" {
	submit '"sleep 2; echo $CYNODE_JOB_ID"' 24 '"max_attempts":1'
	for i in $(seq 100); do
		[ "$(cy_psql "SELECT count(*) FROM jobs WHERE status = 'running'")" -ge 8 ] && break
		sleep 0.1
	done
	kill -9 "$CY_SERVER_PID"
	sleep 2.5	# running jobs finish while no server listens
	server_restart
	wait_closed 60
	assert_all_once 24
}

@test "kill -9 a node: its jobs re-run on the other node within a lease" {
	# 16 jobs for 2 x 8 slots: both nodes get work whichever the scheduler prefers
	submit '"sleep 4"' 16 '"max_attempts":3,"retry_backoff_seconds":0'
	for i in $(seq 100); do
		[ "$(cy_psql "SELECT count(*) FROM jobs j JOIN nodes n ON n.id = j.node_id
			WHERE j.status = 'running' AND n.node_slug = 'node-a'")" -ge 1 ] && break
		sleep 0.1
	done
	on_a=$(cy_psql "SELECT count(*) FROM jobs j JOIN nodes n ON n.id = j.node_id
		WHERE j.status = 'running' AND n.node_slug = 'node-a'")
	[ "$on_a" -ge 1 ]
	kill -9 "$(cat "$CY_TMP/node-node-a/pid")"
	s=$SECONDS
	wait_closed 40
	# lease 6s + chores 0.5s + a 4s run, with room for a slow machine
	[ $((SECONDS - s)) -lt 25 ]
	run cy_psql "SELECT status, count(*) FROM tasks WHERE id IN ($(ids_sql)) GROUP BY status"
	assert_output "completed|16"
	# The jobs node-a held when it died (more may have started there after
	# the count, one may have ended just before): the dispatcher lost them
	# either by a reset connection (dispatch_error) or by the lease running
	# out (lease_expired); each re-ran and completed on node-b, once.
	lost=$(cy_psql "SELECT count(DISTINCT a.job_id) FROM job_attempts a JOIN jobs j ON j.id = a.job_id
		JOIN nodes n ON n.id = a.node_id WHERE j.task_id IN ($(ids_sql))
		AND n.node_slug = 'node-a' AND a.status IN ('lease_expired', 'dispatch_error')")
	[ "$lost" -ge 1 ]
	run cy_psql "SELECT count(DISTINCT a.job_id) FROM job_attempts a JOIN jobs j ON j.id = a.job_id
		JOIN nodes n ON n.id = a.node_id WHERE j.task_id IN ($(ids_sql))
		AND n.node_slug = 'node-b' AND a.status = 'completed' AND a.job_id IN
		(SELECT b.job_id FROM job_attempts b JOIN nodes m ON m.id = b.node_id
		 WHERE m.node_slug = 'node-a' AND b.status IN ('lease_expired', 'dispatch_error'))"
	assert_output "$lost"
	run cy_psql "SELECT count(*) FROM job_attempts a JOIN jobs j ON j.id = a.job_id
		WHERE j.task_id IN ($(ids_sql)) AND a.status = 'completed'"
	assert_output 16
	cy_node_start node-a sandbox.max_concurrency=8
}

@test "restart PostgreSQL under load: the server reconnects, no task is lost" {
	submit '"sleep 1"' 30 '"max_attempts":3'
	sleep 1
	stack__pg_run "$STACK_PG_BIN/pg_ctl" -D "$CY_PG_DIR/data" -m fast -w -t 30 restart \
		>/dev/null 2>&1 </dev/null 3>&-
	wait_closed 90
	run cy_psql "SELECT status, count(*) FROM tasks WHERE id IN ($(ids_sql)) GROUP BY status"
	assert_output "completed|30"
	# and it keeps serving
	cy_api POST /v1/tasks '{"input_mode":"commands","prompt":"echo after"}' "$CY_TOKEN"
	cy_status 201
	id=$(jq -r .task_id <<<"$body")
	cy_api GET "/v1/tasks/$id/result?wait=30" "" "$CY_TOKEN"
	[ "$(jq -r .status <<<"$body")" = completed ]
	# connections that idled through the restart reconnect on first use
	submit '"true"' 32
}

@test "two server replicas, two nodes, 1,000 tasks: each runs exactly once" {
	local gw2 cp2
	gw2=$(cy_free_port)
	cp2=$(cy_free_port)
	stack_server_start "$gw2" "$cp2" "$CY_TMP/server-replica.log" "$CY_TMP/replica.pid" \
		"JWT_SECRET=$CY_JWT_SECRET" "NODE_REGISTRATION_PSK=$CY_PSK" \
		"BOOTSTRAP_ADMIN_PASSWORD=$CY_ADMIN_PASSWORD" DISPATCH_LEASE=$LEASE \
		DISPATCH_POLL_INTERVAL_MS=500 READINESS_REQUIRE_INFERENCE=false
	cy__track "$STACK_SERVER_PID"
	GW=http://127.0.0.1:$gw2 submit '"true"' 500
	cp "$CY_TMP/ids" "$CY_TMP/ids.2"
	submit '"true"' 500
	cat "$CY_TMP/ids.2" >>"$CY_TMP/ids"
	wait_closed 240
	assert_all_once 1000
	# both replicas dispatched
	grep -q job_finished "$CY_TMP/server-replica.log"
	cat "$CY_TMP"/server*.log | grep -q job_finished
	stack_kill_pid "$(cat "$CY_TMP/replica.pid")" 10
}

# spooled_ids: how many ids of $CY_TMP/running the nodes' journals hold as puts.
spooled_ids()
{
	cat "$CY_TMP"/node-node-[ab]/state/results/journal 2>/dev/null | grep '"put"' |
		grep -oFf "$CY_TMP/running" | sort -u | wc -l
}

@test "nodes restarted while the server is down keep their finished results, applied once it is back" {
	local i n want started
	# Leases and node liveness long enough for the outage: these jobs must
	# complete, not expire.
	LEASE=60s
	kill -9 "$(cat "$CY_TMP/server.pid")"
	server_restart NODE_LIVENESS_TTL=60s
	submit '"sleep 3; echo $CYNODE_JOB_ID"' 16 '"max_attempts":1'
	for i in $(seq 100); do
		[ "$(cy_psql "SELECT count(*) FROM jobs WHERE task_id IN ($(ids_sql))
			AND status = 'running'")" -ge 8 ] && break
		sleep 0.1
	done
	# Every job the database calls running has reached its node: none is
	# claimed but still on its way when the server dies.
	for i in $(seq 100); do
		cy_psql "SELECT id FROM jobs WHERE task_id IN ($(ids_sql)) AND status = 'running'" \
			>"$CY_TMP/running"
		started=$(cat "$CY_TMP"/node-node-[ab].log | grep 'event=job_started' |
			grep -oFf "$CY_TMP/running" | sort -u | wc -l)
		[ "$started" -ge "$(wc -l <"$CY_TMP/running")" ] && break
		sleep 0.1
	done
	kill -9 "$CY_SERVER_PID"
	cy_psql "SELECT id FROM jobs WHERE task_id IN ($(ids_sql)) AND status = 'running'" >"$CY_TMP/running"
	want=$(wc -l <"$CY_TMP/running")
	[ "$want" -ge 8 ]
	# The running jobs end while no server listens: their results are spooled.
	for i in $(seq 200); do
		[ "$(spooled_ids)" -ge "$want" ] && break
		sleep 0.1
	done
	cy_eq "$(spooled_ids)" "$want" "results spooled"
	# node-a crashes, node-b stops; their logs are kept for assert_all_once.
	kill -9 "$(cat "$CY_TMP/node-node-a/pid")"
	kill -TERM "$(cat "$CY_TMP/node-node-b/pid")"
	for n in a b; do
		for i in $(seq 100); do
			kill -0 "$(cat "$CY_TMP/node-node-$n/pid")" 2>/dev/null || break
			sleep 0.1
		done
		cp "$CY_TMP/node-node-$n.log" "$CY_TMP/node-node-$n.before-restart.log"
	done
	server_restart NODE_LIVENESS_TTL=60s
	cy_node_start node-a sandbox.max_concurrency=8
	cy_node_start node-b sandbox.max_concurrency=8
	wait_closed 60
	assert_all_once 16
	# Each spooled result came from a restarted node's journal.
	run bash -c "grep -h 'event=result_redelivered' '$CY_TMP/node-node-a.log' '$CY_TMP/node-node-b.log' |
		grep -oFf '$CY_TMP/running' | sort -u | wc -l"
	cy_eq "$output" "$want" "results redelivered from the journals"
	# Redelivered results go at once, those the server no longer wants at a
	# later sync (every lease/3): the journals empty.
	for i in $(seq 450); do
		[ ! -s "$CY_TMP/node-node-a/state/results/journal" ] &&
			[ ! -s "$CY_TMP/node-node-b/state/results/journal" ] && break
		sleep 0.1
	done
	for n in a b; do
		[ ! -s "$CY_TMP/node-node-$n/state/results/journal" ] ||
			{ echo "node-$n's journal still holds:"; cat "$CY_TMP/node-node-$n/state/results/journal"; false; }
	done
}
