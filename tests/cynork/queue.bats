#!/usr/bin/env bats
#
# queue.bats: `cynork queue list|show|create|set|delete` and `task create
# --queue` against a private PostgreSQL, cynode-server and one bubblewrap
# node: the table and -o json forms, the head of a queue with pending
# reasons while the node is drained, garbage flags refused with exit 64
# before any request, server refusals with their exit codes, and the
# confirmation of delete.

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

@test "garbage flags are usage errors (exit 64) before any request" {
	local a
	for a in "--priority 1001" "--priority x" "--max-running -1" "--max-running 1000001" \
		"--max-running many" "--max-running-per-user -2" "--bogus 1"; do
		# shellcheck disable=SC2086
		run -64 cynork queue create q1 $a
	done
	run -64 cynork queue create
	run -64 cynork queue create a b
	run -64 cynork queue show
	run -64 cynork queue show default --limit 0
	run -64 cynork queue set default
	assert_output --partial "nothing to change"
	run -64 cynork task create --command true --queue
	[ -z "$(cy_psql "SELECT name FROM queues WHERE name = 'q1'")" ]
}

@test "create, list, set and delete a queue; the server's refusals keep their exit codes" {
	run cynork queue create nightly --priority -5 --max-running 2 --description "batch at night"
	assert_success
	assert_output "queue=nightly created=true"
	run -73 cynork queue create nightly
	run -65 cynork queue create Nightly
	assert_output --partial "a queue's name"
	run cynork queue list
	assert_success
	assert_line --regexp '^NAME[[:space:]]+PRIORITY[[:space:]]+MAX_RUNNING[[:space:]]+MAX_PER_USER[[:space:]]+RUNNING[[:space:]]+QUEUED[[:space:]]+DESCRIPTION'
	assert_line --regexp '^nightly[[:space:]]+-5[[:space:]]+2[[:space:]]+-[[:space:]]+0[[:space:]]+0[[:space:]]+batch'
	assert_line --regexp '^default[[:space:]]+0[[:space:]]+-[[:space:]]+-[[:space:]]+'
	run cynork -o json queue list
	jq -e '[.queues[].name] == ["default", "nightly"] and .queues[1].description == "batch at night"' <<<"$output"
	run cynork queue set nightly --max-running 0 --max-running-per-user 1
	assert_output "queue=nightly updated=true"
	run cynork -o json queue show nightly
	jq -e '.max_running == null and .max_running_per_user == 1 and .priority == -5' <<<"$output"
	run -66 cynork queue set nosuch --priority 1
	run -64 cynork queue delete nightly <<<"y"
	[ -n "$(cy_psql "SELECT name FROM queues WHERE name = 'nightly'")" ]
	run -73 cynork queue delete default -y
	assert_output --partial "cannot be deleted"
	run cynork queue delete nightly -y
	assert_output "queue=nightly deleted=true"
	run -66 cynork queue delete nightly -y
}

@test "task create --queue runs in the queue; queue show lists the head with the reasons" {
	cynork queue create ci --priority 10 >/dev/null
	run -65 cynork task create --command true --queue nosuch
	assert_output --partial "no queue named 'nosuch'"
	run cynork nodes drain node-01 -y
	assert_success
	a=$(cynork -o name task create --command 'echo in-ci' --queue ci)
	b=$(cynork -o name task create --command 'echo in-default')
	# task list says why they wait: a record line piped, a column in a table.
	run cynork task list
	assert_line --partial "task_id=$a"
	assert_output --partial "pending_reason="
	run cynork -o wide task list
	assert_line --index 0 --regexp 'PENDING_REASON$'
	run cynork task get "$a"
	assert_output --partial "NodesUnavailable"
	assert_output --partial "queue=ci"
	run cynork queue show ci
	assert_success
	assert_line --regexp "^POS[[:space:]]+OWNER[[:space:]]+TASK_ID[[:space:]]+PRIORITY[[:space:]]+FAIR_RANK[[:space:]]+CREATED[[:space:]]+PENDING_REASON"
	assert_line --regexp "^1[[:space:]]+admin[[:space:]]+$a[[:space:]]+10[[:space:]]+[0-9]+[[:space:]]+.*[[:space:]]NodesUnavailable"
	run cynork -o wide queue show ci
	assert_line --regexp "CPUS[[:space:]]+MEMORY_MB[[:space:]]+GPUS"
	run cynork -o json queue show ci --limit 1
	jq -e --arg a "$a" '.head | length == 1 and .[0].task_id == $a and .[0].priority == 10' <<<"$output"
	run cynork -o name queue show ci
	assert_output "$a"
	cynork nodes undrain node-01 >/dev/null
	run cynork task result "$a" --wait
	assert_success
	assert_output --partial in-ci
	run cynork task result "$b" --wait
	assert_success
	[ "$(cy_psql "SELECT queue FROM jobs WHERE task_id = '$a'")" = ci ]
	[ "$(cy_psql "SELECT queue FROM jobs WHERE task_id = '$b'")" = default ]
}
