/*
 * HTTP server wrapper over libmicrohttpd: a route table (method, path
 * pattern, auth kind, body limit, handler), request bodies collected up to
 * the route's limit (413 beyond), problem+json errors (RFC 9457, contract
 * section 1), and the unauthenticated /healthz, /readyz and /openapi.json
 * endpoints.
 *
 * Handlers run synchronously on the daemon's threads: a thread pool
 * (`threads` > 0) or one thread per connection (`threads` == 0, for handlers
 * that block for a long time, like the node's jobs:run).  A handler that
 * must wait for an event (a long poll) suspends the request instead of
 * blocking: see cy_req_suspend().
 */
#ifndef CY_HTTPD_H
#define CY_HTTPD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "error.h"
#include "states.h"

#define CY_HTTP_MAX_PARAMS 4

struct MHD_Connection;
struct cy_jcheck;
struct cy_route;

struct cy_http_req {
	const char *method;
	const char *path;                       /* without the query string */
	const char *params[CY_HTTP_MAX_PARAMS]; /* {name} segments, in pattern order */
	size_t nparams;
	const char *body; /* NUL-terminated copy of the body, "" when none */
	size_t body_len;
	const struct cy_route *route;
	void *auth; /* set by the authenticate hook */
	void *app;  /* cy_httpd_config.app */
	char client_ip[64];
	struct MHD_Connection *conn;     /* use the accessors below */
	unsigned resumed;                /* times this request was resumed (0 first) */
	void *state;                     /* the handler's own, kept across suspensions */
	void (*state_free)(void *state); /* called when the request ends */
	struct cy_http_suspension *susp; /* internal */
	bool body_tables;                /* internal: cy_httpd_config.body_tables */
};

#define CY_HTTP_MAX_HEADERS 4

struct cy_http_stream;

struct cy_http_resp {
	int status;
	struct cy_buf body;
	const char *content_type;                  /* static string */
	const char *hdr_name[CY_HTTP_MAX_HEADERS]; /* static strings */
	char *hdr_value[CY_HTTP_MAX_HEADERS];      /* owned */
	size_t nhdr;
	struct cy_http_stream *stream; /* set by cy_resp_stream: body streamed */
	/* Set by cy_resp_reader: a body of reader_size bytes pulled from reader. */
	ssize_t (*reader)(void *arg, uint64_t pos, char *buf, size_t max);
	void (*reader_free)(void *arg);
	void *reader_arg;
	uint64_t reader_size;
};

typedef void (*cy_http_handler)(struct cy_http_req *req, struct cy_http_resp *resp);
/*
 * Renders an error of a route whose API has its own error shape (the
 * OpenAI-compatible endpoints): replaces resp's body, keeps the status.
 */
typedef void (*cy_http_error_fn)(struct cy_http_resp *resp, int status, const char *detail);

struct cy_route {
	const char *method;  /* "GET", "POST", ... */
	const char *pattern; /* "/v1/tasks/{id}/result"; {x} matches one non-empty segment */
	int auth;            /* program-defined auth kind; 0 = none */
	size_t body_limit;   /* max body bytes; 0 = the route takes no body */
	cy_http_handler handler;
	/*
	 * NULL: errors are problem+json.  Else every problem+json answer of
	 * this route (413 from the body limit, 401/403 from the auth hook,
	 * the handler's own) is rendered by error_fn instead.
	 */
	cy_http_error_fn error_fn;
	/*
	 * The JSON object the route takes as its body (lib/jcheck.h).
	 * cy_req_json() checks the body against it when the handler asks
	 * for the body, so a handler sees only bodies that fit it, and a
	 * body that does not is a 400 naming the field (or, for a versioned
	 * payload of another version, unsupported-payload-version) in the
	 * route's error shape.  NULL: cy_req_json() parses without checking
	 * (but see cy_httpd_config.body_tables).
	 */
	const struct cy_jcheck *body;
	/*
	 * A streamed request body (uploads): when set, the body is not
	 * collected.  Once the auth hook has let the request through,
	 * body_fn is called with len 0 before any byte arrives (it may
	 * refuse the request there, before the client sends the body), then
	 * with each piece as it arrives; the handler runs at the end as
	 * usual, with an empty req->body.  body_fn keeps what it needs in
	 * req->state (its state_free runs however the request ends, so a
	 * cut connection can undo what body_fn did).  It returns 0 to go on,
	 * or -1 with resp filled: the rest of the body is read and dropped
	 * and resp is the answer.  body_limit caps the body: a
	 * Content-Length over it is answered 413 at once, and a body that
	 * grows past it gets its state freed at once and a 413; both name
	 * the limit.
	 */
	int (*body_fn)(struct cy_http_req *req, const char *data, size_t len,
	    struct cy_http_resp *resp);
};

struct cy_httpd_config {
	const char *name; /* for log lines: "gateway", "control", "worker" */
	const char *host; /* listen address, NULL or "" = any */
	unsigned port;    /* 0 = pick a free port (see cy_httpd_port) */
	const struct cy_route *routes;
	size_t nroutes;
	unsigned threads;        /* thread pool size; 0 = thread per connection */
	unsigned conn_timeout_s; /* idle connection timeout; 0 = library default */
	/*
	 * A kept-alive connection that no request uses for this long after
	 * its last answer is closed (with a thread per connection its thread,
	 * stack and buffers go with it); while a request runs, conn_timeout_s
	 * applies.  0: kept until the client closes it.
	 */
	unsigned keepalive_idle_s;
	size_t max_header_bytes; /* per-connection header memory; 0 = 64 KiB */
	/*
	 * Called for routes with auth != 0 before the handler.  Returns 0 and
	 * sets req->auth to let the request through, or fills resp (401/403)
	 * and returns -1.
	 */
	int (*authenticate)(struct cy_http_req *req, struct cy_http_resp *resp);
	void (*auth_free)(void *auth);
	/*
	 * Called on the worker thread after each of the library's calls into
	 * the application for a connection (a request's handler, a piece of a
	 * streamed body, a reader body's read and free, the request's end),
	 * to hand back what the thread borrowed for it; NULL: nothing.
	 */
	void (*after_call)(void);
	/* /readyz: 0 when ready, else -1 with a human-actionable reason. */
	int (*ready)(void *app, struct cy_buf *reason);
	void *app;
	/*
	 * Serve on this listening socket (a Unix socket, say) instead of
	 * host/port when has_listen_fd; the daemon then owns and closes it.
	 */
	bool has_listen_fd;
	int listen_fd;
	unsigned max_conns; /* connections at once; 0 = library default */
	/*
	 * Every body a handler reads with cy_req_json() must be described by
	 * its route's body table: reading one without is a server bug,
	 * answered 500 and logged (httpd_body_undescribed).
	 */
	bool body_tables;
	/*
	 * HTTPS: the certificate (chain) and its private key as PEM text
	 * (lib/tls.h cy_tls_load); both NULL = plain HTTP.  Copied.
	 */
	const char *tls_cert_pem;
	const char *tls_key_pem;
	/*
	 * The listener's OpenAPI document (a file of api/, embedded at build
	 * time): served as GET /openapi.json without auth.  NULL: 404 there.
	 */
	const char *openapi;
	size_t openapi_len;
};

struct cy_httpd;

struct cy_httpd *cy_httpd_start(const struct cy_httpd_config *cfg, struct cy_error *err);
/* The port actually bound. */
unsigned cy_httpd_port(const struct cy_httpd *d);
void cy_httpd_stop(struct cy_httpd *d);

/* Request accessors; returned strings live as long as the request. */
const char *cy_req_header(struct cy_http_req *req, const char *name);
const char *cy_req_query(struct cy_http_req *req, const char *name);
/*
 * The first query parameter whose name is not in `known` (NULL-terminated),
 * or NULL when every one is known; valid until the request ends.
 */
const char *cy_req_query_unknown(struct cy_http_req *req, const char *const *known);
/* The connection's socket (for SO_PEERCRED on a Unix socket), or -1. */
int cy_req_socket(struct cy_http_req *req);
/* The token of "Authorization: Bearer <token>" (scheme case-insensitive), or NULL. */
const char *cy_req_bearer(struct cy_http_req *req);
/*
 * Parses the body as one JSON object and checks it against the route's
 * body table (cy_route.body), if any.  On failure fills resp with a 400
 * problem naming the parse error or the field, and returns NULL.
 */
json_t *cy_req_json(struct cy_http_req *req, struct cy_http_resp *resp);
/*
 * Checks v (a document inside a body, say) against spec: 0, or -1 with
 * resp filled: a 400 validation problem naming the field, or
 * unsupported-payload-version for a versioned payload of another version.
 */
int cy_resp_jcheck(struct cy_http_resp *resp, const json_t *v, const struct cy_jcheck *spec);
/*
 * For actions that take no parameters: 0 when the body is empty or "{}";
 * else fills resp with a 400 and returns -1 (a body the caller believes
 * means something must not be ignored).
 */
int cy_req_no_params(struct cy_http_req *req, struct cy_http_resp *resp);

/*
 * Long polls.  A handler that cannot answer yet calls cy_req_suspend() and
 * returns without filling resp: the connection is parked without holding a
 * thread.  Whoever later calls cy_http_resume() on the returned handle (any
 * thread, exactly once) makes the handler run again for the same request,
 * with req->resumed incremented and req->state/auth kept; it may suspend
 * again.  A resume that comes before the handler has returned is not lost:
 * the handler then runs again at once.  The handle is valid until it is
 * resumed.  Needs a thread-pool daemon (threads > 0).
 */
struct cy_http_suspension;
struct cy_http_suspension *cy_req_suspend(struct cy_http_req *req);
void cy_http_resume(struct cy_http_suspension *s);

/*
 * Streamed responses (server-sent events, NDJSON, relays of a stream from
 * elsewhere).  The handler calls cy_resp_stream() (it may add headers) and
 * returns; the response goes out with chunked transfer encoding while a
 * producer, on any thread, writes to the returned handle and finally
 * closes it.  The request and the producer each hold a reference: the
 * handle stays valid for the producer until it calls
 * cy_http_stream_close(), whatever the client does.
 */
struct cy_http_stream *cy_resp_stream(struct cy_http_resp *resp, int status,
    const char *content_type);
/*
 * Queues bytes for the client.  Blocks while more than the stream's buffer
 * limit (256 KiB) waits to be sent.  0, or -1 once the client has gone (the
 * producer should then stop whatever feeds the stream).
 */
int cy_http_stream_write(struct cy_http_stream *s, const void *data, size_t len);
/* True once the client has gone (disconnected, or the response ended). */
bool cy_http_stream_gone(struct cy_http_stream *s);
/*
 * Bytes written but not yet taken by the client: a producer serving many
 * streams checks it to skip (and in the end drop) a client that does not
 * read, instead of blocking in cy_http_stream_write.
 */
size_t cy_http_stream_queued(struct cy_http_stream *s);
/*
 * Calls fn(arg) once, on an httpd thread, when the client goes away before
 * the stream is closed (or at once when it already has).  fn must not block.
 */
void cy_http_stream_on_gone(struct cy_http_stream *s, void (*fn)(void *arg), void *arg);
/* Ends the stream (what was written is still sent) and drops the producer's reference. */
void cy_http_stream_close(struct cy_http_stream *s);
/*
 * Ends the stream as broken: what was written is still sent, then the
 * connection is closed without the final chunk, so the client sees a cut
 * (a relay whose upstream failed midway).  Drops the producer's reference.
 */
void cy_http_stream_abort(struct cy_http_stream *s);

/*
 * A response body of `size` bytes pulled on the daemon's thread as the
 * client takes it: read(arg, pos, buf, max) copies up to max bytes from
 * offset pos into buf and returns how many (> 0), or -1 to cut the
 * connection (the client sees a short body).  free_fn(arg), when not
 * NULL, runs once when the response is over (or was never sent).
 */
void cy_resp_reader(struct cy_http_resp *resp, int status, const char *content_type, uint64_t size,
    ssize_t (*read)(void *arg, uint64_t pos, char *buf, size_t max), void (*free_fn)(void *arg),
    void *arg);

/* Responses.  cy_resp_json steals the reference to v. */
void cy_resp_json(struct cy_http_resp *resp, int status, json_t *v);
void cy_resp_text(struct cy_http_resp *resp, int status, const char *text);
void cy_resp_empty(struct cy_http_resp *resp, int status);
void cy_resp_problem(struct cy_http_resp *resp, enum cy_problem p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Adds a header; name must be a static string. */
void cy_resp_header(struct cy_http_resp *resp, const char *name, const char *value);

#endif
