#!/usr/bin/env bats
#
# logs-follow.bats: a running job's output while it runs, end to end with
# the real server, PostgreSQL and node: the node streams it to the server
# (logs.bats has the chunk endpoint), the server's
# GET /v1/tasks/{id}/logs?follow=true answers windows of the stored log
# (offsets, UTF-8 boundaries, validation, ownership, the end) and
# `cynork task logs --follow` prints lines before the task ends.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	cy_node_start node-01 sandbox.max_concurrency=4
	cy_login >/dev/null
	cy_psql "INSERT INTO users (handle) VALUES ('alice');
		INSERT INTO password_credentials (user_id, password_hash)
		SELECT (SELECT id FROM users WHERE handle = 'alice'), password_hash
		FROM password_credentials pc JOIN users u ON u.id = pc.user_id
		WHERE u.handle = 'admin';" >/dev/null
	TOKEN=$(cy_admin_token)
	ALICE=$(curl -s -m 10 -H 'Content-Type: application/json' \
		--data-binary "$(jq -cn --arg p "$CY_ADMIN_PASSWORD" '{handle:"alice",password:$p}')" \
		"$CY_GATEWAY_URL/v1/auth/login" | jq -r .access_token)
	export TOKEN ALICE
}

# create SCRIPT NAME: a commands task as admin; prints its id.
create()
{
	cy_api POST /v1/tasks "$(jq -cn --arg p "$1" --arg n "$2" \
		'{prompt:$p, input_mode:"commands", task_name:$n}')" "$TOKEN"
	cy_status 201 || return 1
	jq -r .task_id <<<"$body"
}

# fget PATH: GET as admin to stdout (large answers: an exported variable
# such as cy_api's $body holds at most 128 KiB).
fget()
{
	curl -s -m 70 -H "Authorization: Bearer $TOKEN" "$CY_GATEWAY_URL$1"
}

# follow TASK QUERY: GET /v1/tasks/TASK/logs?follow=true&QUERY as admin
follow()
{
	cy_api GET "/v1/tasks/$1/logs?follow=true${2:+&$2}" "" "$TOKEN"
}

# wait_stdout TASK TEXT [ERRTEXT]: polls the follow route until stdout from
# 0 is TEXT (and stderr ERRTEXT: the node reads the two pipes one after the
# other, so one answer may hold a line of one but not yet of the other) (30 s)
wait_stdout()
{
	local i

	for i in $(seq 150); do
		follow "$1"
		[ "$(jq -r .stdout <<<"$body")" = "$2" ] &&
			{ [ $# -lt 3 ] || [ "$(jq -r .stderr <<<"$body")" = "$3" ]; } && return 0
		sleep 0.2
	done
	echo "stdout never became '$2'${3:+ with stderr '$3'}: $body" >&2
	return 1
}

@test "follow: a running job's streamed output, then the end" {
	local id

	id=$(create 'echo one; echo eins >&2; sleep 4; echo two' follow-api)
	wait_stdout "$id" one eins
	cy_status 200
	[ "$(jq -r .ended <<<"$body")" = false ]
	[ "$(jq -r .status <<<"$body")" = running ]
	[ "$(jq -r .stdout_offset <<<"$body")" = 4 ]
	[ "$(jq -r .stderr <<<"$body")" = eins ]
	[ "$(jq -r .stderr_offset <<<"$body")" = 5 ]
	# The plain route has it too: the logs are stored while the job runs.
	cy_api GET "/v1/tasks/$id/logs" "" "$TOKEN"
	[ "$(jq -r .stdout <<<"$body")" = one ]
	[ "$(jq -r 'has("ended")' <<<"$body")" = false ]
	# Only the stream asked for; the other keeps its offset.
	follow "$id" "stream=stderr&stdout_offset=4&stderr_offset=2"
	[ "$(jq -r .stdout <<<"$body")" = "" ]
	[ "$(jq -r .stdout_offset <<<"$body")" = 4 ]
	[ "$(jq -r .stderr <<<"$body")" = ns ]
	cy_api GET "/v1/tasks/$id/result?wait=30" "" "$TOKEN"
	[ "$(jq -r .status <<<"$body")" = completed ]
	follow "$id" "stdout_offset=4&stderr_offset=5"
	[ "$(jq -r .ended <<<"$body")" = true ]
	[ "$(jq -r .status <<<"$body")" = completed ]
	[ "$(jq -r .stdout <<<"$body")" = two ]
	[ "$(jq -r .stdout_offset <<<"$body")" = 8 ]
	[ "$(jq -r .stderr <<<"$body")" = "" ]
	[ "$(jq -r .stderr_offset <<<"$body")" = 5 ]
	follow "$id" "stdout_offset=8&stderr_offset=5"
	[ "$(jq -r .stdout <<<"$body")$(jq -r .stderr <<<"$body")" = "" ]
	[ "$(jq -r .stdout_offset <<<"$body")" = 8 ]
}

@test "follow wait=N: a long poll answered when the bytes are stored, or at the end" {
	local id t0 t

	id=$(create 'sleep 2; echo late' follow-wait)
	t0=$(date +%s%N)
	follow "$id" "wait=20&stdout_offset=0&stderr_offset=0"
	t=$((($(date +%s%N) - t0) / 1000000))
	cy_status 200
	[ "$(jq -r .stdout <<<"$body")" = late ] || { echo "after ${t} ms: $body"; return 1; }
	[ "$t" -ge 1000 ] && [ "$t" -lt 10000 ]
	# Nothing more comes: answered when the task ends, long before the 20 s.
	t0=$(date +%s%N)
	follow "$id" "wait=20&stdout_offset=5&stderr_offset=0"
	t=$((($(date +%s%N) - t0) / 1000000))
	[ "$(jq -r .ended <<<"$body")" = true ]
	[ "$(jq -r .stdout <<<"$body")" = "" ]
	[ "$t" -lt 10000 ]
	# An ended task answers at once.
	t0=$(date +%s%N)
	follow "$id" "wait=20&stdout_offset=5&stderr_offset=0"
	[ $((($(date +%s%N) - t0) / 1000000)) -lt 2000 ]
}

@test "follow wait=N on another replica: woken by the NOTIFY of the stored bytes" {
	local gw2 cp2 id t0 t

	gw2=$(cy_free_port)
	cp2=$(cy_free_port)
	stack_server_start "$gw2" "$cp2" "$CY_TMP/server-replica.log" "$CY_TMP/replica.pid" \
		"JWT_SECRET=$CY_JWT_SECRET" "NODE_REGISTRATION_PSK=$CY_PSK" \
		"BOOTSTRAP_ADMIN_PASSWORD=$CY_ADMIN_PASSWORD" READINESS_REQUIRE_INFERENCE=false
	cy__track "$STACK_SERVER_PID"
	# The bytes come at 2 s, the end at 8 s: only the NOTIFY answers before.
	id=$(create 'sleep 2; echo across; sleep 6' follow-replica)
	t0=$(date +%s%N)
	cy_api GET "http://127.0.0.1:$gw2/v1/tasks/$id/logs?follow=true&wait=30&stdout_offset=0&stderr_offset=0" \
		"" "$TOKEN"
	t=$((($(date +%s%N) - t0) / 1000000))
	stack_kill_pid "$(cat "$CY_TMP/replica.pid")" 10
	cy_status 200
	[ "$(jq -r .stdout <<<"$body")" = across ] || { echo "after ${t} ms: $body"; return 1; }
	[ "$(jq -r .ended <<<"$body")" = false ]
	[ "$t" -lt 7000 ]
}

@test "follow: a queued task answers nothing yet, not ended" {
	local id t0

	cy_api POST /v1/nodes/node-01/drain '{}' "$TOKEN"
	cy_status 200
	id=$(create 'echo late' follow-queued)
	follow "$id" "stdout_offset=0&stderr_offset=0"
	cy_status 200
	# A long poll on it runs out with nothing.
	t0=$(date +%s)
	follow "$id" "wait=1&stdout_offset=0&stderr_offset=0"
	cy_status 200
	[ "$(jq -r .stdout <<<"$body")" = "" ]
	[ $(($(date +%s) - t0)) -ge 1 ]
	[ "$(jq -r .status <<<"$body")" = queued ]
	[ "$(jq -r .ended <<<"$body")" = false ]
	[ "$(jq -r .stdout <<<"$body")" = "" ]
	[ "$(jq -r .stdout_offset <<<"$body")" = 0 ]
	cy_api POST /v1/nodes/node-01/undrain '{}' "$TOKEN"
	cy_status 200
	cy_api GET "/v1/tasks/$id/result?wait=30" "" "$TOKEN"
	[ "$(jq -r .status <<<"$body")" = completed ]
}

@test "follow: bad follow, offsets and stream are 400" {
	local id q

	id=$(create 'true' follow-bad)
	for q in "follow=yes" "follow=true&stdout_offset=abc" "follow=true&stderr_offset=-1" \
		"follow=true&stdout_offset=1.5" "follow=true&stdout_offset=" \
		"follow=true&stderr_offset=99999999999999999999" "stdout_offset=3" \
		"follow=false&stderr_offset=0" "follow=true&stream=both" "wait=5" \
		"follow=true&wait=61" "follow=true&wait=-1" "follow=true&wait=x" "follow=true&wait="; do
		cy_api GET "/v1/tasks/$id/logs?$q" "" "$TOKEN"
		cy_status 400 || { echo "$q: $status_code $body" >&2; return 1; }
	done
	cy_api GET "/v1/tasks/$id/logs?follow=true&stdout_offset=0&stderr_offset=0" "" "$TOKEN"
	cy_status 200
}

@test "follow: another user's task is 403, an unknown one 404, no token 401" {
	local id

	id=$(create 'echo secret; sleep 3' follow-private)
	cy_api GET "/v1/tasks/$id/logs?follow=true" "" "$ALICE"
	cy_status 403
	[[ $body != *secret* ]]
	cy_api GET "/v1/tasks/follow-private/logs?follow=true" "" "$ALICE"
	cy_status 404
	cy_api GET "/v1/tasks/no-such-task/logs?follow=true" "" "$TOKEN"
	cy_status 404
	cy_api GET "/v1/tasks/$id/logs?follow=true"
	cy_status 401
}

@test "follow: windows of 256 KiB never split a character; invalid bytes are U+FFFD" {
	local id off=0 n=0 i got

	# x, 300000 two-byte characters (so a window's end falls inside one), an
	# invalid byte and a three-byte character.
	id=$(create 'printf x; yes é | head -n 300000 | tr -d "\n"; printf "\377\342\202\254"' follow-utf8)
	res=$(fget "/v1/tasks/$id/result?wait=60")
	[ "$(jq -r .status <<<"$res")" = completed ]
	for i in $(seq 10); do
		res=$(fget "/v1/tasks/$id/logs?follow=true&stdout_offset=$off&stderr_offset=0")
		got=$(jq -r .stdout_offset <<<"$res")
		[ "$got" = "$off" ] && break
		# A window: at most 256 KiB of the log, whole characters only.
		[ $((got - off)) -le 262144 ]
		[ "$(jq -j .stdout <<<"$res" | wc -c)" -ge $((got - off)) ]
		n=$((n + $(jq -j .stdout <<<"$res" | grep -o é | wc -l)))
		off=$got
	done
	[ "$off" = $((1 + 600000 + 4)) ]
	[ "$n" = 300000 ]
	[ "$(jq -r .stdout <<<"$res")" = "" ]
	res=$(fget "/v1/tasks/$id/logs?follow=true&stdout_offset=600001&stderr_offset=0")
	[ "$(jq -r .stdout <<<"$res")" = $'\uFFFD€' ]
	[ "$(jq -r .stdout_offset <<<"$res")" = 600005 ]
}

@test "cynork task logs --follow prints the first line before the task ends" {
	local id pid i rc=0

	id=$(cynork -o name task create --command 'echo first; sleep 4; echo second')
	cynork task logs --follow "$id" >"$CY_TMP/follow.out" 2>"$CY_TMP/follow.err" &
	pid=$!
	for i in $(seq 300); do
		grep -q first "$CY_TMP/follow.out" && break
		sleep 0.1
	done
	run cat "$CY_TMP/follow.out"
	assert_output first
	run cynork -o json task get "$id"
	[ "$(jq -r .status <<<"$output")" = running ]
	wait "$pid" || rc=$?
	[ "$rc" = 0 ]
	run cat "$CY_TMP/follow.out"
	assert_output $'first\nsecond'
	[ ! -s "$CY_TMP/follow.err" ]
	run -66 cynork task logs -F no-such-task
}

@test "cynork task logs --follow --stream; -o json prints the final JSON once" {
	local id

	id=$(cynork -o name task create --command 'echo o1; echo e1 >&2; sleep 1; echo o2; echo e2 >&2')
	run --separate-stderr cynork task logs -F "$id" --stream stderr
	assert_success
	assert_output $'e1\ne2'
	run --separate-stderr cynork task logs -F "$id" --stream stdout
	assert_output $'o1\no2'
	id=$(cynork -o name task create --command 'sleep 1; echo j1; echo j2')
	run --separate-stderr cynork -o json task logs -F "$id"
	assert_success
	[ "$(jq -c .lines <<<"$output")" = '["j1","j2"]' ]
}

@test "cynork task create --follow: attached, stdout and stderr as they come, the job's exit code" {
	local pid i rc=0

	cynork task create --follow --name attached \
		--command 'echo out1; echo err1 >&2; sleep 3; echo out2; exit 3' \
		>"$CY_TMP/attach.out" 2>"$CY_TMP/attach.err" &
	pid=$!
	for i in $(seq 300); do
		grep -q out1 "$CY_TMP/attach.out" && grep -q err1 "$CY_TMP/attach.err" && break
		sleep 0.1
	done
	# The first lines are there while the job still runs.
	run cat "$CY_TMP/attach.out"
	assert_output out1
	run cynork -o json task get attached
	[ "$(jq -r .status <<<"$output")" = running ]
	wait "$pid" || rc=$?
	[ "$rc" = 3 ]
	run cat "$CY_TMP/attach.out"
	assert_output $'out1\nout2'
	run cat "$CY_TMP/attach.err"
	assert_line --index 0 --regexp '^task [0-9a-f-]{36} created; its output follows$'
	assert_line --index 1 err1
	# -q: only the job's own stderr.
	run --separate-stderr cynork -q task create -F --command 'echo fine; echo warn >&2'
	assert_success
	assert_output fine
	[ "$stderr" = warn ]
}

@test "cynork task create --follow: with --wait, --result, --wait-timeout or -o json is a usage error (125: it waits for a job)" {
	run -125 cynork task create -F --wait --command true
	assert_output --partial -- '--follow'
	assert_output --partial 'cynork failed (64, usage)'
	run -125 cynork task create -F --result --command true
	run -125 cynork task create -F --wait-timeout 5s --command true
	run -125 cynork -o json task create -F --command true
	assert_output --partial 'drop -o json'
}
