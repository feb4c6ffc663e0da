#!/usr/bin/env bats
#
# The task API of the user gateway (contract 2.1, 4): create in every input
# mode, validation errors, names, list with limit/cursor/status, get by id
# and name, ownership, result (with the ?wait long poll), logs and cancel.
# The last tests start the real cynode-node and run jobs end to end through
# the dispatcher.

load ../lib/harness

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start MAX_REQUEST_BODY_MB=1
	# A second user sharing the admin's password hash.
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

# create JSON [TOKEN] -> $status_code, $body
create()
{
	cy_api POST /v1/tasks "$1" "${2:-$TOKEN}"
}

@test "create: commands mode is 201 queued with a TaskResponse" {
	create '{"prompt":"echo hello","input_mode":"commands"}'
	cy_status 201
	[ "$(jq -r .status <<<"$body")" = queued ]
	id=$(jq -r .task_id <<<"$body")
	[ "$(jq -r .id <<<"$body")" = "$id" ]
	[ "$(jq -r .prompt <<<"$body")" = "echo hello" ]
	[ "$(jq -r .task_name <<<"$body")" = "$(jq -r .summary <<<"$body")" ]
	[ "$(jq -c .attachments <<<"$body")" = '[]' ]
	[[ "$(jq -r .created_at <<<"$body")" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$ ]]
	run cy_psql "SELECT j.status, j.payload->'command'->>0, j.payload->'command'->>2, j.payload->>'network_policy' FROM jobs j WHERE j.task_id = '$id'"
	assert_output "queued|/bin/sh|echo hello|restricted"
}

@test "create: script mode is 201 queued" {
	create '{"prompt":"#!/bin/sh\necho from script\n","input_mode":"script"}'
	cy_status 201
	[ "$(jq -r .status <<<"$body")" = queued ]
}

@test "create: a prompt task without an inference path is refused and nothing is stored" {
	local before

	before=$(cy_psql "SELECT count(*) FROM tasks")
	create '{"prompt":"write me a poem"}'
	cy_status 503
	assert_output --partial "no inference path available"
	assert_output --partial "input_mode commands or script"
	create '{"prompt":"echo hi","input_mode":"commands","use_inference":true}'
	cy_status 503
	[ "$(cy_psql "SELECT count(*) FROM tasks")" = "$before" ]
	# Garbage in the inference fields is a 400 before anything else.
	create '{"prompt":"x","model":"no spaces allowed"}'
	cy_status 400
	assert_output --partial "model must be a model name"
	create '{"prompt":"x","model":7}'
	cy_status 400
	create '{"prompt":"x","input_mode":"commands","model":"qwen3.5:0.8b"}'
	cy_status 400
	assert_output --partial "use_inference"
	create '{"prompt":"x","input_mode":"commands","use_inference":"yes"}'
	cy_status 400
	assert_output --partial "use_inference must be true or false"
}

@test "create: bad input is 400, oversized body 413" {
	create '{"input_mode":"commands"}'
	cy_status 400
	assert_output --partial "prompt is required"
	create '{"prompt":""}'
	cy_status 400
	create '{"prompt":"x","input_mode":"shell"}'
	cy_status 400
	assert_output --partial input_mode
	create '{"prompt":"x","project_id":"not-a-uuid"}'
	cy_status 400
	assert_output --partial project_id
	create '{"prompt":"x","input_mode":"commands","project_id":"6f1c2d1e-0000-4000-8000-000000000000"}'
	cy_status 400
	create '{"prompt":'
	cy_status 400
	assert_output --partial "urn:cynodeai:error:validation"
	create '["prompt"]'
	cy_status 400
	create '{"prompt":"x","attachments":"a"}'
	cy_status 400
	create "$(jq -cn --arg a "$(printf 'a%.0s' {1..2049})" '{prompt:"x", attachments:[$a]}')"
	cy_status 400
	create '{"prompt":"x","input_mode":"commands","timeout_seconds":0}'
	cy_status 400
	head -c 1200000 /dev/zero | tr '\0' a | jq -Rc '{prompt:., input_mode:"commands"}' >"$CY_TMP/big.json"
	create "@$CY_TMP/big.json"
	cy_status 413
	create '{"prompt":"x","input_mode":"commands"}' "not-a-token"
	cy_status 401
}

@test "create: names are normalised, made unique, generated when absent" {
	create '{"prompt":"true","input_mode":"commands","task_name":"  My Build: Nightly!! "}'
	[ "$(jq -r .task_name <<<"$body")" = my-build-nightly ]
	create '{"prompt":"true","input_mode":"commands","task_name":"my build nightly"}'
	[ "$(jq -r .task_name <<<"$body")" = my-build-nightly-2 ]
	create '{"prompt":"true","input_mode":"commands","task_name":"MY-BUILD-NIGHTLY"}'
	[ "$(jq -r .task_name <<<"$body")" = my-build-nightly-3 ]
	create '{"prompt":"true","input_mode":"commands"}'
	[[ "$(jq -r .task_name <<<"$body")" =~ ^task-[0-9]+$ ]]
	# Another user's names do not collide.
	create '{"prompt":"true","input_mode":"commands","task_name":"my build nightly"}' "$ALICE"
	[ "$(jq -r .task_name <<<"$body")" = my-build-nightly ]
}

@test "create: generated names count up per user, skip taken ones, stay unique under concurrency" {
	create '{"prompt":"true","input_mode":"commands"}' "$ALICE"
	n=$(jq -r .task_name <<<"$body")
	[[ $n =~ ^task-([0-9]+)$ ]]
	next=$((BASH_REMATCH[1] + 1))
	# A name of the user's own that is the next generated one: skipped.
	create "{\"prompt\":\"true\",\"input_mode\":\"commands\",\"task_name\":\"task-$next\"}" "$ALICE"
	[ "$(jq -r .task_name <<<"$body")" = "task-$next" ]
	create '{"prompt":"true","input_mode":"commands"}' "$ALICE"
	[ "$(jq -r .task_name <<<"$body")" = "task-$((next + 1))" ]
	# A run of them longer than the server's 8 tries: skipped in one go.
	for i in $(seq 2 13); do
		create "{\"prompt\":\"true\",\"input_mode\":\"commands\",\"task_name\":\"task-$((next + i))\"}" "$ALICE"
		[ "$(jq -r .task_name <<<"$body")" = "task-$((next + i))" ]
	done
	create '{"prompt":"true","input_mode":"commands"}' "$ALICE"
	cy_status 201
	[ "$(jq -r .task_name <<<"$body")" = "task-$((next + 14))" ]
	# 40 creates at once, 20 generated and 20 with one explicit name: all 201,
	# all names distinct, the explicit ones base, base-2 ... base-20.
	for i in $(seq 1 20); do
		curl -s -m 30 -o "$CY_TMP/gen-$i" -H "Authorization: Bearer $ALICE" \
			-H 'Content-Type: application/json' \
			--data-binary '{"prompt":"true","input_mode":"commands"}' "$CY_GATEWAY_URL/v1/tasks" &
		curl -s -m 30 -o "$CY_TMP/exp-$i" -H "Authorization: Bearer $ALICE" \
			-H 'Content-Type: application/json' \
			--data-binary '{"prompt":"true","input_mode":"commands","task_name":"race"}' \
			"$CY_GATEWAY_URL/v1/tasks" &
	done
	wait
	[ "$(cat "$CY_TMP"/gen-* | jq -r .task_name | sort -u | grep -cE '^task-[0-9]+$')" = 20 ]
	# The counter's updates are combined under load: still no number twice and
	# none skipped (the 20 are a run), and the counter stands at the last one.
	nums=$(cat "$CY_TMP"/gen-* | jq -r .task_name | sed 's/^task-//' | sort -n)
	[ "$(($(tail -n 1 <<<"$nums") - $(head -n 1 <<<"$nums")))" = 19 ]
	[ "$(cy_psql "SELECT s.seq FROM task_name_seq s JOIN users u ON u.id = s.user_id
		WHERE u.handle = 'alice'")" = "$(tail -n 1 <<<"$nums")" ]
	[ "$(cat "$CY_TMP"/exp-* | jq -r .task_name | sort -u | grep -cE '^race(-([2-9]|1[0-9]|20))?$')" = 20 ]
	[ "$(cy_psql "SELECT count(*) FROM tasks t JOIN users u ON u.id = t.created_by
		WHERE u.handle = 'alice' AND t.summary ~ '^(task-[0-9]+|race.*)$'")" = 56 ]
}

@test "create: explicit project_id and the per-user default project" {
	pid=$(cy_psql "INSERT INTO projects (slug, display_name) VALUES ('proj-x', 'X') RETURNING id")
	create "{\"prompt\":\"true\",\"input_mode\":\"commands\",\"project_id\":\"$pid\"}"
	cy_status 201
	id=$(jq -r .task_id <<<"$body")
	run cy_psql "SELECT project_id FROM tasks WHERE id = '$id'"
	assert_output "$pid"
	run cy_psql "SELECT p.slug = 'default-' || t.created_by FROM tasks t JOIN projects p ON p.id = t.project_id WHERE t.id = (SELECT id FROM tasks WHERE project_id <> '$pid' ORDER BY created_at LIMIT 1)"
	assert_output t
	# Every task the earlier tests made without a project, the first of a
	# user (which looks up or makes the default) and the later ones (which
	# the insert finds itself), is in its owner's default project.
	run cy_psql "SELECT count(*), count(*) FILTER (WHERE p.slug = 'default-' || t.created_by) FROM tasks t LEFT JOIN projects p ON p.id = t.project_id WHERE t.project_id IS DISTINCT FROM '$pid'"
	[ "${output%%|*}" -gt 20 ]
	[ "${output%%|*}" = "${output##*|}" ] || { echo "$output"; false; }
}

@test "list: newest first, limit, cursor pages, status filter, bad values 400" {
	for i in 1 2 3; do
		create "{\"prompt\":\"true\",\"input_mode\":\"commands\",\"task_name\":\"page-$i\"}"
	done
	cy_api GET "/v1/tasks?limit=2" "" "$TOKEN"
	cy_status 200
	[ "$(jq -r '[.tasks[].task_name] | join(",")' <<<"$body")" = "page-3,page-2" ]
	cursor=$(jq -r .next_cursor <<<"$body")
	[ -n "$cursor" ] && [ "$cursor" != null ]
	cy_api GET "/v1/tasks?limit=1&cursor=$cursor" "" "$TOKEN"
	[ "$(jq -r '.tasks[0].task_name' <<<"$body")" = page-1 ]
	# Walk everything: no duplicates, no gaps.
	all=$(cy_psql "SELECT count(*) FROM tasks WHERE created_by = (SELECT id FROM users WHERE handle = 'admin')")
	seen=0 cursor=""
	while :; do
		cy_api GET "/v1/tasks?limit=3${cursor:+&cursor=$cursor}" "" "$TOKEN"
		seen=$((seen + $(jq '.tasks | length' <<<"$body")))
		cursor=$(jq -r '.next_cursor // empty' <<<"$body")
		[ -n "$cursor" ] || break
	done
	[ "$seen" = "$all" ]
	create '{"prompt":"true","input_mode":"commands","task_name":"to-cancel"}'
	cy_api POST /v1/tasks/to-cancel/cancel "" "$TOKEN"
	cy_status 200
	cy_api GET "/v1/tasks?status=canceled" "" "$TOKEN"
	[ "$(jq -r '[.tasks[].status] | unique | join(",")' <<<"$body")" = canceled ]
	cy_api GET "/v1/tasks?status=queued&limit=200" "" "$TOKEN"
	[ "$(jq -r '[.tasks[].status] | unique | join(",")' <<<"$body")" = queued ]
	# Only the caller's tasks.
	cy_api GET "/v1/tasks?limit=200" "" "$ALICE"
	[ "$(jq '.tasks | length' <<<"$body")" = "$(cy_psql "SELECT count(*) FROM tasks
		WHERE created_by = (SELECT id FROM users WHERE handle = 'alice')")" ]
	[ "$(jq '[.tasks[] | select(.task_name | startswith("page-"))] | length' <<<"$body")" = 0 ]
	for q in limit=0 limit=201 limit=abc cursor=garbage status=pending-ish; do
		cy_api GET "/v1/tasks?$q" "" "$TOKEN"
		cy_status 400
	done
}

@test "get: by uuid and by name; unknown 404; another user's task 403" {
	create '{"prompt":"true","input_mode":"commands","task_name":"get-me"}'
	id=$(jq -r .task_id <<<"$body")
	cy_api GET "/v1/tasks/$id" "" "$TOKEN"
	cy_status 200
	[ "$(jq -r .task_name <<<"$body")" = get-me ]
	cy_api GET /v1/tasks/get-me "" "$TOKEN"
	cy_status 200
	[ "$(jq -r .task_id <<<"$body")" = "$id" ]
	cy_api GET /v1/tasks/no-such-task "" "$TOKEN"
	cy_status 404
	cy_api GET /v1/tasks/6f1c2d1e-0000-4000-8000-000000000000 "" "$TOKEN"
	cy_status 404
	cy_api GET "/v1/tasks/$id" "" "$ALICE"
	cy_status 403
	assert_output --partial "Not task owner"
	cy_api GET "/v1/tasks/$id/result" "" "$ALICE"
	cy_status 403
	cy_api POST "/v1/tasks/$id/cancel" "" "$ALICE"
	cy_status 403
	# By name, only the caller's own tasks are found.
	cy_api GET /v1/tasks/get-me "" "$ALICE"
	cy_status 404
}

@test "result and logs of a queued task; bad wait and stream are 400" {
	create '{"prompt":"true","input_mode":"commands","task_name":"still-queued"}'
	cy_api GET /v1/tasks/still-queued/result "" "$TOKEN"
	cy_status 200
	[ "$(jq -r .status <<<"$body")" = queued ]
	[ "$(jq -r '.jobs[0].status' <<<"$body")" = queued ]
	[ "$(jq -r '.jobs[0].result' <<<"$body")" = null ]
	cy_api GET /v1/tasks/still-queued/logs "" "$TOKEN"
	cy_status 200
	[ "$(jq -c '[.stdout, .stderr]' <<<"$body")" = '["",""]' ]
	for q in wait=61 wait=-1 wait=x; do
		cy_api GET "/v1/tasks/still-queued/result?$q" "" "$TOKEN"
		cy_status 400
	done
	cy_api GET "/v1/tasks/still-queued/logs?stream=both" "" "$TOKEN"
	cy_status 400
}

@test "result ?wait on a task that stays queued answers after the wait" {
	create '{"prompt":"true","input_mode":"commands","task_name":"wait-queued"}'
	start=$(date +%s)
	cy_api GET "/v1/tasks/wait-queued/result?wait=2" "" "$TOKEN"
	end=$(date +%s)
	cy_status 200
	[ "$(jq -r .status <<<"$body")" = queued ]
	[ $((end - start)) -ge 1 ] && [ $((end - start)) -le 10 ]
}

@test "cancel: a queued task is canceled with its job; again is 409" {
	create '{"prompt":"true","input_mode":"commands","task_name":"cancel-me"}'
	id=$(jq -r .task_id <<<"$body")
	cy_api POST /v1/tasks/cancel-me/cancel "" "$TOKEN"
	cy_status 200
	[ "$(jq -c . <<<"$body")" = \
		"{\"task_id\":\"$id\",\"canceled\":true,\"task_name\":\"cancel-me\"}" ]
	cy_api GET "/v1/tasks/$id/result?wait=5" "" "$TOKEN"
	[ "$(jq -r .status <<<"$body")" = canceled ]
	[ "$(jq -r '.jobs[0].status' <<<"$body")" = canceled ]
	cy_api POST /v1/tasks/cancel-me/cancel "" "$TOKEN"
	cy_status 409
	assert_output --partial "task already canceled"
	cy_api POST /v1/tasks/no-such-task/cancel "" "$TOKEN"
	cy_status 404
}

@test "cancel takes no parameters: a garbage body is 400 and the task stays queued" {
	create '{"prompt":"true","input_mode":"commands","task_name":"keep-me"}'
	for b in 'not json' '{"force":true}' '[]' '"yes"'; do
		cy_api POST /v1/tasks/keep-me/cancel "$b" "$TOKEN"
		cy_status 400 || { echo "$b -> $status_code $body"; false; }
		[ "$(jq -r .type <<<"$body")" = urn:cynodeai:error:validation ]
	done
	cy_api GET /v1/tasks/keep-me "" "$TOKEN"
	[ "$(jq -r .status <<<"$body")" = queued ]
	cy_api POST /v1/tasks/keep-me/cancel '{}' "$TOKEN"
	cy_status 200
}

@test "task ids and query values that are not UTF-8 text are 400, never 500" {
	local p
	for p in '/v1/tasks/%ff%fe' '/v1/tasks/%c0%af/result' '/v1/tasks/%ed%a0%80/logs' \
		'/v1/tasks?status=%ff' '/v1/tasks?cursor=%00' '/v1/tasks/x/logs?stream=%80'; do
		cy_api GET "$p" "" "$TOKEN"
		cy_status 400 || { echo "$p -> $status_code $body"; false; }
		[ "$(jq -r .type <<<"$body")" = urn:cynodeai:error:validation ]
		[[ $(jq -r .detail <<<"$body") == *"UTF-8"* ]]
	done
	cy_api POST /v1/tasks/%ff/cancel "" "$TOKEN"
	cy_status 400
	assert_output --partial "path segment 1 of /v1/tasks/{id}/cancel is not valid UTF-8"
	# A name in UTF-8 is just an unknown task.
	cy_api GET /v1/tasks/%c3%a9t%c3%a9 "" "$TOKEN"
	cy_status 404
}

@test "cancel wakes a long poll at once" {
	create '{"prompt":"true","input_mode":"commands","task_name":"cancel-wakes"}'
	(sleep 1; curl -s -m 10 -X POST -H "Authorization: Bearer $TOKEN" \
		"$CY_GATEWAY_URL/v1/tasks/cancel-wakes/cancel" >/dev/null) &
	start=$(date +%s)
	cy_api GET "/v1/tasks/cancel-wakes/result?wait=30" "" "$TOKEN"
	end=$(date +%s)
	wait
	[ "$(jq -r .status <<<"$body")" = canceled ]
	# far below the 30 s the poll would otherwise take
	[ $((end - start)) -le 15 ]
}

# --- with a real node -------------------------------------------------------

@test "node: queued tasks run on the real node and complete" {
	cy_node_start node-01
	cy_api GET "/v1/tasks/still-queued/result?wait=30" "" "$TOKEN"
	[ "$(jq -r .status <<<"$body")" = completed ]
	[ "$(jq -r '.jobs[0].exit_code' <<<"$body")" = 0 ]
	cy_api GET /v1/nodes/node-01 "" "$TOKEN"
	cy_status 200
	[ "$(jq -r .config_ack_status <<<"$body")" = applied ]
	[ "$(jq -r .status <<<"$body")" = active ]
}

@test "node: commands output, exit code, logs; long poll answers when done" {
	create '{"prompt":"echo hello; echo oops >&2; exit 3","input_mode":"commands","task_name":"out-err"}'
	cy_api GET "/v1/tasks/out-err/result?wait=30" "" "$TOKEN"
	cy_status 200
	[ "$(jq -r .status <<<"$body")" = failed ]
	[ "$(jq -r '.jobs[0].exit_code' <<<"$body")" = 3 ]
	result=$(jq -r '.jobs[0].result' <<<"$body")
	[ "$(jq -r .stdout <<<"$result")" = hello ]
	[ "$(jq -r .version <<<"$result")" = 1 ]
	[ "$(jq -r '.jobs[0].started_at' <<<"$body")" != null ]
	[ "$(jq -r '.jobs[0].ended_at' <<<"$body")" != null ]
	cy_api GET /v1/tasks/out-err/logs "" "$TOKEN"
	[ "$(jq -r .stdout <<<"$body")" = hello ]
	[ "$(jq -r .stderr <<<"$body")" = oops ]
	cy_api GET "/v1/tasks/out-err/logs?stream=stdout" "" "$TOKEN"
	[ "$(jq -r .stderr <<<"$body")" = "" ]
	cy_api POST /v1/tasks/out-err/cancel "" "$TOKEN"
	cy_status 409

	create '{"prompt":"sleep 1; echo done","input_mode":"script","task_name":"slow-one"}'
	start=$(date +%s)
	cy_api GET "/v1/tasks/slow-one/result?wait=30" "" "$TOKEN"
	end=$(date +%s)
	[ "$(jq -r .status <<<"$body")" = completed ]
	[ $((end - start)) -le 20 ]
	cy_api GET /v1/tasks/slow-one/logs "" "$TOKEN"
	[ "$(jq -r .stdout <<<"$body")" = done ]
}

@test "node: several jobs run at once" {
	for i in 1 2 3; do
		create "{\"prompt\":\"sleep 2\",\"input_mode\":\"commands\",\"task_name\":\"par-$i\"}"
	done
	for i in 1 2 3; do
		cy_api GET "/v1/tasks/par-$i/result?wait=30" "" "$TOKEN"
		[ "$(jq -r .status <<<"$body")" = completed ]
	done
	# All three ran at the same time: the last one started before the
	# first one ended (not a wall-clock bound, which a slow machine breaks).
	run cy_psql "SELECT count(*), max(j.started_at) < min(j.ended_at) FROM jobs j
		JOIN tasks t ON t.id = j.task_id WHERE t.summary IN ('par-1', 'par-2', 'par-3')"
	assert_output "3|t"
}

@test "node: canceling a running task keeps it canceled" {
	create '{"prompt":"sleep 3","input_mode":"commands","task_name":"cancel-running"}'
	for _ in $(seq 300); do
		cy_api GET /v1/tasks/cancel-running "" "$TOKEN"
		[ "$(jq -r .status <<<"$body")" = running ] && break
		sleep 0.1
	done
	[ "$(jq -r .status <<<"$body")" = running ]
	cy_api POST /v1/tasks/cancel-running/cancel "" "$TOKEN"
	cy_status 200
	sleep 4
	cy_api GET /v1/tasks/cancel-running/result "" "$TOKEN"
	[ "$(jq -r .status <<<"$body")" = canceled ]
	# The attempt that was running ends with the cancel, not left 'running'.
	run cy_psql "SELECT a.status, a.ended_at IS NOT NULL FROM job_attempts a
		JOIN jobs j ON j.id = a.job_id JOIN tasks t ON t.id = j.task_id
		WHERE t.summary = 'cancel-running'"
	[ "$output" = "canceled|t" ]
}
