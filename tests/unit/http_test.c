/*
 * Tests for lib/httpd.c and lib/httpc.c: a real cy_httpd on 127.0.0.1 with
 * an ephemeral port, driven by cy_httpc_request over real HTTP.  Covers
 * routing (params, 404, 405 + Allow), body limits (413), JSON body errors
 * (400), the auth hook, the health endpoints, streamed request bodies
 * (body_fn: auth first, refusals, 413 naming the limit, state freed) and
 * reader responses, and the client's uploads from a file, response cap,
 * timeout and connection-refused errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "httpc.h"
#include "httpd.h"
#include "relay.h"
#include "tap.h"
#include "banned.h"

static char base[64];

static void
h_item(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const char *q = cy_req_query(req, "q");

	cy_resp_json(resp, 200,
	    json_pack("{s:s, s:s, s:s, s:I}", "id", req->params[0], "q", q ? q : "", "ip",
		req->client_ip, "n", (json_int_t)req->nparams));
}

static void
h_two(struct cy_http_req *req, struct cy_http_resp *resp)
{
	cy_resp_text(resp, 200, req->params[1]);
	cy_resp_header(resp, "X-First", req->params[0]);
}

static void
h_echo(struct cy_http_req *req, struct cy_http_resp *resp)
{
	json_t *v = cy_req_json(req, resp);

	if (!v)
		return;
	cy_resp_json(resp, 201, v);
}

static void
h_delete(struct cy_http_req *req, struct cy_http_resp *resp)
{
	cy_resp_empty(resp, 204);
}

static void
h_secret(struct cy_http_req *req, struct cy_http_resp *resp)
{
	cy_resp_text(resp, 200, req->auth);
}

static void
h_big(struct cy_http_req *req, struct cy_http_resp *resp)
{
	size_t i;

	cy_resp_text(resp, 200, "");
	for (i = 0; i < 100000; i++)
		cy_buf_addch(&resp->body, 'x');
}

static void
h_nostatus(struct cy_http_req *req, struct cy_http_resp *resp)
{
}

static void
h_slow(struct cy_http_req *req, struct cy_http_resp *resp)
{
	sleep(2);
	cy_resp_text(resp, 200, "slow");
	cy_resp_header(resp, "Retry-After", "7");
}

/* Streams: a producer thread writes `chunks` pieces 20 ms apart, then closes. */
struct producer {
	struct cy_http_stream *st;
	int chunks; /* < 0: write until the client goes */
	int written;
	int saw_gone; /* write failed or on_gone fired */
	int hook_fired;
	int done;
};

static pthread_mutex_t prod_lock = PTHREAD_MUTEX_INITIALIZER;
static struct producer last_prod;

static void
prod_gone(void *arg)
{
	struct producer *p = arg;

	__atomic_store_n(&p->hook_fired, 1, __ATOMIC_SEQ_CST);
}

static void *
prod_main(void *arg)
{
	struct producer *p = arg;
	char line[64];
	int i;

	for (i = 0; p->chunks < 0 || i < p->chunks; i++) {
		xsnprintf(line, sizeof(line), "data: chunk %d\n\n", i);
		if (cy_http_stream_write(p->st, line, strlen(line)) < 0) {
			p->saw_gone = 1;
			break;
		}
		p->written++;
		usleep(20000);
		if (i > 500)
			break;
	}
	cy_http_stream_close(p->st);
	__atomic_store_n(&p->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void
h_stream(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const char *n = cy_req_query(req, "n");
	pthread_t t;

	pthread_mutex_lock(&prod_lock);
	memset(&last_prod, 0, sizeof(last_prod));
	last_prod.chunks = n ? (int)strtol(n, NULL, 10) : 5;
	last_prod.st = cy_resp_stream(resp, 200, "text/event-stream");
	cy_resp_header(resp, "Cache-Control", "no-cache");
	cy_http_stream_on_gone(last_prod.st, prod_gone, &last_prod);
	pthread_create(&t, NULL, prod_main, &last_prod);
	pthread_detach(t);
	pthread_mutex_unlock(&prod_lock);
}

static int
fake_auth(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const char *tok = cy_req_bearer(req);

	if (!tok || strcmp(tok, "good-token") != 0) {
		cy_resp_problem(resp, CY_PROBLEM_AUTHENTICATION, "invalid or missing token");
		return -1;
	}
	req->auth = xstrdup("alice");
	return 0;
}

static int
not_ready(void *app, struct cy_buf *reason)
{
	cy_buf_addstr(reason, "database unreachable");
	return -1;
}

/* Streamed bodies: a sink counting bytes, its state freed however the request ends. */
struct upsink {
	size_t n;
	long fail_after;
};
static int sink_opens, sink_frees, sink_calls;

static void
sink_free(void *p)
{
	__atomic_add_fetch(&sink_frees, 1, __ATOMIC_SEQ_CST);
	free(p);
}

static int
b_sink(struct cy_http_req *req, const char *data, size_t len, struct cy_http_resp *resp)
{
	struct upsink *s = req->state;
	const char *fa = cy_req_query(req, "fail_after");

	__atomic_add_fetch(&sink_calls, 1, __ATOMIC_SEQ_CST);
	if (!s) {
		if (cy_req_query(req, "refuse")) {
			cy_resp_problem(resp, CY_PROBLEM_AUTHORIZATION, "refused before the body");
			return -1;
		}
		__atomic_add_fetch(&sink_opens, 1, __ATOMIC_SEQ_CST);
		s = xcalloc(1, sizeof(*s));
		s->fail_after = fa ? strtol(fa, NULL, 10) : -1;
		req->state = s;
		req->state_free = sink_free;
	}
	s->n += len;
	if (s->fail_after >= 0 && s->n > (size_t)s->fail_after) {
		cy_resp_problem(resp, CY_PROBLEM_CONFLICT, "sink full at %zu", s->n);
		return -1;
	}
	return 0;
}

static void
h_sink(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct upsink *s = req->state;

	cy_resp_json(resp, 200,
	    json_pack("{s:I, s:s, s:I}", "n", (json_int_t)(s ? s->n : 0), "who", (char *)req->auth,
		"body_len", (json_int_t)req->body_len));
}

/* A reader body: byte i is i % 251; its free counted. */
static int reader_frees;

static ssize_t
pattern_read(void *arg, uint64_t pos, char *buf, size_t max)
{
	size_t i;

	(void)arg;
	for (i = 0; i < max && pos + i < 300000; i++)
		buf[i] = (char)((pos + i) % 251);
	return i ? (ssize_t)i : -1;
}

static void
pattern_free(void *arg)
{
	(void)arg;
	__atomic_add_fetch(&reader_frees, 1, __ATOMIC_SEQ_CST);
}

static void
h_reader(struct cy_http_req *req, struct cy_http_resp *resp)
{
	cy_resp_reader(resp, 200, "application/octet-stream", 300000, pattern_read, pattern_free,
	    NULL);
	cy_resp_header(resp, "X-Reader", "yes");
}

static const struct cy_route routes[] = {
	{ .method = "POST",
	    .pattern = "/v1/sink",
	    .auth = 1,
	    .body_limit = 100000,
	    .handler = h_sink,
	    .body_fn = b_sink },
	{ .method = "GET", .pattern = "/v1/reader", .handler = h_reader },
	{ .method = "GET", .pattern = "/v1/items/{id}", .handler = h_item },
	{ .method = "DELETE", .pattern = "/v1/items/{id}", .handler = h_delete },
	{ .method = "GET", .pattern = "/v1/a/{x}/b/{y}", .handler = h_two },
	{ .method = "POST", .pattern = "/v1/echo", .body_limit = 1024, .handler = h_echo },
	{ .method = "GET", .pattern = "/v1/secret", .auth = 1, .handler = h_secret },
	{ .method = "GET", .pattern = "/v1/big", .handler = h_big },
	{ .method = "GET", .pattern = "/v1/nostatus", .handler = h_nostatus },
	{ .method = "GET", .pattern = "/v1/slow", .handler = h_slow },
	{ .method = "GET", .pattern = "/v1/stream", .handler = h_stream },
};

static long
req(const char *method, const char *path, const char *body, const struct cy_httpc_opts *o,
    struct cy_httpc_resp *r)
{
	struct cy_error err = CY_ERROR_INIT;
	char url[256];

	xsnprintf(url, sizeof(url), "%s%s", base, path);
	if (cy_httpc_request(method, url, body, body ? strlen(body) : 0, o, r, &err) != 0) {
		printf("# request error: %s\n", err.msg);
		return -1;
	}
	return r->status;
}

/* Checks a problem+json body; returns its detail (static copy). */
static const char *
check_problem(struct cy_httpc_resp *r, const char *type, long status, const char *title)
{
	static char detail[512];
	json_t *v = json_loadb(r->body.buf, r->body.len, 0, NULL);

	detail[0] = '\0';
	is_str(r->content_type, "application/problem+json", "problem content type");
	ok(v != NULL, "problem body is JSON");
	if (!v)
		return detail;
	is_str(json_string_value(json_object_get(v, "type")), type, "problem type");
	is_str(json_string_value(json_object_get(v, "title")), title, "problem title");
	is_int(json_integer_value(json_object_get(v, "status")), status, "problem status");
	ok(json_is_string(json_object_get(v, "detail")), "problem has detail");
	xsnprintf(detail, sizeof(detail), "%s",
	    json_string_value(json_object_get(v, "detail")) ?: "");
	json_decref(v);
	return detail;
}

static void
test_routes(void)
{
	struct cy_httpc_resp r = CY_HTTPC_RESP_INIT;
	json_t *v;

	is_int(req("GET", "/v1/items/abc%20d?q=hello", NULL, NULL, &r), 200, "GET item 200");
	is_str(r.content_type, "application/json", "json content type");
	v = json_loads(r.body.buf, 0, NULL);
	is_str(json_string_value(json_object_get(v, "id")), "abc d", "param decoded");
	is_str(json_string_value(json_object_get(v, "q")), "hello", "query param");
	is_str(json_string_value(json_object_get(v, "ip")), "127.0.0.1", "client ip");
	is_int(json_integer_value(json_object_get(v, "n")), 1, "one param");
	json_decref(v);

	is_int(req("GET", "/v1/a/one/b/two", NULL, NULL, &r), 200, "two params");
	is_str(r.body.buf, "two", "second param");

	is_int(req("DELETE", "/v1/items/x", NULL, NULL, &r), 204, "DELETE 204");
	is_int(r.body.len, 0, "empty body");

	is_int(req("GET", "/v1/nope", NULL, NULL, &r), 404, "unknown path 404");
	check_problem(&r, "urn:cynodeai:error:not_found", 404, "Not Found");
	is_int(req("GET", "/v1/items/", NULL, NULL, &r), 404, "empty param segment 404");
	is_int(req("GET", "/v1/items/a/b", NULL, NULL, &r), 404, "extra segment 404");

	is_int(req("PUT", "/v1/items/x", "{}", NULL, &r), 405, "wrong method 405");
	check_problem(&r, "urn:cynodeai:error:not_found", 405, "Method Not Allowed");
	is_int(req("POST", "/healthz", "", NULL, &r), 405, "POST /healthz 405");

	is_int(req("GET", "/v1/nostatus", NULL, NULL, &r), 500, "no status -> 500");
	check_problem(&r, "urn:cynodeai:error:internal", 500, "Internal Server Error");
	cy_httpc_resp_release(&r);
}

static void
test_bodies(void)
{
	struct cy_httpc_resp r = CY_HTTPC_RESP_INIT;
	static const char *const chunked_hdr[] = { "Transfer-Encoding: chunked", NULL };
	struct cy_httpc_opts chunked = { .headers = chunked_hdr };
	struct cy_buf big = CY_BUF_INIT;
	const char *d;
	size_t i;

	is_int(req("POST", "/v1/echo", "{\"a\":[1,2,3]}", NULL, &r), 201, "echo 201");
	is_str(r.body.buf, "{\"a\":[1,2,3]}", "echo body");

	cy_buf_addstr(&big, "{\"a\":\"");
	for (i = 0; i < 2000; i++)
		cy_buf_addch(&big, 'y');
	cy_buf_addstr(&big, "\"}");
	is_int(req("POST", "/v1/echo", big.buf, NULL, &r), 413, "oversized body 413");
	check_problem(&r, "urn:cynodeai:error:validation", 413, "Request Entity Too Large");
	is_int(req("POST", "/v1/echo", big.buf, &chunked, &r), 413, "chunked oversized body 413");
	is_int(req("POST", "/v1/echo", "{\"c\":1}", &chunked, &r), 201, "small chunked body");
	is_str(r.body.buf, "{\"c\":1}", "chunked echo");
	/* A much larger body is refused from its Content-Length, unread. */
	for (i = 0; i < 2 * 1024 * 1024; i++)
		cy_buf_addch(&big, 'y');
	is_int(req("POST", "/v1/echo", big.buf, NULL, &r), 413, "2 MiB body 413");
	cy_buf_release(&big);
	/* A body just under the limit still works on the same client handle. */
	is_int(req("POST", "/v1/echo", "{\"b\":true}", NULL, &r), 201, "echo after 413");

	is_int(req("POST", "/v1/echo", "{\"a\":", NULL, &r), 400, "bad JSON 400");
	d = check_problem(&r, "urn:cynodeai:error:validation", 400, "Bad Request");
	ok(strncmp(d, "invalid JSON: ", 14) == 0, "detail names the parse error: %s", d);
	is_int(req("POST", "/v1/echo", "[1,2]", NULL, &r), 400, "non-object 400");
	d = check_problem(&r, "urn:cynodeai:error:validation", 400, "Bad Request");
	ok(strstr(d, "object") != NULL, "detail says object: %s", d);
	is_int(req("POST", "/v1/echo", "", NULL, &r), 400, "empty body 400");
	is_int(req("POST", "/v1/echo", "{} {}", NULL, &r), 400, "two values 400");

	is_int(req("DELETE", "/v1/items/x", "{}", NULL, &r), 413, "body on no-body route 413");
	cy_httpc_resp_release(&r);
}

/* An upload of n bytes from a file (cy_httpc_opts.upload_fd) to path. */
static long
upload_n(const char *path, size_t n, const char *const *headers, struct cy_httpc_resp *r)
{
	static const char *const auth[] = { "Authorization: Bearer good-token", NULL };
	char tmpl[] = "/tmp/cy-http-test-XXXXXX", *buf = xcalloc(1, n + 1);
	struct cy_httpc_opts o = { .upload = true,
		.upload_size = (long long)n,
		.headers = headers ? headers : auth };
	int fd = mkstemp(tmpl);
	long st;

	memset(buf, 'u', n);
	if (fd < 0 || write(fd, buf, n) != (ssize_t)n || lseek(fd, 0, SEEK_SET) != 0)
		return -1;
	unlink(tmpl);
	o.upload_fd = fd;
	st = req("POST", path, NULL, &o, r);
	close(fd);
	free(buf);
	return st;
}

/* Waits up to a second for *v to reach want (MHD frees after the response went out). */
static int
wait_count(int *v, int want)
{
	int i;

	for (i = 0; i < 100 && __atomic_load_n(v, __ATOMIC_SEQ_CST) < want; i++)
		usleep(10000);
	return __atomic_load_n(v, __ATOMIC_SEQ_CST);
}

static void
test_stream_bodies(void)
{
	static const char *const noauth[] = { "X-None: 1", NULL };
	static const char *const chunked[] = { "Authorization: Bearer good-token",
		"Transfer-Encoding: chunked", NULL };
	struct cy_httpc_resp r = CY_HTTPC_RESP_INIT;
	struct cy_httpc_opts o = { .headers = chunked };
	json_t *v;
	const char *d;
	int frees;

	is_int(upload_n("/v1/sink", 50000, NULL, &r), 200, "streamed upload 200");
	v = json_loads(r.body.buf, 0, NULL);
	is_int(json_integer_value(json_object_get(v, "n")), 50000, "body_fn saw every byte");
	is_int(json_integer_value(json_object_get(v, "body_len")), 0, "nothing collected");
	is_str(json_string_value(json_object_get(v, "who")), "alice", "auth ran first");
	json_decref(v);
	is_int(wait_count(&sink_frees, 1), 1, "state freed at the end");

	is_int(upload_n("/v1/sink", 0, NULL, &r), 200, "empty streamed body");

	sink_calls = 0;
	is_int(upload_n("/v1/sink", 1000, noauth, &r), 401, "no token: 401");
	is_int(sink_calls, 0, "body_fn never called without auth");

	is_int(upload_n("/v1/sink", 100001, NULL, &r), 413, "Content-Length over the limit");
	d = check_problem(&r, "urn:cynodeai:error:validation", 413, "Request Entity Too Large");
	ok(strstr(d, "limit 100000 bytes") != NULL, "413 names the limit: %s", d);

	frees = wait_count(&sink_frees, 2);
	{
		char *big = xcalloc(1, 150001);

		memset(big, 'c', 150000);
		is_int(req("POST", "/v1/sink", big, &o, &r), 413, "chunked body over the limit");
		free(big);
	}
	d = check_problem(&r, "urn:cynodeai:error:validation", 413, "Request Entity Too Large");
	ok(strstr(d, "limit 100000 bytes") != NULL, "chunked 413 names the limit: %s", d);
	is_int(__atomic_load_n(&sink_frees, __ATOMIC_SEQ_CST), frees + 1, "its state freed");

	sink_calls = 0;
	is_int(upload_n("/v1/sink?refuse=1", 5000, NULL, &r), 403, "refused at open");
	is_int(sink_calls, 1, "body_fn called once, before the body");

	is_int(upload_n("/v1/sink?fail_after=20000", 60000, NULL, &r), 409, "failed midway");
	d = check_problem(&r, "https://cynode.ai/specs/conflict", 409, "Conflict");
	ok(strncmp(d, "sink full at", 12) == 0, "body_fn's answer: %s", d);
	is_int(upload_n("/v1/sink", 10, NULL, &r), 200, "next request on the handle is fine");
	cy_httpc_resp_release(&r);
}

static void
test_reader(void)
{
	struct cy_httpc_resp r = CY_HTTPC_RESP_INIT;
	size_t i, bad = 0;

	is_int(req("GET", "/v1/reader", NULL, NULL, &r), 200, "reader 200");
	is_int(r.body.len, 300000, "reader body length");
	for (i = 0; i < r.body.len; i++)
		bad += (unsigned char)r.body.buf[i] != i % 251;
	is_int(bad, 0, "reader bytes in order");
	is_int(wait_count(&reader_frees, 1), 1, "reader freed");
	is_int(req("HEAD", "/v1/reader", NULL, NULL, &r), 200, "HEAD of a reader");
	is_int(r.body.len, 0, "HEAD has no body");
	cy_httpc_resp_release(&r);
}

static void
test_auth_health(void)
{
	struct cy_httpc_resp r = CY_HTTPC_RESP_INIT;
	struct cy_httpc_opts o = { .bearer = "good-token" };
	struct cy_httpc_opts bad = { .bearer = "bad" };

	is_int(req("GET", "/v1/secret", NULL, NULL, &r), 401, "no token 401");
	check_problem(&r, "urn:cynodeai:error:authentication", 401, "Unauthorized");
	is_int(req("GET", "/v1/secret", NULL, &bad, &r), 401, "bad token 401");
	is_int(req("GET", "/v1/secret", NULL, &o, &r), 200, "good token 200");
	is_str(r.body.buf, "alice", "auth passed to handler");

	is_int(req("GET", "/healthz", NULL, NULL, &r), 200, "healthz 200");
	is_str(r.body.buf, "ok", "healthz ok");
	ok(strncmp(r.content_type, "text/plain", 10) == 0, "healthz text/plain");
	is_int(req("GET", "/readyz", NULL, NULL, &r), 503, "readyz 503");
	is_str(r.body.buf, "database unreachable", "readyz reason");
	cy_httpc_resp_release(&r);
}

static void
test_client(void)
{
	struct cy_httpc_resp r = CY_HTTPC_RESP_INIT;
	struct cy_httpc_opts cap = { .max_response = 1024 };
	struct cy_httpc_opts fast = { .timeout_ms = 300 };
	struct cy_error err = CY_ERROR_INIT;
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	char url[128];
	int fd;

	is_int(req("GET", "/v1/big", NULL, NULL, &r), 200, "big body without cap");
	is_int(r.body.len, 100000, "big body length");
	xsnprintf(url, sizeof(url), "%s/v1/big", base);
	ok(cy_httpc_request("GET", url, NULL, 0, &cap, &r, &err) == -1, "capped request fails");
	is_int(err.code, EFBIG, "EFBIG");
	is_int(r.body.len, 0, "no partial body");

	xsnprintf(url, sizeof(url), "%s/v1/slow", base);
	ok(cy_httpc_request("GET", url, NULL, 0, &fast, &r, &err) == -1, "timeout fails");
	is_int(err.code, ETIMEDOUT, "ETIMEDOUT");

	/* A port that was just free and is now closed. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	getsockname(fd, (struct sockaddr *)&sin, &slen);
	close(fd);
	xsnprintf(url, sizeof(url), "http://127.0.0.1:%u/healthz", ntohs(sin.sin_port));
	ok(cy_httpc_request("GET", url, NULL, 0, NULL, &r, &err) == -1, "refused fails");
	is_int(err.code, ECONNREFUSED, "ECONNREFUSED");
	cy_httpc_resp_release(&r);
}

struct sink {
	int calls;
	struct cy_buf all;
	int stop_after; /* > 0: stop the transfer after this many calls */
	long status;
	char ctype[128];
};

static int
sink_data(void *arg, const struct cy_httpc_resp *r, const char *data, size_t len)
{
	struct sink *k = arg;

	k->calls++;
	k->status = r->status;
	xsnprintf(k->ctype, sizeof(k->ctype), "%s", r->content_type);
	cy_buf_add(&k->all, data, len);
	return k->stop_after && k->calls >= k->stop_after ? -1 : 0;
}

static void
wait_flag(int *flag)
{
	int i;

	for (i = 0; i < 300 && !__atomic_load_n(flag, __ATOMIC_SEQ_CST); i++)
		usleep(10000);
}

/* Streamed responses, on a daemon at `b` (thread pool or thread per connection). */
static void
stream_checks(const char *b, const char *what)
{
	struct cy_httpc_resp r = CY_HTTPC_RESP_INIT;
	struct sink k = { 0, CY_BUF_INIT, 0, 0, "" };
	struct cy_httpc_opts o = { .on_data = sink_data, .on_data_arg = &k };
	struct cy_error err = CY_ERROR_INIT;
	char url[128];

	xsnprintf(url, sizeof(url), "%s/v1/stream?n=6", b);
	ok(cy_httpc_request("GET", url, NULL, 0, &o, &r, &err) == 0, "%s: stream request: %s", what,
	    err.msg);
	is_int(r.status, 200, "stream status");
	is_int(k.status, 200, "status known to on_data");
	is_str(k.ctype, "text/event-stream", "content type known to on_data");
	ok(k.calls >= 3, "%s: the body came in pieces (%d)", what, k.calls);
	ok(strstr(k.all.buf, "data: chunk 0\n\n") && strstr(k.all.buf, "data: chunk 5\n\n"),
	    "%s: whole stream arrived", what);
	is_int(r.body.len, 0, "nothing collected in resp->body");
	wait_flag(&last_prod.done);
	is_int(last_prod.hook_fired, 0, "on_gone not called for a completed stream");

	/* The client leaves after one piece: the producer learns it. */
	cy_buf_reset(&k.all);
	k.calls = 0;
	k.stop_after = 1;
	xsnprintf(url, sizeof(url), "%s/v1/stream?n=-1", b);
	ok(cy_httpc_request("GET", url, NULL, 0, &o, &r, &err) == -1, "%s: receiver stops", what);
	is_int(err.code, ECANCELED, "ECANCELED");
	wait_flag(&last_prod.done);
	ok(last_prod.done, "%s: producer ended after the client left", what);
	ok(last_prod.saw_gone, "%s: producer's write failed once the client was gone", what);
	ok(last_prod.hook_fired, "%s: on_gone fired", what);
	ok(last_prod.written < 400, "%s: producer stopped early (%d writes)", what,
	    last_prod.written);
	cy_buf_release(&k.all);
	cy_httpc_resp_release(&r);
}

static void
test_stream_pool(void)
{
	stream_checks(base, "thread pool");
}

static void
test_stream_per_conn(void)
{
	struct cy_httpd_config cfg = {
		.name = "streamtest",
		.host = "127.0.0.1",
		.routes = routes,
		.nroutes = sizeof(routes) / sizeof(routes[0]),
		.threads = 0,
	};
	struct cy_error err = CY_ERROR_INIT;
	struct cy_httpd *d = cy_httpd_start(&cfg, &err);
	char b[64];

	ok(d != NULL, "thread-per-connection daemon starts: %s", err.msg);
	if (!d)
		return;
	xsnprintf(b, sizeof(b), "http://127.0.0.1:%u", cy_httpd_port(d));
	stream_checks(b, "thread per connection");
	cy_httpd_stop(d);
}

/* Stopping a daemon with a stream parked for data neither hangs nor crashes. */
static void *
stop_client(void *arg)
{
	struct cy_httpc_resp r = CY_HTTPC_RESP_INIT;
	struct cy_httpc_opts o = { .timeout_ms = 10000 };
	struct cy_error err = CY_ERROR_INIT;

	cy_httpc_request("GET", arg, NULL, 0, &o, &r, &err);
	cy_httpc_resp_release(&r);
	cy_httpc_thread_cleanup();
	return NULL;
}

static void
test_stream_stop(void)
{
	struct cy_httpd_config cfg = {
		.name = "stoptest",
		.host = "127.0.0.1",
		.routes = routes,
		.nroutes = sizeof(routes) / sizeof(routes[0]),
		.threads = 2,
	};
	struct cy_error err = CY_ERROR_INIT;
	struct cy_httpd *d = cy_httpd_start(&cfg, &err);
	char url[128];
	pthread_t t;

	ok(d != NULL, "daemon starts: %s", err.msg);
	if (!d)
		return;
	/* n=0 writes nothing and closes at once; n=-1 keeps writing: use a
	 * slow stream and stop the daemon while it is parked between writes. */
	xsnprintf(url, sizeof(url), "http://127.0.0.1:%u/v1/stream?n=-1", cy_httpd_port(d));
	pthread_create(&t, NULL, stop_client, url);
	usleep(100000);
	cy_httpd_stop(d);
	wait_flag(&last_prod.done);
	ok(last_prod.done, "producer ended after the daemon stopped");
	pthread_join(t, NULL);
}

/*
 * Relays (lib/relay.c): a front daemon (thread per connection, like the
 * node's Worker API) relays /front?n=N to this file's /v1/stream and
 * /v1/echo on the main daemon.
 */
static void
front_fail(struct cy_http_resp *resp, int status, const char *msg)
{
	(void)status;
	cy_resp_problem(resp, CY_PROBLEM_UNAVAILABLE, "%s", msg);
}

static void
h_front(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	struct cy_relay_spec spec = { 0 };
	struct cy_relay *rel;
	const char *n = cy_req_query(req, "n");
	char url[128];

	if (n)
		xsnprintf(url, sizeof(url), "%s/v1/stream?n=%s", base, n);
	else
		xsnprintf(url, sizeof(url), "%s/v1/echo", base);
	spec.method = n ? "GET" : "POST";
	spec.url = url;
	spec.body = n ? NULL : req->body;
	spec.body_len = n ? 0 : req->body_len;
	spec.timeout_ms = 20000;
	spec.max_body = 1 << 20;
	spec.want_stream = cy_relay_want_stream;
	spec.abort_on_cut = true;
	rel = cy_relay_start(&spec, &err);
	if (!rel)
		return cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "%s", err.msg);
	cy_relay_respond(rel, resp, front_fail, "the upstream");
}

static void
test_relay(void)
{
	static const struct cy_route front_routes[] = {
		{ .method = "GET", .pattern = "/front", .handler = h_front },
		{ .method = "POST", .pattern = "/front", .body_limit = 1024, .handler = h_front },
	};
	struct cy_httpd_config cfg = {
		.name = "front",
		.host = "127.0.0.1",
		.routes = front_routes,
		.nroutes = 2,
		.threads = 0,
	};
	struct cy_httpc_resp r = CY_HTTPC_RESP_INIT;
	struct sink k = { 0, CY_BUF_INIT, 0, 0, "" };
	struct cy_httpc_opts o = { .on_data = sink_data, .on_data_arg = &k };
	struct cy_error err = CY_ERROR_INIT;
	struct cy_httpd *d = cy_httpd_start(&cfg, &err);
	char url[128];

	ok(d != NULL, "front daemon starts: %s", err.msg);
	if (!d)
		return;
	xsnprintf(url, sizeof(url), "http://127.0.0.1:%u/front", cy_httpd_port(d));
	ok(cy_httpc_request("POST", url, "{\"x\":1}", 7, NULL, &r, &err) == 0, "whole: %s",
	    err.msg);
	is_int(r.status, 201, "whole answer: the upstream's status");
	is_str(r.body.buf, "{\"x\":1}", "whole answer: the upstream's body");

	xsnprintf(url, sizeof(url), "http://127.0.0.1:%u/front?n=5", cy_httpd_port(d));
	ok(cy_httpc_request("GET", url, NULL, 0, &o, &r, &err) == 0, "streamed: %s", err.msg);
	ok(k.calls >= 3, "streamed relay: the body came in pieces (%d)", k.calls);
	ok(strstr(k.all.buf, "data: chunk 4\n\n") != NULL, "streamed relay: all of it");
	wait_flag(&last_prod.done);

	/* The client leaves: the relay stops the upstream, whose producer learns it. */
	cy_buf_reset(&k.all);
	k.calls = 0;
	k.stop_after = 1;
	xsnprintf(url, sizeof(url), "http://127.0.0.1:%u/front?n=-1", cy_httpd_port(d));
	ok(cy_httpc_request("GET", url, NULL, 0, &o, &r, &err) == -1, "client stops");
	wait_flag(&last_prod.done);
	ok(last_prod.done && last_prod.saw_gone, "the upstream's producer saw its client go");
	ok(last_prod.written < 400, "and stopped early (%d writes)", last_prod.written);
	cy_buf_release(&k.all);
	cy_httpc_resp_release(&r);
	cy_httpd_stop(d);
}

/* A handler that outlasts the idle timeout still gets its answer out. */
static void
test_slow_thread_per_conn(void)
{
	struct cy_httpd_config cfg = {
		.name = "slowtest",
		.host = "localhost",
		.routes = routes,
		.nroutes = sizeof(routes) / sizeof(routes[0]),
		.threads = 0,
		.conn_timeout_s = 1,
	};
	struct cy_httpc_resp r = CY_HTTPC_RESP_INIT;
	struct cy_error err = CY_ERROR_INIT;
	struct cy_httpd *d = cy_httpd_start(&cfg, &err);
	char url[128];

	ok(d != NULL, "thread-per-connection daemon starts: %s", err.msg);
	if (!d)
		return;
	xsnprintf(url, sizeof(url), "http://127.0.0.1:%u/v1/slow", cy_httpd_port(d));
	ok(cy_httpc_request("GET", url, NULL, 0, NULL, &r, &err) == 0, "slow request: %s", err.msg);
	is_int(r.status, 200, "slow 200");
	is_str(r.body.buf, "slow", "slow body");
	is_int(r.retry_after, 7, "Retry-After parsed");
	cy_httpc_resp_release(&r);
	cy_httpd_stop(d);
}

static void
test_bind_errors(void)
{
	struct cy_httpd_config cfg = {
		.name = "dup",
		.host = "127.0.0.1",
		.routes = routes,
		.nroutes = 1,
		.threads = 1,
	};
	struct cy_error err = CY_ERROR_INIT;
	struct cy_httpd *d;

	cfg.port = (unsigned)atol(strrchr(base, ':') + 1);
	d = cy_httpd_start(&cfg, &err);
	ok(d == NULL, "port in use fails");
	ok(err.msg[0] != '\0', "bind error message: %s", err.msg);
	cy_httpd_stop(d);
	cfg.host = "no.such.host.invalid";
	cfg.port = 0;
	d = cy_httpd_start(&cfg, &err);
	ok(d == NULL, "bad host fails: %s", err.msg);
	cy_httpd_stop(d);
	cfg.host = "::1";
	cy_error_clear(&err);
	d = cy_httpd_start(&cfg, &err);
	ok(d == NULL || cy_httpd_port(d) > 0, "IPv6 loopback (or no IPv6): %s", err.msg);
	cy_httpd_stop(d);
}

int
main(void)
{
	struct cy_httpd_config cfg = {
		.name = "test",
		.host = "127.0.0.1",
		.port = 0,
		.routes = routes,
		.nroutes = sizeof(routes) / sizeof(routes[0]),
		.threads = 4,
		.conn_timeout_s = 10,
		.authenticate = fake_auth,
		.auth_free = free,
		.ready = not_ready,
	};
	struct cy_error err = CY_ERROR_INIT;
	struct cy_httpd *d = cy_httpd_start(&cfg, &err);

	if (!d) {
		printf("# cy_httpd_start: %s\n", err.msg);
		tap_skip_all("cannot start a server on 127.0.0.1");
	}
	ok(cy_httpd_port(d) > 0, "bound port %u", cy_httpd_port(d));
	xsnprintf(base, sizeof(base), "http://127.0.0.1:%u", cy_httpd_port(d));

	RUN_TEST(test_routes);
	RUN_TEST(test_bodies);
	RUN_TEST(test_stream_bodies);
	RUN_TEST(test_reader);
	RUN_TEST(test_auth_health);
	RUN_TEST(test_client);
	RUN_TEST(test_slow_thread_per_conn);
	RUN_TEST(test_bind_errors);
	RUN_TEST(test_stream_pool);
	RUN_TEST(test_stream_per_conn);
	RUN_TEST(test_stream_stop);
	RUN_TEST(test_relay);

	cy_httpd_stop(d);
	cy_httpc_thread_cleanup();
	return tap_done();
}
