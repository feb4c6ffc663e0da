#!/usr/bin/env bats
#
# Admin user management: POST/GET /v1/users, GET /v1/users/{id},
# POST /v1/users/{id}/disable|enable|reset_password|role.  The handle
# "system" is reserved; disabled users cannot log in, refresh, or use any
# token they hold; every action is audited in the same transaction.

load ../lib/harness
load ../lib/identity

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	id_user plain user >/dev/null
}

admin()
{
	cy_api "$1" "$2" "${3:-}" "$(cy_admin_token)"
}

@test "create a user: 201, Argon2id hash stored, the user can log in, audited twice" {
	admin POST /v1/users '{"handle":"uma","password":"correct horse","email":"uma@example.org","role":"operator"}'
	cy_status 201
	run jq -r '.handle, .role, .is_active, .email, (.id|test("^[0-9a-f-]{36}$"))' <<<"$body"
	assert_output $'uma\noperator\ntrue\numa@example.org\ntrue'
	run cy_psql "SELECT hash_alg, convert_from(password_hash, 'UTF8') ~ '^\\\$argon2id\\\$v=19\\\$m=65536,t=3,p=2\\\$'
		FROM password_credentials pc JOIN users u ON u.id = pc.user_id WHERE u.handle = 'uma'"
	assert_output "argon2id|t"
	cy_api POST /v1/auth/login '{"handle":"uma","password":"correct horse"}'
	cy_status 200
	run cy_psql "SELECT count(*) FROM admin_audit_log WHERE action = 'user.create' AND target = 'uma'
		AND details->>'role' = 'operator'"
	assert_output 1
	run cy_psql "SELECT count(*) FROM auth_audit_log WHERE event_type = 'user_created' AND subject_handle = 'uma'"
	assert_output 1
	run cy_psql "SELECT count(*) FROM admin_audit_log WHERE details::text LIKE '%correct horse%'"
	assert_output 0
}

@test "create: garbage is 400, duplicates are 409, system is reserved, non-admins are 403" {
	admin POST /v1/users '{"handle":"system","password":"long enough"}'
	cy_status 400
	run jq -r .detail <<<"$body"
	assert_output "handle 'system' is reserved"
	admin POST /v1/users '{"handle":"System","password":"long enough"}'
	cy_status 400
	admin POST /v1/users '{"handle":"","password":"long enough"}'
	cy_status 400
	admin POST /v1/users '{"handle":"bad handle","password":"long enough"}'
	cy_status 400
	admin POST /v1/users '{"handle":"-dash","password":"long enough"}'
	cy_status 400
	admin POST /v1/users '{"handle":"shortpw","password":"short"}'
	cy_status 400
	admin POST /v1/users '{"handle":"nopw"}'
	cy_status 400
	admin POST /v1/users '{"handle":"r","password":"long enough","role":"root"}'
	cy_status 400
	admin POST /v1/users '{"handle":"e","password":"long enough","email":"no-at-sign"}'
	cy_status 400
	admin POST /v1/users '{"handle":"e","password":"long enough","email":5}'
	cy_status 400
	admin POST /v1/users 'nope'
	cy_status 400
	admin POST /v1/users '{"handle":"plain","password":"long enough"}'
	cy_status 409
	admin POST /v1/users '{"handle":"PLAIN","password":"long enough"}'
	cy_status 409
	id_login plain
	cy_api POST /v1/users '{"handle":"x1","password":"long enough"}' "$access"
	cy_status 403
	cy_api GET /v1/users "" "$access"
	cy_status 403
}

@test "list and get by id or handle; 404 for unknown" {
	local id
	admin GET /v1/users
	cy_status 200
	run jq -r '[.users[].handle] | index("admin") != null, index("system") != null' <<<"$body"
	assert_output $'true\ntrue'
	id=$(cy_psql "SELECT id FROM users WHERE handle = 'plain'")
	admin GET "/v1/users/$id"
	cy_status 200
	run jq -r '.handle, .role' <<<"$body"
	assert_output $'plain\nuser'
	admin GET /v1/users/plain
	run jq -r .id <<<"$body"
	assert_output "$id"
	admin GET /v1/users/nobody
	cy_status 404
	admin GET /v1/users/00000000-0000-4000-8000-000000000000
	cy_status 404
}

@test "disable blocks login, refresh, access and API tokens at once; enable restores login" {
	local tok
	admin POST /v1/users '{"handle":"dana","password":"dana-password"}'
	cy_api POST /v1/auth/login '{"handle":"dana","password":"dana-password"}'
	local a r
	a=$(jq -r .access_token <<<"$body")
	r=$(jq -r .refresh_token <<<"$body")
	cy_api POST /v1/tokens '{"name":"ci"}' "$a"
	tok=$(jq -r .token <<<"$body")
	admin POST /v1/users/dana/disable
	cy_status 200
	run jq -r .is_active <<<"$body"
	assert_output false
	cy_api GET /v1/users/me "" "$a"
	cy_status 401
	cy_api GET /v1/tasks "" "$tok"
	cy_status 401
	cy_api POST /v1/auth/refresh "$(jq -cn --arg t "$r" '{refresh_token:$t}')"
	cy_status 401
	cy_api POST /v1/auth/login '{"handle":"dana","password":"dana-password"}'
	cy_status 401
	run cy_psql "SELECT revoke_reason FROM auth_sessions s JOIN users u ON u.id = s.user_id
		WHERE u.handle = 'dana'"
	assert_output user_disabled
	# Disabling twice changes nothing and audits nothing more.
	admin POST /v1/users/dana/disable
	cy_status 200
	run cy_psql "SELECT count(*) FROM admin_audit_log WHERE action = 'user.disable' AND target = 'dana'"
	assert_output 1
	run cy_psql "SELECT count(*) FROM auth_audit_log WHERE event_type = 'user_disabled' AND subject_handle = 'dana'"
	assert_output 1

	admin POST /v1/users/dana/enable
	cy_status 200
	run jq -r .is_active <<<"$body"
	assert_output true
	cy_api POST /v1/auth/login '{"handle":"dana","password":"dana-password"}'
	cy_status 200
	run cy_psql "SELECT count(*) FROM auth_audit_log WHERE event_type = 'user_reenabled' AND subject_handle = 'dana'"
	assert_output 1
}

@test "reset_password: new password works, old does not, sessions end" {
	local a
	admin POST /v1/users '{"handle":"reese","password":"first-password"}'
	cy_api POST /v1/auth/login '{"handle":"reese","password":"first-password"}'
	a=$(jq -r .access_token <<<"$body")
	admin POST /v1/users/reese/reset_password '{"password":"second-password"}'
	cy_status 204
	cy_api GET /v1/users/me "" "$a"
	cy_status 401
	cy_api POST /v1/auth/login '{"handle":"reese","password":"first-password"}'
	cy_status 401
	cy_api POST /v1/auth/login '{"handle":"reese","password":"second-password"}'
	cy_status 200
	admin POST /v1/users/reese/reset_password '{"password":"short"}'
	cy_status 400
	admin POST /v1/users/reese/reset_password '{}'
	cy_status 400
	admin POST /v1/users/nobody/reset_password '{"password":"long enough"}'
	cy_status 404
	run cy_psql "SELECT count(*) FROM auth_audit_log WHERE event_type = 'password_reset' AND subject_handle = 'reese'"
	assert_output 1
	run cy_psql "SELECT count(*) FROM admin_audit_log WHERE action = 'user.reset_password' AND target = 'reese'"
	assert_output 1
}

@test "role changes: audited with from/to; garbage 400; own role cannot be lowered" {
	admin POST /v1/users/plain/role '{"role":"operator"}'
	cy_status 200
	run jq -r .role <<<"$body"
	assert_output operator
	run cy_psql "SELECT details->>'from', details->>'to' FROM admin_audit_log WHERE action = 'user.set_role' AND target = 'plain'"
	assert_output "user|operator"
	admin POST /v1/users/plain/role '{"role":"god"}'
	cy_status 400
	admin POST /v1/users/plain/role '{}'
	cy_status 400
	admin POST /v1/users/admin/role '{"role":"user"}'
	cy_status 400
	admin POST /v1/users/admin/disable
	cy_status 400
	admin POST /v1/users/plain/role '{"role":"user"}'
	cy_status 200
}

@test "the system user cannot be changed or logged into" {
	local a
	for act in disable enable role reset_password; do
		case $act in
		disable | enable) admin POST "/v1/users/system/$act" '{}' ;;
		role) admin POST /v1/users/system/role '{"role":"admin"}' ;;
		*) admin POST "/v1/users/system/$act" '{"password":"long enough"}' ;;
		esac
		cy_status 400 || { echo "$act -> $status_code"; false; }
		run jq -r .detail <<<"$body"
		assert_output "user 'system' is reserved"
	done
	cy_api POST /v1/auth/login '{"handle":"system","password":"long enough"}'
	cy_status 401
}

@test "a user changes its own password: other sessions end, this one stays, audited" {
	local a1 a2 tok
	admin POST /v1/users '{"handle":"pia","password":"pia-password-1"}'
	cy_api POST /v1/auth/login '{"handle":"pia","password":"pia-password-1"}'
	a1=$(jq -r .access_token <<<"$body")
	cy_api POST /v1/auth/login '{"handle":"pia","password":"pia-password-1"}'
	a2=$(jq -r .access_token <<<"$body")
	cy_api POST /v1/users/me/password '{"current_password":"wrong-one","new_password":"pia-password-2"}' "$a1"
	cy_status 403
	cy_api POST /v1/users/me/password '{"current_password":"pia-password-1","new_password":"short"}' "$a1"
	cy_status 400
	cy_api POST /v1/users/me/password '{"new_password":"pia-password-2"}' "$a1"
	cy_status 400
	cy_api POST /v1/tokens '{"name":"pia-ci"}' "$a1"
	tok=$(jq -r .token <<<"$body")
	cy_api POST /v1/users/me/password '{"current_password":"pia-password-1","new_password":"pia-password-2"}' "$tok"
	cy_status 403
	cy_api POST /v1/users/me/password '{"current_password":"pia-password-1","new_password":"pia-password-2"}' "$a1"
	cy_status 204
	cy_api GET /v1/users/me "" "$a1"
	cy_status 200
	cy_api GET /v1/users/me "" "$a2"
	cy_status 401
	cy_api POST /v1/auth/login '{"handle":"pia","password":"pia-password-1"}'
	cy_status 401
	cy_api POST /v1/auth/login '{"handle":"pia","password":"pia-password-2"}'
	cy_status 200
	run cy_psql "SELECT success, coalesce(reason, '-') FROM auth_audit_log
		WHERE event_type = 'password_changed' AND subject_handle = 'pia' ORDER BY created_at"
	assert_output $'f|wrong current password\nt|-'
}

@test "enable, disable and revoke_sessions take no parameters: other bodies are 400, nothing changes" {
	local id a
	admin POST /v1/users '{"handle":"gary","password":"gary-password"}'
	id=$(jq -r .id <<<"$body")
	cy_api POST /v1/auth/login '{"handle":"gary","password":"gary-password"}'
	a=$(jq -r .access_token <<<"$body")
	for act in disable enable; do
		admin POST "/v1/users/gary/$act" 'not json'
		cy_status 400
		assert_output --partial "invalid JSON"
		admin POST "/v1/users/gary/$act" '{"active":false}'
		cy_status 400
		assert_output --partial "takes no parameters"
	done
	admin POST "/v1/users/$id/revoke_sessions" '["all"]'
	cy_status 400
	[ "$(jq -r .type <<<"$body")" = urn:cynodeai:error:validation ]
	# Still active, the session still works, nothing audited.
	[ "$(cy_psql "SELECT is_active FROM users WHERE handle = 'gary'")" = t ]
	cy_api GET /v1/users/me "" "$a"
	cy_status 200
	[ "$(cy_psql "SELECT count(*) FROM admin_audit_log WHERE target = 'gary' AND action <> 'user.create'")" = 0 ]
	# The empty body and {} are the parameterless forms.
	admin POST /v1/users/gary/disable '{}'
	cy_status 200
	admin POST /v1/users/gary/enable ''
	cy_status 200
}

@test "own password and reset_password: wrong types and bad JSON are 400, the password is kept" {
	local a
	admin POST /v1/users '{"handle":"tess","password":"tess-password"}'
	cy_api POST /v1/auth/login '{"handle":"tess","password":"tess-password"}'
	a=$(jq -r .access_token <<<"$body")
	for b in '{"current_password":"tess-password","new_password":12345678901}' \
		'{"current_password":["tess-password"],"new_password":"tess-password-2"}' \
		'{"current_password":"tess-password","new_password":' '"tess-password-2"'; do
		cy_api POST /v1/users/me/password "$b" "$a"
		cy_status 400 || { echo "$b -> $status_code $body"; false; }
		[ "$(jq -r .type <<<"$body")" = urn:cynodeai:error:validation ]
	done
	cy_api POST /v1/users/me/password '{"current_password":"tess-password","new_password":7}' "$a"
	assert_output --partial new_password
	for b in '{"password":12345678901}' '{"password":null}' '{"password":["x"]}' 'password=x' \
		"{\"password\":\"$(head -c 5000 /dev/zero | tr '\0' p)\"}"; do
		admin POST /v1/users/tess/reset_password "$b"
		cy_status 400 || { echo "${b:0:40} -> $status_code $body"; false; }
	done
	admin POST /v1/users/tess/reset_password '{"password":7}'
	assert_output --partial password
	cy_api POST /v1/auth/login '{"handle":"tess","password":"tess-password"}'
	cy_status 200
	cy_api GET /v1/users/me "" "$a"
	cy_status 200
}

@test "audit list: garbage query values are 400 naming the parameter" {
	local q
	for q in limit=0 limit=501 limit=abc limit=99999999999999999999 source=bogus \
		since=yesterday until=2026-13-01T00:00:00Z cursor=zz 'actor=%ff%fe' 'action=%00x'; do
		admin GET "/v1/audit?$q"
		cy_status 400 || { echo "$q -> $status_code $body"; false; }
		[ "$(jq -r .type <<<"$body")" = urn:cynodeai:error:validation ]
		[[ $(jq -r .detail <<<"$body") == *"${q%%=*}"* ]] || { echo "$q -> $body"; false; }
	done
	admin GET "/v1/audit?limit=1&source=all"
	cy_status 200
}

@test "a password change whose audit row fails is refused (500) and changes nothing; the server serves on" {
	# The audit row is the last statement before COMMIT: when it fails the
	# transaction is aborted and PostgreSQL answers the COMMIT with ROLLBACK,
	# not an error.  That must not be taken for a commit.
	local a1 a2
	admin POST /v1/users '{"handle":"quin","password":"quin-password-1"}'
	cy_status 201
	cy_api POST /v1/auth/login '{"handle":"quin","password":"quin-password-1"}'
	a1=$(jq -r .access_token <<<"$body")
	cy_api POST /v1/auth/login '{"handle":"quin","password":"quin-password-1"}'
	a2=$(jq -r .access_token <<<"$body")
	cy_refuse auth_audit_log "NEW.subject_handle = 'quin' AND NEW.event_type = 'password_changed'"
	cy_api POST /v1/users/me/password '{"current_password":"quin-password-1","new_password":"quin-password-2"}' "$a1"
	cy_refuse_end auth_audit_log
	cy_status 500
	# Nothing was written: the other session lives, the old password works.
	cy_api GET /v1/users/me "" "$a2"
	cy_status 200
	cy_api POST /v1/auth/login '{"handle":"quin","password":"quin-password-2"}'
	cy_status 401
	cy_api POST /v1/auth/login '{"handle":"quin","password":"quin-password-1"}'
	cy_status 200
	# And the same change goes through afterwards.
	cy_api POST /v1/users/me/password '{"current_password":"quin-password-1","new_password":"quin-password-2"}' "$a1"
	cy_status 204
	cy_api POST /v1/auth/login '{"handle":"quin","password":"quin-password-2"}'
	cy_status 200
}

@test "revoke_sessions whose audit row fails is refused (500): the sessions live on" {
	local uid a1
	admin POST /v1/users '{"handle":"rhea","password":"rhea-password-1"}'
	uid=$(jq -r .id <<<"$body")
	cy_api POST /v1/auth/login '{"handle":"rhea","password":"rhea-password-1"}'
	a1=$(jq -r .access_token <<<"$body")
	cy_refuse auth_audit_log "NEW.subject_handle = 'rhea' AND NEW.event_type = 'session_revoked'"
	admin POST "/v1/users/$uid/revoke_sessions"
	cy_refuse_end auth_audit_log
	cy_status 500
	run cy_psql "SELECT count(*) FROM auth_sessions WHERE user_id = '$uid' AND revoked_at IS NULL"
	assert_output 1
	cy_api GET /v1/users/me "" "$a1"
	cy_status 200
	admin POST "/v1/users/$uid/revoke_sessions"
	cy_status 204
	cy_api GET /v1/users/me "" "$a1"
	cy_status 401
}

@test "a password change whose connection dies mid-transaction is refused (500); the server reconnects" {
	# The audit row's trigger ends the server's own database session, as a
	# PostgreSQL restart would: the rest of the transaction must not run on
	# a fresh connection and COMMIT "nothing" as a success.
	local a1 a2
	admin POST /v1/users '{"handle":"sven","password":"sven-password-1"}'
	cy_status 201
	cy_api POST /v1/auth/login '{"handle":"sven","password":"sven-password-1"}'
	a1=$(jq -r .access_token <<<"$body")
	cy_api POST /v1/auth/login '{"handle":"sven","password":"sven-password-1"}'
	a2=$(jq -r .access_token <<<"$body")
	cy_psql "CREATE FUNCTION cy_test_die() RETURNS trigger LANGUAGE plpgsql AS
		\$\$BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(5);
		RETURN NEW; END\$\$;
		CREATE TRIGGER cy_test_die BEFORE INSERT ON auth_audit_log FOR EACH ROW
		WHEN (NEW.subject_handle = 'sven' AND NEW.event_type = 'password_changed')
		EXECUTE FUNCTION cy_test_die()"
	cy_api POST /v1/users/me/password '{"current_password":"sven-password-1","new_password":"sven-password-2"}' "$a1"
	cy_psql "DROP TRIGGER cy_test_die ON auth_audit_log; DROP FUNCTION cy_test_die()"
	cy_status 500
	grep -q 'connection lost inside a transaction' "$CY_TMP/server.log"
	cy_api GET /v1/users/me "" "$a2"
	cy_status 200
	cy_api POST /v1/auth/login '{"handle":"sven","password":"sven-password-2"}'
	cy_status 401
	cy_api POST /v1/users/me/password '{"current_password":"sven-password-1","new_password":"sven-password-2"}' "$a1"
	cy_status 204
	cy_api POST /v1/auth/login '{"handle":"sven","password":"sven-password-2"}'
	cy_status 200
}
