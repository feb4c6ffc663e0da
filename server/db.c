/*
 * PostgreSQL access for cynode-server: one libpq connection per thread at
 * a time, taken from the idle ones the threads share (or opened) at its
 * first statement, and reopened once when it is found broken; statements are
 * prepared once per connection by name (a small per-connection hash set of
 * prepared names) and always run with separate text parameters.
 *
 * err->code after a failed db_exec: EEXIST for a unique violation (SQLSTATE
 * 23505), EINVAL for bad input data or a failed check/foreign key (22xxx,
 * 23503, 23514), ECONNRESET when the connection is gone, EIO otherwise.
 *
 * Outside a transaction, a statement whose connection broke runs again on a
 * new connection only when it cannot have taken effect (it never went out)
 * or when running it twice is harmless (it only reads); a write whose reply
 * was lost fails with ECONNRESET, its outcome unknown.
 *
 * Inside a transaction nothing reconnects: a lost connection fails every
 * statement and the COMMIT until db_rollback(), and a COMMIT that
 * PostgreSQL turned into a ROLLBACK fails too.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "db.h"
#include "log.h"
#include "server.h"
#include "banned.h"

struct db_thread {
	PGconn *conn;
	char **names; /* open-addressing set of prepared names */
	size_t cap, count;
	int in_tx;
};

static __thread struct db_thread dbt;
static pthread_key_t db_key;
static pthread_once_t db_key_once = PTHREAD_ONCE_INIT;

/* FNV-1a over the statement name. */
static uint32_t
name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* Forgets every prepared name (new connection). */
static void
prepared_clear(void)
{
	size_t i;

	for (i = 0; i < dbt.cap; i++)
		free(dbt.names[i]);
	free(dbt.names);
	dbt.names = NULL;
	dbt.cap = dbt.count = 0;
}

static bool
prepared_has(const char *name)
{
	size_t i;

	if (!dbt.cap)
		return false;
	for (i = name_hash(name) & (dbt.cap - 1); dbt.names[i]; i = (i + 1) & (dbt.cap - 1))
		if (!strcmp(dbt.names[i], name))
			return true;
	return false;
}

static void prepared_add(const char *name);

/* Doubles the set's capacity (a power of two), rehashing the names. */
static void
prepared_grow(void)
{
	char **old = dbt.names;
	size_t oldcap = dbt.cap, i;

	dbt.cap = oldcap ? oldcap * 2 : 64;
	dbt.names = xcalloc(dbt.cap, sizeof(*dbt.names));
	dbt.count = 0;
	for (i = 0; i < oldcap; i++) {
		if (old[i]) {
			prepared_add(old[i]);
			free(old[i]);
		}
	}
	free(old);
}

static void
prepared_add(const char *name)
{
	size_t i;

	if ((dbt.count + 1) * 2 > dbt.cap)
		prepared_grow();
	for (i = name_hash(name) & (dbt.cap - 1); dbt.names[i]; i = (i + 1) & (dbt.cap - 1))
		;
	dbt.names[i] = xstrdup(name);
	dbt.count++;
}

/* Drops server notices (they would go to stderr unformatted). */
static void
db_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static void
db_close(void)
{
	if (dbt.conn)
		PQfinish(dbt.conn);
	dbt.conn = NULL;
	dbt.in_tx = 0;
	prepared_clear();
}

/*
 * Idle connections, shared by the threads.  An HTTP worker thread hands
 * its connection back after each call into the routes (db_release, the
 * listeners' after_call) and takes the most recently used one at its next
 * statement, so requests run on the few connections that are warm rather
 * than each of the listeners' worker threads opening (and warming: a
 * fork, the session's catalog caches, its first plans, 2-6 ms) one of its
 * own; a thread that ends hands its connection back too.  At most one per
 * thread is ever held, so the list stays below the thread count; the cap
 * only guards against a leak.
 */
#define DB_IDLE_MAX 512

struct db_idle {
	struct db_idle *next;
	struct db_thread t;
};

static pthread_mutex_t idle_lock = PTHREAD_MUTEX_INITIALIZER;
static struct db_idle *idle_head;
static int idle_count;

/* Takes an idle connection into this thread's slot; false when there is none. */
static bool
db_idle_take(void)
{
	struct db_idle *i;

	pthread_mutex_lock(&idle_lock);
	i = idle_head;
	if (i) {
		idle_head = i->next;
		idle_count--;
	}
	pthread_mutex_unlock(&idle_lock);
	if (!i)
		return false;
	dbt = i->t;
	free(i);
	return true;
}

void
db_release(void)
{
	struct db_idle *i;

	if (!dbt.conn || dbt.in_tx || PQstatus(dbt.conn) != CONNECTION_OK ||
	    PQtransactionStatus(dbt.conn) != PQTRANS_IDLE)
		return;
	pthread_mutex_lock(&idle_lock);
	if (idle_count >= DB_IDLE_MAX) {
		pthread_mutex_unlock(&idle_lock);
		return;
	}
	i = xmalloc(sizeof(*i));
	i->t = dbt;
	i->next = idle_head;
	idle_head = i;
	idle_count++;
	pthread_mutex_unlock(&idle_lock);
	memset(&dbt, 0, sizeof(dbt));
}

/* A thread is ending: its connection goes back, or is closed. */
static void
db_key_destroy(void *arg)
{
	(void)arg;
	db_release();
	db_close();
}

static void
db_key_init(void)
{
	(void)pthread_key_create(&db_key, db_key_destroy);
}

/*
 * TCP keepalives and a user timeout come before the URL, so that the URL's
 * own settings win: a database host that vanishes without a reset (a
 * powered-off machine, a dropped route) fails a connection within about a
 * minute, not the kernel's two hours, whether it idles in the pool, waits
 * for a reply or holds a name counter batch.  Unix sockets ignore them.
 */
#define DB_STR_(x) #x
#define DB_STR(x) DB_STR_(x)

static PGconn *
db_conn_params(const char *app, bool wait)
{
	static const char *const keys[] = { "keepalives", "keepalives_idle", "keepalives_interval",
		"keepalives_count", "tcp_user_timeout", "connect_timeout", "dbname",
		"application_name", NULL };
	const char *vals[] = { "1", "30", "10", "3", "60000", DB_STR(DB_CONNECT_TIMEOUT_S),
		srv.cfg.database_url, app, NULL };

	return wait ? PQconnectdbParams(keys, vals, 1) : PQconnectStartParams(keys, vals, 1);
}

PGconn *
db_connect(const char *app)
{
	return db_conn_params(app, true);
}

PGconn *
db_connect_start(const char *app)
{
	return db_conn_params(app, false);
}

static int
db_open(struct cy_error *err)
{
	char *msg, *nl;

	db_close();
	pthread_once(&db_key_once, db_key_init);
	while (db_idle_take()) {
		/* A backend that ended meanwhile shows as EOF here (no wait). */
		if (PQconsumeInput(dbt.conn) && PQstatus(dbt.conn) == CONNECTION_OK) {
			(void)pthread_setspecific(db_key, &dbt);
			return 0;
		}
		db_close();
	}
	dbt.conn = db_connect("cynode-server");
	if (PQstatus(dbt.conn) != CONNECTION_OK) {
		msg = xstrdup(PQerrorMessage(dbt.conn));
		while ((nl = strchr(msg, '\n')))
			*nl = ' ';
		cy_error_set(err, ECONNREFUSED, "cannot connect to PostgreSQL: %s", msg);
		free(msg);
		PQfinish(dbt.conn);
		dbt.conn = NULL;
		return -1;
	}
	PQsetNoticeProcessor(dbt.conn, db_notice, NULL);
	pthread_once(&db_key_once, db_key_init);
	(void)pthread_setspecific(db_key, &dbt);
	return 0;
}

PGconn *
db_conn(struct cy_error *err)
{
	if (dbt.conn && PQstatus(dbt.conn) == CONNECTION_OK)
		return dbt.conn;
	/*
	 * The transaction died with the connection: a fresh one would run the
	 * rest of it statement by statement (and COMMIT nothing) as if all
	 * were well.  Only db_rollback() ends it.
	 */
	if (dbt.in_tx) {
		cy_error_set(err, ECONNRESET,
		    "database: connection lost inside a transaction (rolled back)");
		return NULL;
	}
	if (dbt.conn)
		cy_log_warn("db_reconnect", "reason", "connection lost", NULL);
	if (db_open(err) < 0)
		return NULL;
	return dbt.conn;
}

/* Maps a failed result to err (one line, no parameters echoed). */
static void
db_result_error(PGresult *res, const char *name, struct cy_error *err)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	int code = EIO;

	if (!msg)
		msg = dbt.conn ? PQerrorMessage(dbt.conn) : "no connection";
	if (state) {
		if (!strcmp(state, "23505"))
			code = EEXIST;
		else if (!strncmp(state, "22", 2) || !strcmp(state, "23503") ||
			 !strcmp(state, "23514") || !strcmp(state, "23502"))
			code = EINVAL;
	}
	if (dbt.conn && PQstatus(dbt.conn) != CONNECTION_OK)
		code = ECONNRESET;
	cy_error_set(err, code, "database: %s: %s%s%s", name, msg, state ? " sqlstate " : "",
	    state ? state : "");
	/* Strip libpq's trailing newline. */
	{
		size_t n = strlen(err->msg);

		while (n && (err->msg[n - 1] == '\n' || err->msg[n - 1] == ' '))
			err->msg[--n] = '\0';
	}
}

/*
 * Whether running sql twice does no more than running it once: a plain
 * SELECT (or VALUES/SHOW).  Anything else, WITH included (it may hold an
 * INSERT), counts as a write, and so does a SELECT of one of the functions
 * that write (listed here).
 */
static bool
sql_read_only(const char *sql)
{
	static const char *const kw[] = { "SELECT", "VALUES", "SHOW" };
	static const char *const writers[] = { "cy_dispatch_finish(" };
	size_t i, n;

	for (i = 0; i < sizeof(writers) / sizeof(writers[0]); i++)
		if (strstr(sql, writers[i]))
			return false;
	while (*sql == ' ' || *sql == '\t' || *sql == '\n' || *sql == '(')
		sql++;
	for (i = 0; i < sizeof(kw) / sizeof(kw[0]); i++) {
		n = strlen(kw[i]);
		if (!strncasecmp(sql, kw[i], n) &&
		    (sql[n] == ' ' || sql[n] == '\n' || sql[n] == '\t' || sql[n] == '\0'))
			return true;
	}
	return false;
}

/*
 * One attempt: prepare when needed, then execute.  *sent says whether the
 * statement may have reached PostgreSQL: false when preparing failed or
 * libpq could not send it whole (a backend that never got the closing Sync
 * runs nothing), true once it went out, even if the reply was lost.
 */
static PGresult *
db_try(const char *name, const char *sql, int nparams, const char *const *params,
    const int *lengths, const int *formats, int result_format, bool *sent, struct cy_error *err)
{
	PGresult *res, *extra;
	ExecStatusType st;

	*sent = false;
	if (!prepared_has(name)) {
		res = PQprepare(dbt.conn, name, sql, nparams, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			db_result_error(res, name, err);
			PQclear(res);
			return NULL;
		}
		PQclear(res);
		prepared_add(name);
	}
	if (!PQsendQueryPrepared(dbt.conn, name, nparams, params, lengths, formats,
		result_format)) {
		db_result_error(NULL, name, err);
		return NULL;
	}
	*sent = true;
	/*
	 * The first result is the statement's; an error after it (the
	 * connection lost before ReadyForQuery, when an autocommit statement
	 * commits) fails the whole.
	 */
	res = PQgetResult(dbt.conn);
	while ((extra = PQgetResult(dbt.conn))) {
		st = PQresultStatus(extra);
		if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
			PQclear(res);
			res = extra;
		} else {
			PQclear(extra);
		}
	}
	st = PQresultStatus(res);
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
		return res;
	db_result_error(res, name, err);
	PQclear(res);
	return NULL;
}

PGresult *
db_exec(const char *name, const char *sql, int nparams, const char *const *params,
    struct cy_error *err)
{
	return db_exec_bin(name, sql, nparams, params, NULL, NULL, 0, err);
}

PGresult *
db_exec_bin(const char *name, const char *sql, int nparams, const char *const *params,
    const int *lengths, const int *formats, int result_format, struct cy_error *err)
{
	PGresult *res;
	bool sent;

	if (!db_conn(err))
		return NULL;
	/* A handler that forgot db_rollback() must not poison the next request. */
	if (!dbt.in_tx && PQtransactionStatus(dbt.conn) == PQTRANS_INERROR) {
		cy_log_warn("db_stray_transaction", "statement", name, NULL);
		db_rollback();
	}
	/*
	 * A connection the database closed while it sat idle (a restart) shows
	 * here, with nothing sent yet: reconnect now rather than lose the
	 * statement to an unknown outcome.
	 */
	if (!dbt.in_tx && (!PQconsumeInput(dbt.conn) || PQstatus(dbt.conn) != CONNECTION_OK)) {
		cy_log_warn("db_reconnect", "reason", "connection closed while idle", NULL);
		if (db_open(err) < 0)
			return NULL;
	}
	res = db_try(name, sql, nparams, params, lengths, formats, result_format, &sent, err);
	if (res || dbt.in_tx || PQstatus(dbt.conn) == CONNECTION_OK)
		return res;
	/*
	 * The connection broke outside a transaction.  A statement that did not
	 * go out, or one that only reads, runs again on a new connection; a
	 * write that went out may have committed before its reply was lost, and
	 * running it again could do it twice: its outcome is unknown.
	 */
	if (sent && !sql_read_only(sql)) {
		cy_log_warn("db_outcome_unknown", "statement", name, NULL);
		cy_error_set(err, ECONNRESET,
		    "database: connection lost after %s was sent; whether it took effect is "
		    "unknown",
		    name);
		return NULL;
	}
	cy_log_warn("db_reconnect", "statement", name, NULL);
	if (db_open(err) < 0)
		return NULL;
	return db_try(name, sql, nparams, params, lengths, formats, result_format, &sent, err);
}

/* Runs a parameterless utility statement. */
static int
db_simple(const char *sql, struct cy_error *err)
{
	PGresult *res;
	int rc = 0;

	if (!db_conn(err))
		return -1;
	res = PQexec(dbt.conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		db_result_error(res, sql, err);
		rc = -1;
	}
	PQclear(res);
	return rc;
}

int
db_begin(struct cy_error *err)
{
	/* A transaction some earlier caller left open must not swallow this one. */
	if (dbt.in_tx || (dbt.conn && PQstatus(dbt.conn) == CONNECTION_OK &&
			     PQtransactionStatus(dbt.conn) != PQTRANS_IDLE)) {
		cy_log_warn("db_stray_transaction", "statement", "BEGIN", NULL);
		db_rollback();
	}
	if (db_simple("BEGIN", err) < 0) {
		/* An idle connection the database dropped (restart, failover)
		 * shows only now; nothing ran yet, so reconnect once and retry. */
		if (!dbt.conn || PQstatus(dbt.conn) == CONNECTION_OK)
			return -1;
		cy_log_warn("db_reconnect", "statement", "BEGIN", NULL);
		if (db_simple("BEGIN", err) < 0)
			return -1;
	}
	dbt.in_tx = 1;
	return 0;
}

/*
 * PostgreSQL answers the COMMIT of a transaction that a failed statement
 * aborted with ROLLBACK, not an error: a caller that ignored a failure
 * (an audit row, say) must not take that for a commit.
 */
int
db_commit(struct cy_error *err)
{
	PGresult *res;
	int rc = -1;

	if (!db_conn(err)) {
		dbt.in_tx = 0;
		return -1;
	}
	dbt.in_tx = 0;
	res = PQexec(dbt.conn, "COMMIT");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		db_result_error(res, "COMMIT", err);
	else if (!strcmp(PQcmdStatus(res), "ROLLBACK"))
		cy_error_set(err, EIO,
		    "database: COMMIT: the transaction was aborted and rolled back");
	else
		rc = 0;
	PQclear(res);
	return rc;
}

bool
db_in_tx(void)
{
	return dbt.in_tx ||
	       (dbt.conn && PQtransactionStatus(dbt.conn) != PQTRANS_IDLE &&
		   PQtransactionStatus(dbt.conn) != PQTRANS_UNKNOWN);
}

void
db_rollback(void)
{
	PGresult *res;

	dbt.in_tx = 0;
	/* Nothing open (an error path of a statement run outside one). */
	if (!dbt.conn || PQstatus(dbt.conn) != CONNECTION_OK ||
	    PQtransactionStatus(dbt.conn) == PQTRANS_IDLE)
		return;
	res = PQexec(dbt.conn, "ROLLBACK");
	PQclear(res);
}

void
db_thread_cleanup(void)
{
	db_close();
}
