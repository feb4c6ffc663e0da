#!/usr/bin/env bats
#
# The node-facing control plane (contract 2.2, 3.2-3.8) and the operator
# node views: registration with the PSK, payload version checks, config
# delivery and ack, capability reports, readiness, GET /v1/nodes.  Uses
# curl as the node so every error path can be reached; the real
# cynode-node is exercised by tasks.bats.

load ../lib/harness

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
}

# capability SLUG [VERSION] -> a node_capability_report_v1
capability()
{
	jq -cn --arg s "$1" --argjson v "${2:-1}" '{version:$v, reported_at:"2026-01-01T00:00:00Z",
		node:{node_slug:$s, labels:["trusted"]}, platform:{os:"linux", arch:"amd64"},
		compute:{cpu_cores:2, ram_mb:2048}, sandbox:{supported:true, max_concurrency:3},
		inference:{supported:false}, worker_api:{base_url:"http://127.0.0.1:9"}}'
}

# register SLUG [PSK] -> $status_code, $body
# A slug registered before comes back with the node credential it was
# given, as cynode-node does; with an explicit PSK it always sends the PSK.
register()
{
	local cred=$CY_TMP/cred.$1

	if [ -z "${2:-}" ] && [ -s "$cred" ]; then
		cy_api POST "$CY_CONTROL_URL/v1/nodes/register" \
			"$(jq -cn --arg k "$(cat "$cred")" --argjson c "$(capability "$1")" '{node_credential:$k, capability:$c}')"
	else
		cy_api POST "$CY_CONTROL_URL/v1/nodes/register" \
			"$(jq -cn --arg p "${2:-$CY_PSK}" --argjson c "$(capability "$1")" '{psk:$p, capability:$c}')"
	fi
	case $status_code in
	20?) jq -r '.auth.node_credential // empty' <<<"$body" | { grep . >"$cred.new" && mv "$cred.new" "$cred"; } || rm -f "$cred.new" ;;
	esac
}

# node_jwt SLUG: registers and prints the node JWT
node_jwt()
{
	register "$1"
	printf '%s' "$body" | jq -r .auth.node_jwt
}

@test "register: wrong PSK is 401" {
	register node-x wrong-psk
	cy_status 401
	assert_output --partial "Invalid registration PSK"
	cy_api POST "$CY_CONTROL_URL/v1/nodes/register" "$(jq -cn --argjson c "$(capability n1)" '{capability:$c}')"
	cy_status 401
}

@test "register: bad JSON is 400" {
	cy_api POST "$CY_CONTROL_URL/v1/nodes/register" '{"psk":'
	cy_status 400
	assert_output --partial "urn:cynodeai:error:validation"
}

@test "register: capability version 2 is unsupported-payload-version" {
	cy_api POST "$CY_CONTROL_URL/v1/nodes/register" \
		"$(jq -cn --arg p "$CY_PSK" --argjson c "$(capability n1 2)" '{psk:$p, capability:$c}')"
	cy_status 400
	[ "$(jq -r .type <<<"$body")" = "https://cynode.ai/problems/unsupported-payload-version" ]
	assert_output --partial "version 2"
	assert_output --partial "supported versions: 1"
}

@test "register: empty or malformed slug and bad worker URL are 400" {
	register ""
	cy_status 400
	assert_output --partial "node.node_slug is required"
	register "Bad_Slug"
	cy_status 400
	cy_api POST "$CY_CONTROL_URL/v1/nodes/register" \
		"$(jq -cn --arg p "$CY_PSK" --argjson c "$(capability n1)" \
			'{psk:$p, capability:($c | .worker_api.base_url = "ftp://x")}')"
	cy_status 400
	assert_output --partial "worker_api.base_url"
}

@test "register: new slug is 201, known slug 200, bootstrap has absolute URLs" {
	register node-reg
	cy_status 201
	[ "$(jq -r .version <<<"$body")" = 1 ]
	[ -n "$(jq -r .auth.node_jwt <<<"$body")" ]
	[ "$(jq -r .orchestrator.endpoints.node_config_url <<<"$body")" = "$CY_CONTROL_URL/v1/nodes/config" ] ||
		[[ "$(jq -r .orchestrator.endpoints.node_config_url <<<"$body")" == http*://*/v1/nodes/config ]]
	[[ "$(jq -r .orchestrator.endpoints.node_report_url <<<"$body")" == http*/v1/nodes/capability ]]
	register node-reg
	cy_status 200
	run cy_psql "SELECT status, capability_hash LIKE 'sha256:%', worker_api_bearer_token_enc IS NOT NULL FROM nodes WHERE node_slug = 'node-reg'"
	assert_output "active|t|t"
}

@test "config: GET needs a node JWT and returns the node's configuration" {
	cy_api GET "$CY_CONTROL_URL/v1/nodes/config"
	cy_status 401
	cy_api GET "$CY_CONTROL_URL/v1/nodes/config" "" "$(cy_admin_token)"
	cy_status 401
	jwt=$(node_jwt node-cfg)
	cy_api GET "$CY_CONTROL_URL/v1/nodes/config" "" "$jwt"
	cy_status 200
	[ "$(jq -r .version <<<"$body")" = 1 ]
	[ "$(jq -r .node_slug <<<"$body")" = node-cfg ]
	[[ "$(jq -r .config_version <<<"$body")" =~ ^[0-9A-HJKMNP-TV-Z]{26}$ ]]
	[ "$(jq -r .orchestrator.endpoints.worker_api_target_url <<<"$body")" = "http://127.0.0.1:9" ]
	[ "$(jq -r .inference_backend.enabled <<<"$body")" = false ]
	[ "$(jq -r .model_cache.cache_url <<<"$body")" = "" ]
	token=$(jq -r .worker_api.orchestrator_bearer_token <<<"$body")
	[ -n "$token" ] && [ "$token" != null ]
	# Stored encrypted: the token never appears in the row.
	run cy_psql "SELECT position(convert_to('$token', 'UTF8') IN worker_api_bearer_token_enc) FROM nodes WHERE node_slug = 'node-cfg'"
	assert_output 0
}

@test "config: each registration issues a new worker token" {
	jwt=$(node_jwt node-tok)
	cy_api GET "$CY_CONTROL_URL/v1/nodes/config" "" "$jwt"
	t1=$(jq -r .worker_api.orchestrator_bearer_token <<<"$body")
	jwt=$(node_jwt node-tok)
	cy_api GET "$CY_CONTROL_URL/v1/nodes/config" "" "$jwt"
	t2=$(jq -r .worker_api.orchestrator_bearer_token <<<"$body")
	[ "$t1" != "$t2" ]
}

@test "config ack: foreign slug, bad status, bad version, bad config_version are 400" {
	jwt=$(node_jwt node-ack)
	cy_api GET "$CY_CONTROL_URL/v1/nodes/config" "" "$jwt"
	v=$(jq -r .config_version <<<"$body")
	cy_api POST "$CY_CONTROL_URL/v1/nodes/config" "{\"version\":1,\"node_slug\":\"someone-else\",\"config_version\":\"$v\",\"status\":\"applied\"}" "$jwt"
	cy_status 400
	assert_output --partial "does not match"
	cy_api POST "$CY_CONTROL_URL/v1/nodes/config" "{\"version\":1,\"node_slug\":\"node-ack\",\"config_version\":\"$v\",\"status\":\"rolled_back\"}" "$jwt"
	cy_status 400
	cy_api POST "$CY_CONTROL_URL/v1/nodes/config" "{\"version\":7,\"node_slug\":\"node-ack\",\"config_version\":\"$v\",\"status\":\"applied\"}" "$jwt"
	cy_status 400
	[ "$(jq -r .type <<<"$body")" = "https://cynode.ai/problems/unsupported-payload-version" ]
	cy_api POST "$CY_CONTROL_URL/v1/nodes/config" '{"version":1,"node_slug":"node-ack","config_version":"1","status":"applied"}' "$jwt"
	cy_status 400
	cy_api POST "$CY_CONTROL_URL/v1/nodes/config" '{"version":1' "$jwt"
	cy_status 400
}

@test "config ack: applied makes the node dispatchable and the server ready" {
	jwt=$(node_jwt node-ready)
	cy_api GET "$CY_CONTROL_URL/v1/nodes/config" "" "$jwt"
	v=$(jq -r .config_version <<<"$body")
	cy_api POST "$CY_CONTROL_URL/v1/nodes/config" "{\"version\":1,\"node_slug\":\"node-ready\",\"config_version\":\"$v\",\"status\":\"failed\",\"error\":{\"message\":\"boom\"}}" "$jwt"
	cy_status 204
	run cy_psql "SELECT config_ack_status, config_ack_error, config_ack_version = config_version FROM nodes WHERE node_slug = 'node-ready'"
	assert_output "failed|boom|t"
	cy_api POST "$CY_CONTROL_URL/v1/nodes/config" "{\"version\":1,\"node_slug\":\"node-ready\",\"config_version\":\"$v\",\"status\":\"applied\",\"ack_at\":\"2026-02-16T12:00:02Z\"}" "$jwt"
	cy_status 204
	cy_api GET /readyz
	cy_status 200
	[ "$body" = ready ]
	# Re-registering clears the ack until the node acks its new config.
	register node-ready
	jwt=$(jq -r .auth.node_jwt <<<"$body")
	run cy_psql "SELECT config_ack_status IS NULL FROM nodes WHERE node_slug = 'node-ready'"
	assert_output t
	cy_api GET /readyz
	cy_status 503
	assert_output --partial "no inference path available"
	# A late "applied" for the version before the registration is recorded
	# but does not make the node dispatchable: that version came with the
	# worker token the registration replaced.
	cy_api POST "$CY_CONTROL_URL/v1/nodes/config" "{\"version\":1,\"node_slug\":\"node-ready\",\"config_version\":\"$v\",\"status\":\"applied\"}" "$jwt"
	cy_status 204
	run cy_psql "SELECT config_ack_status, config_ack_version = '$v', config_applied_version IS NULL FROM nodes WHERE node_slug = 'node-ready'"
	assert_output "applied|t|t"
	cy_api GET /readyz
	cy_status 503
	cy_api GET "$CY_CONTROL_URL/v1/nodes/config" "" "$jwt"
	v2=$(jq -r .config_version <<<"$body")
	[ "$v2" != "$v" ]
	cy_api POST "$CY_CONTROL_URL/v1/nodes/config" "{\"version\":1,\"node_slug\":\"node-ready\",\"config_version\":\"$v2\",\"status\":\"applied\"}" "$jwt"
	cy_status 204
	cy_api GET /readyz
	cy_status 200
}

@test "capability report: stored, slug must match, version checked" {
	jwt=$(node_jwt node-cap)
	cap=$(capability node-cap | jq -c '.sandbox.max_concurrency = 7')
	cy_api POST "$CY_CONTROL_URL/v1/nodes/capability" "$cap" "$jwt"
	cy_status 204
	run cy_psql "SELECT capability_snapshot->'sandbox'->>'max_concurrency', (SELECT last_seen_at IS NOT NULL FROM nodes WHERE node_slug = 'node-cap') FROM node_capabilities WHERE node_id = (SELECT id FROM nodes WHERE node_slug = 'node-cap')"
	assert_output "7|t"
	cy_api POST "$CY_CONTROL_URL/v1/nodes/capability" "$(capability other)" "$jwt"
	cy_status 400
	cy_api POST "$CY_CONTROL_URL/v1/nodes/capability" "$(capability node-cap 3)" "$jwt"
	cy_status 400
	[ "$(jq -r .type <<<"$body")" = "https://cynode.ai/problems/unsupported-payload-version" ]
	cy_api POST "$CY_CONTROL_URL/v1/nodes/capability" "$cap"
	cy_status 401
}

@test "capability report: wrong field types are 400 naming the field, at register and later; nothing stored" {
	local bad snap jq_edit field
	jwt=$(node_jwt node-typed)
	snap=$(cy_psql "SELECT capability_snapshot FROM node_capabilities WHERE node_id = (SELECT id FROM nodes WHERE node_slug = 'node-typed')")
	while IFS='|' read -r field jq_edit; do
		bad=$(capability node-typed | jq -c "$jq_edit")
		cy_api POST "$CY_CONTROL_URL/v1/nodes/capability" "$bad" "$jwt"
		cy_status 400 || { echo "$jq_edit -> $status_code $body"; false; }
		[ "$(jq -r .type <<<"$body")" = urn:cynodeai:error:validation ]
		[[ $(jq -r .detail <<<"$body") == "$field "* ]] || { echo "$jq_edit -> $body"; false; }
		bad=$(capability node-new-typed | jq -c "$jq_edit")
		cy_api POST "$CY_CONTROL_URL/v1/nodes/register" \
			"$(jq -cn --arg p "$CY_PSK" --argjson c "$bad" '{psk:$p, capability:$c}')"
		cy_status 400 || { echo "register $jq_edit -> $status_code $body"; false; }
		[[ $(jq -r .detail <<<"$body") == "$field "* ]]
	done <<'EOT'
compute.cpu_cores|.compute.cpu_cores = "many"
compute.cpu_cores|.compute.cpu_cores = -1
compute.ram_mb|.compute.ram_mb = 1.5
sandbox.max_concurrency|.sandbox.max_concurrency = 0
sandbox.max_concurrency|.sandbox.max_concurrency = "3"
sandbox.supported|.sandbox.supported = "yes"
inference.supported|.inference.supported = 1
node.labels|.node.labels = "trusted"
node.labels[1]|.node.labels = ["a", 7]
gpu.devices|.gpu = {present: true, devices: {}}
gpu.present|.gpu = {present: "no"}
reported_at|.reported_at = 20260101
EOT
	[ "$(cy_psql "SELECT capability_snapshot FROM node_capabilities WHERE node_id = (SELECT id FROM nodes WHERE node_slug = 'node-typed')")" = "$snap" ]
	[ "$(cy_psql "SELECT count(*) FROM nodes WHERE node_slug = 'node-new-typed'")" = 0 ]
	cy_api POST "$CY_CONTROL_URL/v1/nodes/capability" "$(capability node-typed | jq -c '.gpu = {present: false}')" "$jwt"
	cy_status 204
}

@test "heartbeat, config ack and capability: bad JSON and wrong shapes are 400 problem+json" {
	local r b
	jwt=$(node_jwt node-junk)
	for r in heartbeat config capability; do
		for b in '{"version":1,' '[1]' '"x"' '{"version":"1"}'; do
			cy_api POST "$CY_CONTROL_URL/v1/nodes/$r" "$b" "$jwt"
			cy_status 400 || { echo "$r $b -> $status_code $body"; false; }
			[ "$(jq -r .status <<<"$body")" = 400 ]
		done
	done
	cy_api POST "$CY_CONTROL_URL/v1/nodes/heartbeat" '{"version":1,"node_slug":5}' "$jwt"
	cy_status 400
	assert_output --partial "node_slug must be a string: the authenticated node's slug 'node-junk'"
	cy_api POST "$CY_CONTROL_URL/v1/nodes/config" '{"version":1,"node_slug":["node-junk"]}' "$jwt"
	cy_status 400
	assert_output --partial "node_slug must be a string"
	cy_api POST "$CY_CONTROL_URL/v1/nodes/capability" \
		"$(capability node-junk | jq -c '.node.node_slug = null')" "$jwt"
	cy_status 400
	assert_output --partial "node.node_slug must be a string"
}

@test "node routes are also served on the gateway" {
	cy_api POST /v1/nodes/register "$(jq -cn --arg p wrong --argjson c "$(capability g1)" '{psk:$p, capability:$c}')"
	cy_status 401
}

@test "GET /v1/nodes lists nodes with the operator view" {
	tok=$(cy_admin_token)
	cy_api GET /v1/nodes
	cy_status 401
	cy_api GET /v1/nodes "" "$tok"
	cy_status 200
	n=$(jq '[.nodes[] | select(.node_slug == "node-cap")] | length' <<<"$body")
	[ "$n" = 1 ]
	node=$(jq -c '.nodes[] | select(.node_slug == "node-cap")' <<<"$body")
	[ "$(jq -r .max_concurrency <<<"$node")" = 7 ]
	[ "$(jq -r .running_jobs <<<"$node")" = 0 ]
	[ "$(jq -r '.labels[0]' <<<"$node")" = trusted ]
	[ "$(jq -r .worker_api_url <<<"$node")" = "http://127.0.0.1:9" ]
	id=$(jq -r .node_id <<<"$node")
	cy_api GET /v1/nodes/node-cap "" "$tok"
	cy_status 200
	[ "$(jq -r .node_id <<<"$body")" = "$id" ]
	cy_api GET "/v1/nodes/$id" "" "$tok"
	cy_status 200
	[ "$(jq -r .node_slug <<<"$body")" = node-cap ]
	cy_api GET /v1/nodes/no-such-node "" "$tok"
	cy_status 404
}

@test "register: the PSK cannot take a registered node's name (409, audited); its credential can" {
	register node-own
	cy_status 201
	first_jwt=$(jq -r .auth.node_jwt <<<"$body")
	# Anyone holding the fleet's PSK, posing as node-own.
	register node-own "$CY_PSK"
	cy_status 409
	assert_output --partial "node-own"
	assert_output --partial "nodes replace"
	[ "$(jq -r .auth <<<"$body")" = null ]
	cy_eq "$(cy_psql "SELECT count(*) FROM auth_audit_log WHERE event_type = 'node_register_refused' AND subject_handle = 'node-own' AND NOT success")" 1
	grep -q 'event=node_register_refused node=node-own' "$CY_TMP/server.log"
	# The real node's JWT still works and its credential still registers.
	cy_api GET "$CY_CONTROL_URL/v1/nodes/config" "" "$first_jwt"
	cy_status 200
	register node-own
	cy_status 200
}

@test "nodes replace: one PSK registration may take the name within the window, then the old credential is dead" {
	register node-swap
	cy_status 201
	old=$(cat "$CY_TMP/cred.node-swap")
	token=$(cy_admin_token)
	cy_api POST /v1/nodes/node-swap/replace '{"ttl_seconds":"soon"}' "$token"
	cy_status 400
	cy_api POST /v1/nodes/node-swap/replace '{"ttl_seconds":5}' "$token"
	cy_status 400
	cy_api POST /v1/nodes/node-swap/replace '{"ttl":60}' "$token"
	cy_status 400
	cy_api POST /v1/nodes/no-such-node/replace '' "$token"
	cy_status 404
	cy_api POST /v1/nodes/node-swap/replace '{"ttl_seconds":600}' "$token"
	cy_status 200
	cy_eq "$(jq -r .node_slug <<<"$body")" node-swap
	[[ "$(jq -r .replace_until <<<"$body")" == 20*Z ]]
	cy_eq "$(cy_psql "SELECT count(*) FROM admin_audit_log WHERE action = 'node.replace' AND target = 'node-swap'")" 1
	# The old machine re-registering with its credential keeps the window open.
	register node-swap
	cy_status 200
	# The new machine, with the PSK only.
	register node-swap "$CY_PSK"
	cy_status 200
	new=$(jq -r .auth.node_credential <<<"$body")
	[ -n "$new" ] && [ "$new" != null ] && [ "$new" != "$old" ]
	# The window is used up, and the old credential no longer works.
	register node-swap "$CY_PSK"
	cy_status 409
	cy_api POST "$CY_CONTROL_URL/v1/nodes/register" \
		"$(jq -cn --arg k "$old" --argjson c "$(capability node-swap)" '{node_credential:$k, capability:$c}')"
	cy_status 401
}

@test "nodes replace: a closed window refuses the PSK again; an enrollment token naming the node needs no window" {
	register node-late
	cy_status 201
	token=$(cy_admin_token)
	cy_api POST /v1/nodes/node-late/replace '{"ttl_seconds":60}' "$token"
	cy_status 200
	cy_psql "UPDATE nodes SET replace_until = now() - interval '1 second' WHERE node_slug = 'node-late'"
	register node-late "$CY_PSK"
	cy_status 409
	# A token for any name cannot take it either...
	cy_api POST /v1/nodes/enrollment-tokens '{}' "$token"
	cy_status 201
	any=$(jq -r .token <<<"$body")
	cy_api POST "$CY_CONTROL_URL/v1/nodes/register" \
		"$(jq -cn --arg t "$any" --argjson c "$(capability node-late)" '{enrollment_token:$t, capability:$c}')"
	cy_status 409
	# ...and stays unused; one naming the node can.
	cy_eq "$(cy_psql "SELECT used_at IS NULL FROM node_enrollment_tokens WHERE node_slug IS NULL ORDER BY created_at DESC LIMIT 1")" t
	cy_api POST /v1/nodes/enrollment-tokens '{"node_slug":"node-late"}' "$token"
	cy_status 201
	named=$(jq -r .token <<<"$body")
	cy_api POST "$CY_CONTROL_URL/v1/nodes/register" \
		"$(jq -cn --arg t "$named" --argjson c "$(capability node-late)" '{enrollment_token:$t, capability:$c}')"
	cy_status 200
}
