#!/usr/bin/env bats
#
# API tokens for CI: POST/GET /v1/tokens, POST
# /v1/tokens/{id}/revoke.  Opaque "cyn_" tokens shown once, stored as
# SHA-256, scoped (never beyond the owner's role), expiring, last-used time
# kept, accepted as a bearer token; revocation, expiry and a disabled owner
# end them at once.

load ../lib/harness
load ../lib/identity

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	id_user tina user >/dev/null
	id_user otto operator >/dev/null
}

# mk TOKEN BODY: POST /v1/tokens
mk()
{
	cy_api POST /v1/tokens "$2" "$1"
}

@test "create: shown once, cyn_ prefix, default scopes and 90-day expiry, stored as SHA-256" {
	local tok id
	id_login tina
	mk "$access" '{"name":"ci-main"}'
	cy_status 201
	tok=$(jq -r .token <<<"$body")
	id=$(jq -r .id <<<"$body")
	[[ $tok =~ ^cyn_[0-9a-f]{48}$ ]]
	run jq -r '.name, (.scopes|join(",")), .token_prefix, .owner' <<<"$body"
	assert_output "ci-main
tasks:read,tasks:write
${tok:0:12}
tina"
	run jq -r '.expires_at' <<<"$body"
	[ "$(date -d "$output" +%s)" -gt $(( $(date +%s) + 89 * 86400 )) ]
	run cy_psql "SELECT count(*) FROM api_tokens WHERE id = '$id'
		AND token_hash = sha256(convert_to('$tok', 'UTF8')) AND token_prefix = '${tok:0:12}'"
	assert_output 1
	# Never listed again.
	cy_api GET /v1/tokens "" "$access"
	cy_status 200
	run jq -r '.tokens | length, (map(has("token")) | any)' <<<"$body"
	assert_output $'1\nfalse'
	run grep -c "$tok" "$CY_TMP/server.log"
	assert_output 0
}

@test "a token works as a bearer token within its scopes and updates last_used_at" {
	local tok tid
	id_login tina
	mk "$access" '{"name":"reader","scopes":["tasks:read"]}'
	tok=$(jq -r .token <<<"$body")
	tid=$(jq -r .id <<<"$body")
	cy_api GET /v1/tasks "" "$tok"
	cy_status 200
	cy_api GET /v1/users/me "" "$tok"
	cy_status 200
	run jq -r .handle <<<"$body"
	assert_output tina
	cy_api POST /v1/tasks '{"prompt":"hi"}' "$tok"
	cy_status 403
	run jq -r .detail <<<"$body"
	assert_output "API token scope does not allow this"
	run cy_psql "SELECT last_used_at IS NOT NULL FROM api_tokens WHERE id = '$tid'"
	assert_output t
	mk "$access" '{"name":"writer","scopes":["tasks:write"]}'
	tok=$(jq -r .token <<<"$body")
	cy_api POST /v1/tasks '{"prompt":"hi","input_mode":"commands"}' "$tok"
	cy_status 201
	# A token cannot mint tokens.
	mk "$tok" '{"name":"child"}'
	cy_status 403
}

@test "scopes never exceed the owner's role; operator node scopes work" {
	local tok
	id_login tina
	mk "$access" '{"name":"n","scopes":["nodes:read"]}'
	cy_status 403
	mk "$access" '{"name":"a","scopes":["admin"]}'
	cy_status 403
	id_login otto
	mk "$access" '{"name":"ops","scopes":["nodes:read"]}'
	cy_status 201
	tok=$(jq -r .token <<<"$body")
	cy_api GET /v1/nodes "" "$tok"
	cy_status 200
	cy_api GET /v1/tasks "" "$tok"
	cy_status 403
	# Demoting the owner takes the node scope away at once.
	id_sql "UPDATE users SET role = 'user' WHERE handle = 'otto'"
	cy_api GET /v1/nodes "" "$tok"
	cy_status 403
	id_sql "UPDATE users SET role = 'operator' WHERE handle = 'otto'"
}

@test "admin-scoped token reaches admin routes" {
	local admin tok
	admin=$(cy_admin_token)
	mk "$admin" '{"name":"root-ci","scopes":["admin"]}'
	cy_status 201
	tok=$(jq -r .token <<<"$body")
	cy_api GET /v1/users "" "$tok"
	cy_status 200
	cy_api GET /v1/tokens?all=true "" "$tok"
	cy_status 200
	run jq -r '[.tokens[].owner] | unique | join(",")' <<<"$body"
	assert_output --partial tina
}

@test "bad input: name, scopes, ttl; duplicate names are 409" {
	id_login tina
	mk "$access" '{}'
	cy_status 400
	mk "$access" '{"name":"has space"}'
	cy_status 400
	mk "$access" "{\"name\":\"$(printf 'x%.0s' {1..65})\"}"
	cy_status 400
	mk "$access" '{"name":"s1","scopes":[]}'
	cy_status 400
	mk "$access" '{"name":"s2","scopes":["tasks:delete"]}'
	cy_status 400
	mk "$access" '{"name":"s3","scopes":"tasks:read"}'
	cy_status 400
	mk "$access" '{"name":"t1","ttl":5}'
	cy_status 400
	mk "$access" '{"name":"t2","ttl":"400d"}'
	cy_status 400
	mk "$access" '{"name":"t3","ttl":"soon"}'
	cy_status 400
	mk "$access" '{"name":"t4","ttl":"7d"}'
	cy_status 201
	mk "$access" '{"name":"t4"}'
	cy_status 409
	mk "$access" 'not json'
	cy_status 400
	cy_api GET "/v1/tokens?all=maybe" "" "$access"
	cy_status 400
	cy_api GET "/v1/tokens?all=true" "" "$access"
	cy_status 403
}

@test "revoke ends a token at once; others' tokens are 404 for users; admins may revoke any" {
	local tok tid other admin
	id_login tina
	mk "$access" '{"name":"to-revoke"}'
	tok=$(jq -r .token <<<"$body")
	tid=$(jq -r .id <<<"$body")
	cy_api GET /v1/tasks "" "$tok"
	cy_status 200
	id_login otto
	other=$access
	cy_api POST "/v1/tokens/$tid/revoke" "" "$other"
	cy_status 404
	id_login tina
	cy_api POST "/v1/tokens/$tid/revoke" "" "$access"
	cy_status 204
	cy_api GET /v1/tasks "" "$tok"
	cy_status 401
	cy_api POST "/v1/tokens/$tid/revoke" "" "$access"
	cy_status 204
	cy_api POST /v1/tokens/not-a-uuid/revoke "" "$access"
	cy_status 400
	cy_api POST /v1/tokens/00000000-0000-4000-8000-000000000000/revoke "" "$access"
	cy_status 404
	mk "$access" '{"name":"admin-kills"}'
	tok=$(jq -r .token <<<"$body")
	tid=$(jq -r .id <<<"$body")
	admin=$(cy_admin_token)
	cy_api POST "/v1/tokens/$tid/revoke" "" "$admin"
	cy_status 204
	cy_api GET /v1/tasks "" "$tok"
	cy_status 401
	run cy_psql "SELECT count(*) FROM admin_audit_log WHERE action = 'token.revoke' AND target = '$tid'
		AND actor_handle = 'admin' AND details->>'owner' = 'tina'"
	assert_output 1
}

@test "revoke takes no parameters: a garbage body is 400 and the token keeps working" {
	local tok tid b
	id_login tina
	mk "$access" '{"name":"not-revoked"}'
	tok=$(jq -r .token <<<"$body")
	tid=$(jq -r .id <<<"$body")
	for b in 'not json' '{"all":true}' '[]'; do
		cy_api POST "/v1/tokens/$tid/revoke" "$b" "$access"
		cy_status 400 || { echo "$b -> $status_code $body"; false; }
		[ "$(jq -r .type <<<"$body")" = urn:cynodeai:error:validation ]
	done
	cy_api POST /v1/tokens/%ff/revoke "" "$access"
	cy_status 400
	cy_api GET /v1/tasks "" "$tok"
	cy_status 200
	[ "$(cy_psql "SELECT revoked_at IS NULL FROM api_tokens WHERE id = '$tid'")" = t ]
}

@test "expired tokens, garbage tokens and a disabled owner are 401" {
	local tok tid
	id_login tina
	mk "$access" '{"name":"short"}'
	tok=$(jq -r .token <<<"$body")
	tid=$(jq -r .id <<<"$body")
	cy_psql "UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = '$tid'"
	cy_api GET /v1/tasks "" "$tok"
	cy_status 401
	cy_api GET /v1/tasks "" "cyn_0123"
	cy_status 401
	cy_api GET /v1/tasks "" "cyn_$(printf '0%.0s' {1..48})"
	cy_status 401
	cy_api GET /v1/tasks "" "cyn_$(printf 'Z%.0s' {1..48})"
	cy_status 401
	mk "$access" '{"name":"owner-disabled"}'
	tok=$(jq -r .token <<<"$body")
	id_sql "UPDATE users SET is_active = false WHERE handle = 'tina'"
	cy_api GET /v1/tasks "" "$tok"
	cy_status 401
	id_sql "UPDATE users SET is_active = true WHERE handle = 'tina'"
	cy_api GET /v1/tasks "" "$tok"
	cy_status 200
}

@test "token creation is audited without the secret" {
	run cy_psql "SELECT count(*) FROM admin_audit_log WHERE action = 'token.create'
		AND actor_handle = 'tina' AND details ? 'scopes' AND NOT details::text LIKE '%cyn_%cyn_%'"
	[ "$output" -ge 3 ]
	run cy_psql "SELECT count(*) FROM admin_audit_log WHERE details::text ~ 'cyn_[0-9a-f]{48}'"
	assert_output 0
}
