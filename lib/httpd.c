/*
 * HTTP server wrapper over libmicrohttpd (see httpd.h).  Each request gets a
 * small context on its first callback: the route is matched there (404, 405
 * with Allow, 413 on an oversized Content-Length are answered at once), the
 * body is then collected up to the route's limit (more data is discarded and
 * answered with 413), and on the last callback the auth hook and the handler
 * run and their struct cy_http_resp is turned into an MHD response.
 * /healthz, /readyz and /openapi.json (when the program has a document)
 * are served before the route table, without auth.
 * A handler may suspend its request (a long poll): the auth context and
 * the handler's state then live in the request context until the
 * connection ends, and a resume runs the handler again.  Streamed
 * responses are in httpd-stream.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "alloc.h"
#include "buf.h"
#include "httpd-int.h"
#include "httpd.h"
#include "jcheck.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "banned.h"

#define DEFAULT_HEADER_BYTES (64 * 1024)

/* Where a request stands with respect to cy_req_suspend(). */
enum susp_state {
	SUSP_NONE,     /* the handler runs or has answered */
	SUSP_PENDING,  /* the handler asked to suspend and has not returned */
	SUSP_WOKEN,    /* resumed before the handler returned: run it again */
	SUSP_PARKED,   /* MHD holds the connection suspended */
	SUSP_RESUMING, /* resumed; MHD will call us again */
};

struct cy_http_suspension {
	pthread_mutex_t lock;
	struct MHD_Connection *conn;
	enum susp_state state;
};

/* Per-request state, MHD's con_cls. */
struct req_ctx {
	struct cy_http_suspension susp;
	void *auth; /* kept across suspensions */
	int authed;
	void *state;
	void (*state_free)(void *state);
	unsigned resumed;
	struct timespec start;
	const struct cy_route *route; /* NULL for health routes */
	int health;                   /* 1 healthz, 2 readyz, 3 openapi.json */
	char *params[CY_HTTP_MAX_PARAMS];
	size_t nparams;
	struct cy_buf body;
	size_t limit;
	size_t received;            /* body bytes seen (streamed bodies) */
	struct cy_http_resp *early; /* a streamed body's refusal, sent at its end */
	int too_large;
	int responded;
};

/* Messages MHD logs while cy_httpd_start runs (bind errors). */
static __thread char *start_msg;
static __thread size_t start_msg_size;

static void
mhd_logger(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	cy_vsnprintf_clip(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	if (start_msg && start_msg_size)
		cy_snprintf_clip(start_msg, start_msg_size, "%s", msg);
	cy_log(CY_LOG_DEBUG, "httpd_mhd", "msg", msg, NULL);
}

static double
elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) * 1000.0 +
	       (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

/*
 * Matches path against pattern segment by segment; {x} captures one
 * non-empty segment.  Captures are (offset, length) pairs into path.
 */
static int
route_match(const char *pattern, const char *path, size_t cap_off[], size_t cap_len[], size_t *ncap)
{
	const char *p = pattern, *u = path;

	*ncap = 0;
	if (*p != '/' || *u != '/')
		return 0;
	for (;;) {
		size_t plen, ulen;

		p++;
		u++;
		plen = strcspn(p, "/");
		ulen = strcspn(u, "/");
		if (plen >= 2 && p[0] == '{' && p[plen - 1] == '}') {
			if (ulen == 0 || *ncap >= CY_HTTP_MAX_PARAMS)
				return 0;
			cap_off[*ncap] = (size_t)(u - path);
			cap_len[*ncap] = ulen;
			(*ncap)++;
		} else if (plen != ulen || memcmp(p, u, plen) != 0) {
			return 0;
		}
		p += plen;
		u += ulen;
		if (*p == '\0' || *u == '\0')
			return *p == '\0' && *u == '\0';
	}
}

static int
method_matches(const char *route_method, const char *method)
{
	if (strcmp(route_method, method) == 0)
		return 1;
	return strcmp(method, "HEAD") == 0 && strcmp(route_method, "GET") == 0;
}

/*
 * Counts a request in the metrics.  Labels come from the route table only
 * (never from the raw method or URL), so clients cannot create series.
 */
static void
count_request(struct cy_httpd *d, const struct req_ctx *ctx, const char *status, double seconds)
{
	struct cy_buf l = CY_BUF_INIT;
	const char *route;

	route = ctx->route       ? ctx->route->pattern :
		ctx->health == 1 ? "/healthz" :
		ctx->health == 2 ? "/readyz" :
		ctx->health == 3 ? "/openapi.json" :
				   "unmatched";
	cy_metrics_label(&l, "listener", d->cfg.name ? d->cfg.name : "");
	cy_metrics_label(&l, "route", route);
	cy_metrics_observe("cynode_http_request_duration_seconds", l.buf, seconds);
	cy_metrics_label(&l, "method",
	    ctx->route  ? ctx->route->method :
	    ctx->health ? "GET" :
			  "other");
	cy_metrics_label(&l, "code", status);
	cy_metrics_add("cynode_http_requests_total", l.buf, 1);
	cy_buf_release(&l);
}

/* cy_resp_reader's function as MHD's content reader. */
struct reader_wrap {
	ssize_t (*read)(void *arg, uint64_t pos, char *buf, size_t max);
	void (*free_fn)(void *arg);
	void *arg;
	void (*after_call)(void); /* the daemon's (cy_httpd_config) */
};

static ssize_t
reader_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct reader_wrap *w = cls;
	ssize_t n = w->read(w->arg, pos, buf, max);

	if (w->after_call)
		w->after_call();
	return n > 0 ? n : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void
reader_free(void *cls)
{
	struct reader_wrap *w = cls;
	void (*after_call)(void) = w->after_call;

	if (w->free_fn)
		w->free_fn(w->arg);
	free(w);
	if (after_call)
		after_call();
}

/* A reader body that will not be sent: its free function runs now. */
static void
resp_drop_reader(struct cy_http_resp *resp)
{
	if (resp->reader && resp->reader_free)
		resp->reader_free(resp->reader_arg);
	resp->reader = NULL;
}

/* The 413 of a body over the route's limit, naming the limit. */
static enum MHD_Result send_too_large(struct cy_httpd *d, struct MHD_Connection *conn,
    struct req_ctx *ctx, const char *method, const char *url);

/* Turns resp into an MHD response, queues it and releases resp. */
static enum MHD_Result
send_resp(struct cy_httpd *d, struct MHD_Connection *conn, struct req_ctx *ctx, const char *method,
    const char *url, struct cy_http_resp *resp)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	char status[16], ms[32];
	size_t i;

	if (resp->status < 100 || resp->status > 599) {
		cy_log(CY_LOG_ERROR, "httpd_no_status", "server", d->cfg.name ? d->cfg.name : "",
		    "method", method, "path", url, NULL);
		if (resp->stream) {
			httpd_stream_abandon(resp->stream);
			resp->stream = NULL;
		}
		resp_drop_reader(resp);
		cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "the handler produced no response");
	}
	if (ctx->route && ctx->route->error_fn && resp->content_type &&
	    strcmp(resp->content_type, "application/problem+json") == 0) {
		json_t *p = json_loadb(resp->body.buf, resp->body.len, 0, NULL);
		const char *detail = p ? cy_json_str(p, "detail") : NULL;
		char *copy = xstrdup(detail ? detail : "error");

		json_decref(p);
		ctx->route->error_fn(resp, resp->status, copy);
		free(copy);
	}
	if (resp->stream) {
		r = httpd_stream_response(d, conn, resp->stream);
		resp->stream = NULL;
	} else if (resp->reader) {
		struct reader_wrap *w = xmalloc(sizeof(*w));

		w->read = resp->reader;
		w->free_fn = resp->reader_free;
		w->arg = resp->reader_arg;
		w->after_call = d->cfg.after_call;
		resp->reader = NULL;
		r = MHD_create_response_from_callback(resp->reader_size, 64 * 1024, reader_cb, w,
		    reader_free);
		if (!r)
			reader_free(w);
	} else if (resp->body.alloc > 0) {
		size_t len;
		char *b = cy_buf_detach(&resp->body, &len);

		r = MHD_create_response_from_buffer(len, b, MHD_RESPMEM_MUST_FREE);
	} else {
		r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	}
	if (!r) {
		ret = MHD_NO;
		goto out;
	}
	if (resp->content_type)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
	for (i = 0; i < resp->nhdr; i++)
		MHD_add_response_header(r, resp->hdr_name[i], resp->hdr_value[i]);
	ret = MHD_queue_response(conn, (unsigned)resp->status, r);
	MHD_destroy_response(r);
out:
	ctx->responded = 1;
	xsnprintf(status, sizeof(status), "%d", resp->status);
	xsnprintf(ms, sizeof(ms), "%.1f", elapsed_ms(&ctx->start));
	count_request(d, ctx, status, elapsed_ms(&ctx->start) / 1000.0);
	cy_log(CY_LOG_DEBUG, "http_request", "server", d->cfg.name ? d->cfg.name : "", "method",
	    method, "path", url, "status", status, "ms", ms, NULL);
	cy_buf_release(&resp->body);
	for (i = 0; i < resp->nhdr; i++)
		free(resp->hdr_value[i]);
	resp->nhdr = 0;
	return ret;
}

static void
resp_init(struct cy_http_resp *resp)
{
	memset(resp, 0, sizeof(*resp));
	cy_buf_init(&resp->body, 0);
}

static enum MHD_Result
send_problem(struct cy_httpd *d, struct MHD_Connection *conn, struct req_ctx *ctx,
    const char *method, const char *url, enum cy_problem p, const char *detail, const char *allow)
{
	struct cy_http_resp resp;

	resp_init(&resp);
	cy_resp_problem(&resp, p, "%s", detail);
	if (allow)
		cy_resp_header(&resp, "Allow", allow);
	return send_resp(d, conn, ctx, method, url, &resp);
}

static enum MHD_Result req_stream_open(struct cy_httpd *d, struct MHD_Connection *conn,
    struct req_ctx *ctx, const char *url, const char *method);

static enum MHD_Result
send_too_large(struct cy_httpd *d, struct MHD_Connection *conn, struct req_ctx *ctx,
    const char *method, const char *url)
{
	char detail[96];

	if (ctx->limit)
		xsnprintf(detail, sizeof(detail), "request body too large (limit %zu bytes)",
		    ctx->limit);
	else
		xsnprintf(detail, sizeof(detail), "this endpoint takes no request body");
	return send_problem(d, conn, ctx, method, url, CY_PROBLEM_TOO_LARGE, detail, NULL);
}

/* First callback: choose the route or answer 404/405/413 at once. */
static enum MHD_Result
req_begin(struct cy_httpd *d, struct MHD_Connection *conn, struct req_ctx *ctx, const char *url,
    const char *method)
{
	size_t cap_off[CY_HTTP_MAX_PARAMS], cap_len[CY_HTTP_MAX_PARAMS], ncap, i;
	struct cy_buf allow = CY_BUF_INIT;
	const struct cy_route *found = NULL;
	const char *cl;
	enum MHD_Result ret;

	if (strcmp(url, "/healthz") == 0 || strcmp(url, "/readyz") == 0 ||
	    (d->cfg.openapi && strcmp(url, "/openapi.json") == 0)) {
		if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
			return send_problem(d, conn, ctx, method, url,
			    CY_PROBLEM_METHOD_NOT_ALLOWED, "method not allowed", "GET");
		ctx->health = url[1] == 'h' ? 1 : url[1] == 'r' ? 2 : 3;
	} else {
		for (i = 0; i < d->cfg.nroutes; i++) {
			const struct cy_route *rt = &d->cfg.routes[i];
			size_t o[CY_HTTP_MAX_PARAMS], l[CY_HTTP_MAX_PARAMS], n;

			if (!route_match(rt->pattern, url, o, l, &n))
				continue;
			if (method_matches(rt->method, method)) {
				found = rt;
				memcpy(cap_off, o, sizeof(o));
				memcpy(cap_len, l, sizeof(l));
				ncap = n;
				break;
			}
			if (!strstr(allow.buf, rt->method)) {
				if (allow.len)
					cy_buf_addstr(&allow, ", ");
				cy_buf_addstr(&allow, rt->method);
			}
		}
		if (!found) {
			if (allow.len)
				ret = send_problem(d, conn, ctx, method, url,
				    CY_PROBLEM_METHOD_NOT_ALLOWED, "method not allowed", allow.buf);
			else
				ret = send_problem(d, conn, ctx, method, url, CY_PROBLEM_NOT_FOUND,
				    "no such endpoint", NULL);
			cy_buf_release(&allow);
			return ret;
		}
		cy_buf_release(&allow);
		ctx->route = found;
		ctx->limit = found->body_limit;
		for (i = 0; i < ncap; i++)
			ctx->params[i] = xstrndup(url + cap_off[i], cap_len[i]);
		ctx->nparams = ncap;
	}
	cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl) {
		char *end;
		unsigned long long v;

		errno = 0;
		v = strtoull(cl, &end, 10);
		if (errno == 0 && end != cl && *end == '\0' && v > ctx->limit)
			return send_too_large(d, conn, ctx, method, url);
	}
	if (found && found->body_fn)
		return req_stream_open(d, conn, ctx, url, method);
	return MHD_YES;
}

static void
client_ip(struct MHD_Connection *conn, char *out, size_t size)
{
	const union MHD_ConnectionInfo *ci;
	socklen_t len;

	out[0] = '\0';
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!ci || !ci->client_addr)
		return;
	if (ci->client_addr->sa_family == AF_INET)
		len = sizeof(struct sockaddr_in);
	else if (ci->client_addr->sa_family == AF_INET6)
		len = sizeof(struct sockaddr_in6);
	else
		return;
	if (getnameinfo(ci->client_addr, len, out, (socklen_t)size, NULL, 0, NI_NUMERICHOST))
		out[0] = '\0';
}

/* Last callback: health, auth, handler. */
/* Query iterator: stops at the first name or value that is not UTF-8 text. */
static enum MHD_Result
query_text_ok(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
    const char *value, size_t value_size)
{
	const char **bad = cls;

	(void)kind;
	if (!cy_utf8_valid(key, key_size) || strlen(key) != key_size ||
	    (value && (!cy_utf8_valid(value, value_size) || strlen(value) != value_size))) {
		*bad = key;
		return MHD_NO;
	}
	return MHD_YES;
}

/*
 * Path ids and query parameters reach handlers (and SQL) only as UTF-8
 * text without NUL bytes; anything else is a 400 naming the part.
 */
static int
req_text_check(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const char *bad = NULL;
	size_t i;

	for (i = 0; i < req->nparams; i++)
		if (!cy_utf8_valid(req->params[i], strlen(req->params[i]))) {
			cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			    "path segment %zu of %s is not valid UTF-8", i + 1,
			    req->route->pattern);
			return -1;
		}
	MHD_get_connection_values_n(req->conn, MHD_GET_ARGUMENT_KIND, query_text_ok, &bad);
	if (bad) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "query parameter '%.64s' is not valid UTF-8 text (or holds a NUL byte)",
		    cy_utf8_valid(bad, strlen(bad)) ? bad : "?");
		return -1;
	}
	return 0;
}

/*
 * /healthz, /readyz (the app's ready hook gives the 503 reason) and
 * /openapi.json (the document as the program embeds it, byte for byte).
 */
static void
health_answer(struct cy_httpd *d, const struct req_ctx *ctx, struct cy_http_resp *resp)
{
	struct cy_buf reason = CY_BUF_INIT;

	if (ctx->health == 3) {
		cy_buf_reset(&resp->body);
		cy_buf_add(&resp->body, d->cfg.openapi, d->cfg.openapi_len);
		resp->status = 200;
		resp->content_type = "application/json";
	} else if (ctx->health == 1)
		cy_resp_text(resp, 200, "ok");
	else if (!d->cfg.ready || d->cfg.ready(d->cfg.app, &reason) == 0)
		cy_resp_text(resp, 200, "ready");
	else
		cy_resp_text(resp, 503, reason.len ? reason.buf : "not ready");
	cy_buf_release(&reason);
}

/* The request as handlers see it. */
static void
req_fill(struct cy_httpd *d, struct MHD_Connection *conn, struct req_ctx *ctx, const char *url,
    const char *method, struct cy_http_req *req)
{
	size_t i;

	memset(req, 0, sizeof(*req));
	req->method = method;
	req->path = url;
	for (i = 0; i < ctx->nparams; i++)
		req->params[i] = ctx->params[i];
	req->nparams = ctx->nparams;
	req->body = ctx->body.buf;
	req->body_len = ctx->body.len;
	req->route = ctx->route;
	req->app = d->cfg.app;
	req->conn = conn;
	req->susp = &ctx->susp;
	req->body_tables = d->cfg.body_tables;
	client_ip(conn, req->client_ip, sizeof(req->client_ip));
}

/*
 * The auth hook, once per request (not again when a suspended request
 * runs again).  0 to go on; -1 with resp filled (401/403/500).
 */
static int
req_authenticate(struct cy_httpd *d, struct req_ctx *ctx, struct cy_http_req *req,
    struct cy_http_resp *resp)
{
	if (ctx->route->auth != 0 && !ctx->authed) {
		if (!d->cfg.authenticate) {
			cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "no authenticator configured");
			return -1;
		}
		if (d->cfg.authenticate(req, resp) != 0) {
			if (resp->status == 0)
				cy_resp_problem(resp, CY_PROBLEM_AUTHENTICATION,
				    "authentication required");
			if (req->auth && d->cfg.auth_free)
				d->cfg.auth_free(req->auth);
			req->auth = NULL;
			return -1;
		}
		ctx->auth = req->auth;
	}
	ctx->authed = 1;
	return 0;
}

/*
 * Runs the handler until it answers or parks the connection (a long
 * poll).  A resume that came before the handler returned runs it again at
 * once.  Returns true when the connection was parked.
 */
static bool
req_run_handler(struct MHD_Connection *conn, struct req_ctx *ctx, struct cy_http_req *req,
    struct cy_http_resp *resp)
{
	size_t i;

	pthread_mutex_lock(&ctx->susp.lock);
	if (ctx->susp.state == SUSP_RESUMING)
		ctx->resumed++;
	ctx->susp.state = SUSP_NONE;
	pthread_mutex_unlock(&ctx->susp.lock);
	for (;;) {
		req->auth = ctx->auth;
		req->state = ctx->state;
		req->state_free = ctx->state_free;
		req->resumed = ctx->resumed;
		ctx->route->handler(req, resp);
		ctx->state = req->state;
		ctx->state_free = req->state_free;
		pthread_mutex_lock(&ctx->susp.lock);
		if (ctx->susp.state == SUSP_NONE) {
			pthread_mutex_unlock(&ctx->susp.lock);
			return false;
		}
		/* Suspended: whatever the handler put in resp is dropped. */
		resp_drop_reader(resp);
		cy_buf_release(&resp->body);
		for (i = 0; i < resp->nhdr; i++)
			free(resp->hdr_value[i]);
		resp_init(resp);
		if (ctx->susp.state == SUSP_WOKEN) {
			ctx->susp.state = SUSP_NONE;
			ctx->resumed++;
			pthread_mutex_unlock(&ctx->susp.lock);
			continue;
		}
		ctx->susp.conn = conn;
		ctx->susp.state = SUSP_PARKED;
		MHD_suspend_connection(conn);
		pthread_mutex_unlock(&ctx->susp.lock);
		return true;
	}
}

static enum MHD_Result
req_finish(struct cy_httpd *d, struct MHD_Connection *conn, struct req_ctx *ctx, const char *url,
    const char *method)
{
	struct cy_http_resp resp;
	struct cy_http_req req;

	resp_init(&resp);
	if (ctx->health) {
		health_answer(d, ctx, &resp);
		return send_resp(d, conn, ctx, method, url, &resp);
	}
	req_fill(d, conn, ctx, url, method, &req);
	if (req_authenticate(d, ctx, &req, &resp) < 0 || req_text_check(&req, &resp) < 0)
		return send_resp(d, conn, ctx, method, url, &resp);
	if (req_run_handler(conn, ctx, &req, &resp))
		return MHD_YES;
	return send_resp(d, conn, ctx, method, url, &resp);
}

/*
 * Streamed bodies: the request as the route's body_fn sees it, its state
 * kept in ctx between pieces.
 */
static int
req_stream_call(struct cy_httpd *d, struct MHD_Connection *conn, struct req_ctx *ctx,
    const char *url, const char *method, const char *data, size_t len, struct cy_http_resp *resp)
{
	struct cy_http_req req;
	int rc;

	req_fill(d, conn, ctx, url, method, &req);
	req.auth = ctx->auth;
	req.state = ctx->state;
	req.state_free = ctx->state_free;
	rc = ctx->route->body_fn(&req, data, len, resp);
	ctx->state = req.state;
	ctx->state_free = req.state_free;
	return rc;
}

/* Frees a streamed body's state now (its body is refused or too large). */
static void
req_stream_drop(struct req_ctx *ctx)
{
	if (ctx->state && ctx->state_free)
		ctx->state_free(ctx->state);
	ctx->state = NULL;
	ctx->state_free = NULL;
}

/*
 * First callback of a streamed body: auth and body_fn's first call, so a
 * refusal goes out before the client sends the body.
 */
static enum MHD_Result
req_stream_open(struct cy_httpd *d, struct MHD_Connection *conn, struct req_ctx *ctx,
    const char *url, const char *method)
{
	struct cy_http_resp resp;
	struct cy_http_req req;

	resp_init(&resp);
	req_fill(d, conn, ctx, url, method, &req);
	if (req_authenticate(d, ctx, &req, &resp) < 0 || req_text_check(&req, &resp) < 0 ||
	    req_stream_call(d, conn, ctx, url, method, NULL, 0, &resp) < 0) {
		req_stream_drop(ctx);
		if (resp.status == 0)
			cy_resp_problem(&resp, CY_PROBLEM_INTERNAL, "upload refused");
		return send_resp(d, conn, ctx, method, url, &resp);
	}
	return MHD_YES;
}

/* A piece of a streamed body: counted against the limit, then handed on. */
static void
req_stream_data(struct cy_httpd *d, struct MHD_Connection *conn, struct req_ctx *ctx,
    const char *url, const char *method, const char *data, size_t n)
{
	if (ctx->too_large || ctx->early)
		return;
	if (ctx->received + n > ctx->limit || ctx->received + n < ctx->received) {
		ctx->too_large = 1;
		req_stream_drop(ctx);
		return;
	}
	ctx->received += n;
	ctx->early = xcalloc(1, sizeof(*ctx->early));
	resp_init(ctx->early);
	if (req_stream_call(d, conn, ctx, url, method, data, n, ctx->early) == 0) {
		cy_buf_release(&ctx->early->body);
		free(ctx->early);
		ctx->early = NULL;
		return;
	}
	req_stream_drop(ctx);
	if (ctx->early->status == 0)
		cy_resp_problem(ctx->early, CY_PROBLEM_INTERNAL, "upload failed");
}

struct cy_http_suspension *
cy_req_suspend(struct cy_http_req *req)
{
	struct cy_http_suspension *s = req->susp;

	pthread_mutex_lock(&s->lock);
	s->state = SUSP_PENDING;
	pthread_mutex_unlock(&s->lock);
	return s;
}

void
cy_http_resume(struct cy_http_suspension *s)
{
	pthread_mutex_lock(&s->lock);
	if (s->state == SUSP_PENDING) {
		s->state = SUSP_WOKEN;
	} else if (s->state == SUSP_PARKED) {
		s->state = SUSP_RESUMING;
		MHD_resume_connection(s->conn);
	}
	pthread_mutex_unlock(&s->lock);
}

static enum MHD_Result
access_step(struct cy_httpd *d, struct MHD_Connection *conn, const char *url, const char *method,
    const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct req_ctx *ctx = *con_cls;

	if (!ctx) {
		/* A request: its handler may take long (keepalive_idle_s is for between them). */
		if (d->cfg.keepalive_idle_s)
			MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT,
			    d->cfg.conn_timeout_s);
		ctx = xcalloc(1, sizeof(*ctx));
		pthread_mutex_init(&ctx->susp.lock, NULL);
		clock_gettime(CLOCK_MONOTONIC, &ctx->start);
		cy_buf_init(&ctx->body, 0);
		*con_cls = ctx;
		return req_begin(d, conn, ctx, url, method);
	}
	if (ctx->responded) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size != 0 && ctx->route && ctx->route->body_fn) {
		req_stream_data(d, conn, ctx, url, method, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		size_t n = *upload_data_size;

		if (!ctx->too_large) {
			if (ctx->body.len + n > ctx->limit)
				ctx->too_large = 1;
			else
				cy_buf_add(&ctx->body, upload_data, n);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (ctx->too_large)
		return send_too_large(d, conn, ctx, method, url);
	if (ctx->early) {
		struct cy_http_resp *early = ctx->early;
		enum MHD_Result ret;

		ctx->early = NULL;
		ret = send_resp(d, conn, ctx, method, url, early);
		free(early);
		return ret;
	}
	return req_finish(d, conn, ctx, url, method);
}

static enum MHD_Result
access_cb(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct cy_httpd *d = cls;
	enum MHD_Result r;

	(void)version;
	r = access_step(d, conn, url, method, upload_data, upload_data_size, con_cls);
	if (d->cfg.after_call)
		d->cfg.after_call();
	return r;
}

static void
completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct cy_httpd *d = cls;
	struct req_ctx *ctx = *con_cls;
	size_t i;

	/* Answered: the connection now waits for the client's next request. */
	if (d->cfg.keepalive_idle_s && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
		MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT,
		    d->cfg.keepalive_idle_s);
	if (!ctx)
		return;
	if (ctx->auth && d->cfg.auth_free)
		d->cfg.auth_free(ctx->auth);
	if (ctx->state && ctx->state_free)
		ctx->state_free(ctx->state);
	pthread_mutex_destroy(&ctx->susp.lock);
	if (ctx->early) {
		cy_buf_release(&ctx->early->body);
		for (i = 0; i < ctx->early->nhdr; i++)
			free(ctx->early->hdr_value[i]);
		free(ctx->early);
	}
	for (i = 0; i < ctx->nparams; i++)
		free(ctx->params[i]);
	cy_buf_release(&ctx->body);
	free(ctx);
	*con_cls = NULL;
	if (d->cfg.after_call)
		d->cfg.after_call();
}

/* Fills ss from host and port; returns the length or 0 with err set. */
static socklen_t
resolve_listen(const char *host, unsigned port, struct sockaddr_storage *ss, struct cy_error *err)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	char tmp[256];
	struct addrinfo hints, *res = NULL;
	size_t n;
	int rc;

	memset(ss, 0, sizeof(*ss));
	if (!host || !*host || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "*") == 0) {
		in4->sin_family = AF_INET;
		in4->sin_addr.s_addr = htonl(INADDR_ANY);
		in4->sin_port = htons((uint16_t)port);
		return sizeof(*in4);
	}
	if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	n = strlen(host);
	if (host[0] == '[' && n > 2 && host[n - 1] == ']') {
		if (cy_snprintf(tmp, sizeof(tmp), "%.*s", (int)(n - 2), host + 1) < 0) {
			cy_error_set(err, EINVAL, "listen host of %zu bytes is too long", n);
			return 0;
		}
		host = tmp;
	}
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		return sizeof(*in4);
	}
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		return sizeof(*in6);
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0 || !res) {
		cy_error_set(err, EINVAL, "cannot resolve listen host %s: %s", host,
		    rc ? gai_strerror(rc) : "no address");
		return 0;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	if (ss->ss_family == AF_INET)
		in4->sin_port = htons((uint16_t)port);
	else
		in6->sin6_port = htons((uint16_t)port);
	n = res->ai_addrlen;
	freeaddrinfo(res);
	return (socklen_t)n;
}

/* TLS needs both PEMs and a libmicrohttpd built with TLS (GnuTLS). */
static int
httpd_tls_check(const struct cy_httpd_config *cfg, struct cy_error *err)
{
	if (!cfg->tls_cert_pem && !cfg->tls_key_pem)
		return 0;
	if (!cfg->tls_cert_pem || !cfg->tls_key_pem)
		return cy_error_set(err, EINVAL, "TLS needs both a certificate and its key");
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
		return cy_error_set(err, ENOTSUP,
		    "this libmicrohttpd was built without TLS support: cannot serve HTTPS");
	return 0;
}

static void
httpd_tls_free(struct cy_httpd *d)
{
	if (d->tls_key)
		explicit_bzero(d->tls_key, strlen(d->tls_key));
	free(d->tls_key);
	free(d->tls_cert);
}

struct cy_httpd *
cy_httpd_start(const struct cy_httpd_config *cfg, struct cy_error *err)
{
	struct sockaddr_storage ss;
	struct cy_httpd *d;
	const union MHD_DaemonInfo *info;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	char msg[256] = "";
	struct sigaction sa;
	size_t mem;

	if (cfg->port > 65535) {
		cy_error_set(err, EINVAL, "invalid port %u", cfg->port);
		return NULL;
	}
	if (httpd_tls_check(cfg, err) < 0)
		return NULL;
	cy_metrics_declare("cynode_http_requests_total", CY_METRIC_COUNTER,
	    "HTTP requests answered, by listener, route pattern, method and status code.");
	cy_metrics_declare("cynode_http_request_duration_seconds", CY_METRIC_HISTOGRAM,
	    "Time from request start to response, by listener and route pattern.");
	if (!cfg->has_listen_fd && !resolve_listen(cfg->host, cfg->port, &ss, err))
		return NULL;
	/* MHD suppresses SIGPIPE on Linux sockets; ignore it anyway for safety. */
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);

	if (cfg->threads > 0) {
		if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES)
			flags |= MHD_USE_EPOLL | MHD_USE_TURBO;
		else
			flags |= MHD_USE_POLL;
		flags |= MHD_ALLOW_SUSPEND_RESUME;
	} else {
		flags |= MHD_USE_THREAD_PER_CONNECTION;
		if (MHD_is_feature_supported(MHD_FEATURE_POLL) == MHD_YES)
			flags |= MHD_USE_POLL;
	}
	if (!cfg->has_listen_fd && ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	mem = cfg->max_header_bytes ? cfg->max_header_bytes : DEFAULT_HEADER_BYTES;

	d = xcalloc(1, sizeof(*d));
	d->cfg = *cfg;
	pthread_mutex_init(&d->streams_lock, NULL);
	start_msg = msg;
	start_msg_size = sizeof(msg);
	{
		/* The listener and the optional limits as one option array. */
		struct MHD_OptionItem opts[8];
		size_t no = 0;

		if (cfg->has_listen_fd)
			opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_LISTEN_SOCKET,
				cfg->listen_fd, NULL };
		else
			opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, &ss };
		if (cfg->max_conns)
			opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT,
				(intptr_t)cfg->max_conns, NULL };
		if (cfg->threads > 0)
			opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE,
				(intptr_t)cfg->threads, NULL };
		if (cfg->tls_cert_pem) {
			flags |= MHD_USE_TLS;
			d->tls_cert = xstrdup(cfg->tls_cert_pem);
			d->tls_key = xstrdup(cfg->tls_key_pem);
			d->cfg.tls_cert_pem = d->tls_cert;
			d->cfg.tls_key_pem = d->tls_key;
			opts[no++] =
			    (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, d->tls_cert };
			opts[no++] =
			    (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, d->tls_key };
		}
		opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
		d->mhd = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, access_cb, d,
		    MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, (void *)d, MHD_OPTION_NOTIFY_COMPLETED,
		    completed_cb, (void *)d, MHD_OPTION_CONNECTION_MEMORY_LIMIT, mem,
		    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg->conn_timeout_s,
		    MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	}
	start_msg = NULL;
	start_msg_size = 0;
	if (!d->mhd) {
		cy_error_set(err, EADDRINUSE, "cannot listen on %s:%u%s%s",
		    cfg->host && *cfg->host ? cfg->host : "*", cfg->port, msg[0] ? ": " : "", msg);
		pthread_mutex_destroy(&d->streams_lock);
		httpd_tls_free(d);
		free(d);
		return NULL;
	}
	info = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_BIND_PORT);
	d->port = info ? info->port : cfg->port;
	return d;
}

unsigned
cy_httpd_port(const struct cy_httpd *d)
{
	return d->port;
}

void
cy_httpd_stop(struct cy_httpd *d)
{
	if (!d)
		return;
	httpd_streams_stop(d);
	MHD_stop_daemon(d->mhd);
	pthread_mutex_destroy(&d->streams_lock);
	httpd_tls_free(d);
	free(d);
}

const char *
cy_req_header(struct cy_http_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

int
cy_req_socket(struct cy_http_req *req)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);

	return ci ? ci->connect_fd : -1;
}

const char *
cy_req_query(struct cy_http_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* MHD_get_connection_values's iterator for cy_req_query_unknown. */
struct query_names {
	const char *const *known;
	const char *unknown;
};

static enum MHD_Result
query_name_check(void *arg, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct query_names *q = arg;
	size_t i;

	(void)kind;
	(void)value;
	for (i = 0; q->known[i]; i++)
		if (!strcmp(q->known[i], key))
			return MHD_YES;
	q->unknown = key;
	return MHD_NO;
}

const char *
cy_req_query_unknown(struct cy_http_req *req, const char *const *known)
{
	struct query_names q = { .known = known, .unknown = NULL };

	MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, query_name_check, &q);
	return q.unknown;
}

const char *
cy_req_bearer(struct cy_http_req *req)
{
	const char *h = cy_req_header(req, MHD_HTTP_HEADER_AUTHORIZATION);

	if (!h)
		return NULL;
	while (*h == ' ' || *h == '\t')
		h++;
	if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
		return NULL;
	h += 6;
	while (*h == ' ' || *h == '\t')
		h++;
	return *h ? h : NULL;
}

/* Parses the body as one JSON object; NULL with resp filled (400) when it is not. */
static json_t *
req_parse(struct cy_http_req *req, struct cy_http_resp *resp)
{
	json_error_t jerr;
	json_t *v;

	if (req->body_len == 0) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "invalid JSON: empty body (expected a JSON object)");
		return NULL;
	}
	v = json_loadb(req->body, req->body_len, 0, &jerr);
	if (!v) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "invalid JSON: %s at line %d column %d", jerr.text, jerr.line, jerr.column);
		return NULL;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "invalid JSON: expected a JSON object");
		return NULL;
	}
	return v;
}

int
cy_req_no_params(struct cy_http_req *req, struct cy_http_resp *resp)
{
	json_t *v;
	size_t n;

	if (req->body_len == 0)
		return 0;
	if (!(v = req_parse(req, resp)))
		return -1;
	n = json_object_size(v);
	json_decref(v);
	if (n == 0)
		return 0;
	cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
	    "%s takes no parameters: send an empty body or {}", req->route->pattern);
	return -1;
}

int
cy_resp_jcheck(struct cy_http_resp *resp, const json_t *v, const struct cy_jcheck *spec)
{
	struct cy_buf why = CY_BUF_INIT;
	int rc = cy_jcheck(v, spec, &why);

	if (rc != CY_JCHECK_OK)
		cy_resp_problem(resp,
		    rc == CY_JCHECK_VERSION ? CY_PROBLEM_UNSUPPORTED_PAYLOAD_VERSION :
					      CY_PROBLEM_VALIDATION,
		    "%s", why.buf);
	cy_buf_release(&why);
	return rc == CY_JCHECK_OK ? 0 : -1;
}

json_t *
cy_req_json(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct cy_jcheck *spec = req->route ? req->route->body : NULL;
	json_t *v;

	if (!(v = req_parse(req, resp)))
		return NULL;
	if (!spec && req->body_tables) {
		cy_log_error("httpd_body_undescribed", "route", req->route->pattern, NULL);
		cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "%s has no body table",
		    req->route->pattern);
		json_decref(v);
		return NULL;
	}
	if (spec && cy_resp_jcheck(resp, v, spec) < 0) {
		json_decref(v);
		return NULL;
	}
	return v;
}
void
cy_resp_json(struct cy_http_resp *resp, int status, json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	cy_buf_reset(&resp->body);
	if (s) {
		cy_buf_addstr(&resp->body, s);
		free(s);
	}
	json_decref(v);
	resp->status = status;
	resp->content_type = "application/json";
}

void
cy_resp_text(struct cy_http_resp *resp, int status, const char *text)
{
	cy_buf_reset(&resp->body);
	cy_buf_addstr(&resp->body, text);
	resp->status = status;
	resp->content_type = "text/plain; charset=utf-8";
}

void
cy_resp_reader(struct cy_http_resp *resp, int status, const char *content_type, uint64_t size,
    ssize_t (*read)(void *arg, uint64_t pos, char *buf, size_t max), void (*free_fn)(void *arg),
    void *arg)
{
	cy_buf_reset(&resp->body);
	resp->status = status;
	resp->content_type = content_type;
	resp->reader = read;
	resp->reader_free = free_fn;
	resp->reader_arg = arg;
	resp->reader_size = size;
}

void
cy_resp_empty(struct cy_http_resp *resp, int status)
{
	cy_buf_reset(&resp->body);
	resp->status = status;
	resp->content_type = NULL;
}

void
cy_resp_problem(struct cy_http_resp *resp, enum cy_problem p, const char *fmt, ...)
{
	struct cy_buf detail = CY_BUF_INIT;
	va_list ap;
	json_t *o;

	va_start(ap, fmt);
	cy_buf_vaddf(&detail, fmt, ap);
	va_end(ap);
	o = json_object();
	json_object_set_new(o, "type", json_string(cy_problem_type(p)));
	json_object_set_new(o, "title", json_string(cy_problem_title(p)));
	json_object_set_new(o, "status", json_integer(cy_problem_status(p)));
	/* json_string rejects invalid UTF-8; fall back to a lossless-enough form. */
	json_object_set_new(o, "detail", json_string(detail.buf) ?: json_string("(invalid UTF-8)"));
	cy_buf_release(&detail);
	cy_resp_json(resp, cy_problem_status(p), o);
	resp->content_type = "application/problem+json";
}

void
cy_resp_header(struct cy_http_resp *resp, const char *name, const char *value)
{
	size_t i;

	for (i = 0; i < resp->nhdr; i++) {
		if (strcasecmp(resp->hdr_name[i], name) == 0) {
			free(resp->hdr_value[i]);
			resp->hdr_value[i] = xstrdup(value);
			return;
		}
	}
	if (resp->nhdr >= CY_HTTP_MAX_HEADERS) {
		cy_log(CY_LOG_ERROR, "httpd_too_many_headers", "header", name, NULL);
		return;
	}
	resp->hdr_name[resp->nhdr] = name;
	resp->hdr_value[resp->nhdr] = xstrdup(value);
	resp->nhdr++;
}
