#!/usr/bin/env bats
#
# exit-codes.bats: cynork's exit code scheme (cynork/exit.c, cynork(1) EXIT
# STATUS), one case per code against the real stack: cynork's own failures
# are sysexits.h codes (64-78); task wait and task create --wait/--follow
# exit with the job's own code, so there cynork's own failures are 125,
# told apart by the "cynork: exit 125" line on stderr and -o json's
# cynork_error object.  Shell Ctrl-C (130) is in shell.bats, a job that
# failed without a code (1) in node/quota.bats.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	CY_RATE_LIMIT=4 cy_server_start
	cy_node_start node-01
	cy_login >/dev/null
}

@test "cynork(1) EXIT STATUS lists exactly the codes of the table" {
	run -0 bash -c "'$CY_BUILD/cynork' __man cynork.1 | sed -n '/^.SH EXIT STATUS/,/^.SH /p' |
		sed -n 's/^\.B \([0-9][0-9]*\)\$/\1/p' | tr '\n' ' '"
	assert_output "0 1 64 65 66 69 70 73 75 76 77 78 124 125 130 143 "
}

@test "64 usage: a bad flag value, a missing argument" {
	run -64 --separate-stderr cynork task list --limit 0
	[[ $stderr == "cynork: error: invalid value '0' for --limit"* ]]
	run -64 cynork task get
	run -64 cynork nosuchcommand
}

@test "65 data error: the gateway's 400" {
	run -65 --separate-stderr cynork task list --cursor garbage
	[[ $stderr == *"(HTTP 400)"* ]]
}

@test "66 not found: the gateway's 404" {
	run -66 --separate-stderr cynork task get no-such-task
	[[ $stderr == *"not found"* ]]
}

@test "69 unavailable: nothing listens at the gateway URL" {
	CYNORK_GATEWAY_URL=http://127.0.0.1:1 run -69 --separate-stderr cynork status
	CYNORK_GATEWAY_URL=http://127.0.0.1:1 run -69 --separate-stderr cynork task list
	[[ $stderr == *"cannot reach the gateway"* ]]
}

@test "70 internal: standard output cannot be written" {
	run -70 bash -c "'$CY_BUILD/cynork' version >/dev/full"
}

@test "73 conflict: canceling a task that has ended" {
	local id

	id=$(cynork -o name task create --command true)
	cynork task wait "$id" >/dev/null
	run -73 --separate-stderr cynork task cancel -y "$id"
	[[ $stderr == *"(HTTP 409)"* ]]
}

@test "76 protocol: a gateway URL that answers something else than the API" {
	local port pid

	port=$(cy_free_port)
	mkdir -p "$CY_TMP/www/v1/users"
	printf 'this is not JSON\n' >"$CY_TMP/www/v1/users/me"
	python3 -m http.server --bind 127.0.0.1 --directory "$CY_TMP/www" "$port" \
		>"$CY_TMP/www.log" 2>&1 &
	pid=$!
	echo "$pid" >>"$CY_TMP/pids"
	for _ in $(seq 50); do
		curl -s -o /dev/null "http://127.0.0.1:$port/" && break
		sleep 0.1
	done
	CYNORK_GATEWAY_URL=http://127.0.0.1:$port CYNORK_TOKEN=x run -76 --separate-stderr \
		cynork whoami
	[[ $stderr == *"malformed response"* ]]
	kill "$pid"
}

@test "77 auth: no token, a token the gateway refuses" {
	CYNORK_TOKEN= run -77 cynork --config "$CY_TMP/none.yaml" task list
	CYNORK_TOKEN=garbage run -77 cynork task list
}

@test "78 config: a config file that is not YAML, no HOME to find one" {
	printf 'gateway_url: [\n' >"$CY_TMP/bad.yaml"
	run -78 --separate-stderr cynork --config "$CY_TMP/bad.yaml" version
	[[ $stderr == *"invalid config file"* ]]
	run -78 env -u HOME -u XDG_CONFIG_HOME "$CY_BUILD/cynork" logout
}

@test "the job's own code passes through --wait, --follow and task wait, even 64 and 125" {
	local id

	run -64 --separate-stderr cynork task create --command 'exit 64' --wait
	[[ $stderr != *"cynork: error"* ]]
	run -125 --separate-stderr cynork task create --command 'exit 125' --wait
	[[ $stderr != *"cynork failed"* ]]
	run -125 --separate-stderr cynork -o json task create --command 'exit 125' --wait
	run jq -e '.exit_code == 125 and .status == "failed" and (has("cynork_error") | not)' <<<"$output"
	assert_success
	run -77 --separate-stderr cynork task create --command 'exit 77' --follow
	id=$(cynork -o name task create --command 'exit 69')
	run -69 --separate-stderr cynork task wait "$id"
	[[ $stderr != *"cynork"* ]]
	run -0 cynork task create --command true --wait
}

@test "124: the wait's own --timeout, the job's timeout on the node" {
	run -124 --separate-stderr cynork task create --command 'sleep 5' --wait --wait-timeout 1s
	[[ $stderr == *"gave up waiting"* ]]
	[[ $stderr != *"cynork failed"* ]]
	run -124 --separate-stderr cynork task create --command 'sleep 30' --timeout 1s --wait
	[[ $stderr == *"timed out on the node"* ]]
}

@test "125: cynork's own failure while waiting for a job, with its code on stderr and in -o json" {
	CYNORK_GATEWAY_URL=http://127.0.0.1:1 run -125 --separate-stderr \
		cynork task create --command true --wait
	[[ $stderr == *"cannot reach the gateway"* ]]
	[[ $stderr == *"cynork: exit 125: cynork failed (69, unavailable), not the job"* ]]
	[ -z "$output" ]
	CYNORK_GATEWAY_URL=http://127.0.0.1:1 run -125 --separate-stderr \
		cynork task create --command true --follow
	[[ $stderr == *"cynork: exit 125: cynork failed (69, unavailable), not the job"* ]]
	CYNORK_GATEWAY_URL=http://127.0.0.1:1 run -125 --separate-stderr \
		cynork -o json task create --command true --wait
	run jq -e '.cynork_error.code == 69 and .cynork_error.reason == "unavailable" and
		(.cynork_error.message | test("cannot reach the gateway"))' <<<"$output"
	assert_success
	# usage errors too, wherever the flag that makes it wait stands
	run -125 --separate-stderr cynork task create --bogus --command true --wait
	[[ $stderr == *"cynork failed (64, usage)"* ]]
	run -125 cynork task create -w --bogus --command true
	run -125 cynork task wait
	CYNORK_TOKEN= run -125 --separate-stderr cynork --config "$CY_TMP/none.yaml" -o json task wait x
	run jq -e '.cynork_error.code == 77 and .cynork_error.reason == "auth"' <<<"$output"
	assert_success
	# without the flags that make it wait, task create keeps the sysexits codes
	run -64 cynork task create --bogus --command true
	CYNORK_GATEWAY_URL=http://127.0.0.1:1 run -69 cynork task create --command true
	# --result waits but exits 0 (cli.md), so its failures keep their codes
	CYNORK_GATEWAY_URL=http://127.0.0.1:1 run -69 cynork task create --command true --result
}

@test "143: the task was canceled while waiting" {
	local id

	id=$(cynork -o name task create --command 'sleep 30')
	cynork task cancel -y "$id" >/dev/null
	run -143 --separate-stderr cynork task wait "$id"
	[[ $stderr == *"the task was canceled"* ]]
	[[ $output == *"status=canceled"* ]]
}

@test "75 temporary: the gateway's 429 without a short Retry-After" {
	local i

	# The server allows 4 logins a minute from one address (setup_file used one).
	for i in 1 2 3 4 5 6; do
		cynork login -u nobody --password-stdin <<<"wrong-password" >/dev/null 2>&1 || true
	done
	run -75 --separate-stderr cynork login -u nobody --password-stdin <<<"wrong-password"
	[[ $stderr == *"(HTTP 429)"* ]]
}
