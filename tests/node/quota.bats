#!/usr/bin/env bats
#
# quota.bats: the disk limits of jobs and of the node (node/workspace-quota.c).
# Each job's /workspace is a tmpfs the node mounts on the host with the
# job's size and /tmp a tmpfs of the sandbox's own: a write past either
# fails inside the job with ENOSPC and the node goes on.  A size above the
# node's maximum is refused; a node that cannot mount (no CAP_SYS_ADMIN)
# says so and refuses jobs asking for a size.  The node keeps
# storage.min_free_mb free: below it, jobs are refused with 507 (the server
# retries them and fails them clearly) and the node reports disk_low.
# The first tests use `cynode-node --run-job` (the executor's own code, no
# server); the last ones the whole stack.  The harness runs as root.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	D=$CY_TMP/quota
	mkdir -p "$D/state"
	printf 'x\n' >"$D/psk"
	chmod 0600 "$D/psk"
	cat >"$D/node.yaml" <<-YAML
	version: 1
	orchestrator:
	  url: "http://127.0.0.1:1"
	  registration_psk_file: "$D/psk"
	node:
	  id: node-q
	storage:
	  state_dir: "$D/state"
	sandbox:
	  resources:
	    max_workspace_mb: 8
	    max_tmp_mb: 4
	YAML
	export D
	# The stack of the last tests (their node starts in the tests).
	cy_pg_start
	cy_server_start
	cy_login >/dev/null
}

# job CONFIG JOB_ID SHELL_SCRIPT [resources JSON]: run it with --run-job; $output = response
job()
{
	local conf=$1 id=$2 script=$3 res=${4:-null}

	jq -cn --arg id "$id" --arg s "$script" --argjson r "$res" \
		'{version:1, task_id:"task-q", job_id:$id,
		  sandbox:{command:["/bin/sh","-c",$s], resources:$r}}' >"$D/req-$id.json"
	run --separate-stderr "$CY_BUILD/cynode-node" --config "$conf" --run-job "$D/req-$id.json"
}

field() { printf '%s' "$output" | jq -r "$1"; }

# The tmpfs mounts under the mount root now (none once the jobs ended).
workspace_mounts()
{
	grep -c " $D/state/sandbox_mounts/[^ ]*/workspace " /proc/self/mountinfo || true
}

@test "a write past the workspace size fails inside the job with ENOSPC; the next job runs" {
	job "$D/node.yaml" w-full 'df -k /workspace | tail -n 1
		dd if=/dev/zero of=/workspace/big bs=1M count=20 2>/tmp/dd.err
		echo "dd=$?"; cat /tmp/dd.err >&2; touch /workspace/after && echo touched'
	assert_success
	[ "$(field .status)" = completed ]
	[ "$(field .stdout | head -n 1 | awk '{print $1, $2}')" = "tmpfs 8192" ]
	[[ $(field .stdout) == *"dd=1"* ]]
	[[ $(field .stderr) == *"No space left on device"* ]]
	# The node took no harm: the workspace is gone, another job runs.
	[ "$(workspace_mounts)" = 0 ]
	job "$D/node.yaml" w-next 'echo fine > /workspace/f && cat /workspace/f'
	assert_success
	[ "$(field .stdout)" = fine ]
}

@test "a write past the /tmp size fails inside the job with ENOSPC" {
	job "$D/node.yaml" t-full 'dd if=/dev/zero of=/tmp/big bs=1M count=10; echo "dd=$?"'
	assert_success
	[[ $(field .stdout) == *"dd=1"* ]]
	[[ $(field .stderr) == *"No space left on device"* ]]
}

@test "a job may ask for a smaller workspace; above the node's maximum it is refused" {
	job "$D/node.yaml" w-small 'df -k /workspace | tail -n 1' '{"workspace_mb":2}'
	assert_success
	[ "$(field .stdout | awk '{print $2}')" = 2048 ]
	job "$D/node.yaml" w-big 'true' '{"workspace_mb":9}'
	assert_failure 1
	[ "$(field .status)" = 400 ]
	[[ $(field .detail) == *"workspace_mb 9 is above this node's sandbox.resources.max_workspace_mb (8)"* ]]
	local r
	for r in '{"workspace_mb":-1}' '{"workspace_mb":"2G"}' '{"workspace_mb":1.5}' '{"workspace_mb":1e300}' \
		'{"workspace_mb":[1]}'; do
		job "$D/node.yaml" w-bad 'true' "$r"
		assert_failure 1
		[ "$(field .status)" = 400 ]
		[[ $(field .detail) == *"resources"* || $(field .detail) == *"workspace_mb"* ]]
	done
}

@test "garbage quota keys in node.yaml are refused naming the key" {
	local k
	for k in "resources:\n    max_workspace_mb: -1" "resources:\n    max_workspace_mb: lots" \
		"resources:\n    max_workspace_mb: 1.5" "resources:\n    max_workspace_mb: 16777217" \
		"workspace_quota: maybe" "workspace_quota: 1"; do
		sed -e "s/^sandbox:\$/sandbox:\n  $k/" -e '/max_workspace_mb: 8/d' \
			"$D/node.yaml" >"$D/garbage.yaml"
		run "$CY_BUILD/cynode-node" --config "$D/garbage.yaml" --check-config
		assert_failure 2
		[[ $output == *"workspace"* ]]
	done
	for k in "min_free_mb: -5" "min_free_mb: full" "min_free_mb: 1073741825"; do
		sed -e "s/^storage:\$/storage:\n  $k/" "$D/node.yaml" >"$D/garbage.yaml"
		run "$CY_BUILD/cynode-node" --config "$D/garbage.yaml" --check-config
		assert_failure 2
		[[ $output == *"min_free_mb"* ]]
	done
	run "$CY_BUILD/cynode-node" --config "$D/node.yaml" --check-config
	assert_success
	assert_output --partial "max_workspace_mb: 8"
	assert_output --partial "workspace_quota: auto"
	assert_output --partial "min_free_mb: 256"
}

@test "without CAP_SYS_ADMIN the workspace is not limited, and a size asked for is refused" {
	# auto: jobs run with an unlimited workspace (the capability report says so).
	job_nocap() { setpriv --bounding-set -sys_admin --inh-caps -sys_admin "$@"; }
	jq -cn '{version:1, task_id:"t", job_id:"u1", sandbox:{command:["/bin/sh","-c",
		"dd if=/dev/zero of=/workspace/big bs=1M count=12 2>/dev/null; echo dd=$?"]}}' \
		>"$D/u1.json"
	run --separate-stderr job_nocap "$CY_BUILD/cynode-node" --config "$D/node.yaml" \
		--run-job "$D/u1.json"
	assert_success
	[ "$(field .stdout)" = "dd=0" ]
	jq -cn '{version:1, task_id:"t", job_id:"u2", sandbox:{command:["true"],
		resources:{workspace_mb:4}}}' >"$D/u2.json"
	run --separate-stderr job_nocap "$CY_BUILD/cynode-node" --config "$D/node.yaml" \
		--run-job "$D/u2.json"
	assert_failure 1
	[ "$(field .status)" = 403 ]
	[[ $(field .detail) == *"cannot limit a job's workspace"*"CAP_SYS_ADMIN"* ]]
	# workspace_quota: tmpfs: the node refuses to run sandboxes at all.
	sed -e 's/^sandbox:$/sandbox:\n  workspace_quota: tmpfs/' "$D/node.yaml" >"$D/strict.yaml"
	run --separate-stderr job_nocap "$CY_BUILD/cynode-node" --config "$D/strict.yaml" \
		--run-job "$D/u1.json"
	assert_failure 1
	[[ $stderr == *"workspace_quota is tmpfs"*"CAP_SYS_ADMIN"* ]]
	# none: never limited, said the same way.
	sed -e 's/^sandbox:$/sandbox:\n  workspace_quota: none/' "$D/node.yaml" >"$D/none.yaml"
	job "$D/none.yaml" n1 'df -k /workspace | tail -n 1 | cut -c1-5' '{"workspace_mb":4}'
	assert_failure 1
	[[ $(field .detail) == *"workspace_quota: none"* ]]
}

@test "--run-job leaves the workspaces of others alone" {
	local ws=$D/state/sandbox_mounts/other-job/workspace

	mkdir -p "$ws"
	mount -t tmpfs -o size=1m tmpfs "$ws"
	[ "$(workspace_mounts)" = 1 ]
	job "$D/node.yaml" s1 'true'
	assert_success
	# A daemon may be running that job: only the daemon's start sweeps.
	[ "$(workspace_mounts)" = 1 ]
	umount "$ws"
}

@test "below storage.min_free_mb the node refuses jobs with 507 and says why" {
	sed -e 's/^storage:$/storage:\n  min_free_mb: 1073741824/' "$D/node.yaml" >"$D/full.yaml"
	job "$D/full.yaml" f1 'echo ran'
	assert_failure 1
	[ "$(field .status)" = 507 ]
	[[ $(field .detail) == *"node disk low: '$D/state' has "*" MB free, below storage.min_free_mb (1073741824 MB)"* ]]
	[ ! -e "$D/state/sandbox_mounts/f1" ]
}

@test "the job's memory limit bounds what it keeps in the workspace tmpfs" {
	sed -e 's/max_workspace_mb: 8/max_workspace_mb: 256/' "$D/node.yaml" >"$D/big.yaml"
	job "$D/big.yaml" m1 'dd if=/dev/zero of=/workspace/big bs=1M count=100; echo "dd=$?"' \
		'{"memory_mb":32}'
	assert_success
	[ "$(field .status)" = failed ]
	[ "$(field .exit_code)" = 137 ]
	[[ $(field .stderr) == *"out of memory (memory limit 32 MB)"* ]]
}

# A state dir on a 16 MiB tmpfs, filled up: a real full disk.
full_disk()
{
	mkdir -p "$D/full"
	mountpoint -q "$D/full" || mount -t tmpfs -o size=16m tmpfs "$D/full"
	mkdir -p "$D/full/state"
	sed -e "s|state_dir: \"$D/state\"|state_dir: \"$D/full/state\"\n  min_free_mb: $1|" \
		"$D/node.yaml" >"$D/full.yaml"
}

teardown_file()
{
	umount "$D/full" 2>/dev/null || true
	cy_teardown_file
}

@test "a full disk: the job is refused with 507 saying why, nothing of it stays, the node goes on" {
	full_disk 1
	job "$D/full.yaml" d0 'echo ran'
	assert_success
	dd if=/dev/zero of="$D/full/fill" bs=1M count=32 2>/dev/null || true
	# The check before the job (storage.min_free_mb: 1).
	job "$D/full.yaml" d1 'echo ran'
	assert_failure 1
	[ "$(field .status)" = 507 ]
	[[ $(field .detail) == *"node disk low: '$D/full/state' has 0 MB free"* ]]
	[ ! -e "$D/full/state/sandbox_mounts/d1" ]
	# Without the check, the write of the job's files fails: the same answer.
	full_disk 0
	job "$D/full.yaml" d2 'echo ran'
	assert_failure 1
	[ "$(field .status)" = 507 ]
	[[ $(field .detail) == *"node disk full: "*"No space left on device"* ]]
	[ ! -e "$D/full/state/sandbox_mounts/d2" ]
	# Space back: jobs run again.
	rm -f "$D/full/fill"
	job "$D/full.yaml" d3 'echo ran'
	assert_success
	[ "$(field .stdout)" = ran ]
	umount "$D/full"
}

# --- the whole stack --------------------------------------------------------

@test "stack: --disk limits the workspace, a job filling it fails alone, others run" {
	local ws=$CY_TMP/node-node-01/mounts/dead-job/workspace

	# A workspace a node that died left mounted is unmounted at the next start.
	mkdir -p "$ws"
	mount -t tmpfs -o size=1m tmpfs "$ws"
	cy_node_start node-01 sandbox.resources.max_workspace_mb=16
	run grep -c " $ws " /proc/self/mountinfo
	assert_output 0
	grep -q 'event=workspace_unmounted' "$CY_TMP/node-node-01.log"
	run -1 --separate-stderr cynork -o json task create --disk 4M --wait \
		--command 'dd if=/dev/zero of=/workspace/big bs=1M count=8'
	[[ $(jq -r .stderr <<<"$output") == *"No space left on device"* ]]
	run -0 --separate-stderr cynork -o json task create --wait \
		--command 'dd if=/dev/zero of=/workspace/big bs=1M count=8 2>/dev/null; df -k /workspace | tail -n 1'
	[ "$(jq -r .stdout <<<"$output" | awk '{print $2}')" = 16384 ]
	# Above the node's maximum: the node refuses the job, the task fails saying why.
	run --separate-stderr cynork -o json task create --disk 1G --max-attempts 1 --wait --command true
	[ "$status" -ne 0 ]
	[[ $output == *"max_workspace_mb (16)"* ]]
	run -64 --separate-stderr cynork task create --disk 0 --command true
	[[ $stderr == *"--disk"* ]]
	run -64 --separate-stderr cynork task create --disk 1Q --command true
	run -64 --separate-stderr cynork task create --disk 1G -p hello
	run cynork -o json nodes get node-01
	run jq -e '.conditions == []' <<<"$output"
	assert_success
}

@test "stack: a node low on disk fails jobs clearly and reports disk_low" {
	local id

	cy_node_stop node-01
	cy_node_start node-01 storage.min_free_mb=1073741824
	run --separate-stderr cynork -o json task create --max-attempts 2 --backoff 0s --wait \
		--command 'echo never'
	[ "$status" -ne 0 ]
	[[ $output == *"HTTP 507"*"node disk low"*"storage.min_free_mb"* ]]
	run cynork task get "$(cynork -o name task list -l 1)"
	assert_output --partial "job_status=failed"
	assert_output --partial "attempts=2"
	# The condition reaches the operator with the next capability report.
	for _ in $(seq 50); do
		cynork nodes get node-01 | grep -q 'conditions=disk_low' && break
		sleep 0.2
	done
	run cynork nodes get node-01
	assert_output --partial "conditions=disk_low"
	run cynork -o json nodes get node-01
	run jq -e '.conditions[0].type == "disk_low"
		and (.conditions[0].message | test("storage.min_free_mb"))' <<<"$output"
	assert_success
	# With a healthy node beside it, the job ends up there (the low node rests a while).
	cy_node_start node-02
	id=$(cynork -o name task create --max-attempts 5 --backoff 0s --command 'echo elsewhere')
	run -0 cynork task wait "$id"
	assert_output --partial "elsewhere"
	run cynork task get "$id"
	assert_output --partial "node=node-02"
	cy_node_stop node-02
	# The node itself is fine: back above the threshold, jobs run again.
	cy_node_stop node-01
	cy_node_start node-01
	run -0 cynork task create --command 'echo again' --wait
	assert_output --partial "again"
}

@test "stack: a node that does not limit workspaces says so, and refuses --disk" {
	cy_node_start node-03 sandbox.workspace_quota=none
	run cynork nodes get node-03
	assert_output --partial "conditions=workspace_quota_unenforced"
	run cynork -o json nodes get node-03
	run jq -e '.conditions == [{"type": "workspace_quota_unenforced",
		"message": "turned off (sandbox.workspace_quota: none)"}]' <<<"$output"
	assert_success
	cy_node_stop node-01
	run --separate-stderr cynork -o json task create --disk 8M --max-attempts 1 --wait \
		--command true
	[ "$status" -ne 0 ]
	[[ $output == *"cannot limit a job's workspace (turned off (sandbox.workspace_quota: none))"* ]]
	run -0 cynork task create --command 'echo unlimited' --wait
	assert_output --partial "unlimited"
	cy_node_stop node-03
}
