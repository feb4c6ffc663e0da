#!/usr/bin/env bats
#
# confirm.bats: every command that asks "[y/N]" (one confirm() in cynork),
# run without -y and without a terminal (stdin a pipe, /dev/null or a file):
# it exits 64 with a clear message, sends nothing and changes nothing, even
# when the pipe says "y".  On a terminal (script(1)) "n" does nothing, exit 0,
# and "y" acts.  Besides the deletes: token revoke and user disable,
# reset-password and revoke-sessions (they cut someone off at once).  Real
# server and node.

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

# refused ARGS...: cynork ARGS... with "y" piped in exits 64, says why, prints nothing.
refused()
{
	run -64 --separate-stderr cynork "$@" <<<"y"
	[ -z "$output" ] || { echo "stdout: $output"; return 1; }
	[[ $stderr == *"asks for confirmation and standard input is not a terminal; give -y to go on"* ]] ||
		{ echo "stderr: $stderr"; return 1; }
	[[ $stderr != *"[y/N]"* ]] || { echo "asked: $stderr"; return 1; }
	run -64 cynork "$@" </dev/null
}

@test "task cancel without -y and without a terminal: 64, the task keeps running" {
	local id

	id=$(cynork -o name task create --command 'sleep 30')
	refused task cancel "$id"
	[ "$(cynork -o json task get "$id" | jq -r .status)" != canceled ]
	run -0 cy_tty_cynork n task cancel "$id"
	assert_output --partial "nothing done"
	[ "$(cynork -o json task get "$id" | jq -r .status)" != canceled ]
	run -0 cy_tty_cynork y task cancel "$id"
	assert_output --partial "canceled=true"
}

@test "nodes drain, enable, disable, remove, replace without -y and without a terminal: 64, the node untouched" {
	local verb

	for verb in drain disable enable remove replace; do
		refused nodes "$verb" node-01
	done
	run -0 cynork -o json nodes get node-01
	run jq -e '.status != "drained" and .enabled == true' <<<"$output"
	assert_success
	[ -z "$(cy_psql "SELECT replace_until FROM nodes WHERE node_slug = 'node-01'")" ]
	run -0 cy_tty_cynork n nodes disable node-01
	assert_output --partial "Disable node node-01? [y/N]"
	run -0 cy_tty_cynork y nodes disable node-01
	assert_output --partial "enabled=false"
	cynork nodes enable -y node-01 >/dev/null
}

@test "secret delete without -y and without a terminal: 64, the secret kept" {
	printf 'v\n' | cynork secret set KEEP_ME >/dev/null
	refused secret delete KEEP_ME
	run -0 cynork -o name secret list
	assert_output --partial KEEP_ME
	run -0 cy_tty_cynork y secret delete KEEP_ME
	assert_output --partial "deleted=true"
}

@test "skills delete without -y and without a terminal: 64, the skill kept" {
	local id

	printf '# keep\n' >"$CY_TMP/keep.md"
	id=$(cynork -o name skills load "$CY_TMP/keep.md")
	refused skills delete "$id"
	run -0 cynork skills get "$id"
	run -0 cy_tty_cynork y skills delete "$id"
	assert_output --partial "deleted=true"
	run -66 cynork skills get "$id"
}

@test "token revoke, user disable, reset-password, revoke-sessions without -y and without a terminal: 64, nothing changed" {
	local id

	id=$(cynork -o json token create --name conf-tok | jq -r .token_id)
	refused token revoke "$id"
	run -0 cynork -o json token list
	jq -e --arg id "$id" '.tokens[] | select(.token_id == $id) | .revoked_at == null' <<<"$output"
	printf 'conf-password\n' | cynork user create conf-u --password-stdin >/dev/null
	refused user disable conf-u
	refused user revoke-sessions conf-u
	refused user reset-password conf-u
	# --password-stdin reads the pipe, so it is no terminal to ask on either: -y is needed.
	run -64 --separate-stderr cynork user reset-password conf-u --password-stdin <<<"other-password"
	[[ $stderr == *"give -y to go on"* ]]
	[ "$(cynork -o json user get conf-u | jq -r .is_active)" = true ]
	# The old password still logs in (in a config directory of its own).
	run -0 env XDG_CONFIG_HOME="$CY_TMP/xdg-conf" CYNORK_GATEWAY_URL="$CY_GATEWAY_URL" \
		"$CY_BUILD/cynork" login -u conf-u --password-stdin <<<"conf-password"
	# On a terminal: n does nothing, y acts.
	run -0 cy_tty_cynork n user disable conf-u
	assert_output --partial "disable user 'conf-u' (its sessions end, its tokens stop working)? [y/N]"
	assert_output --partial "nothing done"
	[ "$(cynork -o json user get conf-u | jq -r .is_active)" = true ]
	run -0 cy_tty_cynork y user disable conf-u
	assert_output --partial "is_active=false"
	run -0 cy_tty_cynork y token revoke "$id"
	assert_output --partial "token_id=$id revoked=true"
	run -0 cy_tty_cynork y user revoke-sessions conf-u
	assert_output --partial "sessions_revoked=true"
	# -y needs no terminal, with the password on standard input.
	run -0 cynork user reset-password conf-u -y --password-stdin <<<"other-password"
	assert_output "user=conf-u password_reset=true"
}

@test "queue, schedule and webhook delete without -y and without a terminal: 64" {
	refused queue delete no-such-queue
	refused schedule delete no-such-schedule
	refused webhook delete 00000000-0000-4000-8000-000000000000
}

@test "-y needs no terminal" {
	local id

	id=$(cynork -o name task create --command 'sleep 30')
	run -0 cynork task cancel -y "$id" </dev/null
	assert_output --partial "canceled=true"
}
