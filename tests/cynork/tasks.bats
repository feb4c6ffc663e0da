#!/usr/bin/env bats
#
# tasks.bats: cynork's task commands end to end with every real part: a
# private PostgreSQL, cynode-server, one cynode-node running jobs in
# bubblewrap.  create in every input mode, result (table and JSON), --wait
# and the job's exit code, names, list/filter/paging, logs, cancel (with and
# without confirmation), --timeout (exit 124) and -o name.  Tests that leave
# a long job running on the node come last.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	cy_node_start node-01
	cy_login >/dev/null
}

UUID_RE='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'

# Create a task with ARGS...; print its id.
create_id()
{
	cynork -o name task create "$@"
}

@test "nodes list and nodes get show the running node" {
	run cynork nodes list --no-headers
	assert_success
	assert_output --partial "node-01"
	assert_output --partial "active"
	run cynork node get node-01
	assert_success
	assert_output --partial "node_slug=node-01"
	assert_output --partial "status=active"
	assert_output --partial "config_ack_status=applied"
	run cynork -o json nodes get node-01
	assert_success
	[ "$(jq -r .node_slug <<<"$output")" = node-01 ]
	run -66 cynork nodes get no-such-node
	run -64 cynork nodes get
}

@test "task create --command prints task_id=" {
	run cynork task create --command 'echo hello'
	assert_success
	assert_output --regexp '^task_id=[0-9a-f-]{36}'
	echo "${output#task_id=}" | cut -d' ' -f1 >"$CY_TMP/hello-id"
}

@test "task result --wait shows completed and the output" {
	local id

	id=$(cat "$CY_TMP/hello-id")
	run cynork task result "$id" --wait
	assert_success
	assert_output --partial "task_id=$id"
	assert_output --partial "status=completed"
	assert_output --partial "exit_code=0"
	assert_output --partial "hello"
	[ "${#lines[@]}" -eq 1 ]
}

@test "task result -o json parses with stdout and exit_code" {
	local id

	id=$(cat "$CY_TMP/hello-id")
	run cynork -o json task result "$id"
	assert_success
	run jq -e '.stdout == "hello\n" and .exit_code == 0 and .status == "completed"' <<<"$output"
	assert_success
}

@test "task create --wait exits with the job's exit code" {
	run -3 cynork task create --command 'exit 3' --wait
	assert_output --partial "status=failed"
	assert_output --partial "exit_code=3"
	run -0 cynork task create --command 'true' --wait
	assert_output --partial "status=completed"
}

@test "repeated --command runs in order" {
	run --separate-stderr cynork -o json task create --command 'echo a' --command 'echo b' --wait
	assert_success
	run jq -er .stdout <<<"$output"
	assert_output "$(printf 'a\nb')"
}

@test "--commands-file skips blank lines" {
	printf 'echo one\n\n   \necho two\n\t\n' >"$CY_TMP/cmds.txt"
	run --separate-stderr cynork -o json task create --commands-file "$CY_TMP/cmds.txt" --wait
	assert_success
	run jq -er .stdout <<<"$output"
	assert_output "$(printf 'one\ntwo')"
}

@test "--script from a file and from stdin" {
	printf '#!/bin/sh\nx=41\necho "answer $((x + 1))"\n' >"$CY_TMP/s.sh"
	run --separate-stderr cynork -o json task create --script "$CY_TMP/s.sh" --wait
	assert_success
	run jq -er .stdout <<<"$output"
	assert_output "answer 42"
	run --separate-stderr cynork -o json task create -s - --wait <<<'echo from-stdin; echo err >&2'
	assert_success
	run jq -e '.stdout == "from-stdin\n" and .stderr == "err\n"' <<<"$output"
	assert_success
}

@test "-p prompt mode is refused clearly without an inference path" {
	run -69 cynork task create -p 'summarise the news'
	assert_output --partial "no inference path available"
	run -125 cynork task create -p 'say hi' --wait
	assert_output --partial "no inference path available"
}

@test "--name then task get by name shows task_name" {
	run cynork task create --name my-task --command 'echo named'
	assert_success
	assert_output --partial "task_name=my-task"
	cynork -q task result my-task --wait >/dev/null
	run cynork task get my-task
	assert_success
	assert_output --partial "task_name=my-task"
	assert_output --partial "status=completed"
	run cynork task result my-task
	assert_success
	assert_output --partial "named"
}

@test "task list shows tasks; -l 1 pages; --status filters" {
	run cynork task list
	assert_success
	assert_output --partial "task_name=my-task"
	[ "${#lines[@]}" -ge 5 ]
	run cynork -o json task list -l 1
	assert_success
	run jq -e '(.tasks | length) == 1 and (.next_cursor | type) == "string" and .next_cursor != ""' <<<"$output"
	assert_success
	run cynork -o json task list --status completed
	assert_success
	run jq -e '(.tasks | length) >= 1 and all(.tasks[]; .status == "completed")' <<<"$output"
	assert_success
	run cynork -o json task list --status failed
	assert_success
	run jq -e '(.tasks | length) >= 1 and all(.tasks[]; .status == "failed")' <<<"$output"
	assert_success
}

@test "task logs prints the output; --stream stderr only stderr" {
	local id

	id=$(create_id --command 'echo out-line; echo err-line >&2')
	cynork task result "$id" --wait >/dev/null
	run --separate-stderr cynork task logs "$id"
	assert_success
	assert_output --partial "out-line"
	assert_output --partial "err-line"
	run --separate-stderr cynork task logs "$id" --stream stderr
	assert_success
	assert_output "err-line"
	run --separate-stderr cynork task logs "$id" --stream stdout
	assert_output "out-line"
	run cynork -o json task logs "$id"
	run jq -e '.lines == ["out-line", "err-line"]' <<<"$output"
	assert_success
}

@test "-o name prints only the id" {
	run --separate-stderr cynork -o name task create --command true
	assert_success
	[ "${#lines[@]}" -eq 1 ]
	[[ $output =~ $UUID_RE ]]
}

@test "task cancel -y on a finished task exits 73" {
	run -73 cynork task cancel -y "$(cat "$CY_TMP/hello-id")"
}

@test "task result of an unknown task exits 66" {
	run -66 cynork task result 00000000-0000-0000-0000-000000000000
}

@test "task wait ID...: 0 when all completed, else the first failed job's code" {
	local ok bad3 bad5

	ok=$(create_id --command 'echo fine')
	bad3=$(create_id --command 'exit 3')
	bad5=$(create_id --command 'exit 5')
	run cynork task wait "$ok"
	assert_success
	assert_output --partial "status=completed"
	run -3 cynork task wait "$ok" "$bad3" "$bad5"
	[ "${#lines[@]}" -eq 3 ]
	run -5 cynork task wait "$bad5" "$bad3"
	run -5 cynork -o json task wait "$bad5"
	run jq -e '.exit_code == 5 and .status == "failed"' <<<"$output"
	assert_success
	# cynork's own failures while it would pass a job's code through: 125.
	run -125 cynork task wait "$ok" no-such-task
	run -125 cynork task wait
	run -125 cynork task wait "$ok" --timeout soon
	run -125 cynork task wait "$ok" --timeout 0s
	CYNORK_TOKEN= run -125 cynork --config "$CY_TMP/none.yaml" task wait "$ok"
}

@test "task wait ID...: one wait over running tasks, results in argument order" {
	local slow fast bad t0=$SECONDS

	slow=$(create_id --command 'sleep 2; echo slow')
	bad=$(create_id --command 'sleep 1; exit 4')
	fast=$(create_id --command 'echo fast')
	run -4 --separate-stderr cynork task wait "$slow" "$bad" "$fast"
	[ "${#lines[@]}" -eq 3 ]
	[[ ${lines[0]} == "task_id=$slow status=completed "*" exit_code=0 stdout=\"slow\\n\""* ]]
	[[ ${lines[1]} == "task_id=$bad status=failed "*" exit_code=4 "* ]]
	[[ ${lines[2]} == "task_id=$fast status=completed "*" exit_code=0 stdout=\"fast\\n\""* ]]
	[ $((SECONDS - t0)) -lt 30 ]
	run -0 cynork task wait "$fast" "$slow"
	[ "${#lines[@]}" -eq 2 ]
	run -4 cynork -o json task wait "$fast" "$bad"
	run jq -se 'map(.exit_code) == [0, 4]' <<<"$output"
	assert_success
}

@test "task wait with an unknown task among several exits 125 before waiting" {
	local ok

	ok=$(create_id --command 'echo fine')
	run -125 --separate-stderr cynork task wait "$ok" no-such-task "$ok"
	[ -z "$output" ]
	[[ $stderr == *"task 'no-such-task' not found"* ]]
	[[ $stderr == *"cynork: exit 125: cynork failed (66, not_found), not the job"* ]]
	run -125 --separate-stderr cynork -o json task wait "$ok" no-such-task
	run jq -e '.cynork_error.code == 66 and .cynork_error.reason == "not_found" and (.cynork_error.message | test("no-such-task"))' <<<"$output"
	assert_success
}

@test "task wait takes at most 1000 tasks, the server's limit" {
	local -a many

	mapfile -t many < <(seq 1001)
	run -125 --separate-stderr cynork task wait "${many[@]}"
	[[ $stderr == *"at most 1000"* ]]
}

@test "task logs --follow waits for a queued task and prints its output" {
	local id

	id=$(create_id --command 'sleep 2; echo done; echo oops >&2')
	run cynork -o json task get "$id"
	run jq -er .status <<<"$output"
	assert_output --regexp '^(queued|running)$'
	run --separate-stderr cynork task logs --follow "$id"
	assert_success
	assert_output $'done\noops'
	run cynork -o json task get "$id"
	run jq -er .status <<<"$output"
	assert_output completed
	id=$(create_id --command 'sleep 2; echo out-2; echo err-2 >&2')
	run --separate-stderr cynork task logs -F "$id" --stream stderr
	assert_success
	assert_output "err-2"
	run --separate-stderr cynork task logs -F "$id" --stream stdout
	assert_output "out-2"
}

@test "task logs --follow on a finished task prints at once; unknown task exits 66" {
	local id t0

	id=$(create_id --command 'echo finished')
	cynork task result "$id" --wait >/dev/null
	t0=$SECONDS
	run --separate-stderr cynork task logs --follow "$id"
	assert_success
	assert_output "finished"
	[ $((SECONDS - t0)) -lt 5 ]
	run -66 --separate-stderr cynork task logs --follow no-such-task
	[[ $stderr == *"not found"* ]]
}

# --- these leave long jobs on the node: keep them last ----------------------

@test "task create --wait --wait-timeout 1s gives up with exit 124" {
	local t0=$SECONDS

	run -124 cynork task create --command 'sleep 5' --wait --wait-timeout 1s
	assert_output --partial "gave up waiting"
	[ $((SECONDS - t0)) -lt 5 ]
}

@test "task wait --timeout gives up with exit 124 and says so" {
	local id

	id=$(create_id --command 'sleep 4')
	run -124 --separate-stderr cynork task wait "$id" --timeout 1s
	[[ $stderr == *"gave up waiting"* ]]
}

@test "task wait --timeout with several: prints the ended ones, names the others" {
	local a ok b

	ok=$(create_id --command 'echo quick')
	cynork task result "$ok" --wait >/dev/null
	a=$(create_id --command 'sleep 20')
	b=$(create_id --command 'sleep 20')
	run -124 --separate-stderr cynork task wait "$a" "$ok" "$b" --timeout 1s
	[ "${#lines[@]}" -eq 1 ]
	[[ ${lines[0]} == "task_id=$ok status=completed"* ]]
	[[ $stderr == *"gave up waiting for tasks '$a', '$b' after 1s (--timeout)"* ]]
	run -124 --separate-stderr cynork task wait "$a" --timeout 1s
	[[ $stderr == *"gave up waiting for task '$a' after 1s"* ]]
	cynork task cancel -y "$a" >/dev/null
	cynork task cancel -y "$b" >/dev/null
	run -143 --separate-stderr cynork task wait "$ok" "$a"
	[ "${#lines[@]}" -eq 2 ]
}

@test "declining the cancel prompt sends nothing and exits 0; no terminal to ask is 64" {
	local id

	id=$(create_id --command 'sleep 30')
	run -0 cy_tty_cynork n task cancel "$id"
	assert_output --partial "Cancel task $id? [y/N]"
	assert_output --partial "nothing done"
	run -64 --separate-stderr cynork task cancel "$id" <<<"y"
	[[ $stderr == *"'cynork task cancel' asks for confirmation and standard input is not a terminal; give -y to go on"* ]]
	[[ $stderr != *"[y/N]"* ]]
	[ -z "$output" ]
	run cynork -o json task get "$id"
	assert_success
	run jq -er .status <<<"$output"
	assert_output --regexp '^(queued|running)$'
	echo "$id" >"$CY_TMP/long-id"
}

@test "task cancel -y on a running task cancels it" {
	local id

	id=$(cat "$CY_TMP/long-id")
	run cynork task cancel -y "$id"
	assert_success
	assert_output --partial "task_id=$id"
	assert_output --partial "canceled=true"
	run cynork task result "$id" --wait
	assert_success
	assert_output --partial "status=canceled"
	run -73 cynork task cancel -y "$id"
}

@test "task create --wait exits 143 when the task is canceled meanwhile" {
	local pid rc=0 i

	cynork task create --name wait-cancel --command 'sleep 30' --wait \
		>"$CY_TMP/wc.out" 2>&1 &
	pid=$!
	for i in $(seq 150); do
		cynork task get wait-cancel >/dev/null 2>&1 && break
		sleep 0.2
	done
	run cynork task cancel -y wait-cancel
	assert_success
	assert_output --regexp '^task_id=[0-9a-f-]{36} canceled=true task_name=wait-cancel$'
	wait "$pid" || rc=$?
	[ "$rc" -eq 143 ]
	run cat "$CY_TMP/wc.out"
	assert_output --partial "status=canceled"
}
