#!/usr/bin/env bats
# The server's database connections are shared by its HTTP worker threads:
# a thread hands its connection back after each request and the next
# request takes the most recently used one, so clients that connect once
# per request (cynork, curl) run on a few warm connections instead of each
# worker thread opening its own.  A connection that broke meanwhile is
# replaced, not handed out.  Over TCP every connection has keepalives
# (a database host that vanishes fails it within a minute) unless
# DATABASE_URL turns them off.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	# TCP as well as the socket: the keepalive test connects through it.
	STACK_PG_OPTS="-c listen_addresses=127.0.0.1" cy_pg_start
	CY_PG_PORT=$STACK_PG_PORT
	export CY_PG_PORT
	cy_server_start
	CY_TOKEN=$(cy_admin_token)
	export CY_TOKEN
}

server_conns()
{
	cy_psql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'cynode-server'"
}

@test "forty one-shot clients run on a few warm connections" {
	local i before after

	before=$(server_conns)
	for ((i = 0; i < 40; i++)); do
		cy_api GET /v1/tasks "" "$CY_TOKEN"
		[ "$status_code" = 200 ]
	done
	after=$(server_conns)
	# The listeners have 16 worker threads each; one connection per thread
	# would have opened a dozen or more here.
	[ "$after" -le $((before + 2)) ] || { echo "before $before after $after"; false; }
}

@test "an idle connection whose backend ended is replaced, not handed out" {
	local i

	cy_api GET /v1/tasks "" "$CY_TOKEN"
	[ "$status_code" = 200 ]
	# End every idle backend of the server's (the shared ones among them).
	cy_psql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = 'cynode-server' AND state = 'idle'
		AND query NOT ILIKE 'LISTEN%'" >/dev/null
	sleep 0.2
	for ((i = 0; i < 10; i++)); do
		cy_api POST /v1/tasks '{"input_mode":"commands","prompt":"true"}' "$CY_TOKEN"
		[ "$status_code" = 201 ] || { echo "request $i: $status_code $body"; false; }
	done
}

@test "TCP connections to the database carry keepalives unless DATABASE_URL turns them off" {
	local ka gw cp url lines
	for ka in on off; do
		gw=$(cy_free_port)
		cp=$(cy_free_port)
		url="postgresql://cynode@127.0.0.1:$CY_PG_PORT/cynode"
		[ "$ka" = off ] && url="$url?keepalives=0"
		stack_server_start "$gw" "$cp" "$CY_TMP/server-$ka.log" "$CY_TMP/server-$ka.pid" \
			"DATABASE_URL=$url" "JWT_SECRET=$CY_JWT_SECRET" "NODE_REGISTRATION_PSK=$CY_PSK" \
			"BOOTSTRAP_ADMIN_PASSWORD=$CY_ADMIN_PASSWORD" READINESS_REQUIRE_INFERENCE=false
		cy__track "$STACK_SERVER_PID"
		curl -s -o /dev/null -H "Authorization: Bearer $CY_TOKEN" "http://127.0.0.1:$gw/v1/tasks"
		# Its listener, notification sender, chores, auth cache and a pool connection.
		lines=$(ss -Htnpo state established "( dport = :$CY_PG_PORT )" |
			grep "pid=$STACK_SERVER_PID,")
		[ "$(wc -l <<<"$lines")" -ge 4 ] || { echo "$lines"; false; }
		if [ "$ka" = on ]; then
			run ! grep -v 'timer:(keepalive' <<<"$lines"
		else
			run ! grep 'timer:(keepalive' <<<"$lines"
		fi
		stack_kill_pid "$STACK_SERVER_PID" 10
	done
}

# The last test stops the postmaster (SIGSTOP): whatever happens, it goes on.
teardown()
{
	local pm
	pm=$(head -n 1 "$CY_PG_DIR/data/postmaster.pid" 2>/dev/null) &&
		kill -CONT "$pm" 2>/dev/null || true
	[ -n "${BATS_TEST_COMPLETED:-}" ] || cy_show_logs >&3 2>&1 || true
}

@test "a stop does not wait out connect timeouts when the database stops answering" {
	local gw cp url pm t0 t1
	gw=$(cy_free_port)
	cp=$(cy_free_port)
	url="postgresql://cynode@127.0.0.1:$CY_PG_PORT/cynode"
	stack_server_start "$gw" "$cp" "$CY_TMP/server-stop.log" "$CY_TMP/server-stop.pid" \
		"DATABASE_URL=$url" "JWT_SECRET=$CY_JWT_SECRET" "NODE_REGISTRATION_PSK=$CY_PSK" \
		"BOOTSTRAP_ADMIN_PASSWORD=$CY_ADMIN_PASSWORD" READINESS_REQUIRE_INFERENCE=false
	cy__track "$STACK_SERVER_PID"
	curl -sf -o /dev/null -H "Authorization: Bearer $CY_TOKEN" "http://127.0.0.1:$gw/v1/tasks"
	# Its notification sender loses its connection (its backend ends), then
	# no new connection gets an answer: with the postmaster stopped, running
	# backends still answer and a new connection waits (connect_timeout 10 s).
	cy_psql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = 'cynode-server-notify' AND client_addr IS NOT NULL" >/dev/null
	pm=$(head -n 1 "$CY_PG_DIR/data/postmaster.pid")
	kill -STOP "$pm"
	# A create on a pool connection still commits; its wake-up needs the sender.
	run curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $CY_TOKEN" \
		-H 'Content-Type: application/json' -d '{"input_mode":"commands","prompt":"true"}' \
		"http://127.0.0.1:$gw/v1/tasks"
	assert_output 201
	sleep 0.5
	t0=$(date +%s%N)
	stack_kill_pid "$STACK_SERVER_PID" 30
	t1=$(date +%s%N)
	kill -CONT "$pm"
	# Two connect timeouts would be 20 s (it took 30 s and more); the
	# sender's connect gives up 2 s into the stop, and the thread is joined.
	[ $(((t1 - t0) / 1000000)) -lt 12000 ] || { echo "stop took $(((t1 - t0) / 1000000)) ms"; false; }
	grep -q 'event=notify_not_sent' "$CY_TMP/server-stop.log"
	grep -q 'event=server_stopped' "$CY_TMP/server-stop.log"
	! grep -q 'event=notify_stop_timeout' "$CY_TMP/server-stop.log" || false
}
