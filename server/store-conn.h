/*
 * SQL on the server's dedicated connections, the ones outside db.c's
 * connection per worker thread: the NOTIFY listeners (dispatch-listen.c,
 * auth-cache.c), whose LISTEN lasts as long as their connection, the
 * chores leader (dispatch-chores.c), whose session advisory lock does too,
 * and the notification sender (notify-send.c), whose commits are
 * asynchronous.
 * Their owners poll the connections themselves.
 */
#ifndef SERVER_STORE_CONN_H
#define SERVER_STORE_CONN_H

#include <libpq-fe.h>
#include <stdbool.h>

/* A new connection to the database named `app` in pg_stat_activity, or NULL. */
PGconn *store_conn_open(const char *app);
/* LISTENs on cynode_jobs and cynode_task_closed.  0 or -1. */
int store_conn_listen_dispatch(PGconn *c);
/* LISTENs on cynode_auth.  0 or -1 (PQerrorMessage(c) says why). */
int store_conn_listen_auth(PGconn *c);
/* Tries to take the cluster chores lock; true when c holds it now. */
bool store_conn_chores_lock(PGconn *c);
/* True while c answers, and with it any lock it holds. */
bool store_conn_alive(PGconn *c);
/*
 * The notification sender's connection (notify-send.c): its commits do not
 * wait for a flush.  0 or -1.
 */
int store_conn_notify_setup(PGconn *c);
/*
 * Sends one NOTIFY per element of the array literals channels and payloads
 * (as many of each) in one transaction.  0 or -1.
 */
int store_conn_notify(PGconn *c, const char *channels, const char *payloads);

#endif
