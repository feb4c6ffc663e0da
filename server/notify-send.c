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
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "alloc.h"
#include "buf.h"
#include "db.h"
#include "id.h"
#include "log.h"
#include "notify-send.h"
#include "store-conn.h"
#include "store-util.h"
#include "timeutil.h"
#include "banned.h"

/* Closed tasks held while the database cannot be reached; more are dropped. */
#define MAX_IDS 65536
#define RETRY_MS 1000
#define STOP_WAIT_S 3
#define STOP_CONNECT_MS 2000
#define CONNECT_MS (DB_CONNECT_TIMEOUT_S * 1000)
#define POLL_SLICE_MS 100

typedef char task_id[CY_UUID_LEN + 1];

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static unsigned mask;      /* under lock */
static task_id *ids;       /* under lock */
static size_t nids;        /* under lock */
static size_t cap;         /* under lock */
static size_t dropped;     /* under lock */
static bool stopping;      /* under lock */
static int64_t stop_at_ms; /* under lock: cy_mono_ms() of the stop, 0 before */
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

/* RETRY_MS between failed rounds, cut short by a stop. */
static void
retry_pause(void)
{
	int64_t until = cy_mono_ms() + RETRY_MS;
	bool stop = false;

	while (!stop && cy_mono_ms() < until) {
		poll(NULL, 0, POLL_SLICE_MS);
		pthread_mutex_lock(&lock);
		stop = stopping;
		pthread_mutex_unlock(&lock);
	}
}

/* True once a stop was asked for STOP_CONNECT_MS ago: no connect is begun or waited for. */
static bool
stop_passed(void)
{
	int64_t at;

	pthread_mutex_lock(&lock);
	at = stop_at_ms;
	pthread_mutex_unlock(&lock);
	return at > 0 && cy_mono_ms() >= at + STOP_CONNECT_MS;
}

/*
 * A new connection, waited for CONNECT_MS at most and not past a stop's
 * STOP_CONNECT_MS: a database that accepts connections and never answers
 * would otherwise hold a stop for the whole connect timeout.
 */
static PGconn *
sender_connect(void)
{
	int64_t until = cy_mono_ms() + CONNECT_MS;
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	PGconn *c;

	if (stop_passed())
		return NULL;
	c = db_connect_start("cynode-server-notify");
	if (!c || PQstatus(c) == CONNECTION_BAD)
		goto fail;
	while (st != PGRES_POLLING_OK) {
		struct pollfd p = { .fd = PQsocket(c) };
		int r;

		if (st == PGRES_POLLING_FAILED || p.fd < 0)
			goto fail;
		p.events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
		do {
			if (stop_passed() || cy_mono_ms() >= until)
				goto fail;
			r = poll(&p, 1, POLL_SLICE_MS);
		} while (r == 0 || (r < 0 && errno == EINTR));
		if (r < 0)
			goto fail;
		st = PQconnectPoll(c);
	}
	if (store_conn_notify_setup(c) == 0)
		return c;
fail:
	PQfinish(c);
	return NULL;
}

/* Sends one round, connecting (once more after a failure) as needed. */
static int
round_send(PGconn **c, const char *ch, const char *pl)
{
	int tries;

	for (tries = 0; tries < 2; tries++) {
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
		 * The last round, at shutdown, is not tried when the database
		 * was already failing (other replicas lose nothing they could
		 * act on), and its connects end STOP_CONNECT_MS after the stop.
		 */
		if ((m || n) && stop && failing)
			cy_log_warn("notify_not_sent", "note",
			    "shutting down while the database does not answer", NULL);
		else if (m || n) {
			bool sent;

			round_build(m, t, n, &ch, &pl);
			sent = round_send(&c, ch.buf, pl.buf) == 0;
			if (!sent && stop) {
				cy_log_warn("notify_not_sent", "note",
				    "shutting down while the database does not answer", NULL);
			} else if (!sent) {
				if (!failing)
					cy_log_warn("notify_failed", "note",
					    "kept and sent again once the database answers", NULL);
				failing = true;
				round_requeue(m, t, n);
				retry_pause();
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
	stop_at_ms = 0;
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
	stop_at_ms = cy_mono_ms();
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
	/*
	 * Connects give up STOP_CONNECT_MS after this; a send on a connection
	 * whose backend hangs does not, so the stop waits STOP_WAIT_S for the
	 * thread, then leaves it to the exit (it is blocked in that read).
	 */
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += STOP_WAIT_S;
	if (pthread_clockjoin_np(thread, NULL, CLOCK_MONOTONIC, &deadline) == ETIMEDOUT) {
		cy_log_warn("notify_stop_timeout", "note",
		    "a send the database does not answer is left to the exit", NULL);
		pthread_detach(thread);
	}
	started = false;
}
