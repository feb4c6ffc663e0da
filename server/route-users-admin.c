/*
 * Admin user management (issue 3, contract section 8): create, list, get,
 * disable, enable, reset the password of, and set the role of a user.
 * Users are never deleted.  The handle "system" is reserved (any case):
 * no user can be created with it and the system user cannot be changed.
 * Each action writes its admin_audit_log row and its auth_audit_log event
 * in the same transaction as the change; disabling a user or resetting its
 * password also ends all of its login sessions.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "audit.h"
#include "auth.h"
#include "core.h"
#include "db.h"
#include "handlers.h"
#include "id.h"
#include "identity.h"
#include "json.h"
#include "log.h"
#include "store-util.h"
#include "banned.h"

#define PASSWORD_MIN 8
#define PASSWORD_MAX 4096

#define USER_JSON \
	"json_build_object('id', u.id, 'handle', u.handle, 'email', u.email, 'role', u.role," \
	" 'is_active', u.is_active, 'created_at', " SQL_TS("u.created_at") "," \
	" 'updated_at', " SQL_TS("u.updated_at") ")::text"

/* A target user, locked for the action. */
struct target {
	char id[CY_UUID_LEN + 1];
	char handle[128];
	char role[16];
	bool active;
};

static bool
reserved(const char *handle)
{
	return !strcasecmp(handle, "system");
}

/* Checks a new password; NULL when fine, else the 400 detail. */
static const char *
password_problem(const char *pw)
{
	if (!pw)
		return "password is required";
	if (strlen(pw) < PASSWORD_MIN)
		return "password must be at least 8 characters";
	if (strlen(pw) > PASSWORD_MAX)
		return "password must be at most 4096 bytes";
	return NULL;
}

/*
 * Opens the transaction and locks the user named by the route's {id} (UUID
 * or handle).  Returns 0, or -1 with resp filled (404, 500) and the
 * transaction closed.
 */
static int
target_lock(struct cy_http_req *req, struct cy_http_resp *resp, struct target *t)
{
	struct cy_error err = CY_ERROR_INIT;
	const char *ref = req->params[0], *p[1] = { ref };
	PGresult *res;

	if (db_begin(&err) < 0) {
		identity_internal(resp, "user lock", &err);
		return -1;
	}
	res = db_exec(cy_uuid_valid(ref) ? "users_lock_id" : "users_lock_handle",
		cy_uuid_valid(ref) ?
		"SELECT id, handle, role, is_active FROM users WHERE id = $1::uuid FOR UPDATE" :
		"SELECT id, handle, role, is_active FROM users WHERE handle = $1 FOR UPDATE",
		1, p, &err);
	if (!res) {
		db_rollback();
		identity_internal(resp, "user lock", &err);
		return -1;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		db_rollback();
		cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "User not found");
		return -1;
	}
	snprintf(t->id, sizeof(t->id), "%s", PQgetvalue(res, 0, 0));
	snprintf(t->handle, sizeof(t->handle), "%s", PQgetvalue(res, 0, 1));
	snprintf(t->role, sizeof(t->role), "%s", PQgetvalue(res, 0, 2));
	t->active = !strcmp(PQgetvalue(res, 0, 3), "t");
	PQclear(res);
	if (reserved(t->handle)) {
		db_rollback();
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "user 'system' is reserved");
		return -1;
	}
	return 0;
}

/* Reads the user row as JSON, commits, and answers 200 with it. */
static void
answer_user(struct cy_http_resp *resp, const char *id, int status)
{
	struct cy_error err = CY_ERROR_INIT;
	const char *p[1] = { id };
	PGresult *res;
	json_t *o;

	cy_error_set(&err, EIO, "user row not found");
	res = db_exec("users_get_json", "SELECT " USER_JSON " FROM users u WHERE u.id = $1", 1, p,
		&err);
	o = res ? identity_json_row(res) : NULL;
	if (!o || db_commit(&err) < 0) {
		json_decref(o);
		PQclear(res);
		db_rollback();
		identity_internal(resp, "user answer", &err);
		return;
	}
	PQclear(res);
	cy_resp_json(resp, status, o);
}

/* Runs one statement and the two audit rows; -1 on error (transaction still open). */
static int
act(const struct auth_ctx *a, struct cy_http_req *req, const struct target *t,
	const char *stmt, const char *sql, const char *p2, const char *action, json_t *details,
	const char *event, const char *reason, struct cy_error *err)
{
	const char *p[2] = { t->id, p2 };

	if (sql && store_run(stmt, sql, p2 ? 2 : 1, p, err) < 0)
		return -1;
	if (audit_admin(a, action, t->handle, details, err) < 0)
		return -1;
	if (event)
		audit_auth(req, event, t->id, t->handle, true, reason);
	return 0;
}

void
h_users_create(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	const char *handle, *password, *email, *role, *why, *p[4];
	char *hash = NULL, id[CY_UUID_LEN + 1];
	json_t *body, *d;
	PGresult *res;
	int rc;

	if (!(body = cy_req_json(req, resp)))
		return;
	handle = cy_json_str(body, "handle");
	password = cy_json_str(body, "password");
	email = cy_json_str(body, "email");
	role = cy_json_str(body, "role");
	if (!identity_name_ok(handle)) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			"handle is required: 1-64 letters, digits, '.', '_' or '-'");
		goto out;
	}
	if (reserved(handle)) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "handle 'system' is reserved");
		goto out;
	}
	if ((why = password_problem(password))) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "%s", why);
		goto out;
	}
	if (json_object_get(body, "role") && (!role || auth_role_parse(role) < 0)) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "role must be admin, operator or user");
		goto out;
	}
	if (json_object_get(body, "email") && !json_is_null(json_object_get(body, "email")) &&
	    (!email || !*email || !strchr(email, '@') || strlen(email) > 254)) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "email must be an address");
		goto out;
	}
	if (!(hash = password_hash(password, &err))) {
		identity_internal(resp, "password hash", &err);
		goto out;
	}
	cy_uuid_v4(id);
	p[0] = id;
	p[1] = handle;
	p[2] = email;
	p[3] = role ? role : "user";
	if (db_begin(&err) < 0)
		goto fail;
	res = db_exec("users_create",
		"INSERT INTO users (id, handle, email, role) VALUES ($1, $2, $3, $4)", 4, p, &err);
	if (!res) {
		if (err.code == EEXIST) {
			db_rollback();
			cy_resp_problem(resp, CY_PROBLEM_CONFLICT,
				"a user with this handle or email exists");
			goto out;
		}
		goto fail;
	}
	PQclear(res);
	p[1] = hash;
	if (store_run("users_create_cred",
		"INSERT INTO password_credentials (user_id, password_hash, hash_alg)"
		" VALUES ($1, convert_to($2, 'UTF8'), 'argon2id')", 2, p, &err) < 0)
		goto fail;
	d = json_pack("{s:s, s:s?}", "role", role ? role : "user", "email", email);
	rc = audit_admin(a, "user.create", handle, d, &err);
	json_decref(d);
	if (rc < 0)
		goto fail;
	audit_auth(req, "user_created", id, handle, true, NULL);
	answer_user(resp, id, 201);
	goto out;
fail:
	db_rollback();
	identity_internal(resp, "user create", &err);
out:
	identity_secret_free(hash);
	json_decref(body);
}

void
h_users_list(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	PGresult *res;

	res = db_exec("users_list", "SELECT " USER_JSON " FROM users u ORDER BY u.handle", 0,
		NULL, &err);
	if (!res)
		return identity_internal(resp, "user list", &err);
	cy_resp_json(resp, 200, json_pack("{s:o}", "users", identity_json_rows(res)));
	PQclear(res);
}

void
h_users_get(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	const char *ref = req->params[0], *p[1] = { ref };
	PGresult *res;
	json_t *o;

	res = db_exec(cy_uuid_valid(ref) ? "users_get_id" : "users_get_handle",
		cy_uuid_valid(ref) ? "SELECT " USER_JSON " FROM users u WHERE u.id = $1::uuid" :
		"SELECT " USER_JSON " FROM users u WHERE u.handle = $1", 1, p, &err);
	if (!res)
		return identity_internal(resp, "user get", &err);
	o = identity_json_row(res);
	PQclear(res);
	if (!o)
		return cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "User not found");
	cy_resp_json(resp, 200, o);
}

/* disable / enable: active is the new state. */
static void
set_active(struct cy_http_req *req, struct cy_http_resp *resp, bool active)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	struct target t;
	long long n = 0;
	json_t *d = NULL;
	int rc;

	if (cy_req_no_params(req, resp) < 0 || target_lock(req, resp, &t) < 0)
		return;
	if (!active && !strcmp(t.id, a->user_id)) {
		db_rollback();
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			"you cannot disable your own account");
	}
	if (t.active == active)
		return answer_user(resp, t.id, 200);	/* nothing changes, nothing audited */
	if (!active && users_revoke_sessions(t.id, "user_disabled", &n, &err) < 0)
		goto fail;
	if (!active)
		d = json_pack("{s:I}", "sessions_revoked", (json_int_t)n);
	rc = act(a, req, &t, active ? "users_enable" : "users_disable",
		active ? "UPDATE users SET is_active = true WHERE id = $1" :
		"UPDATE users SET is_active = false WHERE id = $1", NULL,
		active ? "user.enable" : "user.disable", d,
		active ? "user_reenabled" : "user_disabled", NULL, &err);
	json_decref(d);
	if (rc < 0)
		goto fail;
	answer_user(resp, t.id, 200);
	auth_cache_invalidate();
	return;
fail:
	db_rollback();
	identity_internal(resp, "user set active", &err);
}

void
h_users_disable(struct cy_http_req *req, struct cy_http_resp *resp)
{
	set_active(req, resp, false);
}

void
h_users_enable(struct cy_http_req *req, struct cy_http_resp *resp)
{
	set_active(req, resp, true);
}

void
h_users_reset_password(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	const char *pw, *why, *p[2];
	struct target t;
	char *hash = NULL;
	long long n = 0;
	json_t *body, *d;
	int rc;

	if (!(body = cy_req_json(req, resp)))
		return;
	pw = cy_json_str(body, "password");
	if ((why = password_problem(pw))) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "%s", why);
		goto out;
	}
	if (!(hash = password_hash(pw, &err))) {
		identity_internal(resp, "password hash", &err);
		goto out;
	}
	if (target_lock(req, resp, &t) < 0)
		goto out;
	p[0] = t.id;
	p[1] = hash;
	if (store_run("users_reset_password",
		"INSERT INTO password_credentials (user_id, password_hash, hash_alg)"
		" VALUES ($1, convert_to($2, 'UTF8'), 'argon2id') ON CONFLICT (user_id) DO UPDATE"
		" SET password_hash = EXCLUDED.password_hash, hash_alg = 'argon2id'", 2, p, &err) < 0)
		goto fail;
	if (users_revoke_sessions(t.id, "password_reset", &n, &err) < 0)
		goto fail;
	d = json_pack("{s:I}", "sessions_revoked", (json_int_t)n);
	rc = act(a, req, &t, NULL, NULL, NULL, "user.reset_password", d, "password_reset", NULL,
		&err);
	json_decref(d);
	if (rc < 0 || db_commit(&err) < 0)
		goto fail;
	auth_cache_invalidate();
	cy_resp_empty(resp, 204);
	goto out;
fail:
	db_rollback();
	identity_internal(resp, "user reset password", &err);
out:
	identity_secret_free(hash);
	json_decref(body);
}

void
h_users_set_role(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	const char *role;
	struct target t;
	json_t *body, *d;
	int rc;

	if (!(body = cy_req_json(req, resp)))
		return;
	role = cy_json_str(body, "role");
	if (!role || auth_role_parse(role) < 0) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "role must be admin, operator or user");
		goto out;
	}
	if (target_lock(req, resp, &t) < 0)
		goto out;
	if (!strcmp(t.id, a->user_id) && strcmp(role, "admin") != 0) {
		db_rollback();
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "you cannot lower your own role");
		goto out;
	}
	if (!strcmp(t.role, role)) {
		answer_user(resp, t.id, 200);
		goto out;
	}
	d = json_pack("{s:s, s:s}", "from", t.role, "to", role);
	rc = act(a, req, &t, "users_set_role", "UPDATE users SET role = $2 WHERE id = $1", role,
		"user.set_role", d, NULL, NULL, &err);
	json_decref(d);
	if (rc < 0) {
		db_rollback();
		identity_internal(resp, "user set role", &err);
		goto out;
	}
	answer_user(resp, t.id, 200);
	auth_cache_invalidate();
out:
	json_decref(body);
}
