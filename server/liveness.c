/*
 * Node liveness (DESIGN.md section 1, the reaper's node part): a thread that
 * marks active nodes inactive when no heartbeat (or other node call) has
 * been seen for nodes.liveness_ttl, so the dispatcher stops placing jobs on
 * them.  A heartbeat makes an inactive node active again (store-fleet.c).
 * The UPDATE is idempotent, so several server replicas may run it at once.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "db.h"
#include "log.h"
#include "nodes.h"
#include "server.h"
#include "store-fleet.h"
#include "banned.h"

static pthread_t live_thread;
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t live_cond;
static int live_stopping;
static int live_started;

/* Check interval: a quarter of the TTL, between 250 ms and 5 s. */
static long
live_interval_ms(void)
{
	long long ms = srv.cfg.node_liveness_ttl_s * 1000 / 4;

	if (ms < 250)
		ms = 250;
	if (ms > 5000)
		ms = 5000;
	return (long)ms;
}

static void *
live_main(void *arg)
{
	struct timespec ts;
	long ms = live_interval_ms();

	(void)arg;
	pthread_mutex_lock(&live_lock);
	while (!live_stopping) {
		struct cy_error err = CY_ERROR_INIT;

		pthread_mutex_unlock(&live_lock);
		if (store_nodes_expire(srv.cfg.node_liveness_ttl_s, &err) < 0)
			cy_log_warn("liveness_check_failed", "error", err.msg, NULL);
		pthread_mutex_lock(&live_lock);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += ms / 1000;
		ts.tv_nsec += (ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!live_stopping)
			if (pthread_cond_timedwait(&live_cond, &live_lock, &ts) != 0)
				break;
	}
	pthread_mutex_unlock(&live_lock);
	db_thread_cleanup();
	return NULL;
}

int
liveness_start(struct cy_error *err)
{
	pthread_condattr_t ca;
	int rc;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&live_cond, &ca);
	pthread_condattr_destroy(&ca);
	live_stopping = 0;
	rc = pthread_create(&live_thread, NULL, live_main, NULL);
	if (rc != 0)
		return cy_error_set(err, rc, "cannot start the liveness thread");
	live_started = 1;
	return 0;
}

void
liveness_stop(void)
{
	if (!live_started)
		return;
	pthread_mutex_lock(&live_lock);
	live_stopping = 1;
	pthread_cond_broadcast(&live_cond);
	pthread_mutex_unlock(&live_lock);
	pthread_join(live_thread, NULL);
	live_started = 0;
}
