#!/usr/bin/env bats
#
# Roles and default-deny authorization: user, operator, admin;
# every gateway route's auth kind decides in server/auth.c.  Users see and
# act on their own tasks, operators see all tasks and manage nodes, admins
# do everything.  Role changes take effect on the next request.

load ../lib/harness
load ../lib/identity

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	id_user bob user >/dev/null
	id_user carol user >/dev/null
	id_user olga operator >/dev/null
}

@test "the bootstrap admin has role admin, the system user is reserved and inactive" {
	run cy_psql "SELECT handle, role, is_active FROM users WHERE handle IN ('admin', 'system') ORDER BY handle"
	assert_output $'admin|admin|t\nsystem|user|f'
	run cy_psql "INSERT INTO users (handle, role) VALUES ('mallory', 'superuser')"
	assert_failure
	run cy_psql "INSERT INTO users (handle) VALUES ('SYSTEM')"
	assert_failure
}

@test "node views: 403 for a user, 200 for an operator and an admin" {
	id_login bob
	cy_api GET /v1/nodes "" "$access"
	cy_status 403
	run jq -r '.type, .detail' <<<"$body"
	assert_output $'urn:cynodeai:error:authorization\nOperator role required'
	cy_api GET /v1/nodes/some-node "" "$access"
	cy_status 403
	id_login olga
	cy_api GET /v1/nodes "" "$access"
	cy_status 200
	cy_api GET /v1/nodes "" "$(cy_admin_token)"
	cy_status 200
}

@test "admin routes: 403 for a user and an operator" {
	local id
	id=$(cy_psql "SELECT id FROM users WHERE handle = 'carol'")
	for who in bob olga; do
		id_login "$who"
		cy_api POST "/v1/users/$id/revoke_sessions" "" "$access"
		cy_status 403
		run jq -r .detail <<<"$body"
		assert_output "Admin required"
		# Putting a new machine in a node's place is an admin's decision.
		cy_api POST /v1/nodes/any-node/replace "" "$access"
		cy_status 403
	done
}

@test "a role change takes effect on the next request" {
	id_login carol
	cy_api GET /v1/nodes "" "$access"
	cy_status 403
	id_sql "UPDATE users SET role = 'operator' WHERE handle = 'carol'"
	cy_api GET /v1/nodes "" "$access"
	cy_status 200
	id_sql "UPDATE users SET role = 'user' WHERE handle = 'carol'"
	cy_api GET /v1/nodes "" "$access"
	cy_status 403
}

@test "tasks: users see only their own; operators see all; only admins act on others'" {
	local bob carol olga admin tid
	id_login bob; bob=$access
	id_login carol; carol=$access
	id_login olga; olga=$access
	admin=$(cy_admin_token)
	cy_api POST /v1/tasks '{"prompt":"echo hi","input_mode":"commands","task_name":"bobs-task"}' "$bob"
	cy_status 201
	tid=$(jq -r .task_id <<<"$body")

	cy_api GET "/v1/tasks/$tid" "" "$bob"
	cy_status 200
	cy_api GET "/v1/tasks/$tid" "" "$carol"
	cy_status 403
	run jq -r .detail <<<"$body"
	assert_output "Not task owner"
	cy_api GET "/v1/tasks/$tid/result" "" "$carol"
	cy_status 403
	cy_api GET /v1/tasks "" "$carol"
	cy_status 200
	run jq -r --arg t "$tid" '[.tasks[] | select(.task_id == $t)] | length' <<<"$body"
	assert_output 0

	cy_api GET "/v1/tasks/$tid" "" "$olga"
	cy_status 200
	cy_api GET "/v1/tasks/$tid/logs" "" "$olga"
	cy_status 200
	cy_api GET /v1/tasks "" "$olga"
	run jq -r --arg t "$tid" '[.tasks[] | select(.task_id == $t)] | length' <<<"$body"
	assert_output 0
	cy_api GET "/v1/tasks?all=true" "" "$olga"
	cy_status 200
	run jq -r --arg t "$tid" '[.tasks[] | select(.task_id == $t)] | length' <<<"$body"
	assert_output 1
	cy_api GET "/v1/tasks?all=true" "" "$carol"
	cy_status 403
	cy_api GET "/v1/tasks?all=yes" "" "$olga"
	cy_status 400
	cy_api POST "/v1/tasks/$tid/cancel" "" "$olga"
	cy_status 403
	cy_api POST "/v1/tasks/$tid/cancel" "" "$carol"
	cy_status 403

	cy_api GET "/v1/tasks?all=true" "" "$admin"
	run jq -r --arg t "$tid" '[.tasks[] | select(.task_id == $t)] | length' <<<"$body"
	assert_output 1
	cy_api POST "/v1/tasks/$tid/cancel" "" "$admin"
	cy_status 200
	run jq -r .canceled <<<"$body"
	assert_output true
}

@test "every gateway route except login and refresh needs a token" {
	local r
	for r in "GET /v1/users/me" "GET /v1/tasks" "POST /v1/tasks" "GET /v1/tasks/x" \
		"GET /v1/nodes" "POST /v1/auth/logout" \
		"POST /v1/users/00000000-0000-4000-8000-000000000000/revoke_sessions"; do
		if [ "${r% *}" = GET ]; then cy_api GET "${r#* }"; else cy_api POST "${r#* }" '{}'; fi
		cy_status 401 || { echo "$r -> $status_code"; false; }
	done
}
