/*
 * Cluster chores, run by exactly one replica: the one whose dedicated
 * connection holds the PostgreSQL session advisory lock of
 * store_conn_chores_lock() (store-conn.c).  Every replica's chores
 * thread tries to take it; when the holder dies its connection closes, the
 * lock goes, and another replica takes over within one retry period.  A
 * new leader first gives every running job one more lease (their nodes
 * could not renew while no leader ran, e.g. all replicas down).  The chores: jobs whose lease
 * expired or whose node went inactive go back to the queue or fail by their retry policy (every
 * CHORES_MS), and closed tasks older than retention.finished_tasks are
 * deleted in batches of PRUNE_BATCH, each its own short statement, every
 * retention.interval; when a run leaves a backlog the next run follows on
 * the next chores tick instead, so pruning keeps up with any task rate
 * without one long transaction.  After a run without backlog, the blob
 * chore drops dead uploads and blobs nothing uses (blobstore.h), and the
 * nodes' load counters are checked against their running jobs.  Events
 * older than events.retention go the same way, oldest ids first.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <libpq-fe.h>

#include "blobstore.h"
#include "store-blobs.h"
#include "buf.h"
#include "db.h"
#include "dispatch.h"
#include "store-events.h"
#include "log.h"
#include "server.h"
#include "store-conn.h"
#include "task-wait.h"
#include "timeutil.h"
#include "banned.h"

#define CHORES_MS 500
#define LOCK_RETRY_MS 2000
#define PRUNE_BATCH 1000
#define PRUNE_ROUNDS 10

static pthread_t thread;
static bool started;
static volatile int stopping;

/* A connection holding the chores lock, or NULL (someone else has it). */
static PGconn *
lock_take(void)
{
	PGconn *c = store_conn_open("cynode-server-chores");

	if (c && !store_conn_chores_lock(c)) {
		PQfinish(c);
		return NULL;
	}
	return c;
}

/* Running jobs get one lease from now: their nodes could not renew meanwhile. */
static void
lease_grace(void)
{
	struct cy_error err = CY_ERROR_INIT;

	if (store_dispatch_lease_grace(dispatch_lease_s(), &err) < 0)
		cy_log_error("lease_grace_failed", "error", err.msg, NULL);
}

static void
chores_expire(void)
{
	struct dispatch_ids closed = { 0 };
	struct cy_error err = CY_ERROR_INIT;
	char num[24];
	size_t i;
	int n;

	n = store_dispatch_expire(&closed, &err);
	if (n < 0) {
		cy_log_error("lease_expiry_failed", "error", err.msg, NULL);
		return;
	}
	if (n > 0) {
		xsnprintf(num, sizeof(num), "%d", n);
		cy_log_warn("leases_expired", "jobs", num, "note",
		    "requeued or failed by their retry policy", NULL);
		dispatch_wake();
	}
	for (i = 0; i < closed.n; i++)
		task_wait_closed(closed.id[i]);
	dispatch_ids_release(&closed);
}

/* One retention run; true when it stopped with more tasks left to delete. */
static bool
chores_prune(void)
{
	struct cy_error err = CY_ERROR_INIT;
	long long total = 0;
	char num[24];
	int i, n = 0;

	if (srv.cfg.retention_s <= 0)
		return false;
	for (i = 0; i < PRUNE_ROUNDS && !stopping; i++) {
		n = store_dispatch_prune(srv.cfg.retention_s, PRUNE_BATCH, &err);
		if (n < 0) {
			cy_log_error("retention_failed", "error", err.msg, NULL);
			return false;
		}
		total += n;
		if (n < PRUNE_BATCH)
			break;
	}
	if (total > 0) {
		xsnprintf(num, sizeof(num), "%lld", total);
		cy_log_info("retention_pruned", "tasks", num, "backlog",
		    n == PRUNE_BATCH ? "true" : "false", NULL);
	}
	return n == PRUNE_BATCH;
}

/* One run over the event log; true when it stopped with more to delete. */
static bool
chores_prune_events(void)
{
	struct cy_error err = CY_ERROR_INIT;
	long long n = 0, total = 0;
	char num[24];
	int i;

	for (i = 0; i < PRUNE_ROUNDS && !stopping; i++) {
		n = store_events_prune(srv.cfg.events_retention_s, PRUNE_BATCH, &err);
		if (n < 0) {
			cy_log_error("events_retention_failed", "error", err.msg, NULL);
			return false;
		}
		total += n;
		if (n < PRUNE_BATCH)
			break;
	}
	if (total > 0) {
		xsnprintf(num, sizeof(num), "%lld", total);
		cy_log_info("events_pruned", "events", num, NULL);
	}
	return n == PRUNE_BATCH;
}

/* The nodes' load counters checked against their running jobs. */
static void
chores_node_load(void)
{
	struct cy_error err = CY_ERROR_INIT;
	char num[24];
	int n;

	n = store_node_load_reconcile(&err);
	if (n < 0) {
		cy_log_error("node_load_reconcile_failed", "error", err.msg, NULL);
	} else if (n > 0) {
		/* The trigger should make this impossible: say so loudly. */
		xsnprintf(num, sizeof(num), "%d", n);
		cy_log_warn("node_load_corrected", "nodes", num, "note",
		    "the load counters differed from the running jobs (jobs changed with "
		    "triggers off?); corrected",
		    NULL);
	}
}

/* Expired artifacts, then blobs nothing needs any more (blobstore.h). */
static void
chores_blobs(void)
{
	struct cy_error err = CY_ERROR_INIT;
	long long n;
	char num[24];

	n = store_artifacts_expire(&err);
	if (n < 0) {
		cy_log_error("artifacts_expire_failed", "error", err.msg, NULL);
		cy_error_clear(&err);
	} else if (n > 0) {
		xsnprintf(num, sizeof(num), "%lld", n);
		cy_log_info("artifacts_expired", "artifacts", num, NULL);
	}
	n = blob_gc(srv.cfg.uploads_ttl_s, srv.cfg.uploads_ttl_s, &err);
	if (n < 0) {
		cy_log_error("blob_gc_failed", "error", err.msg, NULL);
	} else if (n > 0) {
		xsnprintf(num, sizeof(num), "%lld", n);
		cy_log_info("blobs_removed", "blobs", num, NULL);
	}
}

static void *
chores_main(void *arg)
{
	int64_t next_prune = 0;
	PGconn *lock = NULL;

	while (!stopping) {
		int64_t now = cy_mono_ms();

		if (lock && !store_conn_alive(lock)) {
			cy_log_warn("chores_lock_lost", NULL);
			PQfinish(lock);
			lock = NULL;
		}
		if (!lock) {
			if (!(lock = lock_take())) {
				poll(NULL, 0, LOCK_RETRY_MS);
				continue;
			}
			cy_log_info("chores_leader", "note",
			    "this replica runs lease expiry and "
			    "retention",
			    NULL);
			lease_grace();
		}
		chores_expire();
		if (now >= next_prune) {
			bool backlog = chores_prune();

			backlog = chores_prune_events() || backlog;

			if (!backlog) {
				chores_blobs();
				chores_node_load();
			}
			next_prune =
			    now + (backlog ? CHORES_MS : srv.cfg.retention_interval_s * 1000);
		}
		poll(NULL, 0, CHORES_MS);
	}
	if (lock)
		PQfinish(lock);
	db_thread_cleanup();
	return NULL;
}

int
dispatch_chores_start(struct cy_error *err)
{
	int rc;

	stopping = 0;
	if ((rc = pthread_create(&thread, NULL, chores_main, NULL)) != 0) {
		errno = rc;
		return cy_error_errno(err, "cannot start the chores thread");
	}
	started = true;
	return 0;
}

void
dispatch_chores_stop(void)
{
	if (!started)
		return;
	stopping = 1;
	pthread_join(thread, NULL);
	started = false;
}
