/*
 * Admin user management (contract section 8): create, list, get,
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
#include "id.h"
#include "identity.h"
#include "json.h"
#include "log.h"
#include "store-identity.h"
#include "banned.h"

static bool
reserved(const char *handle)
{
	return !strcasecmp(handle, "system");
}

/* users.role: admin, operator or user. */
static bool
role_ok(const char *s)
{
	return auth_role_parse(s) >= 0;
}

/* users.email: at most 254 bytes with an '@'. */
static bool
email_ok(const char *s)
{
	return *s && strchr(s, '@') && strlen(s) <= 254;
}

/* clang-format off */
#define ROLE_ROW(req) { .name = "role", .type = CY_JC_STRING, .required = (req), \
	.valid = role_ok, .shape = "admin, operator or user" }
#define PASSWORD_ROW(n) { .name = (n), .type = CY_JC_STRING, .required = true, \
	.min = IDENTITY_PASSWORD_MIN, .max = IDENTITY_PASSWORD_MAX }

/* POST /v1/users {handle, password, email?, role?} */
const struct cy_jcheck users_create_body = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "handle", .type = CY_JC_STRING, .required = true,
		  .valid = identity_name_ok, .shape = IDENTITY_NAME_SHAPE },
		PASSWORD_ROW("password"),
		{ .name = "email", .type = CY_JC_STRING, .null_ok = true, .valid = email_ok,
		  .shape = "an email address (at most 254 bytes)" },
		ROLE_ROW(false)),
};

/* POST /v1/users/{id}/reset_password {password} */
const struct cy_jcheck users_reset_password_body = {
	.fields = CY_JCHECK_ROWS( PASSWORD_ROW("password")),
};

/* POST /v1/users/{id}/role {role} */
const struct cy_jcheck users_role_body = {
	.fields = CY_JCHECK_ROWS( ROLE_ROW(true)),
};
/* clang-format on */

/*
 * Opens the transaction and locks the user named by the route's {id} (UUID
 * or handle).  Returns 0, or -1 with resp filled (404, 500) and the
 * transaction closed.
 */
static int
target_lock(struct cy_http_req *req, struct cy_http_resp *resp, struct user_ref *t)
{
	struct cy_error err = CY_ERROR_INIT;
	int rc;

	if (db_begin(&err) < 0) {
		identity_internal(resp, "user lock", &err);
		return -1;
	}
	rc = store_user_lock(req->params[0], t, &err);
	if (rc < 0) {
		db_rollback();
		identity_internal(resp, "user lock", &err);
		return -1;
	}
	if (rc == 0) {
		db_rollback();
		cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "User not found");
		return -1;
	}
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
	json_t *o = NULL;

	cy_error_set(&err, EIO, "user row not found");
	if (store_user_json(id, &o, &err) < 0 || !o || db_commit(&err) < 0) {
		json_decref(o);
		db_rollback();
		identity_internal(resp, "user answer", &err);
		return;
	}
	cy_resp_json(resp, status, o);
}

/* Writes the two audit rows of an action; -1 on error (transaction still open). */
static int
act(const struct auth_ctx *a, struct cy_http_req *req, const struct user_ref *t, const char *action,
    json_t *details, const char *event, const char *reason, struct cy_error *err)
{
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
	const char *handle, *password, *email, *role;
	char *hash = NULL, id[CY_UUID_LEN + 1];
	json_t *body, *d;
	int rc;

	if (!(body = cy_req_json(req, resp)))
		return;
	handle = cy_json_str(body, "handle");
	password = cy_json_str(body, "password");
	email = cy_json_str(body, "email");
	role = cy_json_str(body, "role");
	if (reserved(handle)) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "handle 'system' is reserved");
		goto out;
	}
	if (!(hash = password_hash(password, &err))) {
		identity_internal(resp, "password hash", &err);
		goto out;
	}
	cy_uuid_v4(id);
	if (db_begin(&err) < 0)
		goto fail;
	if (store_user_insert(id, handle, email, role ? role : "user", &err) < 0) {
		if (err.code == EEXIST) {
			db_rollback();
			cy_resp_problem(resp, CY_PROBLEM_CONFLICT,
			    "a user with this handle or email exists");
			goto out;
		}
		goto fail;
	}
	if (store_password_insert(id, hash, &err) < 0)
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
	json_t *users;

	if (!(users = store_users_list(&err)))
		return identity_internal(resp, "user list", &err);
	cy_resp_json(resp, 200, json_pack("{s:o}", "users", users));
}

void
h_users_get(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	json_t *o;

	if (store_user_find_json(req->params[0], &o, &err) < 0)
		return identity_internal(resp, "user get", &err);
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
	struct user_ref t;
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
		return answer_user(resp, t.id, 200); /* nothing changes, nothing audited */
	if (!active && store_sessions_revoke(t.id, "user_disabled", &n, &err) < 0)
		goto fail;
	if (!active)
		d = json_pack("{s:I}", "sessions_revoked", (json_int_t)n);
	rc = store_user_set_active(t.id, active, &err);
	if (rc == 0)
		rc = act(a, req, &t, active ? "user.enable" : "user.disable", d,
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
	const char *pw;
	struct user_ref t;
	char *hash = NULL;
	long long n = 0;
	json_t *body, *d;
	int rc;

	if (!(body = cy_req_json(req, resp)))
		return;
	pw = cy_json_str(body, "password");
	if (!(hash = password_hash(pw, &err))) {
		identity_internal(resp, "password hash", &err);
		goto out;
	}
	if (target_lock(req, resp, &t) < 0)
		goto out;
	if (store_password_reset(t.id, hash, &err) < 0)
		goto fail;
	if (store_sessions_revoke(t.id, "password_reset", &n, &err) < 0)
		goto fail;
	d = json_pack("{s:I}", "sessions_revoked", (json_int_t)n);
	rc = act(a, req, &t, "user.reset_password", d, "password_reset", NULL, &err);
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
	struct user_ref t;
	json_t *body, *d;
	int rc;

	if (!(body = cy_req_json(req, resp)))
		return;
	role = cy_json_str(body, "role");
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
	rc = store_user_set_role(t.id, role, &err);
	if (rc == 0)
		rc = act(a, req, &t, "user.set_role", d, NULL, NULL, &err);
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
