/*
 * The notification sender (notify-send.h): one thread with its own connection.
 * What is posted while it sends waits for the next round, so under load
 * many commits' wake-ups go out in one transaction (PostgreSQL folds the
 * repeats of a channel and payload); idle, a post goes out at once.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "alloc.h"
#include "buf.h"
#include "id.h"
#include "log.h"
#include "notify-send.h"
#include "store-conn.h"
#include "store-util.h"
#include "banned.h"

/* Closed tasks held while the database cannot be reached; more are dropped. */
#define MAX_IDS 65536
#define RETRY_MS 1000
#define STOP_WAIT_S 3

typedef char task_id[CY_UUID_LEN + 1];

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static unsigned mask;  /* under lock */
static task_id *ids;   /* under lock */
static size_t nids;    /* under lock */
static size_t cap;     /* under lock */
static size_t dropped; /* under lock */
static bool stopping;  /* under lock */
static pthread_t thread;
static bool started;

void
notify_post(unsigned channels)
{
	pthread_mutex_lock(&lock);
	mask |= channels;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
}

void
notify_post_closed(const char *task_id_text)
{
	pthread_mutex_lock(&lock);
	if (nids >= MAX_IDS) {
		dropped++;
	} else {
		if (nids == cap) {
			cap = cap ? cap * 2 : 64;
			ids = xreallocarray(ids, cap, sizeof(*ids));
		}
		xsnprintf(ids[nids++], sizeof(*ids), "%s", task_id_text);
	}
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
}

/* Puts a round that could not be sent back in front of what came meanwhile. */
static void
round_requeue(unsigned m, task_id *t, size_t n)
{
	size_t room, keep;

	pthread_mutex_lock(&lock);
	mask |= m;
	room = nids < MAX_IDS ? MAX_IDS - nids : 0;
	keep = n < room ? n : room;
	if (keep > 0) {
		if (nids + keep > cap) {
			cap = nids + keep;
			ids = xreallocarray(ids, cap, sizeof(*ids));
		}
		memmove(ids + keep, ids, nids * sizeof(*ids));
		memcpy(ids, t, keep * sizeof(*ids));
		nids += keep;
	}
	dropped += n - keep;
	pthread_mutex_unlock(&lock);
}

/* The array literals of one round: a channel and a payload per NOTIFY. */
static void
round_build(unsigned m, const task_id *t, size_t n, struct cy_buf *ch, struct cy_buf *pl)
{
	size_t i;

	cy_buf_addstr(ch, "{");
	cy_buf_addstr(pl, "{");
	if (m & NOTIFY_JOBS) {
		store_array_add(ch, "cynode_jobs");
		store_array_add(pl, "");
	}
	if (m & NOTIFY_EVENTS) {
		store_array_add(ch, "cynode_events");
		store_array_add(pl, "");
	}
	for (i = 0; i < n; i++) {
		store_array_add(ch, "cynode_task_closed");
		store_array_add(pl, t[i]);
	}
	cy_buf_addstr(ch, "}");
	cy_buf_addstr(pl, "}");
}

static PGconn *
sender_connect(void)
{
	PGconn *c = store_conn_open("cynode-server-notify");

	if (c && store_conn_notify_setup(c) < 0) {
		PQfinish(c);
		return NULL;
	}
	return c;
}

/* Sends one round, connecting as needed, up to TRIES times. */
static int
round_send(PGconn **c, const char *ch, const char *pl, int tries)
{
	for (; tries > 0; tries--) {
		if (!*c && !(*c = sender_connect()))
			continue;
		if (store_conn_notify(*c, ch, pl) == 0)
			return 0;
		PQfinish(*c);
		*c = NULL;
	}
	return -1;
}

static void *
sender_main(void *arg)
{
	PGconn *c = NULL;
	bool failing = false;

	(void)arg;
	for (;;) {
		struct cy_buf ch = CY_BUF_INIT, pl = CY_BUF_INIT;
		unsigned m;
		task_id *t;
		size_t n, lost;
		bool stop;

		pthread_mutex_lock(&lock);
		while (!mask && !nids && !stopping)
			pthread_cond_wait(&cond, &lock);
		stop = stopping;
		m = mask;
		t = ids;
		n = nids;
		lost = dropped;
		mask = 0;
		ids = NULL;
		nids = cap = dropped = 0;
		pthread_mutex_unlock(&lock);
		/*
		 * The last round, at shutdown, gets one try, none when the
		 * database was already failing: other replicas lose nothing
		 * they could act on, and a stop does not wait out connect
		 * timeouts.
		 */
		if ((m || n) && stop && failing)
			cy_log_warn("notify_not_sent", "note",
			    "shutting down while the database does not answer", NULL);
		else if (m || n) {
			round_build(m, t, n, &ch, &pl);
			if (round_send(&c, ch.buf, pl.buf, stop ? 1 : 2) < 0) {
				if (!failing)
					cy_log_warn("notify_failed", "note",
					    "kept and sent again once the database answers", NULL);
				failing = true;
				if (!stop) {
					round_requeue(m, t, n);
					poll(NULL, 0, RETRY_MS);
				}
			} else if (failing) {
				cy_log_info("notify_restored", NULL);
				failing = false;
			}
		}
		if (lost > 0)
			cy_log_warn("notify_dropped", "note",
			    "closed tasks not announced while the database was away", NULL);
		cy_buf_release(&ch);
		cy_buf_release(&pl);
		free(t);
		if (stop)
			break;
	}
	if (c)
		PQfinish(c);
	return NULL;
}

int
notify_start(struct cy_error *err)
{
	int rc;

	pthread_mutex_lock(&lock);
	stopping = false;
	pthread_mutex_unlock(&lock);
	if ((rc = pthread_create(&thread, NULL, sender_main, NULL)) != 0) {
		errno = rc;
		return cy_error_errno(err, "cannot start the notification thread");
	}
	started = true;
	return 0;
}

void
notify_stop(void)
{
	struct timespec deadline;

	if (!started)
		return;
	pthread_mutex_lock(&lock);
	stopping = true;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
	/*
	 * A round in progress may be waiting on a database that does not
	 * answer (a connect waits up to connect_timeout, 10 s, twice): the
	 * stop waits STOP_WAIT_S for it, then leaves the thread to the exit.
	 */
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += STOP_WAIT_S;
	if (pthread_timedjoin_np(thread, NULL, &deadline) == ETIMEDOUT) {
		cy_log_warn("notify_not_sent", "note",
		    "shutting down while the database does not answer", NULL);
		pthread_detach(thread);
	}
	started = false;
}
