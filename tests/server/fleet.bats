#!/usr/bin/env bats
#
# fleet.bats: node fleet operations with the real server and real nodes
#: heartbeats and liveness with a short TTL (inactive after
# silence, active again on the next heartbeat, never dispatched to while
# inactive), operator actions through the API and cynork (drain with a
# reason and --wait while a job runs, undrain, enable, disable, remove and
# its credential revocation), and enrollment tokens (single use, expiry,
# slug binding, the node's stored credential).

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	# Short enough to see a silent node go, long enough that a real node
	# heartbeating every second never misses it on a slow machine.
	cy_server_start NODE_LIVENESS_TTL=5s
	cy_login >/dev/null
}

capability()
{
	jq -cn --arg s "$1" '{version:1, reported_at:"2026-01-01T00:00:00Z",
		node:{node_slug:$s}, platform:{os:"linux", arch:"amd64"},
		compute:{cpu_cores:2, ram_mb:2048}, sandbox:{supported:true, max_concurrency:2},
		inference:{supported:false}, worker_api:{base_url:"http://127.0.0.1:9"}}'
}

# register SLUG [SECRET-KEY SECRET]: a registration by curl.
register()
{
	cy_api POST "$CY_CONTROL_URL/v1/nodes/register" \
		"$(jq -cn --arg k "${2:-psk}" --arg p "${3:-$CY_PSK}" --argjson c "$(capability "$1")" \
			'{capability:$c} + {($k):$p}')"
}

# A node registered and acked by curl; sets JWT and VERSION.
fake_node()
{
	register "$1"
	JWT=$(jq -r .auth.node_jwt <<<"$body")
	cy_api GET "$CY_CONTROL_URL/v1/nodes/config" "" "$JWT"
	VERSION=$(jq -r .config_version <<<"$body")
	cy_api POST "$CY_CONTROL_URL/v1/nodes/config" \
		"{\"version\":1,\"node_slug\":\"$1\",\"config_version\":\"$VERSION\",\"status\":\"applied\"}" "$JWT"
	cy_status 204
}

heartbeat()
{
	cy_api POST "$CY_CONTROL_URL/v1/nodes/heartbeat" \
		"{\"version\":${3:-1},\"node_slug\":\"$1\"}" "$2"
}

live_pid()
{
	cat "$CY_TMP/node-node-live/pid"
}

node_status()
{
	cy_psql "SELECT status FROM nodes WHERE node_slug = '$1'"
}

# wait_status SLUG STATUS SECS
wait_status()
{
	local i

	for i in $(seq 1 $(($3 * 10))); do
		[ "$(node_status "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	echo "node $1 is $(node_status "$1"), wanted $2" >&2
	return 1
}

# wait_running TASK: waits (30 s) until the task's job runs on a node
wait_running()
{
	local i

	for i in $(seq 1 150); do
		[ "$(cynork -o json task get "$1" | jq -r .status)" = running ] && return 0
		sleep 0.2
	done
	echo "task $1 never ran: $(cynork -o json task get "$1")" >&2
	return 1
}

# live_only: waits (10 s) until node-live is the only active node, so a
# job created next cannot be placed on a node an earlier test stopped or
# registered by curl (those stay active for the liveness TTL).
live_only()
{
	local i others

	for i in $(seq 1 100); do
		others=$(cy_psql "SELECT string_agg(node_slug, ',') FROM nodes
			WHERE status = 'active' AND node_slug <> 'node-live'")
		[ -z "$others" ] && return 0
		sleep 0.1
	done
	echo "still active besides node-live: $others" >&2
	return 1
}

@test "heartbeat: needs a node JWT, checks slug and version, answers the node's state" {
	fake_node hb-1
	heartbeat hb-1 ""
	cy_status 401
	heartbeat hb-1 "$(cy_admin_token)"
	cy_status 401
	heartbeat other "$JWT"
	cy_status 400
	assert_output --partial "does not match"
	heartbeat hb-1 "$JWT" 2
	cy_status 400
	[ "$(jq -r .type <<<"$body")" = "https://cynode.ai/problems/unsupported-payload-version" ]
	cy_api POST "$CY_CONTROL_URL/v1/nodes/heartbeat" '{"version":1' "$JWT"
	cy_status 400
	heartbeat hb-1 "$JWT"
	cy_status 200
	[ "$(jq -r .status <<<"$body")" = active ]
	[ "$(jq -r .enabled <<<"$body")" = true ]
	[ "$(jq -r .config_version <<<"$body")" = "$VERSION" ]
	[[ "$(jq -r .capability_hash <<<"$body")" == sha256:* ]]
	[ "$(jq -r .liveness_ttl_seconds <<<"$body")" = 5 ]
}

@test "liveness: silent node turns inactive after the TTL, a heartbeat revives it" {
	fake_node live-1
	wait_status live-1 inactive 30
	cy_api GET "/v1/nodes/live-1" "" "$(cy_admin_token)"
	[ "$(jq -r .status <<<"$body")" = inactive ]
	[ "$(jq -r .last_seen_at <<<"$body")" != null ]
	heartbeat live-1 "$JWT"
	cy_status 200
	[ "$(jq -r .status <<<"$body")" = active ]
	grep -q 'node_inactive.*node=live-1' "$CY_TMP/server.log"
	grep -q 'node_active.*node=live-1' "$CY_TMP/server.log"
}

@test "liveness: a real node stays active, turns inactive when stopped, active when resumed" {
	cy_node_start node-live orchestrator.heartbeat_interval_seconds=1
	sleep 6	# longer than the TTL and a liveness check
	[ "$(node_status node-live)" = active ]
	! grep -q 'node_inactive.*node=node-live' "$CY_TMP/server.log" || false
	run cynork nodes list
	assert_output --partial "node-live"
	kill -STOP "$(live_pid)"
	wait_status node-live inactive 30
	cy_api GET /readyz
	cy_status 503
	kill -CONT "$(live_pid)"
	wait_status node-live active 30
	stack_wait_http "$CY_GATEWAY_URL/readyz" 200 30
}

@test "liveness: no job is dispatched to an inactive node" {
	kill -STOP "$(live_pid)"
	wait_status node-live inactive 30
	id=$(cynork -o name task create --command 'echo after-resume')
	sleep 1
	run cynork -o json task get "$id"
	[ "$(jq -r .status <<<"$output")" = queued ]
	kill -CONT "$(live_pid)"
	run cynork task result "$id" --wait
	assert_success
	assert_output --partial after-resume
}

@test "operator actions need a signed-in operator and a known node" {
	tok=$(cy_admin_token)
	for a in drain undrain enable disable; do
		cy_api POST "/v1/nodes/node-live/$a" "{}"
		cy_status 401
		cy_api POST "/v1/nodes/no-such-node/$a" "{}" "$tok"
		cy_status 404
	done
	cy_api POST /v1/nodes/node-live/drain "{\"reason\":\"$(head -c 600 /dev/zero | tr '\0' x)\"}" "$tok"
	cy_status 400
	cy_api POST /v1/nodes/node-live/drain '{"reason":7}' "$tok"
	cy_status 400
	cy_api POST /v1/nodes/node-live/enable '{"reason":"x"}' "$tok"
	cy_status 400
	cy_api POST /v1/nodes/node-live/drain '{"reason":' "$tok"
	cy_status 400
	cy_api DELETE /v1/nodes/node-live
	cy_status 401
	cy_api DELETE "/v1/nodes/node-live?force=maybe" "" "$tok"
	cy_status 400
	cy_api DELETE /v1/nodes/no-such-node "" "$tok"
	cy_status 404
	[ "$(node_status node-live)" = active ]
	run -66 cynork nodes drain no-such-node -y
	run -64 cynork nodes drain
	run -64 cynork nodes drain node-live --timeout soon --wait -y
}

@test "disable and enable: a disabled node gets no jobs" {
	run cynork nodes disable node-live -y
	assert_success
	assert_output "node_id=node-live enabled=false"
	run cynork nodes get node-live
	assert_output --partial "enabled=false"
	id=$(cynork -o name task create --command 'echo while-disabled')
	sleep 1.5
	[ "$(cynork -o json task get "$id" | jq -r .status)" = queued ]
	run cynork nodes enable node-live -y
	assert_success
	assert_output "node_id=node-live enabled=true"
	run cynork task result "$id" --wait
	assert_success
	assert_output --partial while-disabled
	# Both actions are in the admin audit trail, with who did them.
	[ "$(cy_psql "SELECT string_agg(action || ':' || actor_handle || ':' || target, ',' ORDER BY created_at)
		FROM admin_audit_log WHERE action IN ('node.disable', 'node.enable')")" = \
		"node.disable:admin:node-live,node.enable:admin:node-live" ]
}

@test "confirmation: without -y and without a yes nothing changes" {
	run -0 cy_tty_cynork n nodes disable node-live
	assert_output --partial "nothing done"
	[ "$(cy_psql "SELECT enabled FROM nodes WHERE node_slug = 'node-live'")" = t ]
	run -64 cynork nodes disable node-live <<<"y"
	assert_output --partial "standard input is not a terminal; give -y"
	[ "$(cy_psql "SELECT enabled FROM nodes WHERE node_slug = 'node-live'")" = t ]
	run -64 cynork nodes drain node-live <<<""
	[ "$(node_status node-live)" = active ]
}

@test "drain with a running job: no new jobs, --wait returns when the job has ended" {
	live_only
	long=$(cynork -o name task create --command 'sleep 3; echo long-done')
	wait_running "$long"
	start=$SECONDS
	run cynork nodes drain node-live --reason "kernel update" --wait -y
	assert_success
	assert_line "node_id=node-live drained=true"
	assert_line "waiting for the jobs running on node-live to end"
	# --wait returned only after the long job ended.
	[ "$(cynork -o json task get "$long" | jq -r .status)" = completed ]
	run cynork -o json nodes get node-live
	[ "$(jq -r .status <<<"$output")" = drained ]
	[ "$(jq -r .drain_reason <<<"$output")" = "kernel update" ]
	[ "$(jq -r .running_jobs <<<"$output")" = 0 ]
	# A drained node stays drained while it heartbeats, and gets no job.
	id=$(cynork -o name task create --command 'echo after-undrain')
	sleep 2
	[ "$(node_status node-live)" = drained ]
	[ "$(cynork -o json task get "$id" | jq -r .status)" = queued ]
	run cynork nodes undrain node-live
	assert_success
	assert_output "node_id=node-live drained=false"
	run cynork task result "$id" --wait
	assert_success
	assert_output --partial after-undrain
	run cynork nodes get node-live
	refute_output --partial drain_reason
}

@test "drain --wait --timeout gives up with exit 124 while a job runs" {
	live_only
	long=$(cynork -o name task create --command 'sleep 4')
	wait_running "$long"
	run -124 cynork nodes drain node-live --wait --timeout 1s -y
	assert_output --partial "still runs 1 job"
	run cynork task result "$long" --wait
	assert_success
	cynork nodes undrain node-live >/dev/null
}

@test "enrollment tokens: admin only, validated input" {
	cy_api POST /v1/nodes/enrollment-tokens '{}'
	cy_status 401
	tok=$(cy_admin_token)
	cy_api POST /v1/nodes/enrollment-tokens '{"node_slug":"Bad_Slug"}' "$tok"
	cy_status 400
	cy_api POST /v1/nodes/enrollment-tokens '{"ttl_seconds":5}' "$tok"
	cy_status 400
	cy_api POST /v1/nodes/enrollment-tokens '{"ttl_seconds":"1h"}' "$tok"
	cy_status 400
	cy_api POST /v1/nodes/enrollment-tokens '{"labels":"gpu"}' "$tok"
	cy_status 400
	cy_api POST /v1/nodes/enrollment-tokens '{"labels":["GPU!"]}' "$tok"
	cy_status 400
	cy_api POST /v1/nodes/enrollment-tokens '{"node_slug":"en-1","labels":["gpu","rack-2"],"ttl_seconds":600}' "$tok"
	cy_status 201
	[[ "$(jq -r .token <<<"$body")" == cye_* ]]
	[ "$(jq -r .node_slug <<<"$body")" = en-1 ]
	# Stored hashed only.
	t=$(jq -r .token <<<"$body")
	[ "$(cy_psql "SELECT count(*) FROM node_enrollment_tokens WHERE position(convert_to('$t', 'UTF8') IN token_hash) > 0")" = 0 ]
	[ "$(cy_psql "SELECT count(*) FROM node_enrollment_tokens WHERE token_hash = sha256(convert_to('$t', 'UTF8'))")" = 1 ]
	run -64 cynork nodes enroll --name Bad_Slug
	run -64 cynork nodes enroll --ttl 5s
	run -64 cynork nodes enroll --ttl soon
}

@test "enrollment tokens: single use, expiry, bound to their slug" {
	run cynork -o json nodes enroll --name en-2 --labels gpu,rack-2 --ttl 10m
	assert_success
	t=$(jq -r .token <<<"$output")
	register en-other enrollment_token "$t"
	cy_status 401
	assert_output --partial "another node name"
	register en-2 enrollment_token "$t"
	cy_status 201
	[[ "$(jq -r .auth.node_credential <<<"$body")" == cyc_* ]]
	register en-2 enrollment_token "$t"
	cy_status 401
	assert_output --partial "already used"
	register en-2 enrollment_token "cye_not-a-real-token"
	cy_status 401
	assert_output --partial "unknown enrollment token"
	run cynork -o json nodes get en-2
	[ "$(jq -c .labels <<<"$output")" = '["gpu","rack-2"]' ]
	run cynork -o json nodes enroll
	t=$(jq -r .token <<<"$output")
	cy_psql "UPDATE node_enrollment_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = sha256(convert_to('$t', 'UTF8'))"
	register en-3 enrollment_token "$t"
	cy_status 401
	assert_output --partial "expired"
	run cynork nodes enroll --name en-4
	assert_success
	assert_output --partial "token=cye_"
	assert_output --partial "enrollment_token_file:"
	assert_output --partial "id: en-4"
}

@test "node credentials: re-registration with the credential, bad credential refused" {
	register cred-1
	cred=$(jq -r .auth.node_credential <<<"$body")
	[[ "$cred" == cyc_* ]]
	[ "$(cy_psql "SELECT credential_hash = sha256(convert_to('$cred', 'UTF8')) FROM nodes WHERE node_slug = 'cred-1'")" = t ]
	register cred-1 node_credential "$cred"
	cy_status 200
	# No new credential when the old one was used.
	[ "$(jq -r '.auth.node_credential // "none"' <<<"$body")" = none ]
	register cred-1 node_credential "cyc_wrong"
	cy_status 401
	assert_output --partial "Invalid node credential"
}

@test "a real node enrolls with a token file, keeps its credential 0600 and re-registers with it" {
	run cynork -o json nodes enroll --name node-en --labels edge
	t=$(jq -r .token <<<"$output")
	d=$CY_TMP/node-node-en
	mkdir -p "$d"
	(umask 077 && printf '%s\n' "$t" >"$d/token")
	cy_node_start node-en orchestrator.registration_psk_file= \
		"orchestrator.enrollment_token_file=\"$d/token\"" orchestrator.heartbeat_interval_seconds=1
	[ "$(stat -c %a "$d/state/credentials/node.credential")" = 600 ]
	[ "$(stat -c %a "$d/state/credentials")" = 700 ]
	run cynork -o json nodes get node-en
	[ "$(jq -r '.labels | index("edge")' <<<"$output")" != null ]
	grep -q 'auth=enrollment_token' "$CY_TMP/server.log"
	# Placement honours the label the operator gave at enrollment.
	cy_api POST /v1/tasks '{"input_mode":"commands","prompt":"echo on-edge","requirements":{"labels":["edge"]}}' "$(cy_admin_token)"
	cy_status 201
	id=$(jq -r .task_id <<<"$body")
	cy_api GET "/v1/tasks/$id/result?wait=30" "" "$(cy_admin_token)"
	cy_eq "$(jq -r .status <<<"$body")" completed
	[[ $body == *on-edge* ]]
	cy_eq "$(cy_psql "SELECT n.node_slug FROM jobs j JOIN nodes n ON n.id = j.node_id WHERE j.task_id = '$id'")" node-en
	# Restart: the token is spent, the stored credential registers the node.
	cy_node_stop node-en
	cy_node_start node-en orchestrator.registration_psk_file= \
		"orchestrator.enrollment_token_file=\"$d/token\"" orchestrator.heartbeat_interval_seconds=1
	grep -q 'node=node-en.*auth=node_credential' "$CY_TMP/server.log"
	! grep -q "$t" "$CY_TMP/node-node-en.log" || false
	cy_node_stop node-en
}

@test "a token file readable by others is refused" {
	d=$CY_TMP/badtok
	mkdir -p "$d"
	printf 'cye_x\n' >"$d/token"
	chmod 0644 "$d/token"
	conf=$(cy_node_config node-badtok orchestrator.registration_psk_file= \
		"orchestrator.enrollment_token_file=\"$d/token\"")
	run -2 "$CY_BUILD/cynode-node" --config "$conf" --check-config
	assert_output --partial "must not be readable"
}

@test "remove: refused while jobs run, then revokes the node's credentials" {
	live_only
	long=$(cynork -o name task create --command 'sleep 3')
	wait_running "$long"
	run -73 cynork nodes remove node-live -y
	assert_output --partial "running jobs"
	cynork task result "$long" --wait >/dev/null
	fake_node rm-1
	run cynork nodes remove rm-1 -y
	assert_success
	assert_output "node_id=rm-1 removed=true"
	[ -z "$(cy_psql "SELECT id FROM nodes WHERE node_slug = 'rm-1'")" ]
	heartbeat rm-1 "$JWT"
	cy_status 401
	# The PSK no longer admits the removed slug; an enrollment token does.
	register rm-1
	cy_status 403
	assert_output --partial "was removed"
	run cynork -o json nodes enroll --name rm-1
	t=$(jq -r .token <<<"$output")
	register rm-1 enrollment_token "$t"
	cy_status 201
	cred=$(jq -r .auth.node_credential <<<"$body")
	# The node it enrolled holds a credential now: the PSK cannot take its name.
	register rm-1
	cy_status 409
	register rm-1 node_credential "$cred"
	cy_status 200
}

@test "remove: a running real node with a stored credential stops for good" {
	cy_node_start node-rm orchestrator.heartbeat_interval_seconds=1
	pid=$CY_NODE_PID
	run cynork nodes remove node-rm --force -y
	assert_success
	for i in $(seq 1 300); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	! kill -0 "$pid" 2>/dev/null || false
	grep -q 'was removed' "$CY_TMP/node-node-rm.log"
}

@test "cynork nodes replace: flags checked, confirmation asked, the window opened and audited" {
	fake_node rep-1
	run -64 cynork nodes replace rep-1 --ttl 10s -y
	assert_output --partial "--ttl"
	run -64 cynork nodes replace rep-1 --ttl soon -y
	run -64 cynork nodes replace -y
	run -66 cynork nodes replace no-such-node -y
	run -64 cynork nodes replace rep-1 <<<"y"
	assert_output --partial "standard input is not a terminal; give -y"
	run -0 cy_tty_cynork n nodes replace rep-1
	assert_output --partial "nothing done"
	[ -z "$(cy_psql "SELECT replace_until FROM nodes WHERE node_slug = 'rep-1'")" ]
	run -0 cynork nodes replace rep-1 --ttl 2h -y
	assert_output --regexp '^node_id=rep-1 replace_until=20[0-9-]+T[0-9:]+Z$'
	cy_eq "$(cy_psql "SELECT replace_until > now() + interval '119 minutes' FROM nodes WHERE node_slug = 'rep-1'")" t
	run -0 cynork -o json nodes replace rep-1 -y
	jq -e '.node_slug == "rep-1" and (.replace_until | test("Z$"))' <<<"$output"
	register rep-1
	cy_status 200
}

@test "a second cynode-node with a live node's name and only the PSK is refused and exits" {
	local port conf
	port=$(cy_free_port)
	conf=$(cy_node_config node-live "storage.state_dir=\"$CY_TMP/impostor\"" \
		"worker_api.listen_port=$port" "worker_api.public_base_url=\"http://127.0.0.1:$port\"")
	mkdir -p "$CY_TMP/impostor"
	run timeout 60 "$CY_BUILD/cynode-node" --config "$conf"
	[ "$status" -ne 0 ] && [ "$status" -ne 124 ]
	assert_output --partial "409"
	assert_output --partial "nodes replace"
	# The real node-live still gets jobs.
	run -0 cynork task create --command 'echo still-mine' --wait --timeout 60s
	assert_output --partial still-mine
}
