/*
 * Tests for lib/httpd.c and lib/httpc.c: a real cy_httpd on 127.0.0.1 with
 * an ephemeral port, driven by cy_httpc_request over real HTTP.  Covers
 * routing (params, 404, 405 + Allow), body limits (413), JSON body errors
 * (400), the auth hook, the health endpoints, and the client's response cap,
 * timeout and connection-refused errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "httpc.h"
#include "httpd.h"
#include "tap.h"
#include "banned.h"

static char base[64];

static void
h_item(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const char *q = cy_req_query(req, "q");

	cy_resp_json(resp, 200, json_pack("{s:s, s:s, s:s, s:I}", "id", req->params[0],
		"q", q ? q : "", "ip", req->client_ip, "n", (json_int_t)req->nparams));
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

static const struct cy_route routes[] = {
	{ "GET", "/v1/items/{id}", 0, 0, h_item },
	{ "DELETE", "/v1/items/{id}", 0, 0, h_delete },
	{ "GET", "/v1/a/{x}/b/{y}", 0, 0, h_two },
	{ "POST", "/v1/echo", 0, 1024, h_echo },
	{ "GET", "/v1/secret", 1, 0, h_secret },
	{ "GET", "/v1/big", 0, 0, h_big },
	{ "GET", "/v1/nostatus", 0, 0, h_nostatus },
	{ "GET", "/v1/slow", 0, 0, h_slow },
};

static long
req(const char *method, const char *path, const char *body, const struct cy_httpc_opts *o,
	struct cy_httpc_resp *r)
{
	struct cy_error err = CY_ERROR_INIT;
	char url[256];

	snprintf(url, sizeof(url), "%s%s", base, path);
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
	snprintf(detail, sizeof(detail), "%s",
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
	snprintf(url, sizeof(url), "%s/v1/big", base);
	ok(cy_httpc_request("GET", url, NULL, 0, &cap, &r, &err) == -1, "capped request fails");
	is_int(err.code, EFBIG, "EFBIG");
	is_int(r.body.len, 0, "no partial body");

	snprintf(url, sizeof(url), "%s/v1/slow", base);
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
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/healthz", ntohs(sin.sin_port));
	ok(cy_httpc_request("GET", url, NULL, 0, NULL, &r, &err) == -1, "refused fails");
	is_int(err.code, ECONNREFUSED, "ECONNREFUSED");
	cy_httpc_resp_release(&r);
}

/* A handler that outlasts the idle timeout still gets its answer out. */
static void
test_slow_thread_per_conn(void)
{
	struct cy_httpd_config cfg = {
		.name = "slowtest", .host = "localhost", .routes = routes,
		.nroutes = sizeof(routes) / sizeof(routes[0]), .threads = 0,
		.conn_timeout_s = 1,
	};
	struct cy_httpc_resp r = CY_HTTPC_RESP_INIT;
	struct cy_error err = CY_ERROR_INIT;
	struct cy_httpd *d = cy_httpd_start(&cfg, &err);
	char url[128];

	ok(d != NULL, "thread-per-connection daemon starts: %s", err.msg);
	if (!d)
		return;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/v1/slow", cy_httpd_port(d));
	ok(cy_httpc_request("GET", url, NULL, 0, NULL, &r, &err) == 0, "slow request: %s",
		err.msg);
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
		.name = "dup", .host = "127.0.0.1", .routes = routes, .nroutes = 1,
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
		.name = "test", .host = "127.0.0.1", .port = 0, .routes = routes,
		.nroutes = sizeof(routes) / sizeof(routes[0]), .threads = 4,
		.conn_timeout_s = 10, .authenticate = fake_auth, .auth_free = free,
		.ready = not_ready,
	};
	struct cy_error err = CY_ERROR_INIT;
	struct cy_httpd *d = cy_httpd_start(&cfg, &err);

	if (!d) {
		printf("# cy_httpd_start: %s\n", err.msg);
		tap_skip_all("cannot start a server on 127.0.0.1");
	}
	ok(cy_httpd_port(d) > 0, "bound port %u", cy_httpd_port(d));
	snprintf(base, sizeof(base), "http://127.0.0.1:%u", cy_httpd_port(d));

	RUN_TEST(test_routes);
	RUN_TEST(test_bodies);
	RUN_TEST(test_auth_health);
	RUN_TEST(test_client);
	RUN_TEST(test_slow_thread_per_conn);
	RUN_TEST(test_bind_errors);

	cy_httpd_stop(d);
	cy_httpc_thread_cleanup();
	return tap_done();
}
