#!/usr/bin/env bats
#
# events.bats: cynork events against the real server and a node: a task's
# events one line each (key=value records, or JSON lines with -o json, a
# YAML stream with -o yaml),
# --since, --task and --type filters, garbage flags, and --follow in a
# terminal (tmux: send-keys, capture-pane): new events as they happen, a
# server restart survived by reconnecting after the last id (the event
# written while it was down is printed once, nothing twice), Ctrl-C.

load ../lib/harness
load ../lib/identity
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	cy_node_start node-01 sandbox.max_concurrency=2
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
		tm capture-pane -p -J -S -200 | grep -Eq -- "$1" && return 0
		sleep 0.2
	done
	echo "pane never showed /$1/:" >&2
	tm capture-pane -p -J -S -200 >&2
	return 1
}

# Runs cynork ARGS... in a fresh 200-column tmux pane; its exit status lands
# in $CY_TMP/pane.rc (the pane's shell outlives a Ctrl-C: its trap is not an
# ignore, so cynork gets the default SIGINT).
in_pane()
{
	local args

	tm kill-server 2>/dev/null || true
	rm -f "$CY_TMP/pane.rc"
	args=$(printf '%q ' "$@")
	tm -f /dev/null new-session -d -x 200 -y 50 \
		"trap : INT; env LANG=C.UTF-8 XDG_CONFIG_HOME=$CY_TMP/xdg CYNORK_GATEWAY_URL=$CY_GATEWAY_URL TERM=xterm $CY_BUILD/cynork $args; echo \$? >$CY_TMP/pane.rc; sleep 60"
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

# done_task NAME SCRIPT: creates a task and waits for it; prints its id
done_task()
{
	cynork -o json task create --name "$1" --command "$2" --wait | jq -r .task_id
}

@test "events --task: one key=value line per event, in order" {
	id=$(done_task ev-cli 'echo hi')
	sleep 0.3
	run -0 cynork events --task ev-cli
	[ "${#lines[@]}" = 3 ]
	assert_line --index 0 --regexp "^event_id=[0-9]+ time=[0-9-]+T[0-9:.]+Z type=task.created task=ev-cli task_id=$id status=queued$"
	assert_line --index 1 --regexp "^event_id=[0-9]+ time=.* type=task.running task=ev-cli task_id=$id status=running previous=queued$"
	assert_line --index 2 --regexp "^event_id=[0-9]+ time=.* type=task.completed task=ev-cli task_id=$id status=completed previous=running$"
}

@test "events -o json: JSON lines, -o yaml a YAML stream; --since gives the events after an id; --type" {
	done_task ev-json-a 'true' >/dev/null
	done_task ev-json-b 'true' >/dev/null
	sleep 0.3
	run -0 cynork -o json events --type task
	all=$output
	run -0 jq -sr 'map(.type) | unique | join(" ")' <<<"$all"
	assert_output "task.completed task.created task.running"
	from=$(jq -r 'select(.task_name == "ev-json-a" and .type == "task.completed") | .event_id' <<<"$all")
	run -0 cynork -o json events --type task --since "$from"
	[ "$(jq -r .event_id <<<"$output")" = "$(jq -r "select(.event_id > $from) | .event_id" <<<"$all")" ]
	run -0 jq -r .task_name <<<"$output"
	assert_output $'ev-json-b\nev-json-b\nev-json-b'
	# -o yaml: the same events as a YAML stream, one document each.
	run -0 cynork -o yaml events --type task --since "$from"
	[ "$(grep -c '^---$' <<<"$output")" -eq 2 ]
	assert_line --regexp '^type: task\.completed$'
	diff <(yq -s -S . <<<"$output") <(cynork -o json events --type task --since "$from" | jq -s -S .)
	# Node events for the admin.
	run -0 cynork -o json events --type node
	run -0 jq -r 'select(.node == "node-01") | .type' <<<"$output"
	assert_line node.registered
}

@test "events: garbage flags" {
	run -64 cynork events --type nodes
	assert_output --partial "nodes"
	run -64 cynork events --since abc
	assert_output --partial "invalid event id 'abc' for --since"
	run -64 cynork events --since -1
	run -64 cynork events --task x --type node
	assert_output --partial "--task goes with task events"
	run -66 cynork events --task no-such-task
	run -64 cynork events extra-arg
	# A user's node events: the server's 403 (exit 77); everyone's tasks: operators only.
	id_user ev-user user >/dev/null
	id_login ev-user
	CYNORK_TOKEN=$access run -77 cynork events --type node
	assert_output --partial "Operator role"
	CYNORK_TOKEN=$access run -77 cynork events --all
	CYNORK_TOKEN=$access run -0 cynork events
	assert_output ""
}

@test "events: -F is --follow (cli.md), the older -f still works" {
	# following never ends by itself: timeout's 124 says the flag was taken
	run -124 timeout 2 env XDG_CONFIG_HOME="$CY_TMP/xdg" CYNORK_GATEWAY_URL="$CY_GATEWAY_URL" "$CY_BUILD/cynork" events -F --type task
	run -124 timeout 2 env XDG_CONFIG_HOME="$CY_TMP/xdg" CYNORK_GATEWAY_URL="$CY_GATEWAY_URL" "$CY_BUILD/cynork" events -f --type task
	run -64 cynork events -G
	run -0 cynork events --help
	assert_output --partial "-F, -f, --follow"
}

@test "events --follow in a terminal: live events, survives a server restart, Ctrl-C" {
	local gw cp last
	sleep 0.3
	last=$(cynork -o json events --type task | tail -n 1 | jq -r .event_id)
	in_pane events --follow --type task --since "$last"
	sleep 1
	id=$(done_task ev-follow 'sleep 0.3')
	tm_wait "type=task.completed task=ev-follow task_id=$id"
	# The server goes away; an event is written meanwhile; the same server comes back.
	gw=${CY_GATEWAY_URL##*:}
	cp=${CY_CONTROL_URL##*:}
	cy_server_stop
	tm_wait "event stream .*reconnecting in"
	uid=$(cy_psql "SELECT id FROM users WHERE handle = 'admin'")
	cy_psql "INSERT INTO events (kind, type, user_id, task_id, data) VALUES ('task', 'task.canceled',
		'$uid', '$id', '{\"task_id\": \"$id\", \"task_name\": \"ev-offline\", \"status\": \"canceled\"}')"
	stack_server_start "$gw" "$cp" "$CY_TMP/server2.log" "$CY_TMP/server.pid" \
		"JWT_SECRET=$CY_JWT_SECRET" "NODE_REGISTRATION_PSK=$CY_PSK" \
		"BOOTSTRAP_ADMIN_PASSWORD=$CY_ADMIN_PASSWORD" READINESS_REQUIRE_INFERENCE=false
	cy__track "$STACK_SERVER_PID"
	CY_SERVER_PID=$STACK_SERVER_PID
	tm_wait "type=task.canceled task=ev-offline"
	id2=$(done_task ev-after 'true')
	tm_wait "type=task.completed task=ev-after task_id=$id2"
	tm send-keys C-c
	[ "$(pane_rc)" = 130 ]
	# Each event once, in id order.
	run -0 bash -c "tmux -S '$CY_TMP/tmux' capture-pane -p -J -S -200 | sed -n 's/^event_id=\([0-9]*\) .*/\1/p'"
	[ "${#lines[@]}" -ge 7 ]
	[ "$output" = "$(sort -n -u <<<"$output")" ]
}
