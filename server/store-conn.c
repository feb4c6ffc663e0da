/*
 * Statements of the dedicated connections (store-conn.h).  The chores lock
 * is a session advisory lock: it goes when its connection closes, so a
 * replica that dies hands the chores to another without any cleanup.
 */
#include <string.h>

#include "server.h"
#include "store-conn.h"
#include "banned.h"

#define CHORES_LOCK_KEY "7161899770815434753" /* "cynode" chores */

PGconn *
store_conn_open(const char *app)
{
	const char *keys[] = { "dbname", "application_name", "connect_timeout", NULL };
	const char *vals[] = { srv.cfg.database_url, app, "10", NULL };
	PGconn *c = PQconnectdbParams(keys, vals, 1);

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
