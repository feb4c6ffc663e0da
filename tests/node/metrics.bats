#!/usr/bin/env bats
#
# The node's GET /metrics on the Worker API: Prometheus text for the holder
# of worker_api.metrics_token_file's token only (the orchestrator's worker
# token, which runs jobs, does not open it); no /metrics without the key;
# the key's file checked like every secret file.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	SCRAPE=scrape-$(stack_random 24)
	(umask 077 && printf '%s\n' "$SCRAPE" >"$CY_TMP/scrape.token")
	cy_node_start node-m "worker_api.metrics_token_file=\"$CY_TMP/scrape.token\""
	M_URL=$CY_NODE_URL
	cy_node_start node-plain
	P_URL=$CY_NODE_URL
	cy_login >/dev/null
	export SCRAPE M_URL P_URL
}

@test "node /metrics: the scrape token reads it; no token, a wrong one or the worker token are 401" {
	cy_api GET "$M_URL/metrics"
	cy_status 401
	cy_api GET "$M_URL/metrics" "" wrong-token-0123456789
	cy_status 401
	# The orchestrator's token runs jobs on this node; it is not a scrape token.
	worker=$(curl -sf -H "Authorization: Bearer $(cat "$CY_TMP/node-node-m/state/credentials/node.jwt")" \
		"$CY_CONTROL_URL/v1/nodes/config" | jq -er .worker_api.orchestrator_bearer_token)
	[ -n "$worker" ]
	cy_api GET "$M_URL/metrics" "" "$worker"
	cy_status 401
	grep -q 'event=metrics_auth_denied' "$CY_TMP/node-node-m.log"
	cy_api GET "$M_URL/metrics" "" "$SCRAPE"
	cy_status 200
	assert_output --partial "# TYPE cynode_node_job_slots gauge"
	assert_output --partial 'cynode_node_config_applied 1'
	assert_output --partial 'cynode_node_disk_free_bytes{dir="state"}'
	assert_output --partial 'cynode_http_requests_total{listener="worker"'
	assert_output --partial 'process_resident_memory_bytes'
	! grep -q "$SCRAPE" "$CY_TMP/node-node-m.log" || false
}

@test "node /metrics counts finished jobs by kind and status" {
	run -0 cynork nodes drain node-plain -y
	run -0 cynork task create --command 'echo counted' --wait
	run -3 cynork task create --command 'exit 3' --wait
	run -0 cynork nodes undrain node-plain
	cy_api GET "$M_URL/metrics" "" "$SCRAPE"
	cy_status 200
	assert_output --partial 'cynode_node_jobs_total{kind="sandbox",status="completed"} 1'
	assert_output --partial 'cynode_node_jobs_total{kind="sandbox",status="failed"} 1'
	assert_output --partial 'cynode_node_jobs_running 0'
}

@test "node /metrics is 404 without worker_api.metrics_token_file, whatever the token" {
	cy_api GET "$P_URL/metrics" "" "$SCRAPE"
	cy_status 404
	assert_output --partial "metrics_token_file"
}

@test "worker_api.metrics_token_file: missing, open to others or too short is refused at start" {
	local conf
	conf=$(cy_node_config node-bad "worker_api.metrics_token_file=\"$CY_TMP/none.token\"")
	run "$CY_BUILD/cynode-node" --config "$conf" --check-config
	cy_eq "$status" 2
	assert_output --partial "metrics_token_file"
	printf 'long-enough-token-value\n' >"$CY_TMP/open.token"
	chmod 0644 "$CY_TMP/open.token"
	conf=$(cy_node_config node-bad "worker_api.metrics_token_file=\"$CY_TMP/open.token\"")
	run "$CY_BUILD/cynode-node" --config "$conf" --check-config
	cy_eq "$status" 2
	assert_output --partial "chmod 600"
	(umask 077 && printf 'short\n' >"$CY_TMP/short.token")
	conf=$(cy_node_config node-bad "worker_api.metrics_token_file=\"$CY_TMP/short.token\"")
	run "$CY_BUILD/cynode-node" --config "$conf" --check-config
	cy_eq "$status" 2
	assert_output --partial "at least 16"
	conf=$(cy_node_config node-bad "worker_api.metrics_token_file=\"$CY_TMP/scrape.token\"")
	run -0 "$CY_BUILD/cynode-node" --config "$conf" --check-config
	assert_output --partial "# metrics token: <redacted>"
	! grep -q "$SCRAPE" <<<"$output" || false
}
