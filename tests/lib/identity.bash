# shellcheck shell=bash
#
# identity.bash: helpers for the identity tests (load after harness).
#
#   id_user HANDLE ROLE       create a user with the admin's password (SQL),
#                             print its id
#   id_login HANDLE           log in with $CY_ADMIN_PASSWORD; sets $access,
#                             $refresh (and $status_code, $body)
#   id_b64url                 base64url (unpadded) of stdin
#   id_mint HEADER PAYLOAD [SECRET]
#                             print a JWT signed with HMAC-SHA256 over the
#                             given JSON texts (default secret $CY_JWT_SECRET)
#   id_claims TOKEN           print the payload JSON of a JWT
#   id_sql SQL                run SQL that changes users/auth_sessions/
#                             api_tokens, then wait (10 s) until the server's
#                             auth cache listener has seen its NOTIFY (the
#                             debug line auth_cache_invalidated in
#                             $CY_TMP/server.log): that wake-up is
#                             asynchronous, so a request sent at once could
#                             still be answered from the cache

id_user()
{
	cy_psql "INSERT INTO users (handle, role) VALUES ('$1', '$2');
		INSERT INTO password_credentials (user_id, password_hash)
		SELECT (SELECT id FROM users WHERE handle = '$1'), password_hash
		FROM password_credentials pc JOIN users u ON u.id = pc.user_id
		WHERE u.handle = 'admin';
		SELECT id FROM users WHERE handle = '$1';"
}

id_login()
{
	cy_api POST /v1/auth/login \
		"$(jq -cn --arg h "$1" --arg p "$CY_ADMIN_PASSWORD" '{handle:$h,password:$p}')"
	access=$(jq -r '.access_token // empty' <<<"$body")
	refresh=$(jq -r '.refresh_token // empty' <<<"$body")
}

id_b64url()
{
	base64 -w0 | tr '+/' '-_' | tr -d '='
}

id_mint()
{
	local h p sig secret=${3:-$CY_JWT_SECRET}

	h=$(printf '%s' "$1" | id_b64url)
	p=$(printf '%s' "$2" | id_b64url)
	sig=$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -hmac "$secret" -binary | id_b64url)
	printf '%s.%s.%s' "$h" "$p" "$sig"
}

id_claims()
{
	local p
	p=$(cut -d. -f2 <<<"$1" | tr -- '-_' '+/')
	while [ $(( ${#p} % 4 )) -ne 0 ]; do p="$p="; done
	base64 -d <<<"$p"
}

id_sql()
{
	local log=$CY_TMP/server.log before i

	before=$(grep -c 'event=auth_cache_invalidated' "$log" || true)
	cy_psql "$1" || return 1
	for i in $(seq 1 100); do
		[ "$(grep -c 'event=auth_cache_invalidated' "$log" || true)" -gt "$before" ] && return 0
		sleep 0.1
	done
	echo "id_sql: the server never saw the change (no auth_cache_invalidated): $1" >&2
	return 1
}
