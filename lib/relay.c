/*
 * Relays (see relay.h).  One thread per exchange runs a streaming
 * cy_httpc_request.  The first piece of the body decides: a streamed
 * answer makes the thread wait for the handler's stream (cy_relay_attach)
 * and then pass every piece through; a whole answer is collected.  The
 * relay is reference-counted between the thread and the handler; the
 * thread polls the stream (and the handler's release) from libcurl's
 * progress callback, so a client that leaves stops the upstream request.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "httpc.h"
#include "log.h"
#include "relay.h"
#include "tls.h"
#include "banned.h"

struct cy_relay {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int refs;
	enum cy_relay_state state;
	bool released;                 /* the handler let go */
	bool canceled;                 /* cy_relay_cancel */
	bool head;                     /* the first piece of body came (or none will) */
	bool too_big;                  /* a whole answer over max_body */
	struct cy_http_stream *stream; /* attached */
	struct cy_relay_spec spec;     /* strings below are our copies */
	char *url, *body, *bearer;
	char pin[CY_TLS_PIN_SIZE];
	char **headers;
	struct cy_relay_result res;
};

static void
relay_unref(struct cy_relay *r)
{
	size_t i;
	int left;

	pthread_mutex_lock(&r->lock);
	left = --r->refs;
	pthread_mutex_unlock(&r->lock);
	if (left > 0)
		return;
	if (r->bearer)
		explicit_bzero(r->bearer, strlen(r->bearer));
	free(r->bearer);
	free(r->url);
	free(r->body);
	for (i = 0; r->headers && r->headers[i]; i++)
		free(r->headers[i]);
	free(r->headers);
	cy_buf_release(&r->res.body);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r);
}

/* Sets the state and tells the handler (lock held; wake runs unlocked). */
static void
relay_set_state(struct cy_relay *r, enum cy_relay_state s)
{
	r->state = s;
	pthread_cond_broadcast(&r->cond);
	if (r->spec.wake && !r->released) {
		pthread_mutex_unlock(&r->lock);
		r->spec.wake(r->spec.arg);
		pthread_mutex_lock(&r->lock);
	}
}

/* libcurl's progress poll: stop when the handler left or the client went. */
static int
relay_abort(void *arg)
{
	struct cy_relay *r = arg;
	bool stop;

	pthread_mutex_lock(&r->lock);
	stop = r->canceled || (r->released && !r->stream) ||
	       (r->stream && cy_http_stream_gone(r->stream));
	if (stop)
		r->res.client_gone = true;
	pthread_mutex_unlock(&r->lock);
	return stop;
}

static int
relay_data(void *arg, const struct cy_httpc_resp *resp, const char *data, size_t len)
{
	struct cy_relay *r = arg;
	struct cy_http_stream *st;

	pthread_mutex_lock(&r->lock);
	r->res.bytes += len;
	if (!r->head) {
		r->head = true;
		r->res.status = resp->status;
		xsnprintf(r->res.content_type, sizeof(r->res.content_type), "%s",
		    resp->content_type);
		if (r->spec.want_stream && r->spec.want_stream(resp->status, resp->content_type)) {
			r->res.streamed = true;
			relay_set_state(r, RELAY_STREAM);
			while (!r->stream && !r->released && !r->canceled)
				pthread_cond_wait(&r->cond, &r->lock);
			if (!r->stream) {
				r->res.client_gone = true;
				pthread_mutex_unlock(&r->lock);
				return -1;
			}
		}
	}
	if (!r->res.streamed) {
		int rc = 0;

		if (r->spec.max_body && len > r->spec.max_body - r->res.body.len)
			rc = -1;
		else
			cy_buf_add(&r->res.body, data, len);
		if (rc < 0)
			r->too_big = true;
		pthread_mutex_unlock(&r->lock);
		return rc;
	}
	st = r->stream;
	pthread_mutex_unlock(&r->lock);
	if (r->spec.filter) {
		if (r->spec.filter(r->spec.arg, st, data, len, &r->res) < 0)
			return -1;
	} else if (cy_http_stream_write(st, data, len) < 0) {
		r->res.client_gone = true;
		return -1;
	}
	return 0;
}

static void *
relay_main(void *arg)
{
	struct cy_relay *r = arg;
	struct cy_httpc_resp resp = CY_HTTPC_RESP_INIT;
	struct cy_httpc_opts o = { 0 };
	struct cy_http_stream *st;

	o.timeout_ms = r->spec.timeout_ms;
	o.connect_timeout_ms = r->spec.connect_timeout_ms;
	o.idle_timeout_s = r->spec.idle_timeout_s;
	o.max_response = r->spec.max_body ? r->spec.max_body : (size_t)1 << 46;
	o.bearer = r->bearer;
	o.pinned_pubkey = r->pin[0] ? r->pin : NULL;
	o.ca_file = r->spec.ca_file;
	o.headers = (const char *const *)r->headers;
	o.on_data = relay_data;
	o.on_data_arg = r;
	o.abort_fn = relay_abort;
	o.abort_arg = r;
	r->res.rc = cy_httpc_request(r->spec.method, r->url, r->body,
	    r->body ? r->spec.body_len : 0, &o, &resp, &r->res.err);
	if (r->res.rc == 0 && !r->head) {
		/* An answer without a body. */
		r->res.status = resp.status;
		xsnprintf(r->res.content_type, sizeof(r->res.content_type), "%s",
		    resp.content_type);
	}
	if (r->res.rc < 0 && r->too_big)
		cy_error_set(&r->res.err, EFBIG, "%s %s: answer larger than %zu bytes",
		    r->spec.method, r->url, r->spec.max_body);
	else if (r->res.rc < 0 && r->res.client_gone)
		cy_error_set(&r->res.err, EINTR, "%s %s: the client went away", r->spec.method,
		    r->url);
	cy_httpc_resp_release(&resp);
	cy_httpc_thread_cleanup();

	pthread_mutex_lock(&r->lock);
	r->head = true;
	st = r->stream;
	pthread_mutex_unlock(&r->lock);
	if (st) {
		if (r->spec.filter)
			r->spec.filter(r->spec.arg, st, NULL, 0, &r->res);
		if (r->spec.abort_on_cut && r->res.rc < 0 && !r->res.client_gone)
			cy_http_stream_abort(st);
		else
			cy_http_stream_close(st);
	}
	if (r->spec.done)
		r->spec.done(r->spec.arg, &r->res);
	pthread_mutex_lock(&r->lock);
	if (r->state == RELAY_PENDING)
		relay_set_state(r, RELAY_DONE);
	else
		r->state = RELAY_DONE;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	relay_unref(r);
	return NULL;
}

struct cy_relay *
cy_relay_start(const struct cy_relay_spec *spec, struct cy_error *err)
{
	struct cy_relay *r = xcalloc(1, sizeof(*r));
	pthread_attr_t attr;
	pthread_t t;
	size_t i, n = 0;
	int rc;

	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	r->refs = 2;
	r->spec = *spec;
	r->url = xstrdup(spec->url);
	if (spec->body) {
		r->body = xmalloc(spec->body_len + 1);
		memcpy(r->body, spec->body, spec->body_len);
		r->body[spec->body_len] = '\0';
	}
	r->bearer = spec->bearer ? xstrdup(spec->bearer) : NULL;
	if (spec->pinned_pubkey)
		xsnprintf(r->pin, sizeof(r->pin), "%s", spec->pinned_pubkey);
	while (spec->headers && spec->headers[n])
		n++;
	r->headers = xcalloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++)
		r->headers[i] = xstrdup(spec->headers[i]);
	cy_buf_init(&r->res.body, 0);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	rc = pthread_create(&t, &attr, relay_main, r);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		r->refs = 1;
		relay_unref(r);
		errno = rc;
		cy_error_errno(err, "cannot start a relay thread");
		return NULL;
	}
	return r;
}

enum cy_relay_state
cy_relay_state(struct cy_relay *r)
{
	enum cy_relay_state s;

	pthread_mutex_lock(&r->lock);
	s = r->state;
	pthread_mutex_unlock(&r->lock);
	return s;
}

void
cy_relay_wait(struct cy_relay *r)
{
	pthread_mutex_lock(&r->lock);
	while (r->state == RELAY_PENDING)
		pthread_cond_wait(&r->cond, &r->lock);
	pthread_mutex_unlock(&r->lock);
}

void
cy_relay_attach(struct cy_relay *r, struct cy_http_stream *st)
{
	pthread_mutex_lock(&r->lock);
	r->stream = st;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

const struct cy_relay_result *
cy_relay_result(struct cy_relay *r)
{
	return &r->res;
}

long
cy_relay_status(struct cy_relay *r, const char **content_type)
{
	if (content_type)
		*content_type = r->res.content_type;
	return r->res.status;
}

void
cy_relay_cancel(struct cy_relay *r)
{
	pthread_mutex_lock(&r->lock);
	r->canceled = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

void
cy_relay_release(struct cy_relay *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->released = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	relay_unref(r);
}

bool
cy_relay_want_stream(long status, const char *ctype)
{
	return status == 200 && (strncmp(ctype, "text/event-stream", 17) == 0 ||
				    strncmp(ctype, "application/x-ndjson", 20) == 0);
}

void
cy_relay_respond(struct cy_relay *r, struct cy_http_resp *resp, cy_http_error_fn fail,
    const char *what)
{
	const struct cy_relay_result *res;
	struct cy_buf msg = CY_BUF_INIT;
	const char *ctype;
	long st;

	cy_relay_wait(r);
	if (cy_relay_state(r) == RELAY_STREAM) {
		st = cy_relay_status(r, &ctype);
		cy_relay_attach(r,
		    cy_resp_stream(resp, (int)st,
			strncmp(ctype, "application/x-ndjson", 20) == 0 ? "application/x-ndjson" :
									  "text/event-stream"));
		cy_resp_header(resp, "Cache-Control", "no-cache");
	} else if ((res = cy_relay_result(r))->rc < 0) {
		cy_log_warn("relay_failed", "upstream", what, "error", res->err.msg, NULL);
		cy_buf_addf(&msg, "%s: %s", what,
		    res->err.code == ETIMEDOUT    ? "no answer in time" :
		    res->err.code == ECONNREFUSED ? "not reachable" :
						    res->err.msg);
		fail(resp,
		    res->err.code == ETIMEDOUT    ? 504 :
		    res->err.code == ECONNREFUSED ? 503 :
						    502,
		    msg.buf);
		cy_buf_release(&msg);
	} else {
		cy_resp_text(resp, (int)res->status, "");
		cy_buf_add(&resp->body, res->body.buf, res->body.len);
		resp->content_type = "application/json";
	}
	cy_relay_release(r);
}
