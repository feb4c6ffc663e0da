/*
 * Secrets SQL (secrets.h): sealed values stored per owner and scope (the
 * owner's own, or one project), listed without them, resolved for a task
 * with the project's secret winning over the owner's own.
 */
#include <errno.h>

#include "db.h"
#include "secrets.h"
#include "store-util.h"
#include "banned.h"

/* clang-format off */
#define SECRET_JSON \
	"json_build_object('name', s.name, 'project_id', s.project_id," \
	" 'created_at', " SQL_TS("s.created_at") ", 'updated_at', " SQL_TS("s.updated_at") ")::text"
/* clang-format on */

int
store_secret_put(const char *owner, const char *project, const char *name, const char *sealed_hex,
    bool *created, struct cy_error *err)
{
	const char *p[4] = { owner, project, name, sealed_hex };
	PGresult *res;

	/* xmax = 0 only on a row this statement inserted. */
	res = db_exec("secret_put",
	    "INSERT INTO secrets (owner_id, project_id, name, value_sealed)"
	    " VALUES ($1, $2::uuid, $3, decode($4, 'hex'))"
	    " ON CONFLICT ON CONSTRAINT secrets_scope_name_key DO UPDATE"
	    " SET value_sealed = EXCLUDED.value_sealed, updated_at = now()"
	    " RETURNING (xmax = 0)",
	    4, p, err);
	if (!res)
		return -1;
	*created = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return 0;
}

json_t *
store_secrets_list(const char *owner, struct cy_error *err)
{
	const char *p[1] = { owner };
	PGresult *res;
	json_t *a;

	res = db_exec("secrets_list",
	    "SELECT " SECRET_JSON " FROM secrets s WHERE s.owner_id = $1"
	    " ORDER BY s.name, s.project_id NULLS FIRST",
	    1, p, err);
	if (!res)
		return NULL;
	a = store_json_rows(res, 0);
	PQclear(res);
	return a;
}

int
store_secret_delete(const char *owner, const char *project, const char *name, struct cy_error *err)
{
	const char *p[3] = { owner, project, name };
	PGresult *res;
	int n;

	res = db_exec("secret_delete",
	    "DELETE FROM secrets WHERE owner_id = $1 AND project_id IS NOT DISTINCT FROM $2::uuid"
	    " AND name = $3",
	    3, p, err);
	if (!res)
		return -1;
	n = PQcmdTuples(res)[0] == '0' ? 0 : 1;
	PQclear(res);
	return n;
}

json_t *
store_secrets_missing(const char *owner, const char *project, const char *names,
    struct cy_error *err)
{
	const char *p[3] = { owner, project, names };
	PGresult *res;
	json_t *a;
	int i;

	/* clang-format off */
	res = db_exec("secrets_missing",
		"SELECT n FROM unnest($3::text[]) AS n WHERE NOT EXISTS ("
		" SELECT 1 FROM secrets s WHERE s.owner_id = $1 AND s.name = n"
		" AND (s.project_id IS NULL OR s.project_id = COALESCE($2::uuid,"
		" (SELECT id FROM projects WHERE slug = 'default-' || $1))))"
		" ORDER BY n", 3, p, err);
	/* clang-format on */
	if (!res)
		return NULL;
	a = json_array();
	for (i = 0; i < PQntuples(res); i++)
		json_array_append_new(a, json_string(PQgetvalue(res, i, 0)));
	PQclear(res);
	return a;
}

PGresult *
store_secrets_for_task(const char *task_id, const char *names, struct cy_error *err)
{
	const char *p[2] = { task_id, names };

	/* clang-format off */
	return db_exec("secrets_for_task",
		"SELECT DISTINCT ON (s.name) s.name, s.owner_id, s.project_id,"
		" encode(s.value_sealed, 'hex') FROM tasks t JOIN secrets s"
		" ON s.owner_id = t.created_by AND (s.project_id IS NULL OR s.project_id = t.project_id)"
		" WHERE t.id = $1 AND s.name = ANY ($2::text[])"
		" ORDER BY s.name, s.project_id NULLS LAST", 2, p, err);
	/* clang-format on */
}
