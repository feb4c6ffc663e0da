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
#include "buf.h"
#include "core.h"
#include "db.h"
#include "digest.h"
#include "id.h"
#include "identity.h"
#include "json.h"
#include "log.h"
#include "ratelimit.h"
#include "server.h"
#include "store-identity.h"
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
	struct refresh_new r;
	char *access, *refresh;
	time_t rexp;
	json_t *o;

	access = jwt_issue_access(user_id, handle, sid, NULL);
	refresh = jwt_issue_refresh(user_id, handle, sid, &rexp);
	if (!access || !refresh) {
		free(access);
		free(refresh);
		return cy_error_set(err, EIO, "cannot sign tokens");
	}
	cy_sha256_hex(refresh, strlen(refresh), hash);
	xsnprintf(expbuf, sizeof(expbuf), "%lld", (long long)rexp);
	if (ua) {
		cy_snprintf_clip(uabuf, sizeof(uabuf), "%s", ua);
		ua = uabuf;
	}
	r.user_id = user_id;
	r.hash = hash;
	r.expires_at = expbuf;
	r.session_id = sid;
	r.ip = req->client_ip[0] ? req->client_ip : NULL;
	r.user_agent = ua;
	if (store_refresh_add(&r, new_session, err) < 0) {
		free(access);
		free(refresh);
		return -1;
	}
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

/* POST /v1/auth/login {handle, password} */
/* clang-format off */
const struct cy_jcheck auth_login_body = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "handle", .type = CY_JC_STRING, .required = true, .min = 1,
		  .max = IDENTITY_HANDLE_MAX },
		{ .name = "password", .type = CY_JC_STRING, .required = true, .min = 1,
		  .max = IDENTITY_PASSWORD_MAX }),
};
/* clang-format on */

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
	const char *handle, *password;
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
	wait = ratelimit_login_check(req->client_ip, handle, &why);
	if (wait) {
		char ra[32];

		audit_auth(req, "login_failure", NULL, handle, false, why);
		xsnprintf(ra, sizeof(ra), "%ld", wait);
		cy_resp_problem(resp, CY_PROBLEM_RATE_LIMIT,
		    "Too many login attempts; retry in %ld seconds", wait);
		cy_resp_header(resp, "Retry-After", ra);
		goto out;
	}
	res = store_login_lookup(handle, &err);
	if (!res) {
		internal_error(resp, "login lookup", &err);
		goto out;
	}
	if (PQntuples(res) != 1) {
		burn_verify(password);
		reason = "user not found";
		goto deny;
	}
	xsnprintf(user_id, sizeof(user_id), "%s", PQgetvalue(res, 0, LOGIN_ID));
	if (strcmp(PQgetvalue(res, 0, LOGIN_ACTIVE), "t") != 0) {
		burn_verify(password);
		reason = "user inactive";
		goto deny;
	}
	if (PQgetisnull(res, 0, LOGIN_HASH)) {
		burn_verify(password);
		reason = "no password credential";
		goto deny;
	}
	ok = password_verify(PQgetvalue(res, 0, LOGIN_HASH), password, &err);
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
	audit_auth(req, "login_failure", PQntuples(res) == 1 ? user_id : NULL, handle, false,
	    reason);
	cy_resp_problem(resp, CY_PROBLEM_AUTHENTICATION, "Invalid credentials");
out:
	PQclear(res);
	json_decref(body);
}

/* ---- refresh ---- */

/* POST /v1/auth/refresh {refresh_token} */
/* clang-format off */
const struct cy_jcheck auth_refresh_body = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "refresh_token", .type = CY_JC_STRING, .required = true, .min = 1,
		  .max = IDENTITY_TOKEN_MAX }),
};
/* clang-format on */

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
	bool revoked = false;

	if (store_refresh_reused(hash, c->user_id, &revoked, &err) < 0 || db_commit(&err) < 0) {
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
	const char *tok;
	char hash[65], handle[128];
	json_t *body;
	int rc;

	body = cy_req_json(req, resp);
	if (!body)
		return;
	tok = cy_json_str(body, "refresh_token");
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
	rc = store_refresh_rotate(hash, c.user_id, c.sid, &err);
	if (rc < 0)
		goto fail;
	if (rc == 0) {
		refresh_reuse(req, resp, &c, hash);
		goto out;
	}
	rc = store_user_active_handle(c.user_id, handle, sizeof(handle), &err);
	if (rc < 0)
		goto fail;
	if (rc == 0) {
		/* Keep the deactivation: a disabled user's session is dead anyway. */
		if (db_commit(&err) < 0)
			db_rollback();
		audit_auth(req, "refresh_failure", c.user_id, c.handle, false, "user inactive");
		cy_resp_problem(resp, CY_PROBLEM_AUTHENTICATION, "Invalid or expired token");
		goto out;
	}
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

/* POST /v1/auth/logout {refresh_token?}: "" or absent ends only the caller's session. */
/* clang-format off */
const struct cy_jcheck auth_logout_body = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "refresh_token", .type = CY_JC_STRING, .max = IDENTITY_TOKEN_MAX }),
};
/* clang-format on */

void
h_auth_logout(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	const char *tok;
	json_t *body;
	char hash[65];

	body = cy_req_json(req, resp);
	if (!body)
		return;
	tok = cy_json_str(body, "refresh_token") ? cy_json_str(body, "refresh_token") : "";
	if (*tok)
		cy_sha256_hex(tok, strlen(tok), hash);
	/*
	 * Ends the caller's own login session (its access tokens die with it)
	 * and the session of the given refresh token, if it is the caller's.
	 */
	if (store_session_logout(*tok ? hash : NULL, a->user_id,
		a->session_id[0] ? a->session_id : NULL, &err) < 0) {
		internal_error(resp, "logout", &err);
		goto out;
	}
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
	bool exists;
	char *hash;
	int rc;

	if (store_admin_exists(&exists, err) < 0)
		return -1;
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
	rc = store_admin_create(hash, err);
	free(hash);
	if (rc <= 0)
		return rc;
	cy_log_info("admin_created", "handle", "admin", NULL);
	return 0;
}
