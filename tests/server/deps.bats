#!/usr/bin/env bats
#
# deps.bats: task dependencies (POST /v1/tasks "after", cynork task create
# --after; Slurm's afterok / afternotok / afterany) with the real server,
# PostgreSQL and a node running jobs in bubblewrap: a chain runs in order,
# a dependency that fails cancels its afterok dependents down the chain
# with the reason, afternotok and afterany run, one that ended already is
# judged at create, a canceled dependency, and garbage refused.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	cy_node_start node-01 sandbox.max_concurrency=4
	TOKEN=$(cy_admin_token)
	export TOKEN
}

# create BODY: $id the new task's id
create()
{
	cy_api POST /v1/tasks "$1" "$TOKEN"
	cy_status 201 || return 1
	id=$(jq -r .task_id <<<"$body")
}

# cmd NAME SCRIPT [AFTER_JSON]: a commands task named NAME; $id its id
cmd()
{
	create "$(jq -cn --arg n "$1" --arg s "$2" --argjson a "${3:-null}" \
		'{task_name:$n, input_mode:"commands", prompt:$s} + (if $a then {after:$a} else {} end)')"
}

# result ID: waits for the task; $body its result
result()
{
	cy_api GET "/v1/tasks/$1/result?wait=60" "" "$TOKEN"
}

state() { cy_psql "SELECT status FROM tasks WHERE id = '$1'"; }

@test "a chain runs in order: each waits for the one before to complete" {
	cmd chain-a 'sleep 1.5; echo a'
	a=$id
	cmd chain-b 'echo b' '[{"task":"chain-a"}]'
	b=$id
	cmd chain-c 'echo c' "[{\"task\":\"$b\",\"condition\":\"ok\"}]"
	c=$id
	# B waits (queued, never claimed) while A runs.
	sleep 0.5
	cy_psql "SELECT status, not_before, (SELECT status FROM jobs WHERE task_id = '$a') FROM jobs WHERE task_id = '$b'" >&2
	[ "$(cy_psql "SELECT status || ' ' || (not_before = 'infinity') FROM jobs WHERE task_id = '$b'")" = "queued true" ]
	# task get says why it waits, and on what.
	cy_api GET "/v1/tasks/$b" "" "$TOKEN"
	jq -e --arg a "$a" '.job.waiting_for_dependencies == true and .job.pending_reason == "Dependency" and .job.after == [{"task_id": $a,
		"task_name": "chain-a", "condition": "ok", "status": "running"}]' <<<"$body" || { echo "$body"; false; }
	result "$c"
	[ "$(jq -r .status <<<"$body")" = completed ] || { echo "$body"; false; }
	# Each started after the one before had ended.
	run cy_psql "SELECT bool_and(nb.started_at >= na.ended_at) FROM (VALUES ('$a','$b'),('$b','$c')) v(x, y)
		JOIN jobs na ON na.task_id = v.x::uuid JOIN jobs nb ON nb.task_id = v.y::uuid"
	assert_output t
}

@test "a failed dependency cancels its afterok dependents down the chain, with the reason" {
	cmd fail-a 'sleep 1.5; exit 3'
	a=$id
	cmd fail-b 'echo never' "[{\"task\":\"$a\"}]"
	b=$id
	cmd fail-c 'echo never' "[{\"task\":\"$b\"}]"
	c=$id
	cmd fail-d 'echo cleanup' "[{\"task\":\"$a\",\"condition\":\"notok\"}]"
	d=$id
	cmd fail-e 'echo always' "[{\"task\":\"$a\",\"condition\":\"any\"}]"
	e=$id
	# The long poll on C (two cancellations down the chain, made by the
	# triggers of A's result) is answered when they happen, not at its
	# 60 s deadline: the replica that stored the result announces every
	# task it closed, cascades included.
	SECONDS=0
	result "$c"
	[ "$SECONDS" -lt 30 ] || { echo "the long poll took ${SECONDS}s"; false; }
	[ "$(jq -r .status <<<"$body")" = canceled ] || { echo "$body"; false; }
	result "$b"
	[ "$(jq -r .status <<<"$body")" = canceled ]
	[[ $(jq -r '.jobs[0].result | fromjson | .error' <<<"$body") == "dependency never satisfied: dependency $a ended failed (afterok)" ]]
	result "$d"
	[ "$(jq -r '.status + " " + (.jobs[0].result | fromjson | .stdout)' <<<"$body")" = "completed cleanup" ]
	result "$e"
	[ "$(jq -r .status <<<"$body")" = completed ]
	# Nothing of B or C ever ran.
	[ "$(cy_psql "SELECT count(*) FROM job_attempts a JOIN jobs j ON j.id = a.job_id WHERE j.task_id IN ('$b','$c')")" = 0 ]
}

@test "a dependency that ended already is judged at create; a canceled one" {
	cmd done-a 'true'
	a=$id
	result "$a"
	cmd done-b 'echo runs' '[{"task":"done-a"}]'
	result "$id"
	[ "$(jq -r .status <<<"$body")" = completed ]
	cy_api POST /v1/tasks '{"input_mode":"commands","prompt":"true","after":[{"task":"done-a","condition":"notok"}]}' "$TOKEN"
	cy_status 400
	assert_output --partial "it can never run: dependency $a ended completed (afternotok)"
	# Canceling a dependency cancels what waits for it to complete.
	cmd cx-a 'sleep 30'
	a=$id
	cmd cx-b 'echo no' "[{\"task\":\"$a\"}]"
	b=$id
	cy_api POST "/v1/tasks/$a/cancel" "" "$TOKEN"
	cy_status 200
	result "$b"
	[ "$(jq -r .status <<<"$body")" = canceled ]
}

@test "after: garbage, unknown and other users' tasks are refused before anything is made" {
	local n0 other
	cmd own 'true'
	other=$(cy_psql "INSERT INTO users (handle) VALUES ('dep-other') RETURNING id" | head -1)
	other_task=$(cy_psql "INSERT INTO tasks (created_by, prompt) VALUES ('$other', 'x') RETURNING id" | head -1)
	n0=$(cy_psql "SELECT count(*) FROM tasks")
	while IFS='|' read -r case want; do
		cy_api POST /v1/tasks "$case" "$TOKEN"
		cy_status 400 || { echo "$case -> $status_code $body"; return 1; }
		[[ $(jq -r .detail <<<"$body") == *"$want"* ]] || { echo "$case -> $body"; return 1; }
	done <<-EOF2
	{"input_mode":"commands","prompt":"true","after":[{"task":"no-such-task"}]}|after[0]: you have no task 'no-such-task'
	{"input_mode":"commands","prompt":"true","after":[{"task":"own"},{"task":"$other_task"}]}|after[1]: you have no task '$other_task'
	{"input_mode":"commands","prompt":"true","after":[{"task":"own","condition":"maybe"}]}|after[0].condition must be one of ok, notok, any
	{"input_mode":"commands","prompt":"true","after":[]}|after
	{"input_mode":"commands","prompt":"true","after":["own"]}|after[0] must be an object
	{"input_mode":"commands","prompt":"true","after":[{"condition":"ok"}]}|after[0].task is required
	{"input_mode":"commands","prompt":"true","after":[{"task":"own","x":1}]}|unknown field
	{"input_mode":"commands","prompt":"true","after":"own"}|after must be
	EOF2
	[ "$(cy_psql "SELECT count(*) FROM tasks")" = "$n0" ]
}

@test "cynork task create --after waits and exits with the job's code; bad --after is exit 64" {
	cy_login >/dev/null
	run cynork task create --name cy-a --command 'sleep 1; exit 0'
	assert_success
	run --separate-stderr cynork task create --after cy-a:ok --command 'echo after-a' --wait
	assert_success
	assert_output --partial 'stdout="after-a\n"'
	run --separate-stderr cynork task create --after cy-a:notok --command true
	assert_failure
	[[ $stderr == *"it can never run"* ]]
	run --separate-stderr cynork task create --after ':ok' --command true
	assert_failure 64
	[[ $stderr == *"--after ':ok'"* ]]
	run --separate-stderr cynork task create --after "$(printf 'x%.0s' $(seq 1 201))" --command true
	assert_failure 64
}
