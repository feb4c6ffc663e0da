#!/usr/bin/env bats
#
# models.bats: `cynork models list` (GET /v1/models).  The output formats
# are checked against a recording server that answers like the gateway
# (capture.bash: two models with their node counts), then against the real
# stack (chat-gateway.bash: the gateway, one node, fake-ollama as its
# backend): the fleet's models, errors in OpenAI's shape, an empty list.

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

setup()
{
	if [ -n "${FAKE_URL:-}" ]; then
		curl -s -o /dev/null -X DELETE "$FAKE_URL/_fake/faults"
	fi
}

@test "models list: a TAB table, header MODEL_ID NODES OWNED_BY, sorted by id" {
	CYNORK_GATEWAY_URL=$CAPTURE_URL run --separate-stderr cynork models list
	assert_success
	[ "$output" = "$(printf 'MODEL_ID\tNODES\tOWNED_BY\nalpha:7b\t2\tcynode\nzeta:1b\t1\tcynode')" ]
	run capture_last
	run jq -e '.method == "GET" and .path == "/v1/models" and
		(.headers.authorization | startswith("Bearer "))' <<<"$output"
	assert_success
	CYNORK_GATEWAY_URL=$CAPTURE_URL run cynork models ls --no-headers
	assert_success
	[ "$output" = "$(printf 'alpha:7b\t2\tcynode\nzeta:1b\t1\tcynode')" ]
	CYNORK_GATEWAY_URL=$CAPTURE_URL run cynork model list
	assert_success
	# -o wide adds CREATED (the answer's Unix time).
	CYNORK_GATEWAY_URL=$CAPTURE_URL run cynork -o wide models list
	assert_success
	assert_line --index 0 "$(printf 'MODEL_ID\tNODES\tOWNED_BY\tCREATED')"
	[ "$(awk -F'\t' '{ print NF }' <<<"$output" | sort -u)" = 4 ]
	[[ ${lines[1]} =~ ^alpha:7b$'\t'2$'\t'cynode$'\t'([0-9]+|-)$ ]]
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

@test "models list without a login exits 77 before any request" {
	CYNORK_GATEWAY_URL=http://127.0.0.1:1 CYNORK_TOKEN= \
		run -77 cynork --config "$CY_TMP/none.yaml" models list
}

@test "models list against the gateway: the fleet's models, one node each" {
	run gwcy models list
	assert_success
	assert_output "$(printf 'MODEL_ID\tNODES\tOWNED_BY\n%s\t1\tcynode\n%s\t1\tcynode' "$MODEL" "$MODEL2")"
	run gwcy -o json models list
	assert_success
	run jq -e --arg a "$MODEL" --arg b "$MODEL2" '.object == "list" and
		([.data[].id] | sort) == ([$a, $b] | sort) and
		(.data | map(.object == "model" and .nodes == 1 and .owned_by == "cynode") | all)' \
		<<<"$output"
	assert_success
}

@test "errors in OpenAI's shape are reported with their message and exit code" {
	local msg

	# the gateway's own words, from error.message
	msg=$(curl -s -H 'Authorization: Bearer not-a-token' "$CY_GATEWAY_URL/v1/models" |
		jq -er '.error.message')
	CYNORK_TOKEN=not-a-token run -77 --separate-stderr gwcy models list
	[[ $stderr == *"$msg (HTTP 401)"* ]]
	[ -z "$output" ]
	CYNORK_TOKEN=not-a-token run -77 --separate-stderr gwcy chat -m hi
	[[ $stderr == *"$msg (HTTP 401)"* ]]
	run -66 --separate-stderr gwcy chat --model no-such:1b -m hi
	[[ $stderr == *"(HTTP 404); 'cynork models list' shows the models"* ]]
}

@test "an empty list: the header only" {
	local i

	curl -sf -o /dev/null -X POST --data-binary "{\"remove\":[\"$MODEL\",\"$MODEL2\"]}" \
		"$FAKE_URL/_fake/models"
	for i in $(seq 1 150); do
		[ -z "$(gw_models)" ] && break
		sleep 0.2
	done
	run gwcy models list
	assert_success
	assert_output "$(printf 'MODEL_ID\tNODES\tOWNED_BY')"
	run gwcy -o name models list
	assert_success
	assert_output ""
	curl -sf -o /dev/null -X POST --data-binary "{\"add\":[\"$MODEL\",\"$MODEL2\"]}" \
		"$FAKE_URL/_fake/models"
	for i in $(seq 1 150); do
		[ "$(gw_models | paste -sd ' ')" = "$MODEL $MODEL2" ] && return 0
		sleep 0.2
	done
	false
}
