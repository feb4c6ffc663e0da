/*
 * Identity SQL for logins and sessions (store-identity.h): the login
 * lookup, refresh tokens stored as SHA-256 and rotated on every use, the
 * revocation of a session whose rotated refresh token comes back, logout,
 * and the checks behind each kind of bearer token.  A login session is an
 * auth_sessions row; revoking it deactivates its refresh tokens in the
 * same statement.
 */
#include <stdlib.h>

#include "db.h"
#include "store-identity.h"
#include "store-util.h"
#include "banned.h"

PGresult *
store_login_lookup(const char *handle, struct cy_error *err)
{
	const char *p[1] = { handle };

	return db_exec("auth_login_lookup",
	    "SELECT u.id, u.is_active, convert_from(pc.password_hash, 'UTF8')"
	    " FROM users u LEFT JOIN password_credentials pc ON pc.user_id = u.id"
	    " WHERE u.handle = $1",
	    1, p, err);
}

int
store_refresh_add(const struct refresh_new *r, bool new_session, struct cy_error *err)
{
	const char *p[6] = { r->user_id, r->hash, r->expires_at, r->session_id, r->ip,
		r->user_agent };

	if (new_session)
		return store_run("auth_session_open",
		    "WITH s AS (INSERT INTO auth_sessions (id, user_id, ip_address, user_agent)"
		    " VALUES ($4, $1, $5, $6) RETURNING id)"
		    " INSERT INTO refresh_sessions (user_id, refresh_token_hash, expires_at,"
		    " session_id) SELECT $1, decode($2, 'hex'), to_timestamp($3::bigint), id"
		    " FROM s",
		    6, p, err);
	return store_run("auth_session_insert",
	    "INSERT INTO refresh_sessions (user_id, refresh_token_hash, expires_at,"
	    " session_id) VALUES ($1, decode($2, 'hex'), to_timestamp($3::bigint), $4)",
	    4, p, err);
}

int
store_refresh_rotate(const char *hash, const char *user_id, const char *sid, struct cy_error *err)
{
	const char *p[3] = { hash, user_id, sid };
	PGresult *res;
	int rotated;

	/* Deactivating atomically makes a concurrent second use fail. */
	res = db_exec("auth_session_rotate",
	    "UPDATE refresh_sessions r SET is_active = false, last_used_at = now(),"
	    " rotated_at = now() FROM auth_sessions s"
	    " WHERE r.refresh_token_hash = decode($1, 'hex') AND r.user_id = $2"
	    " AND r.session_id = $3 AND s.id = r.session_id AND s.revoked_at IS NULL"
	    " AND r.is_active AND r.expires_at > now() RETURNING r.id",
	    3, p, err);
	if (!res)
		return -1;
	rotated = PQntuples(res) == 1;
	PQclear(res);
	return rotated;
}

int
store_refresh_reused(const char *hash, const char *user_id, bool *revoked, struct cy_error *err)
{
	const char *p[2] = { hash, user_id };
	PGresult *res;

	res = db_exec("auth_refresh_reuse",
	    "WITH s AS (UPDATE auth_sessions SET revoked_at = now(),"
	    " revoke_reason = 'refresh_reuse' WHERE revoked_at IS NULL AND id IN"
	    " (SELECT session_id FROM refresh_sessions WHERE refresh_token_hash ="
	    " decode($1, 'hex') AND user_id = $2 AND rotated_at IS NOT NULL) RETURNING id),"
	    " r AS (UPDATE refresh_sessions SET is_active = false"
	    " WHERE is_active AND session_id IN (SELECT id FROM s))"
	    " SELECT id FROM s",
	    2, p, err);
	if (!res)
		return -1;
	*revoked = PQntuples(res) > 0;
	PQclear(res);
	return 0;
}

int
store_session_logout(const char *hash, const char *user_id, const char *sid, struct cy_error *err)
{
	const char *p[3] = { hash, user_id, sid };

	return store_run("auth_logout",
	    "WITH t AS (SELECT session_id FROM refresh_sessions"
	    " WHERE refresh_token_hash = decode($1, 'hex') AND user_id = $2),"
	    " s AS (UPDATE auth_sessions SET revoked_at = now(), revoke_reason = 'logout'"
	    " WHERE user_id = $2 AND revoked_at IS NULL"
	    " AND (id = $3::uuid OR id IN (SELECT session_id FROM t)) RETURNING id)"
	    " UPDATE refresh_sessions SET is_active = false, last_used_at = now()"
	    " WHERE is_active AND user_id = $2 AND (session_id IN (SELECT id FROM s)"
	    " OR refresh_token_hash = decode($1, 'hex'))",
	    3, p, err);
}

int
store_sessions_revoke(const char *user_id, const char *reason, long long *n, struct cy_error *err)
{
	const char *p[2] = { user_id, reason };
	PGresult *res;

	res = db_exec("users_revoke",
	    "WITH s AS (UPDATE auth_sessions SET revoked_at = now(), revoke_reason = $2"
	    " WHERE user_id = $1 AND revoked_at IS NULL RETURNING id),"
	    " r AS (UPDATE refresh_sessions SET is_active = false"
	    " WHERE user_id = $1 AND is_active)"
	    " SELECT count(*) FROM s",
	    2, p, err);
	if (!res)
		return -1;
	*n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

PGresult *
store_auth_session(const char *user_id, const char *sid, struct cy_error *err)
{
	const char *p[2] = { user_id, sid };

	return db_exec("auth_user",
	    "SELECT u.handle, u.role FROM users u JOIN auth_sessions s ON s.user_id = u.id"
	    " WHERE u.id = $1 AND s.id = $2 AND u.is_active AND s.revoked_at IS NULL",
	    2, p, err);
}

PGresult *
store_auth_api_token(const char *hash, struct cy_error *err)
{
	const char *p[1] = { hash };

	/* last_used_at is written at most once a minute, in the same round trip. */
	return db_exec("auth_api_token",
	    "WITH t AS (SELECT t.id, t.user_id, t.scopes, u.handle, u.role, t.last_used_at,"
	    " extract(epoch FROM t.expires_at)::bigint AS exp"
	    " FROM api_tokens t JOIN users u ON u.id = t.user_id"
	    " WHERE t.token_hash = decode($1, 'hex') AND t.revoked_at IS NULL"
	    " AND t.expires_at > now() AND u.is_active),"
	    " used AS (UPDATE api_tokens SET last_used_at = now() WHERE id IN"
	    " (SELECT id FROM t WHERE last_used_at IS NULL"
	    " OR last_used_at < now() - interval '60 seconds'))"
	    " SELECT id, user_id, scopes, handle, role, exp FROM t",
	    1, p, err);
}

PGresult *
store_auth_node(const char *node_id, struct cy_error *err)
{
	const char *p[1] = { node_id };

	return db_exec("auth_node", "SELECT node_slug FROM nodes WHERE id = $1", 1, p, err);
}
