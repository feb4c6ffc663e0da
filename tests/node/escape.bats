#!/usr/bin/env bats
#
# escape.bats: jobs are untrusted code.  Each test runs a real job that
# tries to break out of its sandbox, through the real node's Worker API
# (POST /v1/worker/jobs:run with the bearer token the server issued), and
# checks that the attempt fails, the result says clearly what happened and
# the node is still healthy afterwards (DESIGN.md section 6, contract 5).

load ../lib/harness

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	# A secret in the node's own environment must never reach a job.
	CYNODE_ESCAPE_SECRET=hunter2-node-env-secret cy_node_start node-01 \
		sandbox.max_concurrency=4 sandbox.resources.max_memory_mb=64 \
		sandbox.resources.max_pids=64 sandbox.resources.max_tmp_mb=8 \
		sandbox.timeouts.max_seconds=60 sandbox.netns_pool=2
	ND=$CY_TMP/node-node-01
	TOKEN=$(curl -s -m 10 -H "Authorization: Bearer $(cat "$ND/state/credentials/node.jwt")" \
		"$CY_CONTROL_URL/v1/nodes/config" | jq -er .worker_api.orchestrator_bearer_token)
	export ND TOKEN
}

teardown()
{
	# Every attempt must leave the node alive and ready.
	run stack_http_code "$CY_NODE_URL/readyz"
	if [ "$output" != 200 ]; then
		cy_show_logs >&2
		echo "node not ready after the test (readyz $output)" >&2
		return 1
	fi
}

# wjob JOB_ID SCRIPT [extra sandbox JSON members]: POST it; $body = response
wjob() { cy_worker_job task-esc "$@"; }

field() { printf '%s' "$body" | jq -r "$1"; }

node_rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$CY_NODE_PID/status"; }

@test "network: only lo exists and the node's Worker API port cannot be reached" {
	command -v python3 >/dev/null || skip "python3 is not installed"
	local port=${CY_NODE_URL##*:}
	# /bin/sh is dash here (no /dev/tcp): python3 makes the connections.
	wjob e-net "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '
		python3 -c 'import socket, sys
for h in (\"127.0.0.1\", \"10.0.2.2\", \"1.1.1.1\"):
    s = socket.socket(); s.settimeout(2)
    try:
        s.connect((h, int(sys.argv[1]))); print(\"CONNECTED-\" + h)
    except OSError as e:
        print(\"refused-\" + h, e.errno)' $port
		exit 0" '"network_policy":"restricted"'
	cy_status 200
	[ "$(field .status)" = completed ]
	[ "$(field .stdout | head -1)" = lo ]
	[[ "$(field .stdout)" != *CONNECTED* ]]
	# Each attempt ran and failed: refused on lo, unreachable elsewhere.
	[ "$(field .stdout | grep -c '^refused-')" = 3 ]
}

@test "network: every job has a namespace of its own, made ahead as root: lo up, not the host's, not another job's" {
	command -v python3 >/dev/null || skip "python3 is not installed"
	# A listens on its lo for 4 s; B, started while A runs, must not reach
	# it, and sees another namespace (both alive: the inodes cannot repeat).
	local a_py='import os, socket, time
print(os.readlink("/proc/self/ns/net"), flush=True)
s = socket.socket(); s.bind(("127.0.0.1", 5555)); s.listen(1)
time.sleep(4)'
	local b_py='import os, socket
print(os.readlink("/proc/self/ns/net"))
s = socket.socket()
try:
    s.connect(("127.0.0.1", 5555)); print("CONNECTED")
except OSError as e:
    print("errno", e.errno)'
	jq -cn --arg s "python3 -c '$a_py'" \
		'{version:1, task_id:"task-esc", job_id:"e-nsA", sandbox:{command:["/bin/sh","-c",$s]}}' \
		>"$CY_TMP/req-e-nsA.json"
	curl -s -m 30 -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
		--data-binary "@$CY_TMP/req-e-nsA.json" "$CY_NODE_URL/v1/worker/jobs:run" \
		>"$CY_TMP/e-nsA.out" &
	local apid=$! i
	for i in $(seq 50); do
		pgrep -f "bind..127.0.0.1., 5555" >/dev/null && break
		sleep 0.1
	done
	sleep 0.3
	wjob e-nsB "python3 -c '$b_py'"
	cy_status 200
	b=$(field .stdout)
	wait "$apid"
	a=$(jq -r .stdout "$CY_TMP/e-nsA.out")
	[ "$(jq -r .status "$CY_TMP/e-nsA.out")" = completed ]
	# lo is up in B (111: refused; a down lo gives 101, unreachable), and A's
	# listener is not there.
	[ "$(sed -n 2p <<<"$b")" = "errno 111" ]
	na=$(head -1 <<<"$a")
	nb=$(head -1 <<<"$b")
	[[ $na == net:\[* ]]
	[[ $nb == net:\[* ]]
	[ "$na" != "$nb" ]
	[ "$na" != "$(readlink /proc/self/ns/net)" ]
	[ "$na" != "$(readlink "/proc/$CY_NODE_PID/ns/net")" ]
	# As root they come from the pool (the same launch path as jobs).
	if [ "$(id -u)" = 0 ]; then
		run "$CY_BUILD/cynode-node" --config "$ND/node.yaml" --bench-sandbox 3
		assert_success
		# Most, at least (the first may come before the pool has made one).
		[ "$(awk '$1 == "netns_pooled" { print $2 }' <<<"$output")" -ge 2 ]
	fi
}

@test "cannot read the node's state dir, credentials or /etc/shadow" {
	wjob e-read "cat '$ND/state/credentials/node.jwt' 2>&1
		ls -la '$ND/state' '$ND' 2>&1
		cat /etc/shadow 2>&1
		cat '$CY_PSK_FILE' 2>&1
		ls /var/lib /root 2>&1
		cat /proc/1/cmdline 2>&1 | tr '\0' ' '; echo
		exit 0"
	cy_status 200
	[ "$(field .status)" = completed ]
	[[ "$body" != *"$(cat "$ND/state/credentials/node.jwt")"* ]]
	[[ "$body" != *"$CY_PSK"* ]]
	[[ "$body" != *'root:'* ]]
	[[ "$body" != *"$ND"/state/sandbox* ]]
	[[ "$(field .stdout)" == *"No such file or directory"* ]]
}

@test "cannot write outside /workspace, /job and /tmp" {
	wjob e-write 'for d in / /usr /usr/bin /etc /bin /lib /var /home /root /proc/sys/kernel /sys /dev /run /opt; do
			if ( : >"$d/cynode-escape" ) 2>/dev/null; then echo "WROTE $d"; fi
		done
		echo x >/workspace/ok && echo x >/tmp/ok && echo x >/job/ok && echo writable-ok'
	cy_status 200
	[[ "$(field .stdout)" != *WROTE* ]]
	[[ "$(field .stdout)" == *writable-ok* ]]
	[ ! -e /cynode-escape ] && [ ! -e /usr/cynode-escape ] && [ ! -e /etc/cynode-escape ]
}

@test "/tmp is private and size-limited" {
	echo outside >/tmp/cynode-escape-tmp-$$
	wjob e-tmp "dd if=/dev/zero of=/tmp/big bs=1M count=32 2>&1; ls /tmp
		dd if=/dev/zero of=/dev/shm/big bs=1M count=32 2>&1; echo done"
	rm -f /tmp/cynode-escape-tmp-$$
	cy_status 200
	[[ "$(field .stdout)" == *"No space left"* ]]
	[[ "$(field .stdout)" != *cynode-escape-tmp* ]]
	[[ "$(field .stdout)" == *done* ]]
}

@test "a fork bomb is stopped by the pids limit and the node survives" {
	local t0=$SECONDS
	wjob e-fork 'bomb() { bomb | bomb & }; bomb; sleep 3; echo bombed' '"timeout_seconds":15'
	cy_status 200
	[ $((SECONDS - t0)) -lt 40 ]
	# The host's process table is fine: nothing of the job is left over.
	run pgrep -u 65534 -f 'sh -c bomb'
	[ -z "$output" ]
	wjob e-after-fork 'echo alive'
	[ "$(field .stdout)" = alive ]
}

@test "a memory hog is killed with a clear failed status" {
	wjob e-mem 'x=a; while :; do x="$x$x"; done'
	cy_status 200
	[ "$(field .status)" = failed ]
	[ "$(field .exit_code)" = 137 ]
	[[ "$(field .stderr)" == *"memory limit"* ]]
}

@test "an output flood is capped without the node's memory growing" {
	local before after
	before=$(node_rss_kb)
	jq -cn '{version:1, task_id:"task-esc", job_id:"e-flood", sandbox:{command:["/bin/sh","-c",
		"head -c 300000000 /dev/zero | tr \"\\0\" x; head -c 100000000 /dev/zero | tr \"\\0\" y >&2"]}}' \
		>"$CY_TMP/req-flood.json"
	run curl -s -m 120 -o "$CY_TMP/flood.out" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
		-H 'Content-Type: application/json' --data-binary "@$CY_TMP/req-flood.json" \
		"$CY_NODE_URL/v1/worker/jobs:run"
	[ "$output" = 200 ]
	[ "$(jq -r .status "$CY_TMP/flood.out")" = completed ]
	[ "$(jq -r .truncated.stdout "$CY_TMP/flood.out")" = true ]
	[ "$(jq -r .truncated.stderr "$CY_TMP/flood.out")" = true ]
	[ "$(jq -r '.stdout | length' "$CY_TMP/flood.out")" -le 262144 ]
	[ "$(jq -r '.stdout | length' "$CY_TMP/flood.out")" -gt 200000 ]
	after=$(node_rss_kb)
	# 400 MB went through; the node holds at most the caps plus slack.
	[ $((after - before)) -lt 16384 ]
}

@test "a timeout kills grandchildren too" {
	local t0=$SECONDS
	# Sleeps of lengths nothing else uses: a survivor would still be sleeping.
	wjob e-tmo '( ( sleep 4.3101; echo escaped ) & ) ; setsid sh -c "sleep 4.3102; echo escaped" & sleep 30' \
		'"timeout_seconds":1'
	cy_status 200
	[ "$(field .status)" = timeout ]
	[ "$(field .exit_code)" = -1 ]
	[ $((SECONDS - t0)) -lt 10 ]
	run pgrep -f 'sleep 4[.]310[12]'
	assert_failure
	[ -f "$ND/mounts/e-tmo/job/job.json" ]
}

@test "no path of the node's own directories shows in the job's mountinfo" {
	wjob e-mi 'cat /proc/self/mountinfo'
	cy_status 200
	[ "$(field .status)" = completed ]
	field .stdout | grep -q ' /workspace '
	field .stdout | grep -q ' /job '
	field .stdout | grep -q ' /etc '
	run grep -c -e "$ND" -e "$CY_TMP" <<<"$(field .stdout)"
	cy_eq "$output" 0
}

@test "an imported image's job shows no node path in its mountinfo (squashfs, as root)" {
	[ -x /bin/busybox ] || skip "busybox-static is not installed (scripts/deps)"
	[ "$(id -u)" = 0 ] && command -v mksquashfs >/dev/null ||
		skip "needs root and mksquashfs: images stay directories (images.bats checks that)"
	local r=$CY_TMP/esc-rootfs a
	mkdir -p "$r/bin" "$r/etc"
	cp /bin/busybox "$r/bin/busybox"
	for a in sh cat grep; do ln -s busybox "$r/bin/$a"; done
	run "$CY_BUILD/cynode-node" --config "$ND/node.yaml" image import esc-bb "$r"
	assert_success
	assert_output --partial "(squashfs: jobs see no host path)"
	# The node said at start that it makes them.
	run jq -cS .sandbox.images_private <<<"$(cy_psql "SELECT c.capability_snapshot FROM node_capabilities c JOIN nodes n ON n.id = c.node_id WHERE n.node_slug = 'node-01'")"
	assert_output '{"enforced":true,"method":"squashfs"}'
	# Twice: the second job shares the first one's mount.
	for a in 1 2; do
		wjob e-img-mi$a 'cat /proc/self/mountinfo' '"image":"esc-bb"'
		cy_status 200
		[ "$(field .status)" = completed ]
		field .stdout | grep -q ' /bin /bin .* - squashfs /dev/loop'
		run grep -c -e "$ND" -e "$CY_TMP" -e /run/cynode <<<"$(field .stdout)"
		cy_eq "$output" 0
	done
	run grep -c " - squashfs " <(grep "/images/$CY_NODE_PID/" /proc/"$CY_NODE_PID"/mountinfo)
	cy_eq "$output" 1
	# Removed, it is unmounted at the node's next tick (a heartbeat: 5 s), no job needed.
	run "$CY_BUILD/cynode-node" --config "$ND/node.yaml" image rm esc-bb
	assert_success
	for a in $(seq 1 75); do
		grep -q "/images/$CY_NODE_PID/.* - squashfs " /proc/"$CY_NODE_PID"/mountinfo || break
		sleep 0.2
	done
	run grep -c " - squashfs " <(grep "/images/$CY_NODE_PID/" /proc/"$CY_NODE_PID"/mountinfo)
	cy_eq "$output" 0
}

@test "no secrets in the environment" {
	wjob e-env 'env; cat /proc/self/environ /proc/1/environ 2>/dev/null | tr "\0" "\n"'
	cy_status 200
	[[ "$body" != *hunter2-node-env-secret* ]]
	[[ "$body" != *CYNODE_ESCAPE_SECRET* ]]
	[[ "$body" != *"$TOKEN"* ]]
	[[ "$body" != *"$CY_PSK"* ]]
	[[ "$body" != *"$CY_JWT_SECRET"* ]]
	[[ "$body" != *DATABASE_URL* ]]
}

@test "CYNODE_* task context cannot be overridden" {
	wjob e-ctx 'echo "$CYNODE_TASK_ID $CYNODE_JOB_ID $CYNODE_WORKSPACE_DIR $CYNODE_PROMPT"' \
		'"env":{"CYNODE_TASK_ID":"forged","CYNODE_JOB_ID":"forged","CYNODE_WORKSPACE_DIR":"/etc","CYNODE_PROMPT":"p"}'
	cy_status 200
	[ "$(field .stdout)" = "task-esc e-ctx /workspace p" ]
}

@test "setuid binaries gain nothing; no capabilities; no_new_privs" {
	wjob e-suid 'grep -E "^(NoNewPrivs|CapEff|CapPrm|CapBnd|Seccomp):" /proc/self/status
		id -u; su -c id root </dev/null 2>&1 | head -1
		mount -t tmpfs none /workspace 2>&1 | head -1
		grep -c " / .*nosuid" /proc/self/mountinfo
		id -u' '"image":"host"'
	cy_status 200
	local out; out=$(field .stdout)
	[[ "$out" == *"NoNewPrivs:	1"* ]]
	[[ "$out" == *"CapEff:	0000000000000000"* ]]
	[[ "$out" == *"CapPrm:	0000000000000000"* ]]
	[[ "$out" == *"CapBnd:	0000000000000000"* ]]
	[[ "$out" == *"Seccomp:	2"* ]]
	[[ "$out" != *"uid=0"* ]]
	[ "$(printf '%s\n' "$out" | tail -1)" = 65534 ]
}

@test "denied system calls: ptrace, mount, unshare, keyctl, bpf, perf_event_open" {
	command -v python3 >/dev/null || skip "python3 not installed"
	wjob e-sys 'python3 - <<-EOF
		import ctypes, errno
		libc = ctypes.CDLL(None, use_errno=True)
		for name, nr, args in [("ptrace", 101, (16, 1, 0, 0)), ("mount", 165, (0, 0, 0, 0)),
		                       ("unshare", 272, (0x10000000, 0, 0, 0)), ("keyctl", 250, (0, 0, 0, 0)),
		                       ("bpf", 321, (0, 0, 0, 0)), ("perf_event_open", 298, (0, 0, -1, -1)),
		                       ("kexec_load", 246, (0, 0, 0, 0)), ("setns", 308, (0, 0, 0, 0))]:
		    r = libc.syscall(nr, *args)
		    print(name, r, errno.errorcode.get(ctypes.get_errno(), "?"))
		EOF'
	cy_status 200
	local out; out=$(field .stdout)
	for s in ptrace mount unshare keyctl bpf perf_event_open kexec_load setns; do
		[[ "$out" == *"$s -1 EPERM"* ]] || { echo "$s not denied: $out"; false; }
	done
}

@test "jobs cannot see each other's processes or workspaces" {
	wjob e-other-a 'echo secret-a >/workspace/a.txt; sleep 6' '"timeout_seconds":20' &
	local bg=$!
	sleep 1.5
	wjob e-other-b "ps -e -o pid=,args= 2>/dev/null || ls /proc | grep -E '^[0-9]+\$'
		cat '$ND/mounts/e-other-a/workspace/a.txt' 2>&1
		ls / ; ls /workspace"
	wait "$bg" || true
	cy_status 200
	[[ "$(field .stdout)" != *secret-a* ]]
	[[ "$(field .stdout)" != *"sleep 6"* ]]
	# The namespace holds only this job's few processes.
	[ "$(field '.stdout' | grep -cE '^ *[0-9]+( |$)')" -le 6 ]
}

@test "hostname and IPC are private" {
	wjob e-uts 'hostname; cat /proc/sys/kernel/hostname; ls /dev/shm | wc -l'
	cy_status 200
	[ "$(field .stdout | head -1)" = sandbox ]
}

@test "a cancel through the Worker API kills the job with its grandchildren: status canceled" {
	local i
	jq -cn '{version:1, task_id:"task-esc", job_id:"e-cancel", sandbox:{command:["/bin/sh","-c",
		"( (sleep 3.1701; echo late) & ); setsid sleep 45 & touch /workspace/started; sleep 45"]}}' \
		>"$CY_TMP/req-cancel.json"
	curl -s -m 60 -o "$CY_TMP/cancel.out" -H "Authorization: Bearer $TOKEN" \
		-H 'Content-Type: application/json' --data-binary "@$CY_TMP/req-cancel.json" \
		"$CY_NODE_URL/v1/worker/jobs:run" &
	for i in $(seq 1 300); do
		[ -e "$ND/mounts/e-cancel/workspace/started" ] && break
		sleep 0.1
	done
	[ -e "$ND/mounts/e-cancel/workspace/started" ]
	cy_api POST "$CY_NODE_URL/v1/worker/jobs/e-cancel/cancel" "" "$TOKEN"
	cy_status 200
	wait
	[ "$(jq -r .status "$CY_TMP/cancel.out")" = canceled ]
	[ "$(jq -r .exit_code "$CY_TMP/cancel.out")" = -1 ]
	[[ "$(jq -r .stderr "$CY_TMP/cancel.out")" == *"job canceled"* ]]
	[ -f "$ND/mounts/e-cancel/job/job.json" ]
	run pgrep -f 'sleep 3[.]1701'
	assert_failure
	run pgrep -f 'sleep 45'
	assert_failure
}

@test "the node reaps each sandbox's processes itself: their CPU is its children's, no zombie stays" {
	local before after z ticks i
	# bwrap's outside process exits before the sandbox's PID 1 does; the
	# node (its subreaper) reaps that one too, so the job's CPU is not left
	# to the host's PID 1.  With cgroups measuring the job it is not waited
	# for: the next job or the heartbeat loop (5 s here) reaps it.
	ticks=$(getconf CLK_TCK)
	before=$(awk '{ print $16 + $17 }' "/proc/$CY_NODE_PID/stat")
	wjob e-reap 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; echo $i'
	cy_status 200
	[ "$(jq -r .stdout <<<"$body")" = 300000 ]
	for i in $(seq 1 150); do
		after=$(awk '{ print $16 + $17 }' "/proc/$CY_NODE_PID/stat")
		z=$(ps --ppid "$CY_NODE_PID" -o stat= -o pid= -o comm= | awk '$1 ~ /^Z/')
		[ $(((after - before) * 1000 / ticks)) -ge 50 ] && [ -z "$z" ] && break
		sleep 0.1
	done
	echo "node children CPU: $before -> $after ticks of 1/$ticks s; zombies: ${z:-none}" >&2
	[ $(((after - before) * 1000 / ticks)) -ge 50 ]
	[ -z "$z" ]
}

@test "the node is still healthy and reports after all of this" {
	run stack_http_code "$CY_NODE_URL/healthz"
	assert_output 200
	kill -0 "$CY_NODE_PID"
	run grep -c 'job_error' "$CY_TMP/node-node-01.log"
	assert_output 0
}
