/*
 * /v1/users routes (contract 2.1): the caller's own account and password,
 * and the admin's revocation of every login session of a user.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"

#include "auth.h"
#include "buf.h"
#include "db.h"
#include "identity.h"
#include "json.h"
#include "core.h"
#include "ratelimit.h"
#include "store-identity.h"
#include "id.h"
#include "log.h"
#include "banned.h"

void
h_users_me(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	PGresult *res;
	json_t *o;

	res = store_user_me(a->user_id, &err);
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
	o = json_pack("{s:s, s:s, s:b}", "id", PQgetvalue(res, 0, UME_ID), "handle",
	    PQgetvalue(res, 0, UME_HANDLE), "is_active",
	    !strcmp(PQgetvalue(res, 0, UME_ACTIVE), "t"));
	if (!PQgetisnull(res, 0, UME_EMAIL))
		json_object_set_new(o, "email", json_string(PQgetvalue(res, 0, UME_EMAIL)));
	PQclear(res);
	cy_resp_json(resp, 200, o);
}

void
h_users_revoke_sessions(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	const char *id = req->nparams ? req->params[0] : "";
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
	if (db_begin(&err) < 0)
		goto fail;
	rc = store_user_handle(id, target, sizeof(target), &err);
	if (rc < 0)
		goto fail;
	if (rc == 0) {
		db_rollback();
		cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "User not found");
		return;
	}
	if (store_sessions_revoke(id, "admin", &n, &err) < 0)
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

/* POST /v1/users/me/password {current_password, new_password} */
/* clang-format off */
const struct cy_jcheck users_password_body = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "current_password", .type = CY_JC_STRING, .required = true, .min = 1,
		  .max = IDENTITY_PASSWORD_MAX },
		{ .name = "new_password", .type = CY_JC_STRING, .required = true,
		  .min = IDENTITY_PASSWORD_MIN, .max = IDENTITY_PASSWORD_MAX }),
};
/* clang-format on */

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
	const char *cur, *pw, *why;
	char *hash = NULL, *current;
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
	if ((wait = ratelimit_login_check(req->client_ip, a->handle, &why)) != 0) {
		char ra[32];

		xsnprintf(ra, sizeof(ra), "%ld", wait);
		cy_resp_problem(resp, CY_PROBLEM_RATE_LIMIT,
		    "Too many failed attempts; retry in %ld seconds", wait);
		cy_resp_header(resp, "Retry-After", ra);
		goto out;
	}
	ok = store_password_get(a->user_id, &current, &err);
	if (ok < 0)
		goto fail;
	if (ok == 1)
		ok = password_verify(current, cur, &err);
	free(current);
	if (ok != 1) {
		ratelimit_login_result(req->client_ip, a->handle, false);
		audit_auth(req, "password_changed", a->user_id, a->handle, false,
		    "wrong current password");
		cy_resp_problem(resp, CY_PROBLEM_AUTHORIZATION, "The current password is wrong");
		goto out;
	}
	if (!(hash = password_hash(pw, &err)))
		goto fail;
	if (db_begin(&err) < 0)
		goto fail;
	if (store_password_change(a->user_id, hash, a->session_id, &err) < 0) {
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
