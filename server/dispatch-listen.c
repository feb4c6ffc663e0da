/*
 * The NOTIFY listener: one thread per replica with its own PostgreSQL
 * connection, LISTENing on cynode_jobs (a job was queued: wake the
 * dispatcher), cynode_task_logs (payload: the task id; new log bytes wake
 * the follow long polls), cynode_task_closed (payload: the task id; wake the long
 * polls waiting on it) and cynode_events (new rows in the event log: wake the
 * event streams, events.h) and cynode_webhooks (a webhook delivery is due,
 * webhooks.h).  The triggers of migration 0030 send both, so work
 * and closures of every replica reach every replica.  After a lost
 * connection it reconnects, wakes the dispatcher and re-runs every parked
 * long poll, since notifications sent meanwhile are gone.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "dispatch.h"
#include "events.h"
#include "webhooks.h"
#include "log.h"
#include "store-conn.h"
#include "task-wait.h"
#include "banned.h"

#define POLL_MS 500
#define RECONNECT_MS 1000

static pthread_t thread;
static bool started;
static volatile int stopping;

static PGconn *
listen_connect(void)
{
	PGconn *c = store_conn_open("cynode-server-listen");

	if (c && store_conn_listen_dispatch(c) < 0) {
		PQfinish(c);
		return NULL;
	}
	return c;
}

static void *
listen_main(void *arg)
{
	PGconn *c = NULL;
	bool warned = false;

	while (!stopping) {
		struct pollfd pfd;
		PGnotify *n;

		if (!c) {
			if (!(c = listen_connect())) {
				if (!warned)
					cy_log_warn("db_listen_failed", "note",
					    "retrying; the backup poll keeps dispatching", NULL);
				warned = true;
				poll(NULL, 0, RECONNECT_MS);
				continue;
			}
			if (warned)
				cy_log_info("db_listen_restored", NULL);
			warned = false;
			dispatch_wake();
			task_wait_kick_all();
			events_wake();
			webhooks_wake();
		}
		pfd.fd = PQsocket(c);
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, POLL_MS) < 0 && errno != EINTR)
			break;
		if (!PQconsumeInput(c) || PQstatus(c) != CONNECTION_OK) {
			PQfinish(c);
			c = NULL;
			continue;
		}
		while ((n = PQnotifies(c))) {
			if (!strcmp(n->relname, "cynode_jobs"))
				dispatch_wake();
			else if (!strcmp(n->relname, "cynode_task_closed") && n->extra)
				task_wait_closed(n->extra);
			else if (!strcmp(n->relname, "cynode_task_logs") && n->extra)
				task_wait_logs(n->extra);
			else if (!strcmp(n->relname, "cynode_events"))
				events_wake();
			else if (!strcmp(n->relname, "cynode_webhooks"))
				webhooks_wake();
			PQfreemem(n);
		}
	}
	if (c)
		PQfinish(c);
	return NULL;
}

int
dispatch_listen_start(struct cy_error *err)
{
	int rc;

	stopping = 0;
	if ((rc = pthread_create(&thread, NULL, listen_main, NULL)) != 0) {
		errno = rc;
		return cy_error_errno(err, "cannot start the NOTIFY listener thread");
	}
	started = true;
	return 0;
}

void
dispatch_listen_stop(void)
{
	if (!started)
		return;
	stopping = 1;
	pthread_join(thread, NULL);
	started = false;
}
