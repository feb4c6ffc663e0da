#!/usr/bin/env bats
#
# schedule.bats: cynork schedule create|list|get|enable|disable|delete with
# every real part (PostgreSQL, cynode-server, one cynode-node running jobs
# in bubblewrap): a schedule made from task create's flags runs its task
# every 2 s (the seconds extension), get shows the history, disable and
# enable, delete with and without confirmation, and garbage refused before
# any request (cron, name, task flags) or by the server (exit 65).

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	cy_node_start node-01
	cy_login >/dev/null
}

@test "schedule create with task create's flags runs the task; get shows the history" {
	run cynork schedule create --name every2 --cron '*/2 * * * * *' --command 'echo "sched $FOO"' \
		-e FOO=bar --timeout 30s --max-history 5
	assert_success
	assert_output --regexp '^schedule_id=[0-9a-f-]{36} name=every2 cron="\*/2 \* \* \* \* \*" next_run_at=20'
	sleep 5
	run --separate-stderr cynork -o json schedule get every2
	assert_success
	jq -e '.task.input_mode == "commands" and .task.env.FOO == "bar" and .task.timeout_seconds == 30
		and .task.commands == ["echo \"sched $FOO\""] and (.task | has("prompt") | not)
		and .max_history == 5 and (.runs | length) >= 2' <<<"$output"
	id=$(jq -r '.runs[-1].task_id' <<<"$output")
	run cynork task result "$id"
	assert_success
	assert_output --partial 'sched bar'
	run cynork schedule get every2
	assert_success
	assert_line --index 0 --regexp '^schedule_id=.* name=every2 .*enabled=true'
	assert_line --index 0 --partial 'task="{\"input_mode\":\"commands\",'
	assert_line --index 0 --partial '\"commands\":[\"echo \\\"sched $FOO\\\"\"]'
	refute_line --index 0 --partial 'prompt'
	assert_line --index 1 --regexp '^SLOT'
	run cynork schedule list
	assert_success
	assert_line --index 0 --regexp '^NAME[[:space:]]+CRON[[:space:]]+ENABLED'
	assert_line --index 1 --regexp '^every2'
	run cynork -o name schedule list
	assert_output every2
	run -0 cynork -o json schedule list
	jq -e '.schedules[0].task.commands == ["echo \"sched $FOO\""]
		and (.schedules[0].task | has("prompt") | not)' <<<"$output"
}

@test "a script schedule's task shows script, not prompt, in JSON and the record" {
	printf 'echo from a script\n' >"$CY_TMP/sched.sh"
	run -0 cynork -o json schedule create --name scripted --cron '@daily' --script "$CY_TMP/sched.sh" \
		--disabled
	jq -e '.task.input_mode == "script" and .task.script == "echo from a script\n"
		and (.task | has("prompt") | not) and (.task | has("commands") | not)' <<<"$output"
	run -0 cynork -o yaml schedule get scripted
	assert_line '  input_mode: script'
	run -0 cynork schedule get scripted
	assert_line --index 0 --partial '\"script\":\"echo from a script\\n\"'
	run -0 cynork -o json schedule disable scripted
	jq -e '.task.script == "echo from a script\n" and .enabled == false' <<<"$output"
	run -0 cynork schedule delete -y scripted
}

@test "schedule disable and enable" {
	run cynork schedule disable every2
	assert_success
	assert_output 'name=every2 enabled=false next_run_at=-'
	before=$(cy_psql "SELECT count(*) FROM schedule_runs")
	sleep 3
	[ "$(cy_psql "SELECT count(*) FROM schedule_runs")" = "$before" ]
	run cynork schedule enable every2
	assert_success
	assert_output --regexp '^name=every2 enabled=true next_run_at=20'
	run cynork schedule disable every2
	assert_success
}

@test "garbage is refused before any request, with the reason" {
	run cynork schedule create --name x --cron '61 * * * *' --command true
	assert_failure 64
	assert_output --partial "invalid value '61 * * * *' for --cron: minute field: '61' is out of range 0-59"
	run cynork schedule create --name x --cron '* * *' --command true
	assert_failure 64
	assert_output --partial "3 fields"
	run cynork schedule create --name 'Bad Name' --cron '@daily' --command true
	assert_failure 64
	assert_output --partial "for --name"
	run cynork schedule create --cron '@daily' --command true
	assert_failure 64
	assert_output --partial -- "--name"
	run cynork schedule create --name x --cron '@daily'
	assert_failure 64
	assert_output --partial "give one input"
	run cynork schedule create --name x --cron '@daily' --command true --model m
	assert_failure 64
	run cynork schedule create --name x --cron '@daily' --command true --max-history 0
	assert_failure 64
	run cynork schedule create --name x --cron '@daily' --command true --wait
	assert_failure 64
	# The server checks the task as task create's: an unknown secret.
	run cynork schedule create --name x --cron '@daily' --command true --secret NOPE
	assert_failure 65
	assert_output --partial "task: unknown secret 'NOPE'"
	[ "$(cy_psql "SELECT count(*) FROM schedules WHERE name = 'x'")" = 0 ]
	run cynork schedule get nope
	assert_failure 66
}

@test "schedule delete asks, -y deletes, the tasks stay" {
	tasks=$(cy_psql "SELECT count(*) FROM tasks")
	run cynork schedule delete every2 </dev/null
	assert_failure 64
	run cynork schedule delete -y every2
	assert_success
	assert_output 'schedule=every2 deleted=true'
	run cynork schedule get every2
	assert_failure 66
	[ "$(cy_psql "SELECT count(*) FROM tasks")" = "$tasks" ]
	run cynork schedule delete -y every2
	assert_failure 66
}
