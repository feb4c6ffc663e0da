#!/usr/bin/env bats
#
# secrets.bats: cynork's job environment and secrets end to end with every
# real part (PostgreSQL, cynode-server, one cynode-node running jobs in
# bubblewrap): task create --env/--env-file/--secret, dotenv errors with
# FILE:LINE, reserved and invalid names refused before any request, secret
# set (stdin, the Secret: prompt with echo off), list (table and JSON),
# delete (with and without confirmation), an unknown secret refused before
# the task exists, and the value masked in what cynork shows.

load ../lib/harness
bats_require_minimum_version 1.5.0

VALUE='cynork-secret-V4lue!'

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	cy_node_start node-01
	cy_login >/dev/null
}

@test "task create --env: the variables reach the job" {
	run cynork task create --command 'echo "$FOO|$BAR"' -e FOO=one --env 'BAR=two = 2' --result
	assert_success
	assert_output --partial 'stdout="one|two = 2\n"'
}

@test "task create --env-file: dotenv lines, comments, quotes; --env wins" {
	cat >"$CY_TMP/good.env" <<'EOT'
# a comment

export A=plain value   # trailing comment
B="double \"quoted\"\tand tab"
C='single $NOT_EXPANDED'
D=overridden
E=
EOT
	run --separate-stderr cynork -o json task create --command 'printf "%s\n" "$A" "$B" "$C" "$D" "[$E]"' \
		--env-file "$CY_TMP/good.env" --env D=from-flag --result
	assert_success
	cy_eq "$(jq -r .stdout <<<"$output")" "$(printf 'plain value\ndouble "quoted"\tand tab\nsingle $NOT_EXPANDED\nfrom-flag\n[]')" stdout
}

@test "task create --env-file: a bad line is an error naming FILE:LINE, nothing created" {
	local before

	before=$(cy_psql "SELECT count(*) FROM tasks")
	printf 'A=1\nthis is not an assignment\n' >"$CY_TMP/bad1.env"
	run -64 cynork task create --command true --env-file "$CY_TMP/bad1.env"
	assert_output --partial "$CY_TMP/bad1.env:2: want KEY=VALUE"
	printf 'A=1\n\nB="unterminated\n' >"$CY_TMP/bad2.env"
	run -64 cynork task create --command true --env-file "$CY_TMP/bad2.env"
	assert_output --partial "bad2.env:3: the value of B has no closing \" quote"
	printf 'CYNODE_TASK_ID=forged\n' >"$CY_TMP/bad3.env"
	run -64 cynork task create --command true --env-file "$CY_TMP/bad3.env"
	assert_output --partial "bad3.env:1: 'CYNODE_TASK_ID' is reserved"
	printf '1X=y\n' >"$CY_TMP/bad4.env"
	run -64 cynork task create --command true --env-file "$CY_TMP/bad4.env"
	assert_output --partial "bad4.env:1: '1X' is not a variable name"
	printf "A='x' y\n" >"$CY_TMP/bad5.env"
	run -64 cynork task create --command true --env-file "$CY_TMP/bad5.env"
	assert_output --partial "bad5.env:1: text after the closing quote of A"
	run -64 cynork task create --command true --env-file "$CY_TMP/missing.env"
	assert_output --partial "missing.env"
	run -64 cynork task create --command true --env-file "$CY_TMP"
	cy_eq "$(cy_psql "SELECT count(*) FROM tasks")" "$before" "tasks"
}

@test "task create: reserved and invalid names are refused (exit 64), before any request" {
	run -64 env CYNORK_GATEWAY_URL=http://127.0.0.1:1 "$CY_BUILD/cynork" task create --command true --env CYNODE_TASK_ID=x
	assert_output --partial "reserved"
	run -64 cynork task create --command true --env INFERENCE_PROXY_URL=x
	assert_output --partial "reserved"
	run -64 cynork task create --command true --env NOEQUALS
	assert_output --partial "want KEY=VALUE"
	run -64 cynork task create --command true --env 'A-B=1'
	assert_output --partial "'A-B' is not a variable name"
	run -64 cynork task create --command true --secret 'CYNODE_X'
	run -64 cynork task create --command true --secret 'OK=CYNODE_JOB_ID'
	run -64 cynork task create --command true --secret '9X'
	run -64 cynork task create --command true --env PW=x --secret OK=PW
	assert_output --partial "set by --env and by --secret"
	run -64 cynork task create -p hello --env A=b
	assert_output --partial "prompt task runs no command"
}

@test "secret set: the value from stdin (one newline stripped); never from argv" {
	run bash -c "printf '%s\n' '$VALUE' | XDG_CONFIG_HOME=$CY_TMP/xdg CYNORK_GATEWAY_URL=$CY_GATEWAY_URL $CY_BUILD/cynork secret set API_KEY"
	assert_success
	assert_output "secret=API_KEY created=true"
	run -64 cynork secret set API_KEY "$VALUE"
	run -64 cynork secret set 'bad-name' </dev/null
	assert_output --partial "invalid secret name 'bad-name'"
	run -64 cynork secret set CYNODE_X </dev/null
	run -64 cynork secret set EMPTY </dev/null
	assert_output --partial "no secret value"
	run -64 bash -c "head -c 65537 /dev/zero | tr '\\0' x | XDG_CONFIG_HOME=$CY_TMP/xdg CYNORK_GATEWAY_URL=$CY_GATEWAY_URL $CY_BUILD/cynork secret set BIG"
	assert_output --partial "longer than 65536 bytes"
	run -64 bash -c "printf 'a\\0b' | XDG_CONFIG_HOME=$CY_TMP/xdg CYNORK_GATEWAY_URL=$CY_GATEWAY_URL $CY_BUILD/cynork secret set NUL"
	assert_output --partial "NUL"
	run cy_psql "SELECT octet_length(value_sealed) - 28 FROM secrets WHERE name = 'API_KEY'"
	assert_output "${#VALUE}"
}

@test "secret set on a terminal: a Secret: prompt with echo off" {
	run python3 - "$CY_BUILD/cynork" "$CY_TMP/xdg" "$CY_GATEWAY_URL" <<'EOT'
import os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.environ["XDG_CONFIG_HOME"] = sys.argv[2]
    os.environ["CYNORK_GATEWAY_URL"] = sys.argv[3]
    os.execv(sys.argv[1], [sys.argv[1], "secret", "set", "TYPED"])
out = b""
deadline = time.time() + 20
def read_some():
    global out
    r, _, _ = select.select([fd], [], [], 0.2)
    if not r:
        return True
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        return False
    out += chunk
    return bool(chunk)
while b"Secret: " not in out and time.time() < deadline and read_some():
    pass
# The prompt turns echo off with TCSAFLUSH: type only once it has.
time.sleep(1)
os.write(fd, b"typed-at-the-prompt\n")
while time.time() < deadline and read_some():
    pass
try:
    os.kill(pid, 9)
except ProcessLookupError:
    pass
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.WEXITSTATUS(st) if os.WIFEXITED(st) else 99)
EOT
	assert_success
	assert_output --partial "Secret: "
	assert_output --partial "secret=TYPED created=true"
	refute_output --partial "typed-at-the-prompt"
	run cy_psql "SELECT octet_length(value_sealed) - 28 FROM secrets WHERE name = 'TYPED'"
	assert_output 19
}

@test "secret list: table and JSON, names only" {
	run cynork secret list
	assert_success
	assert_line --index 0 "$(printf 'NAME\tPROJECT_ID\tCREATED_AT\tUPDATED_AT')"
	assert_output --partial "$(printf 'API_KEY\t-\t')"
	refute_output --partial "$VALUE"
	run cynork -o json secret list
	assert_success
	[ "$(jq -r '[.secrets[].name] | join(",")' <<<"$output")" = API_KEY,TYPED ]
	refute_output --partial "$VALUE"
	run cynork -o name secrets ls
	assert_output "$(printf 'API_KEY\nTYPED')"
	run cynork secret list --no-headers
	refute_output --partial NAME
}

@test "task create --secret: the value reaches the job, masked in what is shown" {
	run --separate-stderr cynork -o json task create --command 'echo "key=$API_KEY"; echo "$MY_KEY" >&2; echo ${#MY_KEY}' \
		--secret API_KEY --secret API_KEY=MY_KEY --name with-secret --result
	assert_success
	cy_eq "$(jq -r .stdout <<<"$output")" "$(printf 'key=***\n%s' "${#VALUE}")" stdout
	cy_eq "$(jq -r .stderr <<<"$output")" "***" stderr
	refute_output --partial "$VALUE"
	[[ "$stderr" != *"$VALUE"* ]]
	run cynork task logs with-secret
	assert_success
	assert_output --partial "key=***"
	refute_output --partial "$VALUE"
	run cynork -o json task get with-secret
	refute_output --partial "$VALUE"
	run cy_psql "SELECT count(*) FROM jobs WHERE payload::text LIKE '%$VALUE%' OR result::text LIKE '%$VALUE%'"
	assert_output 0
	run grep -rlF -- "$VALUE" "$CY_TMP"
	assert_failure
}

@test "task create --secret of an unknown secret: exit 65 naming it, nothing created" {
	local before

	before=$(cy_psql "SELECT count(*) FROM tasks")
	run -65 cynork task create --command true --secret NOT_A_SECRET
	assert_output --partial "unknown secret 'NOT_A_SECRET'"
	cy_eq "$(cy_psql "SELECT count(*) FROM tasks")" "$before" "tasks"
}

@test "secret delete: asks unless -y; a missing secret exits 66" {
	run -0 cy_tty_cynork n secret delete TYPED
	assert_output --partial "Delete secret TYPED? [y/N]"
	assert_output --partial "nothing done"
	run -64 cynork secret delete TYPED <<<"y"
	assert_output --partial "standard input is not a terminal; give -y"
	run cynork -o name secret list
	assert_output --partial TYPED
	run cynork secret delete TYPED -y
	assert_success
	assert_output "secret=TYPED deleted=true"
	run -66 cynork secret delete TYPED -y
	run -64 cynork secret delete 'no-such-name' -y
	run cynork -o json secret rm API_KEY -y
	assert_success
	[ "$(jq -r .deleted <<<"$output")" = true ]
	run cynork -o name secret list
	assert_output ""
}
