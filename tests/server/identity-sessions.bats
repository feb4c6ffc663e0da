#!/usr/bin/env bats
#
# Login sessions and JWT rules (contract section 8): access tokens
# of a logged-out or revoked session fail at once, reuse of a rotated
# refresh token revokes the whole session, lifetimes are configurable,
# disabled users are blocked everywhere, and hand-made tokens with a wrong
# algorithm, type, issuer, signature, exp, nbf or iat are all 401.

load ../lib/harness
load ../lib/identity

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	id_user alice user >/dev/null
}

me()
{
	cy_api GET /v1/users/me "" "$1"
}

@test "a re-signed copy of a real access token is accepted (the minting works)" {
	local claims tok
	id_login admin
	claims=$(id_claims "$access")
	tok=$(id_mint '{"alg":"HS256","typ":"JWT"}' "$claims")
	me "$tok"
	cy_status 200
	run jq -r '.iss, .token_type, (.sid|test("^[0-9a-f-]{36}$")), (.jti|length > 0)' <<<"$claims"
	assert_output $'cynodeai\naccess\ntrue\ntrue'
}

@test "JWT: alg none, HS384, HS512 and a foreign secret are 401" {
	local claims
	id_login admin
	claims=$(id_claims "$access")
	me "$(printf '{"alg":"none","typ":"JWT"}' | id_b64url).$(printf '%s' "$claims" | id_b64url)."
	cy_status 401
	for alg in HS384 HS512; do
		local h p sig dg
		dg=sha${alg#HS}
		h=$(printf '{"alg":"%s","typ":"JWT"}' "$alg" | id_b64url)
		p=$(printf '%s' "$claims" | id_b64url)
		sig=$(printf '%s.%s' "$h" "$p" | openssl dgst "-$dg" -hmac "$CY_JWT_SECRET" -binary | id_b64url)
		me "$h.$p.$sig"
		cy_status 401
	done
	me "$(id_mint '{"alg":"HS256","typ":"JWT"}' "$claims" other-secret-other-secret-other-secret-xx)"
	cy_status 401
	run jq -r .detail <<<"$body"
	assert_output "Invalid or expired token"
}

@test "JWT: wrong token_type (refresh, node, none) and wrong issuer are 401" {
	local claims
	id_login admin
	claims=$(id_claims "$access")
	for t in refresh node; do
		me "$(id_mint '{"alg":"HS256"}' "$(jq -c --arg t "$t" '.token_type=$t' <<<"$claims")")"
		cy_status 401
	done
	me "$(id_mint '{"alg":"HS256"}' "$(jq -c 'del(.token_type)' <<<"$claims")")"
	cy_status 401
	me "$(id_mint '{"alg":"HS256"}' "$(jq -c '.iss="someone-else"' <<<"$claims")")"
	cy_status 401
	me "$(id_mint '{"alg":"HS256"}' "$(jq -c 'del(.sid)' <<<"$claims")")"
	cy_status 401
	# A node token on a user route.
	me "$(id_mint '{"alg":"HS256"}' "$(jq -cn --argjson n "$(date +%s)" '{iss:"cynodeai",
		sub:"11111111-1111-4111-8111-111111111111",iat:$n,exp:($n+600),jti:"x",
		token_type:"node",node_id:"11111111-1111-4111-8111-111111111111",node_slug:"n1"}')")"
	cy_status 401
	# The refresh token itself.
	me "$refresh"
	cy_status 401
}

@test "JWT: expired, not yet valid (nbf) and issued in the future (iat) are 401" {
	local claims now
	id_login admin
	claims=$(id_claims "$access")
	now=$(date +%s)
	me "$(id_mint '{"alg":"HS256"}' "$(jq -c --argjson n "$now" '.exp=($n-1)' <<<"$claims")")"
	cy_status 401
	me "$(id_mint '{"alg":"HS256"}' "$(jq -c --argjson n "$now" '.nbf=($n+120)' <<<"$claims")")"
	cy_status 401
	me "$(id_mint '{"alg":"HS256"}' "$(jq -c --argjson n "$now" '.nbf=($n-1)' <<<"$claims")")"
	cy_status 200
	me "$(id_mint '{"alg":"HS256"}' "$(jq -c --argjson n "$now" '.iat=($n+120)' <<<"$claims")")"
	cy_status 401
	me "$(id_mint '{"alg":"HS256"}' "$(jq -c 'del(.exp)' <<<"$claims")")"
	cy_status 401
}

@test "logout kills the session's access token at once; other sessions live on" {
	local a1 a2 r1
	id_login alice
	a1=$access r1=$refresh
	id_login alice
	a2=$access
	me "$a1"
	cy_status 200
	cy_api POST /v1/auth/logout '{}' "$a1"
	cy_status 204
	me "$a1"
	cy_status 401
	cy_api POST /v1/auth/refresh "$(jq -cn --arg t "$r1" '{refresh_token:$t}')"
	cy_status 401
	me "$a2"
	cy_status 200
	run cy_psql "SELECT revoke_reason FROM auth_sessions s JOIN users u ON u.id = s.user_id
		WHERE u.handle = 'alice' AND revoked_at IS NOT NULL"
	assert_output logout
}

@test "logout with another session's refresh token ends that session too" {
	local a1 a2 r2
	id_login alice
	a1=$access
	id_login alice
	a2=$access r2=$refresh
	cy_api POST /v1/auth/logout "$(jq -cn --arg t "$r2" '{refresh_token:$t}')" "$a1"
	cy_status 204
	me "$a2"
	cy_status 401
}

@test "an admin's revoke_sessions kills the user's access tokens at once" {
	local admin alice_id
	admin=$(cy_admin_token)
	alice_id=$(cy_psql "SELECT id FROM users WHERE handle = 'alice'")
	id_login alice
	me "$access"
	cy_status 200
	cy_api POST "/v1/users/$alice_id/revoke_sessions" "" "$admin"
	cy_status 204
	me "$access"
	cy_status 401
	cy_api POST /v1/auth/refresh "$(jq -cn --arg t "$refresh" '{refresh_token:$t}')"
	cy_status 401
	# Audited in both tables.
	run cy_psql "SELECT count(*) FROM auth_audit_log WHERE event_type = 'session_revoked'
		AND subject_handle = 'alice' AND reason = 'revoked by admin'"
	[ "$output" -ge 1 ]
	run cy_psql "SELECT actor_handle, target, details->>'sessions' FROM admin_audit_log
		WHERE action = 'user.revoke_sessions' ORDER BY created_at DESC LIMIT 1"
	assert_output --regexp '^admin\|alice\|[1-9][0-9]*$'
}

@test "reusing a rotated refresh token revokes the whole session" {
	local r1 r2 a2
	id_login alice
	r1=$refresh
	cy_api POST /v1/auth/refresh "$(jq -cn --arg t "$r1" '{refresh_token:$t}')"
	cy_status 200
	r2=$(jq -r .refresh_token <<<"$body")
	a2=$(jq -r .access_token <<<"$body")
	me "$a2"
	cy_status 200
	# The thief (or the owner, whoever comes second) replays r1.
	cy_api POST /v1/auth/refresh "$(jq -cn --arg t "$r1" '{refresh_token:$t}')"
	cy_status 401
	me "$a2"
	cy_status 401
	cy_api POST /v1/auth/refresh "$(jq -cn --arg t "$r2" '{refresh_token:$t}')"
	cy_status 401
	run cy_psql "SELECT count(*) FROM auth_audit_log WHERE event_type = 'session_revoked'
		AND subject_handle = 'alice' AND reason = 'rotated refresh token reused'"
	assert_output 1
	run cy_psql "SELECT count(*) FROM auth_sessions WHERE revoke_reason = 'refresh_reuse'"
	assert_output 1
}

@test "only hashes of refresh tokens are stored" {
	id_login alice
	run cy_psql "SELECT count(*) FROM refresh_sessions
		WHERE refresh_token_hash = sha256(convert_to('$refresh', 'UTF8'))"
	assert_output 1
	run cy_psql "SELECT count(*) FROM refresh_sessions WHERE octet_length(refresh_token_hash) <> 32"
	assert_output 0
}

@test "a disabled user is blocked for access, refresh and login; enabling restores login" {
	id_login alice
	local a=$access r=$refresh
	cy_psql "UPDATE users SET is_active = false WHERE handle = 'alice'"
	me "$a"
	cy_status 401
	cy_api POST /v1/auth/refresh "$(jq -cn --arg t "$r" '{refresh_token:$t}')"
	cy_status 401
	id_login alice
	cy_status 401
	cy_psql "UPDATE users SET is_active = true WHERE handle = 'alice'"
	id_login alice
	cy_status 200
}

@test "lifetimes are configurable: refresh tokens expire" {
	local gw cp pid r
	gw=$(cy_free_port)
	cp=$(cy_free_port)
	JWT_ACCESS_DURATION=2m JWT_REFRESH_DURATION=1s JWT_SECRET=$CY_JWT_SECRET \
		NODE_REGISTRATION_PSK=$CY_PSK \
		stack_server_start "$gw" "$cp" "$CY_TMP/server3.log" "$CY_TMP/server3.pid"
	pid=$(cat "$CY_TMP/server3.pid")
	echo "$pid" >>"$CY_TMP/pids"
	cy_api POST "http://127.0.0.1:$gw/v1/auth/login" \
		"$(jq -cn --arg p "$CY_ADMIN_PASSWORD" '{handle:"admin",password:$p}')"
	cy_status 200
	[ "$(jq -r .expires_in <<<"$body")" = 120 ]
	r=$(jq -r .refresh_token <<<"$body")
	[ $(( $(id_claims "$r" | jq '.exp - .iat') )) -eq 1 ]
	sleep 2.1
	cy_api POST "http://127.0.0.1:$gw/v1/auth/refresh" "$(jq -cn --arg t "$r" '{refresh_token:$t}')"
	cy_status 401
	stack_kill_pid "$pid" 5
	run env JWT_ACCESS_DURATION=0s JWT_SECRET="$CY_JWT_SECRET" NODE_REGISTRATION_PSK=psk-0123456789 \
		"$CY_BUILD/cynode-server" --print-config
	assert_failure
	run env JWT_REFRESH_DURATION=soon JWT_SECRET="$CY_JWT_SECRET" NODE_REGISTRATION_PSK=psk-0123456789 \
		"$CY_BUILD/cynode-server" --print-config
	assert_failure
}
