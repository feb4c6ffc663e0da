#!/usr/bin/env bats
#
# schedules.bats: recurring tasks (/v1/schedules) with the real server,
# PostgreSQL and a node running jobs in bubblewrap, and a second server
# replica on the same database: a 2-second schedule (the 6-field seconds
# form) runs its task at each slot, each slot once across both replicas;
# disable stops it, enable resumes it; history bounded by max_history;
# garbage cron strings and bodies refused with clear 400s; another user
# neither sees nor touches my schedule; a slot whose task is refused by
# then (a secret deleted since) records why and the schedule goes on;
# after downtime only the latest missed slot runs.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	cy_node_start node-01 sandbox.max_concurrency=4
	TOKEN=$(cy_admin_token)
	cy_api POST /v1/users '{"handle":"other","password":"long enough"}' "$TOKEN"
	cy_status 201
	OTHER=$(curl -s -H 'Content-Type: application/json' \
		--data-binary '{"handle":"other","password":"long enough"}' \
		"$CY_GATEWAY_URL/v1/auth/login" | jq -r .access_token)
	export TOKEN OTHER
}

teardown_file()
{
	cy_teardown_file
}

# A second replica on the same database; $GW2 its gateway.
replica_start()
{
	local cp2

	GW2=$(cy_free_port)
	cp2=$(cy_free_port)
	stack_server_start "$GW2" "$cp2" "$CY_TMP/server-replica.log" "$CY_TMP/replica.pid" \
		"JWT_SECRET=$CY_JWT_SECRET" "NODE_REGISTRATION_PSK=$CY_PSK" \
		"BOOTSTRAP_ADMIN_PASSWORD=$CY_ADMIN_PASSWORD" READINESS_REQUIRE_INFERENCE=false
	cy__track "$STACK_SERVER_PID"
}

@test "a 2-second schedule runs its task at each slot, once per slot with two replicas" {
	local n runs dup held

	replica_start
	cy_api POST /v1/schedules '{"name":"tick","cron":"*/2 * * * * *","max_history":100,
		"task":{"prompt":"echo tick","input_mode":"commands"}}' "$TOKEN"
	cy_status 201
	jq -e '.name == "tick" and .enabled == true and .timezone == "UTC" and .next_run_at != null
		and .runs == [] and .task.prompt == "echo tick"' <<<"$body"
	sleep 3
	# Hold the schedule's row against updates for 3 s: both replicas then
	# reach the same due slot (neither can move next_run_at on), and both
	# make its task and record its run; the database lets one task, one
	# run through, and one replica moves next_run_at.
	psql "$DATABASE_URL" -X -q -c "BEGIN; SELECT 1 FROM schedules WHERE name = 'tick'
		FOR NO KEY UPDATE; SELECT pg_sleep(3); COMMIT" >/dev/null &
	held=$!
	sleep 5.5
	wait "$held"
	stack_kill_pid "$(cat "$CY_TMP/replica.pid")" 10
	runs=$(cy_psql "SELECT count(*) FROM schedule_runs r JOIN schedules s ON s.id = r.schedule_id WHERE s.name = 'tick'")
	# Slots every 2 s for about 8.5 s: 4 or 5, the held ones skipped but the latest.
	[ "$runs" -ge 3 ] && [ "$runs" -le 6 ] || { echo "runs: $runs"; false; }
	# One task per slot: as many tasks as runs, no slot twice, no task twice.
	n=$(cy_psql "SELECT count(*) FROM tasks WHERE idempotency_key LIKE 'cynode-schedule:%'")
	[ "$n" = "$runs" ] || { echo "tasks $n, runs $runs"; false; }
	dup=$(cy_psql "SELECT count(*) FROM (SELECT task_id FROM schedule_runs GROUP BY task_id HAVING count(*) > 1) x")
	[ "$dup" = 0 ]
	# Slots are 2 s apart, on even seconds.
	[ "$(cy_psql "SELECT DISTINCT extract(epoch FROM slot)::bigint % 2 FROM schedule_runs")" = 0 ]
	# Both replicas made the held slot's task: the second got the first's.
	grep -h task_create_replayed "$CY_TMP/server.log" "$CY_TMP/server-replica.log" | grep -q .
	grep -q task_created "$CY_TMP/server.log"
	grep -q -e task_created -e task_create_replayed "$CY_TMP/server-replica.log"
	# The tasks ran: get shows the history, newest first, with statuses.
	sleep 2
	cy_api GET /v1/schedules/tick "" "$TOKEN"
	cy_status 200
	jq -e '(.runs | length) >= 4 and (.runs[0].slot > .runs[1].slot) and .last_run_at == .runs[0].slot
		and ([.runs[] | select(.task_id == null)] == [])' <<<"$body" || { echo "$body"; false; }
	jq -e '[.runs[] | .status] | index("completed") != null' <<<"$body" || { echo "$body"; false; }
	cy_api GET "/v1/tasks/$(jq -r '.runs[-1].task_id' <<<"$body")/result" "" "$TOKEN"
	jq -e '.status == "completed" and (.jobs[0].result.stdout // .stdout // "" | test("tick"))' <<<"$body" ||
		jq -e '.status == "completed"' <<<"$body"
}

@test "disable stops a schedule, enable resumes it" {
	local before after

	cy_api PATCH /v1/schedules/tick '{"enabled":false}' "$TOKEN"
	cy_status 200
	jq -e '.enabled == false and .next_run_at == null' <<<"$body"
	before=$(cy_psql "SELECT count(*) FROM schedule_runs")
	sleep 4.5
	after=$(cy_psql "SELECT count(*) FROM schedule_runs")
	[ "$before" = "$after" ]
	cy_api PATCH /v1/schedules/tick '{"enabled":true}' "$TOKEN"
	cy_status 200
	jq -e '.enabled == true and .next_run_at != null' <<<"$body"
	sleep 3
	after=$(cy_psql "SELECT count(*) FROM schedule_runs")
	[ "$after" -gt "$before" ]
	# A new cron: a slot that never comes soon stops it too.
	cy_api PATCH /v1/schedules/tick '{"cron":"@yearly"}' "$TOKEN"
	cy_status 200
	jq -e '.cron == "@yearly" and (.next_run_at | endswith("-01-01T00:00:00Z"))' <<<"$body"
}

@test "history is bounded by max_history" {
	cy_api POST /v1/schedules '{"name":"short","cron":"* * * * * *","max_history":3,
		"task":{"prompt":"true","input_mode":"commands"}}' "$TOKEN"
	cy_status 201
	sleep 6
	cy_api GET /v1/schedules/short "" "$TOKEN"
	cy_status 200
	jq -e '(.runs | length) == 3' <<<"$body" || { echo "$body"; false; }
	[ "$(cy_psql "SELECT count(*) FROM schedule_runs r JOIN schedules s ON s.id = r.schedule_id WHERE s.name = 'short'")" -le 3 ]
	# Lowering it trims at once.
	cy_api PATCH /v1/schedules/short '{"max_history":1,"enabled":false}' "$TOKEN"
	cy_status 200
	jq -e '(.runs | length) == 1 and .max_history == 1' <<<"$body"
	# The tasks stay when the schedule goes.
	n=$(cy_psql "SELECT count(*) FROM tasks")
	cy_api DELETE /v1/schedules/short "" "$TOKEN"
	cy_status 204
	cy_api GET /v1/schedules/short "" "$TOKEN"
	cy_status 404
	[ "$(cy_psql "SELECT count(*) FROM tasks")" = "$n" ]
}

@test "garbage cron strings and bodies are refused with clear 400s" {
	local c

	for c in '' '* * * *' '60 * * * *' '* * 32 * *' '*/0 * * * *' '5-1 * * * *' 'a b c d e' \
		'@reboot' '* * * * mon-xyz' '0 0 30 2 *' '* * * * * * *'; do
		cy_api POST /v1/schedules "$(jq -cn --arg c "$c" '{name:"bad",cron:$c,task:{prompt:"true",input_mode:"commands"}}')" "$TOKEN"
		cy_status 400 || { echo "cron '$c'"; false; }
		jq -e '.detail | test("cron")' <<<"$body" || { echo "cron '$c': $body"; false; }
	done
	cy_api POST /v1/schedules '{"name":"bad","cron":"0 0 30 2 *","task":{"prompt":"true","input_mode":"commands"}}' "$TOKEN"
	[[ $(jq -r .detail <<<"$body") == *"never matches"* ]]
	cy_api POST /v1/schedules '{"name":"bad","cron":"60 * * * *","task":{"prompt":"true","input_mode":"commands"}}' "$TOKEN"
	[[ $(jq -r .detail <<<"$body") == *"minute field: '60' is out of range 0-59"* ]]
	# The task is checked as POST /v1/tasks checks it.
	cy_api POST /v1/schedules '{"name":"bad","cron":"@daily","task":{"input_mode":"commands"}}' "$TOKEN"
	cy_status 400
	[[ $(jq -r .detail <<<"$body") == *prompt* ]]
	cy_api POST /v1/schedules '{"name":"bad","cron":"@daily","task":{"prompt":"x","input_mode":"sh"}}' "$TOKEN"
	cy_status 400
	[[ $(jq -r .detail <<<"$body") == *input_mode* ]]
	cy_api POST /v1/schedules '{"name":"bad","cron":"@daily","task":{"prompt":"x","input_mode":"commands","promt":1}}' "$TOKEN"
	cy_status 400
	[[ $(jq -r .detail <<<"$body") == *promt* ]]
	cy_api POST /v1/schedules '{"name":"bad","cron":"@daily","task":{"prompt":"x","input_mode":"commands","secrets":[{"name":"NOPE"}]}}' "$TOKEN"
	cy_status 400
	[[ $(jq -r .detail <<<"$body") == "task: unknown secret 'NOPE'"* ]]
	cy_api POST /v1/schedules '{"name":"bad","cron":"@daily","task":{"prompt":"x","input_mode":"commands","requirements":{"gpus":64}}}' "$TOKEN"
	cy_status 400
	[[ $(jq -r .detail <<<"$body") == "task: no node can run this task"* ]]
	cy_api POST /v1/schedules '{"name":"bad","cron":"@daily","task":{"prompt":"x","input_mode":"commands","attachments":[{"name":"a","sha256":"'"$(printf 'a%.0s' {1..64})"'"}]}}' "$TOKEN"
	cy_status 400
	[[ $(jq -r .detail <<<"$body") == *"cannot carry attachments"* ]]
	# The schedule's own fields.
	cy_api POST /v1/schedules '{"name":"Bad Name","cron":"@daily","task":{"prompt":"x","input_mode":"commands"}}' "$TOKEN"
	cy_status 400
	[[ $(jq -r .detail <<<"$body") == *name* ]]
	cy_api POST /v1/schedules '{"name":"bad","cron":"@daily","timezone":"Europe/Paris","task":{"prompt":"x","input_mode":"commands"}}' "$TOKEN"
	cy_status 400
	[[ $(jq -r .detail <<<"$body") == *"only UTC"* ]]
	cy_api POST /v1/schedules '{"name":"bad","cron":"@daily","max_history":0,"task":{"prompt":"x","input_mode":"commands"}}' "$TOKEN"
	cy_status 400
	cy_api POST /v1/schedules '{"name":"bad","cron":"@daily","max_history":1001,"task":{"prompt":"x","input_mode":"commands"}}' "$TOKEN"
	cy_status 400
	cy_api POST /v1/schedules '{"name":"bad","cron":5,"task":{"prompt":"x","input_mode":"commands"}}' "$TOKEN"
	cy_status 400
	cy_api POST /v1/schedules '{"name":"bad","cron":"@daily","task":"echo"}' "$TOKEN"
	cy_status 400
	cy_api POST /v1/schedules '{"name":"bad","cron":"@daily"}' "$TOKEN"
	cy_status 400
	cy_api POST /v1/schedules '{"name":"bad","cron":"@daily","enabled":"yes","task":{"prompt":"x","input_mode":"commands"}}' "$TOKEN"
	cy_status 400
	# Nothing was stored.
	[ "$(cy_psql "SELECT count(*) FROM schedules WHERE name = 'bad'")" = 0 ]
	# A name taken: 409.
	cy_api POST /v1/schedules '{"name":"tick","cron":"@daily","task":{"prompt":"x","input_mode":"commands"}}' "$TOKEN"
	cy_status 409
	# PATCH: garbage and nothing to change.
	cy_api PATCH /v1/schedules/tick '{"cron":"61 * * * *"}' "$TOKEN"
	cy_status 400
	cy_api PATCH /v1/schedules/tick '{}' "$TOKEN"
	cy_status 400
	[[ $(jq -r .detail <<<"$body") == *"nothing to change"* ]]
	cy_api PATCH /v1/schedules/tick '{"enabled":1}' "$TOKEN"
	cy_status 400
	cy_api PATCH /v1/schedules/tick '{"task":{}}' "$TOKEN"
	cy_status 400
}

@test "another user neither sees nor touches my schedule" {
	local id

	cy_api GET /v1/schedules/tick "" "$TOKEN"
	cy_status 200
	id=$(jq -r .id <<<"$body")
	cy_api GET /v1/schedules "" "$OTHER"
	cy_status 200
	jq -e '.schedules == []' <<<"$body"
	for ref in tick "$id"; do
		cy_api GET "/v1/schedules/$ref" "" "$OTHER"
		cy_status 404
		cy_api PATCH "/v1/schedules/$ref" '{"enabled":true}' "$OTHER"
		cy_status 404
		cy_api DELETE "/v1/schedules/$ref" "" "$OTHER"
		cy_status 404
	done
	# The other user may use the same name for a schedule of their own.
	cy_api POST /v1/schedules '{"name":"tick","cron":"@daily","task":{"prompt":"x","input_mode":"commands"}}' "$OTHER"
	cy_status 201
	cy_api GET /v1/schedules "" "$TOKEN"
	jq -e '[.schedules[].name] == ["tick"]' <<<"$body"
	cy_api GET /v1/schedules/tick "" "$TOKEN"
	[ "$(jq -r .id <<<"$body")" = "$id" ]
}

@test "a user has at most 256 schedules" {
	cy_psql "INSERT INTO schedules (id, owner_id, name, cron, timezone, task, enabled,
			max_history, next_run_at)
		SELECT gen_random_uuid(), s.owner_id, 'bulk-' || i, s.cron, s.timezone, s.task, false,
			s.max_history, NULL
		FROM schedules s, generate_series(1, 255) i
		WHERE s.name = 'tick' AND s.owner_id <> (SELECT owner_id FROM schedules
			WHERE name = 'tick' ORDER BY created_at LIMIT 1)" >/dev/null
	cy_api POST /v1/schedules '{"name":"one-more","cron":"@daily","task":{"prompt":"x","input_mode":"commands"}}' "$OTHER"
	cy_status 409
	[[ $body == *"you have 256 schedules: at most 256"* ]]
	cy_psql "DELETE FROM schedules WHERE name LIKE 'bulk-%'" >/dev/null
	cy_api POST /v1/schedules '{"name":"one-more","cron":"@daily","task":{"prompt":"x","input_mode":"commands"}}' "$OTHER"
	cy_status 201
}

@test "a server that was down runs only the latest missed slot" {
	local sid n

	cy_api POST /v1/schedules '{"name":"missed","cron":"* * * * * *","enabled":true,
		"task":{"prompt":"true","input_mode":"commands"}}' "$TOKEN"
	cy_status 201
	sid=$(jq -r .id <<<"$body")
	# As if every server was down for an hour: the due slot is an hour old.
	cy_psql "UPDATE schedules SET next_run_at = date_trunc('second', now()) - interval '1 hour' WHERE id = '$sid';
		DELETE FROM schedule_runs WHERE schedule_id = '$sid'"
	sleep 1.5
	cy_api PATCH /v1/schedules/missed '{"enabled":false}' "$TOKEN"
	n=$(cy_psql "SELECT count(*) FROM schedule_runs WHERE schedule_id = '$sid' AND slot < now() - interval '1 minute'")
	[ "$n" = 0 ]
	n=$(cy_psql "SELECT count(*) FROM schedule_runs WHERE schedule_id = '$sid'")
	[ "$n" -ge 1 ] && [ "$n" -le 3 ]
}

@test "a slot whose task is refused by then records why, and the schedule goes on" {
	local sid

	cy_api PUT /v1/secrets/SCHED_KEY '{"value":"v4lue-of-the-key"}' "$TOKEN"
	cy_status 201
	cy_api POST /v1/schedules '{"name":"keyed","cron":"* * * * * *","task":{"prompt":"echo \"$K\"",
		"input_mode":"commands","secrets":[{"name":"SCHED_KEY","env":"K"}]}}' "$TOKEN"
	cy_status 201
	sid=$(jq -r .id <<<"$body")
	cy_api DELETE /v1/secrets/SCHED_KEY "" "$TOKEN"
	cy_status 204
	cy_psql "DELETE FROM schedule_runs WHERE schedule_id = '$sid'"
	sleep 2.5
	cy_api PATCH /v1/schedules/keyed '{"enabled":false}' "$TOKEN"
	cy_status 200
	jq -e '(.runs | length) >= 1 and all(.runs[]; .task_id == null and .status == null
		and (.error | test("^400: unknown secret .SCHED_KEY.")))' <<<"$body" || { echo "$body"; false; }
	grep -q schedule_task_refused "$CY_TMP/server.log"
}
