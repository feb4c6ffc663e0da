/*
 * /v1/users routes (contract 2.1): the caller's own account and password,
 * and the admin's revocation of every login session of a user.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"

#include "auth.h"
#include "db.h"
#include "handlers.h"
#include "identity.h"
#include "json.h"
#include "core.h"
#include "ratelimit.h"
#include "store-util.h"
#include "id.h"
#include "log.h"
#include "banned.h"

void
h_users_me(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	const char *p[1] = { a->user_id };
	PGresult *res;
	json_t *o;

	res = db_exec("users_me", "SELECT id, handle, email, is_active FROM users WHERE id = $1",
		1, p, &err);
	if (!res) {
		cy_log_error("users_me_failed", "error", err.msg, NULL);
		cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "Internal server error");
		return;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		cy_resp_problem(resp, CY_PROBLEM_AUTHENTICATION, "Invalid or expired token");
		return;
	}
	o = json_pack("{s:s, s:s, s:b}", "id", PQgetvalue(res, 0, 0), "handle",
		PQgetvalue(res, 0, 1), "is_active", !strcmp(PQgetvalue(res, 0, 3), "t"));
	if (!PQgetisnull(res, 0, 2))
		json_object_set_new(o, "email", json_string(PQgetvalue(res, 0, 2)));
	PQclear(res);
	cy_resp_json(resp, 200, o);
}

/*
 * Ends every login session of a user (their access and refresh tokens fail
 * at once) inside the caller's transaction; *n gets how many.  API tokens
 * are not sessions and stay valid.
 */
int
users_revoke_sessions(const char *user_id, const char *reason, long long *n,
	struct cy_error *err)
{
	const char *p[2] = { user_id, reason };
	PGresult *res;

	res = db_exec("users_revoke",
		"WITH s AS (UPDATE auth_sessions SET revoked_at = now(), revoke_reason = $2"
		" WHERE user_id = $1 AND revoked_at IS NULL RETURNING id),"
		" r AS (UPDATE refresh_sessions SET is_active = false"
		" WHERE user_id = $1 AND is_active)"
		" SELECT count(*) FROM s", 2, p, err);
	if (!res)
		return -1;
	*n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

void
h_users_revoke_sessions(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	const char *id = req->nparams ? req->params[0] : "";
	const char *p[1];
	PGresult *res;
	char target[128];
	long long n = 0;
	json_t *d;
	int rc;

	if (cy_req_no_params(req, resp) < 0)
		return;
	if (!cy_uuid_valid(id)) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "user id must be a UUID");
		return;
	}
	p[0] = id;
	if (db_begin(&err) < 0)
		goto fail;
	res = db_exec("users_exists", "SELECT handle FROM users WHERE id = $1", 1, p, &err);
	if (!res)
		goto fail;
	if (PQntuples(res) != 1) {
		PQclear(res);
		db_rollback();
		cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "User not found");
		return;
	}
	snprintf(target, sizeof(target), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	if (users_revoke_sessions(id, "admin", &n, &err) < 0)
		goto fail;
	d = json_pack("{s:I}", "sessions", (json_int_t)n);
	rc = audit_admin(a, "user.revoke_sessions", target, d, &err);
	json_decref(d);
	if (rc < 0)
		goto fail;
	audit_auth(req, "session_revoked", id, target, true, "revoked by admin");
	if (db_commit(&err) < 0)
		goto fail;
	auth_cache_invalidate();
	cy_resp_empty(resp, 204);
	return;
fail:
	db_rollback();
	cy_log_error("revoke_sessions_failed", "error", err.msg, NULL);
	cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "Internal server error");
}

/*
 * POST /v1/users/me/password: the caller changes its own password, giving
 * the current one (failures count towards the login lockout of its handle).
 * Its other login sessions end; the one making the change stays.  API
 * tokens cannot change passwords.
 */
void
h_users_change_password(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	const char *cur, *pw, *p[3], *why;
	char *hash = NULL;
	PGresult *res = NULL;
	json_t *body;
	long wait;
	int ok;

	if (!a->session_id[0])
		return cy_resp_problem(resp, CY_PROBLEM_AUTHORIZATION,
			"API tokens cannot change passwords: log in");
	if (!(body = cy_req_json(req, resp)))
		return;
	cur = cy_json_str(body, "current_password");
	pw = cy_json_str(body, "new_password");
	if (!cur || !*cur) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "current_password is required");
		goto out;
	}
	if (!pw || strlen(pw) < 8 || strlen(pw) > 4096) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			"new_password must be 8 to 4096 bytes long");
		goto out;
	}
	if ((wait = ratelimit_login_check(req->client_ip, a->handle, &why)) != 0) {
		char ra[32];

		snprintf(ra, sizeof(ra), "%ld", wait);
		cy_resp_problem(resp, CY_PROBLEM_RATE_LIMIT,
			"Too many failed attempts; retry in %ld seconds", wait);
		cy_resp_header(resp, "Retry-After", ra);
		goto out;
	}
	p[0] = a->user_id;
	res = db_exec("users_pw_current",
		"SELECT convert_from(password_hash, 'UTF8') FROM password_credentials"
		" WHERE user_id = $1", 1, p, &err);
	if (!res)
		goto fail;
	ok = PQntuples(res) == 1 ? password_verify(PQgetvalue(res, 0, 0), cur, &err) : 0;
	PQclear(res);
	res = NULL;
	if (ok != 1) {
		ratelimit_login_result(req->client_ip, a->handle, false);
		audit_auth(req, "password_changed", a->user_id, a->handle, false,
			"wrong current password");
		cy_resp_problem(resp, CY_PROBLEM_AUTHORIZATION, "The current password is wrong");
		goto out;
	}
	if (!(hash = password_hash(pw, &err)))
		goto fail;
	p[1] = hash;
	p[2] = a->session_id;
	if (db_begin(&err) < 0)
		goto fail;
	if (store_run("users_pw_set",
		"UPDATE password_credentials SET password_hash = convert_to($2, 'UTF8'),"
		" hash_alg = 'argon2id' WHERE user_id = $1", 2, p, &err) < 0 ||
	    store_run("users_pw_other_sessions",
		"WITH s AS (UPDATE auth_sessions SET revoked_at = now(),"
		" revoke_reason = 'password_reset' WHERE user_id = $1 AND id <> $2::uuid"
		" AND revoked_at IS NULL RETURNING id)"
		" UPDATE refresh_sessions SET is_active = false WHERE is_active"
		" AND session_id IN (SELECT id FROM s)", 2, (const char *[]){ p[0], p[2] },
		&err) < 0) {
		db_rollback();
		goto fail;
	}
	audit_auth(req, "password_changed", a->user_id, a->handle, true, NULL);
	if (db_commit(&err) < 0) {
		db_rollback();
		goto fail;
	}
	auth_cache_invalidate();
	ratelimit_login_result(req->client_ip, a->handle, true);
	cy_resp_empty(resp, 204);
	goto out;
fail:
	identity_internal(resp, "change password", &err);
out:
	identity_secret_free(hash);
	json_decref(body);
}
