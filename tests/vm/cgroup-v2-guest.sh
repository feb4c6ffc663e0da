#!/bin/sh
# The guest half of tests/vm/cgroup-v2.sh: runs as init (PID 1) in a Debian
# bookworm VM on a pure cgroup v2 hierarchy, drives cynode-node --run-job
# (the executor and bubblewrap sandbox, no server) through the cgroup v2
# code of node/sandbox-cgroup.c and prints "VM: ok N - ..." / "VM: not ok
# N - ..." lines and a "VM: summary" line, then powers the VM off.
#
# Two placements of the node are checked: in a delegated service cgroup
# (what systemd's Delegate=yes gives a cynode-node.service: a fresh
# cgroup per start with memory, pids and cpu available) and in the root
# cgroup (a node started without systemd).
#
# Run by cynode-vm.service under systemd (the second boot, not PID 1) it
# checks the same through real systemd services (systemd-run), with and
# without Delegate=yes.
PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
if [ $$ = 1 ]; then
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys 2>/dev/null
	mount -t cgroup2 cgroup2 /sys/fs/cgroup
	mount -t tmpfs tmpfs /tmp
	mount -t tmpfs tmpfs /run
	mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
	mkdir -p /dev/pts /dev/shm
	mount -t devpts devpts /dev/pts
	mount -t tmpfs tmpfs /dev/shm
fi

CG=/sys/fs/cgroup
SVC=$CG/cynode.service
D=/tmp/cy
n=0
fails=0

ok() { n=$((n + 1)); echo "VM: ok $n - $*"; }
nok() { n=$((n + 1)); fails=$((fails + 1)); echo "VM: not ok $n - $*"; }
# check DESCRIPTION COMMAND...: one test line from the command's status
check() { d=$1; shift; if "$@"; then ok "$d"; else nok "$d"; fi; }
info() { echo "VM: # $*"; }

info "kernel $(uname -r)"
info "cgroup mounts: $(awk '$9 ~ /^cgroup/ {printf "%s on %s; ", $9, $5}' /proc/self/mountinfo)"
info "root controllers: $(cat $CG/cgroup.controllers)"
[ $$ = 1 ] && echo "+memory +pids +cpu" >$CG/cgroup.subtree_control

mkdir -p $D/state
printf 'x\n' >$D/psk
chmod 0600 $D/psk
cat >$D/node.yaml <<YAML
version: 1
orchestrator:
  url: "http://127.0.0.1:1"
  registration_psk_file: "$D/psk"
node:
  id: vm-node
storage:
  state_dir: "$D/state"
sandbox:
  timeouts:
    max_seconds: 60
YAML

# PLACE is "svc" (a fresh delegated cgroup per node start) or "root".
PLACE=svc

# node ARGS...: cynode-node with the test config, placed as PLACE says
node()
{
	if [ "$PLACE" = svc ]; then
		mkdir "$SVC" || return 1
		sh -c "echo \$\$ >$SVC/cgroup.procs && exec cynode-node --config $D/node.yaml \"\$@\"" \
			sh "$@"
	else
		cynode-node --config $D/node.yaml "$@"
	fi
}

# node_bg ARGS...: the same in the background, its pid in $pid
node_bg()
{
	if [ "$PLACE" = svc ]; then
		mkdir "$SVC" || return 1
		sh -c "echo \$\$ >$SVC/cgroup.procs && exec cynode-node --config $D/node.yaml \"\$@\"" \
			sh "$@" &
	else
		cynode-node --config $D/node.yaml "$@" &
	fi
	pid=$!
}

# The node's cgroup base for PLACE, and the job cgroups left in it.
base() { if [ "$PLACE" = root ]; then echo "$CG"; else echo "$SVC"; fi; }
job_groups()
{
	find "$(base)" -mindepth 1 -maxdepth 1 -type d ! -name node ! -name cynode.service
}

# After a node run: no job cgroup is left; the service cgroup is removed
# (as systemd does when the service stops) so the next start gets a new one.
no_leftovers()
{
	left=$(job_groups)
	if [ "$PLACE" = svc ]; then
		rmdir "$SVC/node" 2>/dev/null
		rmdir "$SVC" 2>/dev/null || left="$left $SVC"
	fi
	[ -z "$left" ] || { info "left over: $left"; return 1; }
}

# No process of a job is left: sandboxes run as uid 65534, nothing else does.
no_job_procs()
{
	left=$(pgrep -a -u 65534)
	[ -z "$left" ] || { info "left over: $left"; return 1; }
}

# req ID SCRIPT [EXTRA JSON members of sandbox]: writes $D/ID.json
req()
{
	jq -cn --arg id "$1" --arg s "$2" --argjson x "{${3:-}}" \
		'{version:1, task_id:"vm", job_id:$id, sandbox:({command:["/bin/sh","-c",$s]} + $x)}' \
		>"$D/$1.json"
}

# job ID SCRIPT [EXTRA]: runs it, the response in $out
job() { req "$@"; out=$(node --run-job "$D/$1.json"); }
field() { printf '%s' "$out" | jq -r "$1"; }
has() { case "$1" in *"$2"*) return 0 ;; esac; return 1; }

suite()
{
	info "--- node placed in: $PLACE ($(base))"
	if node --check-config >/dev/null; then ok "[$PLACE] --check-config"; else nok "[$PLACE] --check-config"; fi
	no_leftovers

	job hello 'echo hello'
	check "[$PLACE] echo hello completes" [ "$(field .status)/$(field .stdout)" = completed/hello ]
	check "[$PLACE] no job cgroup left after a completed job" no_leftovers

	# The limits as written in the job's cgroup, read while it runs.
	rm -f "$D/state/sandbox_mounts/lim/workspace/started"
	req lim 'touch /workspace/started; sleep 20' '"resources":{"memory_mb":64,"pids":32,"cpu_cores":0.5}'
	node_bg --run-job "$D/lim.json" >"$D/lim.out"
	i=0
	while [ ! -e "$D/state/sandbox_mounts/lim/workspace/started" ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	g=$(job_groups | head -1)
	info "node's cgroup: $(cat /proc/$pid/cgroup); job cgroup: $g"
	check "[$PLACE] the node moved itself into the node leaf" \
		[ "$(cat /proc/$pid/cgroup)" = "0::$(echo "$(base)/node" | sed "s|^$CG||")" ]
	check "[$PLACE] memory.max 64 MB" [ "$(cat "$g/memory.max" 2>&1)" = 67108864 ]
	check "[$PLACE] pids.max 32" [ "$(cat "$g/pids.max" 2>&1)" = 32 ]
	check "[$PLACE] cpu.max 0.5 cores" [ "$(cat "$g/cpu.max" 2>&1)" = "50000 100000" ]
	check "[$PLACE] the job's processes are in its cgroup" [ -n "$(cat "$g/cgroup.procs" 2>/dev/null)" ]
	info "memory.swap.max: $(cat "$g/memory.swap.max" 2>&1)"
	kill -TERM $pid
	wait $pid
	out=$(cat "$D/lim.out")
	check "[$PLACE] SIGTERM cancels: status canceled" [ "$(field .status)" = canceled ]
	check "[$PLACE] no job cgroup left after a cancel" no_leftovers
	check "[$PLACE] no process of the canceled job left" no_job_procs

	job mem 'x=a; while :; do x="$x$x"; done' '"resources":{"memory_mb":64}'
	info "memory hog: $(field .status) $(field .exit_code) $(field .stderr | tr '\n' ' ')"
	check "[$PLACE] a memory hog under 64 MB is killed: failed, 137" \
		[ "$(field .status)/$(field .exit_code)" = failed/137 ]
	check "[$PLACE] ... and reported as out of memory" has "$(field .stderr)" "memory limit 64 MB"
	check "[$PLACE] no job cgroup left after an OOM kill" no_leftovers

	job fork 'bomb() { bomb | bomb & }; bomb; sleep 3; echo bombed' \
		'"timeout_seconds":15,"resources":{"pids":32}'
	info "fork bomb: $(field .status) $(field .exit_code) $(field .stderr | tail -2 | tr '\n' ' ')"
	check "[$PLACE] a fork bomb under pids 32 reports the process limit" \
		has "$(field .stderr)" "process limit (32 processes)"
	check "[$PLACE] no job cgroup left after the fork bomb" no_leftovers
	check "[$PLACE] no process of the fork bomb left" no_job_procs

	job slow 'sleep 30' '"timeout_seconds":2'
	check "[$PLACE] sleep 30 with timeout 2 s: status timeout" [ "$(field .status)" = timeout ]
	check "[$PLACE] no job cgroup left after a timeout" no_leftovers
	check "[$PLACE] no sleep 30 left" no_job_procs

	if node --bench-sandbox 20 >"$D/bench.out" 2>&1; then
		ok "[$PLACE] --bench-sandbox 20"
	else
		nok "[$PLACE] --bench-sandbox 20"
	fi
	info "bench: $(tr '\n' ' ' <"$D/bench.out")"
	check "[$PLACE] no job cgroup left after the bench" no_leftovers
}

# sd UNIT [PROPERTY...] -- ARGS: cynode-node ARGS as the transient service UNIT
sd()
{
	u=$1
	shift
	set -- --quiet --wait --pipe --unit="$u" "$@"
	systemd-run "$@" </dev/null
}

systemd_suite()
{
	info "systemd: $(systemctl --version | head -1)"
	PLACE=systemd
	SVC=$CG/system.slice/cynode-lim.service
	req hello 'echo hello'
	out=$(sd cynode-hello -p Delegate=yes cynode-node --config $D/node.yaml --run-job $D/hello.json)
	check "[systemd] echo hello completes (Delegate=yes)" [ "$(field .status)/$(field .stdout)" = completed/hello ]

	rm -f "$D/state/sandbox_mounts/lim/workspace/started"
	req lim 'touch /workspace/started; sleep 20' '"resources":{"memory_mb":64,"pids":32,"cpu_cores":0.5}'
	sd cynode-lim -p Delegate=yes cynode-node --config $D/node.yaml --run-job $D/lim.json >"$D/lim.out" &
	i=0
	while [ ! -e "$D/state/sandbox_mounts/lim/workspace/started" ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	g=$(job_groups | head -1)
	info "service cgroup: $(find "$SVC" -mindepth 1 -type d | tr '\n' ' ')"
	check "[systemd] the node moved itself into the node leaf" \
		grep -q "$(systemctl show -P MainPID cynode-lim)" "$SVC/node/cgroup.procs"
	check "[systemd] memory.max 64 MB" [ "$(cat "$g/memory.max" 2>&1)" = 67108864 ]
	check "[systemd] pids.max 32" [ "$(cat "$g/pids.max" 2>&1)" = 32 ]
	check "[systemd] cpu.max 0.5 cores" [ "$(cat "$g/cpu.max" 2>&1)" = "50000 100000" ]
	systemctl stop cynode-lim
	wait
	out=$(cat "$D/lim.out")
	check "[systemd] systemctl stop cancels the job: status canceled" [ "$(field .status)" = canceled ]
	check "[systemd] the service's cgroup is gone" [ ! -e "$SVC" ]
	check "[systemd] no process of the job left" no_job_procs

	# systemd's default OOMPolicy=stop stops a service when the kernel
	# OOM-kills one of its processes, a job's included (seen without
	# Delegate=yes: the job ends canceled); the node's unit wants
	# OOMPolicy=continue (README).  Informational: systemd acts on it
	# asynchronously, so the outcome here is a race.
	out=$(sd cynode-oomstop -p Delegate=yes cynode-node --config $D/node.yaml --run-job $D/mem.json)
	info "memory hog, Delegate=yes, default OOMPolicy: $(field .status) $(field .exit_code) $(field .stderr | tr '\n' ' ')"
	out=$(sd cynode-mem -p Delegate=yes -p OOMPolicy=continue cynode-node --config $D/node.yaml \
		--run-job $D/mem.json)
	check "[systemd] a memory hog ends failed, 137 (Delegate=yes, OOMPolicy=continue)" \
		[ "$(field .status)/$(field .exit_code)" = failed/137 ]
	check "[systemd] ... and is reported as out of memory" has "$(field .stderr)" "memory limit 64 MB"
	out=$(sd cynode-fork -p Delegate=yes cynode-node --config $D/node.yaml --run-job $D/fork.json)
	check "[systemd] a fork bomb reports the process limit (Delegate=yes)" \
		has "$(field .stderr)" "process limit (32 processes)"
	check "[systemd] no process of the fork bomb left" no_job_procs

	# Without Delegate=yes the node is still alone in its service's cgroup.
	out=$(sd cynode-nodeleg -p OOMPolicy=continue cynode-node --config $D/node.yaml --run-job $D/mem.json)
	info "without Delegate=yes: $(field .status) $(field .exit_code) $(field .stderr | tr '\n' ' ')"
	check "[systemd] without Delegate=yes a memory hog ends failed" [ "$(field .status)" = failed ]
	check "[systemd] no job cgroup left anywhere" \
		[ -z "$(find $CG -type d -name 'cynode-[0-9]*')" ]
}

if [ $$ != 1 ]; then
	# The requests of the init-mode suite, for systemd_suite.
	req mem 'x=a; while :; do x="$x$x"; done' '"resources":{"memory_mb":64}'
	req fork 'bomb() { bomb | bomb & }; bomb; sleep 3; echo bombed' \
		'"timeout_seconds":15,"resources":{"pids":32}'
	systemd_suite
	echo "VM: summary $n tests, $fails failed"
	systemctl poweroff
	exit 0
fi
suite
PLACE=root
suite

# Without Delegate=yes another process may share the node's cgroup: the
# controllers cannot be enabled below it (EBUSY), so the node logs
# cgroup_controller_unavailable (a warning: not shown by --run-job) and
# runs its jobs with rlimits only.
info "--- node sharing its cgroup with another process"
mkdir "$SVC"
sleep 1000 &
sp=$!
echo $sp >"$SVC/cgroup.procs"
out=$(sh -c "echo \$\$ >$SVC/cgroup.procs && exec cynode-node --config $D/node.yaml --run-job $D/mem.json" \
	2>"$D/shared.err")
info "memory hog: $(field .status) $(field .exit_code) $(field .stderr | tr '\n' ' ' | cut -c1-200)"
check "[shared] a memory hog still ends failed (RLIMIT_AS)" [ "$(field .status)" = failed ]
check "[shared] ... without a job cgroup" [ "$(find "$SVC" -mindepth 1 -type d)" = "$SVC/node" ]
kill $sp
wait $sp
rmdir "$SVC/node" "$SVC"
info "root cgroup children at the end: $(find $CG -mindepth 1 -maxdepth 1 -type d | tr '\n' ' ')"
echo "VM: summary $n tests, $fails failed"
sync
echo o >/proc/sysrq-trigger
sleep 10
