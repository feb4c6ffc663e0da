#!/usr/bin/env bats
#
# context.bats: named contexts in cynork's config file (cynork context
# list|use|add|remove, --context, CYNORK_CONTEXT), login --server,
# CYNORK_SERVER and CYNORK_CONFIG, against the real server: each context
# keeps its own session, a file from before contexts keeps working, the
# active context shows in status and in the shell's prompt (tmux), and
# garbage (unknown, duplicate, in use, bad names and URLs) is refused with
# the right exit code.  CYNORK_GATEWAY_URL is unset here: it would win over
# every context's gateway_url.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	cy_login >/dev/null
	cynork user create vera --password-stdin <<<"vera-password" >/dev/null
	# A host name for the same server, so two contexts point at different URLs.
	LOCAL_URL=${CY_GATEWAY_URL/127.0.0.1/localhost}
	export LOCAL_URL
	rm -rf "$CY_TMP/xdg"
}

# cynork with the test's config directory and no gateway from the environment.
cy()
{
	env -u CYNORK_GATEWAY_URL XDG_CONFIG_HOME="$CY_TMP/xdg" "$CY_BUILD/cynork" "$@"
}

conf()
{
	echo "$CY_TMP/xdg/cynork/config.yaml"
}

# The value of KEY in CONTEXT (default: the top level) of the config file.
conf_key()
{
	python3 - "$(conf)" "$1" "${2:-}" <<'EOF'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1])) or {}
if sys.argv[3]:
    d = (d.get("contexts") or {}).get(sys.argv[3]) or {}
print(d.get(sys.argv[2], ""))
EOF
}

@test "a file from before contexts is the context default: login, whoami and list as before" {
	mkdir -p "$CY_TMP/xdg/cynork"
	printf 'gateway_url: %s\nmy_own_key: kept\n' "$CY_GATEWAY_URL" >"$(conf)"
	run -0 cy login -u admin --password-stdin <<<"$CY_ADMIN_PASSWORD"
	run -0 cy whoami
	assert_output --partial "user=admin"
	run -0 cy context list
	assert_output "context=default gateway_url=$CY_GATEWAY_URL current=true session=stored"
	run -0 cy status
	assert_output "gateway=ok gateway_url=$CY_GATEWAY_URL context=default"
	# still the old shape: top-level keys, no contexts written, the unknown key kept
	grep -q '^token: ' "$(conf)"
	refute grep -q '^contexts:' "$(conf)"
	refute grep -q '^current_context:' "$(conf)"
	grep -q '^my_own_key: "kept"' "$(conf)"
}

@test "each context keeps its own session: logging in to one never touches another's tokens" {
	local tok_default

	tok_default=$(conf_key token)
	[ -n "$tok_default" ]
	run -0 cy context add lab --server "$LOCAL_URL"
	assert_output "context=lab gateway_url=$LOCAL_URL added=true"
	run -77 cy --context lab whoami
	run -0 cy --context lab login -u vera --password-stdin <<<"vera-password"
	cy_eq "$(conf_key token)" "$tok_default" "default's token"
	[ -n "$(conf_key token lab)" ]
	[ "$(conf_key token lab)" != "$tok_default" ]
	run -0 cy whoami
	assert_output --partial "user=admin"
	run -0 cy --context lab whoami
	assert_output --partial "user=vera"
	CYNORK_CONTEXT=lab run -0 cy status
	assert_output "gateway=ok gateway_url=$LOCAL_URL context=lab"
	# use makes it current; default's session is still there
	run -0 cy context use lab
	assert_output "context=lab current=true"
	run -0 cy whoami
	assert_output --partial "user=vera"
	run -0 cy -o json context list
	run jq -ec '[.current, .active, (.contexts | map("\(.name):\(.current):\(.session)"))]' <<<"$output"
	assert_output '["lab","lab",["default:false:stored","lab:true:stored"]]'
	# -o text and -o wide: a table like every other list; --no-headers
	run -0 cy -o text context list
	assert_line --index 0 "$(printf 'CONTEXT\tCURRENT\tGATEWAY_URL\tSESSION')"
	assert_line --index 1 "$(printf 'default\tfalse\t%s\tstored' "$CY_GATEWAY_URL")"
	assert_line --index 2 "$(printf 'lab\ttrue\t%s\tstored' "$LOCAL_URL")"
	run -0 cy --context default -o wide context list --no-headers
	assert_output "$(printf 'default\tfalse\t%s\tstored\ttrue\nlab\ttrue\t%s\tstored\tfalse' \
		"$CY_GATEWAY_URL" "$LOCAL_URL")"
	run -0 cy context list --no-headers
	assert_line --index 1 "context=lab gateway_url=$LOCAL_URL current=true session=stored"
	# logging out of lab leaves default logged in
	run -0 cy logout
	[ -z "$(conf_key token lab)" ]
	cy_eq "$(conf_key token)" "$tok_default" "default's token"
	run -0 cy --context default whoami
	assert_output --partial "user=admin"
	run -0 cy context use default
	run -0 cy whoami
	assert_output --partial "user=admin"
	refute grep -q '^current_context:' "$(conf)"
}

@test "login --server: logs in there and keeps it; with --context a new context is made" {
	run -0 cy --context ci login --server "$LOCAL_URL" -u vera --password-stdin <<<"vera-password"
	cy_eq "$(conf_key gateway_url ci)" "$LOCAL_URL" "ci's gateway_url"
	run -0 cy --context ci whoami
	assert_output --partial "user=vera"
	# without --server an unknown context is not made
	run -66 --separate-stderr cy --context nowhere login -u vera --password-stdin <<<"vera-password"
	[[ $stderr == *"unknown context 'nowhere'; give --server URL"* ]]
	[ -z "$(conf_key gateway_url nowhere)" ]
	# garbage --server: 64 before any request or write
	for bad in ftp://x "http://" "http://a b" "localhost:1" "https://:80" ""; do
		run -64 cy --context ci login --server "$bad" -u vera --password-stdin <<<"vera-password"
	done
	cy_eq "$(conf_key gateway_url ci)" "$LOCAL_URL" "ci's gateway_url"
	run -0 cy context remove ci -y
}

@test "context garbage: unknown, duplicate, in use, default, bad names and URLs" {
	run -66 --separate-stderr cy --context nope whoami
	[[ $stderr == *"unknown context 'nope'"* ]]
	CYNORK_CONTEXT=nope run -66 cy status
	run -66 cy context use nope
	run -66 cy context remove nope -y
	run -73 cy context add lab --server "$LOCAL_URL"
	run -73 cy context add default --server "$LOCAL_URL"
	run -64 cy context add Lab --server "$LOCAL_URL"
	run -64 cy context add -- -x --server "$LOCAL_URL"
	run -64 cy context add "$(printf 'x%.0s' {1..64})" --server "$LOCAL_URL"
	run -64 cy context add 'a b' --server "$LOCAL_URL"
	run -64 --separate-stderr cy context add new1
	[[ $stderr == *"needs --server URL"* ]]
	run -64 cy context add new1 --server localhost:12080
	run -64 cy context add new1 --server 'http://x/ y'
	run -64 cy context add new1 --server "$LOCAL_URL" --ca-file "$CY_TMP/no-such.pem"
	run -64 cy --context 'Bad!' whoami
	run -64 cy context use 'Bad!'
	[ -z "$(conf_key gateway_url new1)" ]
	# removing the context in use (current, or selected) is refused
	cy context use lab >/dev/null
	run -73 --separate-stderr cy context remove lab -y
	[[ $stderr == *"context 'lab' is in use"* ]]
	cy context use default >/dev/null
	CYNORK_CONTEXT=lab run -73 cy context remove lab -y
	run -64 cy context remove default -y
	# no terminal, no -y: nothing removed
	run -64 cy context remove lab </dev/null
	[ -n "$(conf_key gateway_url lab)" ]
	# a config file with garbage in its contexts is exit 78
	cp "$(conf)" "$CY_TMP/good.yaml"
	printf 'contexts: [a, b]\n' >"$CY_TMP/bad1.yaml"
	printf 'contexts:\n  x: 3\n' >"$CY_TMP/bad2.yaml"
	printf 'contexts:\n  x: {token: [1]}\n' >"$CY_TMP/bad3.yaml"
	printf 'current_context: "NOT A NAME"\n' >"$CY_TMP/bad4.yaml"
	for f in bad1 bad2 bad3 bad4; do
		run -78 cy --config "$CY_TMP/$f.yaml" whoami
	done
	printf 'current_context: gone\n' >"$CY_TMP/bad5.yaml"
	run -66 cy --config "$CY_TMP/bad5.yaml" whoami
}

@test "CYNORK_SERVER and CYNORK_CONFIG; CYNORK_GATEWAY_URL and --config win" {
	printf 'gateway_url: http://127.0.0.1:1\n' >"$CY_TMP/other.yaml"
	CYNORK_CONFIG=$CY_TMP/other.yaml run -69 cy status
	CYNORK_CONFIG=$CY_TMP/other.yaml CYNORK_SERVER=$CY_GATEWAY_URL run -0 cy status
	assert_output --partial "gateway_url=$CY_GATEWAY_URL"
	CYNORK_CONFIG=$CY_TMP/other.yaml run -0 cy --config "$(conf)" status
	run -0 env CYNORK_SERVER=http://127.0.0.1:1 CYNORK_GATEWAY_URL="$CY_GATEWAY_URL" \
		XDG_CONFIG_HOME="$CY_TMP/xdg" "$CY_BUILD/cynork" status
	for bad in ftp://x "http://" "not a url"; do
		CYNORK_SERVER=$bad run -78 cy status
	done
	run -78 env CYNORK_GATEWAY_URL=gopher://x XDG_CONFIG_HOME="$CY_TMP/xdg" "$CY_BUILD/cynork" status
	# CYNORK_CONFIG names where login writes
	CYNORK_CONFIG=$CY_TMP/fresh/c.yaml run -0 cy login --server "$CY_GATEWAY_URL" -u vera \
		--password-stdin <<<"vera-password"
	grep -q '^token: ' "$CY_TMP/fresh/c.yaml"
	[ "$(stat -c %a "$CY_TMP/fresh/c.yaml")" = 600 ]
}

@test "a credential helper is told the context it keeps the secret for" {
	mkdir -p "$CY_TMP/bin"
	cat >"$CY_TMP/bin/helper" <<EOF
#!/bin/sh
read -r line
printf '%s\n' "\$line" | sed 's/"secret": *"[^"]*"/"secret":"X"/' >>"$CY_TMP/helper.log"
echo '{}'
EOF
	chmod +x "$CY_TMP/bin/helper"
	run -0 cy context add vault --server "$CY_GATEWAY_URL" --credential-helper "$CY_TMP/bin/helper"
	run -0 cy --context vault login -u vera --password-stdin <<<"vera-password"
	run -0 jq -e 'select(.action == "store") | .context == "vault"' "$CY_TMP/helper.log"
	[ -z "$(conf_key token vault)" ]
	run -0 cy context remove vault -y
	run -0 jq -se 'map(select(.action == "erase" and .context == "vault")) | length == 1' \
		"$CY_TMP/helper.log"
}

@test "completion offers the file's context names for context use|remove and --context" {
	run -0 bash -c "cd / && env -u CYNORK_GATEWAY_URL XDG_CONFIG_HOME='$CY_TMP/xdg' '$CY_BUILD/cynork' __complete context use '' | sed '\$d' | cut -f1 | sort | tr '\n' ' '"
	assert_output "default lab "
	run -0 bash -c "env -u CYNORK_GATEWAY_URL XDG_CONFIG_HOME='$CY_TMP/xdg' '$CY_BUILD/cynork' __complete --context l | sed '\$d' | cut -f1"
	assert_output "lab"
	run -0 bash -c "env -u CYNORK_GATEWAY_URL XDG_CONFIG_HOME='$CY_TMP/xdg' '$CY_BUILD/cynork' __complete context remove x | sed '\$d'"
	assert_output ""
	# a broken config file: no candidates, no error on the terminal
	run -0 --separate-stderr env -u CYNORK_GATEWAY_URL CYNORK_CONFIG="$CY_TMP/bad1.yaml" \
		"$CY_BUILD/cynork" __complete context use ''
	[ -z "$stderr" ]
	[ "$output" = ":0" ]
}

tm()
{
	tmux -S "$CY_TMP/tmux" "$@"
}

teardown()
{
	tm kill-server 2>/dev/null || true
	[ -n "${BATS_TEST_COMPLETED:-}" ] || cy_show_logs >&3 2>&1 || true
}

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

@test "the shell's prompt names the context; context use switches the session at once" {
	cy --context lab login -u vera --password-stdin <<<"vera-password" >/dev/null
	cy context use lab >/dev/null
	tm -f /dev/null new-session -d -x 160 -y 40 \
		"env -u CYNORK_GATEWAY_URL XDG_CONFIG_HOME=$CY_TMP/xdg TERM=xterm $CY_BUILD/cynork shell; sleep 30"
	tm_wait 'cynork \(lab\) vera@localhost:[0-9]+> ?$'
	tm send-keys "context use default" Enter
	tm_wait 'cynork admin@127\.0\.0\.1:[0-9]+> ?$'
	tm send-keys "whoami" Enter
	tm_wait 'user=admin'
	tm send-keys "whoami --context lab" Enter
	tm_wait 'context cannot change inside the shell'
	tm kill-server || true
}
