#!/usr/bin/env bats
#
# happy_path.bats: the single-node end-to-end path with every real part:
# private PostgreSQL, cynode-server, one cynode-node running jobs in
# bubblewrap, and cynork as the user.  login -> task create -> task result,
# a failing command's exit code, `task create --wait` exit codes, task list,
# orchestrator readiness before and after the node, and the node closing
# the dispatcher's idle connections.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	# Readiness before any node exists, recorded for the test below.
	stack_http_code "$CY_GATEWAY_URL/readyz" >"$CY_TMP/readyz-before"
	stack_http_code "$CY_CONTROL_URL/readyz" >"$CY_TMP/readyz-before-cp"
	cy_node_start node-01
	cy_login >/dev/null
}

# Create a task running COMMAND; print its id.
create_task()
{
	cynork -o json task create --command "$1" | jq -er '.task_id // .id'
}

@test "readyz is 503 before a node is up and 200 once it is" {
	run cat "$CY_TMP/readyz-before"
	assert_output 503
	run cat "$CY_TMP/readyz-before-cp"
	assert_output 503
	run stack_http_code "$CY_GATEWAY_URL/readyz"
	assert_output 200
	run stack_http_code "$CY_CONTROL_URL/readyz"
	assert_output 200
	run stack_http_code "$CY_NODE_URL/readyz"
	assert_output 200
}

@test "healthz answers ok on gateway, control plane and node" {
	run curl -sf "$CY_GATEWAY_URL/healthz"
	assert_success
	assert_output --partial ok
	run curl -sf "$CY_CONTROL_URL/healthz"
	assert_success
	run curl -sf "$CY_NODE_URL/healthz"
	assert_success
}

@test "cynork logs in as admin" {
	run cy_login
	assert_success
	assert_output --partial "logged_in=true"
	assert_output --partial "user=admin"
	run cynork auth whoami
	assert_success
	assert_output --partial "user=admin"
}

@test "task create then task result --wait shows hello, status completed" {
	run cynork task create --command 'echo hello'
	assert_success
	assert_output --regexp 'task_id=[0-9a-f-]{36}'
	id=$(printf '%s\n' "$output" | grep -oE 'task_id=[0-9a-f-]{36}' | head -n 1 | cut -d= -f2)

	run --separate-stderr cynork task result "$id" --wait
	assert_success
	assert_output --partial "status=completed"
	assert_output --partial "hello"
	# Table mode: exactly one line on stdout (stdout is logfmt-quoted).
	[ "${#lines[@]}" -eq 1 ]

	run --separate-stderr cynork -o json task result "$id" --wait
	assert_success
	[ "$(jq -r .status <<<"$output")" = completed ]
	[ "$(jq -r .stdout <<<"$output")" = hello ] ||
		[ "$(jq -r .stdout <<<"$output")" = $'hello\n' ]
}

@test "a failing command shows its exit code and status failed" {
	id=$(create_task 'echo oops >&2; exit 7')
	run cynork task result "$id" --wait
	assert_success
	assert_output --partial "status=failed"
	assert_output --partial "oops"

	# The stored job result carries exit_code 7 (contract 2.3, always present).
	token=$(cy_admin_token)
	cy_api GET "/v1/tasks/$id/result" "" "$token"
	cy_status 200
	[ "$(jq -r .status <<<"$body")" = failed ]
	[ "$(jq -r '.jobs[0].result | fromjson | .exit_code' <<<"$body")" = 7 ]
	[ "$(jq -r '.jobs[0].result | fromjson | .status' <<<"$body")" = failed ]
}

@test "task create --wait exits 0 for a command that succeeds" {
	run cynork task create --command 'echo hi' --wait
	assert_success
	assert_output --partial "hi"
}

@test "task create --wait exits with the job's exit code" {
	run cynork task create --command 'exit 3' --wait
	assert_failure 3
}

@test "commands run in order in one sandbox job" {
	run --separate-stderr cynork -o json task create --command 'echo one' --command 'echo two' --wait
	assert_success
	[ "$(jq -r .stdout <<<"$output")" = $'one\ntwo' ] ||
		[ "$(jq -r .stdout <<<"$output")" = $'one\ntwo\n' ]
}

@test "the job runs in a sandbox: no network, unprivileged, read-only system" {
	run --separate-stderr cynork -o json task create --wait --command \
		'id -u; touch /usr/x 2>/dev/null && echo rw || echo ro; cat /proc/net/dev | wc -l; echo $CYNODE_TASK_ID'
	assert_success
	out=$(jq -r .stdout <<<"$output")
	uid=$(sed -n 1p <<<"$out")
	[ "$uid" != 0 ]
	[ "$(sed -n 2p <<<"$out")" = ro ]
	# Only the header lines and lo in a fresh network namespace.
	[ "$(sed -n 3p <<<"$out")" -le 3 ]
	[ -n "$(sed -n 4p <<<"$out")" ]
}

@test "task list shows the tasks with their status" {
	run cynork task list
	assert_success
	assert_output --partial "status=completed"
	assert_output --partial "status=failed"
	[ "$(printf '%s\n' "$output" | grep -c 'task_id=')" -ge 4 ]

	run --separate-stderr cynork -o json task list --status failed
	assert_success
	[ "$(jq '.tasks | length' <<<"$output")" -ge 2 ]
	[ "$(jq -r '[.tasks[].status] | unique | join(",")' <<<"$output")" = failed ]
}

@test "task get and task logs work on a finished task" {
	id=$(create_task 'echo logline')
	run cynork task result "$id" --wait
	assert_success
	run cynork task get "$id"
	assert_success
	assert_output --partial "task_id=$id"
	assert_output --partial "status=completed"
	run cynork task logs "$id"
	assert_success
	assert_output --partial logline
}

@test "nodes list shows the node as active" {
	run cynork nodes list
	assert_success
	assert_output --partial node-01
}

# The node's Worker API connection threads (one per open connection).
node_conn_threads()
{
	grep -lx MHD-connection /proc/"$CY_NODE_PID"/task/*/comm 2>/dev/null | wc -l
}

@test "the node closes the dispatcher's idle connections; a job longer than that still answers" {
	local ids=() id i n
	# Jobs at once: the dispatcher opens connections for them and keeps them.
	for i in 1 2 3; do
		ids+=("$(create_task 'sleep 1')")
	done
	for id in "${ids[@]}"; do
		run cynork task result "$id" --wait
		assert_success
	done
	[ "$(node_conn_threads)" -ge 1 ]
	# Longer than the 10 s a connection may stay idle: its request is not cut.
	run cynork task create --command 'sleep 12; echo late' --wait
	assert_success
	assert_output --partial late
	# Idle for 10 s after their last answer, the connections close.
	for i in $(seq 1 40); do
		n=$(node_conn_threads)
		[ "$n" = 0 ] && break
		sleep 0.5
	done
	[ "$n" = 0 ]
	# The next job opens a new one.
	run cynork task create --command 'echo again' --wait
	assert_success
	assert_output --partial again
}
