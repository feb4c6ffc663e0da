/*
 * /v1/auth/login, /v1/auth/refresh and /v1/auth/logout (contract 2.1 and
 * 8): password login against the Argon2id credential opens a login session
 * (auth_sessions) and hands out a token pair bound to it; the refresh half
 * is stored as SHA-256 in refresh_sessions and rotated on every use, and
 * presenting an already rotated refresh token revokes the whole session
 * (token theft detection).  Logout revokes the session, so its access
 * tokens fail at once.  Logins are rate limited (ratelimit.c) and every
 * auth event is audited.  Also the bootstrap of the admin user at startup.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "audit.h"
#include "auth.h"
#include "core.h"
#include "db.h"
#include "handlers.h"
#include "id.h"
#include "json.h"
#include "log.h"
#include "ratelimit.h"
#include "server.h"
#include "banned.h"

/* ---- tokens ---- */

static void
internal_error(struct cy_http_resp *resp, const char *what, const struct cy_error *err)
{
	cy_log_error("auth_internal", "step", what, "error", err->msg, NULL);
	cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "Internal server error");
}

/*
 * Issues an access + refresh pair for the user in session sid and stores the
 * refresh token (inside the caller's transaction, if any); with new_session
 * the session row is created by the same statement.  Fills resp.
 */
static int
issue_pair(struct cy_http_req *req, struct cy_http_resp *resp, const char *user_id,
	const char *handle, const char *sid, bool new_session, struct cy_error *err)
{
	char hash[65], expbuf[32], uabuf[256];
	const char *ua = cy_req_header(req, "User-Agent");
	char *access, *refresh;
	time_t rexp;
	const char *p[6];
	PGresult *res;
	json_t *o;

	access = jwt_issue_access(user_id, handle, sid, NULL);
	refresh = jwt_issue_refresh(user_id, handle, sid, &rexp);
	if (!access || !refresh) {
		free(access);
		free(refresh);
		return cy_error_set(err, EIO, "cannot sign tokens");
	}
	cy_sha256_hex(refresh, strlen(refresh), hash);
	snprintf(expbuf, sizeof(expbuf), "%lld", (long long)rexp);
	if (ua) {
		snprintf(uabuf, sizeof(uabuf), "%s", ua);
		ua = uabuf;
	}
	p[0] = user_id;
	p[1] = hash;
	p[2] = expbuf;
	p[3] = sid;
	p[4] = req->client_ip[0] ? req->client_ip : NULL;
	p[5] = ua;
	if (new_session)
		res = db_exec("auth_session_open",
			"WITH s AS (INSERT INTO auth_sessions (id, user_id, ip_address, user_agent)"
			" VALUES ($4, $1, $5, $6) RETURNING id)"
			" INSERT INTO refresh_sessions (user_id, refresh_token_hash, expires_at,"
			" session_id) SELECT $1, decode($2, 'hex'), to_timestamp($3::bigint), id"
			" FROM s", 6, p, err);
	else
		res = db_exec("auth_session_insert",
			"INSERT INTO refresh_sessions (user_id, refresh_token_hash, expires_at,"
			" session_id) VALUES ($1, decode($2, 'hex'), to_timestamp($3::bigint), $4)",
			4, p, err);
	if (!res) {
		free(access);
		free(refresh);
		return -1;
	}
	PQclear(res);
	o = json_pack("{s:s, s:s, s:s, s:I}", "access_token", access, "refresh_token", refresh,
		"token_type", "Bearer", "expires_in", (json_int_t)srv.cfg.jwt_access_s);
	explicit_bzero(refresh, strlen(refresh));
	free(access);
	free(refresh);
	cy_resp_json(resp, 200, o);
	cy_resp_header(resp, "Cache-Control", "no-store");
	return 0;
}

/* ---- login ---- */

/* A fixed hash verified for unknown users, so timing does not tell them apart. */
static char *dummy_hash;
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void
dummy_init(void)
{
	struct cy_error err = CY_ERROR_INIT;

	dummy_hash = password_hash("cynode-dummy-password", &err);
}

static void
burn_verify(const char *password)
{
	struct cy_error err = CY_ERROR_INIT;

	pthread_once(&dummy_once, dummy_init);
	if (dummy_hash)
		(void)password_verify(dummy_hash, password, &err);
}

void
h_auth_login(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	const char *handle, *password, *p[1];
	char user_id[CY_UUID_LEN + 1];
	char sid[CY_UUID_LEN + 1];
	const char *reason = NULL, *why;
	PGresult *res = NULL;
	json_t *body;
	long wait;
	int ok;

	body = cy_req_json(req, resp);
	if (!body)
		return;
	handle = cy_json_str(body, "handle");
	password = cy_json_str(body, "password");
	if (!handle || !*handle || !password || !*password) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "handle and password are required");
		goto out;
	}
	wait = ratelimit_login_check(req->client_ip, handle, &why);
	if (wait) {
		char ra[32];

		audit_auth(req, "login_failure", NULL, handle, false, why);
		snprintf(ra, sizeof(ra), "%ld", wait);
		cy_resp_problem(resp, CY_PROBLEM_RATE_LIMIT,
			"Too many login attempts; retry in %ld seconds", wait);
		cy_resp_header(resp, "Retry-After", ra);
		goto out;
	}
	p[0] = handle;
	res = db_exec("auth_login_lookup",
		"SELECT u.id, u.is_active, convert_from(pc.password_hash, 'UTF8')"
		" FROM users u LEFT JOIN password_credentials pc ON pc.user_id = u.id"
		" WHERE u.handle = $1", 1, p, &err);
	if (!res) {
		internal_error(resp, "login lookup", &err);
		goto out;
	}
	if (PQntuples(res) != 1) {
		burn_verify(password);
		reason = "user not found";
		goto deny;
	}
	snprintf(user_id, sizeof(user_id), "%s", PQgetvalue(res, 0, 0));
	if (strcmp(PQgetvalue(res, 0, 1), "t") != 0) {
		burn_verify(password);
		reason = "user inactive";
		goto deny;
	}
	if (PQgetisnull(res, 0, 2)) {
		burn_verify(password);
		reason = "no password credential";
		goto deny;
	}
	ok = password_verify(PQgetvalue(res, 0, 2), password, &err);
	if (ok < 0)
		cy_log_error("password_hash_invalid", "user_id", user_id, "error", err.msg, NULL);
	if (ok != 1) {
		reason = "invalid password";
		goto deny;
	}
	ratelimit_login_result(req->client_ip, handle, true);
	cy_uuid_v4(sid);
	if (issue_pair(req, resp, user_id, handle, sid, true, &err) < 0) {
		internal_error(resp, "login issue", &err);
		goto out;
	}
	audit_auth(req, "login_success", user_id, handle, true, NULL);
	goto out;
deny:
	ratelimit_login_result(req->client_ip, handle, false);
	audit_auth(req, "login_failure", PQntuples(res) == 1 ? user_id : NULL, handle, false, reason);
	cy_resp_problem(resp, CY_PROBLEM_AUTHENTICATION, "Invalid credentials");
out:
	PQclear(res);
	json_decref(body);
}

/* ---- refresh ---- */

/*
 * The presented refresh token is not active.  When it is one that was
 * already rotated, someone replays a stolen or old token: the whole session
 * is revoked (both the thief's and the owner's tokens die).  Runs inside
 * the refresh transaction and ends it; answers 401 either way.
 */
static void
refresh_reuse(struct cy_http_req *req, struct cy_http_resp *resp, const struct jwt_claims *c,
	const char *hash)
{
	struct cy_error err = CY_ERROR_INIT;
	const char *p[2] = { hash, c->user_id };
	PGresult *res;
	bool revoked = false;

	res = db_exec("auth_refresh_reuse",
		"WITH s AS (UPDATE auth_sessions SET revoked_at = now(),"
		" revoke_reason = 'refresh_reuse' WHERE revoked_at IS NULL AND id IN"
		" (SELECT session_id FROM refresh_sessions WHERE refresh_token_hash ="
		" decode($1, 'hex') AND user_id = $2 AND rotated_at IS NOT NULL) RETURNING id),"
		" r AS (UPDATE refresh_sessions SET is_active = false"
		" WHERE is_active AND session_id IN (SELECT id FROM s))"
		" SELECT id FROM s", 2, p, &err);
	if (res)
		revoked = PQntuples(res) > 0;
	PQclear(res);
	if (!res || db_commit(&err) < 0) {
		db_rollback();
		internal_error(resp, "refresh reuse", &err);
		return;
	}
	if (revoked) {
		auth_cache_invalidate();
		audit_auth(req, "refresh_failure", c->user_id, c->handle, false,
			"rotated refresh token reused");
		audit_auth(req, "session_revoked", c->user_id, c->handle, true,
			"rotated refresh token reused");
	} else {
		audit_auth(req, "refresh_failure", c->user_id, c->handle, false,
			"session not found");
	}
	cy_resp_problem(resp, CY_PROBLEM_AUTHENTICATION, "Invalid or expired token");
}

void
h_auth_refresh(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	struct jwt_claims c;
	const char *tok, *p[3];
	char hash[65], handle[128];
	PGresult *res;
	json_t *body;

	body = cy_req_json(req, resp);
	if (!body)
		return;
	tok = cy_json_str(body, "refresh_token");
	if (!tok || !*tok) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "refresh_token is required");
		goto out;
	}
	if (jwt_verify(tok, JWT_REFRESH, &c, &err) < 0) {
		audit_auth(req, "refresh_failure", NULL, NULL, false, "invalid token");
		cy_resp_problem(resp, CY_PROBLEM_AUTHENTICATION, "Invalid or expired token");
		goto out;
	}
	cy_sha256_hex(tok, strlen(tok), hash);
	if (db_begin(&err) < 0) {
		internal_error(resp, "refresh begin", &err);
		goto out;
	}
	/* Deactivating atomically makes a concurrent second use fail. */
	p[0] = hash;
	p[1] = c.user_id;
	p[2] = c.sid;
	res = db_exec("auth_session_rotate",
		"UPDATE refresh_sessions r SET is_active = false, last_used_at = now(),"
		" rotated_at = now() FROM auth_sessions s"
		" WHERE r.refresh_token_hash = decode($1, 'hex') AND r.user_id = $2"
		" AND r.session_id = $3 AND s.id = r.session_id AND s.revoked_at IS NULL"
		" AND r.is_active AND r.expires_at > now() RETURNING r.id", 3, p, &err);
	if (!res)
		goto fail;
	if (PQntuples(res) != 1) {
		PQclear(res);
		refresh_reuse(req, resp, &c, hash);
		goto out;
	}
	PQclear(res);
	res = db_exec("auth_refresh_user", "SELECT handle, is_active FROM users WHERE id = $1",
		1, p + 1, &err);
	if (!res)
		goto fail;
	if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 1), "t") != 0) {
		PQclear(res);
		/* Keep the deactivation: a disabled user's session is dead anyway. */
		if (db_commit(&err) < 0)
			db_rollback();
		audit_auth(req, "refresh_failure", c.user_id, c.handle, false, "user inactive");
		cy_resp_problem(resp, CY_PROBLEM_AUTHENTICATION, "Invalid or expired token");
		goto out;
	}
	snprintf(handle, sizeof(handle), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	if (issue_pair(req, resp, c.user_id, handle, c.sid, false, &err) < 0)
		goto fail;
	if (db_commit(&err) < 0) {
		/* The pair in resp must not be handed out. */
		cy_buf_reset(&resp->body);
		internal_error(resp, "refresh commit", &err);
		goto out;
	}
	audit_auth(req, "refresh_success", c.user_id, handle, true, NULL);
	goto out;
fail:
	db_rollback();
	internal_error(resp, "refresh", &err);
out:
	json_decref(body);
}

/* ---- logout ---- */

void
h_auth_logout(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	const char *tok, *p[3];
	json_t *body, *v;
	char hash[65];
	PGresult *res;

	body = cy_req_json(req, resp);
	if (!body)
		return;
	v = json_object_get(body, "refresh_token");
	if (v && !json_is_string(v)) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "refresh_token must be a string");
		goto out;
	}
	tok = v ? json_string_value(v) : "";
	if (*tok)
		cy_sha256_hex(tok, strlen(tok), hash);
	/*
	 * Ends the caller's own login session (its access tokens die with it)
	 * and the session of the given refresh token, if it is the caller's.
	 */
	p[0] = *tok ? hash : NULL;
	p[1] = a->user_id;
	p[2] = a->session_id[0] ? a->session_id : NULL;
	res = db_exec("auth_logout",
		"WITH t AS (SELECT session_id FROM refresh_sessions"
		" WHERE refresh_token_hash = decode($1, 'hex') AND user_id = $2),"
		" s AS (UPDATE auth_sessions SET revoked_at = now(), revoke_reason = 'logout'"
		" WHERE user_id = $2 AND revoked_at IS NULL"
		" AND (id = $3::uuid OR id IN (SELECT session_id FROM t)) RETURNING id)"
		" UPDATE refresh_sessions SET is_active = false, last_used_at = now()"
		" WHERE is_active AND user_id = $2 AND (session_id IN (SELECT id FROM s)"
		" OR refresh_token_hash = decode($1, 'hex'))", 3, p, &err);
	if (!res) {
		internal_error(resp, "logout", &err);
		goto out;
	}
	PQclear(res);
	auth_cache_invalidate();
	audit_auth(req, "logout", a->user_id, a->handle, true, NULL);
	cy_resp_empty(resp, 204);
out:
	json_decref(body);
}

/* ---- bootstrap ---- */

int
auth_bootstrap_admin(const char *password, struct cy_error *err)
{
	const char *p[2];
	PGresult *res;
	char *hash;
	int exists;

	res = db_exec("boot_admin_exists", "SELECT 1 FROM users WHERE handle = 'admin'", 0, NULL,
		err);
	if (!res)
		return -1;
	exists = PQntuples(res) > 0;
	PQclear(res);
	if (exists)
		return 0;
	if (!password || !*password) {
		cy_log_warn("no_admin_user", "hint",
			"set BOOTSTRAP_ADMIN_PASSWORD to create user admin at the next start", NULL);
		return 0;
	}
	hash = password_hash(password, err);
	if (!hash)
		return -1;
	if (db_begin(err) < 0) {
		free(hash);
		return -1;
	}
	/* ON CONFLICT: another replica may create it at the same moment. */
	res = db_exec("boot_admin_user",
		"INSERT INTO users (handle, role) VALUES ('admin', 'admin')"
		" ON CONFLICT (handle) DO NOTHING"
		" RETURNING id", 0, NULL, err);
	if (!res)
		goto fail;
	if (PQntuples(res) == 0) {
		PQclear(res);
		db_rollback();
		free(hash);
		return 0;
	}
	p[0] = PQgetvalue(res, 0, 0);
	p[1] = hash;
	{
		PGresult *r2 = db_exec("boot_admin_cred",
			"INSERT INTO password_credentials (user_id, password_hash, hash_alg)"
			" VALUES ($1, convert_to($2, 'UTF8'), 'argon2id')", 2, p, err);

		if (!r2) {
			PQclear(res);
			goto fail;
		}
		PQclear(r2);
		r2 = db_exec("boot_admin_audit",
			"INSERT INTO auth_audit_log (event_type, user_id, subject_handle, success,"
			" reason) VALUES ('user_created', $1, 'admin', true, 'bootstrap')", 1, p, err);
		if (!r2) {
			PQclear(res);
			goto fail;
		}
		PQclear(r2);
	}
	PQclear(res);
	free(hash);
	if (db_commit(err) < 0)
		return -1;
	cy_log_info("admin_created", "handle", "admin", NULL);
	return 0;
fail:
	db_rollback();
	free(hash);
	return -1;
}
