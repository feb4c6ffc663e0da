#!/usr/bin/env bats
#
# inference.bats: the node's inference backend (contract
# 3.1 step 8, 3.4, 3.6) against the real server and node, with the
# Ollama-API test server (tests/ollama/fake-ollama) standing in for Ollama:
# as an existing service, and as the `ollama` binary the node runs itself
# (runtime process) or that a stand-in `podman` runs.  Covers: an existing
# service used and never duplicated; a backend started when the server
# enables one, models pulled with progress in the log and reported within
# a heartbeat; restart after kill -9; nothing left behind at shutdown (also
# after kill -9 of the node); inference.mode require (exit naming
# inference, failed ack, /readyz 503); mode disabled; the sandbox_only
# label; container runtimes without an engine; garbage in the new keys.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	FAKE=${CY_FAKE_OLLAMA:-$CY_ROOT/tests/ollama/fake-ollama}
	PROC_PORT=$(cy_free_port)
	export FAKE PROC_PORT
}

# Fast heartbeats and reports, so changes reach the server within a second.
FAST=(orchestrator.heartbeat_interval_seconds=1 orchestrator.report_interval_seconds=1)

# fake_bin DIR [VAR=VAL...]: DIR/ollama, a wrapper running the test server
# with those settings (the node gives its backend a minimal environment).
fake_bin()
{
	local dir=$1 kv
	shift
	mkdir -p "$dir"
	{
		echo '#!/bin/sh'
		echo "echo \"\$\$ \$*\" >>'$dir/runs'"
		for kv in "$@"; do
			printf "export %s='%s'\n" "${kv%%=*}" "${kv#*=}"
		done
		printf "exec '%s' \"\$@\"\n" "$FAKE"
	} >"$dir/ollama"
	chmod 0755 "$dir/ollama"
}

# fake_serve NAME PORT [VAR=VAL...]: the test server as an existing service
# (log $CY_TMP/NAME.log, request log $CY_TMP/NAME.req)
fake_serve()
{
	local name=$1 port=$2
	shift 2
	env OLLAMA_HOST="127.0.0.1:$port" FAKE_OLLAMA_LOG="$CY_TMP/$name.req" "$@" \
		"$FAKE" serve >"$CY_TMP/$name.log" 2>&1 </dev/null 3>&- &
	echo $! >"$CY_TMP/$name.pid"
	cy__track $!
	stack_wait_http "http://127.0.0.1:$port/api/version" 200 20 $!
}

# start_node SLUG KEY=VAL...: a node that may never become ready
start_node()
{
	local slug=$1 conf
	shift
	conf=$(cy_node_config "$slug" "$@")
	stack_node_start "$conf" "$CY_TMP/node-$slug.log" "$CY_TMP/node-$slug/pid"
	cy__track "$STACK_NODE_PID"
	NODE_PID=$STACK_NODE_PID
	NODE_URL=http://127.0.0.1:$(cat "$CY_TMP/node-$slug/port")
}

# snapshot SLUG: the stored capability report of a node
snapshot()
{
	cy_psql "SELECT c.capability_snapshot FROM node_capabilities c JOIN nodes n ON n.id = c.node_id WHERE n.node_slug = '$1'"
}

# wait_snapshot SLUG JQ [SECS]: until the stored report satisfies JQ
wait_snapshot()
{
	local end=$((SECONDS + ${3:-15})) caps=""
	while [ $SECONDS -lt $end ]; do
		caps=$(snapshot "$1")
		[ -n "$caps" ] && jq -e "$2" <<<"$caps" >/dev/null && return 0
		sleep 0.2
	done
	echo "no report of $1 with $2; last: $(jq -c .inference <<<"$caps" 2>/dev/null)" >&2
	return 1
}

# wait_log FILE REGEX [SECS]
wait_log()
{
	local end=$((SECONDS + ${3:-15}))
	while [ $SECONDS -lt $end ]; do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "no '$2' in $1 after ${3:-15}s" >&2
	return 1
}

# http_is URL CODE: GET URL answers CODE now
http_is() { [ "$(stack_http_code "$1")" = "$2" ]; }

# wait_until SECS COMMAND...: polls COMMAND every 0.1 s
wait_until()
{
	local end=$((SECONDS + $1))
	shift
	while [ $SECONDS -lt $end ]; do
		"$@" && return 0
		sleep 0.1
	done
	echo "timed out: $*" >&2
	return 1
}

# backends SLUG: PIDs of processes started as that node's backend (their
# environment names the node's model directory)
backends()
{
	local want="OLLAMA_MODELS=$CY_TMP/node-$1/state/ollama/models" f
	for f in /proc/[0-9]*/environ; do
		{ tr '\0' '\n' <"$f"; } 2>/dev/null | grep -qxF "$want" || continue
		f=${f#/proc/}
		echo "${f%/environ}"
	done
}

no_backends() { [ -z "$(backends "$1")" ]; }
one_backend() { [ "$(backends "$1" | wc -l)" -eq 1 ]; }

# node_up SLUG [KEY=VAL...]: cy_node_start, then wait for the config ack:
# the node's /readyz answers before it, and inference starts before it.
node_up()
{
	local slug=$1
	cy_node_start "$@" || return 1
	wait_log "$CY_TMP/node-$slug.log" 'event=config_acked' 30
}

# node_config SLUG: the config payload the server gives that node
node_config()
{
	curl -s -m 10 -H "Authorization: Bearer $(cat "$CY_TMP/node-$1/state/credentials/node.jwt")" \
		"$CY_CONTROL_URL/v1/nodes/config"
}

node_exited() { ! kill -0 "$1" 2>/dev/null; }

@test "an existing service is used and reported, never a second one; model and liveness changes reach the server" {
	local port caps
	port=$(cy_free_port)
	fake_bin "$CY_TMP/bin-ex"
	fake_serve ex "$port" FAKE_OLLAMA_MODELS=qwen3.5:0.8b,llama3.2:1b
	node_up node-ex "${FAST[@]}" inference.url="\"http://127.0.0.1:$port\"" \
		inference.ollama_path="\"$CY_TMP/bin-ex/ollama\""
	wait_snapshot node-ex '.inference.running'
	caps=$(snapshot node-ex)
	jq -e '.inference | .supported and .mode == "allow" and .existing_service and .running
		and .available_models == ["llama3.2:1b", "qwen3.5:0.8b"] and .loaded_models == []
		and .backend == {runtime: "existing", version: "0.0.0-fake"}' <<<"$caps"
	grep -q 'event=inference_existing_service ' "$CY_TMP/node-node-ex.log"
	# The server's decision: don't start one; the node never ran its ollama.
	jq -e '.inference_backend.enabled == false' <<<"$(node_config node-ex)"
	[ ! -e "$CY_TMP/bin-ex/runs" ]
	no_backends node-ex
	! grep -q inference_backend_starting "$CY_TMP/node-node-ex.log" || false
	grep '"path": *"/api/version"' "$CY_TMP/ex.req" | grep -q '"user_agent": *"cynode/'
	! grep -q '"path": *"/api/pull"' "$CY_TMP/ex.req" || false
	# A model appearing and one going away change the report within a heartbeat or two.
	curl -sf -m 5 -d '{"add":["tiny:1b"],"remove":["llama3.2:1b"]}' "http://127.0.0.1:$port/_fake/models"
	wait_snapshot node-ex '.inference.available_models == ["qwen3.5:0.8b", "tiny:1b"]' 5
	# The service goes away: running false, still an existing service (never started by the node).
	kill "$(cat "$CY_TMP/ex.pid")"
	wait_snapshot node-ex '.inference | (.running | not) and .existing_service
		and .available_models == []' 10
	[ "$(stack_http_code "$CY_NODE_URL/readyz")" = 200 ]
	no_backends node-ex
	# ... and comes back.
	fake_serve ex "$port" FAKE_OLLAMA_MODELS=qwen3.5:0.8b
	wait_snapshot node-ex '.inference | .running and .existing_service' 10
	grep -q 'event=inference_existing_service_back' "$CY_TMP/node-node-ex.log"
	cy_node_stop node-ex
	kill -0 "$(cat "$CY_TMP/ex.pid")"		# left alone at shutdown
	kill "$(cat "$CY_TMP/ex.pid")"
}

# The node of the next three tests: runtime process, its ollama the test server.
proc_args()
{
	printf '%s\n' "${FAST[@]}" "inference.url=\"http://127.0.0.1:$PROC_PORT\"" \
		"inference.ollama_path=\"$CY_TMP/bin-proc/ollama\"" \
		'inference.models=["tinyllama:1.1b", "qwen3.5:0.8b", "library/nope:1b"]'
}

@test "runtime process: started when the server enables it, models pulled with progress, listed within a heartbeat" {
	local port=$PROC_PORT log=$CY_TMP/node-node-proc.log pid env
	local -a args
	mapfile -t args < <(proc_args)
	fake_bin "$CY_TMP/bin-proc" FAKE_OLLAMA_MODELS=qwen3.5:0.8b FAKE_OLLAMA_PULL_STEPS=40 \
		FAKE_OLLAMA_PULLABLE=tinyllama:1.1b FAKE_OLLAMA_LOG="$CY_TMP/proc.req"
	NODE_REGISTRATION_SECRET_TEST=leak OLLAMA_KEEP_ALIVE=7m node_up node-proc "${args[@]}"
	jq -e '.inference_backend | .enabled and .variant == "cpu"' <<<"$(node_config node-proc)"
	grep -q "event=inference_backend_started runtime=process url=http://127.0.0.1:$port version=0.0.0-fake" "$log"
	# Started before the ack ("I am ready").
	[ "$(grep -n -m1 inference_backend_started "$log" | cut -d: -f1)" -lt \
		"$(grep -n -m1 config_acked "$log" | cut -d: -f1)" ]
	wait_log "$log" 'event=inference_model_pulled model=tinyllama:1.1b'
	# Progress: each status once, at most one line per 10% per layer.
	grep -q 'event=inference_model_pull model=tinyllama:1.1b progress="pulling manifest"' "$log"
	grep -qE 'event=inference_model_pull model=tinyllama:1.1b progress="sha256:[0-9a-f]+ 100%"' "$log"
	[ "$(grep -c 'event=inference_model_pull model=tinyllama:1.1b' "$log")" -le 20 ]
	# A model already present is not pulled again; a failed pull names its model.
	[ "$(grep -c '"path": *"/api/pull"' "$CY_TMP/proc.req")" -eq 2 ]
	! grep '"path": *"/api/pull"' "$CY_TMP/proc.req" | grep -q qwen3.5 || false
	wait_log "$log" 'event=inference_model_pull_failed model=library/nope:1b error="pull model manifest: file does not exist"'
	wait_snapshot node-proc '.inference | .supported and .running and (.existing_service | not)
		and .available_models == ["qwen3.5:0.8b", "tinyllama:1.1b"]
		and .backend.runtime == "process"' 5
	# One child, leader of its own process group, with a minimal environment.
	one_backend node-proc
	pid=$(backends node-proc)
	[ "$(ps -o pgid= -p "$pid" | tr -d ' ')" = "$pid" ]
	env=$(tr '\0' '\n' <"/proc/$pid/environ")
	grep -qx "OLLAMA_HOST=127.0.0.1:$port" <<<"$env"
	grep -qx "HOME=$CY_TMP/node-node-proc/state/ollama" <<<"$env"
	grep -qx 'OLLAMA_KEEP_ALIVE=7m' <<<"$env"
	! grep -q 'NODE_REGISTRATION\|CY_PSK\|JWT' <<<"$env" || false
	grep -q 'event=inference_backend_output line=' "$log"
	[ "$(wc -l <"$CY_TMP/bin-proc/runs")" -eq 1 ]
}

@test "a backend killed with kill -9 is restarted after a backoff and reported running again" {
	local log=$CY_TMP/node-node-proc.log old port=$PROC_PORT
	old=$(backends node-proc)
	[ -n "$old" ]
	kill -9 "$old"
	wait_log "$log" 'event=inference_backend_died .*killed by signal 9' 5
	grep -q 'event=inference_backend_restart_scheduled in_seconds=1' "$log"
	wait_until 10 one_backend node-proc
	[ "$(backends node-proc)" != "$old" ]
	wait_until 10 http_is "http://127.0.0.1:$port/api/version" 200
	[ "$(grep -c 'event=inference_backend_started' "$log")" -eq 2 ]
	wait_snapshot node-proc '.inference.running and (.inference.available_models | index("tinyllama:1.1b"))' 10
}

@test "node SIGTERM stops the backend it started; after kill -9 of the node the backend dies too" {
	local port=$PROC_PORT
	local -a args
	mapfile -t args < <(proc_args)
	one_backend node-proc
	cy_node_stop node-proc
	no_backends node-proc
	http_is "http://127.0.0.1:$port/api/version" 000
	grep -q 'event=inference_backend_stopped runtime=process' "$CY_TMP/node-node-proc.log"
	# Started again, then killed: the backend gets its parent-death signal.
	node_up node-proc "${args[@]}"
	one_backend node-proc
	kill -9 "$CY_NODE_PID"
	wait_until 5 no_backends node-proc
}

@test "a config push that disables inference stops the backend the node started; enabling starts it again" {
	local bin=$CY_TMP/bin-push tok port log=$CY_TMP/node-node-push.log
	port=$(cy_free_port)
	fake_bin "$bin"
	node_up node-push "${FAST[@]}" inference.url="\"http://127.0.0.1:$port\"" \
		inference.ollama_path="\"$bin/ollama\""
	one_backend node-push
	tok=$(cy_admin_token)
	cy_api POST /v1/config/push '{"document":{"inference_backend":{"enabled":false}},"nodes":["node-push"]}' "$tok"
	cy_status 201 || { echo "$status_code $body"; false; }
	wait_log "$log" 'event=inference_backend_disabled'
	wait_until 10 no_backends node-push
	wait_snapshot node-push '.inference | (.running | not) and (.existing_service | not)'
	http_is "$CY_NODE_URL/readyz" 200
	cy_api POST /v1/config/push '{"document":{"inference_backend":{"enabled":true}},"nodes":["node-push"]}' "$tok"
	cy_status 201
	wait_until 10 one_backend node-push
	wait_snapshot node-push '.inference.running'
	[ "$(grep -c 'event=inference_backend_started' "$log")" -eq 2 ]
	cy_node_stop node-push
	no_backends node-push
}

@test "an orphan the backend leaves is adopted by the node and reaped by its heartbeat's sweep" {
	local bin=$CY_TMP/bin-orph port orphan pp i
	port=$(cy_free_port)
	fake_bin "$bin"
	# The wrapper leaves a grandchild behind: its subshell exits at once, so
	# the sleep's parent is gone and the nearest subreaper takes it.
	{
		echo '#!/bin/sh'
		echo "( sleep 5 & echo \$! >'$bin/orphan' )"
		tail -n +2 "$bin/ollama"
	} >"$bin/ollama.new"
	chmod 0755 "$bin/ollama.new"
	mv "$bin/ollama.new" "$bin/ollama"
	node_up node-orph "${FAST[@]}" inference.url="\"http://127.0.0.1:$port\"" \
		inference.ollama_path="\"$bin/ollama\""
	# (Not one_backend: the orphan has the backend's environment too.)
	for i in $(seq 1 50); do [ -s "$bin/orphan" ] && break; sleep 0.1; done
	orphan=$(cat "$bin/orphan")
	pp=$(awk '{ sub(/^.*\) /, ""); print $2 }' "/proc/$orphan/stat")
	echo "orphan $orphan, parent $pp, node $CY_NODE_PID" >&2
	[ "$pp" = "$CY_NODE_PID" ]
	# It exits after 5 s; a zombie keeps its /proc entry until it is reaped:
	# two sweeps at 1 s heartbeats.
	wait_until 20 eval "[ ! -e /proc/$orphan ]"
	cy_node_stop node-orph
}

@test "mode require with a missing ollama_path: the node exits non-zero naming inference; the server shows the failed ack" {
	local status
	start_node node-req "${FAST[@]}" inference.mode=require \
		inference.url="\"http://127.0.0.1:$(cy_free_port)\"" \
		inference.ollama_path="\"$CY_TMP/nowhere/ollama\""
	wait_until 30 node_exited "$NODE_PID"
	status=0
	wait "$NODE_PID" || status=$?
	[ "$status" -eq 1 ]
	grep -E 'event=node_failed error=.*inference.mode is require but no inference backend is available' "$CY_TMP/node-node-req.log"
	grep -q "nowhere/ollama' is not an executable file" "$CY_TMP/node-node-req.log"
	[ "$(cy_psql "SELECT config_ack_status FROM nodes WHERE node_slug = 'node-req'")" = failed ]
	cy_psql "SELECT config_ack_error FROM nodes WHERE node_slug = 'node-req'" | grep -q '^inference: '
}

@test "mode require with an ollama that dies at start: exits non-zero with its reason" {
	local status bin=$CY_TMP/bin-dies
	mkdir -p "$bin"
	printf '#!/bin/sh\necho "Error: listen tcp: address already in use" >&2\nexit 1\n' >"$bin/ollama"
	chmod 0755 "$bin/ollama"
	start_node node-dies inference.mode=require inference.url="\"http://127.0.0.1:$(cy_free_port)\"" \
		inference.ollama_path="\"$bin/ollama\""
	wait_until 30 node_exited "$NODE_PID"
	status=0
	wait "$NODE_PID" || status=$?
	[ "$status" -eq 1 ]
	grep -q 'event=inference_backend_output line="Error: listen tcp: address already in use"' "$CY_TMP/node-node-dies.log"
	grep -E 'event=node_failed .*serve exited with status 1 before it answered' "$CY_TMP/node-node-dies.log"
	[ "$(cy_psql "SELECT config_ack_status FROM nodes WHERE node_slug = 'node-dies'")" = failed ]
	no_backends node-dies
}

@test "mode require: readyz is 503 naming inference while the backend is down, 200 when it is back" {
	local bin=$CY_TMP/bin-rq pid
	fake_bin "$bin"
	cp "$bin/ollama" "$bin/ollama.good"
	node_up node-rq inference.mode=require inference.url="\"http://127.0.0.1:$(cy_free_port)\"" \
		inference.ollama_path="\"$bin/ollama\""
	one_backend node-rq
	# From now on it cannot start: it exits at once.
	printf '#!/bin/sh\nexit 3\n' >"$bin/ollama.bad"
	chmod 0755 "$bin/ollama.bad"
	mv "$bin/ollama.bad" "$bin/ollama"
	pid=$(backends node-rq)
	kill -9 "$pid"
	wait_until 10 http_is "$CY_NODE_URL/readyz" 503
	run curl -s -m 5 "$CY_NODE_URL/readyz"
	assert_output --partial "no inference backend answers (inference.mode: require)"
	wait_log "$CY_TMP/node-node-rq.log" 'event=inference_backend_start_failed .*exited with status 3'
	cp "$bin/ollama.good" "$bin/ollama.new"
	mv "$bin/ollama.new" "$bin/ollama"
	wait_until 15 http_is "$CY_NODE_URL/readyz" 200
	one_backend node-rq
	cy_node_stop node-rq
	no_backends node-rq
}

@test "mode disabled: nothing probed or started, supported false" {
	local port caps
	port=$(cy_free_port)
	fake_bin "$CY_TMP/bin-dis"
	fake_serve dis "$port"
	node_up node-dis "${FAST[@]}" inference.mode=disabled \
		inference.url="\"http://127.0.0.1:$port\"" inference.ollama_path="\"$CY_TMP/bin-dis/ollama\""
	wait_snapshot node-dis '.inference.mode == "disabled"'
	caps=$(snapshot node-dis)
	jq -e '.inference == {supported: false, mode: "disabled", existing_service: false,
		running: false, available_models: [], loaded_models: []}' <<<"$caps"
	jq -e '.inference_backend.enabled == false' <<<"$(node_config node-dis)"
	sleep 1.2	# a few heartbeats: still the node asks the service nothing
	! grep -q '"user_agent": *"cynode' "$CY_TMP/dis.req" || false
	[ ! -e "$CY_TMP/bin-dis/runs" ]
	cy_node_stop node-dis
	kill "$(cat "$CY_TMP/dis.pid")"
}

@test "label sandbox_only: the server does not enable a backend and none is started" {
	fake_bin "$CY_TMP/bin-so"
	node_up node-so "${FAST[@]}" 'node.labels=["sandbox_only"]' \
		inference.url="\"http://127.0.0.1:$(cy_free_port)\"" inference.ollama_path="\"$CY_TMP/bin-so/ollama\""
	wait_snapshot node-so '.inference.supported and (.inference.running | not)'
	jq -e '.inference_backend.enabled == false' <<<"$(node_config node-so)"
	[ ! -e "$CY_TMP/bin-so/runs" ]
	no_backends node-so
	! grep -q inference_backend_starting "$CY_TMP/node-node-so.log" || false
	cy_node_stop node-so
}

@test "inference.url on another host: the node never starts a backend for it (require: exits naming why)" {
	local status
	fake_bin "$CY_TMP/bin-far"
	start_node node-far inference.mode=require inference.url='"http://192.0.2.1:11434"' \
		inference.ollama_path="\"$CY_TMP/bin-far/ollama\""
	wait_until 30 node_exited "$NODE_PID"
	status=0
	wait "$NODE_PID" || status=$?
	[ "$status" -eq 1 ]
	grep -E "event=node_failed .*inference.url names '192.0.2.1', not an address of this host" "$CY_TMP/node-node-far.log"
	jq -e '.inference | (.supported | not) and (.running | not)' <<<"$(snapshot node-far)"
	[ ! -e "$CY_TMP/bin-far/runs" ]
}

@test "runtime podman without podman: require exits naming it; unsupported is reported" {
	command -v podman >/dev/null && skip "podman is installed here"
	local status
	start_node node-nopod inference.mode=require inference.runtime=podman \
		inference.url="\"http://127.0.0.1:$(cy_free_port)\""
	wait_until 30 node_exited "$NODE_PID"
	status=0
	wait "$NODE_PID" || status=$?
	[ "$status" -eq 1 ]
	grep -E "event=node_failed .*inference.runtime podman: 'podman' not found on PATH" "$CY_TMP/node-node-nopod.log"
	jq -e '.inference | (.supported | not) and .backend.runtime == "podman"' <<<"$(snapshot node-nopod)"
}

@test "runtime docker whose daemon is gone: mode allow keeps the node serving jobs, running false, the error logged" {
	local bin=$CY_TMP/bin-dock tok out
	mkdir -p "$bin"
	printf '#!/bin/sh\necho "$*" >>%s/calls\n[ "$1" = rm ] && exit 0\necho "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2\nexit 125\n' \
		"$bin" >"$bin/docker"
	chmod 0755 "$bin/docker"
	PATH=$bin:$PATH node_up node-dock "${FAST[@]}" inference.runtime=docker \
		inference.url="\"http://127.0.0.1:$(cy_free_port)\""
	grep -E 'event=inference_backend_start_failed runtime=docker error=.*Cannot connect to the Docker daemon' "$CY_TMP/node-node-dock.log"
	grep -q "^run -d --name cynode-ollama-node-dock -p 127.0.0.1:[0-9]*:11434 -v $CY_TMP/node-node-dock/state/ollama:/root/.ollama docker.io/ollama/ollama:latest\$" "$bin/calls"
	wait_snapshot node-dock '.inference | .supported and (.running | not) and .backend.runtime == "docker"'
	# The sandbox still serves jobs.
	tok=$(node_config node-dock | jq -er .worker_api.orchestrator_bearer_token)
	out=$(curl -s -m 30 -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
		--data-binary '{"version":1,"task_id":"t","job_id":"j-dock","sandbox":{"command":["/bin/echo","hello"]}}' \
		"$CY_NODE_URL/v1/worker/jobs:run")
	jq -e '.status == "completed" and .stdout == "hello\n"' <<<"$out" || { echo "$out"; false; }
	cy_node_stop node-dock
}

@test "runtime podman: the container's command line, started and stopped with the node" {
	local bin=$CY_TMP/bin-pod port calls
	port=$(cy_free_port)
	mkdir -p "$bin"
	# A stand-in engine: `run -d` serves the test server on the published address.
	cat >"$bin/podman" <<-SH
	#!/bin/sh
	echo "\$*" >>"$bin/calls"
	case \$1 in
	run)
		while [ \$# -gt 0 ]; do [ "\$1" = -p ] && pub=\$2; shift; done
		OLLAMA_HOST=\${pub%:11434} FAKE_OLLAMA_PIDFILE="$bin/ctr.pid" FAKE_OLLAMA_MODELS=qwen3.5:0.8b \
			setsid "$FAKE" serve >"$bin/ctr.log" 2>&1 </dev/null &
		echo 0123456789abcdef ;;
	stop|rm) [ -f "$bin/ctr.pid" ] && kill "\$(cat "$bin/ctr.pid")" ;;
	esac
	exit 0
	SH
	chmod 0755 "$bin/podman"
	PATH=$bin:$PATH node_up node-pod "${FAST[@]}" inference.runtime=podman \
		inference.url="\"http://127.0.0.1:$port\""
	grep -q "^rm -f cynode-ollama-node-pod\$" "$bin/calls"
	grep -q "^run -d --replace --name cynode-ollama-node-pod -p 127.0.0.1:$port:11434 -v $CY_TMP/node-node-pod/state/ollama:/root/.ollama docker.io/ollama/ollama:latest\$" "$bin/calls"
	grep -q 'event=inference_container_started runtime=podman name=cynode-ollama-node-pod id=0123456789abcdef' "$CY_TMP/node-node-pod.log"
	wait_snapshot node-pod '.inference | .running and .backend.runtime == "podman"
		and .available_models == ["qwen3.5:0.8b"]'
	[ "$(stack_http_code "http://127.0.0.1:$port/api/version")" = 200 ]
	cy_node_stop node-pod
	calls=$(cat "$bin/calls")
	[[ $calls == *"stop -t 5 cynode-ollama-node-pod"*"rm -f cynode-ollama-node-pod" ]]
	wait_until 5 http_is "http://127.0.0.1:$port/api/version" 000
}

@test "garbage in the inference keys is refused naming the key" {
	local conf kv
	while IFS= read -r kv; do
		conf=$(cy_node_config node-garbage "$kv")
		run --separate-stderr "$CY_BUILD/cynode-node" --config "$conf" --check-config
		[ "$status" -eq 2 ] || { echo "$kv accepted"; false; }
		[[ $stderr == *"${kv%%=*}"* ]] || { echo "$kv: $stderr"; false; }
	done <<'EOT'
inference.url="ftp://127.0.0.1:11434"
inference.url="http://127.0.0.1:99999"
inference.url="http://127.0.0.1:11434/api"
inference.url="http://user@127.0.0.1:11434"
inference.url="http://[::1:11434"
inference.url=""
inference.runtime=lxc
inference.ollama_path="bin/ollama"
inference.ollama_path=""
inference.models=["bad name"]
inference.models=["../etc/passwd"]
inference.models=["model:"]
inference.models="qwen3.5:0.8b"
inference.startup_timeout_seconds=0
inference.startup_timeout_seconds=3601
inference.request_timeout_seconds=0
inference.request_timeout_seconds=3601
inference.max_request_bytes=10
inference.max_request_bytes=99999999999
inference.allow_gpu=maybe
EOT
	conf=$(cy_node_config node-garbage inference.mode=require sandbox.mode=sandbox_only)
	run --separate-stderr "$CY_BUILD/cynode-node" --config "$conf" --check-config
	[ "$status" -eq 2 ]
	[[ $stderr == *"inference.mode require contradicts sandbox.mode sandbox_only"* ]]
	# The good values are accepted and printed.
	conf=$(cy_node_config node-garbage inference.url='"http://[::1]:8080/"' \
		inference.models='["hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M", "qwen3.5:0.8b"]')
	run "$CY_BUILD/cynode-node" --config "$conf" --check-config
	assert_success
	assert_output --partial 'url: "http://[::1]:8080/"'
	assert_output --partial 'runtime: process'
	assert_output --partial 'startup_timeout_seconds: 60'
}
