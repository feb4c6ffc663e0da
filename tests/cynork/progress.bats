#!/usr/bin/env bats
#
# progress.bats: a wait's state changes on stderr, as a person sees them in
# a terminal (tmux: send-keys, capture-pane): task create --wait, task wait,
# task logs --follow and task create --follow show "queued → running on
# node-01 → completed, exit 0 after 1.2 s"; nothing of it without a
# terminal or with -q.  The node runs one job at a time, so a task created
# behind a running one is seen queued first.  Progress polls every 2 s, so
# the jobs here run longer than that in each state the test looks for.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	cy_node_start node-01 sandbox.max_concurrency=1
	cy_login >/dev/null
}

tm()
{
	tmux -S "$CY_TMP/tmux" "$@"
}

# Waits until the pane shows text matching the ERE $1 (up to ~40 s).
tm_wait()
{
	local i

	for i in $(seq 1 200); do
		tm capture-pane -p -J -S -50 | grep -Eq -- "$1" && return 0
		sleep 0.2
	done
	echo "pane never showed /$1/:" >&2
	tm capture-pane -p -J -S -50 >&2
	return 1
}

# Runs cynork ARGS... in a fresh 200-column tmux pane (a UTF-8 terminal);
# its exit status lands in $CY_TMP/pane.rc.
in_pane()
{
	local args

	tm kill-server 2>/dev/null || true
	rm -f "$CY_TMP/pane.rc"
	args=$(printf '%q ' "$@")
	tm -f /dev/null new-session -d -x 200 -y 40 \
		"env LANG=C.UTF-8 XDG_CONFIG_HOME=$CY_TMP/xdg CYNORK_GATEWAY_URL=$CY_GATEWAY_URL TERM=xterm $CY_BUILD/cynork $args; echo \$? >$CY_TMP/pane.rc; sleep 60"
}

pane_rc()
{
	local i

	for i in $(seq 1 200); do
		[ -s "$CY_TMP/pane.rc" ] && break
		sleep 0.2
	done
	cat "$CY_TMP/pane.rc"
}

teardown()
{
	tm kill-server 2>/dev/null || true
	[ -n "${BATS_TEST_COMPLETED:-}" ] || cy_show_logs >&3 2>&1 || true
}

# A job that holds the node's one slot for a while; prints its id.
blocker()
{
	cynork -o name task create --command "sleep $1"
}

@test "task create --wait on a terminal: queued → running on node-01 → completed, exit 0 after N s" {
	blocker 3 >/dev/null
	in_pane task create --name prog-wait --command 'sleep 4; echo done' --wait
	tm_wait '^task prog-wait: queued'
	tm_wait '^task prog-wait: queued → running on node-01 → completed, exit 0 after [0-9]+\.[0-9] s$'
	# then the result as -o text shows it on a terminal
	tm_wait '^done$'
	[ "$(pane_rc)" = 0 ]
}

@test "a failing job: the progress line ends with its exit code, then the result line" {
	in_pane task create --command 'sleep 1; exit 3' --wait
	tm_wait '^task [^:]+: (.* → )?failed, exit 3 after [0-9]+\.[0-9] s$'
	[ "$(pane_rc)" = 3 ]
}

@test "task wait over several tasks: a line per change for each" {
	local a b

	a=$(cynork -o name task create --name prog-a --command 'sleep 4')
	b=$(cynork -o name task create --name prog-b --command 'sleep 3; exit 4')
	in_pane task wait "$a" "$b"
	tm_wait "^task $a: running on node-01$"
	tm_wait "^task $b: queued$"
	tm_wait "^task $b: running on node-01$"
	tm_wait "^task $a: completed, exit 0 after [0-9.]+ s$"
	tm_wait "^task $b: failed, exit 4 after [0-9.]+ s$"
	[ "$(pane_rc)" = 4 ]
}

@test "task logs --follow: the changes on their own lines between the job's output" {
	local id

	blocker 2 >/dev/null
	id=$(cynork -o name task create --command 'echo first; sleep 3; echo second')
	in_pane task logs --follow "$id"
	tm_wait "^task $id: queued$"
	tm_wait "^task $id: running on node-01$"
	tm_wait '^second'
	tm_wait "^task $id: completed, exit 0 after [0-9.]+ s$"
	[ "$(pane_rc)" = 0 ]
	run -0 bash -c "tmux -S '$CY_TMP/tmux' capture-pane -p -J -S -50 | grep -c '^first'"
	assert_output 1
}

@test "task create --follow: the job's output and the changes, then its exit code" {
	in_pane task create --command 'echo out; sleep 1; exit 5' --follow
	tm_wait '^out'
	tm_wait '^task [^:]+: failed, exit 5 after [0-9.]+ s$'
	[ "$(pane_rc)" = 5 ]
}

@test "-q on a terminal, or stderr not a terminal: no progress at all" {
	in_pane -q task create --command 'sleep 1; echo quiet' --wait
	tm_wait '^quiet$'
	run -0 bash -c "tmux -S '$CY_TMP/tmux' capture-pane -p -J -S -50 | grep -c '^task .*: ' || true"
	assert_output 0
	[ "$(pane_rc)" = 0 ]
	# stdout and stderr as files: only the result line, and stderr only the note
	run -0 --separate-stderr cynork task create --command 'sleep 1' --wait
	[[ $stderr != *"running on"* && $stderr != *"→"* ]]
	[[ $output == "task_id="*"status=completed"* ]]
	id=$(cynork -o name task create --command 'sleep 1; echo x')
	run -0 --separate-stderr cynork task logs --follow "$id"
	[ -z "$stderr" ]
	assert_output x
}
