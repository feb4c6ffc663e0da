#!/usr/bin/env bats
#
# cgroup-pool.bats: on cgroup v1 a finished job's groups serve the next job
# (node/sandbox-cgroup.c): renamed cynode-PID.pool-N while idle, renamed to
# the next job's name, its limits rewritten where they differ and its CPU
# and peak-memory counters reset.  Real node daemon, real bwrap, jobs
# through the Worker API; the groups are read in /sys/fs/cgroup.

load ../lib/harness

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	cy_node_start node-01 sandbox.max_concurrency=2 sandbox.resources.max_memory_mb=256 \
		sandbox.resources.max_pids=64 sandbox.timeouts.max_seconds=60
	ND=$CY_TMP/node-node-01
	TOKEN=$(curl -s -m 10 -H "Authorization: Bearer $(cat "$ND/state/credentials/node.jwt")" \
		"$CY_CONTROL_URL/v1/nodes/config" | jq -er .worker_api.orchestrator_bearer_token)
	export ND TOKEN
}

setup()
{
	# The pool is cgroup v1's (one hierarchy per controller), as root.
	[ "$(id -u)" = 0 ] && [ -w /sys/fs/cgroup/memory ] && [ -w /sys/fs/cgroup/pids ] &&
		[ -w /sys/fs/cgroup/cpuacct/ ] || skip "no writable cgroup v1 hierarchies for the node here"
}

# wjob JOB_ID SCRIPT [extra sandbox JSON members]: POST it; $body = response
wjob() { cy_worker_job task-pool "$@"; }

field() { printf '%s' "$body" | jq -r "$1"; }

# groups HIERARCHY NAME-PATTERN: the node's job groups of that name, one a
# line (the trailing / follows a hierarchy that is a symlink: cpuacct ->
# cpu,cpuacct).
groups() { find "/sys/fs/cgroup/$1/" -maxdepth 6 -type d -name "$2" 2>/dev/null; }

# idle: how many idle groups the node keeps (in the memory hierarchy).
idle() { groups memory "cynode-$CY_NODE_PID.pool-*" | wc -l; }

# idle_is N: the node keeps N idle groups; else why it kept none (its log).
idle_is()
{
	[ "$(idle)" = "$1" ] && return 0
	echo "idle groups: $(idle), expected $1" >&2
	grep -E "event=cgroup_(kept|not_kept|reused)" "$CY_TMP/node-node-01.log" | tail -n 5 >&2
	return 1
}

# reused JOB_ID: the node's log says the job ran in a kept group.
reused() { grep -q "event=cgroup_reused group=cynode-$CY_NODE_PID-$1\b" "$CY_TMP/node-node-01.log"; }

# About 40 MB of shell string and some CPU: what the next job must not see.
HEAVY='x=a; i=0; while [ $i -lt 25 ]; do x="$x$x"; i=$((i+1)); done
	i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; echo ${#x}'

@test "a finished job's groups serve the next job, whose usage counts only its own" {
	local pid=$CY_NODE_PID g
	wjob p-heavy "$HEAVY" '"resources":{"memory_mb":192}'
	cy_status 200
	[ "$(field .status)" = completed ]
	[ "$(field .stdout)" = 33554432 ]
	[ "$(field .usage.source)" = cgroup_v1 ]
	jq -e '.usage.peak_memory_bytes >= 32 * 1048576 and .usage.cpu_seconds >= 0.1' <<<"$body"
	# Kept, one group in each hierarchy, under its idle name.
	idle_is 1
	[ "$(groups pids "cynode-$pid.pool-*" | wc -l)" = 1 ]
	[ "$(groups cpuacct "cynode-$pid.pool-*" | wc -l)" = 1 ]
	[ -z "$(groups memory "cynode-$pid-p-heavy")" ]
	# The next job takes it: while it runs the idle name is gone and the
	# group has the job's name (its limit written: 64 MiB).
	jq -cn '{version:1, task_id:"task-pool", job_id:"p-light", sandbox:{command:["/bin/sh",
		"-c","touch /workspace/started; sleep 1"], resources:{memory_mb:64}}}' \
		>"$CY_TMP/req-p-light.json"
	curl -s -m 30 -o "$CY_TMP/p-light.out" -H "Authorization: Bearer $TOKEN" \
		-H 'Content-Type: application/json' --data-binary "@$CY_TMP/req-p-light.json" \
		"$CY_NODE_URL/v1/worker/jobs:run" &
	for _ in $(seq 1 100); do
		[ -e "$ND/mounts/p-light/workspace/started" ] && break
		sleep 0.05
	done
	[ -z "$(groups memory "cynode-$pid.pool-*")" ]
	g=$(groups memory "cynode-$pid-p-light")
	[ -n "$g" ] || { groups memory "cynode-$pid-*"; false; }
	[ "$(cat "$g/memory.limit_in_bytes")" = $((64 * 1048576)) ]
	wait
	[ "$(jq -r .status "$CY_TMP/p-light.out")" = completed ]
	wjob p-true 'true'
	cy_status 200
	[ "$(field .status)" = completed ]
	# Its own CPU and memory: not the 40 MB and the loop of p-heavy.
	jq -e '.usage.source == "cgroup_v1" and .usage.cpu_seconds < 0.1 and
		.usage.peak_memory_bytes < 16 * 1048576' <<<"$body" || { echo "$body"; false; }
	idle_is 1
}

@test "a kept group's limits follow each job: raised and cut" {
	# 32 MiB and 8 processes for `true`, kept with those limits ...
	wjob p-small 'true' '"resources":{"memory_mb":32,"pids":8}'
	[ "$(field .status)" = completed ]
	idle_is 1
	# ... raised for a job that needs 64+ MiB and 20 processes, in that group,
	wjob p-big "$HEAVY; for i in \$(seq 20); do sleep 0.3 & done; wait" \
		'"resources":{"memory_mb":192,"pids":48}'
	cy_status 200
	[ "$(field .status)" = completed ] || { echo "$body"; false; }
	[ "$(field .stdout)" = 33554432 ]
	reused p-big
	# ... cut again: the same work is over the limit now,
	wjob p-cut "$HEAVY" '"resources":{"memory_mb":32}'
	[ "$(field .status)" = failed ]
	[ "$(field .exit_code)" = 137 ]
	[[ "$(field .stderr)" == *"memory limit"* ]]
	reused p-cut
	# (its group was not kept: it hit its limit)
	idle_is 0
	wjob p-many 'true' '"resources":{"pids":64}'
	idle_is 1
	wjob p-forks 'for i in $(seq 20); do sleep 0.3 & done; wait' '"resources":{"pids":8}'
	[ "$(field .status)" = failed ] || { echo "$body"; false; }
	reused p-forks
	idle_is 0
	# ... and with no job limit the node's own maximum (256 MiB) holds.
	wjob p-default "$HEAVY"
	[ "$(field .status)" = completed ]
}

@test "a job that hit a limit or timed out does not leave its groups for the next job" {
	local pid=$CY_NODE_PID
	wjob p-keep1 'true'
	idle_is 1
	wjob p-oom 'x=a; while :; do x="$x$x"; done' '"resources":{"memory_mb":32}'
	[ "$(field .status)" = failed ]
	reused p-oom
	idle_is 0
	grep -q "event=cgroup_not_kept group=[^ ]*/cynode-$pid-p-oom reason=\"the job was stopped or hit a limit\"" \
		"$CY_TMP/node-node-01.log"
	wjob p-keep2 'true'
	idle_is 1
	wjob p-timeout 'sleep 30' '"timeout_seconds":1'
	[ "$(field .status)" = timeout ]
	reused p-timeout
	idle_is 0
	[ -z "$(groups memory "cynode-$pid-p-oom")" ]
	[ -z "$(groups memory "cynode-$pid-p-timeout")" ]
	# A clean job after them, with limits, in a new group, then one in that group kept.
	wjob p-after 'true' '"resources":{"memory_mb":64,"pids":16}'
	[ "$(field .status)" = completed ]
	idle_is 1
	wjob p-after2 'true' '"resources":{"memory_mb":64,"pids":16}'
	[ "$(field .status)" = completed ]
	reused p-after2
}

@test "the node's stop removes its idle groups" {
	local pid=$CY_NODE_PID
	wjob p-last 'true'
	[ "$(field .status)" = completed ]
	[ -n "$(groups memory "cynode-$pid.pool-*")" ]
	cy_node_stop node-01
	[ -z "$(find /sys/fs/cgroup -maxdepth 6 -name "cynode-$pid[.-]*" 2>/dev/null)" ]
}

@test "a node killed with SIGKILL leaves its idle groups; the next node's start removes them" {
	local old
	cy_node_start node-01 sandbox.max_concurrency=2
	old=$CY_NODE_PID
	TOKEN=$(curl -s -m 10 -H "Authorization: Bearer $(cat "$ND/state/credentials/node.jwt")" \
		"$CY_CONTROL_URL/v1/nodes/config" | jq -er .worker_api.orchestrator_bearer_token)
	wjob p-k9 'true'
	[ "$(field .status)" = completed ]
	idle_is 1
	kill -KILL "$old"
	wait "$old" 2>/dev/null || true
	rm -f "$ND/pid"
	# (a node of another bats file starting now may remove them first)
	cy_node_start node-01
	[ -z "$(groups memory "cynode-$old.pool-*")" ]
	[ -z "$(groups pids "cynode-$old.pool-*")" ]
	cy_node_stop node-01
}
