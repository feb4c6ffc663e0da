/*
 * Statements of the dedicated connections (store-conn.h).  The chores lock
 * is a session advisory lock: it goes when its connection closes, so a
 * replica that dies hands the chores to another without any cleanup.
 */
#include <string.h>

#include "db.h"
#include "server.h"
#include "store-conn.h"
#include "banned.h"

#define CHORES_LOCK_KEY "7161899770815434753" /* "cynode" chores */

PGconn *
store_conn_open(const char *app)
{
	PGconn *c = db_connect(app);

	if (PQstatus(c) != CONNECTION_OK) {
		PQfinish(c);
		return NULL;
	}
	return c;
}

/* Runs a command without rows; 0 or -1. */
static int
conn_command(PGconn *c, const char *sql)
{
	PGresult *res = PQexec(c, sql);
	int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;

	PQclear(res);
	return rc;
}

int
store_conn_listen_dispatch(PGconn *c)
{
	return conn_command(c,
	    "LISTEN cynode_jobs; LISTEN cynode_task_closed; LISTEN cynode_task_logs; "
	    "LISTEN cynode_events; LISTEN cynode_webhooks");
}

int
store_conn_listen_auth(PGconn *c)
{
	return conn_command(c, "LISTEN cynode_auth");
}

bool
store_conn_chores_lock(PGconn *c)
{
	PGresult *res = PQexec(c, "SELECT pg_try_advisory_lock(" CHORES_LOCK_KEY ")");
	bool got = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
		   !strcmp(PQgetvalue(res, 0, 0), "t");

	PQclear(res);
	return got;
}

bool
store_conn_alive(PGconn *c)
{
	PGresult *res = PQexec(c, "SELECT 1");
	bool ok = PQresultStatus(res) == PGRES_TUPLES_OK;

	PQclear(res);
	return ok && PQstatus(c) == CONNECTION_OK;
}

int
store_conn_notify_setup(PGconn *c)
{
	return conn_command(c, "SET synchronous_commit = off");
}

int
store_conn_notify(PGconn *c, const char *channels, const char *payloads)
{
	const char *p[2] = { channels, payloads };
	PGresult *res = PQexecParams(c,
	    "SELECT count(pg_notify(c, p)) FROM unnest($1::text[], $2::text[]) AS n(c, p)", 2, NULL,
	    p, NULL, NULL, 0);
	int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : -1;

	PQclear(res);
	return rc;
}
