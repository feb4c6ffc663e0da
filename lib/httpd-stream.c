/*
 * Streamed responses of the HTTP server (httpd.h, cy_resp_stream): a
 * producer on any thread writes into a bounded queue that libmicrohttpd
 * pulls from through a content reader.  With nothing queued the reader
 * parks the connection (thread-pool daemons: MHD_suspend_connection,
 * resumed by the next write or the close) or waits (thread per
 * connection); a producer waits while the queue is full.  A stopping
 * daemon resumes its parked streams so that libmicrohttpd can end them.
 */
#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "alloc.h"
#include "buf.h"
#include "httpd-int.h"
#include "httpd.h"
#include "banned.h"

#define STREAM_BLOCK (16 * 1024)      /* bytes MHD asks a stream for at once */
#define STREAM_QUEUE_MAX (256 * 1024) /* a producer waits beyond this */

/*
 * A streamed response.  MHD pulls from `queue` through stream_read(); when
 * nothing is queued it either parks the connection (thread-pool daemons:
 * MHD_suspend_connection, resumed by the next write or the close) or
 * waits on `cond` (thread per connection).  Producers wait on `cond` when
 * the queue is full.  Two references: the request's (dropped by MHD's free
 * callback) and the producer's (dropped by cy_http_stream_close).
 */
struct cy_http_stream {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct cy_buf queue;
	size_t off; /* bytes of queue already sent */
	int refs;
	bool closed;      /* the producer has finished */
	bool broken;      /* ... and the stream ends as cut */
	bool gone;        /* the response is over (sent or client gone) */
	bool parked;      /* the connection is suspended for data */
	bool suspendable; /* thread-pool daemon */
	struct MHD_Connection *conn;
	struct cy_httpd *d;
	void (*on_gone)(void *arg);
	void *on_gone_arg;
	struct cy_http_stream *prev, *next; /* d->streams */
};

static void
stream_unref(struct cy_http_stream *st)
{
	int left;

	pthread_mutex_lock(&st->lock);
	left = --st->refs;
	pthread_mutex_unlock(&st->lock);
	if (left > 0)
		return;
	pthread_mutex_destroy(&st->lock);
	pthread_cond_destroy(&st->cond);
	cy_buf_release(&st->queue);
	free(st);
}

static void
stream_register(struct cy_httpd *d, struct cy_http_stream *st)
{
	pthread_mutex_lock(&d->streams_lock);
	st->next = d->streams;
	if (d->streams)
		d->streams->prev = st;
	d->streams = st;
	pthread_mutex_unlock(&d->streams_lock);
}

/* The response is over: producers learn it, the on_gone hook runs once. */
static void
stream_end(struct cy_http_stream *st)
{
	void (*fn)(void *) = NULL;
	void *arg = NULL;

	pthread_mutex_lock(&st->lock);
	st->gone = true;
	st->parked = false;
	if (!st->closed && st->on_gone) {
		fn = st->on_gone;
		arg = st->on_gone_arg;
	}
	st->on_gone = NULL;
	pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->lock);
	if (fn)
		fn(arg);
}

/* The stream never reached MHD (no response could be made): end it. */
void
httpd_stream_abandon(struct cy_http_stream *st)
{
	stream_end(st);
	stream_unref(st);
}

/* MHD's free callback: the response is done or the client went away. */
static void
stream_free(void *cls)
{
	struct cy_http_stream *st = cls;
	struct cy_httpd *d = st->d;

	pthread_mutex_lock(&d->streams_lock);
	if (st->prev)
		st->prev->next = st->next;
	else if (d->streams == st)
		d->streams = st->next;
	if (st->next)
		st->next->prev = st->prev;
	pthread_mutex_unlock(&d->streams_lock);
	stream_end(st);
	stream_unref(st);
}

/* MHD's content reader: hands out what is queued, else parks or waits. */
static ssize_t
stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct cy_http_stream *st = cls;
	ssize_t ret;

	(void)pos;
	pthread_mutex_lock(&st->lock);
	for (;;) {
		size_t avail = st->queue.len - st->off;

		if (avail > 0) {
			size_t n = avail < max ? avail : max;

			memcpy(buf, st->queue.buf + st->off, n);
			st->off += n;
			if (st->off == st->queue.len) {
				cy_buf_reset(&st->queue);
				st->off = 0;
			}
			pthread_cond_broadcast(&st->cond);
			ret = (ssize_t)n;
			break;
		}
		if (st->closed) {
			ret = st->broken ? MHD_CONTENT_READER_END_WITH_ERROR :
					   MHD_CONTENT_READER_END_OF_STREAM;
			break;
		}
		if (__atomic_load_n(&st->d->stopping, __ATOMIC_SEQ_CST)) {
			ret = MHD_CONTENT_READER_END_WITH_ERROR;
			break;
		}
		if (st->suspendable) {
			st->parked = true;
			MHD_suspend_connection(st->conn);
			ret = 0;
			break;
		}
		{
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&st->cond, &st->lock, &ts);
		}
	}
	pthread_mutex_unlock(&st->lock);
	return ret;
}

/* Wakes a parked connection (called with st->lock held). */
static void
stream_unpark(struct cy_http_stream *st)
{
	if (st->parked) {
		st->parked = false;
		MHD_resume_connection(st->conn);
	}
	pthread_cond_broadcast(&st->cond);
}

struct cy_http_stream *
cy_resp_stream(struct cy_http_resp *resp, int status, const char *content_type)
{
	struct cy_http_stream *st = xcalloc(1, sizeof(*st));

	pthread_mutex_init(&st->lock, NULL);
	pthread_cond_init(&st->cond, NULL);
	cy_buf_init(&st->queue, 0);
	st->refs = 2;
	cy_buf_reset(&resp->body);
	resp->status = status;
	resp->content_type = content_type;
	resp->stream = st;
	return st;
}

int
cy_http_stream_write(struct cy_http_stream *st, const void *data, size_t len)
{
	int ret = 0;

	pthread_mutex_lock(&st->lock);
	while (!st->gone && st->queue.len - st->off > STREAM_QUEUE_MAX)
		pthread_cond_wait(&st->cond, &st->lock);
	if (st->gone) {
		ret = -1;
	} else if (len > 0) {
		cy_buf_add(&st->queue, data, len);
		stream_unpark(st);
	}
	pthread_mutex_unlock(&st->lock);
	return ret;
}

bool
cy_http_stream_gone(struct cy_http_stream *st)
{
	bool g;

	pthread_mutex_lock(&st->lock);
	g = st->gone;
	pthread_mutex_unlock(&st->lock);
	return g;
}

size_t
cy_http_stream_queued(struct cy_http_stream *st)
{
	size_t n;

	pthread_mutex_lock(&st->lock);
	n = st->queue.len - st->off;
	pthread_mutex_unlock(&st->lock);
	return n;
}

void
cy_http_stream_on_gone(struct cy_http_stream *st, void (*fn)(void *arg), void *arg)
{
	bool now;

	pthread_mutex_lock(&st->lock);
	now = st->gone && !st->closed;
	if (!now) {
		st->on_gone = fn;
		st->on_gone_arg = arg;
	}
	pthread_mutex_unlock(&st->lock);
	if (now)
		fn(arg);
}

static void
stream_finish(struct cy_http_stream *st, bool broken)
{
	pthread_mutex_lock(&st->lock);
	st->closed = true;
	st->broken = broken;
	st->on_gone = NULL;
	if (!st->gone)
		stream_unpark(st);
	pthread_mutex_unlock(&st->lock);
	stream_unref(st);
}

void
cy_http_stream_close(struct cy_http_stream *st)
{
	stream_finish(st, false);
}

void
cy_http_stream_abort(struct cy_http_stream *st)
{
	stream_finish(st, true);
}

struct MHD_Response *
httpd_stream_response(struct cy_httpd *d, struct MHD_Connection *conn, struct cy_http_stream *st)
{
	struct MHD_Response *r;

	st->conn = conn;
	st->d = d;
	st->suspendable = d->cfg.threads > 0;
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_read, st,
	    stream_free);
	if (!r)
		httpd_stream_abandon(st);
	else
		stream_register(d, st);
	return r;
}

void
httpd_streams_stop(struct cy_httpd *d)
{
	struct cy_http_stream *st;

	/* Their readers then see `stopping` and end with an error. */
	pthread_mutex_lock(&d->streams_lock);
	__atomic_store_n(&d->stopping, 1, __ATOMIC_SEQ_CST);
	for (st = d->streams; st; st = st->next) {
		pthread_mutex_lock(&st->lock);
		stream_unpark(st);
		pthread_mutex_unlock(&st->lock);
	}
	pthread_mutex_unlock(&d->streams_lock);
}
