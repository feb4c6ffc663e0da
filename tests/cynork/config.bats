#!/usr/bin/env bats
#
# config.bats: cynork's configuration and credentials against the real
# server (spec/cli.md sections 2-4, 9): the credential helper protocol (get,
# store, erase; by path and by name; errors), CYNORK_TOKEN and
# CYNORK_GATEWAY_URL precedence (never written back), atomic 0600 writes,
# no HOME, automatic refresh on 401, and the exit codes not covered
# elsewhere (6 validation, 8 internal), -o json keeping errors off stdout,
# and --quiet.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	mkdir -p "$CY_TMP/bin"
	# A credential helper that keeps the secret in a file and logs each
	# action (never the secret) and its environment size.
	cat >"$CY_TMP/bin/cynork-credential-filestore" <<-'HELPER'
	#!/bin/bash
	dir=$(dirname "$0")/..
	read -r req
	action=$(jq -r .action <<<"$req")
	echo "$action args=$# env=$(env | grep -vc '^\(PATH\|HOME\|PWD\|SHLVL\|_\)=')" >>"$dir/helper.log"
	case $action in
	get) if [ -f "$dir/helper.secret" ]; then jq -cn --rawfile s "$dir/helper.secret" '{secret:$s}'; else echo '{}'; fi ;;
	store) jq -j .secret <<<"$req" >"$dir/helper.secret"; echo '{}' ;;
	erase) rm -f "$dir/helper.secret"; echo '{}' ;;
	esac
	HELPER
	chmod +x "$CY_TMP/bin/cynork-credential-filestore"
	printf '#!/bin/sh\ncat >/dev/null\necho %s\n' "'{\"error\":\"keyring locked\"}'" >"$CY_TMP/bin/bad-helper"
	printf '#!/bin/sh\ncat >/dev/null\necho not json\n' >"$CY_TMP/bin/garbage-helper"
	chmod +x "$CY_TMP/bin/bad-helper" "$CY_TMP/bin/garbage-helper"
}

conf()
{
	echo "$CY_TMP/xdg/cynork/config.yaml"
}

@test "credential helper by path: login stores through it, the file gets no token" {
	mkdir -p "$CY_TMP/xdg/cynork"
	printf 'credential_helper: %s\n' "$CY_TMP/bin/cynork-credential-filestore" >"$(conf)"
	run cy_login
	assert_success
	assert_output --partial "logged_in=true"
	[ -s "$CY_TMP/helper.secret" ]
	refute grep -q '^token:' "$(conf)"
	refute grep -q '^refresh_token:' "$(conf)"
	grep -q '^credential_helper:' "$(conf)"
	grep -q '^store args=0 env=0$' "$CY_TMP/helper.log"
	# the token is not in the helper's log, argv or environment
	refute grep -q "$(cat "$CY_TMP/helper.secret")" "$CY_TMP/helper.log"
}

@test "credential helper: get is asked once per process and only when a token is needed" {
	: >"$CY_TMP/helper.log"
	run cynork whoami
	assert_success
	assert_output --partial "user=admin"
	[ "$(grep -c '^get' "$CY_TMP/helper.log")" -eq 1 ]
	run cynork version
	[ "$(grep -c '^get' "$CY_TMP/helper.log")" -eq 1 ]
	# a shell session asks once for all its lines
	run cynork shell <<<$'whoami\ntask list\nwhoami'
	assert_success
	[ "$(grep -c '^get' "$CY_TMP/helper.log")" -eq 2 ]
	# CYNORK_TOKEN wins: the helper is not consulted
	CYNORK_TOKEN=$(cat "$CY_TMP/helper.secret") run cynork whoami
	assert_success
	[ "$(grep -c '^get' "$CY_TMP/helper.log")" -eq 2 ]
}

@test "credential helper: logout sends erase; then whoami exits 77" {
	run cynork logout
	assert_success
	assert_output "logged_out=true"
	grep -q '^erase' "$CY_TMP/helper.log"
	[ ! -e "$CY_TMP/helper.secret" ]
	run -77 cynork whoami
	assert_output --partial "not logged in"
}

@test "credential helper by short name runs cynork-credential-NAME from PATH" {
	printf 'credential_helper: filestore\n' >"$(conf)"
	PATH=$CY_TMP/bin:$PATH run cy_login
	assert_success
	[ -s "$CY_TMP/helper.secret" ]
	PATH=$CY_TMP/bin:$PATH run cynork whoami
	assert_success
	# not on PATH: a clear error, exit 77
	run -77 cynork whoami
	assert_output --partial "not found"
	PATH=$CY_TMP/bin:$PATH cynork logout >/dev/null
}

@test "credential helper errors and garbage answers exit 77 with the reason" {
	printf 'credential_helper: %s\n' "$CY_TMP/bin/bad-helper" >"$(conf)"
	run -77 cynork whoami
	assert_output --partial "keyring locked"
	printf 'credential_helper: %s\n' "$CY_TMP/bin/garbage-helper" >"$(conf)"
	run -77 cynork task list
	assert_output --partial "not a JSON object"
	printf 'credential_helper: %s\n' "$CY_TMP/bin/does-not-exist" >"$(conf)"
	run -77 cynork whoami
	# a failing helper on login: nothing is stored in the file either
	printf 'credential_helper: %s\n' "$CY_TMP/bin/bad-helper" >"$(conf)"
	run -77 cy_login
	refute grep -q '^token:' "$(conf)"
	rm -f "$(conf)"
}

@test "CYNORK_GATEWAY_URL is never written back; writes are atomic and private" {
	rm -rf "$CY_TMP/xdg/cynork"
	run cy_login
	assert_success
	refute grep -q '^gateway_url:' "$(conf)"
	[ "$(stat -c %a "$(conf)")" = 600 ]
	[ "$(stat -c %a "$(dirname "$(conf)")")" = 700 ]
	# no temporary files left next to it
	[ "$(find "$(dirname "$(conf)")" -name '*.tmp.*' | wc -l)" -eq 0 ]
	# a gateway_url in the file is used when the variable is absent
	printf 'gateway_url: "%s"\n' "$CY_GATEWAY_URL" >>"$(conf)"
	CYNORK_GATEWAY_URL= run cynork status
	assert_success
	assert_output --partial "gateway_url=$CY_GATEWAY_URL"
	# and the variable wins over the file
	CYNORK_GATEWAY_URL=http://127.0.0.1:1 run -69 cynork status
	assert_output --partial "127.0.0.1:1"
}

@test "reading never creates the config directory; no HOME and no --config fails login clearly" {
	local empty=$CY_TMP/empty-xdg

	XDG_CONFIG_HOME=$empty run "$CY_BUILD/cynork" version
	assert_success
	[ ! -e "$empty" ]
	run -78 env -u HOME -u XDG_CONFIG_HOME CYNORK_GATEWAY_URL="$CY_GATEWAY_URL" \
		"$CY_BUILD/cynork" login -u admin --password-stdin <<<"$CY_ADMIN_PASSWORD"
	assert_output --partial "HOME is not set"
}

@test "a rejected access token is refreshed once automatically (401 -> refresh -> retry)" {
	local rt

	cy_login >/dev/null
	rt=$(sed -n 's/^refresh_token: "\(.*\)"$/\1/p' "$(conf)")
	sed -i 's/^token: .*/token: "expired.or.garbage"/' "$(conf)"
	run cynork whoami
	assert_success
	assert_output --partial "user=admin"
	# new pair stored
	refute grep -q 'expired.or.garbage' "$(conf)"
	[ "$(sed -n 's/^refresh_token: "\(.*\)"$/\1/p' "$(conf)")" != "$rt" ]
	# with CYNORK_TOKEN there is no refresh: a bad token is exit 77
	CYNORK_TOKEN=garbage run -77 cynork whoami
	assert_output --partial "run 'cynork login'"
	[ "${#lines[@]}" -eq 1 ]
}

@test "exit 65 for a 400 from the gateway; the error is one line on stderr" {
	# a well-formed id cynork cannot know is missing: only the server can say
	run -65 --separate-stderr cynork task create --command true \
		--project-id 00000000-0000-4000-8000-000000000000
	[[ $stderr == *"unknown project_id"* ]]
	[ -z "$output" ]
	run -65 --separate-stderr cynork -o json task list --cursor garbage
	[ -z "$output" ]
	[ "$(wc -l <<<"$stderr")" -eq 1 ]
}

@test "exit 70 when standard output cannot be written" {
	run -70 bash -c "'$CY_BUILD/cynork' version >/dev/full"
	assert_output --partial "cannot write to standard output"
}

@test "-o json: exactly one JSON value on stdout, even with notes on stderr" {
	local i

	for i in 1 2 3; do cynork task create --command true >/dev/null; done
	run --separate-stderr cynork -o json task list -l 1
	assert_success
	jq -e '.tasks | length == 1' <<<"$output"
	[ "$(jq -s length <<<"$output")" -eq 1 ]
	# the table form notes the next cursor on stderr; --quiet drops it
	run --separate-stderr cynork task list -l 1
	[[ $stderr == *"--cursor"* ]]
	run --separate-stderr cynork -q task list -l 1
	[ -z "$stderr" ]
	[ "${#lines[@]}" -eq 1 ]
	# NO_COLOR and --no-color are accepted everywhere and change nothing else
	NO_COLOR=1 run cynork --no-color version
	assert_output --regexp '^cynork version=[^ ]+ api_version=[^ ]+$'
}

@test "unknown command, flag, and help errors are one line that says what to do" {
	run -64 --separate-stderr cynork task creat
	[ "$(wc -l <<<"$stderr")" -eq 1 ]
	[[ $stderr == *"did you mean 'task create'"*"--help"* ]]
	run -64 --separate-stderr cynork task list --limt 3
	[ "$(wc -l <<<"$stderr")" -eq 1 ]
	[[ $stderr == *"did you mean '--limit'"* ]]
	run -64 --separate-stderr cynork help tsk
	[[ $stderr == *"did you mean 'task'"* ]]
	run -69 --separate-stderr env CYNORK_GATEWAY_URL=http://127.0.0.1:1 "$CY_BUILD/cynork" --config "$(conf)" whoami
	[ "$(wc -l <<<"$stderr")" -eq 1 ]
	[[ $stderr == *"check that cynode-server runs"* ]]
}

@test "task create --idempotency-key: a retry returns the first task; bad keys exit 64" {
	local key id1 id2 id3

	cy_login >/dev/null
	key=ci-step-$RANDOM$RANDOM
	id1=$(cynork -o name task create --command true --idempotency-key "$key")
	id2=$(cynork -o name task create --command true --idempotency-key "$key")
	[ -n "$id1" ] && [ "$id1" = "$id2" ]
	id3=$(cynork -o name task create --command true --idempotency-key "$key-other")
	[ "$id3" != "$id1" ]
	run cynork -o json task create --command true --idempotency-key "$key"
	run jq -er .task_id <<<"$output"
	assert_output "$id1"
	run -64 cynork task create --command true --idempotency-key "has space"
	assert_output --partial "--idempotency-key"
	run -64 cynork task create --command true --idempotency-key ""
	run -64 cynork task create --command true --idempotency-key "$(printf 'k%.0s' $(seq 256))"
	run -64 cynork task create --command true --idempotency-key
}
