#!/usr/bin/env bats
#
# runtimes.bats: the sandbox runtime interface (probe, run, kill).
# bubblewrap is the default; podman and docker are used when configured,
# and their job tests skip cleanly when the engine cannot run containers
# here.  /readyz is 503 with the reason when the configured runtime cannot
# start a sandbox.  The capability report lists the enforced features.

load ../lib/harness

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	cy_node_start node-01 orchestrator.report_interval_seconds=1
}

# start_node SLUG KEY=VAL...: a node that may never become ready
start_node()
{
	local slug=$1 conf
	shift
	conf=$(cy_node_config "$slug" "$@")
	stack_node_start "$conf" "$CY_TMP/node-$slug.log" "$CY_TMP/node-$slug/pid"
	cy__track "$STACK_NODE_PID"
	NODE_URL=http://127.0.0.1:$(cat "$CY_TMP/node-$slug/port")
	stack_wait_http "$NODE_URL/healthz" 200 60 "$STACK_NODE_PID"
}

engine_works() { command -v "$1" >/dev/null && timeout 20 "$1" info >/dev/null 2>&1; }

# run_started SLUG JOB SCRIPT: runs SCRIPT (which touches /workspace/started
# first) as job JOB on node SLUG's Worker API in the background and waits
# until it has started.
run_started()
{
	local slug=$1 job=$2 tok i started

	started=$CY_TMP/node-$slug/mounts/$job/workspace/started
	tok=$(curl -s -m 10 -H "Authorization: Bearer $(cat "$CY_TMP/node-$slug/state/credentials/node.jwt")" \
		"$CY_CONTROL_URL/v1/nodes/config" | jq -er .worker_api.orchestrator_bearer_token)
	jq -cn --arg j "$job" --arg s "$3" \
		'{version:1, task_id:"t", job_id:$j, sandbox:{command:["/bin/sh","-c",$s]}}' \
		>"$CY_TMP/$job.json"
	curl -s -m 60 -o "$CY_TMP/$job.out" -H "Authorization: Bearer $tok" \
		-H 'Content-Type: application/json' --data-binary "@$CY_TMP/$job.json" \
		"http://127.0.0.1:$(cat "$CY_TMP/node-$slug/port")/v1/worker/jobs:run" &
	for i in $(seq 1 300); do
		[ -e "$started" ] && break
		sleep 0.1
	done
	[ -e "$started" ]
}

@test "the capability report lists the sandbox features enforced here" {
	local caps
	sleep 1.5
	caps=$(cy_psql "SELECT c.capability_snapshot FROM node_capabilities c JOIN nodes n ON n.id = c.node_id WHERE n.node_slug = 'node-01'")
	[ "$(jq -r .sandbox.supported <<<"$caps")" = true ]
	[ "$(jq -r .sandbox.runtime <<<"$caps")" = bwrap ]
	for f in userns pidns mountns ipcns utsns netns seccomp no_new_privs caps_dropped rlimits; do
		jq -e --arg f "$f" '.sandbox.features | index($f)' <<<"$caps" >/dev/null
	done
	# cgroup features appear exactly when this host lets the node use them
	if [ "$(id -u)" = 0 ] && [ -w /sys/fs/cgroup/pids ] || [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		jq -e '.sandbox.features | map(select(test("^cgroups_v"))) | length == 1' <<<"$caps"
	fi
}

@test "readyz is 503 naming podman when sandbox.runtime is podman and it cannot run" {
	engine_works podman && skip "podman works here"
	start_node node-podman sandbox.runtime=podman
	run curl -s -m 5 "$NODE_URL/readyz"
	assert_output --partial "sandbox runtime unavailable"
	assert_output --partial podman
	run stack_http_code "$NODE_URL/readyz"
	assert_output 503
	cy_node_stop node-podman
}

@test "readyz is 503 naming docker when sandbox.runtime is docker and no engine runs" {
	engine_works docker && skip "docker works here"
	start_node node-docker sandbox.runtime=docker
	run curl -s -m 5 "$NODE_URL/readyz"
	assert_output --partial "sandbox runtime unavailable"
	assert_output --partial docker
	run stack_http_code "$NODE_URL/readyz"
	assert_output 503
	cy_node_stop node-docker
}

@test "readyz is 503 when the mount root cannot be used" {
	mkdir -p "$CY_TMP/blocker"
	: >"$CY_TMP/blocker/file"
	start_node node-badroot "sandbox.mount_root=\"$CY_TMP/blocker/file/mounts\""
	run curl -s -m 5 "$NODE_URL/readyz"
	assert_output --partial "sandbox runtime unavailable"
	cy_node_stop node-badroot
}

@test "sandbox.runtime rejects unknown runtimes" {
	local conf
	conf=$(cy_node_config node-lxc sandbox.runtime=lxc)
	run "$CY_BUILD/cynode-node" --config "$conf" --check-config
	assert_failure 2
	assert_output --partial sandbox.runtime
}

# A job through podman or docker on an image imported from a busybox rootfs.
oci_job()
{
	local engine=$1 conf out
	engine_works "$engine" || skip "$engine cannot run containers here"
	[ -x /bin/busybox ] || skip "busybox-static not installed"
	mkdir -p "$CY_TMP/oci/bin"
	cp /bin/busybox "$CY_TMP/oci/bin/"
	for a in sh echo id cat; do ln -sf busybox "$CY_TMP/oci/bin/$a"; done
	tar -C "$CY_TMP/oci" -cf "$CY_TMP/oci.tar" .
	"$engine" import "$CY_TMP/oci.tar" cynode-test-bb:latest >/dev/null
	conf=$(cy_node_config "node-$engine" "sandbox.runtime=$engine" \
		"sandbox.default_image=\"cynode-test-bb:latest\"")
	jq -cn '{version:1, task_id:"t", job_id:"oci-1", sandbox:{image:"cynode-test-bb:latest",
		command:["/bin/sh","-c","id -u; echo x >/workspace/f && echo ws-ok; touch /etc/x 2>/dev/null || echo ro"]}}' \
		>"$CY_TMP/oci.json"
	run "$CY_BUILD/cynode-node" --config "$conf" --run-job "$CY_TMP/oci.json"
	assert_success
	out=$(jq -r .stdout <<<"$output")
	[ "$(jq -r .status <<<"$output")" = completed ]
	[[ "$out" == *65534* && "$out" == *ws-ok* && "$out" == *ro* ]]
}

@test "podman runs a job when configured and installed" { oci_job podman; }
@test "docker runs a job when configured and installed" { oci_job docker; }

@test "stopping the node kills its running sandboxes and their cgroups" {
	local pid i
	cy_node_start node-stop
	pid=$CY_NODE_PID
	run_started node-stop stop-1 \
		"( (sleep 44; echo late >/workspace/late) & ); touch /workspace/started; sleep 44"
	pgrep -f 'sleep 44' >/dev/null
	kill -TERM "$pid"
	for i in $(seq 1 300); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	! kill -0 "$pid" 2>/dev/null || false
	wait || true
	run pgrep -f 'sleep 44'
	assert_failure
	# (another node of a parallel test file may remove its own groups
	# while find walks the tree: find's complaints about those are noise)
	[ -z "$(find /sys/fs/cgroup -maxdepth 4 -name "cynode-$pid[.-]*" 2>/dev/null)" ]
}

@test "a node killed with SIGKILL leaves empty job cgroups; its next start removes them" {
	local pid i left
	[ "$(id -u)" = 0 ] && { [ -w /sys/fs/cgroup/pids ] || [ -f /sys/fs/cgroup/cgroup.controllers ]; } ||
		skip "this host gives the node no cgroups"
	cy_node_start node-kill9
	pid=$CY_NODE_PID
	run_started node-kill9 kill9-1 "touch /workspace/started; sleep 46"
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null || true
	wait || true
	# the sandbox dies with its node (--die-with-parent) ...
	for i in $(seq 1 300); do
		pgrep -f 'sleep 46' >/dev/null || break
		sleep 0.1
	done
	run pgrep -f 'sleep 46'
	assert_failure
	# ... but its groups stay behind, empty, until a node starts: ours below,
	# or the node of another bats file running at the same time (a starting
	# node removes the groups of every node that died).  After our start,
	# none is left either way; the event says ours did it when it found any.
	left=$(find /sys/fs/cgroup -maxdepth 4 -name "cynode-$pid-kill9-1" 2>/dev/null)
	rm -f "$CY_TMP/node-node-kill9/pid"
	cy_node_start node-kill9
	[ -z "$(find /sys/fs/cgroup -maxdepth 4 -name "cynode-$pid[.-]*" 2>/dev/null)" ]
	if [ -n "$left" ] && ! grep -q 'event=cgroup_stale_removed' "$CY_TMP/node-node-kill9.log"; then
		echo "note: another node removed the groups first" >&2
	fi
	cy_node_stop node-kill9
}

@test "the orchestrator's policy forbids host network even when node.yaml allows it" {
	local tok
	cy_node_start node-pol sandbox.security.allow_host_network=true
	tok=$(curl -s -m 10 -H "Authorization: Bearer $(cat "$CY_TMP/node-node-pol/state/credentials/node.jwt")" \
		"$CY_CONTROL_URL/v1/nodes/config" | jq -er .worker_api.orchestrator_bearer_token)
	# The server pushes policy.sandbox.allow_host_network: false.
	cy_api POST "$CY_NODE_URL/v1/worker/jobs:run" \
		'{"version":1,"task_id":"t","job_id":"pol-1","sandbox":{"command":["true"],"network_policy":"host"}}' "$tok"
	cy_status 403
	[[ "$(jq -r .detail <<<"$body")" == *"policy.sandbox.allow_host_network"* ]]
	cy_api POST "$CY_NODE_URL/v1/worker/jobs:run" \
		'{"version":1,"task_id":"t","job_id":"pol-2","sandbox":{"command":["true"],"privileged":true}}' "$tok"
	cy_status 403
	[[ "$(jq -r .detail <<<"$body")" == *"allow_privileged"* ]]
	cy_api POST "$CY_NODE_URL/v1/worker/jobs:run" \
		'{"version":1,"task_id":"t","job_id":"pol-3","sandbox":{"command":["true"]}}' "$tok"
	cy_status 200
	cy_node_stop node-pol
}
