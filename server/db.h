/*
 * PostgreSQL access: one connection per thread at a time (taken from the
 * idle ones or opened lazily, reopened when broken), statements prepared once per connection by name, parameters
 * always passed separately (no SQL built from input).
 */
#ifndef SERVER_DB_H
#define SERVER_DB_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "error.h"

/*
 * A new connection to the database, shown as `app` in pg_stat_activity,
 * with the server's connection defaults; check PQstatus.
 */
PGconn *db_connect(const char *app);
/*
 * The same, started without waiting (PQconnectStartParams): the caller
 * drives it with PQconnectPoll and decides when to give up (libpq applies
 * connect_timeout, DB_CONNECT_TIMEOUT_S by default, to db_connect only).
 */
#define DB_CONNECT_TIMEOUT_S 10
PGconn *db_connect_start(const char *app);

/* This thread's connection, or NULL with err set. */
PGconn *db_conn(struct cy_error *err);
/*
 * Hands this thread's connection back to the shared idle ones (unless a
 * transaction is open on it); the thread's next statement takes the most
 * recently used.  The listeners call it after each call into the routes.
 */
void db_release(void);
/*
 * Runs the statement `sql` (prepared once per connection under `name`) with
 * text parameters (NULL = SQL NULL).  Returns the result on PGRES_TUPLES_OK or
 * PGRES_COMMAND_OK (caller PQclear()s), or NULL with err set.  err->code is
 * EEXIST for a unique violation, ENOENT never (check PQntuples).
 */
PGresult *db_exec(const char *name, const char *sql, int nparams, const char *const *params,
    struct cy_error *err);
/*
 * db_exec with binary parameters (formats[i] 1, lengths[i] its bytes;
 * NULL arrays: all text) and, with result_format 1, binary results.
 */
PGresult *db_exec_bin(const char *name, const char *sql, int nparams, const char *const *params,
    const int *lengths, const int *formats, int result_format, struct cy_error *err);
/* Rolls back a transaction an earlier caller left open first. */
int db_begin(struct cy_error *err);
/* -1 also when the transaction was aborted (rolled back) or its connection lost. */
int db_commit(struct cy_error *err);
void db_rollback(void);
/* This thread's connection is inside a transaction (one it began, or left open). */
bool db_in_tx(void);
/* Closes this thread's connection (thread exit). */
void db_thread_cleanup(void);

#endif
