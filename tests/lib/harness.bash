# shellcheck shell=bash
#
# harness.bash: the shared bats harness.  A bats file starts with
#
#	load ../lib/harness
#	setup_file()    { cy_setup_file; cy_pg_start; cy_server_start; }
#	teardown_file() { cy_teardown_file; }
#
# and then drives the real programs: a private PostgreSQL, the real
# cynode-server and cynode-node on free loopback ports, and cynork with a
# private config.  Nothing is mocked.  bats-support and bats-assert are
# loaded (assert_success, assert_output --partial, ...).
#
# Functions (all `set -u` safe; start/stop functions record PIDs in
# $CY_TMP/pids so cy_teardown_file kills whatever a failed test left behind):
#
#   cy_setup_file          make the per-file temp dir $CY_TMP (under
#                          $BATS_FILE_TMPDIR) and the cynork config dir.
#   cy_refuse TABLE WHEN [deferred] / cy_refuse_end TABLE
#                          a trigger that makes writes to TABLE fail (error paths).
#   cy_teardown_file       stop nodes, server, PostgreSQL; kill leftovers; fail
#                          when a log holds a sanitizer report (SANITIZE=1).
#                          Always call it from teardown_file.
#   cy_pg_start            private PostgreSQL 15; exports DATABASE_URL
#                          (database cynode, user cynode, trust auth, unix
#                          socket only) and CY_PG_DIR.
#   cy_pg_stop             stop it and delete its directory.
#   cy_psql SQL            run SQL against DATABASE_URL (psql -Atq), print rows.
#   cy_free_port           print a free TCP port on 127.0.0.1.
#   cy_server_start [KEY=VAL|--flag ...]
#                          start build/cynode-server with fresh random
#                          secrets and free ports (extra env vars or server
#                          flags as arguments); waits for /healthz.  Exports
#                          CY_GATEWAY_URL, CY_CONTROL_URL, CY_SERVER_PID,
#                          CYNORK_GATEWAY_URL, CY_ADMIN_PASSWORD, CY_PSK,
#                          CY_JWT_SECRET, CY_PSK_FILE (0600 file with CY_PSK).
#                          Log: $CY_TMP/server.log.  Login rate limit is
#                          1000/min unless CY_RATE_LIMIT or an explicit
#                          RATE_LIMIT_PER_MINUTE=N argument says otherwise.
#                          Readiness needs no inference backend unless
#                          CY_REQUIRE_INFERENCE=true (or an explicit
#                          READINESS_REQUIRE_INFERENCE=true argument).
#   cy_server_stop         stop the server (SIGTERM, then SIGKILL).
#   cy_node_config SLUG [KEY=VAL|yaml line ...]
#                          write $CY_TMP/node-SLUG/node.yaml (see
#                          stack_node_config in stack.sh for the argument
#                          forms) and print its path; picks a free port,
#                          stored in $CY_TMP/node-SLUG/port.  Its
#                          inference.url and inference.ollama_path point
#                          nowhere unless given, so a machine's own Ollama
#                          never takes part in a test.
#   cy_node_start [SLUG] [KEY=VAL|yaml line ...]
#                          write the config (default slug node-01), start
#                          build/cynode-node, wait until the node answers
#                          /readyz 200 and the server's /readyz is 200.
#                          Exports CY_NODE_URL, CY_NODE_PID, CY_NODE_SLUG.
#                          Log: $CY_TMP/node-SLUG.log.
#   cy_node_stop [SLUG]    stop that node (default: the last one started).
#   cy_ollama_start NAME [VAR=VAL ...]
#                          the Ollama-API test server (tests/ollama/
#                          fake-ollama) on a free loopback port with those
#                          settings (FAKE_OLLAMA_MODELS=..., see its
#                          README); waits until it answers.  Exports
#                          CY_OLLAMA_URL; log $CY_TMP/NAME.log, one JSON
#                          line per request in $CY_TMP/NAME.req.
#   cynork ARGS...         run build/cynork with XDG_CONFIG_HOME=$CY_TMP/xdg
#                          and CYNORK_GATEWAY_URL=$CY_GATEWAY_URL (use with
#                          `run cynork ...`).
#   cy_tty_cynork INPUT ARGS...
#                          cynork as `cynork ARGS...` but on a pseudo-terminal
#                          (script(1)): INPUT is typed as one line; stdout and
#                          stderr both come out of the terminal (CRLF line
#                          ends); the exit code is cynork's.
#   cy_login               `cynork auth login -u admin --password-stdin`.
#   cy_admin_token         log in as admin over HTTP and print the access token.
#   cy_api METHOD PATH [BODY] [TOKEN]
#                          curl the gateway (PATH like /v1/tasks, or a full
#                          URL for the control plane / node).  BODY is sent
#                          as application/json; BODY "@file" sends a file;
#                          "" sends nothing.  Sets $status_code and $body
#                          (and $output, for assert_output).  Never fails
#                          on HTTP errors.
#   cy_worker_job TASK_ID JOB_ID SCRIPT [EXTRA]
#                          run /bin/sh -c SCRIPT as a job through the node's
#                          Worker API with the bearer token in $TOKEN (EXTRA:
#                          more sandbox JSON members); as cy_api.
#   cy_show_logs           print the tails of server/node logs (call it from
#                          a failing test, or set CY_SHOW_LOGS=1).
#   cy_status CODE         assert that the last cy_api answered HTTP CODE; on
#                          failure print the method, path, status and body.
#   cy_eq ACTUAL EXPECTED [WHAT]
#                          assert equality; on failure print both values.
#
# A file gets these defaults unless it defines its own: teardown_file runs
# cy_teardown_file, and teardown prints the server and node logs after a
# failed test.
#
# Environment: CY_BUILD (binaries, default <repo>/build), CY_ROOT (the repo).

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

# shellcheck source=tests/lib/stack.sh
source "$(dirname "${BASH_SOURCE[0]}")/stack.sh"

CY_ROOT=$STACK_ROOT
export CY_ROOT CY_BUILD

cy_setup_file()
{
	CY_TMP=$(mktemp -d "${BATS_FILE_TMPDIR:-${TMPDIR:-/tmp}}/cy.XXXXXX")
	export CY_TMP
	mkdir -p "$CY_TMP/xdg"
	chmod 0700 "$CY_TMP/xdg"
	: >"$CY_TMP/pids"
	: >"$CY_TMP/pgdirs"
}

cy__need_tmp()
{
	if [ -z "${CY_TMP:-}" ] || [ ! -d "$CY_TMP" ]; then
		echo "harness: call cy_setup_file first (from setup_file)" >&2
		return 1
	fi
}

cy__track()
{
	echo "$1" >>"$CY_TMP/pids"
}

cy_free_port()
{
	stack_free_port
}

cy_pg_start()
{
	cy__need_tmp || return 1
	stack_pg_start || return 1
	CY_PG_DIR=$STACK_PG_DIR
	export CY_PG_DIR DATABASE_URL
	echo "$CY_PG_DIR" >>"$CY_TMP/pgdirs"
}

cy_pg_stop()
{
	[ -n "${CY_PG_DIR:-}" ] || return 0
	stack_pg_stop "$CY_PG_DIR"
}

cy_psql()
{
	psql "$DATABASE_URL" -X -Atq -v ON_ERROR_STOP=1 -c "$1"
}

cy_server_start()
{
	local gw cp

	cy__need_tmp || return 1
	if [ -z "${DATABASE_URL:-}" ]; then
		echo "harness: cy_server_start needs cy_pg_start first" >&2
		return 1
	fi
	gw=$(stack_free_port) || return 1
	cp=$(stack_free_port) || return 1
	while [ "$cp" = "$gw" ]; do
		cp=$(stack_free_port) || return 1
	done
	CY_JWT_SECRET=${CY_JWT_SECRET:-$(stack_random 48)}
	CY_PSK=${CY_PSK:-$(stack_random 40)}
	CY_ADMIN_PASSWORD=${CY_ADMIN_PASSWORD:-$(stack_random 24)}
	CY_PSK_FILE=$CY_TMP/psk
	(umask 077 && printf '%s\n' "$CY_PSK" >"$CY_PSK_FILE")
	chmod 0600 "$CY_PSK_FILE"
	export CY_JWT_SECRET CY_PSK CY_ADMIN_PASSWORD CY_PSK_FILE
	local rc=0
	STACK_SERVER_PID=
	stack_server_start "$gw" "$cp" "$CY_TMP/server.log" "$CY_TMP/server.pid" \
		"JWT_SECRET=$CY_JWT_SECRET" "NODE_REGISTRATION_PSK=$CY_PSK" \
		"BOOTSTRAP_ADMIN_PASSWORD=$CY_ADMIN_PASSWORD" \
		"RATE_LIMIT_PER_MINUTE=${CY_RATE_LIMIT:-1000}" \
		"READINESS_REQUIRE_INFERENCE=${CY_REQUIRE_INFERENCE:-false}" "$@" || rc=1
	[ -n "${STACK_SERVER_PID:-}" ] && cy__track "$STACK_SERVER_PID"
	[ $rc -eq 0 ] || return 1
	CY_SERVER_PID=$STACK_SERVER_PID
	CY_GATEWAY_URL=${STACK_SCHEME:-http}://127.0.0.1:$gw
	CY_CONTROL_URL=${STACK_SCHEME:-http}://127.0.0.1:$cp
	CYNORK_GATEWAY_URL=$CY_GATEWAY_URL
	export CY_SERVER_PID CY_GATEWAY_URL CY_CONTROL_URL CYNORK_GATEWAY_URL
}

cy_server_stop()
{
	local pid=${CY_SERVER_PID:-}

	[ -n "$pid" ] || { [ -f "${CY_TMP:-/nonexistent}/server.pid" ] && pid=$(cat "$CY_TMP/server.pid"); }
	stack_kill_pid "$pid" 10
}

cy_node_config()
{
	local slug=$1 dir port

	shift
	cy__need_tmp || return 1
	if [ -z "${CY_CONTROL_URL:-}" ]; then
		echo "harness: cy_node_config needs cy_server_start first" >&2
		return 1
	fi
	dir=$CY_TMP/node-$slug
	mkdir -p "$dir"
	if [ -f "$dir/port" ]; then
		port=$(cat "$dir/port")
	else
		port=$(stack_free_port) || return 1
		echo "$port" >"$dir/port"
	fi
	# No test node finds or starts an Ollama of the machine's own unless the
	# test says so (inference.url / inference.ollama_path arguments win).
	stack_node_config "$dir/node.yaml" "$slug" "$port" "$dir" \
		"$CY_CONTROL_URL" "$CY_PSK_FILE" "logging.level=debug" \
		'inference.url="http://127.0.0.1:1"' \
		'inference.ollama_path="/nonexistent/cynode-tests/ollama"' "$@" || return 1
	echo "$dir/node.yaml"
}

cy_node_start()
{
	local slug=${1:-node-01} conf port log

	[ $# -gt 0 ] && shift
	conf=$(cy_node_config "$slug" "$@") || return 1
	port=$(cat "$CY_TMP/node-$slug/port")
	log=$CY_TMP/node-$slug.log
	stack_node_start "$conf" "$log" "$CY_TMP/node-$slug/pid" || return 1
	cy__track "$STACK_NODE_PID"
	if ! stack_wait_http "http://127.0.0.1:$port/readyz" 200 60 "$STACK_NODE_PID" ||
		! stack_wait_http "$CY_GATEWAY_URL/readyz" 200 30 "$CY_SERVER_PID"; then
		echo "harness: node $slug did not become ready; last lines of $log:" >&2
		tail -n 30 "$log" >&2
		echo "harness: last lines of server.log:" >&2
		tail -n 15 "$CY_TMP/server.log" >&2
		return 1
	fi
	CY_NODE_PID=$STACK_NODE_PID
	CY_NODE_URL=http://127.0.0.1:$port
	CY_NODE_SLUG=$slug
	export CY_NODE_PID CY_NODE_URL CY_NODE_SLUG
}

cy_node_stop()
{
	local slug=${1:-${CY_NODE_SLUG:-node-01}} pidf

	pidf=${CY_TMP:-/nonexistent}/node-$slug/pid
	[ -f "$pidf" ] || return 0
	stack_kill_pid "$(cat "$pidf")" 10
	rm -f "$pidf"
}

# cy_load_drift: nodes whose counters (migration 0098: base plus deltas) differ
# from the sums over their running jobs, read in one snapshot.
cy_load_drift()
{
	cy_psql "WITH f AS (SELECT n.id, COALESCE(l.running, 0) + COALESCE(sum(d.running), 0) r,
			COALESCE(l.gpus, 0) + COALESCE(sum(d.gpus), 0) g,
			COALESCE(l.cpus, 0) + COALESCE(sum(d.cpus), 0) c,
			COALESCE(l.memory_mb, 0) + COALESCE(sum(d.memory_mb), 0) m
		FROM nodes n LEFT JOIN node_load l ON l.node_id = n.id
		LEFT JOIN node_load_delta d ON d.node_id = n.id
		GROUP BY n.id, l.running, l.gpus, l.cpus, l.memory_mb),
	j AS (SELECT node_id, count(*) r, sum(req_gpus) g, sum(req_cpus) c, sum(req_memory_mb) m
		FROM jobs WHERE status = 'running' GROUP BY node_id)
	SELECT count(*) FROM f LEFT JOIN j ON j.node_id = f.id
	WHERE f.r <> COALESCE(j.r, 0) OR f.g <> COALESCE(j.g, 0) OR f.c <> COALESCE(j.c, 0)
		OR f.m <> COALESCE(j.m, 0)"
}

cy_teardown_file()
{
	local pid d f rc=0

	[ -n "${CY_TMP:-}" ] && [ -d "$CY_TMP" ] || return 0
	if [ "${CY_SHOW_LOGS:-0}" = 1 ]; then
		cy_show_logs >&3 2>&1 || true
	fi
	# Nodes first (they hold sandboxes), then the server, then the rest.
	for f in "$CY_TMP"/node-*/pid; do
		[ -f "$f" ] && stack_kill_pid "$(cat "$f")" 5
	done
	# A node that had to be killed mid-job leaves its workspace tmpfs mounted
	# (a restarted node sweeps them); lift them so the directory can go.
	if [ "$(id -u)" = 0 ]; then
		awk -v t="$CY_TMP/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo |
			sort -r | while read -r d; do umount -l "$d" 2>/dev/null || true; done
	fi
	[ -f "$CY_TMP/server.pid" ] && stack_kill_pid "$(cat "$CY_TMP/server.pid")" 5
	if [ -f "$CY_TMP/pids" ]; then
		while read -r pid; do
			stack_kill_pid "$pid" 2
		done <"$CY_TMP/pids"
	fi
	# Whatever the file did, the nodes' load counters match their running
	# jobs (a path that changed a job's state behind the trigger's back
	# would show here).
	if [ -n "${DATABASE_URL:-}" ] && [ -f "$CY_TMP/pgdirs" ]; then
		d=$(cy_load_drift 2>/dev/null) || d=0
		if [ -n "$d" ] && [ "$d" != 0 ]; then
			echo "$d nodes' load counters differ from their running jobs" >&2
			rc=1
		fi
	fi
	if [ -f "$CY_TMP/pgdirs" ]; then
		while read -r d; do
			stack_pg_stop "$d"
		done <"$CY_TMP/pgdirs"
	fi
	# A sanitizer report in any log of the file's programs fails the file,
	# even one no test noticed (a leak found at exit, a background thread).
	while read -r f; do
		echo "sanitizer report in ${f#"$CY_TMP"/}:"
		grep -E -A40 "$CY__SANITIZER_RE" "$f" | head -n 80
		rc=1
	done < <(grep -rlE --include='*.log' --include='*.out' "$CY__SANITIZER_RE" "$CY_TMP" 2>/dev/null) >&2
	return $rc
}

CY__SANITIZER_RE='ERROR: (AddressSanitizer|LeakSanitizer)|^[^ ]+:[0-9]+:[0-9]+: runtime error: '


# cy_refuse TABLE WHEN-CLAUSE [deferred]: makes the database refuse writes
# to TABLE ("refused by the test") with a trigger, to drive a server's error
# paths.  Default: BEFORE INSERT rows matching WHEN-CLAUSE fail at once;
# "deferred": UPDATEd rows matching it fail at COMMIT (a constraint
# trigger).  cy_refuse_end TABLE removes it.
cy_refuse()
{
	local trig="TRIGGER cy_test_refuse BEFORE INSERT ON $1"

	[ "${3:-}" = deferred ] &&
		trig="CONSTRAINT TRIGGER cy_test_refuse AFTER UPDATE ON $1 DEFERRABLE INITIALLY DEFERRED"
	cy_psql "CREATE FUNCTION cy_test_refuse() RETURNS trigger LANGUAGE plpgsql AS
		\$\$BEGIN RAISE EXCEPTION 'refused by the test'; END\$\$;
		CREATE $trig FOR EACH ROW WHEN ($2) EXECUTE FUNCTION cy_test_refuse()"
}

cy_refuse_end()
{
	cy_psql "DROP TRIGGER cy_test_refuse ON $1; DROP FUNCTION cy_test_refuse()"
}

cy_ollama_start()
{
	local name=$1 port fake=${CY_FAKE_OLLAMA:-$CY_ROOT/tests/ollama/fake-ollama}

	shift
	cy__need_tmp || return 1
	port=$(stack_free_port) || return 1
	env OLLAMA_HOST="127.0.0.1:$port" FAKE_OLLAMA_LOG="$CY_TMP/$name.req" "$@" \
		"$fake" serve >"$CY_TMP/$name.log" 2>&1 </dev/null 3>&- &
	cy__track $!
	echo $! >"$CY_TMP/$name.pid"
	if ! stack_wait_http "http://127.0.0.1:$port/api/version" 200 20 $!; then
		echo "harness: the Ollama-API test server did not start:" >&2
		tail -n 20 "$CY_TMP/$name.log" >&2
		return 1
	fi
	CY_OLLAMA_URL=http://127.0.0.1:$port
	export CY_OLLAMA_URL
}

cynork()
{
	XDG_CONFIG_HOME=$CY_TMP/xdg CYNORK_GATEWAY_URL=${CYNORK_GATEWAY_URL:-${CY_GATEWAY_URL:-}} \
		"$CY_BUILD/cynork" "$@"
}

cy_tty_cynork()
{
	local input=$1
	shift
	printf '%s\n' "$input" | SHELL=/bin/bash script -qec "$(printf '%q ' env \
		XDG_CONFIG_HOME="$CY_TMP/xdg" \
		CYNORK_GATEWAY_URL="${CYNORK_GATEWAY_URL:-${CY_GATEWAY_URL:-}}" \
		"$CY_BUILD/cynork" "$@")" /dev/null
}

cy_login()
{
	printf '%s\n' "$CY_ADMIN_PASSWORD" | cynork auth login -u admin --password-stdin
}

cy_admin_token()
{
	local resp

	resp=$(curl -s -m 10 ${STACK_CACERT:+--cacert "$STACK_CACERT"} \
		-H 'Content-Type: application/json' \
		--data-binary "$(jq -cn --arg p "$CY_ADMIN_PASSWORD" '{handle:"admin",password:$p}')" \
		"$CY_GATEWAY_URL/v1/auth/login") || return 1
	printf '%s' "$resp" | jq -er .access_token
}

cy_api()
{
	local method=$1 path=$2 data=${3:-} token=${4:-} url tmp

	CY_API_LAST="$method $path"
	local -a args=(-s -m 70 -X "$method" -o "$CY_TMP/api.body" -w '%{http_code}')

	case $path in
	http://* | https://*) url=$path ;;
	*) url=$CY_GATEWAY_URL$path ;;
	esac
	[ -n "$token" ] && args+=(-H "Authorization: Bearer $token")
	[ -n "${STACK_CACERT:-}" ] && args+=(--cacert "$STACK_CACERT")
	if [ -n "$data" ]; then
		args+=(-H 'Content-Type: application/json' --data-binary "$data")
	fi
	status_code=$(curl "${args[@]}" "$url" 2>/dev/null) || true
	[ -n "$status_code" ] || status_code=000
	body=$(cat "$CY_TMP/api.body" 2>/dev/null || true)
	rm -f "$CY_TMP/api.body"
	# shellcheck disable=SC2034
	output=$body
	export status_code body
	return 0
}

# cy_worker_job TASK_ID JOB_ID SCRIPT [extra sandbox JSON members]: runs
# /bin/sh -c SCRIPT as a job through the node's Worker API (POST
# $CY_NODE_URL/v1/worker/jobs:run with the bearer token in $TOKEN), as the
# server would; $status_code and $body as cy_api leaves them.
cy_worker_job()
{
	local task=$1 id=$2 script=$3 extra=${4:-}

	jq -cn --arg t "$task" --arg id "$id" --arg s "$script" --argjson x "{${extra}}" \
		'{version:1, task_id:$t, job_id:$id,
		  sandbox:({command:["/bin/sh","-c",$s]} + $x)}' >"$CY_TMP/req-$id.json"
	cy_api POST "$CY_NODE_URL/v1/worker/jobs:run" "@$CY_TMP/req-$id.json" "$TOKEN"
}

cy_show_logs()
{
	local f

	for f in "${CY_TMP:-/nonexistent}"/server*.log "${CY_TMP:-/nonexistent}"/node-*.log; do
		[ -f "$f" ] || continue
		echo "----- ${f##*/} (last 40 lines)"
		tail -n 40 "$f"
	done
}

cy_status()
{
	[ "${status_code:-}" = "$1" ] && return 0
	printf 'expected HTTP %s from %s, got %s; body:\n%s\n' "$1" "${CY_API_LAST:-?}" \
		"${status_code:-none}" "${body:-}" | head -c 4000 >&2
	echo >&2
	return 1
}

cy_eq()
{
	[ "$1" = "$2" ] && return 0
	printf '%s: expected %s, got %s\n' "${3:-value}" "'$2'" "'$1'" >&2
	return 1
}

# Defaults (a file's own definitions replace them).
teardown_file()
{
	cy_teardown_file
}

teardown()
{
	[ -n "${BATS_TEST_COMPLETED:-}" ] || cy_show_logs >&3 2>&1 || true
}
