/*
 * The sender of the streamed job logs (joblog.h): one thread that posts
 * each job's spooled output to POST /v1/nodes/jobs/{id}/logs with the node
 * JWT, at most LOGSHIP_CHUNK_MAX bytes a request, every LOGSHIP_TICK_MS
 * (sooner when a chunk's worth waits or a job ends).  The server answers
 * with the stream's end (next_offset): the sender goes on from there,
 * whether the answer moves it forward (bytes it already had) or back (a
 * chunk it lost).  A server that cannot be reached is retried with a
 * backoff of up to BACKOFF_MAX_MS (each job on its own) while the spools
 * keep filling; one that refuses the job (404: the attempt is not this
 * node's) ends its sending, and so does an hour without progress after the
 * job ended.  A held result waits for its logs at most RESULT_HOLD_MS.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "httpc.h"
#include "joblog-int.h"
#include "json.h"
#include "log.h"
#include "node.h"
#include "timeutil.h"
#include "banned.h"

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 5000
#define TURN_MAX_MS 1000           /* one job's share of a round */
#define RESULT_HOLD_MS (60 * 1000) /* a held result waits this long for its logs */
#define GIVE_UP_MS (3600 * 1000)   /* a finished job's logs that get nowhere */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static struct job_log *logs;
static struct node *node;
static pthread_t thread;
static bool running, stopping, kicked;

int
logship_add(struct job_log *l)
{
	pthread_mutex_lock(&lock);
	if (!running || stopping) {
		pthread_mutex_unlock(&lock);
		return -1;
	}
	pthread_mutex_lock(&l->lock);
	l->refs++;
	pthread_mutex_unlock(&l->lock);
	l->next = logs;
	logs = l;
	pthread_mutex_unlock(&lock);
	return 0;
}

void
logship_kick(void)
{
	pthread_mutex_lock(&lock);
	kicked = true;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
}

bool
job_log_pending(const char *job_id)
{
	int64_t now = cy_mono_ms();
	struct job_log *l;
	bool found = false;

	pthread_mutex_lock(&lock);
	for (l = logs; l; l = l->next) {
		if (strcmp(l->job_id, job_id))
			continue;
		pthread_mutex_lock(&l->lock);
		/* A result waits for its logs, but not for ever. */
		if (!l->finished_ms || now - l->finished_ms < RESULT_HOLD_MS)
			found = true;
		pthread_mutex_unlock(&l->lock);
	}
	pthread_mutex_unlock(&lock);
	return found;
}

/* What one POST brought: the status, and the stream's state when it said. */
struct ship_ans {
	long status;
	long long next; /* -1: not said */
	bool full;
};

/* Posts data[0..len) at offset of stream s (eof: the end); -1 on a transport failure. */
static int
ship_post(struct job_log *l, int s, long long offset, const char *data, size_t len, bool eof,
    const char *jwt, struct ship_ans *a)
{
	static const char *const names[2] = { "stdout", "stderr" };
	struct cy_httpc_opts o = { 0 };
	struct cy_httpc_resp r = CY_HTTPC_RESP_INIT;
	struct cy_error err = CY_ERROR_INIT;
	size_t ul = strlen(node->cfg.orch_url);
	json_t *body;
	char *url;
	int rc;

	while (ul > 0 && node->cfg.orch_url[ul - 1] == '/')
		ul--;
	url = xasprintf("%.*s/v1/nodes/jobs/%s/logs?lease_id=%s&stream=%s&offset=%lld%s", (int)ul,
	    node->cfg.orch_url, l->job_id, l->lease_id, names[s], offset, eof ? "&eof=true" : "");
	o.timeout_ms = node->cfg.request_s * 1000;
	o.connect_timeout_ms = node->cfg.connect_s * 1000;
	o.max_response = 64 * 1024;
	o.bearer = jwt;
	o.ca_file = node->cfg.tls_ca;
	o.pinned_pubkey = node->cfg.tls_pin;
	o.content_type = "application/octet-stream";
	rc = cy_httpc_request("POST", url, data, len, &o, &r, &err);
	free(url);
	a->status = rc < 0 ? 0 : r.status;
	a->next = -1;
	a->full = false;
	if (rc == 0 && (r.status == 200 || r.status == 409) &&
	    (body = cy_json_parse(r.body.buf, r.body.len, true, NULL))) {
		if (cy_json_int(body, "next_offset", &a->next) < 0 || a->next < 0)
			a->next = -1;
		a->full = cy_json_bool(body, "full", false);
		json_decref(body);
	}
	if (rc < 0)
		cy_log_debug("job_log_send_failed", "job_id", l->job_id, "error", err.msg, NULL);
	cy_httpc_resp_release(&r);
	return rc;
}

/*
 * One step of stream s: sends the next chunk (or the end).  1 when
 * something was sent, 0 when there is nothing to send, -1 when the server
 * cannot take it now.
 */
static int
ship_step(struct job_log *l, int s, const char *jwt, char *buf)
{
	struct job_log_stream *st = &l->s[s];
	long long from, to, total;
	bool full, finished, done, eof = false;
	struct ship_ans a;
	size_t n = 0;
	ssize_t got;

	pthread_mutex_lock(&l->lock);
	from = st->sent;
	to = st->spooled;
	total = st->total;
	full = st->full;
	finished = l->finished;
	done = st->eof_sent || l->dead;
	pthread_mutex_unlock(&l->lock);
	if (done)
		return 0;
	if (!full && from < to) {
		n = to - from > LOGSHIP_CHUNK_MAX ? LOGSHIP_CHUNK_MAX : (size_t)(to - from);
		got = pread(st->fd, buf, n, (off_t)from);
		if (got != (ssize_t)n) {
			/* The spool cannot be read back: what is left is lost. */
			pthread_mutex_lock(&l->lock);
			st->spooled = st->sent;
			st->stopped = true;
			pthread_cond_broadcast(&l->changed);
			pthread_mutex_unlock(&l->lock);
			return 1;
		}
		/* The last chunk of a finished stream carries its end too. */
		eof = finished && from + (long long)n == total;
	} else if (!finished) {
		return 0;
	} else if (total == 0) {
		/* A stream the job never wrote to: nothing to say (no row means empty). */
		pthread_mutex_lock(&l->lock);
		st->eof_sent = true;
		pthread_cond_broadcast(&l->changed);
		pthread_mutex_unlock(&l->lock);
		return 1;
	} else {
		from = total; /* the end: bytes not spooled (or not kept) are lost */
		eof = true;
	}
	if (ship_post(l, s, from, buf, n, eof, jwt, &a) < 0 || a.status >= 500 || a.status == 401 ||
	    a.status == 429)
		return -1;
	pthread_mutex_lock(&l->lock);
	l->progress_ms = cy_mono_ms();
	if (a.status == 404) {
		l->dead = true;
		cy_log_warn("job_log_refused", "job_id", l->job_id, "note",
		    "the server does not run this attempt here; its logs are dropped", NULL);
	} else if (a.status == 200 && a.next >= 0) {
		st->sent = a.next < st->spooled ? a.next : st->spooled;
		st->full = a.full;
		if (eof)
			st->eof_sent = true;
	} else if (a.status == 409 && n > 0 && a.next >= 0 && a.next != from) {
		/* The server's stream ends elsewhere (it lost bytes, or had more): go on there. */
		st->sent = a.next < st->spooled ? a.next : st->spooled;
	} else {
		/* A refusal that offsets do not explain: give the stream up. */
		cy_log_warn("job_log_chunk_refused", "job_id", l->job_id, "stream",
		    s ? "stderr" : "stdout", NULL);
		st->eof_sent = true;
	}
	pthread_cond_broadcast(&l->changed);
	pthread_mutex_unlock(&l->lock);
	return 1;
}

/* Takes l for sending (waiting for another thread's turn when wait); false when taken. */
static bool
ship_take(struct job_log *l, bool wait)
{
	bool got = false;

	pthread_mutex_lock(&l->lock);
	while (l->shipping && wait)
		pthread_cond_wait(&l->changed, &l->lock);
	if (!l->shipping)
		got = l->shipping = true;
	pthread_mutex_unlock(&l->lock);
	return got;
}

static void
ship_give(struct job_log *l)
{
	pthread_mutex_lock(&l->lock);
	l->shipping = false;
	pthread_cond_broadcast(&l->changed);
	pthread_mutex_unlock(&l->lock);
}

/*
 * Sends what l has for at most max_ms (0: until nothing is left); -1 when
 * the server cannot take it.  The caller holds l (ship_take).
 */
static int
ship_log(struct job_log *l, const char *jwt, char *buf, long long max_ms)
{
	int64_t end = cy_mono_ms() + max_ms;
	int s, rc, busy;

	do {
		busy = 0;
		for (s = 0; s < 2; s++) {
			if ((rc = ship_step(l, s, jwt, buf)) < 0)
				return -1;
			busy |= rc;
		}
	} while (busy && (!max_ms || cy_mono_ms() < end));
	return 0;
}

int
logship_flush(struct job_log *l)
{
	char *jwt = node_orch_jwt(node), *buf;
	int rc;

	if (!jwt)
		return -1;
	buf = xmalloc(LOGSHIP_CHUNK_MAX);
	ship_take(l, true);
	rc = ship_log(l, jwt, buf, 0);
	ship_give(l);
	free(buf);
	explicit_bzero(jwt, strlen(jwt));
	free(jwt);
	return rc;
}

/*
 * One job's turn in a round: sends what it has unless it is backing off
 * after a failure (each job backs off alone: one the server cannot take
 * does not hold up the others).  A finished job's logs that got nowhere
 * for GIVE_UP_MS are dropped.
 */
static void
ship_turn(struct job_log *l, const char *jwt, char *buf)
{
	int64_t now = cy_mono_ms();
	int rc;

	if (now < l->next_try_ms || !ship_take(l, false))
		return;
	rc = ship_log(l, jwt, buf, TURN_MAX_MS);
	ship_give(l);
	if (rc == 0) {
		l->backoff_ms = 0;
		l->next_try_ms = 0;
		return;
	}
	l->backoff_ms = l->backoff_ms ? l->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (l->backoff_ms > BACKOFF_MAX_MS)
		l->backoff_ms = BACKOFF_MAX_MS;
	l->next_try_ms = now + l->backoff_ms;
	pthread_mutex_lock(&l->lock);
	if (l->finished && now - l->progress_ms > GIVE_UP_MS) {
		l->dead = true;
		cy_log_error("job_log_given_up", "job_id", l->job_id, "note",
		    "the server took none of its logs for an hour; they are dropped", NULL);
		pthread_cond_broadcast(&l->changed);
	}
	pthread_mutex_unlock(&l->lock);
}

/* Drops the logs the sender is done with. */
static void
reap(void)
{
	struct job_log **pp, *l;
	bool done;

	pthread_mutex_lock(&lock);
	for (pp = &logs; (l = *pp);) {
		pthread_mutex_lock(&l->lock);
		done = l->dead || (l->finished && l->s[0].eof_sent && l->s[1].eof_sent);
		pthread_mutex_unlock(&l->lock);
		if (done) {
			*pp = l->next;
			job_log_unref(l);
		} else {
			pp = &l->next;
		}
	}
	pthread_mutex_unlock(&lock);
}

/* The condition variable's deadline ms from now (CLOCK_REALTIME). */
static void
deadline_in(struct timespec *ts, long long ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void *
ship_main(void *arg)
{
	char *buf = xmalloc(LOGSHIP_CHUNK_MAX);
	struct job_log **list;
	size_t n, i;
	char *jwt;

	(void)arg;
	pthread_mutex_lock(&lock);
	while (!stopping) {
		struct timespec ts;
		struct job_log *l;

		if (!kicked) {
			deadline_in(&ts, LOGSHIP_TICK_MS);
			pthread_cond_timedwait(&cond, &lock, &ts);
		}
		kicked = false;
		if (stopping)
			break;
		for (n = 0, l = logs; l; l = l->next)
			n++;
		list = xcalloc(n + 1, sizeof(*list));
		for (n = 0, l = logs; l; l = l->next) {
			pthread_mutex_lock(&l->lock);
			l->refs++;
			pthread_mutex_unlock(&l->lock);
			list[n++] = l;
		}
		pthread_mutex_unlock(&lock);
		jwt = n ? node_orch_jwt(node) : NULL;
		for (i = 0; i < n && jwt; i++)
			ship_turn(list[i], jwt, buf);
		for (i = 0; i < n; i++)
			job_log_unref(list[i]);
		free(list);
		if (jwt) {
			explicit_bzero(jwt, strlen(jwt));
			free(jwt);
		}
		reap();
		pthread_mutex_lock(&lock);
	}
	pthread_mutex_unlock(&lock);
	free(buf);
	cy_httpc_thread_cleanup();
	return NULL;
}

int
logship_start(struct node *n, struct cy_error *err)
{
	int rc;

	node = n;
	stopping = false;
	if ((rc = pthread_create(&thread, NULL, ship_main, NULL)) != 0) {
		errno = rc;
		return cy_error_errno(err, "cannot start the log sender thread");
	}
	pthread_mutex_lock(&lock);
	running = true;
	pthread_mutex_unlock(&lock);
	return 0;
}

void
logship_stop(void)
{
	struct job_log *l;
	bool was;

	pthread_mutex_lock(&lock);
	was = running;
	stopping = true;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
	if (was)
		pthread_join(thread, NULL);
	pthread_mutex_lock(&lock);
	running = false;
	while ((l = logs)) {
		logs = l->next;
		job_log_unref(l);
	}
	pthread_mutex_unlock(&lock);
}
