/*
 * The per-job inference socket (contract 5 "Inference proxy",
 * DESIGN.md 5a).  A job run with use_inference gets INFERENCE_PROXY_URL=
 * http+unix://%2Frun%2Fcynode%2Finference.sock and nothing else: the
 * socket lives in <staging_dir>/jobs/<job_id>/run/, which the sandbox runtime binds at
 * /run/cynode, and the node serves it with a small HTTP server of its own
 * (one per job).  The sandbox keeps no network; nothing listens on TCP for
 * it.
 *
 * Every request must come from the job's own processes: the peer's pid
 * (SO_PEERCRED) must descend from the process the runtime started for the
 * job, so another job (which cannot even see the socket) or a host process
 * that finds the path is refused with 403.  The Ollama API's inference
 * calls and the OpenAI-compatible ones are forwarded to the node's backend
 * (streamed answers streamed on); model management (pull, push, create,
 * copy, delete) is refused.  Limits per job: inference.max_request_bytes
 * per body (413), inference.request_timeout_seconds per request,
 * inference.max_concurrency connections at once.  The tokens each model
 * used are counted and go into the job's result as "inference_usage".
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "httpd.h"
#include "inference-proxy.h"
#include "inference.h"
#include "json.h"
#include "lines.h"
#include "log.h"
#include "node.h"
#include "openai.h"
#include "relay.h"
#include "sse.h"
#include "banned.h"

enum {
	PEER_AUTH = 1
};

#define ANSWER_MAX (32 * 1024 * 1024)
#define LINE_MAX_BYTES (4 * 1024 * 1024)
#define ANCESTRY_MAX 64
#define PROXY_MAX_CONNS_DEFAULT 4
#define RELAYS_MAX 64

struct inference_proxy {
	struct node *n;
	char job_id[137];
	char *dir; /* <staging_dir>/jobs/<job_id>/run */
	struct cy_httpd *httpd;
	pthread_mutex_t lock;
	pid_t root;    /* the job's first process; 0 until started */
	json_t *usage; /* model -> {requests, prompt_tokens, completion_tokens} */
	struct cy_relay *relays[RELAYS_MAX]; /* in flight, for stop */
	bool stopping;
};

/* --- who may call ------------------------------------------------------- */

bool
inference_proxy_descends(pid_t pid, pid_t root)
{
	int depth;

	for (depth = 0; depth < ANCESTRY_MAX && pid > 1; depth++) {
		char path[64], buf[512], *p;
		long long ppid;
		ssize_t len;
		int fd;

		if (pid == root)
			return true;
		xsnprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return false;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			return false;
		buf[len] = '\0';
		/* "pid (comm) state ppid ...": comm may hold spaces and ')'. */
		p = strrchr(buf, ')');
		if (!p || sscanf(p + 1, " %*c %lld", &ppid) != 1)
			return false;
		pid = (pid_t)ppid;
	}
	return pid == root;
}

static int
proxy_authenticate(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct inference_proxy *p = req->app;
	struct ucred cred = { 0, 0, 0 };
	socklen_t len = sizeof(cred);
	int fd = cy_req_socket(req);
	pid_t root;

	pthread_mutex_lock(&p->lock);
	root = p->root;
	pthread_mutex_unlock(&p->lock);
	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || root <= 0 ||
	    !inference_proxy_descends(cred.pid, root)) {
		char pid[24];

		xsnprintf(pid, sizeof(pid), "%d", fd >= 0 ? (int)cred.pid : -1);
		cy_log_warn("inference_proxy_denied", "job_id", p->job_id, "peer_pid", pid,
		    "reason", "not a process of this job", NULL);
		cy_resp_problem(resp, CY_PROBLEM_AUTHORIZATION,
		    "this socket serves job %s's "
		    "processes only",
		    p->job_id);
		return -1;
	}
	req->auth = NULL;
	return 0;
}

/* --- usage ---------------------------------------------------------------- */

static void
usage_add(struct inference_proxy *p, const char *model, long long requests, long long pt,
    long long ct)
{
	json_t *u;

	if (!model || !*model || strlen(model) > 256)
		return;
	pthread_mutex_lock(&p->lock);
	u = json_object_get(p->usage, model);
	if (!u && json_object_size(p->usage) < 64) {
		u = json_pack("{s:I, s:I, s:I}", "requests", (json_int_t)0, "prompt_tokens",
		    (json_int_t)0, "completion_tokens", (json_int_t)0);
		json_object_set_new(p->usage, model, u);
	}
	if (u) {
		json_object_set_new(u, "requests",
		    json_integer(json_integer_value(json_object_get(u, "requests")) + requests));
		json_object_set_new(u, "prompt_tokens",
		    json_integer(json_integer_value(json_object_get(u, "prompt_tokens")) + pt));
		json_object_set_new(u, "completion_tokens",
		    json_integer(json_integer_value(json_object_get(u, "completion_tokens")) + ct));
	}
	pthread_mutex_unlock(&p->lock);
}

static long long
num(const json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_integer(v) && json_integer_value(v) > 0 ? json_integer_value(v) : 0;
}

/* One request's answer as it passes: the tokens it reports. */
struct sniff {
	struct inference_proxy *p;
	char model[256];       /* from the request */
	struct cy_lines lines; /* NDJSON answers */
	struct cy_sse sse;     /* event-stream answers */
	bool sse_mode;
	struct cy_http_stream *out;
	long long pt, ct;
};

/* Tokens of one answer object: Ollama's counts, or OpenAI's usage. */
static void
sniff_object(struct sniff *s, const json_t *o)
{
	const json_t *u = json_object_get(o, "usage");
	const char *m = cy_json_str(o, "model");

	if (m && strlen(m) < sizeof(s->model))
		xsnprintf(s->model, sizeof(s->model), "%s", m);
	if (json_is_true(json_object_get(o, "done"))) {
		s->pt += num(o, "prompt_eval_count");
		s->ct += num(o, "eval_count");
	}
	if (json_is_object(u)) {
		s->pt += num(u, "prompt_tokens");
		s->ct += num(u, "completion_tokens");
	}
}

static int
sniff_line(void *arg, const char *line, size_t len)
{
	json_t *o = json_loadb(line, len, 0, NULL);

	if (o)
		sniff_object(arg, o);
	json_decref(o);
	return 0;
}

static int
sniff_event(void *arg, const char *event, const char *data, size_t len)
{
	return sniff_line(arg, data, len);
}

/* The relay's filter: the answer goes on unchanged and is read on the way. */
static int
sniff_filter(void *arg, struct cy_http_stream *out, const char *data, size_t len,
    const struct cy_relay_result *r)
{
	struct sniff *s = arg;

	if (!data)
		return 0;
	if (s->sse_mode)
		cy_sse_feed(&s->sse, data, len);
	else
		cy_lines_feed(&s->lines, data, len);
	return cy_http_stream_write(out, data, len);
}

static void
sniff_done(void *arg, const struct cy_relay_result *r)
{
	struct sniff *s = arg;

	if (r->rc == 0 && !r->streamed && r->status == 200) {
		json_t *o = json_loadb(r->body.buf, r->body.len, 0, NULL);

		if (o)
			sniff_object(s, o);
		json_decref(o);
	}
	if (r->rc == 0 && r->status == 200)
		usage_add(s->p, s->model, 1, s->pt, s->ct);
	cy_lines_release(&s->lines);
	cy_sse_release(&s->sse);
	free(s);
}

/* --- forwarding ------------------------------------------------------------ */

/* Ollama's error shape for the native routes. */
static void
ollama_error(struct cy_http_resp *resp, int status, const char *detail)
{
	json_t *e = json_pack("{s:s}", "error", detail);

	cy_resp_json(resp, status, e ? e : json_pack("{s:s}", "error", "error"));
}

static void
proxy_fail(struct cy_http_req *req, struct cy_http_resp *resp, int status, const char *msg)
{
	req->route->error_fn(resp, status, msg);
}

static int
relay_track(struct inference_proxy *p, struct cy_relay *r, bool add)
{
	int i, rc = -1;

	pthread_mutex_lock(&p->lock);
	for (i = 0; i < RELAYS_MAX; i++) {
		if (add && !p->relays[i] && !p->stopping) {
			p->relays[i] = r;
			rc = 0;
			break;
		}
		if (!add && p->relays[i] == r) {
			p->relays[i] = NULL;
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

static void
proxy_forward(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct inference_proxy *p = req->app;
	struct cy_error err = CY_ERROR_INIT;
	struct cy_relay_spec spec = { 0 };
	struct cy_relay *rel;
	struct sniff *s;
	char base[512], *url;

	if (!node_inference_url(base, sizeof(base)))
		return proxy_fail(req, resp, 503, "the node's inference backend is not running");
	s = xcalloc(1, sizeof(*s));
	s->p = p;
	if (req->body_len) {
		json_t *b = json_loadb(req->body, req->body_len, 0, NULL);
		const char *m = b ? cy_json_str(b, "model") : NULL;

		if (m && strlen(m) < sizeof(s->model))
			xsnprintf(s->model, sizeof(s->model), "%s", m);
		json_decref(b);
	}
	s->sse_mode = strncmp(req->path, "/v1/", 4) == 0;
	cy_lines_init(&s->lines, LINE_MAX_BYTES, sniff_line, s);
	cy_sse_init(&s->sse, LINE_MAX_BYTES, sniff_event, s);
	url = xasprintf("%s%s", base, req->path);
	spec.method = req->method;
	spec.url = url;
	spec.body = req->body_len ? req->body : NULL;
	spec.body_len = req->body_len;
	spec.timeout_ms = p->n->cfg.inf_request_timeout_s * 1000;
	spec.max_body = ANSWER_MAX;
	spec.want_stream = cy_relay_want_stream;
	spec.filter = sniff_filter;
	spec.done = sniff_done;
	spec.abort_on_cut = true;
	spec.arg = s;
	rel = cy_relay_start(&spec, &err);
	free(url);
	if (!rel) {
		cy_lines_release(&s->lines);
		cy_sse_release(&s->sse);
		free(s);
		return proxy_fail(req, resp, 500, err.msg);
	}
	if (relay_track(p, rel, true) < 0)
		cy_relay_cancel(rel);
	cy_relay_wait(rel);
	relay_track(p, rel, false);
	cy_relay_respond(rel, resp, req->route->error_fn, "the node's inference backend");
}

static void
proxy_refuse(struct cy_http_req *req, struct cy_http_resp *resp)
{
	proxy_fail(req, resp, 403, "model management is not allowed from a job");
}

#define FWD(m, path, err) \
	{ \
		.method = m, .pattern = path, .auth = PEER_AUTH, .handler = proxy_forward, \
		.error_fn = err \
	}
#define NO(m, path) \
	{ \
		.method = m, .pattern = path, .auth = PEER_AUTH, .handler = proxy_refuse, \
		.error_fn = ollama_error \
	}

/* Body limits are filled in per proxy (inference.max_request_bytes). */
static const struct cy_route proxy_routes_tmpl[] = {
	FWD("GET", "/api/version", ollama_error),
	FWD("GET", "/api/tags", ollama_error),
	FWD("GET", "/api/ps", ollama_error),
	FWD("POST", "/api/generate", ollama_error),
	FWD("POST", "/api/chat", ollama_error),
	FWD("POST", "/api/show", ollama_error),
	FWD("POST", "/api/embed", ollama_error),
	FWD("POST", "/api/embeddings", ollama_error),
	FWD("GET", "/v1/models", cy_openai_error),
	FWD("GET", "/v1/models/{id}", cy_openai_error),
	FWD("POST", "/v1/chat/completions", cy_openai_error),
	FWD("POST", "/v1/completions", cy_openai_error),
	FWD("POST", "/v1/embeddings", cy_openai_error),
	NO("POST", "/api/pull"),
	NO("POST", "/api/push"),
	NO("POST", "/api/create"),
	NO("POST", "/api/copy"),
	NO("DELETE", "/api/delete"),
};
#define PROXY_NROUTES (sizeof(proxy_routes_tmpl) / sizeof(proxy_routes_tmpl[0]))

static pthread_once_t routes_once = PTHREAD_ONCE_INIT;
static struct cy_route proxy_routes[PROXY_NROUTES];
static size_t routes_limit;

static void
routes_init(void)
{
	size_t i;

	for (i = 0; i < PROXY_NROUTES; i++) {
		proxy_routes[i] = proxy_routes_tmpl[i];
		if (!strcmp(proxy_routes[i].method, "POST") ||
		    !strcmp(proxy_routes[i].method, "DELETE"))
			proxy_routes[i].body_limit = routes_limit;
	}
}

/* --- lifecycle -------------------------------------------------------------- */

/* A listening Unix socket at dir/inference.sock (bound through /proc, so a
 * long mount root does not hit sun_path's 108 bytes). */
static int
proxy_listen(const char *dir, struct cy_error *err)
{
	struct sockaddr_un sa;
	int dfd, fd;

	dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0)
		return cy_error_errno(err, "opening '%s'", dir);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		close(dfd);
		return cy_error_errno(err, "socket");
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	xsnprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/inference.sock", dfd);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
		cy_error_errno(err, "binding the inference socket in '%s'", dir);
		close(fd);
		close(dfd);
		return -1;
	}
	/* The sandbox uid (root node) or the node's own uid may connect. */
	if (geteuid() == 0) {
		if (fchownat(dfd, "inference.sock", NODE_SANDBOX_UID, NODE_SANDBOX_UID, 0) < 0 ||
		    fchmodat(dfd, "inference.sock", 0600, 0) < 0) {
			cy_error_errno(err, "chown of the inference socket");
			close(fd);
			close(dfd);
			return -1;
		}
	}
	close(dfd);
	return fd;
}

struct inference_proxy *
inference_proxy_start(struct node *n, const char *job_id, const char *job_dir, struct cy_error *err)
{
	struct inference_proxy *p = xcalloc(1, sizeof(*p));
	struct cy_httpd_config hc = { 0 };
	int fd;

	p->n = n;
	xsnprintf(p->job_id, sizeof(p->job_id), "%s", job_id); /* validated: 128 at most */
	p->dir = xasprintf("%s/run", job_dir);
	p->usage = json_object();
	pthread_mutex_init(&p->lock, NULL);
	if (mkdir(p->dir, 0700) < 0 ||
	    (geteuid() == 0 && chown(p->dir, NODE_SANDBOX_UID, NODE_SANDBOX_UID) < 0)) {
		cy_error_errno(err, "creating '%s'", p->dir);
		goto fail;
	}
	if ((fd = proxy_listen(p->dir, err)) < 0)
		goto fail;
	routes_limit = (size_t)n->cfg.inf_max_request_bytes;
	pthread_once(&routes_once, routes_init);
	hc.name = "inference-proxy";
	hc.routes = proxy_routes;
	hc.nroutes = PROXY_NROUTES;
	hc.threads = 0;
	hc.has_listen_fd = true;
	hc.listen_fd = fd;
	hc.max_conns = n->cfg.inf_max_concurrency > 0 ? (unsigned)n->cfg.inf_max_concurrency :
							PROXY_MAX_CONNS_DEFAULT;
	hc.authenticate = proxy_authenticate;
	hc.app = p;
	p->httpd = cy_httpd_start(&hc, err);
	if (!p->httpd) {
		close(fd);
		goto fail;
	}
	return p;
fail:
	json_decref(p->usage);
	pthread_mutex_destroy(&p->lock);
	free(p->dir);
	free(p);
	return NULL;
}

const char *
inference_proxy_dir(const struct inference_proxy *p)
{
	return p->dir;
}

void
inference_proxy_started(void *arg, pid_t pid)
{
	struct inference_proxy *p = arg;

	pthread_mutex_lock(&p->lock);
	p->root = pid;
	pthread_mutex_unlock(&p->lock);
}

json_t *
inference_proxy_stop(struct inference_proxy *p)
{
	json_t *out = json_array(), *u;
	const char *model;
	int i;

	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	for (i = 0; i < RELAYS_MAX; i++)
		if (p->relays[i])
			cy_relay_cancel(p->relays[i]);
	pthread_mutex_unlock(&p->lock);
	cy_httpd_stop(p->httpd);
	{
		/* Nothing can connect to a job that is over. */
		char *sock = xasprintf("%s/inference.sock", p->dir);

		unlink(sock);
		free(sock);
	}
	json_object_foreach(p->usage, model, u) {
		json_object_set_new(u, "model", json_string(model));
		json_array_append(out, u);
	}
	json_decref(p->usage);
	pthread_mutex_destroy(&p->lock);
	free(p->dir);
	free(p);
	return out;
}
