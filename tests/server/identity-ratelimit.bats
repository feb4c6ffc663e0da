#!/usr/bin/env bats
#
# Login rate limits (contract section 8): per handle and per client
# address, repeated failures lock out for a while, the lockout doubles with
# each further failure, and a locked login is 429 with Retry-After even with
# the right password.  (The per-minute window per address is in auth.bats.)

load ../lib/harness
load ../lib/identity

setup_file()
{
	cy_setup_file
	cy_pg_start
	# A base lockout of 4 s leaves 3 s (the server counts whole seconds) for
	# the next request to still find the lock on a slow machine.
	cy_server_start LOGIN_LOCKOUT_THRESHOLD=3 LOGIN_LOCKOUT_IP_THRESHOLD=12 \
		LOGIN_LOCKOUT_BASE=4s LOGIN_LOCKOUT_MAX=30s
	id_user dave user >/dev/null
	id_user erin user >/dev/null
}

# try HANDLE PASSWORD: sets $status_code, $retry_after, $body
try()
{
	local hdr=$CY_TMP/hdr
	status_code=$(curl -s -D "$hdr" -o "$CY_TMP/body" -w '%{http_code}' \
		-H 'Content-Type: application/json' \
		--data-binary "$(jq -cn --arg h "$1" --arg p "$2" '{handle:$h,password:$p}')" \
		"$CY_GATEWAY_URL/v1/auth/login")
	retry_after=$(tr -d '\r' <"$hdr" | sed -n 's/^[Rr]etry-[Aa]fter: //p')
	body=$(cat "$CY_TMP/body")
}

@test "a handle is locked out after repeated failures, even for the right password" {
	try dave wrong1; cy_status 401
	try dave wrong2; cy_status 401
	try dave wrong3; cy_status 401
	try dave "$CY_ADMIN_PASSWORD"
	cy_status 429
	[ "$retry_after" -ge 1 ] && [ "$retry_after" -le 4 ]
	run jq -r .type <<<"$body"
	assert_output urn:cynodeai:error:rate_limit
	# Another handle from the same address is not affected.
	try erin "$CY_ADMIN_PASSWORD"
	cy_status 200
	run cy_psql "SELECT count(*) FROM auth_audit_log WHERE event_type = 'login_failure'
		AND subject_handle = 'dave' AND reason = 'handle locked out'"
	assert_output 1
	sleep 4.2
	try dave "$CY_ADMIN_PASSWORD"
	cy_status 200
}

@test "the lockout grows with each further failure" {
	try dave wrong1; try dave wrong2; try dave wrong3
	try dave wrong4
	cy_status 429
	[ "$retry_after" -le 4 ]
	sleep 4.2
	try dave wrong5
	cy_status 401
	try dave "$CY_ADMIN_PASSWORD"
	cy_status 429
	[ "$retry_after" -gt 4 ] && [ "$retry_after" -le 8 ]
}

@test "a client address is locked out after failures across many handles" {
	local i
	# 7 failures so far from this address; 5 more reach the threshold of 12.
	for i in 1 2 3 4 5; do
		try "nobody$i" whatever
		cy_status 401
	done
	try erin "$CY_ADMIN_PASSWORD"
	cy_status 429
	[ "$retry_after" -ge 1 ]
	run cy_psql "SELECT count(*) FROM auth_audit_log WHERE reason = 'address locked out'"
	assert_output 1
}

@test "lockout settings reject garbage" {
	run env LOGIN_LOCKOUT_THRESHOLD=0 JWT_SECRET="$CY_JWT_SECRET" NODE_REGISTRATION_PSK=psk-0123456789 \
		"$CY_BUILD/cynode-server" --print-config
	assert_failure
	run env LOGIN_LOCKOUT_BASE=forever JWT_SECRET="$CY_JWT_SECRET" NODE_REGISTRATION_PSK=psk-0123456789 \
		"$CY_BUILD/cynode-server" --print-config
	assert_failure
	run env LOGIN_LOCKOUT_MAX=10m JWT_SECRET="$CY_JWT_SECRET" NODE_REGISTRATION_PSK=psk-0123456789 \
		"$CY_BUILD/cynode-server" --print-config
	assert_success
	assert_output --partial "lockout_max: 10m"
}
