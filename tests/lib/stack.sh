# shellcheck shell=bash
#
# stack.sh: start and stop the pieces of a private cynode stack (PostgreSQL,
# cynode-server, cynode-node).  Sourced by tests/lib/harness.bash (the bats
# harness) and by scripts/demo, so both start things exactly the same way.
# Functions print errors on stderr and return non-zero; they never exit, and
# they are safe under `set -u` and `set -e`.
#
#   stack_random N                 N random [A-Za-z0-9] characters
#   stack_port_free PORT           true when nothing listens on 127.0.0.1:PORT
#   stack_free_port                print a free loopback TCP port
#   stack_http_code URL            print the HTTP status of GET URL (000 if none)
#   stack_wait_http URL CODE SECS [PID]
#                                  wait until GET URL answers CODE; fails early
#                                  when PID (if given) has died
#   stack_kill_pid PID [SECS]      SIGTERM, wait, then SIGKILL
#   stack_pg_start                 initdb + start a private PostgreSQL 15 in a
#                                  fresh short dir under $TMPDIR (unix socket
#                                  only, trust auth, user cynode, database
#                                  cynode); as root it runs as `nobody`.
#                                  Sets STACK_PG_DIR, STACK_PG_PORT and
#                                  exports DATABASE_URL.
#   stack_pg_stop DIR              stop the PostgreSQL in DIR and remove DIR
#   stack_server_start GW_PORT CP_PORT LOG PIDFILE [KEY=VAL|--flag ...]
#                                  start cynode-server; the caller exports
#                                  DATABASE_URL, JWT_SECRET,
#                                  NODE_REGISTRATION_PSK,
#                                  BOOTSTRAP_ADMIN_PASSWORD.  Waits for
#                                  /healthz.  Sets STACK_SERVER_PID.
#   stack_node_config FILE SLUG PORT DIR CONTROL_URL PSKFILE [KEY=VAL|line ...]
#                                  write a node.yaml (state and mounts in DIR).
#                                  KEY=VAL with a dotted key path
#                                  (sandbox.max_concurrency=2) adds or replaces
#                                  a key, KEY= removes a default key; any other
#                                  argument is appended as a raw YAML line.
#   stack_node_start CONFIG LOG PIDFILE
#                                  start cynode-node; sets STACK_NODE_PID
#                                  (waiting for readiness is the caller's job).
#                                  STACK_NODE_WRAP="heaptrack -o FILE" (or
#                                  strace -f, valgrind --trace-children=yes:
#                                  the node execs itself once at start) runs
#                                  it under that tool; the pid is the tool's.
#
# An HTTPS stack: STACK_SCHEME=https makes the server's URLs (public_url,
# the /healthz wait) https, and STACK_CACERT=FILE is the CA curl verifies
# them with (tests/server/tls.bats; the server gets TLS_CERT_FILE and
# TLS_KEY_FILE as KEY=VAL arguments).  Nodes written by stack_node_config
# serve plain HTTP (worker_api.tls=off) unless given worker_api.tls=auto.
#
# Binaries come from $CY_BUILD (default <repo>/build), so
# `CY_BUILD=/tmp/build-x tests/run-all` tests another build directory.

STACK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CY_BUILD=${CY_BUILD:-$STACK_ROOT/build}
STACK_PG_BIN=${STACK_PG_BIN:-/usr/lib/postgresql/15/bin}

stack_random()
{
	local n=${1:-32} s=""

	while [ "${#s}" -lt "$n" ]; do
		s=$s$(head -c 256 /dev/urandom | LC_ALL=C tr -dc 'A-Za-z0-9')
	done
	printf '%s\n' "${s:0:$n}"
}

stack_port_free()
{
	# A connect that succeeds means someone listens there.
	! (exec 9<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Ports are picked below the kernel's ephemeral range (the source ports of
# outgoing connections): a port from bind(0) is free when picked, but any
# curl started before the server binds it may take it as its source port,
# and then keeps it in TIME_WAIT for a minute (the server cannot start).
# A free port not handed out before in this test run (a port is free until
# someone binds it, so two calls in a row could otherwise return the same).
stack_free_port()
{
	local p i seen=${CY_TMP:-}/.stack-ports

	# Outside the test harness (demo, bench) there is no run to remember.
	[ -n "${CY_TMP:-}" ] || {
		stack__free_port
		return
	}
	for i in $(seq 1 50); do
		p=$(stack__free_port) || return 1
		if ! grep -qx "$p" "$seen" 2>/dev/null; then
			echo "$p" >>"$seen"
			echo "$p"
			return 0
		fi
	done
	echo "stack: no fresh free port found" >&2
	return 1
}

stack__free_port()
{
	local p i lo=32768 hi=60999 first=10000 span

	read -r lo hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
	if [ "$lo" -gt $((first + 1000)) ]; then
		span=$((lo - first))
	else
		first=$((hi + 1))
		span=$((65536 - first))
	fi
	if command -v python3 >/dev/null 2>&1; then
		# bind without SO_REUSEADDR: refused for a port in any use, TIME_WAIT too
		p=$(python3 -c 'import random, socket, sys
first, span = int(sys.argv[1]), int(sys.argv[2])
for _ in range(500):
    p = first + random.randrange(span)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break' "$first" "$span" 2>/dev/null) && [ -n "$p" ] && {
			echo "$p"
			return 0
		}
	fi
	for i in $(seq 1 200); do
		p=$((first + (RANDOM * 32768 + RANDOM) % span))
		if stack_port_free "$p"; then
			echo "$p"
			return 0
		fi
	done
	echo "stack: no free port found" >&2
	return 1
}

stack_http_code()
{
	local -a tls=()

	# An https stack's CA (cynode-tls ca): STACK_CACERT=FILE.
	[ -n "${STACK_CACERT:-}" ] && tls=(--cacert "$STACK_CACERT")
	curl -s ${tls[@]+"${tls[@]}"} -o /dev/null -m 5 -w '%{http_code}' "$1" 2>/dev/null || true
}

stack_wait_http()
{
	local url=$1 want=$2 secs=$3 pid=${4:-} code="" end

	end=$((SECONDS + secs))
	while :; do
		code=$(stack_http_code "$url")
		[ "$code" = "$want" ] && return 0
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			echo "stack: process $pid exited while waiting for $url" >&2
			return 1
		fi
		if [ "$SECONDS" -ge "$end" ]; then
			echo "stack: $url answered '$code', wanted $want, after ${secs}s" >&2
			return 1
		fi
		sleep 0.1
	done
}

stack_kill_pid()
{
	local pid=$1 secs=${2:-5} i

	[ -n "$pid" ] || return 0
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 1 $((secs * 10))); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	sleep 0.1
	return 0
}

# Run a PostgreSQL tool as the owner of the cluster (nobody when we are root:
# initdb refuses to run as root).
stack__pg_run()
{
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u nobody -- "$@"
	else
		"$@"
	fi
}

stack_pg_start()
{
	local dir port

	if [ ! -x "$STACK_PG_BIN/initdb" ]; then
		echo "stack: $STACK_PG_BIN/initdb not found (install postgresql: scripts/deps)" >&2
		return 1
	fi
	# A short path outside any 0700 parent: the socket path must stay under
	# 107 bytes, and `nobody` must be able to reach the directory.
	dir=$(mktemp -d "${TMPDIR:-/tmp}/cynode-pg.XXXXXX") || return 1
	chmod 0700 "$dir"
	[ "$(id -u)" -eq 0 ] && chown nobody "$dir"
	port=$(stack_free_port) || return 1
	if ! stack__pg_run "$STACK_PG_BIN/initdb" -D "$dir/data" -U cynode \
		--auth=trust -E UTF8 --locale=C -N >"$dir/initdb.log" 2>&1; then
		echo "stack: initdb failed:" >&2
		tail -n 20 "$dir/initdb.log" >&2
		return 1
	fi
	if ! stack__pg_run "$STACK_PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" \
		-w -t 30 -o "-k $dir -c listen_addresses= -p $port -c fsync=off \
-c synchronous_commit=off -c full_page_writes=off -c shared_buffers=16MB \
-c max_connections=100 ${STACK_PG_OPTS:-}" start >"$dir/pg_ctl.log" 2>&1 </dev/null 3>&-; then
		echo "stack: PostgreSQL did not start:" >&2
		tail -n 20 "$dir/postgres.log" >&2
		return 1
	fi
	if ! "$STACK_PG_BIN/createdb" -h "$dir" -p "$port" -U cynode cynode \
		>>"$dir/pg_ctl.log" 2>&1; then
		echo "stack: createdb failed:" >&2
		tail -n 5 "$dir/pg_ctl.log" >&2
		return 1
	fi
	# shellcheck disable=SC2034 # used by the callers
	STACK_PG_DIR=$dir
	# shellcheck disable=SC2034 # used by the callers
	STACK_PG_PORT=$port
	DATABASE_URL="postgresql:///cynode?host=$dir&port=$port&user=cynode"
	export DATABASE_URL
}

stack_pg_stop()
{
	local dir=${1:-} pid

	[ -n "$dir" ] && [ -d "$dir" ] || return 0
	if [ -f "$dir/data/postmaster.pid" ]; then
		stack__pg_run "$STACK_PG_BIN/pg_ctl" -D "$dir/data" -m immediate \
			-w -t 10 stop >/dev/null 2>&1 </dev/null || true
		if [ -f "$dir/data/postmaster.pid" ]; then
			pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null || true)
			case $pid in
			'' | *[!0-9]*) ;;
			*) stack_kill_pid "$pid" 5 ;;
			esac
		fi
	fi
	rm -rf "$dir"
}

stack_server_start()
{
	local gw=$1 cp=$2 log=$3 pidfile=$4 a
	local -a envs=() args=()

	shift 4
	for a in "$@"; do
		case $a in
		--*) args+=("$a") ;;
		*) envs+=("$a") ;;
		esac
	done
	if [ ! -x "$CY_BUILD/cynode-server" ]; then
		echo "stack: $CY_BUILD/cynode-server not built (run make)" >&2
		return 1
	fi
	env USER_GATEWAY_LISTEN_ADDR="127.0.0.1:$gw" \
		CONTROL_PLANE_LISTEN_ADDR="127.0.0.1:$cp" \
		ORCHESTRATOR_PUBLIC_URL="${STACK_SCHEME:-http}://127.0.0.1:$cp" \
		CYNODE_MIGRATIONS_DIR="$STACK_ROOT/migrations" \
		LOG_LEVEL="${LOG_LEVEL:-debug}" \
		${envs[@]+"${envs[@]}"} \
		"$CY_BUILD/cynode-server" ${args[@]+"${args[@]}"} \
		>"$log" 2>&1 </dev/null 3>&- &
	STACK_SERVER_PID=$!
	echo "$STACK_SERVER_PID" >"$pidfile"
	if ! stack_wait_http "${STACK_SCHEME:-http}://127.0.0.1:$gw/healthz" 200 60 \
		"$STACK_SERVER_PID"; then
		echo "stack: cynode-server did not come up; last lines of $log:" >&2
		tail -n 30 "$log" >&2
		return 1
	fi
}

stack_node_config()
{
	local file=$1 slug=$2 port=$3 dir=$4 url=$5 pskfile=$6 kv k v
	local -a keys=() vals=() raw=()
	local i found

	shift 6
	mkdir -p "$dir/state" "$dir/mounts"
	set -- "version=1" \
		"orchestrator.url=\"$url\"" \
		"orchestrator.registration_psk_file=\"$pskfile\"" \
		"node.id=\"$slug\"" \
		"worker_api.listen_host=\"127.0.0.1\"" \
		"worker_api.listen_port=$port" \
		"worker_api.public_base_url=\"http://127.0.0.1:$port\"" \
		"worker_api.tls=off" \
		"storage.state_dir=\"$dir/state\"" \
		"sandbox.mount_root=\"$dir/mounts\"" \
		"$@"
	for kv in "$@"; do
		if [[ $kv =~ ^[a-z_][a-z0-9_.]*= ]]; then
			k=${kv%%=*}
			v=${kv#*=}
			found=0
			for i in "${!keys[@]}"; do
				if [ "${keys[$i]}" = "$k" ]; then
					vals[i]=$v
					found=1
				fi
			done
			if [ $found = 0 ]; then
				keys+=("$k")
				vals+=("$v")
			fi
		else
			raw+=("$kv")
		fi
	done
	{
		echo "# node.yaml written by tests/lib/stack.sh"
		for i in "${!keys[@]}"; do
			[ -n "${vals[$i]}" ] && printf '%s\t%s\n' "${keys[$i]}" "${vals[$i]}"
		done | LC_ALL=C sort -s -t "$(printf '\t')" -k1,1 | stack__yaml_emit
		for kv in ${raw[@]+"${raw[@]}"}; do
			printf '%s\n' "$kv"
		done
	} >"$file"
}

# Turn sorted "a.b.c<TAB>value" lines into nested YAML mappings.
stack__yaml_emit()
{
	local k v i
	local -a prev=() cur=()

	while IFS=$'\t' read -r k v; do
		IFS=. read -r -a cur <<<"$k"
		i=0
		while [ $i -lt $((${#cur[@]} - 1)) ] && [ $i -lt ${#prev[@]} ] &&
			[ "${cur[$i]}" = "${prev[$i]}" ]; do
			i=$((i + 1))
		done
		while [ $i -lt $((${#cur[@]} - 1)) ]; do
			printf '%*s%s:\n' $((i * 2)) "" "${cur[$i]}"
			i=$((i + 1))
		done
		printf '%*s%s: %s\n' $((i * 2)) "" "${cur[$i]}" "$v"
		prev=("${cur[@]:0:${#cur[@]}-1}")
	done
}

stack_node_start()
{
	local conf=$1 log=$2 pidfile=$3

	if [ ! -x "$CY_BUILD/cynode-node" ]; then
		echo "stack: $CY_BUILD/cynode-node not built (run make)" >&2
		return 1
	fi
	${STACK_NODE_WRAP:-} "$CY_BUILD/cynode-node" --config "$conf" >"$log" 2>&1 </dev/null 3>&- &
	STACK_NODE_PID=$!
	echo "$STACK_NODE_PID" >"$pidfile"
}
