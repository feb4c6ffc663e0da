/*
 * Statement shorthands, result accessors and the list cursor for the
 * store-*.c files and the paged list routes (see store-util.h).
 */
#include <string.h>

#include "alloc.h"
#include "db.h"
#include "id.h"
#include "strnum.h"
#include "store-util.h"
#include "banned.h"

int
store_run(const char *name, const char *sql, int nparams, const char *const *params,
    struct cy_error *err)
{
	PGresult *res = db_exec(name, sql, nparams, params, err);

	if (!res)
		return -1;
	PQclear(res);
	return 0;
}

const char *
store_val(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return NULL;
	return PQgetvalue(res, row, col);
}

json_t *
store_json_rows(const PGresult *res, int col)
{
	json_t *a = json_array(), *o;
	int i, n = PQntuples(res);

	for (i = 0; i < n; i++) {
		o = json_loads(PQgetvalue(res, i, col), 0, NULL);
		if (o && json_is_object(o))
			json_array_append_new(a, o);
		else
			json_decref(o);
	}
	return a;
}

json_t *
store_json_row(const PGresult *res, int col)
{
	json_t *o;

	if (PQntuples(res) < 1)
		return NULL;
	o = json_loads(PQgetvalue(res, 0, col), 0, NULL);
	if (o && !json_is_object(o)) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

void
store_array_add(struct cy_buf *b, const char *s)
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

int
store_cursor_parse(const char *s, long long *us, char id[CY_UUID_LEN + 1])
{
	const char *sep = strchr(s, '_');
	const char *errstr;
	char num[32];

	if (!sep || (size_t)(sep - s) >= sizeof(num) || sep == s)
		return -1;
	memcpy(num, s, (size_t)(sep - s));
	num[sep - s] = '\0';
	if (cy_strtonum(num, 0, 9000000000000000000LL, us, &errstr) < 0 || !cy_uuid_valid(sep + 1))
		return -1;
	xsnprintf(id, CY_UUID_LEN + 1, "%s", sep + 1);
	return 0;
}
