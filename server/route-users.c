/*
 * /v1/users routes (contract 2.1): the caller's own account, and the
 * admin's revocation of every refresh session of a user.
 */
#include <string.h>

#include "auth.h"
#include "db.h"
#include "handlers.h"
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

void
h_users_revoke_sessions(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	const char *id = req->nparams ? req->params[0] : "";
	const char *p[3];
	PGresult *res;
	char n[32], target[128];

	if (!cy_uuid_valid(id)) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "user id must be a UUID");
		return;
	}
	p[0] = id;
	res = db_exec("users_exists", "SELECT handle FROM users WHERE id = $1", 1, p, &err);
	if (!res)
		goto fail;
	if (PQntuples(res) != 1) {
		PQclear(res);
		cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "User not found");
		return;
	}
	snprintf(target, sizeof(target), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	res = db_exec("users_revoke",
		"UPDATE refresh_sessions SET is_active = false WHERE user_id = $1 AND is_active",
		1, p, &err);
	if (!res)
		goto fail;
	snprintf(n, sizeof(n), "%s", PQcmdTuples(res));
	PQclear(res);
	p[1] = target;
	p[2] = req->client_ip;
	res = db_exec("users_revoke_audit",
		"INSERT INTO auth_audit_log (event_type, user_id, subject_handle, success,"
		" ip_address, reason) VALUES ('session_revoked', $1, $2, true, $3,"
		" 'revoked by admin')", 3, p, &err);
	if (!res)
		cy_log_warn("audit_failed", "event", "session_revoked", "error", err.msg, NULL);
	PQclear(res);
	cy_log_info("sessions_revoked", "user_id", id, "by", a->handle, "sessions", n, NULL);
	cy_resp_empty(resp, 204);
	return;
fail:
	cy_log_error("revoke_sessions_failed", "error", err.msg, NULL);
	cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "Internal server error");
}
