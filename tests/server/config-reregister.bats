#!/usr/bin/env bats
#
# config-reregister.bats: a node that refused a pushed configuration (its
# node.yaml is stricter) and then registers again.  Node JWTs live 3 s
# here, so a running node re-registers every few heartbeats: it keeps its
# worker token, the desired version and the failed ack stay as they were
# (visible in config status), and it stays dispatchable on its last good
# configuration.  A restarted node has no running configuration: it must
# apply the desired one, refuses it, acks failed and exits until an
# operator pushes one it accepts.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start JWT_NODE_DURATION=3s
	cy_login >/dev/null
	cy_node_start node-r orchestrator.heartbeat_interval_seconds=1 \
		'sandbox.allowed_images=["host"]'
}

col()
{
	cy_psql "SELECT $1 FROM nodes WHERE node_slug = 'node-r'"
}

# registrations: how often the server registered node-r so far
registrations()
{
	grep -c 'event=node_registered.*node=node-r' "$CY_TMP/server.log" || true
}

@test "a node that refused a push stays dispatchable and failed when it re-registers" {
	old=$(col config_applied_version)
	[ -n "$old" ]
	token=$(col "encode(worker_api_bearer_token_enc, 'hex')")
	printf 'policy:\n  sandbox:\n    allowed_images: [host, "busybox:1"]\n' >"$CY_TMP/wide.yaml"
	run -65 cynork config push -f "$CY_TMP/wide.yaml" --node node-r --force --wait --timeout 30s
	assert_output --partial "node node-r refused config"
	v=$(col config_version)
	# Two more registrations (the JWT expired while the node ran).
	n=$(registrations)
	for i in $(seq 1 150); do
		[ "$(registrations)" -ge $((n + 2)) ] && break
		sleep 0.2
	done
	[ "$(registrations)" -ge $((n + 2)) ]
	# Same desired version, same worker token, the refusal still on record.
	[ "$(col config_version)" = "$v" ]
	[ "$(col "encode(worker_api_bearer_token_enc, 'hex')")" = "$token" ]
	run -0 cynork -o json config status
	jq -e --arg v "$v" --arg old "$old" '.nodes[] | select(.node_slug == "node-r") |
		.state == "failed" and .desired_version == $v and .ack_version == $v and
		.applied_version == $old and (.ack_error | contains("allowed_images"))' <<<"$output"
	# The node did not fetch and refuse the same document again.
	[ "$(grep -c 'event=config_rejected' "$CY_TMP/node-node-r.log")" = 1 ]
	# Still dispatchable: a task runs on it with the token it holds.
	cy_api GET /readyz
	cy_status 200
	run -0 cynork task create --command 'echo still-here' --wait --timeout 60s
	assert_output --partial still-here
	grep -q 'event=node_registered.*node=node-r.*auth=node_credential.*config_kept=true' \
		"$CY_TMP/server.log"
}

@test "a re-registration naming another running version, or without the credential, starts over" {
	tok=$(cy_admin_token)
	cap=$(jq -cn '{version:1, reported_at:"2026-01-01T00:00:00Z", node:{node_slug:"node-x"},
		platform:{os:"linux", arch:"amd64"}, compute:{cpu_cores:1, ram_mb:512},
		worker_api:{base_url:"http://127.0.0.1:9"}}')
	cy_api POST "$CY_CONTROL_URL/v1/nodes/register" \
		"$(jq -cn --arg p "$CY_PSK" --argjson c "$cap" '{psk:$p, capability:$c}')"
	cy_status 201
	cred=$(jq -r .auth.node_credential <<<"$body")
	jwt=$(jq -r .auth.node_jwt <<<"$body")
	cy_api GET "$CY_CONTROL_URL/v1/nodes/config" "" "$jwt"
	v=$(jq -r .config_version <<<"$body")
	cy_api POST "$CY_CONTROL_URL/v1/nodes/config" \
		"{\"version\":1,\"node_slug\":\"node-x\",\"config_version\":\"$v\",\"status\":\"applied\"}" "$jwt"
	cy_status 204
	x() { cy_psql "SELECT $1 FROM nodes WHERE node_slug = 'node-x'"; }
	reg() {
		cy_api POST "$CY_CONTROL_URL/v1/nodes/register" \
			"$(jq -cn --argjson c "$cap" "$@" '$ARGS.named | del(.c) | .capability = $c')"
	}
	# Bad input is refused.
	reg --arg node_credential "$cred" --argjson running_config_version 5
	cy_status 400
	assert_output --partial "running_config_version must be a ULID"
	reg --arg node_credential "$cred" --arg running_config_version nope
	cy_status 400
	# Without an operator's replace, the PSK cannot take the name.
	reg --arg psk "$CY_PSK" --arg running_config_version "$v"
	cy_status 409
	# A machine put in its place with the PSK does not keep the state, even
	# with the right version.
	cy_api POST /v1/nodes/node-x/replace '' "$tok"
	cy_status 200
	token=$(x "encode(worker_api_bearer_token_enc, 'hex')")
	reg --arg psk "$CY_PSK" --arg running_config_version "$v"
	cy_status 200
	[ "$(x config_applied_version)" = "" ]
	[ "$(x "encode(worker_api_bearer_token_enc, 'hex')")" != "$token" ]
	v2=$(jq -r .initial_config_version <<<"$body")
	[ "$(x config_version)" = "$v2" ]
	[ "$v2" != "$v" ]
	# Applied again, then the credential with a version the server does not
	# have on record as applied: a new token and version as well.
	cred=$(jq -r .auth.node_credential <<<"$body")
	jwt=$(jq -r .auth.node_jwt <<<"$body")
	cy_api POST "$CY_CONTROL_URL/v1/nodes/config" \
		"{\"version\":1,\"node_slug\":\"node-x\",\"config_version\":\"$v2\",\"status\":\"applied\"}" "$jwt"
	cy_status 204
	reg --arg node_credential "$cred" --arg running_config_version "$v"
	cy_status 200
	[ "$(x config_applied_version)" = "" ]
	[ "$(x config_version)" != "$v2" ]
	cy_api DELETE /v1/nodes/node-x?force=true "" "$tok"
}

@test "a restarted node refuses the desired config, acks failed and exits; a compatible push brings it back" {
	v=$(col config_document)
	cy_node_stop node-r
	conf=$(cy_node_config node-r orchestrator.heartbeat_interval_seconds=1 \
		'sandbox.allowed_images=["host"]')
	run timeout 60 "$CY_BUILD/cynode-node" --config "$conf"
	[ "$status" -ne 0 ] && [ "$status" -ne 124 ]
	assert_output --partial "config not applied"
	assert_output --partial "allowed_images"
	run -0 cynork -o json config status
	jq -e --arg v "$v" '.nodes[] | select(.node_slug == "node-r") |
		.state == "failed" and .applied_version == null and .document_version == $v and
		(.ack_error | contains("allowed_images"))' <<<"$output"
	cy_api GET /readyz
	cy_status 503
	printf 'policy:\n  sandbox:\n    allowed_images: [host]\n' >"$CY_TMP/narrow.yaml"
	run -0 cynork config push -f "$CY_TMP/narrow.yaml" --node node-r
	cy_node_start node-r orchestrator.heartbeat_interval_seconds=1 \
		'sandbox.allowed_images=["host"]'
	run -0 cynork -o json config status
	jq -e '.nodes[] | select(.node_slug == "node-r") | .state == "applied"' <<<"$output"
}
