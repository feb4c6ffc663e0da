/*
 * Small helpers shared by the store-*.c files: the SQL expression that
 * renders a timestamptz as RFC 3339 UTC, and statement shorthands.
 */
#ifndef SERVER_STORE_UTIL_H
#define SERVER_STORE_UTIL_H

#include <libpq-fe.h>
#include <stddef.h>

#include "buf.h"
#include "error.h"

/* SQL text rendering timestamptz column `col` as "2026-02-16T12:00:00Z". */
#define SQL_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* Runs a statement whose rows are not needed; 0 or -1 with err set. */
int store_run(const char *name, const char *sql, int nparams, const char *const *params,
	struct cy_error *err);
/*
 * Appends one element (NULL = SQL NULL) to a PostgreSQL array literal being
 * built in b: start with "{", add elements, end with "}".
 */
void store_array_add(struct cy_buf *b, const char *s);
/* The value at (row, col), or NULL when it is SQL NULL. */
const char *store_val(const PGresult *res, int row, int col);

#endif
