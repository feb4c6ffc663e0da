#!/usr/bin/env bats
#
# shell.bats: `cynork shell` against the real server.  Non-interactive:
# `shell -c LINE` exit codes, lines on stdin, no flag state leaking between
# lines, exit/quit/EOF.  Interactive, through a pseudo-terminal (a private
# tmux server): the prompt with user and gateway, tab completion of
# commands, flags, enum values and task names, history (0600, no secrets,
# nothing typed at the password prompt) and the exit code.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	cy_login >/dev/null
	cynork task create --name shell-demo --command true >/dev/null
}

teardown_file()
{
	[ -S "$CY_TMP/tmux" ] && tmux -S "$CY_TMP/tmux" kill-server 2>/dev/null
	cy_teardown_file
}

@test "shell -c runs one line and exits with its code" {
	run cynork shell -c version
	assert_success
	assert_output --regexp '^cynork version='
	run -66 cynork shell -c 'task get no-such-task'
	run -64 cynork shell -c 'task list --limit 0'
	run -64 cynork shell -c 'bogus'
	run -64 cynork shell -c 'task get "unterminated'
	run cynork shell -c 'cynork whoami'
	assert_output --partial "user=admin"
	CYNORK_TOKEN= run -77 cynork --config "$CY_TMP/none.yaml" shell -c whoami
}

@test "shell -c keeps -c after shell apart from the global -c/--config" {
	run cynork -c "$CY_TMP/xdg/cynork/config.yaml" shell -c whoami
	assert_success
	assert_output --partial "user=admin"
	run -64 cynork shell -c 'shell'
	assert_output --partial "not available inside the shell"
	run -64 cynork shell -c '--config /tmp/x version'
	assert_output --partial "cannot change inside the shell"
}

@test "lines on stdin: each runs; the last code is the shell's; exit N and quit" {
	run cynork shell <<<$'version\nwhoami'
	assert_success
	assert_line --index 0 --regexp '^cynork version='
	assert_line --index 1 --partial "user=admin"
	run -66 cynork shell <<<$'version\ntask get nope'
	run -7 cynork shell <<<$'exit 7\nversion'
	refute_output --partial "version="
	run cynork shell <<<$'task get nope\nquit'
	[ "$status" -eq 66 ]
	run -64 cynork shell <<<'exit abc'
}

@test "no flag state leaks from one line to the next" {
	run cynork shell <<<$'-o json version\nversion\ntask list -l 1 --status queued\ntask list'
	assert_success
	# line 1 is JSON, line 2 is a record line again
	[ "$(printf '%s\n' "${lines[@]}" | grep -c '^cynork version=')" -eq 1 ]
	assert_line --partial '"version":'
	# without --status/-l the second listing is not filtered by the first's flags
	[ "$(printf '%s\n' "${lines[@]}" | grep -c '^task_id=')" -ge 2 ]
	# -o json given before `shell` is the session default
	run cynork -o json shell <<<'version'
	run jq -e .version <<<"$output"
	assert_success
}

@test "--help inside the shell, and help" {
	run cynork shell <<<$'task create --help\nhelp task'
	assert_success
	assert_output --partial "--commands-file"
	assert_output --partial "wait"
}

# --- through a pseudo-terminal ----------------------------------------------

tm()
{
	tmux -S "$CY_TMP/tmux" "$@"
}

# Waits until the pane shows text matching the ERE $1 (up to ~30 s).
tm_wait()
{
	local i

	for i in $(seq 1 150); do
		tm capture-pane -p -S -50 | grep -Eq -- "$1" && return 0
		sleep 0.2
	done
	echo "pane never showed /$1/:" >&2
	tm capture-pane -p -S -50 >&2
	return 1
}

start_shell()
{
	rm -f "$CY_TMP/shell.rc"
	tm -f /dev/null new-session -d -x 160 -y 40 \
		"env XDG_CONFIG_HOME=$CY_TMP/xdg CYNORK_GATEWAY_URL=$CY_GATEWAY_URL TERM=xterm $CY_BUILD/cynork shell; echo \$? >$CY_TMP/shell.rc; sleep 30"
	tm_wait 'cynork admin@127\.0\.0\.1:[0-9]+>'
}

@test "pty: prompt shows user and gateway; Tab completes commands, flags, enums, task names" {
	start_shell
	tm send-keys "task g" Tab
	tm_wait '> task get$'
	tm send-keys "shell-d" Tab
	tm_wait '> task get shell-demo$'
	tm send-keys Enter
	# On a terminal task get shows labelled fields (-o text).
	tm_wait '^Task: +shell-demo \('
	tm send-keys "task list --sta" Tab
	tm_wait '> task list --status$'
	tm send-keys "que" Tab
	tm_wait '> task list --status queued$'
	tm send-keys C-u "-o js" Tab
	tm_wait '> -o json$'
	tm send-keys C-u "ex" Tab
	tm_wait '> exit$'
	tm send-keys C-u "task get nope" Enter
	tm_wait 'not found|404'
	tm send-keys "exit" Enter
	for _ in $(seq 1 150); do [ -s "$CY_TMP/shell.rc" ] && break; sleep 0.2; done
	tm kill-server || true
	# exit without a number: the last command's code (task get nope: 66)
	[ "$(cat "$CY_TMP/shell.rc")" = 66 ]
}

@test "pty: history is 0600 in the config dir, recalled with Up, secrets never recorded" {
	local hist=$CY_TMP/xdg/cynork/history

	start_shell
	tm send-keys "version" Enter
	tm_wait '^cynork version='
	tm send-keys "login -u admin" Enter
	tm_wait 'Password:'
	tm send-keys "$CY_ADMIN_PASSWORD" Enter
	tm_wait 'logged_in=true'
	tm send-keys "task create --command 'echo password=hunter2'" Enter
	tm_wait 'task_id='
	tm send-keys Up Up
	tm_wait '> login -u admin$'
	tm send-keys C-u "quit" Enter
	for _ in $(seq 1 150); do [ -s "$CY_TMP/shell.rc" ] && break; sleep 0.2; done
	tm kill-server || true
	[ "$(cat "$CY_TMP/shell.rc")" = 0 ]
	[ "$(stat -c %a "$hist")" = 600 ]
	[ "$(stat -c %a "$(dirname "$hist")")" = 700 ]
	grep -q 'version' "$hist"
	grep -q 'login' "$hist"
	refute grep -q "$CY_ADMIN_PASSWORD" "$hist"
	refute grep -q 'hunter2' "$hist"
	# A new session starts with the old history (Up recalls "quit", then "login").
	start_shell
	tm send-keys Up
	tm_wait '> quit$'
	tm send-keys C-u C-d
	for _ in $(seq 1 150); do [ -s "$CY_TMP/shell.rc" ] && break; sleep 0.2; done
	tm kill-server || true
	# EOF (Ctrl-D) ends the shell
	[ -s "$CY_TMP/shell.rc" ]
}

@test "pty: Ctrl-C drops the typed line, stops a running command (130), never the shell" {
	start_shell
	tm send-keys "task lis" C-c
	tm send-keys "version" Enter
	tm_wait '^cynork version='
	# shell-demo stays queued (no node): task wait blocks until interrupted
	tm send-keys "task wait shell-demo" Enter
	sleep 1
	tm send-keys C-c
	tm_wait 'interrupted'
	tm send-keys "whoami" Enter
	tm_wait 'user=admin'
	tm send-keys "task wait shell-demo" Enter
	sleep 1
	tm send-keys C-c
	tm send-keys "exit" Enter
	for _ in $(seq 1 150); do [ -s "$CY_TMP/shell.rc" ] && break; sleep 0.2; done
	tm kill-server || true
	[ "$(cat "$CY_TMP/shell.rc")" = 130 ]
}
