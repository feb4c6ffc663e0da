#!/usr/bin/env bats
#
# GET /metrics on the user gateway: Prometheus text format, operator
# credentials required, HTTP request counters labelled by route pattern
# (never by raw URL), task/job/node gauges read from the database.

load ../lib/harness

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
}

@test "metrics: no token is 401, a bad token is 401" {
	cy_api GET /metrics
	cy_status 401
	cy_api GET /metrics "" not-a-token
	cy_status 401
}

@test "metrics: other methods are 405; the control plane does not serve it" {
	cy_api POST /metrics '{}' "$(cy_admin_token)"
	cy_status 405
	cy_api GET "$CY_CONTROL_URL/metrics" "" "$(cy_admin_token)"
	cy_status 404
}

@test "metrics: admin gets Prometheus text with gauges from the database" {
	local tok

	tok=$(cy_admin_token)
	cy_api POST /v1/tasks '{"input_mode":"commands","prompt":"true"}' "$tok"
	cy_status 201
	run curl -s -D "$CY_TMP/h" -H "Authorization: Bearer $tok" "$CY_GATEWAY_URL/metrics"
	[ "$status" -eq 0 ]
	grep -qi '^content-type: text/plain; version=0.0.4' "$CY_TMP/h"
	assert_line '# TYPE cynode_tasks gauge'
	assert_line 'cynode_tasks{state="pending"} 1'
	assert_line 'cynode_tasks{state="completed"} 0'
	assert_line 'cynode_jobs{state="queued"} 1'
	assert_line 'cynode_nodes{state="active"} 0'
	assert_line '# TYPE cynode_http_requests_total counter'
	assert_line --partial 'cynode_http_requests_total{listener="gateway",route="/v1/tasks",method="POST",code="201"} '
	assert_line '# TYPE cynode_http_request_duration_seconds histogram'
	assert_line --partial 'cynode_http_request_duration_seconds_bucket{listener="gateway",route="/v1/tasks",le="+Inf"} '
	assert_line --regexp '^process_resident_memory_bytes [0-9]+$'
	assert_line --regexp '^process_open_fds [0-9]+$'
}

@test "metrics: unknown paths and odd methods do not create series" {
	local tok i

	tok=$(cy_admin_token)
	for i in 1 2 3; do
		curl -s -o /dev/null "$CY_GATEWAY_URL/no/such/path-$i-$RANDOM"
		curl -s -o /dev/null -X "BREW$i" "$CY_GATEWAY_URL/v1/tasks"
	done
	run curl -s -H "Authorization: Bearer $tok" "$CY_GATEWAY_URL/metrics"
	[ "$status" -eq 0 ]
	refute_output --partial 'path-'
	refute_output --partial 'BREW'
	assert_output --partial 'route="unmatched",method="other",code="404"'
	# Every sample line parses as: name{labels} value
	! printf '%s\n' "$output" | grep -v '^#' |
		grep -Ev '^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? [-+0-9.eEInfa]+$'
}

@test "metrics: a scrape token (scope metrics) reads /metrics and nothing else; a user cannot make one" {
	local tok scrape
	tok=$(cy_admin_token)
	cy_api POST /v1/tokens '{"name":"prometheus","scopes":["metrics"]}' "$tok"
	cy_status 201
	scrape=$(jq -r .token <<<"$body")
	cy_api GET /metrics "" "$scrape"
	cy_status 200
	assert_output --partial "cynode_http_requests_total"
	for path in /v1/tasks /v1/nodes /v1/config/status /v1/users /v1/tokens; do
		cy_api GET "$path" "" "$scrape"
		cy_status 403 || { echo "$path"; false; }
	done
	# A plain user's role does not reach /metrics, so it cannot grant the scope.
	cy_api POST /v1/users '{"handle":"scraper","password":"long enough pw"}' "$tok"
	cy_status 201
	cy_api POST /v1/auth/login '{"handle":"scraper","password":"long enough pw"}'
	cy_status 200
	cy_api POST /v1/tokens '{"name":"p","scopes":["metrics"]}' "$(jq -r .access_token <<<"$body")"
	cy_status 403
	assert_output --partial "metrics"
}
