#!/usr/bin/env bats
#
# cynork user, token and audit commands against the real server:
# admin user management, API tokens used through CYNORK_TOKEN, and the
# audit trail with its filters; usage errors exit 64, refusals exit 77.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	cy_login >/dev/null
}

# cynork as another user, with a config dir of its own.
as_user()
{
	local who=$1
	shift
	mkdir -p "$CY_TMP/xdg-$who"
	chmod 0700 "$CY_TMP/xdg-$who"
	XDG_CONFIG_HOME=$CY_TMP/xdg-$who CYNORK_GATEWAY_URL=$CY_GATEWAY_URL "$CY_BUILD/cynork" "$@"
}

@test "user create, list, get (-o json and -o name)" {
	run cynork user create vera --role operator --email vera@example.org --password-stdin <<<"vera-password"
	assert_success
	assert_output --regexp '^user_id=[0-9a-f-]{36} handle=vera role=operator is_active=true email=vera@example.org created_at='
	run cynork user list
	assert_success
	assert_line --index 0 $'USER_ID\tHANDLE\tROLE\tACTIVE\tEMAIL\tCREATED_AT'
	assert_output --partial $'\tvera\toperator\ttrue\tvera@example.org\t'
	run cynork user list --no-headers -o name
	assert_output --partial vera
	refute_output --partial HANDLE
	run cynork -o json user get vera
	assert_success
	run jq -r '.handle, .role, (.user_id | test("^[0-9a-f-]{36}$")), has("id")' <<<"$output"
	assert_output $'vera\noperator\ntrue\nfalse'
	run -66 cynork user get nobody
	assert_output --partial "User not found"
}

@test "user: usage errors exit 64, a reserved or duplicate handle is refused" {
	run -64 cynork user create
	run -64 cynork user create x --role root --password-stdin <<<"long-enough"
	run -64 cynork user set-role vera wizard
	run -64 cynork user set-role vera
	run -64 cynork user create nopw --password-stdin </dev/null
	run -65 cynork user create system --password-stdin <<<"long-enough"
	assert_output --partial "reserved"
	run -65 cynork user create shorty --password-stdin <<<"short"
	assert_output --partial "password must be a string of 8 to 4096 bytes"
	run -73 cynork user create vera --password-stdin <<<"vera-password"
}

@test "user disable / enable / reset-password / set-role / revoke-sessions" {
	printf 'vera-password\n' | as_user vera auth login -u vera --password-stdin
	run as_user vera whoami
	assert_success
	run cynork user disable -y vera
	assert_success
	assert_output --partial "is_active=false"
	run -77 as_user vera whoami
	run cynork user enable vera
	assert_output --partial "is_active=true"
	run cynork user reset-password -y vera --password-stdin <<<"vera-password-2"
	assert_success
	assert_output "user=vera password_reset=true"
	run -77 as_user vera auth login -u vera --password-stdin <<<"vera-password"
	run as_user vera auth login -u vera --password-stdin <<<"vera-password-2"
	assert_success
	run cynork user set-role vera user
	assert_output --partial "role=user"
	run cynork -o json user revoke-sessions -y vera
	run jq -r '.user, .sessions_revoked' <<<"$output"
	assert_output $'vera\ntrue'
	run -77 as_user vera whoami
}

@test "user commands need the admin role (exit 77)" {
	run cynork user create walt --password-stdin <<<"walt-password"
	assert_success
	as_user walt auth login -u walt --password-stdin <<<"walt-password"
	run -77 as_user walt user list
	assert_output --partial "Admin required"
	run -77 as_user walt audit list
	run -77 as_user walt task list --all
	assert_output --partial "Operator role required"
	run cynork task list --all
	assert_success
}

@test "token create prints the token once; CYNORK_TOKEN uses it; revoke ends it" {
	local tok id
	run --separate-stderr cynork token create --name ci-job --scope tasks:read --scope tasks:write --ttl 48h
	assert_success
	[ "$stderr" = "note: store the token now; it is not shown again" ]
	assert_output --regexp '^token_id=[0-9a-f-]{36} name=ci-job scopes=tasks:read,tasks:write expires_at=[^ ]+ token=cyn_[0-9a-f]{48}$'
	tok=$(sed -n 's/.*token=\(cyn_[0-9a-f]*\).*/\1/p' <<<"$output")
	id=$(sed -n 's/^token_id=\([^ ]*\).*/\1/p' <<<"$output")
	run env CYNORK_TOKEN="$tok" XDG_CONFIG_HOME="$CY_TMP/xdg-none" CYNORK_GATEWAY_URL="$CY_GATEWAY_URL" \
		"$CY_BUILD/cynork" whoami
	assert_success
	assert_output --partial "user=admin"
	run env CYNORK_TOKEN="$tok" XDG_CONFIG_HOME="$CY_TMP/xdg-none" CYNORK_GATEWAY_URL="$CY_GATEWAY_URL" \
		"$CY_BUILD/cynork" task list
	assert_success
	# Beyond its scopes: exit 77, the reason said once.
	run -77 --separate-stderr env CYNORK_TOKEN="$tok" XDG_CONFIG_HOME="$CY_TMP/xdg-none" \
		CYNORK_GATEWAY_URL="$CY_GATEWAY_URL" "$CY_BUILD/cynork" nodes list
	[ "$stderr" = "cynork: error: API token scope does not allow this (HTTP 403)" ]
	run cynork token list
	assert_success
	assert_line --index 0 $'TOKEN_ID\tNAME\tPREFIX\tSCOPES\tSTATE\tEXPIRES_AT\tLAST_USED_AT'
	assert_output --partial $'\tci-job\t'"${tok:0:12}"$'\ttasks:read,tasks:write\tactive\t'
	refute_output --partial "$tok"
	run cynork token revoke -y "$id"
	assert_success
	assert_output "token_id=$id revoked=true"
	run -77 env CYNORK_TOKEN="$tok" XDG_CONFIG_HOME="$CY_TMP/xdg-none" CYNORK_GATEWAY_URL="$CY_GATEWAY_URL" \
		"$CY_BUILD/cynork" task list
	run cynork token list
	assert_output --partial $'\trevoked\t'
}

@test "token: -o name prints only the token, -o json the object; bad input exits 64" {
	run --separate-stderr cynork -o name token create --name by-name
	assert_success
	assert_output --regexp '^cyn_[0-9a-f]{48}$'
	run --separate-stderr cynork -o json token create --name by-json --scope nodes:read
	assert_success
	run jq -r '(.token|startswith("cyn_")), (.scopes|join(","))' <<<"$output"
	assert_output $'true\nnodes:read'
	run -64 cynork token create
	run -64 cynork token create --name x --scope tasks:delete
	run -64 cynork token create --name x --ttl forever
	run -64 cynork token revoke
	run -65 cynork token revoke -y not-a-uuid
	run -66 cynork token revoke -y 00000000-0000-4000-8000-000000000000
	run -73 cynork token create --name by-name
	run -77 as_user walt token create --name too-much --scope admin
	assert_output --partial "cannot grant scope 'admin'"
}

@test "audit list: filters by action, actor, source and time; -o json; paging" {
	run cynork audit list --action user.create
	assert_success
	assert_line --index 0 $'EVENT_ID\tTS\tSOURCE\tACTOR\tACTION\tTARGET\tRESULT'
	assert_output --partial $'\tadmin\tadmin\tuser.create\tvera\tok'
	refute_output --partial token.create
	run cynork audit list --action 'user.*' --no-headers
	assert_output --partial user.disable
	assert_output --partial user.reset_password
	refute_output --partial EVENT_ID
	run cynork -o json audit list --source auth --actor vera --action login_failure
	assert_success
	run jq -r '([.events[].action] | unique | join(",")), .events[0].details.reason' <<<"$output"
	assert_output $'login_failure\ninvalid password'
	run cynork -o json audit list --since 1h --source admin
	run jq -r '[.events[].source] | unique | join(",")' <<<"$output"
	assert_output admin
	run cynork -o json audit list --until 2000-01-01T00:00:00Z
	run jq -r '.events | length' <<<"$output"
	assert_output 0
	run cynork audit list --limit 1 --source admin
	assert_success
	assert_output --partial "more: --cursor"
	run -64 cynork audit list --since yesterday
	run -64 cynork audit list --source nodes
	run -64 cynork audit list --limit 0
	run -65 cynork audit list --cursor bogus
}

@test "user passwd changes your own password" {
	run cynork user create quinn --password-stdin <<<"quinn-password-1"
	assert_success
	as_user quinn auth login -u quinn --password-stdin <<<"quinn-password-1"
	run as_user quinn user passwd --password-stdin <<<$'quinn-password-1\nquinn-password-2'
	assert_success
	assert_output "user=me password_changed=true"
	run -77 as_user quinn user passwd --password-stdin <<<$'wrong-password\nquinn-password-3'
	assert_output --partial "current password is wrong"
	run -64 as_user quinn user passwd --password-stdin </dev/null
	run -77 as_user quinn auth login -u quinn --password-stdin <<<"quinn-password-1"
	run as_user quinn auth login -u quinn --password-stdin <<<"quinn-password-2"
	assert_success
}
