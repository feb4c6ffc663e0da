#!/usr/bin/env bats
# The server's database connections are shared by its HTTP worker threads:
# a thread hands its connection back after each request and the next
# request takes the most recently used one, so clients that connect once
# per request (cynork, curl) run on a few warm connections instead of each
# worker thread opening its own.  A connection that broke meanwhile is
# replaced, not handed out.

load ../lib/harness

setup_file()
{
	cy_setup_file
	cy_pg_start
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
