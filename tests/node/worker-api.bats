#!/usr/bin/env bats
#
# The running node against the real server: registration, config ack and
# the Worker API's HTTP surface (health, bearer auth, body limit).  The
# sandbox itself is covered by sandbox.bats through --run-job.

load ../lib/harness

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	cy_node_start node-01 worker_api.max_request_bytes=4096 \
		orchestrator.report_interval_seconds=1
}

@test "healthz and readyz answer once the node is configured" {
	cy_api GET "$CY_NODE_URL/healthz"
	cy_status 200
	[ "$body" = ok ]
	cy_api GET "$CY_NODE_URL/readyz"
	cy_status 200
	[ "$body" = ready ]
}

@test "jobs:run without a bearer token is 401" {
	cy_api POST "$CY_NODE_URL/v1/worker/jobs:run" \
		'{"version":1,"task_id":"t","job_id":"j","sandbox":{"command":["true"]}}'
	cy_status 401
	[ "$(printf '%s' "$body" | jq -r .type)" = urn:cynodeai:error:authentication ]
}

@test "jobs:run with a wrong bearer token is 401" {
	cy_api POST "$CY_NODE_URL/v1/worker/jobs:run" \
		'{"version":1,"task_id":"t","job_id":"j","sandbox":{"command":["true"]}}' wrong-token
	cy_status 401
}

@test "a body over worker_api.max_request_bytes is 413" {
	head -c 5000 /dev/zero | tr '\0' a >"$CY_TMP/big.json"
	cy_api POST "$CY_NODE_URL/v1/worker/jobs:run" "@$CY_TMP/big.json" wrong-token
	cy_status 413
}

@test "the node registered, acked its config and is listed active" {
	local tok
	tok=$(cy_admin_token)
	cy_api GET /v1/nodes/node-01 "" "$tok"
	cy_status 200
	[ "$(printf '%s' "$body" | jq -r .status)" = active ]
	[ "$(printf '%s' "$body" | jq -r .config_ack_status)" = applied ]
	[ "$(printf '%s' "$body" | jq -r .worker_api_url)" = "$CY_NODE_URL" ]
}

@test "the node JWT is stored 0600 under the state dir and never logged" {
	local f=$CY_TMP/node-node-01/state/credentials/node.jwt
	[ -s "$f" ]
	[ "$(stat -c %a "$f")" = 600 ]
	run grep -F "$(cat "$f")" "$CY_TMP/node-node-01.log"
	assert_failure
	run grep -F "$CY_PSK" "$CY_TMP/node-node-01.log"
	assert_failure
}

@test "the node keeps reporting capabilities" {
	sleep 2.5
	cy_api GET "$CY_NODE_URL/readyz"
	cy_status 200
	run grep -c report_failed "$CY_TMP/node-node-01.log"
	[ "$output" = 0 ]
}

@test "a wrong PSK makes the node exit with a clear message" {
	local conf
	printf 'wrong-psk\n' >"$CY_TMP/badpsk"
	chmod 600 "$CY_TMP/badpsk"
	conf=$(cy_node_config node-bad "orchestrator.registration_psk_file=\"$CY_TMP/badpsk\"")
	run timeout 20 "$CY_BUILD/cynode-node" --config "$conf"
	assert_failure 1
	assert_output --partial "PSK"
	refute_output --partial wrong-psk
}

# worker_token: the Worker API bearer token the server got in the node's config
worker_token()
{
	curl -s -m 10 -H "Authorization: Bearer $(cat "$CY_TMP/node-node-01/state/credentials/node.jwt")" \
		"$CY_CONTROL_URL/v1/nodes/config" | jq -er .worker_api.orchestrator_bearer_token
}

# garbage BODY STATUS TEXT: jobs:run answers STATUS with a problem naming TEXT
garbage()
{
	cy_api POST "$CY_NODE_URL/v1/worker/jobs:run" "$1" "$tok"
	[ "$status_code" = "$2" ] || { echo "$1 -> $status_code $body"; return 1; }
	[[ $(jq -r .type <<<"$body") == @(urn:cynodeai:error:validation|*/unsupported-payload-version) ]] ||
		{ echo "$1 -> $body"; return 1; }
	[[ $(jq -r .detail <<<"$body") == *"$3"* ]] || { echo "$1 -> $body"; return 1; }
}

@test "jobs:run, cancel and logs: garbage is 400/404 naming the field, and runs nothing" {
	local tok ok='"version":1,"task_id":"t-garbage","job_id":"j-garbage"'

	tok=$(worker_token)
	garbage 'not json' 400 'invalid JSON'
	garbage '[1]' 400 'expected an object'
	garbage "{$ok}" 400 'sandbox must be an object'
	garbage '{"version":"1","task_id":"t","job_id":"j","sandbox":{"command":["true"]}}' 400 version
	garbage "{$ok,\"sandbox\":{\"command\":\"true\"}}" 400 sandbox.command
	garbage "{$ok,\"sandbox\":{\"command\":[1]}}" 400 'sandbox.command[0]'
	garbage "{$ok,\"sandbox\":{\"command\":[\"true\"],\"env\":{\"A\":1}}}" 400 sandbox.env.A
	garbage "{$ok,\"sandbox\":{\"command\":[\"true\"],\"timeout_seconds\":-1}}" 400 \
		sandbox.timeout_seconds
	garbage "{$ok,\"sandbox\":{\"command\":[\"true\"],\"timeout_seconds\":\"9\"}}" 400 \
		sandbox.timeout_seconds
	garbage "{$ok,\"sandbox\":{\"command\":[\"true\"],\"network_policy\":\"open\"}}" 400 \
		sandbox.network_policy
	garbage "{$ok,\"sandbox\":{\"command\":[\"true\"],\"resources\":{\"memory_mb\":-5}}}" 400 \
		sandbox.resources
	garbage "{$ok,\"sandbox\":{\"command\":[\"true\"],\"image\":7}}" 400 sandbox.image
	garbage "{$ok,\"lease_id\":\"nope\",\"sandbox\":{\"command\":[\"true\"]}}" 400 lease_id
	garbage "{$ok,\"lease_id\":7,\"sandbox\":{\"command\":[\"true\"]}}" 400 lease_id
	# Nothing ran and no result was kept for the refused jobs.
	[ -z "$(find "$CY_TMP/node-node-01/state" -name '*garbage*')" ]
	cy_api GET "$CY_NODE_URL/v1/worker/jobs/j-garbage/logs" "" "$tok"
	cy_status 404

	cy_api POST "$CY_NODE_URL/v1/worker/jobs/no-such-job/cancel" "" "$tok"
	cy_status 404
	[ "$(jq -r .status <<<"$body")" = 404 ]
	cy_api POST "$CY_NODE_URL/v1/worker/jobs/%ff%fe/cancel" "{}" "$tok"
	cy_status 400
	assert_output --partial "not valid UTF-8"
	cy_api POST "$CY_NODE_URL/v1/worker/jobs/no-such-job/cancel" 'not json' "$tok"
	cy_status 400
	assert_output --partial "invalid JSON"
	cy_api POST "$CY_NODE_URL/v1/worker/jobs/no-such-job/cancel" '{"force":true}' "$tok"
	cy_status 400
	assert_output --partial "takes no parameters"
	# A job's output goes to the server as it comes: the Worker API serves none.
	cy_api GET "$CY_NODE_URL/v1/worker/jobs/no-such-job/logs?stderr_offset=-1" "" "$tok"
	cy_status 404
}
