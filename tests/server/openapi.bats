#!/usr/bin/env bats
#
# The OpenAPI documents (api/openapi-server.json for the user gateway and
# the control plane, api/openapi-worker.json for the node's Worker API):
# valid OpenAPI 3.1, equal to the programs' route tables and request body
# tables (tests/openapi-check), served at /openapi.json by every listener
# byte for byte, and every answer of a walk through the real API (server,
# PostgreSQL, a node running jobs in bubblewrap) documented: its status,
# its media type and, for JSON, a body valid against the documented schema.

load ../lib/harness

SERVER_DOC=$BATS_TEST_DIRNAME/../../api/openapi-server.json
WORKER_DOC=$BATS_TEST_DIRNAME/../../api/openapi-worker.json
CHECK=$BATS_TEST_DIRNAME/../openapi-check

setup_file()
{
	cy_setup_file
	cy_pg_start
	RUNNER_TOKEN=$(stack_random 32)
	printf '%s\n' "$RUNNER_TOKEN" >"$CY_TMP/wf-token"
	chmod 0600 "$CY_TMP/wf-token"
	cy_server_start SECRETS_KEY="$(printf '%064x' 9)" \
		"WORKFLOW_RUNNER_BEARER_TOKEN_FILE=$CY_TMP/wf-token"
	cy_node_start node-01 orchestrator.report_interval_seconds=1
	CY_TOKEN=$(cy_admin_token)
	export RUNNER_TOKEN CY_TOKEN
}

# oa STATUS METHOD URL [DATA] [TOKEN] [CONTENT_TYPE]: one request whose
# answer must have STATUS and be documented in the document of the program
# that answered (the node's Worker API or the server).  Sets body.  With
# OA_CAPTURE=DIR every answer is also kept in DIR and only its status is
# checked (for writing the documents).
oa()
{
	local want=$1 method=$2 url=$3 data=${4:-} token=${5:-} ctype=${6:-application/json}
	local doc=$SERVER_DOC out path
	# The documents are too big for the environment of the check.
	export -n body
	local -a args=(-s -m 70 -X "$method" -o "$CY_TMP/oa.body" -w '%{http_code} %{content_type}')

	case $url in
	http://* | https://*) ;;
	*) url=$CY_GATEWAY_URL$url ;;
	esac
	[[ $url == "$CY_NODE_URL"/* ]] && doc=$WORKER_DOC
	path=/${url#*://*/}
	[ -n "$token" ] && args+=(-H "Authorization: Bearer $token")
	if [ -n "$data" ]; then
		args+=(-H "Content-Type: $ctype" --data-binary "$data")
	fi
	CY_API_LAST="$method $path"
	out=$(curl "${args[@]}" "$url") || true
	status_code=${out%% *}
	body=$(cat "$CY_TMP/oa.body")
	if [ -n "${OA_CAPTURE:-}" ]; then
		mkdir -p "$OA_CAPTURE"
		cp "$CY_TMP/oa.body" "$OA_CAPTURE/$(printf '%s_%s_%s' "$method" "${path//\//_}" "$status_code")"
	fi
	cy_status "$want" || return 1
	# OA_CAPTURE=DIR: keep every answer there, check statuses only (writing the document).
	[ -z "${OA_CAPTURE:-}" ] || return 0
	"$CHECK" response "$doc" "$method" "$path" "$status_code" "${out#* }" "$CY_TMP/oa.body"
}

@test "both documents are valid OpenAPI 3.1 (openapi-check lint)" {
	run "$CHECK" lint "$SERVER_DOC"
	assert_success
	run "$CHECK" lint "$WORKER_DOC"
	assert_success
	# info.version is the API version the programs report.
	local api
	api=$("$CY_BUILD/cynode-node" --version | sed -n 's/.*(api v\([0-9]*\)).*/\1/p')
	[ -n "$api" ]
	cy_eq "$(jq -r .info.version "$SERVER_DOC")" "$api" "server document version"
	cy_eq "$(jq -r .info.version "$WORKER_DOC")" "$api" "worker document version"
}

@test "the server's document has exactly the routes, auth rules and body tables of cynode-server" {
	"$CY_BUILD/cynode-server" --routes >"$CY_TMP/routes"
	"$CY_BUILD/cynode-server" --route-bodies >"$CY_TMP/bodies"
	jq -e 'length > 20' "$CY_TMP/bodies"
	run "$CHECK" routes "$SERVER_DOC" "$CY_TMP/routes" "$CY_TMP/bodies"
	assert_success
}

@test "the worker document has exactly the routes of cynode-node --routes" {
	"$CY_BUILD/cynode-node" --routes >"$CY_TMP/wroutes"
	run "$CHECK" routes "$WORKER_DOC" "$CY_TMP/wroutes"
	assert_success
}

@test "--routes and --route-bodies: what they print, and garbage refused" {
	run "$CY_BUILD/cynode-node" --routes
	assert_success
	assert_line --index 0 "$(printf 'listener\tmethod\tpattern\tauth')"
	assert_line "$(printf 'worker\tPOST\t/v1/worker/jobs:run\tworker_bearer')"
	assert_line "$(printf 'worker\tGET\t/metrics\tmetrics_token')"
	# No configuration is needed to list them.
	run "$CY_BUILD/cynode-node" --config /nonexistent/node.yaml --routes
	assert_success
	run "$CY_BUILD/cynode-node" --routes=yes
	assert_failure 2
	assert_output --partial usage
	run "$CY_BUILD/cynode-node" --help
	assert_output --partial "--routes"
	run "$CY_BUILD/cynode-server" --route-bodies
	assert_success
	# Valid JSON; a closed table says additionalProperties false, a versioned one its version.
	jq -e '.["POST /v1/auth/login"].additionalProperties == false
		and .["POST /v1/auth/login"].required == ["handle","password"]
		and .["POST /v1/nodes/heartbeat"].properties.version.const == 1
		and (.["POST /v1/nodes/capability"] | has("additionalProperties") | not)' <<<"$output"
	run "$CY_BUILD/cynode-server" --route-bodies=yes
	assert_failure 2
	run "$CY_BUILD/cynode-server" --help
	assert_output --partial "--route-bodies"
}

@test "openapi-check finds a route missing, one too many, a wrong auth rule and a drifted body" {
	"$CY_BUILD/cynode-server" --routes >"$CY_TMP/routes"
	"$CY_BUILD/cynode-server" --route-bodies >"$CY_TMP/bodies"
	# A route the server serves that the document lacks.
	jq 'del(.paths["/v1/tasks/{id}/cancel"])' "$SERVER_DOC" >"$CY_TMP/d1.json"
	run "$CHECK" routes "$CY_TMP/d1.json" "$CY_TMP/routes"
	assert_failure
	assert_output --partial "served but not documented: gateway POST /v1/tasks/{id}/cancel"
	# A documented route nobody serves.
	jq '.paths["/v1/nope"] = .paths["/v1/users/me"]
		| .paths["/v1/nope"].get.operationId = "nope"' "$SERVER_DOC" >"$CY_TMP/d2.json"
	run "$CHECK" routes "$CY_TMP/d2.json" "$CY_TMP/routes"
	assert_failure
	assert_output --partial "documented but not served: gateway GET /v1/nope"
	# A node route documented on the gateway only.
	jq '.paths["/v1/nodes/heartbeat"].post["x-cynode-listeners"] = ["gateway"]' \
		"$SERVER_DOC" >"$CY_TMP/d3.json"
	run "$CHECK" routes "$CY_TMP/d3.json" "$CY_TMP/routes"
	assert_failure
	assert_output --partial "served but not documented: control POST /v1/nodes/heartbeat"
	# The wrong auth rule.
	jq '.paths["/v1/audit"].get["x-cynode-auth"] = "any"' "$SERVER_DOC" >"$CY_TMP/d4.json"
	run "$CHECK" routes "$CY_TMP/d4.json" "$CY_TMP/routes"
	assert_failure
	assert_output --partial "gateway GET /v1/audit: served with auth admin, documented any"
	# A request body that no longer says what the table checks.
	jq '(.paths["/v1/auth/login"].post.requestBody.content["application/json"].schema) =
		{"type":"object"}' "$SERVER_DOC" >"$CY_TMP/d5.json"
	run "$CHECK" routes "$CY_TMP/d5.json" "$CY_TMP/routes" "$CY_TMP/bodies"
	assert_failure
	assert_output --partial "POST /v1/auth/login: documented request body differs from the body table"
}

@test "openapi-check sync (make openapi-sync) rewrites drifted request bodies from the tables, nothing else" {
	"$CY_BUILD/cynode-server" --route-bodies >"$CY_TMP/bodies"
	"$CY_BUILD/cynode-server" --routes >"$CY_TMP/routes"
	jq '.components.schemas.AuthLoginRequest = {"type":"object"}
		| .paths["/v1/tasks"].post.requestBody.content["application/json"].schema = {"type":"object"}' \
		"$SERVER_DOC" >"$CY_TMP/s1.json"
	run "$CHECK" routes "$CY_TMP/s1.json" "$CY_TMP/routes" "$CY_TMP/bodies"
	assert_failure
	run "$CHECK" sync "$CY_TMP/s1.json" "$CY_TMP/bodies"
	assert_success
	assert_output --partial "2 request body schema(s) updated"
	run "$CHECK" routes "$CY_TMP/s1.json" "$CY_TMP/routes" "$CY_TMP/bodies"
	assert_success
	# The component is back as it was; the inline schema now holds the table.
	cy_eq "$(jq -S -c .components.schemas.AuthLoginRequest "$CY_TMP/s1.json")" \
		"$(jq -S -c .components.schemas.AuthLoginRequest "$SERVER_DOC")" AuthLoginRequest
	cy_eq "$(jq -S -c '.paths["/v1/tasks"].post.requestBody.content["application/json"].schema' "$CY_TMP/s1.json")" \
		"$(jq -S -c '.["POST /v1/tasks"]' "$CY_TMP/bodies")" "inline task body"
	# An unchanged document is rewritten byte for byte.
	cp "$SERVER_DOC" "$CY_TMP/s2.json"
	run "$CHECK" sync "$CY_TMP/s2.json" "$CY_TMP/bodies"
	assert_output --partial "0 request body schema(s) updated"
	cmp "$CY_TMP/s2.json" "$SERVER_DOC"
	# A table whose route has no JSON body in the document cannot be synced.
	jq 'del(.paths["/v1/auth/login"].post.requestBody)' "$SERVER_DOC" >"$CY_TMP/s3.json"
	run "$CHECK" sync "$CY_TMP/s3.json" "$CY_TMP/bodies"
	assert_failure
	assert_output --partial "POST /v1/auth/login: has a body table, but no application/json request body to sync"
}

@test "openapi-check lint refuses what is not OpenAPI 3.1" {
	printf '{"openapi":' >"$CY_TMP/bad.json"
	run "$CHECK" lint "$CY_TMP/bad.json"
	assert_failure
	jq '.openapi = "3.0.3"' "$SERVER_DOC" >"$CY_TMP/l1.json"
	run "$CHECK" lint "$CY_TMP/l1.json"
	assert_failure
	assert_output --partial "openapi must be 3.1.x"
	jq '.paths["/v1/users/{id}"].get.parameters = []' "$SERVER_DOC" >"$CY_TMP/l2.json"
	run "$CHECK" lint "$CY_TMP/l2.json"
	assert_failure
	assert_output --partial "path parameters [], template names ['id']"
	jq '.paths["/v1/users/me"].get.responses["200"].content["application/json"].schema =
		{"$ref":"#/components/schemas/NoSuchThing"}' "$SERVER_DOC" >"$CY_TMP/l3.json"
	run "$CHECK" lint "$CY_TMP/l3.json"
	assert_failure
	assert_output --partial "does not resolve"
	jq '.paths["/v1/users/me"].get.responses["200"].content["application/json"].schema =
		{"type":"nonsense"}' "$SERVER_DOC" >"$CY_TMP/l4.json"
	run "$CHECK" lint "$CY_TMP/l4.json"
	assert_failure
	assert_output --partial "not a valid JSON Schema"
	jq '.paths["/v1/audit"].get.operationId = "getUsersMe"' "$SERVER_DOC" >"$CY_TMP/l5.json"
	run "$CHECK" lint "$CY_TMP/l5.json"
	assert_failure
	assert_output --partial "operationId getUsersMe is also"
}

@test "openapi-check response refuses answers the document does not describe" {
	curl -s -o "$CY_TMP/me.json" -H "Authorization: Bearer $CY_TOKEN" "$CY_GATEWAY_URL/v1/users/me"
	run "$CHECK" response "$SERVER_DOC" GET /v1/users/me 200 application/json "$CY_TMP/me.json"
	assert_success
	jq '.components.schemas.UserMe.required += ["nickname"]' "$SERVER_DOC" >"$CY_TMP/r1.json"
	run "$CHECK" response "$CY_TMP/r1.json" GET /v1/users/me 200 application/json "$CY_TMP/me.json"
	assert_failure
	assert_output --partial "'nickname' is a required property"
	jq '.components.schemas.UserMe.properties.is_active = {"type":"string"}' "$SERVER_DOC" >"$CY_TMP/r2.json"
	run "$CHECK" response "$CY_TMP/r2.json" GET /v1/users/me 200 application/json "$CY_TMP/me.json"
	assert_failure
	assert_output --partial "is not of type 'string' at /is_active"
	run "$CHECK" response "$SERVER_DOC" GET /v1/users/me 418 application/json "$CY_TMP/me.json"
	assert_failure
	assert_output --partial "status 418 is not documented"
	run "$CHECK" response "$SERVER_DOC" GET /v1/users/me 200 text/html "$CY_TMP/me.json"
	assert_failure
	assert_output --partial "answered text/html, documented application/json"
	run "$CHECK" response "$SERVER_DOC" GET /v1/no/such/thing 200 application/json "$CY_TMP/me.json"
	assert_failure
	assert_output --partial "no documented operation matches"
	# A literal segment wins over a parameter: /v1/users/me is not /v1/users/{id}.
	run "$CHECK" response "$SERVER_DOC" GET /v1/users/3d3196cc-9232-4628-a6cb-0197bc8759da 200 \
		application/json "$CY_TMP/me.json"
	assert_failure
	assert_output --partial "(/v1/users/{id})"
}

@test "GET /openapi.json: every listener serves its document byte for byte, without auth" {
	local u

	for u in "$CY_GATEWAY_URL" "$CY_CONTROL_URL"; do
		curl -sf -D "$CY_TMP/h" -o "$CY_TMP/served.json" "$u/openapi.json"
		cmp "$CY_TMP/served.json" "$SERVER_DOC"
		grep -qi '^content-type: application/json' "$CY_TMP/h"
	done
	curl -sf -D "$CY_TMP/h" -o "$CY_TMP/served.json" "$CY_NODE_URL/openapi.json"
	cmp "$CY_TMP/served.json" "$WORKER_DOC"
	grep -qi '^content-type: application/json' "$CY_TMP/h"
	# A bad token does not matter; other methods are 405.
	curl -sf -H 'Authorization: Bearer nonsense' -o "$CY_TMP/served.json" "$CY_GATEWAY_URL/openapi.json"
	cmp "$CY_TMP/served.json" "$SERVER_DOC"
	cy_api POST /openapi.json '{}'
	cy_status 405
	cy_api POST "$CY_NODE_URL/openapi.json" '{}'
	cy_status 405
	# Documented as served, in both documents.
	oa 200 GET /openapi.json
	oa 200 GET "$CY_NODE_URL/openapi.json"
}

@test "health answers are documented on every listener" {
	oa 200 GET /healthz
	oa 200 GET /readyz
	oa 200 GET "$CY_CONTROL_URL/healthz"
	oa 200 GET "$CY_NODE_URL/healthz"
	oa 200 GET "$CY_NODE_URL/readyz"
}

@test "walk: identity (login, refresh, users, tokens, audit, logout) is documented" {
	local login refresh access uid tid

	login=$(jq -cn --arg p "$CY_ADMIN_PASSWORD" '{handle:"admin",password:$p}')
	oa 200 POST /v1/auth/login "$login"
	refresh=$(jq -r .refresh_token <<<"$body")
	oa 200 POST /v1/auth/refresh "$(jq -cn --arg r "$refresh" '{refresh_token:$r}')"
	refresh=$(jq -r .refresh_token <<<"$body")
	access=$(jq -r .access_token <<<"$body")
	oa 401 POST /v1/auth/login '{"handle":"admin","password":"wrong-password"}'
	oa 400 POST /v1/auth/login '{"handle":"admin"}'
	oa 401 GET /v1/users/me
	oa 200 GET /v1/users/me "" "$CY_TOKEN"
	oa 201 POST /v1/users '{"handle":"oa-alice","password":"alice-password-1","email":"a@example.org"}' "$CY_TOKEN"
	uid=$(jq -r .id <<<"$body")
	oa 409 POST /v1/users '{"handle":"oa-alice","password":"alice-password-1"}' "$CY_TOKEN"
	oa 200 GET /v1/users "" "$CY_TOKEN"
	oa 200 GET "/v1/users/$uid" "" "$CY_TOKEN"
	oa 404 GET /v1/users/00000000-0000-4000-8000-000000000000 "" "$CY_TOKEN"
	oa 200 POST "/v1/users/$uid/role" '{"role":"operator"}' "$CY_TOKEN"
	oa 204 POST "/v1/users/$uid/reset_password" '{"password":"alice-password-2"}' "$CY_TOKEN"
	oa 200 POST "/v1/users/$uid/disable" '' "$CY_TOKEN"
	oa 200 POST "/v1/users/$uid/enable" '' "$CY_TOKEN"
	oa 204 POST "/v1/users/$uid/revoke_sessions" '' "$CY_TOKEN"
	oa 201 POST /v1/tokens '{"name":"oa-ci","scopes":["tasks:read"],"ttl":"1h"}' "$CY_TOKEN"
	tid=$(jq -r .id <<<"$body")
	oa 200 GET /v1/tokens "" "$CY_TOKEN"
	oa 204 POST "/v1/tokens/$tid/revoke" '' "$CY_TOKEN"
	oa 200 GET "/v1/audit?limit=5" "" "$CY_TOKEN"
	oa 403 GET /v1/audit "" "$(cy_user_token)"
	oa 204 POST /v1/auth/logout "$(jq -cn --arg r "$refresh" '{refresh_token:$r}')" "$access"
}

# A user's access token (the admin is the only one otherwise).
cy_user_token()
{
	curl -s -H 'Content-Type: application/json' \
		--data-binary '{"handle":"oa-alice","password":"alice-password-2"}' \
		"$CY_GATEWAY_URL/v1/auth/login" | jq -r .access_token
}

@test "walk: schedules are documented" {
	oa 201 POST /v1/schedules '{"name":"oa-sched","cron":"@daily","task":{"prompt":"true","input_mode":"commands"}}' "$CY_TOKEN"
	oa 409 POST /v1/schedules '{"name":"oa-sched","cron":"@daily","task":{"prompt":"true","input_mode":"commands"}}' "$CY_TOKEN"
	oa 400 POST /v1/schedules '{"name":"oa-bad","cron":"61 * * * *","task":{"prompt":"true","input_mode":"commands"}}' "$CY_TOKEN"
	oa 200 GET /v1/schedules "" "$CY_TOKEN"
	oa 200 GET /v1/schedules/oa-sched "" "$CY_TOKEN"
	oa 200 PATCH /v1/schedules/oa-sched '{"enabled":false}' "$CY_TOKEN"
	oa 404 GET /v1/schedules/oa-none "" "$CY_TOKEN"
	oa 204 DELETE /v1/schedules/oa-sched "" "$CY_TOKEN"
	oa 404 DELETE /v1/schedules/oa-sched "" "$CY_TOKEN"
}

@test "walk: secrets and skills are documented" {
	local sid

	oa 201 PUT /v1/secrets/OA_KEY '{"value":"s3cret"}' "$CY_TOKEN"
	oa 200 PUT /v1/secrets/OA_KEY '{"value":"s3cret2"}' "$CY_TOKEN"
	oa 200 GET /v1/secrets "" "$CY_TOKEN"
	oa 204 DELETE /v1/secrets/OA_KEY "" "$CY_TOKEN"
	oa 404 DELETE /v1/secrets/OA_KEY "" "$CY_TOKEN"
	oa 201 POST /v1/skills/load '{"name":"oa-skill","content_md":"# Skill\nDo things.\n"}' "$CY_TOKEN"
	sid=$(jq -r .skill_id <<<"$body")
	oa 200 GET /v1/skills "" "$CY_TOKEN"
	oa 200 GET "/v1/skills/$sid" "" "$CY_TOKEN"
	oa 200 PUT "/v1/skills/$sid" '{"content_md":"# Skill\nDo more.\n"}' "$CY_TOKEN"
	oa 204 DELETE "/v1/skills/$sid" "" "$CY_TOKEN"
	oa 404 GET "/v1/skills/$sid" "" "$CY_TOKEN"
}

@test "walk: tasks (upload, create, list, get, wait, result, logs, artifacts, cancel) are documented" {
	local id aid

	printf 'attached\n' >"$CY_TMP/in.txt"
	oa 201 POST /v1/uploads "@$CY_TMP/in.txt" "$CY_TOKEN" application/octet-stream
	oa 201 POST /v1/tasks "$(jq -cn --arg s "$(jq -r .sha256 <<<"$body")" '{input_mode:"commands",
		task_name:"oa-one", prompt:"cat in.txt; mkdir -p out; echo art >out/a.txt; echo err >&2",
		attachments:[{name:"in.txt", sha256:$s}], artifacts:["out/"]}')" "$CY_TOKEN"
	id=$(jq -r .id <<<"$body")
	oa 400 POST /v1/tasks '{"prompt":""}' "$CY_TOKEN"
	oa 200 POST /v1/tasks:wait "$(jq -cn --arg i "$id" '{task_ids:[$i], wait:30}')" "$CY_TOKEN"
	oa 200 GET "/v1/tasks/$id/result?wait=30" "" "$CY_TOKEN"
	[ "$(jq -r .status <<<"$body")" = completed ]
	oa 200 GET "/v1/tasks/$id" "" "$CY_TOKEN"
	oa 200 GET /v1/tasks/oa-one "" "$CY_TOKEN"
	oa 200 GET "/v1/tasks?limit=2" "" "$CY_TOKEN"
	oa 200 GET "/v1/tasks/$id/logs" "" "$CY_TOKEN"
	oa 200 GET "/v1/tasks/$id/artifacts" "" "$CY_TOKEN"
	aid=$(jq -r '.artifacts[0].artifact_id' <<<"$body")
	oa 200 GET "/v1/tasks/$id/artifacts/$aid" "" "$CY_TOKEN"
	[ "$body" = art ]
	oa 409 POST "/v1/tasks/$id/cancel" '' "$CY_TOKEN"
	oa 201 POST /v1/tasks '{"input_mode":"commands","prompt":"sleep 60"}' "$CY_TOKEN"
	id=$(jq -r .id <<<"$body")
	oa 200 POST "/v1/tasks/$id/cancel" '' "$CY_TOKEN"
	oa 404 GET /v1/tasks/no-such-task "" "$CY_TOKEN"
}

@test "walk: nodes, fleet and config push are documented" {
	oa 200 GET /v1/nodes "" "$CY_TOKEN"
	oa 200 GET /v1/nodes/node-01 "" "$CY_TOKEN"
	oa 200 GET /v1/nodes/node-01/telemetry/stats "" "$CY_TOKEN"
	oa 200 GET "/v1/nodes/node-01/telemetry/logs?limit=5" "" "$CY_TOKEN"
	oa 201 POST /v1/nodes/enrollment-tokens '{"node_slug":"node-77","ttl_seconds":600}' "$CY_TOKEN"
	oa 200 POST /v1/nodes/node-01/drain '{"reason":"openapi walk"}' "$CY_TOKEN"
	oa 200 POST /v1/nodes/node-01/undrain '' "$CY_TOKEN"
	oa 200 POST /v1/nodes/node-01/disable '' "$CY_TOKEN"
	oa 200 POST /v1/nodes/node-01/enable '' "$CY_TOKEN"
	oa 404 GET /v1/config "" "$CY_TOKEN"
	oa 200 POST /v1/config/push '{"document":{},"all":true,"dry_run":true}' "$CY_TOKEN"
	oa 201 POST /v1/config/push '{"document":{},"all":true}' "$CY_TOKEN"
	oa 200 GET /v1/config "" "$CY_TOKEN"
	oa 200 GET /v1/config/status "" "$CY_TOKEN"
	oa 200 GET /metrics "" "$CY_TOKEN"
	oa 200 GET /v1/models "" "$CY_TOKEN"
	oa 404 GET /v1/nodes/no-such-node "" "$CY_TOKEN"
}

@test "walk: the node-facing routes and the Worker API are documented" {
	local jwt wtok

	jwt=$(cat "$CY_TMP/node-node-01/state/credentials/node.jwt")
	oa 200 GET "$CY_CONTROL_URL/v1/nodes/config" "" "$jwt"
	wtok=$(jq -r .worker_api.orchestrator_bearer_token <<<"$body")
	oa 401 GET "$CY_CONTROL_URL/v1/nodes/config" "" not-a-jwt
	oa 200 POST "$CY_CONTROL_URL/v1/nodes/heartbeat" '{"version":1,"node_slug":"node-01"}' "$jwt"
	oa 200 POST "$CY_CONTROL_URL/v1/nodes/jobs/sync" '{"version":1,"running":[],"finished":[]}' "$jwt"
	oa 401 POST "$CY_NODE_URL/v1/worker/jobs:run" '{"version":1}'
	oa 200 GET "$CY_NODE_URL/v1/worker/telemetry/node:info" "" "$wtok"
	oa 200 GET "$CY_NODE_URL/v1/worker/telemetry/node:stats" "" "$wtok"
	oa 200 GET "$CY_NODE_URL/v1/worker/telemetry/containers" "" "$wtok"
	oa 200 GET "$CY_NODE_URL/v1/worker/telemetry/logs?limit=3" "" "$wtok"
	oa 404 GET "$CY_NODE_URL/metrics" "" "$wtok"
	oa 404 GET "$CY_NODE_URL/v1/worker/telemetry/containers/no-such-job" "" "$wtok"
	oa 200 POST "$CY_NODE_URL/v1/worker/jobs:run" \
		'{"version":1,"task_id":"oa-task","job_id":"oa-job","sandbox":{"command":["sh","-c","echo hi; exit 3"]}}' "$wtok"
	cy_eq "$(jq -r .exit_code <<<"$body")/$(jq -r .stdout <<<"$body")" "3/hi" "the job's exit code and output"
	oa 400 POST "$CY_NODE_URL/v1/worker/jobs:run" '{"version":1,"task_id":"oa-task"}' "$wtok"
	oa 404 POST "$CY_NODE_URL/v1/worker/jobs/oa-job/cancel" '' "$wtok"
	oa 401 POST "$CY_CONTROL_URL/v1/nodes/register" \
		"$(jq -cn '{psk:"wrong-psk", capability:{version:1, node:{node_slug:"node-99"},
		worker_api:{base_url:"http://127.0.0.1:1"}}}')"
	# A result nobody waits for (redelivered late, say) is taken and not applied.
	oa 200 POST "$CY_CONTROL_URL/v1/nodes/jobs/00000000-0000-4000-8000-000000000000/result" \
		'{"version":1,"job_id":"00000000-0000-4000-8000-000000000000","status":"completed"}' "$jwt"
	cy_eq "$(jq -r .applied <<<"$body")" false applied
}

@test "walk: workflow leases are documented" {
	local tid run

	oa 201 POST /v1/tasks '{"input_mode":"commands","prompt":"true"}' "$CY_TOKEN"
	tid=$(jq -r .id <<<"$body")
	oa 401 POST /v1/workflow/start "$(jq -cn --arg t "$tid" '{task_id:$t, holder:"h1"}')" wrong
	oa 200 POST /v1/workflow/start "$(jq -cn --arg t "$tid" '{task_id:$t, holder:"h1"}')" "$RUNNER_TOKEN"
	run=$(jq -r .run_id <<<"$body")
	oa 409 POST /v1/workflow/start "$(jq -cn --arg t "$tid" '{task_id:$t, holder:"h2"}')" "$RUNNER_TOKEN"
	oa 200 POST /v1/workflow/checkpoint "$(jq -cn --arg t "$tid" --arg r "$run" \
		'{task_id:$t, run_id:$r, holder:"h1", node_id:"step-1", state:{n:1}}')" "$RUNNER_TOKEN"
	oa 200 POST /v1/workflow/resume "$(jq -cn --arg t "$tid" '{task_id:$t, holder:"h1"}')" "$RUNNER_TOKEN"
	oa 200 POST /v1/workflow/release "$(jq -cn --arg t "$tid" --arg r "$run" \
		'{task_id:$t, run_id:$r, holder:"h1"}')" "$RUNNER_TOKEN"
}

@test "walk: chat completions errors are documented in OpenAI's shape" {
	oa 400 POST /v1/chat/completions '{"messages":"nope"}' "$CY_TOKEN"
	oa 401 POST /v1/chat/completions '{"messages":[]}'
}
