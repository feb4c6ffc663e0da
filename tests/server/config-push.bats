#!/usr/bin/env bats
#
# config-push.bats: node configuration push end to end with the
# real server and two real nodes: documents checked by the server before
# any node sees them (garbage through cynork and the API), admin only, two
# nodes where one applies and one refuses (its node.yaml is stricter) and
# acks failed with the reason, a pushed timeout cap that really stops a job,
# the fleet default inherited by a node registered later, config get and
# status, a node refusing a version older than the one it applied, and the
# inference_backend policy in the payload a node fetches.

load ../lib/harness
load ../lib/identity
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	cy_login >/dev/null
	cy_node_start node-a orchestrator.heartbeat_interval_seconds=1
	cy_node_start node-b orchestrator.heartbeat_interval_seconds=1 \
		'sandbox.allowed_images=["host"]'
}

# doc NAME TEXT: writes a document file, prints its path.
doc()
{
	printf '%s\n' "$2" >"$CY_TMP/$1"
	echo "$CY_TMP/$1"
}

ndocs()
{
	cy_psql "SELECT count(*) FROM node_config_documents"
}

desired()
{
	cy_psql "SELECT config_version FROM nodes WHERE node_slug = '$1'"
}

@test "config push: bad documents and flags are refused before any node sees them" {
	before_a=$(desired node-a)
	run -65 cynork config push -f "$(doc unknown.yaml 'policy: {sandbox: {allowed_imagez: [host]}}')" --all
	assert_output --partial "unknown field 'policy.sandbox.allowed_imagez' (known: allowed_images, "
	run -65 cynork config push -f "$(doc type.yaml 'constraints: {max_concurrency: many}')" --node node-a
	assert_output --partial "constraints.max_concurrency must be an integer from 1 to 1024"
	run -65 cynork config push -f "$(doc range.yaml 'constraints: {max_job_timeout_seconds: 0}')" --all
	assert_output --partial "max_job_timeout_seconds"
	run -65 cynork config push -f "$(doc enum.yaml 'policy: {sandbox: {default_network_policy: open}}')" --all
	assert_output --partial "restricted, none, allowlist"
	run -65 cynork config push -f "$(doc emptyimg.yaml 'policy: {sandbox: {allowed_images: [host, ""]}}')" --all
	assert_output --partial "allowed_images[1]"
	run -65 cynork config push -f "$(doc bool.yaml 'inference_backend: {enabled: "yes"}')" --all
	assert_output --partial "inference_backend.enabled must be true or false"
	run -65 cynork config push -f "$(doc top.yaml 'extra: 1')" --all
	assert_output --partial "unknown field 'extra' (known: policy, constraints, inference_backend, notes)"
	run -64 cynork config push -f "$(doc list.yaml '- a')" --all
	assert_output --partial "must be a mapping"
	run -64 cynork config push -f "$(doc syntax.yaml $'policy:\n  sandbox: [1,\n')" --all
	assert_output --partial "syntax.yaml:"
	run -64 cynork config push -f "$(doc two.yaml $'a: 1\n---\nb: 2')" --all
	run -64 cynork config push -f "$(doc empty.yaml '')" --all
	run -64 cynork config push -f "$CY_TMP/no-such-file" --all
	run -64 cynork config push --all
	run -64 cynork config push -f "$(doc ok.yaml 'notes: ok')"
	run -64 cynork config push -f "$CY_TMP/ok.yaml" --all --node node-a
	run -64 cynork config push -f "$CY_TMP/ok.yaml" --node ''
	run -64 cynork config push -f "$CY_TMP/ok.yaml" --all --dry-run --wait
	run -64 cynork config push -f "$CY_TMP/ok.yaml" --all --timeout soon
	run -66 cynork config push -f "$CY_TMP/ok.yaml" --node node-a --node no-such-node
	assert_output --partial "no-such-node"
	run -0 cynork config push -f "$CY_TMP/ok.yaml" --node node-a --dry-run
	assert_output "dry_run=true all=false nodes=node-a"
	[ "$(ndocs)" = 0 ]
	[ "$(desired node-a)" = "$before_a" ]
}

@test "config push API: garbage bodies are 400, only admins push" {
	tok=$(cy_admin_token)
	for b in '' '{' '[]' '{"document":{}}' '{"document":{},"all":"yes"}' \
		'{"document":{},"nodes":"node-a"}' '{"document":{},"nodes":[]}' \
		'{"document":{},"nodes":["Node A"]}' '{"document":[],"all":true}' \
		'{"document":{},"all":true,"nodes":["node-a"]}' '{"all":true}' \
		'{"document":{},"all":true,"dry_run":1}' '{"document":{},"all":true,"extra":1}' \
		'{"document":{"constraints":{"max_request_bytes":1.5}},"all":true}' \
		'{"document":{"notes":"a\u0000b"},"all":true}'; do
		cy_api POST /v1/config/push "$b" "$tok"
		cy_status 400 || { echo "body $b: $status_code $body"; false; }
	done
	cy_api POST /v1/config/push '{"document":{},"all":true}'
	cy_status 401
	id_user op1 operator >/dev/null
	id_login op1
	cy_api POST /v1/config/push '{"document":{},"all":true}' "$access"
	cy_status 403
	cy_api GET /v1/config/status "" "$access"
	cy_status 200
	cy_api GET "/v1/config?node=" "" "$tok"
	cy_status 400
	for q in "config?node=%00" "config?node=%ff" "config/status?node=%00" "config/status?node=%c0%80"; do
		cy_api GET "/v1/$q" "" "$tok"
		cy_status 400 || { echo "$q: $status_code $body"; false; }
		assert_output --partial "query parameter 'node'"
	done
	cy_api GET "/v1/config?node=NOT-A-SLUG" "" "$tok"
	cy_status 404
	[ "$(ndocs)" = 0 ]
}

@test "allowed_images naming an image a node does not have is refused at push, unless --force" {
	# Each bwrap node reports the images it can run.
	cy_eq "$(cy_psql "SELECT c.capability_snapshot->'sandbox'->'images' ? 'host' FROM node_capabilities c JOIN nodes n ON n.id = c.node_id WHERE n.node_slug = 'node-a'")" t
	before=$(ndocs)
	f=$(doc noimg.yaml 'policy: {sandbox: {allowed_images: [host, "nosuchimage:1"]}}')
	run -65 cynork config push -f "$f" --node node-a
	assert_output --partial "node 'node-a' has no image 'nosuchimage:1'"
	assert_output --partial '"host"'
	assert_output --partial "--force"
	run -65 cynork config push -f "$f" --all --dry-run
	assert_output --partial "node 'node-b' has no image 'nosuchimage:1'"
	cy_eq "$(ndocs)" "$before"
	tok=$(cy_admin_token)
	cy_api POST /v1/config/push '{"document":{},"all":true,"force":"yes"}' "$tok"
	cy_status 400
	# Images every target has pass; --force pushes the rest anyway (dry run here).
	run -0 cynork config push -f "$(doc hostonly.yaml 'policy: {sandbox: {allowed_images: [host]}}')" --all --dry-run
	run -0 cynork config push -f "$f" --node node-a --force --dry-run
	cy_eq "$(ndocs)" "$before"
}

@test "two nodes: one applies the push, the stricter one refuses it and acks failed" {
	old_b=$(cy_psql "SELECT config_applied_version FROM nodes WHERE node_slug = 'node-b'")
	[ -n "$old_b" ]
	f=$(doc both.yaml $'policy:\n  sandbox:\n    allowed_images: [host, "busybox:1"]\nconstraints:\n  max_job_timeout_seconds: 600\nnotes: two images')
	run -65 cynork config push -f "$f" --node node-a --node node-b --force --wait --timeout 30s
	assert_output --partial "node node-b refused config"
	assert_output --partial "allowed_images"
	v=$(cynork -o json config get --node node-a | jq -r .config_version)
	[ "$(desired node-a)" = "$v" ]
	[ "$(desired node-b)" = "$v" ]
	run -0 cynork -o json config status
	jq -e --arg v "$v" '.nodes[] | select(.node_slug == "node-a") |
		.state == "applied" and .applied_version == $v and .ack_error == null' <<<"$output"
	jq -e --arg v "$v" --arg old "$old_b" '.nodes[] | select(.node_slug == "node-b") |
		.state == "failed" and .applied_version == $old and .desired_version == $v and
		(.ack_error | contains("allowed_images"))' <<<"$output"
	run -0 cynork config status --no-headers
	assert_line --regexp "^node-a	applied	$v	$v	"
	assert_line --regexp "^node-b	failed	$v	$old_b	.*allowed_images"
	grep -q "event=config_applied.*config_version=$v" "$CY_TMP/node-node-a.log"
	grep -q "event=config_rejected.*config_version=$v" "$CY_TMP/node-node-b.log"
	# The node that refused keeps its configuration and stays dispatchable.
	[ "$(cy_psql "SELECT status FROM nodes WHERE node_slug = 'node-b'")" = active ]
	run -0 cynork config get --node node-a
	assert_output --partial '"busybox:1"'
	assert_output --partial "# config_version $v"
	cy_api GET /readyz
	cy_status 200
	[ "$(cy_psql "SELECT count(*) FROM admin_audit_log WHERE action = 'config.push'")" = 1 ]
}

@test "a pushed timeout cap stops a job; pushing the defaults back lifts it" {
	f=$(doc cap.yaml $'constraints:\n  max_job_timeout_seconds: 2\npolicy:\n  sandbox:\n    allowed_images: [host]')
	run -0 cynork config push -f "$f" --all --wait --timeout 30s
	assert_line --regexp '^config_version=[0-9A-Z]{26} all=true nodes=node-a,node-b$'
	run -124 cynork task create --command 'sleep 6; echo never' --wait
	refute_output --partial never
	run -0 cynork -o json config get
	jq -e '.all == true and .document.constraints.max_job_timeout_seconds == 2' <<<"$output"
	echo '{}' | cynork config push -f - --all --wait --timeout 30s
	run -0 cynork task create --command 'sleep 3; echo lifted' --wait
	assert_output --partial lifted
}

@test "a node registered after a fleet push gets the fleet document" {
	fleet=$(cynork -o json config get | jq -r .config_version)
	cy_node_start node-c orchestrator.heartbeat_interval_seconds=1
	run -0 cynork -o json config get --node node-c
	jq -e --arg v "$fleet" '.config_version == $v and .document == {}' <<<"$output"
	run -0 cynork -o json config status
	jq -e '.nodes[] | select(.node_slug == "node-c") | .state == "applied"' <<<"$output"
	run -66 cynork config get --node no-such-node
	cy_node_stop node-c
}

@test "a node refuses a configuration older than the one it applied" {
	applied=$(cy_psql "SELECT config_applied_version FROM nodes WHERE node_slug = 'node-a'")
	# An older version than the applied one (as a server with a clock far behind would send).
	cy_psql "UPDATE nodes SET config_version = '00000000000000000000000000' WHERE node_slug = 'node-a'"
	for i in $(seq 1 150); do
		[ "$(cy_psql "SELECT config_ack_version FROM nodes WHERE node_slug = 'node-a'")" = 00000000000000000000000000 ] && break
		sleep 0.2
	done
	[ "$(cy_psql "SELECT config_ack_version FROM nodes WHERE node_slug = 'node-a'")" = 00000000000000000000000000 ]
	run cy_psql "SELECT config_ack_status || ' ' || config_ack_error FROM nodes WHERE node_slug = 'node-a'"
	assert_output --partial "failed"
	assert_output --partial "older than the applied $applied"
	[ "$(cy_psql "SELECT config_applied_version FROM nodes WHERE node_slug = 'node-a'")" = "$applied" ]
	# The next push is newer than everything stored, so the node applies it.
	run -0 cynork config push -f "$(doc again.yaml 'notes: again')" --node node-a --wait --timeout 30s
}

@test "inference_backend policy: disabled by the push unless the node requires it; image passed on" {
	tok=$(cy_admin_token)
	for s in inf-1 inf-2; do
		mode=optional
		[ $s = inf-2 ] && mode=require
		cap=$(jq -cn --arg s "$s" --arg m "$mode" '{version:1, reported_at:"2026-01-01T00:00:00Z",
			node:{node_slug:$s}, platform:{os:"linux", arch:"amd64"},
			compute:{cpu_cores:2, ram_mb:2048}, sandbox:{supported:true},
			inference:{supported:true, mode:$m}, worker_api:{base_url:"http://127.0.0.1:9"}}')
		cy_api POST "$CY_CONTROL_URL/v1/nodes/register" "$(jq -cn --arg p "$CY_PSK" --argjson c "$cap" '{psk:$p, capability:$c}')"
		cy_status 201
		declare "jwt_${s/-/_}=$(jq -r .auth.node_jwt <<<"$body")"
	done
	cy_api GET "$CY_CONTROL_URL/v1/nodes/config" "" "$jwt_inf_1"
	jq -e '.inference_backend == {enabled:true, variant:"cpu", port:11434}' <<<"$body"
	cy_api POST /v1/config/push '{"document":{"inference_backend":{"enabled":false,"image":"ollama/ollama:x","port":11500}},"nodes":["inf-1","inf-2"]}' "$tok"
	cy_status 201
	cy_api GET "$CY_CONTROL_URL/v1/nodes/config" "" "$jwt_inf_1"
	jq -e '.inference_backend == {enabled:false}' <<<"$body"
	cy_api GET "$CY_CONTROL_URL/v1/nodes/config" "" "$jwt_inf_2"
	jq -e '.inference_backend == {enabled:true, variant:"cpu", port:11500, image:"ollama/ollama:x"}' <<<"$body"
	cy_api POST /v1/config/push '{"document":{"inference_backend":{"images":{"cpu":"ollama/cpu"}}},"nodes":["inf-1"]}' "$tok"
	cy_api GET "$CY_CONTROL_URL/v1/nodes/config" "" "$jwt_inf_1"
	jq -e '.inference_backend.image == "ollama/cpu" and .inference_backend.enabled' <<<"$body"
	cy_api DELETE /v1/nodes/inf-1?force=true "" "$tok"
	cy_api DELETE /v1/nodes/inf-2?force=true "" "$tok"
}
