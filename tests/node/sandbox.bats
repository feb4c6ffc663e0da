#!/usr/bin/env bats
#
# The executor and the bubblewrap sandbox, through `cynode-node --run-job`,
# which runs one RunJobRequest through the same validation and sandbox code
# as POST /v1/worker/jobs:run (contract 2.3 and 5).  Real bwrap; no server.

load ../lib/harness

setup_file()
{
	cy_setup_file
	D=$CY_TMP/node
	mkdir -p "$D/state"
	printf 'x\n' >"$D/psk"
	chmod 0600 "$D/psk"
	echo "node-secret" >"$D/state/secret.txt"
	cat >"$D/node.yaml" <<-YAML
	version: 1
	orchestrator:
	  url: "http://127.0.0.1:1"
	  registration_psk_file: "$D/psk"
	node:
	  id: node-01
	storage:
	  state_dir: "$D/state"
	sandbox:
	  staging_dir: "$D/staging"
	  max_output_bytes: 262144
	  timeouts:
	    max_seconds: 60
	YAML
	export D
}

# job JOB_ID SHELL_SCRIPT [extra sandbox JSON members]: run it, $output = response
job()
{
	local id=$1 script=$2 extra=${3:-}
	jq -cn --arg id "$id" --arg s "$script" --argjson x "{${extra}}" \
		'{version:1, task_id:"task-1", job_id:$id,
		  sandbox:({command:["/bin/sh","-c",$s]} + $x)}' >"$D/req-$id.json"
	run "$CY_BUILD/cynode-node" --config "$D/node.yaml" --run-job "$D/req-$id.json"
}

field() { printf '%s' "$output" | jq -r "$1"; }

@test "echo hello completes with exit_code 0" {
	job j-hello 'echo hello'
	assert_success
	[ "$(field .status)" = completed ]
	[ "$(field .exit_code)" = 0 ]
	[ "$(field .stdout)" = hello ]
	[ "$(field .truncated.stdout)" = false ]
	[ "$(field .version)" = 1 ]
	[ "$(field .job_id)" = j-hello ]
	[ -n "$(field .started_at)" ]
	[ -n "$(field .ended_at)" ]
}

@test "exit 3 fails with exit_code 3 and keeps stderr" {
	job j-exit 'echo oops >&2; exit 3'
	assert_success
	[ "$(field .status)" = failed ]
	[ "$(field .exit_code)" = 3 ]
	[ "$(field .stderr)" = oops ]
}

@test "timeout kills the sandbox quickly" {
	local t0=$SECONDS
	job j-timeout 'sleep 30 & sleep 30' '"timeout_seconds":1'
	assert_success
	[ "$(field .status)" = timeout ]
	[ "$(field .exit_code)" = -1 ]
	[ $((SECONDS - t0)) -lt 10 ]
}

@test "output flood is capped at 262144 bytes with truncated.stdout" {
	job j-flood 'yes | head -c 10000000'
	assert_success
	[ "$(field .status)" = completed ]
	[ "$(field .truncated.stdout)" = true ]
	[ "$(field '.stdout | length')" -le 262144 ]
	[ "$(field '.stdout | length')" -gt 200000 ]
}

@test "truncation never splits a UTF-8 code point" {
	job j-utf8 'i=0; while [ $i -lt 100000 ]; do printf "é€"; i=$((i+1)); done'
	assert_success
	[ "$(field .truncated.stdout)" = true ]
	# jq would have failed on invalid UTF-8; the text is only whole characters
	[ "$(field '.stdout | explode | map(select(. == 65533)) | length')" = 0 ]
}

@test "task context env is set and cannot be forged" {
	job j-env 'echo "T=$CYNODE_TASK_ID J=$CYNODE_JOB_ID W=$CYNODE_WORKSPACE_DIR F=$FOO"; pwd' \
		'"env":{"CYNODE_TASK_ID":"forged","CYNODE_WORKSPACE_DIR":"/etc","FOO":"bar"}'
	assert_success
	assert_output --partial "T=task-1 J=j-env W=/workspace F=bar"
	assert_output --partial '/workspace\n'
}

@test "the node's environment does not reach the sandbox" {
	SECRET_NODE_VAR=leak job j-noenv 'env'
	assert_success
	refute_output --partial SECRET_NODE_VAR
}

@test "no network: only lo exists" {
	job j-net 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "' '"network_policy":"none"'
	assert_success
	[ "$(field .stdout)" = lo ]
}

@test "the sandbox runs as an unprivileged uid" {
	job j-uid 'id -u'
	assert_success
	[ "$(field .stdout)" = 65534 ]
}

@test "the node's state dir is not visible" {
	job j-state "cat '$D/state/secret.txt'; ls '$D' ; ls /root /home /var 2>&1 | head -3"
	assert_success
	refute_output --partial node-secret
	refute_output --partial psk
}

# The /etc entries the host image shows (node/sandbox-etc.c), as on this host:
# symlinks, world-readable files and world-searchable directories.
expected_etc()
{
	local e
	for e in passwd group hosts nsswitch.conf ld.so.cache ld.so.conf ld.so.conf.d \
		alternatives localtime ssl ca-certificates os-release debian_version profile \
		bash.bashrc mime.types; do
		if [ -L "/etc/$e" ] ||
			{ [ -f "/etc/$e" ] && [ -n "$(find "/etc/$e" -maxdepth 0 -perm -o+r)" ]; } ||
			{ [ -d "/etc/$e" ] && [ -n "$(find "/etc/$e" -maxdepth 0 -perm -o+x)" ]; }; then
			echo "$e"
		fi
	done | sort
}

@test "/etc shows exactly the prepared entries, passwd as on the host" {
	echo "node-config-marker" >"$D/state/etc-marker.conf"
	job j-etc 'ls -A /etc; echo ---; md5sum </etc/passwd; echo ---
		ls -A /etc/ssl; cat /etc/shadow; touch /etc/x 2>/dev/null; echo rc=$?'
	assert_success
	[ "$(field .status)" = completed ]
	local out=$(field .stdout)
	[ "$(printf '%s\n' "$out" | sed -n '1,/^---$/p' | sed '$d' | sort)" = "$(expected_etc)" ]
	[ -n "$(expected_etc)" ]
	[ "$(printf '%s\n' "$out" | sed -n '/^---$/,/^---$/p' | sed -n 2p)" = "$(md5sum </etc/passwd)" ]
	[[ "$out" != *shadow* && "$out" != *marker* && "$out" != *node.yaml* ]]
	# /etc/ssl/private (root-only on the host) is not even listed.
	if [ -d /etc/ssl/private ]; then [[ "$out" != *private* ]]; fi
	[[ "$(field .stderr)" == *"/etc/shadow: No such file or directory"* ]]
	[[ "$out" == *rc=1* ]]
	# One prepared generation, named by the staging dir's symlink, mode 0755.
	local gen=$(readlink "$D/staging/sandbox-etc")
	[[ "$gen" == sandbox-etc.* ]]
	[ "$(stat -c %a "$D/staging/$gen")" = 755 ]
	cmp /etc/passwd "$D/staging/$gen/passwd"
}

@test "a staging dir the node creates, or one of mode 0700, still serves the prepared /etc" {
	# The node creates a missing staging dir 0711, and makes an existing one
	# searchable for the sandbox uid when it runs as root (the /etc copy lives
	# there); before, a directory the node made itself (0700) broke the sandbox.
	local fresh=$CY_TMP/fresh/a/staging
	sed -e "s|staging_dir: .*|staging_dir: \"$fresh\"|" \
		-e "s|^sandbox:|sandbox:\n  mount_root: \"$CY_TMP/fresh-mounts\"|" \
		"$D/node.yaml" >"$D/node-fresh.yaml"
	grep -q fresh-mounts "$D/node-fresh.yaml"
	jq -cn '{version:1, task_id:"t", job_id:"j-fresh",
		sandbox:{command:["/bin/sh","-c","md5sum </etc/passwd"]}}' >"$D/req-fresh.json"
	run --separate-stderr "$CY_BUILD/cynode-node" --config "$D/node-fresh.yaml" \
		--run-job "$D/req-fresh.json"
	assert_success
	[[ $stderr != *sandbox_etc_failed* ]]
	[ "$(field .status)" = completed ]
	[ "$(field .stdout)" = "$(md5sum </etc/passwd)" ]
	[ "$(stat -c %a "$fresh")" = 711 ]
	[[ "$(readlink "$fresh/sandbox-etc")" == sandbox-etc.* ]]
	[ "$(id -u)" -eq 0 ] || return 0
	chmod 0700 "$fresh"
	sed -i 's/j-fresh/j-fresh2/' "$D/req-fresh.json"
	run --separate-stderr "$CY_BUILD/cynode-node" --config "$D/node-fresh.yaml" \
		--run-job "$D/req-fresh.json"
	assert_success
	[[ $stderr != *sandbox_etc_failed* ]]
	[ "$(field .status)" = completed ]
	[ "$(stat -c %a "$fresh")" = 701 ]
}

@test "without a prepared /etc (staging dir unusable) jobs bind the entries one by one" {
	sed -e 's|staging_dir: .*|staging_dir: "/dev/null/staging"|' \
		-e "s|^sandbox:|sandbox:\n  mount_root: \"$D/fb-mounts\"|" "$D/node.yaml" >"$D/node-fb.yaml"
	grep -q fb-mounts "$D/node-fb.yaml"
	jq -cn '{version:1, task_id:"t", job_id:"j-fb",
		sandbox:{command:["/bin/sh","-c","md5sum </etc/passwd; ls -A /etc"]}}' >"$D/req-fb.json"
	run "$CY_BUILD/cynode-node" --config "$D/node-fb.yaml" --run-job "$D/req-fb.json"
	assert_success
	assert_output --partial 'event=sandbox_etc_failed'
	assert_output --partial 'fallback="one bind per /etc entry"'
	# The log line (stderr) follows the JSON (stdout) on its last line.
	output=$(printf '%s\n' "$output" | sed -e 's/^}ts=.*/}/' -e '/^ts=/d')
	[ "$(field .status)" = completed ]
	[ "$(field .stdout | head -1)" = "$(md5sum </etc/passwd)" ]
	diff <(field .stdout | sed '1d;/^$/d' | sort) <(expected_etc)
}

@test "workspace is writable; job.json is kept after the run, the workspace tmpfs is not" {
	job j-ws 'echo data >/workspace/out.txt && cat /job/job.json'
	assert_success
	[ "$(field .status)" = completed ]
	assert_output --partial 'j-ws'
	# The size-limited workspace (a tmpfs, tests/node/quota.bats) ends with the run.
	[ ! -e "$D/state/sandbox_mounts/j-ws/workspace/out.txt" ]
	[ -f "$D/state/sandbox_mounts/j-ws/job/job.json" ]
	# An unlimited one is a plain directory, kept until the cleanup.
	sed -e 's/^sandbox:$/sandbox:\n  workspace_quota: none/' "$D/node.yaml" >"$D/ws-none.yaml"
	jq -cn '{version:1, task_id:"t", job_id:"j-ws2", sandbox:{command:["/bin/sh","-c",
		"echo data >/workspace/out.txt"]}}' >"$D/req-j-ws2.json"
	run "$CY_BUILD/cynode-node" --config "$D/ws-none.yaml" --run-job "$D/req-j-ws2.json"
	assert_success
	[ "$(cat "$D/state/sandbox_mounts/j-ws2/workspace/out.txt")" = data ]
}

@test "the root filesystem is read-only" {
	job j-ro 'touch /usr/x 2>&1; echo rc=$?'
	assert_success
	assert_output --partial 'rc=1'
}

@test "version 2 is refused as unsupported-payload-version" {
	echo '{"version":2,"task_id":"t","job_id":"j","sandbox":{"command":["true"]}}' >"$D/v2.json"
	run "$CY_BUILD/cynode-node" --config "$D/node.yaml" --run-job "$D/v2.json"
	assert_failure 1
	[ "$(field .type)" = "https://cynode.ai/problems/unsupported-payload-version" ]
	[ "$(field .status)" = 400 ]
}

@test "bad requests are refused with a reason" {
	local body
	for body in \
		'{"version":1,"task_id":"t","job_id":"j","sandbox":{"command":[]}}' \
		'{"version":1,"task_id":"t","job_id":"j","sandbox":{"command":["true"],"network_policy":"open"}}' \
		'{"version":1,"task_id":"../etc","job_id":"j","sandbox":{"command":["true"]}}' \
		'{"version":1,"task_id":"t","sandbox":{"command":["true"]}}' \
		'{"version":1,"task_id":"t","job_id":"j","sandbox":{"command":["true"],"env":{"A B":"x"}}}' \
		'{"version":1,"task_id":"t","job_id":"j","sandbox":{"command":["true"],"timeout_seconds":-1}}' \
		'{"version":1,"task_id":"t","job_id":"j","sandbox":{"command":["true"],"image":"alpine:latest"}}' \
		'not json'; do
		printf '%s' "$body" >"$D/bad.json"
		run "$CY_BUILD/cynode-node" --config "$D/node.yaml" --run-job "$D/bad.json"
		assert_failure 1
		[ "$(field .status)" = 400 ]
		[ -n "$(field .detail)" ]
	done
}

# Policy (contract 5 "must refuse"): each refusal is a 403 naming the key.
refused()
{
	printf '%s' "$1" >"$D/pol.json"
	run "$CY_BUILD/cynode-node" --config "${2:-$D/node.yaml}" --run-job "$D/pol.json"
	assert_failure 1
	[ "$(field .status)" = 403 ]
	[[ "$(field .detail)" == *"$3"* ]]
}

@test "privileged mode, host network and devices are refused with a reason" {
	refused '{"version":1,"task_id":"t","job_id":"p1","sandbox":{"command":["true"],"privileged":true}}' \
		"" sandbox.security.allow_privileged
	refused '{"version":1,"task_id":"t","job_id":"p2","sandbox":{"command":["true"],"network_policy":"host"}}' \
		"" sandbox.security.allow_host_network
	refused '{"version":1,"task_id":"t","job_id":"p3","sandbox":{"command":["true"],"devices":["/dev/null"]}}' \
		"" sandbox.security.allow_device_mounts
	# privileged: false and an empty device list are fine
	printf '%s' '{"version":1,"task_id":"t","job_id":"p4","sandbox":{"command":["true"],"privileged":false,"devices":[]}}' >"$D/pol.json"
	run "$CY_BUILD/cynode-node" --config "$D/node.yaml" --run-job "$D/pol.json"
	assert_success
}

@test "allowed host network and devices work; privileged stays refused by bwrap" {
	sed -e 's/^sandbox:$/sandbox:\n  security:\n    allow_privileged: true\n    allow_host_network: true\n    allow_device_mounts: true\n  mounts:\n    allowed_host_paths: ["\/dev\/fuse"]/' \
		"$D/node.yaml" >"$D/open.yaml"
	refused '{"version":1,"task_id":"t","job_id":"p5","sandbox":{"command":["true"],"privileged":true}}' \
		"$D/open.yaml" "never runs privileged"
	refused '{"version":1,"task_id":"t","job_id":"p6","sandbox":{"command":["true"],"devices":["/dev/kmsg"]}}' \
		"$D/open.yaml" "allowed_host_paths"
	printf '%s' '{"version":1,"task_id":"t","job_id":"p7","sandbox":{"command":["/bin/sh","-c","tail -n +3 /proc/net/dev | wc -l"],"network_policy":"host"}}' >"$D/pol.json"
	run "$CY_BUILD/cynode-node" --config "$D/open.yaml" --run-job "$D/pol.json"
	assert_success
	[ "$(field .status)" = completed ]
	[ "$(field .stdout)" = "$(tail -n +3 /proc/net/dev | wc -l)" ]
	if [ -c /dev/fuse ]; then
		printf '%s' '{"version":1,"task_id":"t","job_id":"p8","sandbox":{"command":["/bin/sh","-c","test -c /dev/fuse && echo dev-ok"],"devices":["/dev/fuse"]}}' >"$D/pol.json"
		run "$CY_BUILD/cynode-node" --config "$D/open.yaml" --run-job "$D/pol.json"
		assert_success
		[ "$(field .stdout)" = dev-ok ]
	fi
}

@test "bad policy and resource fields are 400" {
	local body
	for body in \
		'{"version":1,"task_id":"t","job_id":"b1","sandbox":{"command":["true"],"privileged":"yes"}}' \
		'{"version":1,"task_id":"t","job_id":"b2","sandbox":{"command":["true"],"devices":"/dev/null"}}' \
		'{"version":1,"task_id":"t","job_id":"b3","sandbox":{"command":["true"],"resources":[]}}' \
		'{"version":1,"task_id":"t","job_id":"b4","sandbox":{"command":["true"],"resources":{"memory_mb":-1}}}' \
		'{"version":1,"task_id":"t","job_id":"b5","sandbox":{"command":["true"],"resources":{"memory_mb":"lots"}}}' \
		'{"version":1,"task_id":"t","job_id":"b6","sandbox":{"command":["true"],"resources":{"disk_gb":1}}}' \
		'{"version":1,"task_id":"t","job_id":"b7","sandbox":{"command":["true"],"resources":{"pids":2}}}'; do
		printf '%s' "$body" >"$D/bad.json"
		run "$CY_BUILD/cynode-node" --config "$D/node.yaml" --run-job "$D/bad.json"
		assert_failure 1
		[ "$(field .status)" = 400 ]
		[ -n "$(field .detail)" ]
	done
}

@test "per-job resources are capped by the node's limits" {
	sed -e 's/^sandbox:$/sandbox:\n  resources:\n    max_memory_mb: 100\n    max_tmp_mb: 4/' \
		"$D/node.yaml" >"$D/res.yaml"
	# Asking for more /tmp than the node allows gets the node's 4 MB.
	printf '%s' '{"version":1,"task_id":"t","job_id":"r1","sandbox":{"command":["/bin/sh","-c","df -k /tmp | tail -1"],"resources":{"tmp_mb":1000,"memory_mb":5000}}}' >"$D/res.json"
	run "$CY_BUILD/cynode-node" --config "$D/res.yaml" --run-job "$D/res.json"
	assert_success
	[ "$(field .stdout | awk '{print $2}')" = 4096 ]
	# Asking for less gets less.
	printf '%s' '{"version":1,"task_id":"t","job_id":"r2","sandbox":{"command":["/bin/sh","-c","df -k /tmp | tail -1"],"resources":{"tmp_mb":2}}}' >"$D/res.json"
	run "$CY_BUILD/cynode-node" --config "$D/res.yaml" --run-job "$D/res.json"
	assert_success
	[ "$(field .stdout | awk '{print $2}')" = 2048 ]
}

@test "rlimits: open files and file size are limited, no core dumps" {
	job j-rl 'ulimit -n; ulimit -c; ulimit -f'
	assert_success
	[ "$(field .stdout)" = "$(printf '1024\n0\n8388608')" ]
}

@test "sandbox resource keys reject garbage in node.yaml" {
	local k
	for k in "max_memory_mb: -5" "max_pids: lots" "max_tmp_mb: 0" "max_open_files: 3" \
		"max_file_size_mb: 0" "max_cpu_cores: 1.5x"; do
		sed -e "s/^sandbox:\$/sandbox:\n  resources:\n    $k/" "$D/node.yaml" >"$D/garbage.yaml"
		run "$CY_BUILD/cynode-node" --config "$D/garbage.yaml" --check-config
		assert_failure 2
		[[ "$output" == *resources* ]]
	done
}

@test "SIGTERM cancels a --run-job job with its grandchildren: status canceled" {
	local pid i
	jq -cn '{version:1, task_id:"t", job_id:"j-cancel", sandbox:{command:["/bin/sh","-c",
		"( (sleep 3; echo late >/workspace/late) & ); setsid sleep 43 & touch /workspace/started; sleep 43"]}}' \
		>"$D/cancel.json"
	"$CY_BUILD/cynode-node" --config "$D/node.yaml" --run-job "$D/cancel.json" >"$D/cancel.out" &
	pid=$!
	for i in $(seq 1 300); do
		[ -e "$D/state/sandbox_mounts/j-cancel/workspace/started" ] && break
		sleep 0.1
	done
	[ -e "$D/state/sandbox_mounts/j-cancel/workspace/started" ]
	kill -TERM "$pid"
	wait "$pid" || true
	output=$(cat "$D/cancel.out")
	[ "$(field .status)" = canceled ]
	[ "$(field .exit_code)" = -1 ]
	[[ "$(field .stderr)" == *"job canceled"* ]]
	sleep 3.5
	[ ! -e "$D/state/sandbox_mounts/j-cancel/workspace/late" ]
	run pgrep -f 'sleep 43'
	assert_failure
}

@test "a job's cgroups exist while it runs and are removed after a timeout" {
	local pid i groups
	jq -cn '{version:1, task_id:"t", job_id:"j-cg", sandbox:{command:["/bin/sh","-c",
		"touch /workspace/started; sleep 30.41"], timeout_seconds:3,
		resources:{memory_mb:64, pids:32}}}' >"$D/cg.json"
	"$CY_BUILD/cynode-node" --config "$D/node.yaml" --run-job "$D/cg.json" >"$D/cg.out" &
	pid=$!
	for i in $(seq 1 300); do
		[ -e "$D/state/sandbox_mounts/j-cg/workspace/started" ] && break
		sleep 0.1
	done
	[ -e "$D/state/sandbox_mounts/j-cg/workspace/started" ]
	# v1: one group per controller; v2: one (tests/vm/cgroup-v2.sh checks v2).
	groups=$(find /sys/fs/cgroup -maxdepth 6 -type d -name 'cynode-*-j-cg' 2>/dev/null)
	# The job's processes are in each of them (on v1 the launcher joins
	# through `tasks`; the job's shell and its sleep came after).
	for g in $groups; do
		grep -qx "$(pgrep -xf 'sleep 30.41')" "$g/cgroup.procs"
	done
	wait "$pid"
	output=$(cat "$D/cg.out")
	[ "$(field .status)" = timeout ]
	[ -n "$groups" ] || skip "this host gives the node no cgroups"
	for g in $groups; do
		[ ! -e "$g" ]
	done
	[ -z "$(find /sys/fs/cgroup -maxdepth 6 -type d -name 'cynode-*-j-cg' 2>/dev/null)" ]
}

@test "--bench-parallel runs N sandboxes P at a time and prints the rate; bad values are 2" {
	run "$CY_BUILD/cynode-node" --config "$D/node.yaml" --bench-sandbox 6 --bench-parallel 3
	assert_success
	[ "$(awk '$1 == "runs" { print $2 }' <<<"$output")" = 6 ]
	[ "$(awk '$1 == "parallel" { print $2 }' <<<"$output")" = 3 ]
	[ "$(awk '$1 == "rate_per_s" { print ($2 > 0) }' <<<"$output")" = 1 ]
	# Nothing of the runs stays behind.
	[ -z "$(find "$D/state/sandbox_mounts" -maxdepth 1 -name 'bench-*' 2>/dev/null)" ]
	for bad in 0 65 -1 x 3x ''; do
		run "$CY_BUILD/cynode-node" --config "$D/node.yaml" --bench-sandbox 6 \
			--bench-parallel "$bad"
		assert_failure 2
		assert_output --partial "--bench-parallel wants a number 1-64"
	done
	run "$CY_BUILD/cynode-node" --config "$D/node.yaml" --bench-parallel 2
	assert_failure 2
	assert_output --partial "goes with --bench-sandbox"
}

@test "without cgroups (a node not run as root) a job's usage still holds its command's CPU time" {
	local u
	[ "$(id -u)" -eq 0 ] || skip "needs root to run the node as nobody"
	runuser -u nobody -- bwrap --unshare-all --ro-bind / / true 2>/dev/null ||
		skip "this host has no user namespaces for unprivileged users"
	runuser -u nobody -- test -x "$CY_BUILD/cynode-node" ||
		skip "nobody cannot run $CY_BUILD/cynode-node (a build under a private home)"
	u=$(mktemp -d /tmp/cy-unpriv.XXXXXX)
	printf 'x\n' >"$u/psk"
	chmod 0600 "$u/psk"
	cat >"$u/node.yaml" <<-YAML
	version: 1
	orchestrator:
	  url: "http://127.0.0.1:1"
	  registration_psk_file: "$u/psk"
	node:
	  id: node-unpriv
	storage:
	  state_dir: "$u/state"
	sandbox:
	  staging_dir: "$u/staging"
	YAML
	# 0.2-0.3 s of CPU in the job's shell, spent inside bwrap's second process.
	jq -cn '{version:1, task_id:"t", job_id:"burn", sandbox:{command:["/bin/sh","-c",
		"i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; echo $i"]}}' >"$u/burn.json"
	chmod 0755 "$u"
	chown -R nobody "$u"
	run --separate-stderr runuser -u nobody -- "$CY_BUILD/cynode-node" --config "$u/node.yaml" \
		--run-job "$u/burn.json"
	rm -rf "$u"
	assert_success
	[ "$(field .stdout)" = 300000 ]
	[ "$(field .usage.source)" = rusage ]
	# Before the node reaped the sandbox's PID 1 itself this read about 0.002.
	jq -e '.usage.cpu_seconds >= 0.05 and .usage.cpu_user_seconds >= 0.05' <<<"$output"
}
