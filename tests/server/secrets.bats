#!/usr/bin/env bats
#
# Job environment and user secrets through the API with the real server,
# PostgreSQL and node: env and secrets in the create body (bounds, reserved
# names, unknown secrets refused before anything is stored), PUT/GET/DELETE
# /v1/secrets with garbage as well as good bodies, scopes of API tokens,
# another user's secrets, the sealed value at rest, and a secret's way to a
# job: in its environment, masked in its output, and nowhere else (task
# JSON, jobs.payload, audit rows, server and node logs, the node's state).

load ../lib/harness

SECRET_VALUE=s3cr3t-Zq8-value-4711

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start SECRETS_KEY=$(printf '%064x' 7) LOG_LEVEL=debug
	cy_psql "INSERT INTO users (handle) VALUES ('alice');
		INSERT INTO password_credentials (user_id, password_hash)
		SELECT (SELECT id FROM users WHERE handle = 'alice'), password_hash
		FROM password_credentials pc JOIN users u ON u.id = pc.user_id
		WHERE u.handle = 'admin';" >/dev/null
	TOKEN=$(cy_admin_token)
	ALICE=$(curl -s -m 10 -H 'Content-Type: application/json' \
		--data-binary "$(jq -cn --arg p "$CY_ADMIN_PASSWORD" '{handle:"alice",password:$p}')" \
		"$CY_GATEWAY_URL/v1/auth/login" | jq -r .access_token)
	export TOKEN ALICE
}

# out FIELD: the field (stdout, stderr) of the last result's first job.
out()
{
	jq -r ".jobs[0].result | if type == \"string\" then fromjson else . end | .$1" <<<"$body"
}

create()
{
	cy_api POST /v1/tasks "$1" "${2:-$TOKEN}"
}

# put NAME VALUE [TOKEN]
put()
{
	cy_api PUT "/v1/secrets/$1" "$(jq -cn --arg v "$2" '{value:$v}')" "${3:-$TOKEN}"
}

@test "PUT /v1/secrets/{name}: 201 created, then 200 replaced; the body holds no value" {
	put DB_PASSWORD "first-value-1234"
	cy_status 201
	[ "$(jq -r .name <<<"$body")" = DB_PASSWORD ]
	[ "$(jq -r .created <<<"$body")" = true ]
	[[ "$body" != *first-value* ]]
	put DB_PASSWORD "$SECRET_VALUE"
	cy_status 200
	[ "$(jq -r .created <<<"$body")" = false ]
	run cy_psql "SELECT count(*) FROM secrets WHERE name = 'DB_PASSWORD'"
	assert_output 1
}

@test "the sealed value at rest is not the plaintext" {
	run cy_psql "SELECT octet_length(value_sealed) FROM secrets WHERE name = 'DB_PASSWORD'"
	cy_eq "$output" "$((${#SECRET_VALUE} + 28))" "sealed length"
	run cy_psql "SELECT count(*) FROM secrets WHERE position(convert_to('$SECRET_VALUE', 'UTF8') in value_sealed) > 0"
	assert_output 0
	run cy_psql "SELECT encode(value_sealed, 'escape') FROM secrets"
	refute_output --partial "$SECRET_VALUE"
}

@test "GET /v1/secrets lists names and times, never values; only the caller's own" {
	put ALICE_ONLY "alice-value-9876" "$ALICE"
	cy_status 201
	cy_api GET /v1/secrets "" "$TOKEN"
	cy_status 200
	[ "$(jq -r '[.secrets[].name] | join(",")' <<<"$body")" = DB_PASSWORD ]
	[ "$(jq -r '.secrets[0].project_id' <<<"$body")" = null ]
	[[ "$(jq -r '.secrets[0].created_at' <<<"$body")" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T ]]
	[[ "$body" != *"$SECRET_VALUE"* ]]
	[ "$(jq -r '.secrets[0] | keys | join(",")' <<<"$body")" = created_at,name,project_id,updated_at ]
	cy_api GET /v1/secrets "" "$ALICE"
	[ "$(jq -r '[.secrets[].name] | join(",")' <<<"$body")" = ALICE_ONLY ]
}

@test "PUT garbage: bad names, bodies, sizes and projects are 400 and store nothing" {
	local before big

	before=$(cy_psql "SELECT count(*) FROM secrets")
	for n in 1BAD BAD-NAME CYNODE_TOKEN INFERENCE_PROXY_URL "$(printf 'A%.0s' {1..129})" '%C3%A9'; do
		put "$n" value-1234
		cy_status 400
	done
	for b in '' 'null' '[]' '"x"' '{}' '{"value":""}' '{"value":1}' '{"value":null}' \
		'{"value":"abcd","extra":1}' '{"value":"ab\u0000cd"}' '{"value":"abcd","project_id":"x"}' \
		'{"value":"abcd"' '{"value":["a"]}'; do
		cy_api PUT /v1/secrets/GARBAGE "$b" "$TOKEN"
		[ "$status_code" = 400 ] || { echo "body $b: $status_code $body" >&2; false; }
	done
	cy_api PUT /v1/secrets/GARBAGE '{"value":"abcd","project_id":"00000000-0000-4000-8000-000000000000"}' "$TOKEN"
	cy_status 400
	[[ "$(jq -r .detail <<<"$body")" == *"unknown project_id"* ]]
	big=$(head -c 65537 /dev/zero | tr '\0' x)
	put BIG "$big"
	cy_status 400
	[[ "$(jq -r .detail <<<"$body")" == *65536* ]]
	put BIG "${big:1}"
	cy_status 201
	cy_api DELETE /v1/secrets/BIG "" "$TOKEN"
	cy_status 204
	cy_eq "$(cy_psql "SELECT count(*) FROM secrets")" "$before" "secrets stored"
}

@test "secrets need a login or a token with scope secrets" {
	cy_api GET /v1/secrets
	cy_status 401
	cy_api POST /v1/tokens '{"name":"ci-tasks","scopes":["tasks:write"]}' "$TOKEN"
	cy_status 201
	tasks_tok=$(jq -r .token <<<"$body")
	cy_api POST /v1/tokens '{"name":"ci-secrets","scopes":["secrets"]}' "$TOKEN"
	cy_status 201
	sec_tok=$(jq -r .token <<<"$body")
	cy_api GET /v1/secrets "" "$tasks_tok"
	cy_status 403
	put FROM_TOKEN value-abcd "$tasks_tok"
	cy_status 403
	put FROM_TOKEN value-abcd "$sec_tok"
	cy_status 201
	cy_api GET /v1/secrets "" "$sec_tok"
	cy_status 200
	cy_api DELETE /v1/secrets/FROM_TOKEN "" "$sec_tok"
	cy_status 204
	# A tasks:write token uses the user's secrets without being able to read them.
	create '{"prompt":"true","input_mode":"commands","secrets":[{"name":"DB_PASSWORD"}]}' "$tasks_tok"
	cy_status 201
	cy_api POST /v1/tasks/"$(jq -r .task_id <<<"$body")"/cancel "" "$TOKEN"
}

@test "DELETE /v1/secrets/{name}: 404 when absent, 400 on a bad name or project" {
	cy_api DELETE /v1/secrets/NOPE "" "$TOKEN"
	cy_status 404
	cy_api DELETE /v1/secrets/ALICE_ONLY "" "$TOKEN"
	cy_status 404
	cy_api DELETE /v1/secrets/BAD-NAME "" "$TOKEN"
	cy_status 400
	cy_api DELETE "/v1/secrets/DB_PASSWORD?project_id=nope" "" "$TOKEN"
	cy_status 400
}

@test "set and delete are audited by name, never by value" {
	run cy_psql "SELECT action || ' ' || target FROM admin_audit_log WHERE action LIKE 'secret.%' ORDER BY created_at LIMIT 2"
	assert_line "secret.set DB_PASSWORD"
	run cy_psql "SELECT count(*) FROM admin_audit_log WHERE action = 'secret.delete' AND target = 'BIG'"
	assert_output 1
	run cy_psql "SELECT count(*) FROM admin_audit_log WHERE details::text LIKE '%$SECRET_VALUE%' OR target LIKE '%$SECRET_VALUE%'"
	assert_output 0
}

@test "create: env and secrets are checked, reserved names refused, nothing stored on error" {
	local before

	before=$(cy_psql "SELECT count(*) FROM tasks")
	for b in '{"env":{"CYNODE_TASK_ID":"x"}}' '{"env":{"INFERENCE_PROXY_URL":"x"}}' \
		'{"env":{"1X":"x"}}' '{"env":{"A-B":"x"}}' '{"env":{"A":1}}' '{"env":{"A":null}}' \
		'{"env":{"A":"x\u0000y"}}' '{"env":["A=B"]}' '{"env":"A=B"}' \
		'{"secrets":["DB_PASSWORD"]}' '{"secrets":[{"name":"NOPE_NOT_THERE"}]}' \
		'{"secrets":[{"name":"CYNODE_X"}]}' '{"secrets":[{"name":"DB_PASSWORD","env":"CYNODE_X"}]}' \
		'{"secrets":[{"name":"DB_PASSWORD","x":1}]}' '{"secrets":[{}]}' \
		'{"env":{"DB_PASSWORD":"x"},"secrets":[{"name":"DB_PASSWORD"}]}' \
		'{"secrets":[{"name":"DB_PASSWORD"},{"name":"DB_PASSWORD"}]}' \
		'{"secrets":[{"name":"ALICE_ONLY"}]}'; do
		create "$(jq -c '. + {prompt:"true",input_mode:"commands"}' <<<"$b")"
		[ "$status_code" = 400 ] || { echo "body $b: $status_code $body" >&2; false; }
	done
	create '{"prompt":"true","input_mode":"commands","secrets":[{"name":"NOPE_NOT_THERE"}]}'
	[[ "$(jq -r .detail <<<"$body")" == *"unknown secret 'NOPE_NOT_THERE'"* ]]
	create '{"prompt":"true","input_mode":"commands","env":{"CYNODE_TASK_ID":"x"}}'
	[[ "$(jq -r .detail <<<"$body")" == *CYNODE_* ]]
	create '{"prompt":"hello","env":{"A":"b"}}'
	cy_status 400
	create "$(jq -cn '{prompt:"true",input_mode:"commands",env:([range(257)] | map({key:"V\(.)",value:"x"}) | from_entries)}')"
	cy_status 400
	create "$(jq -cn --arg v "$(head -c 32769 /dev/zero | tr '\0' x)" '{prompt:"true",input_mode:"commands",env:{BIG:$v}}')"
	cy_status 400
	cy_eq "$(cy_psql "SELECT count(*) FROM tasks")" "$before" "tasks stored"
}

@test "jobs.payload holds env and secret names, never the value" {
	create '{"prompt":"echo $FOO","input_mode":"commands","task_name":"payload-q","env":{"FOO":"bar baz"},"secrets":[{"name":"DB_PASSWORD","env":"PW"}]}'
	cy_status 201
	[[ "$body" != *"$SECRET_VALUE"* ]]
	run cy_psql "SELECT payload->'env'->>'FOO', payload->'secrets'->0->>'name', payload->'secrets'->0->>'env' FROM jobs j JOIN tasks t ON t.id = j.task_id WHERE t.summary = 'payload-q'"
	assert_output "bar baz|DB_PASSWORD|PW"
}

# --- with a real node -------------------------------------------------------

@test "node: env reaches the job, and the secret its variable, masked in the output" {
	cy_node_start node-01
	cy_api GET /v1/tasks/payload-q/result?wait=30 "" "$TOKEN"
	[ "$(jq -r .status <<<"$body")" = completed ]
	[ "$(out stdout)" = "bar baz" ]
	create '{"prompt":"echo \"pw=$PW\"; echo \"$PW\" >&2; printf %s \"$PW\" | wc -c; echo \"$PW\" | cut -c1-6","input_mode":"commands","task_name":"secret-run","secrets":[{"name":"DB_PASSWORD","env":"PW"}]}'
	cy_status 201
	cy_api GET /v1/tasks/secret-run/result?wait=30 "" "$TOKEN"
	[ "$(jq -r .status <<<"$body")" = completed ]
	stdout=$(out stdout)
	stderr=$(out stderr)
	cy_eq "$stdout" "$(printf 'pw=***\n%s\ns3cr3t' "${#SECRET_VALUE}")" stdout
	cy_eq "$stderr" "***" stderr
	cy_api GET /v1/tasks/secret-run/logs "" "$TOKEN"
	[[ "$body" != *"$SECRET_VALUE"* ]]
	[[ "$body" == *"pw=***"* ]]
	# The streamed log is masked at the capture point too, byte for byte.
	run curl -s -m 30 -H "Authorization: Bearer $TOKEN" \
		"$CY_GATEWAY_URL/v1/tasks/secret-run/logs?stream=stdout&format=raw"
	assert_output "$(printf 'pw=***\n%s\ns3cr3t' "${#SECRET_VALUE}")"
	[ "$(cy_psql "SELECT count(*) FROM job_log_chunks c JOIN job_logs l USING (lease_id, stream)
		JOIN jobs j ON j.id = l.job_id JOIN tasks t ON t.id = j.task_id
		WHERE t.summary = 'secret-run'")" -ge 1 ]
	run cy_psql "SELECT count(*) FROM job_log_chunks
		WHERE position(convert_to('$SECRET_VALUE', 'UTF8') IN data) > 0"
	assert_output 0
}

@test "a secret's value is nowhere but in the job: task JSON, DB, audit, logs, node state" {
	cy_api GET /v1/tasks/secret-run "" "$TOKEN"
	[[ "$body" != *"$SECRET_VALUE"* ]]
	cy_api GET /v1/tasks "" "$TOKEN"
	[[ "$body" != *"$SECRET_VALUE"* ]]
	run cy_psql "SELECT count(*) FROM jobs WHERE payload::text LIKE '%$SECRET_VALUE%' OR result::text LIKE '%$SECRET_VALUE%'"
	assert_output 0
	run cy_psql "SELECT count(*) FROM admin_audit_log WHERE coalesce(details::text, '') || coalesce(target, '') LIKE '%$SECRET_VALUE%'"
	assert_output 0
	run grep -rl -- "$SECRET_VALUE" "$CY_TMP"/server.log "$CY_TMP"/node-*.log "$CY_TMP/node-node-01"
	assert_failure
	# job.json is there, without the value.
	run find "$CY_TMP/node-node-01" -name job.json
	assert_success
	[ -n "$output" ]
}

@test "node: a secret deleted between create and dispatch fails the job, naming it" {
	put SHORT_LIVED "short-lived-value-1"
	cy_status 201
	cy_node_stop node-01
	create '{"prompt":"echo $SHORT_LIVED","input_mode":"commands","task_name":"gone","secrets":[{"name":"SHORT_LIVED"}]}'
	cy_status 201
	cy_api DELETE /v1/secrets/SHORT_LIVED "" "$TOKEN"
	cy_status 204
	cy_node_start node-01
	cy_api GET /v1/tasks/gone/result?wait=30 "" "$TOKEN"
	[ "$(jq -r .status <<<"$body")" = failed ]
	[[ "$body" == *"secret 'SHORT_LIVED' no longer exists"* ]]
}

@test "another user's secret is not usable; a project secret wins over the user's own" {
	create '{"prompt":"echo $ALICE_ONLY","input_mode":"commands","secrets":[{"name":"ALICE_ONLY"}]}' "$TOKEN"
	cy_status 400
	proj=$(cy_psql "INSERT INTO projects (slug, display_name) VALUES ('proj-s', 'P') RETURNING id")
	cy_api PUT /v1/secrets/DB_PASSWORD "{\"value\":\"project-value-5678\",\"project_id\":\"$proj\"}" "$TOKEN"
	cy_status 201
	create "{\"prompt\":\"echo \${#DB_PASSWORD}\",\"input_mode\":\"commands\",\"task_name\":\"proj-run\",\"project_id\":\"$proj\",\"secrets\":[{\"name\":\"DB_PASSWORD\"}]}"
	cy_status 201
	cy_api GET /v1/tasks/proj-run/result?wait=30 "" "$TOKEN"
	[ "$(out stdout)" = 18 ]
	cy_api GET /v1/secrets "" "$TOKEN"
	[ "$(jq -r '[.secrets[] | select(.name == "DB_PASSWORD")] | length' <<<"$body")" = 2 ]
	cy_api DELETE "/v1/secrets/DB_PASSWORD?project_id=$proj" "" "$TOKEN"
	cy_status 204
}

@test "a sealed value copied into another user's row does not open there" {
	cy_psql "UPDATE secrets SET value_sealed = (SELECT value_sealed FROM secrets WHERE name = 'DB_PASSWORD' AND project_id IS NULL) WHERE name = 'ALICE_ONLY'"
	create '{"prompt":"echo $ALICE_ONLY","input_mode":"commands","task_name":"copied","secrets":[{"name":"ALICE_ONLY"}]}' "$ALICE"
	cy_status 201
	cy_api GET /v1/tasks/copied/result?wait=30 "" "$ALICE"
	[ "$(jq -r .status <<<"$body")" = failed ]
	[[ "$body" == *"secret 'ALICE_ONLY' cannot be opened"* ]]
	[[ "$body" != *"$SECRET_VALUE"* ]]
}

@test "a secret sealed under another key fails the job cleanly" {
	cy_node_stop node-01
	cy_server_stop
	cy_server_start SECRETS_KEY=$(printf '%064x' 8)
	TOKEN=$(cy_admin_token)
	cy_node_start node-01
	create '{"prompt":"echo $DB_PASSWORD","input_mode":"commands","task_name":"wrong-key","secrets":[{"name":"DB_PASSWORD"}]}'
	cy_status 201
	cy_api GET /v1/tasks/wrong-key/result?wait=30 "" "$TOKEN"
	[ "$(jq -r .status <<<"$body")" = failed ]
	[[ "$body" == *"secret 'DB_PASSWORD' cannot be opened"* ]]
	run grep -c "$SECRET_VALUE" "$CY_TMP/server.log"
	assert_output 0
}

@test "server: a malformed secrets key refuses to start" {
	run env JWT_SECRET=$(printf 'x%.0s' {1..40}) NODE_REGISTRATION_PSK=psk-0123456789 \
		SECRETS_KEY=abc DATABASE_URL="$DATABASE_URL" CYNODE_MIGRATIONS_DIR="$CY_ROOT/migrations" "$CY_BUILD/cynode-server" --migrate-only
	assert_failure
	assert_output --partial "64 hex digits"
	printf '%064x\n' 9 >"$CY_TMP/skey"
	chmod 0644 "$CY_TMP/skey"
	run env JWT_SECRET=$(printf 'x%.0s' {1..40}) NODE_REGISTRATION_PSK=psk-0123456789 \
		SECRETS_KEY_FILE="$CY_TMP/skey" DATABASE_URL="$DATABASE_URL" CYNODE_MIGRATIONS_DIR="$CY_ROOT/migrations" "$CY_BUILD/cynode-server" --migrate-only
	assert_failure
	assert_output --partial "0600"
	chmod 0600 "$CY_TMP/skey"
	run env JWT_SECRET=$(printf 'x%.0s' {1..40}) NODE_REGISTRATION_PSK=psk-0123456789 \
		SECRETS_KEY_FILE="$CY_TMP/skey" DATABASE_URL="$DATABASE_URL" CYNODE_MIGRATIONS_DIR="$CY_ROOT/migrations" "$CY_BUILD/cynode-server" --migrate-only
	assert_success
}
