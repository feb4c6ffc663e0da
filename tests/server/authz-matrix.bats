#!/usr/bin/env bats
# The authorization matrix: every route of `cynode-server --routes` called
# with every role (user, operator, admin), as a login session and as an API
# token of each scope the role may grant, and with no credential.  A call
# the route's rule admits must get past authorization (any status but
# 401/403; bodies are invalid JSON and ids unknown, so nothing changes); a
# call it does not admit must be 403 (401 without a credential).  Explicit
# lists pin the routes that need no credential or admit any token, so a new
# route with a loose rule fails here until it is listed on purpose.  The
# workflow routes (on both listeners) take only the workflow runner's token
# (tests/server/workflow.bats): every user credential is a 401 there, and the
# runner token opens no other route on either listener.

load ../lib/harness
load ../lib/identity
bats_require_minimum_version 1.5.0

ZERO=00000000-0000-0000-0000-000000000000

setup_file()
{
	cy_setup_file
	cy_pg_start
	# The workflow routes need the runner token: configured, so that they answer 401 (not 503).
	(umask 077 && printf 'matrix-workflow-runner-token\n' >"$CY_TMP/wf-token")
	CY_RATE_LIMIT=1000000 cy_server_start "WORKFLOW_RUNNER_BEARER_TOKEN_FILE=$CY_TMP/wf-token"
	"$CY_BUILD/cynode-server" --routes >"$CY_TMP/routes"
	id_user mx-user user >/dev/null
	id_user mx-operator operator >/dev/null
	: >"$CY_TMP/creds"
	local who role scope
	for who in mx-user:user mx-operator:operator admin:admin; do
		role=${who#*:}
		id_login "${who%%:*}"
		[ -n "$access" ] || { echo "login ${who%%:*} failed: $body" >&2; return 1; }
		printf '%s\tsession\t%s\n' "$role" "$access" >>"$CY_TMP/creds"
		for scope in tasks:read tasks:write nodes:read nodes:write inference secrets metrics admin; do
			cy_api POST /v1/tokens "$(jq -cn --arg s "$scope" --arg n "mx-${role}-${scope/:/-}" \
				'{name:$n, scopes:[$s]}')" "$access"
			case $status_code in
			201) printf '%s\t%s\t%s\n' "$role" "$scope" "$(jq -r .token <<<"$body")" >>"$CY_TMP/creds" ;;
			400 | 403) ;; # a scope the role cannot grant
			*) echo "token $role $scope: $status_code $body" >&2; return 1 ;;
			esac
		done
	done
	export CY_TMP
}

# rank ROLE: user 0, operator 1, admin 2
rank()
{
	case $1 in user) echo 0 ;; operator) echo 1 ;; admin) echo 2 ;; *) echo 9 ;; esac
}

# call METHOD PATTERN [TOKEN]: prints the HTTP status.
call()
{
	local path=${2//\{id\}/$ZERO}
	# The event stream stays open unless asked for the events there are.
	[ "$path" = /v1/events ] && path="$path?follow=false"
	local -a a=(-s -o /dev/null -w '%{http_code}' -m 30 -X "$1")
	[ -n "${3:-}" ] && a+=(-H "Authorization: Bearer $3")
	case $1 in POST | PUT | PATCH) a+=(-H 'Content-Type: application/json' --data-binary 'x') ;; esac
	curl "${a[@]}" "${BASE_URL:-$CY_GATEWAY_URL}$path" || true
}

@test "the route table: only login, refresh and node registration need no credential" {
	run awk -F'\t' 'NR > 1 && $4 == "none" { print $1, $2, $3 }' "$CY_TMP/routes"
	assert_output "gateway POST /v1/auth/login
gateway POST /v1/auth/refresh
gateway POST /v1/nodes/register
control POST /v1/nodes/register"
	! grep -q UNKNOWN "$CY_TMP/routes" || false
}

@test "the route table: only who-am-I admits any token; logout and password need a login session" {
	run awk -F'\t' 'NR > 1 && $4 == "any" { print $2, $3 }' "$CY_TMP/routes"
	assert_output "GET /v1/users/me"
	run awk -F'\t' 'NR > 1 && $4 == "session" { print $2, $3 }' "$CY_TMP/routes"
	assert_output "POST /v1/auth/logout
POST /v1/users/me/password"
	run awk -F'\t' 'NR > 1 && $4 == "account" { print $2, $3 }' "$CY_TMP/routes"
	assert_output "POST /v1/tokens
GET /v1/tokens
POST /v1/tokens/{id}/revoke"
	# Only the workflow routes take the workflow runner's token, and no user credential.
	run awk -F'\t' 'NR > 1 && $4 == "workflow" { print $1, $2, $3, $5, $6 }' "$CY_TMP/routes"
	assert_output "gateway POST /v1/workflow/start - -
gateway POST /v1/workflow/resume - -
gateway POST /v1/workflow/checkpoint - -
gateway POST /v1/workflow/release - -
control POST /v1/workflow/start - -
control POST /v1/workflow/resume - -
control POST /v1/workflow/checkpoint - -
control POST /v1/workflow/release - -"
	# The control plane serves node routes and the workflow routes (contract.md 2.2) only.
	run awk -F'\t' 'NR > 1 && $1 == "control" && $4 != "node" && $4 != "workflow" && $3 != "/v1/nodes/register"' "$CY_TMP/routes"
	assert_output ""
}

@test "every gateway route x every role x session and each token scope: the rule is enforced" {
	local listener method pattern auth least scopes role kind tok st want n=0 bad=0
	while IFS=$'\t' read -r listener method pattern auth least scopes; do
		[ "$listener" = gateway ] || continue
		# No credential.
		st=$(call "$method" "$pattern")
		if [ "$auth" = none ]; then
			[[ $st != 401 && $st != 403 && $st != 000 ]] || { echo "none: $method $pattern -> $st"; bad=$((bad + 1)); }
			continue
		fi
		[ "$st" = 401 ] || { echo "no credential: $method $pattern -> $st (want 401)"; bad=$((bad + 1)); }
		while IFS=$'\t' read -r role kind tok; do
			n=$((n + 1))
			st=$(call "$method" "$pattern" "$tok")
			if [ "$auth" = node ] || [ "$auth" = workflow ]; then
				# Node JWTs and the workflow runner token only: no user credential opens these.
				want=401
			elif [ "$(rank "$role")" -lt "$(rank "$least")" ]; then
				want=403
			elif [ "$kind" = session ]; then
				want=ok
			elif [[ ",$scopes," == *",$kind,"* ]]; then
				want=ok
			else
				want=403
			fi
			if [ "$want" = ok ]; then
				[[ $st != 401 && $st != 403 && $st != 000 ]] || { echo "$role $kind: $method $pattern -> $st (want admitted)"; bad=$((bad + 1)); }
			else
				[ "$st" = "$want" ] || { echo "$role $kind: $method $pattern -> $st (want $want)"; bad=$((bad + 1)); }
			fi
		done <"$CY_TMP/creds"
	done < <(tail -n +2 "$CY_TMP/routes")
	echo "checked $n calls, $bad wrong"
	[ "$n" -gt 500 ]
	[ "$bad" -eq 0 ]
}

@test "a tasks:read token cannot end its owner's session or manage tokens" {
	local tok
	id_login mx-user
	tok=$(awk -F'\t' '$1 == "user" && $2 == "tasks:read" { print $3 }' "$CY_TMP/creds")
	[ -n "$tok" ]
	cy_api POST /v1/auth/logout "{\"refresh_token\":\"$refresh\"}" "$tok"
	cy_status 403
	assert_output --partial "log in"
	cy_api POST /v1/tokens '{"name":"successor","scopes":["tasks:read"]}' "$tok"
	cy_status 403
	cy_api GET /v1/users/me "" "$tok"
	cy_status 200
	# The session is alive: its refresh token still works.
	cy_api POST /v1/auth/refresh "{\"refresh_token\":\"$refresh\"}"
	cy_status 200
}

@test "the workflow runner token opens no other route" {
	local listener method pattern auth rest st bad=0 n=0
	while IFS=$'\t' read -r listener method pattern auth rest; do
		[ "$auth" != none ] && [ "$auth" != workflow ] || continue
		n=$((n + 1))
		if [ "$listener" = control ]; then
			st=$(BASE_URL=$CY_CONTROL_URL call "$method" "$pattern" matrix-workflow-runner-token)
		else
			st=$(call "$method" "$pattern" matrix-workflow-runner-token)
		fi
		[ "$st" = 401 ] || { echo "runner token: $listener $method $pattern -> $st (want 401)"; bad=$((bad + 1)); }
	done < <(tail -n +2 "$CY_TMP/routes")
	[ "$n" -gt 40 ]
	[ "$bad" -eq 0 ]
}
