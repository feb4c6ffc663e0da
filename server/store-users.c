/*
 * Identity SQL for users and their passwords (store-identity.h): the
 * caller's own account, the admin routes' user rows (locked FOR UPDATE
 * while an action changes them), UserResponse objects built in SQL,
 * password credentials stored as Argon2id PHC strings, and the bootstrap
 * of user admin.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "db.h"
#include "id.h"
#include "store-identity.h"
#include "store-util.h"
#include "banned.h"

/* clang-format off */
#define USER_JSON \
	"json_build_object('id', u.id, 'handle', u.handle, 'email', u.email, 'role', u.role," \
	" 'is_active', u.is_active, 'created_at', " SQL_TS("u.created_at") "," \
	" 'updated_at', " SQL_TS("u.updated_at") ")::text"
/* clang-format on */

#define SQL_PASSWORD_INSERT \
	"INSERT INTO password_credentials (user_id, password_hash, hash_alg)" \
	" VALUES ($1, convert_to($2, 'UTF8'), 'argon2id')"

PGresult *
store_user_me(const char *user_id, struct cy_error *err)
{
	const char *p[1] = { user_id };

	return db_exec("users_me", "SELECT id, handle, email, is_active FROM users WHERE id = $1",
	    1, p, err);
}

int
store_user_handle(const char *id, char *handle, size_t len, struct cy_error *err)
{
	const char *p[1] = { id };
	PGresult *res;
	int found;

	res = db_exec("users_exists", "SELECT handle FROM users WHERE id = $1", 1, p, err);
	if (!res)
		return -1;
	found = PQntuples(res) == 1;
	if (found)
		xsnprintf(handle, len, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return found;
}

int
store_user_active_handle(const char *user_id, char *handle, size_t len, struct cy_error *err)
{
	const char *p[1] = { user_id };
	PGresult *res;
	int active;

	res = db_exec("auth_refresh_user", "SELECT handle, is_active FROM users WHERE id = $1", 1,
	    p, err);
	if (!res)
		return -1;
	active = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	if (active)
		xsnprintf(handle, len, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return active;
}

int
store_user_lock(const char *ref, struct user_ref *u, struct cy_error *err)
{
	const char *p[1] = { ref };
	PGresult *res;
	int found;

	res = db_exec(cy_uuid_valid(ref) ? "users_lock_id" : "users_lock_handle",
	    cy_uuid_valid(ref) ?
		"SELECT id, handle, role, is_active FROM users WHERE id = $1::uuid FOR UPDATE" :
		"SELECT id, handle, role, is_active FROM users WHERE handle = $1 FOR UPDATE",
	    1, p, err);
	if (!res)
		return -1;
	found = PQntuples(res) == 1;
	if (found) {
		xsnprintf(u->id, sizeof(u->id), "%s", PQgetvalue(res, 0, 0));
		xsnprintf(u->handle, sizeof(u->handle), "%s", PQgetvalue(res, 0, 1));
		xsnprintf(u->role, sizeof(u->role), "%s", PQgetvalue(res, 0, 2));
		u->active = !strcmp(PQgetvalue(res, 0, 3), "t");
	}
	PQclear(res);
	return found;
}

/* The first row's JSON object into *out (NULL when none); res is cleared.  0 or -1. */
static int
user_json_take(PGresult *res, json_t **out)
{
	*out = NULL;
	if (!res)
		return -1;
	*out = store_json_row(res, 0);
	PQclear(res);
	return 0;
}

int
store_user_json(const char *id, json_t **out, struct cy_error *err)
{
	const char *p[1] = { id };

	/* clang-format off */
	return user_json_take(db_exec("users_get_json",
		"SELECT " USER_JSON " FROM users u WHERE u.id = $1", 1, p, err), out);
	/* clang-format on */
}

int
store_user_find_json(const char *ref, json_t **out, struct cy_error *err)
{
	const char *p[1] = { ref };

	/* clang-format off */
	return user_json_take(db_exec(cy_uuid_valid(ref) ? "users_get_id" : "users_get_handle",
		cy_uuid_valid(ref) ? "SELECT " USER_JSON " FROM users u WHERE u.id = $1::uuid" :
		"SELECT " USER_JSON " FROM users u WHERE u.handle = $1", 1, p, err), out);
	/* clang-format on */
}

json_t *
store_users_list(struct cy_error *err)
{
	PGresult *res;
	json_t *a;

	/* clang-format off */
	res = db_exec("users_list", "SELECT " USER_JSON " FROM users u ORDER BY u.handle", 0,
		NULL, err);
	/* clang-format on */
	if (!res)
		return NULL;
	a = store_json_rows(res, 0);
	PQclear(res);
	return a;
}

int
store_user_insert(const char *id, const char *handle, const char *email, const char *role,
    struct cy_error *err)
{
	const char *p[4] = { id, handle, email, role };

	return store_run("users_create",
	    "INSERT INTO users (id, handle, email, role) VALUES ($1, $2, $3, $4)", 4, p, err);
}

int
store_user_set_active(const char *id, bool active, struct cy_error *err)
{
	const char *p[1] = { id };

	return store_run(active ? "users_enable" : "users_disable",
	    active ? "UPDATE users SET is_active = true WHERE id = $1" :
		     "UPDATE users SET is_active = false WHERE id = $1",
	    1, p, err);
}

int
store_user_set_role(const char *id, const char *role, struct cy_error *err)
{
	const char *p[2] = { id, role };

	return store_run("users_set_role", "UPDATE users SET role = $2 WHERE id = $1", 2, p, err);
}

int
store_password_insert(const char *user_id, const char *hash, struct cy_error *err)
{
	const char *p[2] = { user_id, hash };

	return store_run("users_create_cred", SQL_PASSWORD_INSERT, 2, p, err);
}

int
store_password_get(const char *user_id, char **hash, struct cy_error *err)
{
	const char *p[1] = { user_id };
	PGresult *res;
	int found;

	*hash = NULL;
	res = db_exec("users_pw_current",
	    "SELECT convert_from(password_hash, 'UTF8') FROM password_credentials"
	    " WHERE user_id = $1",
	    1, p, err);
	if (!res)
		return -1;
	found = PQntuples(res) == 1;
	if (found)
		*hash = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return found;
}

int
store_password_change(const char *user_id, const char *hash, const char *keep_sid,
    struct cy_error *err)
{
	const char *p[2] = { user_id, hash };

	if (store_run("users_pw_set",
		"UPDATE password_credentials SET password_hash = convert_to($2, 'UTF8'),"
		" hash_alg = 'argon2id' WHERE user_id = $1",
		2, p, err) < 0)
		return -1;
	p[1] = keep_sid;
	return store_run("users_pw_other_sessions",
	    "WITH s AS (UPDATE auth_sessions SET revoked_at = now(),"
	    " revoke_reason = 'password_reset' WHERE user_id = $1 AND id <> $2::uuid"
	    " AND revoked_at IS NULL RETURNING id)"
	    " UPDATE refresh_sessions SET is_active = false WHERE is_active"
	    " AND session_id IN (SELECT id FROM s)",
	    2, p, err);
}

int
store_password_reset(const char *user_id, const char *hash, struct cy_error *err)
{
	const char *p[2] = { user_id, hash };

	/* clang-format off */
	return store_run("users_reset_password",
		SQL_PASSWORD_INSERT " ON CONFLICT (user_id) DO UPDATE"
		" SET password_hash = EXCLUDED.password_hash, hash_alg = 'argon2id'", 2, p, err);
	/* clang-format on */
}

int
store_admin_exists(bool *exists, struct cy_error *err)
{
	PGresult *res;

	res = db_exec("boot_admin_exists", "SELECT 1 FROM users WHERE handle = 'admin'", 0, NULL,
	    err);
	if (!res)
		return -1;
	*exists = PQntuples(res) > 0;
	PQclear(res);
	return 0;
}

int
store_admin_create(const char *hash, struct cy_error *err)
{
	const char *p[2];
	PGresult *res;
	int rc = -1;

	if (db_begin(err) < 0)
		return -1;
	/* ON CONFLICT: another replica may create it at the same moment. */
	res = db_exec("boot_admin_user",
	    "INSERT INTO users (handle, role) VALUES ('admin', 'admin')"
	    " ON CONFLICT (handle) DO NOTHING"
	    " RETURNING id",
	    0, NULL, err);
	if (res && PQntuples(res) == 0) {
		rc = 0;
	} else if (res) {
		p[0] = PQgetvalue(res, 0, 0);
		p[1] = hash;
		if (store_run("boot_admin_cred", SQL_PASSWORD_INSERT, 2, p, err) == 0 &&
		    store_run("boot_admin_audit",
			"INSERT INTO auth_audit_log (event_type, user_id, subject_handle, success,"
			" reason) VALUES ('user_created', $1, 'admin', true, 'bootstrap')",
			1, p, err) == 0)
			rc = 1;
	}
	PQclear(res);
	if (rc == 1)
		return db_commit(err) < 0 ? -1 : 1;
	db_rollback();
	return rc;
}
