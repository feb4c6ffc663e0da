#!/usr/bin/env bats
#
# cynode-server authentication (contract 2.1, 8): health endpoints, login,
# access/refresh tokens, rotation, logout, session revocation, error bodies,
# the login rate limit, the refusal to start with weak secrets, and config
# validation (unknown keys, secrets in YAML, retention settings).  Runs
# the real server against a private PostgreSQL.

load ../lib/harness

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	# A second, non-admin user sharing the admin's password hash.
	cy_psql "INSERT INTO users (handle) VALUES ('alice');
		INSERT INTO password_credentials (user_id, password_hash)
		SELECT (SELECT id FROM users WHERE handle = 'alice'), password_hash
		FROM password_credentials pc JOIN users u ON u.id = pc.user_id
		WHERE u.handle = 'admin';" >/dev/null
}

# login HANDLE PASSWORD -> sets $status_code, $body
login()
{
	cy_api POST /v1/auth/login "$(jq -cn --arg h "$1" --arg p "$2" '{handle:$h,password:$p}')"
}

@test "healthz answers ok on both listeners" {
	run curl -s -f "$CY_GATEWAY_URL/healthz"
	assert_success
	assert_output ok
	run curl -s -f "$CY_CONTROL_URL/healthz"
	assert_success
	assert_output ok
}

@test "readyz is 503 with a reason while no node is registered" {
	cy_api GET /readyz
	cy_status 503
	[ -n "$body" ]
	cy_api GET "$CY_CONTROL_URL/readyz"
	cy_status 503
}

@test "login returns a bearer token pair" {
	login admin "$CY_ADMIN_PASSWORD"
	cy_status 200
	run jq -r '.token_type, .expires_in, (.access_token|length > 20), (.refresh_token|length > 20)' <<<"$body"
	assert_output $'Bearer\n900\ntrue\ntrue'
}

@test "login with a wrong password or an unknown user is 401 Invalid credentials" {
	login admin wrong-password
	cy_status 401
	run jq -r '.detail, .type' <<<"$body"
	assert_output $'Invalid credentials\nurn:cynodeai:error:authentication'
	login nosuchuser whatever
	cy_status 401
	run jq -r .detail <<<"$body"
	assert_output "Invalid credentials"
	run cy_psql "SELECT count(*) FROM auth_audit_log WHERE event_type = 'login_failure'
		AND reason IN ('invalid password', 'user not found') AND ip_address = '127.0.0.1'"
	assert_output 2
}

@test "login rejects bad JSON, empty fields and oversized bodies" {
	cy_api POST /v1/auth/login '{"handle":"admin"'
	cy_status 400
	run jq -r .type <<<"$body"
	assert_output urn:cynodeai:error:validation
	cy_api POST /v1/auth/login '{"handle":"","password":"x"}'
	cy_status 400
	cy_api POST /v1/auth/login '{"handle":"admin"}'
	cy_status 400
	cy_api POST /v1/auth/login '[1,2]'
	cy_status 400
	head -c 200000 /dev/zero | tr '\0' a >"$CY_TMP/big.json"
	cy_api POST /v1/auth/login "@$CY_TMP/big.json"
	cy_status 413
}

@test "users/me needs a valid access token" {
	local tok sig bad
	tok=$(cy_admin_token)
	cy_api GET /v1/users/me "" "$tok"
	cy_status 200
	run jq -r '.handle, .is_active, (.id|test("^[0-9a-f-]{36}$"))' <<<"$body"
	assert_output $'admin\ntrue\ntrue'

	cy_api GET /v1/users/me
	cy_status 401
	run jq -r .detail <<<"$body"
	assert_output "Missing authorization header"

	# Change the first signature character (its bits are all significant).
	sig=${tok##*.}
	if [ "${sig:0:1}" = A ]; then bad=Q; else bad=A; fi
	cy_api GET /v1/users/me "" "${tok%.*}.$bad${sig:1}"
	cy_status 401
	run jq -r .detail <<<"$body"
	assert_output "Invalid or expired token"
}

@test "a token with alg none or a foreign signature is refused" {
	local tok head payload forged
	tok=$(cy_admin_token)
	payload=$(cut -d. -f2 <<<"$tok")
	head=$(printf '{"alg":"none","typ":"JWT"}' | base64 -w0 | tr '+/' '-_' | tr -d '=')
	cy_api GET /v1/users/me "" "$head.$payload."
	cy_status 401
	head=$(printf '{"alg":"HS256","typ":"JWT"}' | base64 -w0 | tr '+/' '-_' | tr -d '=')
	forged=$(printf '%s.%s' "$head" "$payload" |
		openssl dgst -sha256 -hmac "not-the-server-secret-not-the-server-secret" -binary |
		base64 -w0 | tr '+/' '-_' | tr -d '=')
	cy_api GET /v1/users/me "" "$head.$payload.$forged"
	cy_status 401
}

@test "a refresh token is not an access token" {
	login admin "$CY_ADMIN_PASSWORD"
	local refresh
	refresh=$(jq -r .refresh_token <<<"$body")
	cy_api GET /v1/users/me "" "$refresh"
	cy_status 401
}

@test "refresh rotates: the new pair works, the old refresh token is dead" {
	login admin "$CY_ADMIN_PASSWORD"
	local r1 r2 r3 a2
	r1=$(jq -r .refresh_token <<<"$body")
	cy_api POST /v1/auth/refresh "$(jq -cn --arg t "$r1" '{refresh_token:$t}')"
	cy_status 200
	r2=$(jq -r .refresh_token <<<"$body")
	a2=$(jq -r .access_token <<<"$body")
	[ "$r1" != "$r2" ]
	cy_api GET /v1/users/me "" "$a2"
	cy_status 200
	cy_api POST /v1/auth/refresh "$(jq -cn --arg t "$r2" '{refresh_token:$t}')"
	cy_status 200
	r3=$(jq -r .refresh_token <<<"$body")
	# Reuse of a rotated token (tests/server/identity-sessions.bats covers
	# that it revokes the whole session).
	cy_api POST /v1/auth/refresh "$(jq -cn --arg t "$r1" '{refresh_token:$t}')"
	cy_status 401
	cy_api POST /v1/auth/refresh "$(jq -cn --arg t "$r3" '{refresh_token:$t}')"
	cy_status 401
	cy_api POST /v1/auth/refresh '{"refresh_token":""}'
	cy_status 400
	cy_api POST /v1/auth/refresh '{"refresh_token":"garbage"}'
	cy_status 401
}

# named BODY: the problem in $body names refresh_token when BODY is an object
# (else it is a JSON syntax or type error)
named()
{
	if jq -e 'type == "object"' <<<"$1" >/dev/null 2>&1; then
		[[ $(jq -r .detail <<<"$body") == *refresh_token* ]] || { echo "$1 -> $body"; return 1; }
	else
		[[ $(jq -r .detail <<<"$body") == *"invalid JSON"* ]] || { echo "$1 -> $body"; return 1; }
	fi
}

@test "refresh and logout: bad JSON and wrong types are 400 naming refresh_token; the session lives on" {
	local a r b
	login admin "$CY_ADMIN_PASSWORD"
	a=$(jq -r .access_token <<<"$body")
	r=$(jq -r .refresh_token <<<"$body")
	for b in '{"refresh_token":' '[1]' '{"refresh_token":5}' '{"refresh_token":["x"]}' \
		'{"refresh_token":null}' '{"refresh_token":{}}'; do
		cy_api POST /v1/auth/refresh "$b"
		cy_status 400 || { echo "refresh $b -> $status_code $body"; false; }
		[ "$(jq -r .type <<<"$body")" = urn:cynodeai:error:validation ]
		named "$b"
		[ "$b" = '{"refresh_token":null}' ] && continue
		cy_api POST /v1/auth/logout "$b" "$a"
		cy_status 400 || { echo "logout $b -> $status_code $body"; false; }
		named "$b"
	done
	cy_api GET /v1/users/me "" "$a"
	cy_status 200
	cy_api POST /v1/auth/refresh "$(jq -cn --arg t "$r" '{refresh_token:$t}')"
	cy_status 200
}

@test "logout deactivates the refresh session" {
	login admin "$CY_ADMIN_PASSWORD"
	local a r
	a=$(jq -r .access_token <<<"$body")
	r=$(jq -r .refresh_token <<<"$body")
	cy_api POST /v1/auth/logout "$(jq -cn --arg t "$r" '{refresh_token:$t}')" "$a"
	cy_status 204
	cy_api POST /v1/auth/refresh "$(jq -cn --arg t "$r" '{refresh_token:$t}')"
	cy_status 401
	# The access token died with its session.
	cy_api POST /v1/auth/logout '{"refresh_token":""}' "$a"
	cy_status 401
	login admin "$CY_ADMIN_PASSWORD"
	a=$(jq -r .access_token <<<"$body")
	cy_api POST /v1/auth/logout 'not json' "$a"
	cy_status 400
	cy_api POST /v1/auth/logout '{"refresh_token":""}' "$a"
	cy_status 204
	cy_api POST /v1/auth/logout '{"refresh_token":""}'
	cy_status 401
}

@test "revoke_sessions: admin only, 400 on a bad id, 404 on an unknown user" {
	local admin alice alice_refresh alice_id
	admin=$(cy_admin_token)
	login alice "$CY_ADMIN_PASSWORD"
	cy_status 200
	alice=$(jq -r .access_token <<<"$body")
	alice_refresh=$(jq -r .refresh_token <<<"$body")
	alice_id=$(cy_psql "SELECT id FROM users WHERE handle = 'alice'")

	cy_api POST "/v1/users/$alice_id/revoke_sessions" "" "$alice"
	cy_status 403
	run jq -r .detail <<<"$body"
	assert_output "Admin required"

	cy_api POST /v1/users/not-a-uuid/revoke_sessions "" "$admin"
	cy_status 400
	cy_api POST /v1/users/00000000-0000-4000-8000-000000000000/revoke_sessions "" "$admin"
	cy_status 404

	cy_api POST "/v1/users/$alice_id/revoke_sessions" "" "$admin"
	cy_status 204
	cy_api POST /v1/auth/refresh "$(jq -cn --arg t "$alice_refresh" '{refresh_token:$t}')"
	cy_status 401
	run cy_psql "SELECT count(*) FROM refresh_sessions s JOIN users u ON u.id = s.user_id
		WHERE u.handle = 'alice' AND s.is_active"
	assert_output 0
}

@test "a disabled user can no longer use its access token" {
	local tok
	login alice "$CY_ADMIN_PASSWORD"
	tok=$(jq -r .access_token <<<"$body")
	cy_psql "UPDATE users SET is_active = false WHERE handle = 'alice'"
	cy_api GET /v1/users/me "" "$tok"
	cy_status 401
	login alice "$CY_ADMIN_PASSWORD"
	cy_status 401
	cy_psql "UPDATE users SET is_active = true WHERE handle = 'alice'"
}

@test "unknown routes are 404 problem+json" {
	run curl -s -i "$CY_GATEWAY_URL/v1/no/such/thing"
	assert_output --partial "404"
	assert_output --partial "application/problem+json"
	cy_api GET /v1/no/such/thing
	run jq -r '.status, .type' <<<"$body"
	assert_output $'404\nurn:cynodeai:error:not_found'
}

@test "access tokens expire, and logins are rate limited per client" {
	local gw cp pid tok
	gw=$(cy_free_port)
	cp=$(cy_free_port)
	JWT_ACCESS_DURATION=1s RATE_LIMIT_PER_MINUTE=3 JWT_SECRET=$CY_JWT_SECRET \
		NODE_REGISTRATION_PSK=$CY_PSK \
		stack_server_start "$gw" "$cp" "$CY_TMP/server2.log" "$CY_TMP/server2.pid"
	pid=$(cat "$CY_TMP/server2.pid")
	echo "$pid" >>"$CY_TMP/pids"
	cy_api POST "http://127.0.0.1:$gw/v1/auth/login" \
		"$(jq -cn --arg p "$CY_ADMIN_PASSWORD" '{handle:"admin",password:$p}')"
	cy_status 200
	tok=$(jq -r .access_token <<<"$body")
	[ "$(jq -r .expires_in <<<"$body")" = 1 ]
	sleep 2.1
	cy_api GET "http://127.0.0.1:$gw/v1/users/me" "" "$tok"
	cy_status 401
	run jq -r .detail <<<"$body"
	assert_output "Invalid or expired token"

	cy_api POST "http://127.0.0.1:$gw/v1/auth/login" '{"handle":"admin","password":"x"}'
	cy_status 401
	cy_api POST "http://127.0.0.1:$gw/v1/auth/login" '{"handle":"admin","password":"x"}'
	cy_status 401
	run curl -s -i -H 'Content-Type: application/json' -d '{"handle":"admin","password":"x"}' \
		"http://127.0.0.1:$gw/v1/auth/login"
	assert_output --partial "429"
	assert_output --partial "Retry-After:"
	assert_output --partial "urn:cynodeai:error:rate_limit"
	stack_kill_pid "$pid" 5
}

@test "the server refuses weak or default secrets without --dev" {
	local bin=$CY_BUILD/cynode-server
	run env JWT_SECRET=short NODE_REGISTRATION_PSK=psk-0123456789 "$bin" --migrate-only
	assert_failure
	assert_output --partial "at least 32"
	run env JWT_SECRET=change-me-in-production NODE_REGISTRATION_PSK=psk-0123456789 \
		"$bin" --migrate-only
	assert_failure
	assert_output --partial "known default"
	run env JWT_SECRET="$CY_JWT_SECRET" NODE_REGISTRATION_PSK=default-psk-change-me \
		"$bin" --migrate-only
	assert_failure
	assert_output --partial "known default"
	run env -u JWT_SECRET NODE_REGISTRATION_PSK=psk-0123456789 "$bin" --migrate-only
	assert_failure
	assert_output --partial "JWT_SECRET"
	# A bootstrap password the login body could never carry.
	run env JWT_SECRET="$CY_JWT_SECRET" NODE_REGISTRATION_PSK=psk-0123456789 \
		BOOTSTRAP_ADMIN_PASSWORD="$(printf 'a%.0s' {1..4097})" "$bin" --migrate-only
	assert_failure
	assert_output --partial "longer than 4096 bytes"
	# A secret file others can read is refused; a 0600 one is accepted.
	printf '%s\n' "$CY_JWT_SECRET" >"$CY_TMP/jwt"
	chmod 0644 "$CY_TMP/jwt"
	run env -u JWT_SECRET JWT_SECRET_FILE="$CY_TMP/jwt" NODE_REGISTRATION_PSK=psk-0123456789 \
		CYNODE_MIGRATIONS_DIR="$CY_ROOT/migrations" "$bin" --migrate-only
	assert_failure
	assert_output --partial "owner only"
	chmod 0600 "$CY_TMP/jwt"
	run env -u JWT_SECRET JWT_SECRET_FILE="$CY_TMP/jwt" NODE_REGISTRATION_PSK=psk-0123456789 \
		CYNODE_MIGRATIONS_DIR="$CY_ROOT/migrations" "$bin" --migrate-only
	assert_success
	# --dev allows the defaults.
	run env -u JWT_SECRET -u NODE_REGISTRATION_PSK CYNODE_MIGRATIONS_DIR="$CY_ROOT/migrations" \
		"$bin" --dev --migrate-only
	assert_success
}

@test "command line: --version, --help, bad options, missing --config file" {
	local bin=$CY_BUILD/cynode-server
	run "$bin" --version
	assert_success
	assert_output --regexp '^cynode-server [0-9]+\.[0-9]+\.[0-9]+$'
	run "$bin" --help
	assert_success
	assert_output --partial "--migrate-only"
	run "$bin" --no-such-flag
	[ "$status" -eq 2 ]
	run "$bin" --config "$CY_TMP/missing.yaml"
	assert_failure
	assert_output --partial "missing.yaml"
}

@test "--help and cynode-server(8) name every environment variable the server reads" {
	local v vars
	vars=$(grep -o '"[A-Z][A-Z0-9_]*"' "$CY_ROOT/server/config.c" | tr -d '"' | sort -u)
	[ "$(wc -l <<<"$vars")" -ge 30 ]
	run "$CY_BUILD/cynode-server" --help
	assert_success
	for v in $vars; do
		[[ $output =~ (^|[^A-Z_])${v}([^A-Z_]|$) ]] || { echo "--help lacks $v"; return 1; }
		grep -q "$v" "$CY_ROOT/man/cynode-server.8" || { echo "man page lacks $v"; return 1; }
	done
}

@test "YAML may not carry secrets, and unknown keys name file:line" {
	local bin=$CY_BUILD/cynode-server
	printf 'version: 1\njwt:\n  secret: "0123456789abcdef0123456789abcdef"\n' >"$CY_TMP/bad.yaml"
	run "$bin" --config "$CY_TMP/bad.yaml" --print-config
	assert_failure
	assert_output --partial "bad.yaml:3"
	printf 'version: 1\nlogging:\n  level: debug\n' >"$CY_TMP/ok.yaml"
	run "$bin" --config "$CY_TMP/ok.yaml" --print-config
	assert_success
	assert_output --partial "level: debug"
}

@test "retention settings: YAML and environment; garbage is refused" {
	local bin=$CY_BUILD/cynode-server
	local -a env=(env JWT_SECRET="$CY_JWT_SECRET" NODE_REGISTRATION_PSK=psk-0123456789)
	run "${env[@]}" "$bin" --print-config
	assert_success
	assert_output --partial "finished_tasks: 720h"
	assert_output --partial "interval: 1m"
	printf 'version: 1\nretention:\n  finished_tasks: 0\n  interval: 5s\n' >"$CY_TMP/ret.yaml"
	run "${env[@]}" "$bin" --config "$CY_TMP/ret.yaml" --print-config
	assert_success
	assert_output --partial "finished_tasks: 0s"
	assert_output --partial "interval: 5s"
	run "${env[@]}" RETENTION_INTERVAL=2h "$bin" --config "$CY_TMP/ret.yaml" --print-config
	assert_success
	assert_output --partial "interval: 2h"
	for bad in RETENTION_INTERVAL=0 RETENTION_INTERVAL=0s RETENTION_INTERVAL=25h \
		RETENTION_INTERVAL=soon RETENTION_INTERVAL=-1s RETENTION_INTERVAL=1h30 \
		RETENTION_FINISHED_TASKS=forever RETENTION_FINISHED_TASKS=-1; do
		run "${env[@]}" "$bad" "$bin" --print-config
		[ "$status" -ne 0 ] || { echo "accepted: $bad"; false; }
		assert_output --partial "RETENTION_"
	done
	printf 'version: 1\nretention:\n  interval: often\n' >"$CY_TMP/ret.yaml"
	run "${env[@]}" "$bin" --config "$CY_TMP/ret.yaml" --print-config
	assert_failure
	assert_output --partial "ret.yaml:3"
}

@test "every server.yaml key refuses a value of the wrong type or out of range, naming the key and line" {
	local bin=$CY_BUILD/cynode-server base k v g bad="" n=0

	load ../lib/config-keys
	# Secrets never come from YAML, so the redacted ones are left out.
	base=$("$bin" --dev --print-config | cfgk_leaves | grep -v '<redacted>')
	[ "$(wc -l <<<"$base")" -gt 25 ]
	cfgk_yaml none none <<<"$base" >"$CY_TMP/keys-ok.yaml"
	run "$bin" --dev --config "$CY_TMP/keys-ok.yaml" --print-config
	assert_success
	while IFS=$'\t' read -r k v; do
		[ "$k" != version ] || continue
		while IFS= read -r g; do
			n=$((n + 1))
			cfgk_yaml "$k" "$g" <<<"$base" >"$CY_TMP/keys-bad.yaml"
			run "$bin" --dev --config "$CY_TMP/keys-bad.yaml" --print-config
			if [ "$status" -eq 0 ] || [[ $output != *"keys-bad.yaml:"[0-9]*"'$k'"* ]]; then
				bad="$bad [$k: $g -> $status $output]"
			fi
		done < <(cfgk_garbage "$v")
	done <<<"$base"
	[ "$n" -gt 80 ]
	[ -z "$bad" ] || { echo "accepted or unclear:$bad" >&2; false; }
}

@test "migrations are recorded once" {
	run cy_psql "SELECT version FROM schema_migrations ORDER BY version LIMIT 1"
	assert_output 0001_init.sql
	run cy_psql "SELECT count(*) FROM users WHERE handle IN ('admin', 'system')"
	assert_output 2
}
