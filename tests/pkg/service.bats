#!/usr/bin/env bats
#
# What the systemd units rely on, through the real programs: sd_notify(3)'s
# READY=1 only once the listeners answer, sent by the daemon's own pid
# (NotifyAccess=main; a unix datagram socket named by NOTIFY_SOCKET stands
# in for systemd: tests/pkg/notify-listen), the watchdog's WATCHDOG=1, STOPPING=1
# on SIGTERM, and SIGHUP (ExecReload) re-reading the configuration's logging
# keys, with garbage refused and the running settings kept.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
}

# listen_notify NAME PORT: the notification socket $CY_TMP/NAME.sock,
# messages in $CY_TMP/NAME.out (port=open|closed: PORT at that moment).
listen_notify()
{
	local i
	"$CY_ROOT/tests/pkg/notify-listen" "$CY_TMP/$1.sock" "$2" "$CY_TMP/$1.out" \
		</dev/null >/dev/null 2>&1 3>&- &
	cy__track $!
	for i in $(seq 1 50); do
		grep -q listening "$CY_TMP/$1.out" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# wdpid: a wrapper that execs its arguments with WATCHDOG_PID naming the
# process itself, as systemd sets it for the service's main process.
wdpid()
{
	printf '#!/bin/sh\nWATCHDOG_PID=$$ exec "$@"\n' >"$CY_TMP/wdpid"
	chmod +x "$CY_TMP/wdpid"
	echo "$CY_TMP/wdpid"
}

# wait_line FILE ERE [N [SECS]]: until FILE has N lines matching ERE.
wait_line()
{
	local i n=${3:-1} secs=${4:-30}
	for i in $(seq 1 $((secs * 10))); do
		[ "$(grep -cE "$2" "$1" 2>/dev/null)" -ge "$n" ] && return 0
		sleep 0.1
	done
	echo "no $n lines /$2/ in $1:" >&2
	cat "$1" >&2
	return 1
}

# hup PID NOTIFYOUT N: SIGHUP, then wait for the Nth READY=1 after RELOADING=1.
hup()
{
	local before
	before=$(grep -c RELOADING=1 "$2" || true)
	kill -HUP "$1"
	wait_line "$2" 'RELOADING=1' $((before + 1)) 10
	wait_line "$2" 'READY=1' "$3" 10
}

@test "server: READY=1 after the gateway answers, SIGHUP reloads logging, STOPPING=1 on SIGTERM" {
	local gw cp pid log=$CY_TMP/srv.log conf=$CY_TMP/server.yaml
	gw=$(stack_free_port)
	cp=$(stack_free_port)
	listen_notify srv "$gw"
	printf 'version: 1\nlogging:\n  level: info\n' >"$conf"
	env -u LOG_LEVEL -u LOG_FORMAT NOTIFY_SOCKET="$CY_TMP/srv.sock" \
		USER_GATEWAY_LISTEN_ADDR="127.0.0.1:$gw" CONTROL_PLANE_LISTEN_ADDR="127.0.0.1:$cp" \
		CYNODE_MIGRATIONS_DIR="$CY_ROOT/migrations" JWT_SECRET="$(stack_random 48)" \
		NODE_REGISTRATION_PSK="$(stack_random 40)" BOOTSTRAP_ADMIN_PASSWORD="$(stack_random 24)" \
		"$CY_BUILD/cynode-server" --config "$conf" >"$log" 2>&1 </dev/null 3>&- &
	pid=$!
	cy__track "$pid"
	wait_line "$CY_TMP/srv.out" 'READY=1' 1 60
	run grep READY=1 "$CY_TMP/srv.out"
	assert_output "READY=1 STATUS=serving port=open pid=$pid"
	grep -q 'event=server_started' "$log"

	# info: a request is not logged; debug after the reload: it is.
	curl -fsS "http://127.0.0.1:$gw/healthz" >/dev/null
	run ! grep -q 'event=http_request' "$log"
	printf 'version: 1\nlogging:\n  level: debug\n' >"$conf"
	hup "$pid" "$CY_TMP/srv.out" 2
	grep -q 'event=config_reloaded log_level=debug log_format=text' "$log"
	run ! grep -q 'config_needs_restart' "$log"
	curl -fsS "http://127.0.0.1:$gw/healthz" >/dev/null
	wait_line "$log" 'event=http_request' 1 5

	# format json from the next line on; what needs a restart is named.
	printf 'version: 1\nlogging:\n  level: debug\n  format: json\nhttp:\n  threads: 3\nretention:\n  interval: 2h\n' >"$conf"
	hup "$pid" "$CY_TMP/srv.out" 3
	grep -q '"event":"config_reloaded","log_level":"debug","log_format":"json"' "$log"
	grep -q '"event":"config_needs_restart","keys":"http.threads,retention.interval"' "$log"

	# Garbage: refused with the reason, the running settings stay.
	for bad in '  level: loud' '  level: {a: 1}' '  format: xml' '  nonsense: 1'; do
		printf 'version: 1\nlogging:\n%s\n' "$bad" >"$conf"
		n=$(grep -c reload_failed "$log" || true)
		hup "$pid" "$CY_TMP/srv.out" $(($(grep -c READY=1 "$CY_TMP/srv.out") + 1))
		wait_line "$log" 'reload_failed' $((n + 1)) 5
	done
	grep '"event":"reload_failed"' "$log" | grep -q 'logging.level'
	grep '"event":"reload_failed"' "$log" | grep -q 'nonsense'
	rm -f "$conf"
	hup "$pid" "$CY_TMP/srv.out" $(($(grep -c READY=1 "$CY_TMP/srv.out") + 1))
	wait_line "$log" 'reload_failed.*server.yaml' 1 5
	# Still json, still debug, still serving.
	curl -fsS "http://127.0.0.1:$gw/healthz" >/dev/null
	wait_line "$log" '"event":"http_request"' 1 5
	kill -0 "$pid"

	# WATCHDOG=1 at half of WatchdogSec= (here 0.4 s) while it runs.
	run ! grep -q WATCHDOG=1 "$CY_TMP/srv.out"

	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
	cy_eq "$rc" 0 "exit status after SIGTERM"
	run grep -c 'STOPPING=1' "$CY_TMP/srv.out"
	assert_output 1
}

# server_wd NAME [WATCHDOG_PID]: a server with WATCHDOG_USEC=400000 notifying
# $CY_TMP/NAME.sock; WATCHDOG_PID unset, "self" (wdpid) or that number.
# Sets pid.
server_wd()
{
	local gw cp wrap= other=
	gw=$(stack_free_port)
	cp=$(stack_free_port)
	listen_notify "$1" "$gw"
	case ${2:-} in
	'') ;;
	self) wrap=$(wdpid) ;;
	*) other=WATCHDOG_PID=$2 ;;
	esac
	env -u LOG_LEVEL -u WATCHDOG_PID $other \
		NOTIFY_SOCKET="$CY_TMP/$1.sock" WATCHDOG_USEC=400000 \
		USER_GATEWAY_LISTEN_ADDR="127.0.0.1:$gw" CONTROL_PLANE_LISTEN_ADDR="127.0.0.1:$cp" \
		CYNODE_MIGRATIONS_DIR="$CY_ROOT/migrations" JWT_SECRET="$(stack_random 48)" \
		NODE_REGISTRATION_PSK="$(stack_random 40)" BOOTSTRAP_ADMIN_PASSWORD="$(stack_random 24)" \
		$wrap "$CY_BUILD/cynode-server" --config /dev/null >"$CY_TMP/$1-server.log" 2>&1 </dev/null 3>&- &
	pid=$!
	cy__track "$pid"
	wait_line "$CY_TMP/$1.out" 'READY=1' 1 60
}

@test "server and node: WATCHDOG=1 at half of WATCHDOG_USEC, not without it" {
	local pid conf port n
	server_wd wd
	wait_line "$CY_TMP/wd.out" 'WATCHDOG=1' 4 5
	kill -TERM "$pid"
	wait "$pid" || true

	# As systemd runs it: WATCHDOG_PID names the server, whose pid sends.
	server_wd wdself self
	wait_line "$CY_TMP/wdself.out" 'WATCHDOG=1' 4 5
	run grep -c "^WATCHDOG=1 port=open pid=$pid\$" "$CY_TMP/wdself.out"
	[ "$output" -ge 4 ]
	# Reloads more often than the keep-alive's period do not starve it.
	n=$(grep -c WATCHDOG=1 "$CY_TMP/wdself.out")
	for _ in $(seq 1 25); do
		kill -HUP "$pid"
		sleep 0.08
	done
	wait_line "$CY_TMP/wdself.out" 'RELOADING=1' 10 5
	run grep -c WATCHDOG=1 "$CY_TMP/wdself.out"
	[ "$output" -ge $((n + 4)) ] || { cat "$CY_TMP/wdself.out"; false; }
	kill -TERM "$pid"
	wait "$pid" || true

	# WATCHDOG_PID naming another process (an inherited environment): none.
	server_wd wdother 1
	sleep 1
	run ! grep -q WATCHDOG=1 "$CY_TMP/wdother.out"
	kill -TERM "$pid"
	wait "$pid" || true

	# The node feeds it from its manager loop, heartbeat sleeps included.
	cy_server_start
	conf=$(cy_node_config node-wd "orchestrator.heartbeat_interval_seconds=5")
	port=$(cat "$CY_TMP/node-node-wd/port")
	listen_notify nwd "$port"
	# It re-execs itself at start (malloc-tune.c): same pid, so WATCHDOG_PID still names it.
	NOTIFY_SOCKET=$CY_TMP/nwd.sock WATCHDOG_USEC=400000 STACK_NODE_WRAP=$(wdpid) \
		stack_node_start "$conf" "$CY_TMP/node-wd.log" "$CY_TMP/node-wd.pid"
	cy__track "$STACK_NODE_PID"
	wait_line "$CY_TMP/nwd.out" 'READY=1' 1 60
	grep -q "^READY=1 STATUS=registered port=open pid=$STACK_NODE_PID\$" "$CY_TMP/nwd.out"
	n=$(grep -c WATCHDOG=1 "$CY_TMP/nwd.out" || true)
	wait_line "$CY_TMP/nwd.out" 'WATCHDOG=1' $((n + 4)) 5
	run grep -c "^WATCHDOG=1 port=open pid=$STACK_NODE_PID\$" "$CY_TMP/nwd.out"
	[ "$output" -ge 4 ]
	kill -TERM "$STACK_NODE_PID"
	cy_server_stop
}

@test "node: READY=1 once registered with its Worker API up, SIGHUP reloads logging and reopens its file" {
	local conf port pid log
	cy_server_start
	conf=$(cy_node_config node-01 "logging.level=info" "logging.file_path=\"$CY_TMP/node-a.log\"" \
		"sandbox.max_concurrency=2")
	port=$(cat "$CY_TMP/node-node-01/port")
	listen_notify node "$port"
	NOTIFY_SOCKET=$CY_TMP/node.sock stack_node_start "$conf" "$CY_TMP/node-stderr.log" "$CY_TMP/node.pid"
	pid=$STACK_NODE_PID
	cy__track "$pid"
	wait_line "$CY_TMP/node.out" 'READY=1' 1 60
	run grep READY=1 "$CY_TMP/node.out"
	assert_output "READY=1 STATUS=registered port=open pid=$pid"
	grep -q 'event=worker_api_started' "$CY_TMP/node-a.log"
	run ! grep -q 'event=http_request' "$CY_TMP/node-a.log"

	# Rotation: the old file moved away, the reload opens a new one.
	mv "$CY_TMP/node-a.log" "$CY_TMP/node-a.log.1"
	sed -i 's/level: info/level: debug/' "$conf"
	sed -i 's/max_concurrency: [0-9]*/max_concurrency: 3/' "$conf"
	grep -q 'max_concurrency: 3' "$conf"
	hup "$pid" "$CY_TMP/node.out" 2
	wait_line "$CY_TMP/node-a.log" 'event=config_reloaded log_level=debug' 1 5
	wait_line "$CY_TMP/node-a.log" 'event=config_needs_restart keys=sandbox.max_concurrency ' 1 5
	curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null
	wait_line "$CY_TMP/node-a.log" 'event=http_request' 1 5
	run ! grep -q 'event=http_request' "$CY_TMP/node-a.log.1"

	# Garbage: refused, nothing changes.
	cp "$conf" "$CY_TMP/node.good"
	sed -i 's/level: debug/level: chatty/' "$conf"
	hup "$pid" "$CY_TMP/node.out" 3
	wait_line "$CY_TMP/node-a.log" 'event=reload_failed.*logging.level' 1 5
	sed "s|file_path: .*|file_path: \"$CY_TMP/no/such/dir/x.log\"|" "$CY_TMP/node.good" >"$conf"
	hup "$pid" "$CY_TMP/node.out" 4
	wait_line "$CY_TMP/node-a.log" 'event=reload_failed.*cannot open log file' 1 5
	run curl -fsS "http://127.0.0.1:$port/readyz"
	assert_success

	kill -TERM "$pid"
	wait_line "$CY_TMP/node.out" 'STOPPING=1' 1 10
}

# hardened CMD...: CMD as cynode-node.service would run it, as far as a test
# without systemd as PID 1 can: a private mount namespace with / read-only
# (ProtectSystem=strict) but $CY_TMP/hard writable (ReadWritePaths=), empty
# read-only /root and /home (ProtectHome=yes), no_new_privs
# (NoNewPrivileges=yes), CAP_SYS_MODULE and CAP_SYS_TIME dropped
# (ProtectKernelModules=, ProtectClock=).
hardened()
{
	local H=$CY_TMP/hard
	unshare --mount --propagation private -- sh -c '
		mount --bind "$0" "$0" && mount -o remount,bind,ro / &&
		mount -t tmpfs -o ro,mode=0 tmpfs /root && mount -t tmpfs -o ro,mode=0 tmpfs /home &&
		exec setpriv --no-new-privs --bounding-set -sys_module,-sys_time "$@"' "$H" "$@"
}

@test "node: a sandboxed job runs under the unit's file-system and privilege hardening" {
	[ "$(id -u)" = 0 ] || skip "needs root (unshare --mount)"
	local H=$CY_TMP/hard
	mkdir -p "$H/state"
	printf 'x\n' >"$H/psk"
	chmod 0600 "$H/psk"
	printf 'version: 1\norchestrator:\n  url: "http://127.0.0.1:1"\n  registration_psk_file: "%s"\nnode:\n  id: node-01\nstorage:\n  state_dir: "%s"\nsandbox:\n  staging_dir: "%s"\n' \
		"$H/psk" "$H/state" "$H/staging" >"$H/node.yaml"
	jq -cn '{version:1, task_id:"t", job_id:"j-hard", sandbox:{command:["/bin/sh","-c",
		"echo hi; id -u; grep NoNewPrivs /proc/self/status; touch /usr/x || echo ro"]}}' >"$H/req.json"
	run hardened "$CY_BUILD/cynode-node" --config "$H/node.yaml" --run-job "$H/req.json"
	assert_success
	cy_eq "$(printf '%s' "$output" | jq -r .status)" completed
	cy_eq "$(printf '%s' "$output" | jq -r .stdout)" "$(printf 'hi\n65534\nNoNewPrivs:\t1\nro')"
	# The emulation bites: a state dir outside the writable paths fails.
	mkdir -p "$CY_TMP/outside"
	sed "s|$H/state|$CY_TMP/outside/state|" "$H/node.yaml" >"$H/node-out.yaml"
	run hardened "$CY_BUILD/cynode-node" --config "$H/node-out.yaml" --run-job "$H/req.json"
	refute_output --partial '"status":"completed"'
	assert_output --partial "Read-only file system"
}
