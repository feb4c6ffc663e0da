#!/usr/bin/env bats
#
# cynork nodes stats and nodes logs [--since] [--source] [--follow] against
# the real server and node: the node's telemetry store through the server.

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

@test "nodes stats prints the node's snapshot; -o json its object; unknown node exits 66" {
	run cynork nodes stats node-01
	assert_success
	assert_output --regexp '^node_slug=node-01 captured_at=20[0-9T:-]+Z cpu_cores=[1-9][0-9]* load=[0-9.]+,[0-9.]+,[0-9.]+ mem_total_bytes=[1-9][0-9]* '
	assert_output --partial "jobs_running=0"
	run cynork -o json nodes stats node-01
	assert_success
	[ "$(jq -r .version <<<"$output")" = 1 ]
	jq -e '.captured_at and .memory.total_bytes > 0' <<<"$output"
	run -66 cynork nodes stats no-such-node
	run -64 cynork nodes stats
	run -64 cynork nodes stats a b
}

@test "nodes logs shows the lifecycle events; --source and --since filter; garbage is refused" {
	run cynork nodes logs node-01
	assert_success
	assert_line --regexp '^ts=20.*Z source=node level=info event=node_starting '
	assert_line --regexp ' event=node_registered '
	assert_line --regexp ' event=config_applied '
	run cynork nodes logs node-01 --source job
	assert_success
	refute_output --partial source=node
	run cynork nodes logs node-01 --since 1h --source node
	assert_success
	assert_output --partial event=node_starting
	run cynork nodes logs node-01 --since 2999-01-01T00:00:00Z
	assert_success
	assert_output ''
	run cynork -o json nodes logs node-01
	assert_success
	jq -e '.version == 1 and (.events | length >= 3) and .truncated == false' <<<"$output"
	run -65 cynork nodes logs node-01 --since yesterday
	assert_output --partial since
	run -64 cynork nodes logs node-01 --source kernel
	run -66 cynork nodes logs no-such-node
}

@test "nodes get adds the last capability report: cores, memory, gpus, inference, models" {
	run cynork nodes get node-01
	assert_success
	assert_output --regexp " cpu_cores=[1-9][0-9]* ram_mb=[1-9][0-9]* gpus=[0-9]+ inference=(unsupported|supported) models=-$"
	assert_output --partial "config_ack_version="
	run cynork -o json nodes get node-01
	assert_success
	jq -e '.capabilities.compute.cpu_cores >= 1 and (.capabilities.inference | type) == "object" and .capabilities.platform.os != null' <<<"$output"
}

@test "nodes logs -F (--follow) prints new events as they come" {
	local out=$CY_TMP/follow.out pid id
	cynork nodes logs node-01 -F --source job >"$out" 2>&1 &
	pid=$!
	sleep 1.5
	id=$(cynork -o name task create --command 'echo hi')
	cynork task wait "$id" >/dev/null
	for _ in $(seq 1 30); do
		grep -q event=job_finished "$out" && break
		sleep 0.5
	done
	kill "$pid"
	wait "$pid" || true
	grep -q "event=job_started task_id=$id" "$out"
	grep -q "event=job_finished task_id=$id" "$out"
	# Each event once, though every poll asks again from the last one's second.
	[ "$(grep -c event=job_started "$out")" = 1 ]
	[ "$(grep -c event=job_finished "$out")" = 1 ]
}

@test "nodes logs: -F is --follow (cli.md), the older -f still works, both in --help" {
	# following never ends by itself: timeout's 124 says the flag was taken
	run -124 timeout 2 env XDG_CONFIG_HOME="$CY_TMP/xdg" CYNORK_GATEWAY_URL="$CY_GATEWAY_URL" "$CY_BUILD/cynork" nodes logs node-01 --follow --source node
	run -124 timeout 2 env XDG_CONFIG_HOME="$CY_TMP/xdg" CYNORK_GATEWAY_URL="$CY_GATEWAY_URL" "$CY_BUILD/cynork" nodes logs node-01 -F --source node
	run -124 timeout 2 env XDG_CONFIG_HOME="$CY_TMP/xdg" CYNORK_GATEWAY_URL="$CY_GATEWAY_URL" "$CY_BUILD/cynork" nodes logs node-01 -f --source node
	run -0 cynork nodes logs --help
	assert_output --partial "-F, -f, --follow"
}
