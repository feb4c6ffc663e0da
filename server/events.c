/*
 * The event hub (events.h): one thread serving every open event stream of
 * this replica.  Handlers add streams to `incoming`; the hub takes them
 * over and owns them from then on (only it writes to them and frees
 * them).  It sleeps on a condition variable until a NOTIFY, a new stream,
 * a client leaving or the next keep-alive wakes it; a wake-up settles the
 * horizon once (one query) and reads each stream's next events (one query
 * per stream with something to catch up on).  While an unsettled gap holds
 * the horizon back it looks again every GAP_RETRY_MS.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "buf.h"
#include "db.h"
#include "events.h"
#include "log.h"
#include "metrics.h"
#include "store-events.h"
#include "strnum.h"
#include "timeutil.h"
#include "banned.h"

#define READ_BATCH 200
#define QUEUE_HIGH (64 * 1024) /* a stream with this much unsent is skipped */
#define GAP_RETRY_MS 200
#define MIN_CYCLE_MS 20
#define RETRY_HINT_MS 2000
#define SHARED_MAX 2000 /* new events read once for all caught-up streams */

struct sub {
	struct cy_http_stream *st;
	struct events_filter f;
	char user_id[40], task_id[40];
	long long last; /* the last id sent (or the client's resume point); -1: from now */
	bool follow;
	bool hello;         /* the opening lines went out */
	int64_t stalled;    /* since when its queue is full; 0: it is not */
	int64_t last_write; /* for the keep-alive */
	int64_t opened;     /* ends after EVENTS_MAX_AGE_MS */
	struct sub *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static struct sub *incoming; /* under lock: handed over by handlers */
static unsigned nstreams;    /* under lock: incoming + the hub's */
static bool woken;           /* under lock */
static bool stopping;        /* under lock */
static pthread_t thread;
static bool started;

static struct sub *subs; /* the hub's own */
static long long horizon;
static bool horizon_known;

void
events_wake(void)
{
	pthread_mutex_lock(&lock);
	woken = true;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
}

/* on_gone: a client left; the hub notices at its next look. */
static void
sub_gone(void *arg)
{
	(void)arg;
	events_wake();
}

int
events_subscribe(struct cy_http_resp *resp, const struct events_filter *f, long long after,
    bool follow)
{
	struct sub *s;

	pthread_mutex_lock(&lock);
	if (nstreams >= EVENTS_MAX_STREAMS || stopping) {
		pthread_mutex_unlock(&lock);
		return -1;
	}
	nstreams++;
	cy_metrics_set("cynode_events_streams", NULL, (double)nstreams);
	pthread_mutex_unlock(&lock);
	s = xcalloc(1, sizeof(*s));
	s->f = *f;
	if (f->user_id) {
		xsnprintf(s->user_id, sizeof(s->user_id), "%s", f->user_id);
		s->f.user_id = s->user_id;
	}
	if (f->task_id) {
		xsnprintf(s->task_id, sizeof(s->task_id), "%s", f->task_id);
		s->f.task_id = s->task_id;
	}
	s->last = after;
	s->follow = follow;
	s->opened = cy_mono_ms();
	s->st = cy_resp_stream(resp, 200, "text/event-stream");
	cy_resp_header(resp, "Cache-Control", "no-store");
	cy_resp_header(resp, "X-Accel-Buffering", "no");
	cy_http_stream_on_gone(s->st, sub_gone, NULL);
	pthread_mutex_lock(&lock);
	s->next = incoming;
	incoming = s;
	woken = true;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
	return 0;
}

static void
sub_free(struct sub *s, bool broken)
{
	if (broken)
		cy_http_stream_abort(s->st);
	else
		cy_http_stream_close(s->st);
	free(s);
	pthread_mutex_lock(&lock);
	nstreams--;
	cy_metrics_set("cynode_events_streams", NULL, (double)nstreams);
	pthread_mutex_unlock(&lock);
}

static int
sub_write(struct sub *s, const struct cy_buf *b, int64_t now)
{
	s->last_write = now;
	return cy_http_stream_write(s->st, b->buf, b->len);
}

/* True when row i of a store_events_read_all result is for s. */
static bool
sub_shows(const struct sub *s, const PGresult *all, int i)
{
	if (!strcmp(PQgetvalue(all, i, 3), "node"))
		return s->f.nodes;
	return s->f.tasks && (!s->f.user_id || !strcmp(PQgetvalue(all, i, 4), s->f.user_id)) &&
	       (!s->f.task_id || !strcmp(PQgetvalue(all, i, 5), s->f.task_id));
}

/*
 * Sends s what it may see up to the horizon, while its queue has room: a
 * stream caught up to `from` (the horizon before this look) takes its
 * share of `all` (every event after from, or NULL), the others read
 * their own.  Returns 1 when s is done with (gone, or caught up without
 * follow), 2 when it is dropped as stalled, else 0.
 */
static int
sub_serve(struct sub *s, int64_t now, const PGresult *all, long long from)
{
	struct cy_error err = CY_ERROR_INIT;
	struct cy_buf b = CY_BUF_INIT;
	int rc = 0;

	if (cy_http_stream_gone(s->st))
		return 1;
	if (!s->hello) {
		/* An id line without data: a client that resumes starts from here. */
		if (s->last < 0)
			s->last = horizon;
		cy_buf_addf(&b, "retry: %d\nid: %lld\n\n", RETRY_HINT_MS, s->last);
		s->hello = true;
		if (sub_write(s, &b, now) < 0)
			rc = 1;
		cy_buf_reset(&b);
	}
	if (rc == 0 && all && s->last == from && s->last < horizon &&
	    cy_http_stream_queued(s->st) < QUEUE_HIGH) {
		int i, n = 0;

		s->stalled = 0;
		for (i = 0; i < PQntuples(all); i++) {
			if (!sub_shows(s, all, i))
				continue;
			cy_buf_addf(&b, "id: %s\nevent: %s\ndata: %s\n\n", PQgetvalue(all, i, 0),
			    PQgetvalue(all, i, 1), PQgetvalue(all, i, 2));
			n++;
		}
		s->last = horizon;
		if (b.len && sub_write(s, &b, now) < 0)
			rc = 1;
		if (n)
			cy_metrics_add("cynode_events_sent_total", NULL, (double)n);
		cy_buf_reset(&b);
	}
	while (rc == 0 && s->last < horizon) {
		const char *errstr;
		PGresult *res;
		long long id;
		int i, n;

		if (cy_http_stream_queued(s->st) >= QUEUE_HIGH) {
			if (!s->stalled)
				s->stalled = now;
			break;
		}
		s->stalled = 0;
		if (!(res = store_events_read(&s->f, s->last, horizon, READ_BATCH, &err))) {
			cy_log_error("events_read_failed", "error", err.msg, NULL);
			cy_error_clear(&err);
			break; /* the next wake-up tries again */
		}
		n = PQntuples(res);
		for (i = 0; i < n; i++)
			cy_buf_addf(&b, "id: %s\nevent: %s\ndata: %s\n\n", PQgetvalue(res, i, 0),
			    PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
		/* Nothing more up to the horizon for this filter: it is caught up. */
		if (n < READ_BATCH ||
		    cy_strtonum(PQgetvalue(res, n - 1, 0), 1, LLONG_MAX, &id, &errstr) < 0)
			id = horizon;
		s->last = id;
		PQclear(res);
		if (b.len && sub_write(s, &b, now) < 0)
			rc = 1;
		if (b.len)
			cy_metrics_add("cynode_events_sent_total", NULL, (double)n);
		cy_buf_reset(&b);
	}
	if (rc == 0 && !s->follow && s->last >= horizon)
		rc = 1;
	if (rc == 0 && now - s->opened > EVENTS_MAX_AGE_MS)
		rc = 1;
	if (rc == 0 && s->stalled && now - s->stalled > EVENTS_STALL_MS) {
		cy_log_warn("events_client_stalled", "note",
		    "a client that does not read was dropped", NULL);
		rc = 2;
	}
	if (rc == 0 && now - s->last_write >= EVENTS_KEEPALIVE_MS &&
	    cy_http_stream_queued(s->st) < QUEUE_HIGH) {
		cy_buf_addstr(&b, ": keepalive\n\n");
		if (sub_write(s, &b, now) < 0)
			rc = 1;
	}
	cy_buf_release(&b);
	return rc;
}

/* One look: settles the horizon, then serves every stream. Returns the ms to sleep. */
static int64_t
hub_cycle(void)
{
	struct cy_error err = CY_ERROR_INIT;
	struct sub **pp, *s;
	int64_t now = cy_mono_ms(), sleep_ms = EVENTS_KEEPALIVE_MS;
	bool pending = false;
	PGresult *all = NULL;
	long long from;

	if (!subs) {
		/* Nobody listens: the horizon is found afresh when someone does. */
		horizon_known = false;
		return EVENTS_KEEPALIVE_MS;
	}
	if (!horizon_known && store_events_horizon_init(&horizon, &err) == 0)
		horizon_known = true;
	from = horizon_known ? horizon : -1;
	if (horizon_known && store_events_horizon_advance(&horizon, &pending, &err) < 0)
		horizon_known = false;
	if (!horizon_known) {
		cy_log_error("events_horizon_failed", "error", err.msg, NULL);
		return 1000;
	}
	/*
	 * One read of what is new serves every stream that was caught up
	 * (the steady state: one query per look, not one per stream).
	 */
	if (from >= 0 && horizon > from && horizon - from <= SHARED_MAX &&
	    !(all = store_events_read_all(from, horizon, SHARED_MAX, &err))) {
		cy_log_error("events_read_failed", "error", err.msg, NULL);
		cy_error_clear(&err);
	}
	for (pp = &subs; (s = *pp);) {
		int rc = sub_serve(s, now, all, from);

		if (rc) {
			*pp = s->next;
			sub_free(s, rc == 2);
			continue;
		}
		if (s->stalled)
			sleep_ms = 1000;
		else if (s->last_write + EVENTS_KEEPALIVE_MS - now < sleep_ms)
			sleep_ms = s->last_write + EVENTS_KEEPALIVE_MS - now;
		pp = &s->next;
	}
	PQclear(all);
	if (pending && sleep_ms > GAP_RETRY_MS)
		sleep_ms = GAP_RETRY_MS;
	return sleep_ms > 0 ? sleep_ms : 1;
}

static void *
hub_main(void *arg)
{
	int64_t sleep_ms = EVENTS_KEEPALIVE_MS, last_cycle = 0;

	(void)arg;
	for (;;) {
		struct sub *in;
		int64_t deadline = cy_mono_ms() + sleep_ms;

		pthread_mutex_lock(&lock);
		while (!stopping && !woken && cy_mono_ms() < deadline) {
			struct timespec ts;
			int64_t left = deadline - cy_mono_ms();

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += (time_t)(left / 1000);
			ts.tv_nsec += (long)(left % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&cond, &lock, &ts);
		}
		if (stopping) {
			pthread_mutex_unlock(&lock);
			break;
		}
		woken = false;
		in = incoming;
		incoming = NULL;
		pthread_mutex_unlock(&lock);
		while (in) {
			struct sub *next = in->next;

			in->next = subs;
			subs = in;
			in = next;
		}
		/* A burst of notifications is served in one look, not one per row. */
		if (cy_mono_ms() - last_cycle < MIN_CYCLE_MS)
			poll(NULL, 0, (int)(MIN_CYCLE_MS - (cy_mono_ms() - last_cycle)));
		last_cycle = cy_mono_ms();
		sleep_ms = hub_cycle();
	}
	db_thread_cleanup();
	return NULL;
}

int
events_start(struct cy_error *err)
{
	int rc;

	cy_metrics_declare("cynode_events_sent_total", CY_METRIC_COUNTER,
	    "Events sent to event stream clients (GET /v1/events).");
	cy_metrics_declare("cynode_events_streams", CY_METRIC_GAUGE,
	    "Event streams (GET /v1/events) open on this replica.");
	cy_metrics_set("cynode_events_streams", NULL, 0);
	stopping = false;
	if ((rc = pthread_create(&thread, NULL, hub_main, NULL)) != 0) {
		errno = rc;
		return cy_error_errno(err, "cannot start the event stream thread");
	}
	started = true;
	return 0;
}

void
events_stop(void)
{
	struct sub *s;

	if (!started)
		return;
	pthread_mutex_lock(&lock);
	stopping = true;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
	pthread_join(thread, NULL);
	started = false;
	/* The hub is gone: its streams and those never taken over end now. */
	while ((s = subs)) {
		subs = s->next;
		sub_free(s, false);
	}
	pthread_mutex_lock(&lock);
	s = incoming;
	incoming = NULL;
	pthread_mutex_unlock(&lock);
	while (s) {
		struct sub *next = s->next;

		sub_free(s, false);
		s = next;
	}
}
