/*
 * Small helpers shared by the store-*.c files: the SQL expression that
 * renders a timestamptz as RFC 3339 UTC, statement shorthands, and the
 * accessors of result values (NULL-aware text, JSON objects built in SQL)
 * that handlers may use on the rows a store hands them.
 */
#ifndef SERVER_STORE_UTIL_H
#define SERVER_STORE_UTIL_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

#include "buf.h"
#include "error.h"
#include "id.h"

/* SQL text rendering timestamptz column `col` as "2026-02-16T12:00:00Z". */
#define SQL_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/*
 * The columns of a count by state (the metrics' gauges): every state of
 * the domain, with 0 when none.
 */
enum state_count_col {
	SCC_STATE,
	SCC_COUNT
};

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
/*
 * Column `col` of every row, each a JSON object built in SQL
 * (json_build_object(...)::text), as a new array.  Rows that do not parse
 * are skipped (they cannot happen: the SQL builds them).
 */
json_t *store_json_rows(const PGresult *res, int col);
/* Column `col` of the first row as a new object, or NULL when there is none. */
json_t *store_json_row(const PGresult *res, int col);

/*
 * Parses the opaque keyset cursor "<created_at microseconds>_<uuid>" of the
 * paged lists (tasks, skills): 0, or -1 when it is not one.
 */
int store_cursor_parse(const char *s, long long *us, char id[CY_UUID_LEN + 1]);

#endif
