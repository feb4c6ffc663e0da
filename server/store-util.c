/*
 * Statement shorthands for the store-*.c files.
 */
#include "db.h"
#include "store-util.h"
#include "banned.h"

int store_run(const char *name, const char *sql, int nparams, const char *const *params,
	struct cy_error *err)
{
	PGresult *res = db_exec(name, sql, nparams, params, err);

	if (!res)
		return -1;
	PQclear(res);
	return 0;
}

const char *store_val(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return NULL;
	return PQgetvalue(res, row, col);
}

void store_array_add(struct cy_buf *b, const char *s)
{
	cy_buf_addstr(b, b->len > 1 ? "," : "");
	if (!s) {
		cy_buf_addstr(b, "NULL");
		return;
	}
	cy_buf_addch(b, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			cy_buf_addch(b, '\\');
		cy_buf_addch(b, *s);
	}
	cy_buf_addch(b, '"');
}
