#!/usr/bin/env bats
#
# cli.bats: cynork's command line without a node: version, help, usage
# errors and their exit codes (spec/cli.md sections 3, 4, 11), file checks of
# `task create`, the config file (0600, unknown keys kept, invalid YAML),
# and the auth commands (login, whoami, refresh, logout) against the real
# server and a private PostgreSQL.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
}

config_file()
{
	echo "$CY_TMP/xdg/cynork/config.yaml"
}

# The value of KEY in the config file (cynork writes `key: "value"`).
config_value()
{
	sed -n "s/^$1: \"\\(.*\\)\"\$/\\1/p" "$(config_file)"
}

# --- offline: version, help, usage errors ---------------------------------

@test "version prints one line starting with cynork and holding version=" {
	run --separate-stderr cynork version
	assert_success
	[ "${#lines[@]}" -eq 1 ]
	assert_output --regexp '^cynork version=[0-9][^ ]* api_version=[0-9]+$'
	[ -z "$stderr" ]
	# -q silences nothing that is the command's output
	run cynork -q version
	assert_output --regexp '^cynork version='
	# the same version in both forms
	v=$(cynork -o json version | jq -r .version)
	[ "$(cynork version | sed 's/^cynork version=\([^ ]*\) .*/\1/')" = "$v" ]
}

@test "version -o json is {version, api_version}" {
	run cynork -o json version
	assert_success
	run jq -ec 'keys == ["api_version", "version"] and (.version | test("^[0-9]"))' <<<"$output"
	assert_success
}

@test "--help exits 0 and lists the commands" {
	run cynork --help
	assert_success
	assert_output --partial "task"
	assert_output --partial "login"
}

@test "bare cynork is a usage error (exit 64)" {
	run -64 cynork
}

@test "unknown command exits 64 with a suggestion" {
	run -64 --separate-stderr cynork verison
	[[ $stderr == *"did you mean 'version'"* ]]
	run -64 --separate-stderr cynork task creat
	[[ $stderr == *"did you mean 'task create'"* ]]
}

@test "a group's --help lines its subcommands' summaries up, long names too" {
	run cynork user --help
	assert_success
	assert_line "  reset-password  set a user's password and end its sessions (admin)"
	assert_line "  revoke-sessions end every login session of a user at once (admin)"
	assert_line "  passwd          change your own password"
}

@test "a word nothing resembles gets no far-fetched suggestion" {
	run -64 --separate-stderr cynork bogus
	[[ $stderr == *"unknown command 'bogus'"* ]]
	[[ $stderr != *"did you mean"* ]]
	run -64 --separate-stderr cynork task list --xyz
	[[ $stderr == *"unknown flag '--xyz'"* ]]
	[[ $stderr != *"did you mean"* ]]
	run -64 --separate-stderr cynork nodse
	[[ $stderr == *"did you mean 'nodes'"* ]]
}

@test "unknown flag exits 64 with a suggestion" {
	run -64 --separate-stderr cynork task list --limt 5
	[[ $stderr == *"unknown flag '--limt'"* ]]
	[[ $stderr == *"did you mean '--limit'"* ]]
}

@test "bad -o value exits 64" {
	run -64 cynork -o xml version
	assert_output --partial "table, wide, text, json, yaml, name"
	run -64 cynork -o '' version
	run -64 cynork -o JSON version
}

@test "task list --limit outside 1..200 or not a number exits 64" {
	run -64 cynork task list --limit 0
	run -64 cynork task list --limit 201
	run -64 cynork task list -l abc
}

@test "task list --status bogus exits 64" {
	run -64 cynork task list --status bogus
	assert_output --partial "queued"
}

@test "task create with two input modes exits 64" {
	run -64 cynork task create -p hi --command 'echo hi'
	assert_output --partial "only one"
}

@test "task create with no input mode exits 64, even without a token" {
	run -64 cynork task create
	assert_output --partial "give one input"
	CYNORK_TOKEN= run -64 cynork --config "$CY_TMP/none.yaml" task create --name x
}

@test "task create with empty input is a usage error, even without a token" {
	run -64 cynork task create --command ''
	run -64 cynork task create -p ''
	printf '\n  \n' >"$CY_TMP/blank.txt"
	run -64 cynork task create --commands-file "$CY_TMP/blank.txt"
}

@test "task create --script: missing file, directory, symlink exit 64" {
	run -64 cynork task create --script "$CY_TMP/does-not-exist.sh"
	assert_output --partial "No such file"
	mkdir -p "$CY_TMP/adir"
	run -64 cynork task create --script "$CY_TMP/adir"
	assert_output --partial "not a regular file"
	echo 'echo hi' >"$CY_TMP/real.sh"
	ln -sf "$CY_TMP/real.sh" "$CY_TMP/link.sh"
	run -64 cynork task create --script "$CY_TMP/link.sh"
	assert_output --partial "symbolic link"
}

@test "task create --script larger than 256 KiB exits 64" {
	head -c $((256 * 1024 + 1)) /dev/zero | tr '\0' '#' >"$CY_TMP/big.sh"
	run -64 cynork task create --script "$CY_TMP/big.sh"
	assert_output --partial "larger than"
	# Exactly 256 KiB passes the file check (and then needs a token).
	head -c $((256 * 1024)) /dev/zero | tr '\0' '#' >"$CY_TMP/max.sh"
	run -77 cynork --config "$CY_TMP/none.yaml" task create --script "$CY_TMP/max.sh"
}

@test "--password-stdin without --user exits 64" {
	run -64 cynork auth login --password-stdin </dev/null
	assert_output --partial "needs --user"
	run -64 cynork login --password-stdin </dev/null
}

@test "help task create shows its flags" {
	run cynork help task create
	assert_success
	assert_output --partial "--command"
	assert_output --partial "--script"
	assert_output --partial "--wait"
	assert_output --partial "--timeout"
	run cynork task create --help
	assert_success
	assert_output --partial "--commands-file"
}

@test "__spec is valid JSON listing task create" {
	run cynork __spec
	assert_success
	run jq -e '[.commands[].path] | index("task create") != null' <<<"$output"
	assert_success
	run jq -e '.global_options | map(.name) | index("output") != null' < <(cynork __spec)
	assert_success
}

@test "invalid YAML config file exits 78 (EX_CONFIG)" {
	printf 'token: [unclosed\n' >"$CY_TMP/bad.yaml"
	run -78 cynork --config "$CY_TMP/bad.yaml" whoami
	assert_output --partial "invalid config file"
	run -78 cynork --config "$CY_TMP/bad.yaml" version
}

# --- against the server -----------------------------------------------------

@test "status is ok against the server" {
	run cynork status
	assert_success
	assert_output --partial "gateway=ok"
	run cynork -o json status
	assert_success
	run jq -er .gateway <<<"$output"
	assert_output ok
}

@test "status against a dead port exits 69" {
	CYNORK_GATEWAY_URL=http://127.0.0.1:1 run -69 cynork status
}

@test "whoami without a token exits 77" {
	run -77 cynork whoami
	assert_output --partial "not logged in"
}

@test "login with a wrong password exits 77" {
	run -77 cynork auth login -u admin --password-stdin <<<"not-the-password"
	[ ! -e "$(config_file)" ] || ! grep -q '^token:' "$(config_file)"
}

@test "login works, config is 0600 and an unknown key is kept" {
	mkdir -p "$(dirname "$(config_file)")"
	printf 'my_custom_key: keep-me\n' >"$(config_file)"
	run cy_login
	assert_success
	assert_output --partial "logged_in=true"
	assert_output --partial "user=admin"
	run stat -c %a "$(config_file)"
	assert_output 600
	run grep -c '^my_custom_key: "keep-me"$' "$(config_file)"
	assert_output 1
	run grep -c '^token: ' "$(config_file)"
	assert_output 1
	# The token is never printed.
	run cy_login
	refute_output --partial "$(config_value token)"
}

@test "whoami prints user=admin" {
	run cynork whoami
	assert_success
	assert_output --partial "user=admin"
	run cynork auth whoami -o json
	assert_success
	run jq -er .user <<<"$output"
	assert_output admin
}

@test "CYNORK_TOKEN with garbage exits 77" {
	CYNORK_TOKEN=garbage.not.ajwt run -77 cynork whoami
}

@test "task get of an unknown name exits 66" {
	run -66 cynork task get no-such-task-name
}

@test "nodes list with no nodes prints the header only; --no-headers nothing" {
	run cynork nodes list
	assert_success
	assert_output "$(printf 'NODE\tSTATUS\tENABLED\tCONFIG\tAPPLIED\tLAST_SEEN\tRUNNING\tCAPACITY\tLABELS\tURL')"
	run cynork nodes list --no-headers
	assert_success
	assert_output ""
	run cynork node list -o json
	assert_success
	run jq -e '.nodes == []' <<<"$output"
	assert_success
}

@test "auth refresh renews the session and the old refresh token stops working" {
	local old_rt old_at

	old_rt=$(config_value refresh_token)
	old_at=$(config_value token)
	[ -n "$old_rt" ]
	run cynork auth refresh
	assert_success
	assert_output --partial "refreshed=true"
	[ "$(config_value refresh_token)" != "$old_rt" ]
	[ "$(config_value token)" != "$old_at" ]
	run cynork whoami
	assert_success
	assert_output --partial "user=admin"
	cy_api POST /v1/auth/refresh "$(jq -cn --arg r "$old_rt" '{refresh_token:$r}')"
	cy_status 401
	# A reused refresh token may revoke the session family: log in again.
	run cy_login
	assert_success
}

@test "logout prints logged_out=true and whoami then exits 77" {
	run cynork logout
	assert_success
	assert_output "logged_out=true"
	run -77 cynork whoami
	run grep -c '^my_custom_key:' "$(config_file)"
	assert_output 1
}
