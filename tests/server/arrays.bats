#!/usr/bin/env bats
#
# arrays.bats: job arrays (POST /v1/tasks "array", cynork task create
# --array) with the real server, PostgreSQL and a node running jobs in
# bubblewrap: every index runs once with CYNODE_ARRAY_INDEX set, a "%N" cap
# is never exceeded, the task's state follows its elements (a failing one
# fails it), cancel reaches queued, held and running elements, dependencies
# in both directions, a server killed mid-array, two replicas dispatching
# one array, garbage specs, and cynork (--array, --wait, get, result, logs).

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	cy_node_start node-01 sandbox.max_concurrency=6
	TOKEN=$(cy_admin_token)
	export TOKEN
	# Each claim of an element records how many of its array's elements run
	# then, counted in the claiming transaction (the rows' timestamps are
	# transaction start times, so they cannot tell the order apart).
	cy_psql "CREATE TABLE test_array_peak (task_id uuid, running int);
		CREATE FUNCTION test_array_peak() RETURNS trigger LANGUAGE plpgsql AS \$\$BEGIN
		INSERT INTO test_array_peak SELECT NEW.task_id, count(*) FROM jobs
			WHERE task_id = NEW.task_id AND status = 'running';
		RETURN NULL; END\$\$;
		CREATE TRIGGER test_array_peak AFTER UPDATE OF status ON jobs FOR EACH ROW
		WHEN (NEW.array_index IS NOT NULL AND NEW.status = 'running')
		EXECUTE FUNCTION test_array_peak()" >/dev/null
}

# arr NAME SPEC SCRIPT [AFTER_JSON]: an array of commands tasks; $id its id
arr()
{
	cy_api POST /v1/tasks "$(jq -cn --arg n "$1" --arg a "$2" --arg s "$3" --argjson f "${4:-null}" \
		'{task_name:$n, input_mode:"commands", prompt:$s, array:$a} + (if $f then {after:$f} else {} end)')" "$TOKEN"
	cy_status 201 || return 1
	id=$(jq -r .task_id <<<"$body")
}

# result ID: waits for the task; $body its result
result()
{
	cy_api GET "/v1/tasks/$1/result?wait=60" "" "$TOKEN"
}

# The most elements of task $1 running at one instant (test_array_peak).
max_overlap()
{
	cy_psql "SELECT COALESCE(max(running), 0) FROM test_array_peak WHERE task_id = '$1'"
}

@test "an array of 20 with %3: every index once, CYNODE_ARRAY_INDEX right, never more than 3 at once" {
	arr a20 '0-19%3' 'echo "i=$CYNODE_ARRAY_INDEX t=$CYNODE_ARRAY_TASK_ID"; sleep 0.3'
	a=$id
	jq -e '.array.spec == "0-19%3"' <<<"$body"
	# Held past the cap, with the pending reason.
	[ "$(cy_psql "SELECT count(*) FROM jobs WHERE task_id = '$a' AND not_before = 'infinity'")" -ge 14 ]
	[ "$(cy_psql "SELECT cy_job_pending_reason(j) FROM jobs j WHERE task_id = '$a' AND array_index = 19")" = ArrayLimit ]
	cy_api GET "/v1/tasks/$a" "" "$TOKEN"
	jq -e '.array.size == 20 and .array.cap == 3 and .array.counts.held >= 14' <<<"$body" || { echo "$body"; false; }
	result "$a"
	jq -e '.status == "completed" and (.jobs | length) == 20 and .array.counts.completed == 20' <<<"$body" || { echo "$body"; false; }
	# Each element printed its own index and the task's id.
	run jq -r '.jobs[] | "\(.array_index) \(.result | fromjson | .stdout | rtrimstr("\n"))"' <<<"$body"
	local want="" i
	for i in $(seq 0 19); do want+="$i i=$i t=$a"$'\n'; done
	[ "$output" = "${want%$'\n'}" ] || { echo "$output"; false; }
	# Every index ran exactly once; never more than 3 at a time.
	[ "$(cy_psql "SELECT count(*) FROM job_attempts y JOIN jobs j ON j.id = y.job_id WHERE j.task_id = '$a'")" = 20 ]
	run max_overlap "$a"
	[ "$output" -le 3 ] && [ "$output" -ge 2 ] || { echo "overlap $output"; false; }
}

@test "an array without a cap runs its elements side by side; a failing element fails the task once all ended" {
	arr afail '1,3,5-7' 'sleep 0.5; [ "$CYNODE_ARRAY_INDEX" != 5 ] || exit 7'
	a=$id
	result "$a"
	jq -e '.status == "failed" and .array.counts.completed == 4 and .array.counts.failed == 1' <<<"$body" || { echo "$body"; false; }
	jq -e '[.jobs[] | select(.status == "failed") | [.array_index, .exit_code]] == [[5, 7]]' <<<"$body" || { echo "$body"; false; }
	# Others were not cut short by the failure.
	[ "$(cy_psql "SELECT count(*) FROM jobs WHERE task_id = '$a' AND status = 'completed'")" = 4 ]
	run max_overlap "$a"
	[ "$output" -ge 2 ]
}

@test "cancel of an array cancels its running, queued and held elements" {
	# A length no other test uses: the pgrep below sees every file's jobs.
	arr acx '0-9%2' 'sleep 30.17'
	a=$id
	for _ in $(seq 50); do
		[ "$(cy_psql "SELECT count(*) FROM jobs WHERE task_id = '$a' AND status = 'running'")" = 2 ] && break
		sleep 0.2
	done
	cy_api POST "/v1/tasks/$a/cancel" "" "$TOKEN"
	cy_status 200
	result "$a"
	jq -e '.status == "canceled" and .array.counts.canceled == 10' <<<"$body" || { echo "$body"; false; }
	# Nothing more starts and the node stops what ran.
	sleep 1
	[ "$(cy_psql "SELECT count(*) FROM job_attempts y JOIN jobs j ON j.id = y.job_id WHERE j.task_id = '$a'")" = 2 ]
	for _ in $(seq 50); do
		pgrep -f 'sleep 30.17' >/dev/null || break
		sleep 0.2
	done
	! pgrep -f 'sleep 30.17'
}

@test "an array waits for its dependency; a task after an array waits for the whole array" {
	cy_api POST /v1/tasks '{"task_name":"dep-first","input_mode":"commands","prompt":"sleep 1.5"}' "$TOKEN"
	cy_status 201
	first=$(jq -r .task_id <<<"$body")
	arr dep-arr '0-5%2' 'sleep 0.3' '[{"task":"dep-first"}]'
	a=$id
	cy_api POST /v1/tasks '{"task_name":"dep-last","input_mode":"commands","prompt":"true","after":[{"task":"dep-arr"}]}' "$TOKEN"
	cy_status 201
	last=$(jq -r .task_id <<<"$body")
	sleep 0.5
	# All elements wait for the dependency (not the cap).
	[ "$(cy_psql "SELECT string_agg(DISTINCT cy_job_pending_reason(j), ',') FROM jobs j WHERE task_id = '$a'")" = Dependency ]
	result "$last"
	[ "$(jq -r .status <<<"$body")" = completed ]
	result "$a"
	[ "$(jq -r .status <<<"$body")" = completed ]
	run cy_psql "SELECT (SELECT min(started_at) FROM jobs WHERE task_id = '$a') >= (SELECT ended_at FROM jobs WHERE task_id = '$first')
		AND (SELECT started_at FROM jobs WHERE task_id = '$last') >= (SELECT max(ended_at) FROM jobs WHERE task_id = '$a')"
	assert_output t
	run max_overlap "$a"
	[ "$output" -le 2 ]
	# A failed array cancels what waits for it to complete.
	arr dep-bad '0-1' 'sleep 1; exit 1'
	cy_api POST /v1/tasks '{"input_mode":"commands","prompt":"true","after":[{"task":"dep-bad"}]}' "$TOKEN"
	cy_status 201
	result "$(jq -r .task_id <<<"$body")"
	[ "$(jq -r .status <<<"$body")" = canceled ]
}

@test "a server killed and restarted mid-array loses and duplicates no element" {
	local gw=${CY_GATEWAY_URL##*:} cp=${CY_CONTROL_URL##*:}
	arr arestart '0-11%3' 'sleep 0.4; echo $CYNODE_ARRAY_INDEX'
	a=$id
	sleep 1
	kill -9 "$CY_SERVER_PID"
	sleep 1
	stack_server_start "$gw" "$cp" "$CY_TMP/server-2.log" "$CY_TMP/server.pid" \
		"JWT_SECRET=$CY_JWT_SECRET" "NODE_REGISTRATION_PSK=$CY_PSK" \
		"BOOTSTRAP_ADMIN_PASSWORD=$CY_ADMIN_PASSWORD" READINESS_REQUIRE_INFERENCE=false
	CY_SERVER_PID=$STACK_SERVER_PID
	cy__track "$CY_SERVER_PID"
	export CY_SERVER_PID
	result "$a"
	jq -e '.status == "completed" and .array.counts.completed == 12' <<<"$body" || { echo "$body"; false; }
	[ "$(jq -r '[.jobs[].array_index] | join(",")' <<<"$body")" = "0,1,2,3,4,5,6,7,8,9,10,11" ]
	[ "$(jq -r '[.jobs[].result | fromjson | .stdout] | join("")' <<<"$body")" = "$(seq 0 11)" ]
	run max_overlap "$a"
	[ "$output" -le 3 ]
}

@test "two replicas dispatching one capped array: each index once, the cap kept" {
	local gw2 cp2
	gw2=$(cy_free_port)
	cp2=$(cy_free_port)
	stack_server_start "$gw2" "$cp2" "$CY_TMP/server-replica.log" "$CY_TMP/replica.pid" \
		"JWT_SECRET=$CY_JWT_SECRET" "NODE_REGISTRATION_PSK=$CY_PSK" \
		"BOOTSTRAP_ADMIN_PASSWORD=$CY_ADMIN_PASSWORD" READINESS_REQUIRE_INFERENCE=false
	cy__track "$STACK_SERVER_PID"
	cy_api POST "http://127.0.0.1:$gw2/v1/tasks" '{"task_name":"arepl","input_mode":"commands","prompt":"sleep 0.2; echo $CYNODE_ARRAY_INDEX","array":"0-29%4"}' "$TOKEN"
	cy_status 201
	a=$(jq -r .task_id <<<"$body")
	result "$a"
	stack_kill_pid "$(cat "$CY_TMP/replica.pid")" 10
	jq -e '.status == "completed" and .array.counts.completed == 30' <<<"$body" || { echo "$body"; false; }
	[ "$(jq -r '[.jobs[].result | fromjson | .stdout] | join("")' <<<"$body")" = "$(seq 0 29)" ]
	[ "$(cy_psql "SELECT count(*) FROM job_attempts y JOIN jobs j ON j.id = y.job_id WHERE j.task_id = '$a'")" = 30 ]
	run max_overlap "$a"
	[ "$output" -le 4 ] && [ "$output" -ge 2 ] || { echo "peak $output"; false; }
}

@test "array: garbage specs and non-sandbox tasks are refused, nothing is made" {
	local n0
	n0=$(cy_psql "SELECT count(*) FROM tasks")
	while IFS='|' read -r spec want; do
		cy_api POST /v1/tasks "$(jq -cn --argjson a "$spec" '{input_mode:"commands", prompt:"true", array:$a}')" "$TOKEN"
		cy_status 400 || { echo "$spec -> $status_code $body"; return 1; }
		[[ $(jq -r .detail <<<"$body") == *"$want"* ]] || { echo "$spec -> $body"; return 1; }
	done <<-'EOF2'
	"0-10000"|more than 10000 elements
	"1000001"|above 1000000
	"5-3"|range 5-3 ends before it starts
	"1,,2"|expected an index at byte 3
	"1,1"|index 1 is given more than once
	"0-9%0"|at least 1
	"0-9%"|expected a limit at the end
	"a"|expected an index at byte 1, found 'a'
	"1 2"|unexpected ' ' at byte 2
	""|array
	7|array must be
	["1"]|array must be
	EOF2
	cy_api POST /v1/tasks '{"prompt":"hello","array":"0-3"}' "$TOKEN"
	cy_status 400
	assert_output --partial 'array goes with sandbox jobs'
	# CYNODE_ARRAY_INDEX cannot come from the request's env.
	cy_api POST /v1/tasks '{"input_mode":"commands","prompt":"true","env":{"CYNODE_ARRAY_INDEX":"1"}}' "$TOKEN"
	cy_status 400
	[ "$(cy_psql "SELECT count(*) FROM tasks")" = "$n0" ]
}

@test "a plain task keeps its shape: no array, no array_index" {
	cy_api POST /v1/tasks '{"input_mode":"commands","prompt":"echo $CYNODE_ARRAY_INDEX-x"}' "$TOKEN"
	cy_status 201
	jq -e 'has("array") | not' <<<"$body"
	result "$(jq -r .task_id <<<"$body")"
	jq -e '.status == "completed" and (has("array") | not) and (.jobs[0] | has("array_index") | not)
		and (.jobs[0].result | fromjson | .stdout) == "-x\n"' <<<"$body" || { echo "$body"; false; }
}

@test "cynork task create --array: --wait exits with the first failing element's code; get, result, logs --index" {
	cy_login >/dev/null
	run --separate-stderr cynork task create --name cy-arr --array '0-4%2' \
		--command 'echo "i=$CYNODE_ARRAY_INDEX"; [ "$CYNODE_ARRAY_INDEX" -lt 3 ] || exit $((CYNODE_ARRAY_INDEX + 2))' --wait
	assert_failure 5
	[[ $stderr == *"array element 3 failed first"* ]] || { echo "$stderr"; false; }
	# The task's line, then a line per element.
	[ "${#lines[@]}" = 6 ] || { echo "$output"; false; }
	[[ ${lines[0]} == *"status=failed task_name=cy-arr array=0-4%2 size=5 completed=3 failed=2 canceled=0"* ]] || { echo "$output"; false; }
	[[ ${lines[1]} == *'index=0 status=completed exit_code=0 stdout="i=0\n"'* ]] || { echo "$output"; false; }
	[[ ${lines[4]} == *'index=3 status=failed exit_code=5 stdout="i=3\n"'* ]] || { echo "$output"; false; }
	run cynork task get cy-arr
	assert_success
	assert_output --partial 'array=0-4%2 array_size=5 array_completed=3 array_failed=2'
	run cynork -o json task get cy-arr
	jq -e '.array.spec == "0-4%2" and .array.cap == 2 and .array.counts.failed == 2' <<<"$output"
	run cynork -o json task result cy-arr
	jq -e '[.elements[] | [.index, .status, .exit_code, .stdout]] == [[0,"completed",0,"i=0\n"],
		[1,"completed",0,"i=1\n"],[2,"completed",0,"i=2\n"],[3,"failed",5,"i=3\n"],[4,"failed",6,"i=4\n"]]' <<<"$output" || { echo "$output"; false; }
	run cynork task logs cy-arr --index 4
	assert_success
	assert_output 'i=4'
	run cynork task logs cy-arr --index 7
	assert_failure 66
	run cynork task logs cy-arr --index -1
	assert_failure 64
	run cynork -o json task create --array '0-2%1' --command true
	assert_success
	jq -e '.array.spec == "0-2%1"' <<<"$output"
	# All succeeded: exit 0.
	run cynork task create --array '1,2' --command 'true' --wait
	assert_success
	# Bad specs and prompt tasks are usage errors before any request.
	run --separate-stderr cynork task create --array '3-1' --command true
	assert_failure 64
	[[ $stderr == *"--array '3-1': range 3-1 ends before it starts"* ]] || { echo "$stderr"; false; }
	run --separate-stderr cynork task create --array '0-1' -p hello
	assert_failure 64
	[[ $stderr == *"--array goes with --command"* ]]
}
