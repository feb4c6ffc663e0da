#!/usr/bin/env bats
#
# models.bats: `cynork models list` (GET /v1/models).  The output formats
# are checked against a recording server that answers like the gateway
# (capture.bash: two models with their node counts); error bodies in
# OpenAI's shape and an empty list against the chat-capable gateway
# (chat-gateway.bash; TODO(gateway): fake-ollama until cynode-server serves
# /v1/models).  The login check runs against the real server.

load ../lib/harness
load capture
load chat-gateway
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	cy_login >/dev/null
	capture_start
	chat_gateway_start
}

teardown_file()
{
	cy_teardown_file
}

setup()
{
	if [ -n "${FAKE_URL:-}" ]; then
		curl -s -o /dev/null -X DELETE "$FAKE_URL/_fake/faults"
	fi
}

@test "models list: a TAB table, header model_id nodes owned_by, sorted by id" {
	CYNORK_GATEWAY_URL=$CAPTURE_URL run --separate-stderr cynork models list
	assert_success
	[ "$output" = "$(printf 'model_id\tnodes\towned_by\nalpha:7b\t2\tcynode\nzeta:1b\t1\tcynode')" ]
	run capture_last
	run jq -e '.method == "GET" and .path == "/v1/models" and
		(.headers.authorization | startswith("Bearer "))' <<<"$output"
	assert_success
	CYNORK_GATEWAY_URL=$CAPTURE_URL run cynork models ls --no-headers
	assert_success
	[ "$output" = "$(printf 'alpha:7b\t2\tcynode\nzeta:1b\t1\tcynode')" ]
	CYNORK_GATEWAY_URL=$CAPTURE_URL run cynork model list
	assert_success
}

@test "models list -o name prints the ids, -o json the gateway's answer as it came" {
	CYNORK_GATEWAY_URL=$CAPTURE_URL run cynork -o name models list
	assert_success
	[ "$output" = "$(printf 'alpha:7b\nzeta:1b')" ]
	CYNORK_GATEWAY_URL=$CAPTURE_URL run cynork models list -o json
	assert_success
	[ "${#lines[@]}" -gt 5 ]
	# in the gateway's order, every field kept
	run jq -ce '[.object, [.data[] | .id, .nodes, .owned_by, .object]]' <<<"$output"
	assert_output '["list",["zeta:1b",1,"cynode","model","alpha:7b",2,"cynode","model"]]'
}

@test "models list without a login exits 3 before any request" {
	CYNORK_GATEWAY_URL=http://127.0.0.1:1 CYNORK_TOKEN= \
		run -3 cynork --config "$CY_TMP/none.yaml" models list
}

@test "models list against the chat gateway: every model, a node count or -" {
	need_chat
	run gwcy models list
	assert_success
	assert_line --index 0 "$(printf 'model_id\tnodes\towned_by')"
	assert_line --index 1 --regexp "^$MODEL	([0-9]+|-)	"
	assert_line --index 2 --regexp "^$MODEL2	([0-9]+|-)	"
}

@test "errors in OpenAI's shape are reported with their message and exit code" {
	need_chat
	fake_fault '{"kind":"status","status":503,"path":"/v1/models","count":1,"message":"no inference path"}'
	run -7 --separate-stderr gwcy models list
	[[ $stderr == *"no inference path (HTTP 503)"* ]]
	[ -z "$output" ]
	fake_fault '{"kind":"status","status":400,"path":"/v1/models","count":1,"message":"bad thing"}'
	run -6 --separate-stderr gwcy models list
	[[ $stderr == *"bad thing (HTTP 400)"* ]]
	fake_fault '{"kind":"status","status":404,"path":"/v1/models","count":1,"message":"gone"}'
	run -4 gwcy models list
}

@test "an empty list: the header only (data null or [])" {
	need_chat
	[ "${CHAT_REAL:-0}" = 0 ] || skip "TODO(gateway): a gateway with no model"
	curl -sf -o /dev/null -X POST --data-binary "{\"remove\":[\"$MODEL\",\"$MODEL2\"]}" \
		"$FAKE_URL/_fake/models"
	run gwcy models list
	assert_success
	assert_output "$(printf 'model_id\tnodes\towned_by')"
	run gwcy -o name models list
	assert_success
	assert_output ""
	curl -sf -o /dev/null -X POST --data-binary "{\"add\":[\"$MODEL\",\"$MODEL2\"]}" \
		"$FAKE_URL/_fake/models"
}
