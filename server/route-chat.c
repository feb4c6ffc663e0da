/*
 * The OpenAI-compatible endpoints of the user gateway (contract 2.1, issue
 * 12): GET /v1/models lists the models the fleet serves, and POST
 * /v1/chat/completions relays a completion to a node serving the model
 * (its Worker API POST /v1/worker/inference/chat/completions, with that
 * node's bearer token), streamed back as server-sent events when the
 * client asks for `stream: true`.  The server never talks to a backend.
 *
 * The relay (lib/relay.c) runs on a thread of its own while the request
 * is suspended; once the node answers, a streamed answer is passed on
 * event by event (the usage chunk the gateway asks for is dropped unless
 * the client asked for it too), a whole one is answered at once.  A
 * client that goes away stops the request to the node, which stops the
 * backend's.  Errors of these routes are never problem+json but OpenAI's
 * {"error":{message, type, param, code}} (lib/openai.c, the routes'
 * error_fn).  Token usage goes to inference_usage (usage.c).
 */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "auth.h"
#include "buf.h"
#include "dispatch.h"
#include "id.h"
#include "inference.h"
#include "json.h"
#include "log.h"
#include "node-tls.h"
#include "node-token.h"
#include "openai.h"
#include "relay.h"
#include "server.h"
#include "sse.h"
#include "banned.h"

#define MESSAGES_MAX 4096
#define ANSWER_MAX (32 * 1024 * 1024)
#define EVENT_MAX (4 * 1024 * 1024)

void
h_models_list(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	struct inf_fleet f;

	if (inference_fleet_load(&f, &err) < 0) {
		cy_log_error("models_list_failed", "error", err.msg, NULL);
		return cy_openai_fail(resp, 500, "cannot read the fleet");
	}
	cy_resp_json(resp, 200, inference_models_json(&f));
	inference_fleet_release(&f);
}

/* Chat completions relayed now, against inference.max_concurrent_requests. */
static long long chats_inflight;

/*
 * One relayed completion.  Two references: the request's (dropped by
 * state_free when the connection ends) and the relay's (dropped by its
 * done callback).  The last one records the usage and frees it.
 */
struct chat {
	pthread_mutex_t lock;
	int refs;
	struct chat *prev, *next; /* chats_live, while the request lives */
	struct cy_relay *relay;
	struct cy_http_suspension *susp;
	char fail[256]; /* the relay could not start */
	char user_id[37];
	char node_id[37];
	char node_slug[64];
	char *model;
	bool stream;
	bool client_usage; /* the client asked for the usage chunk */
	/* Streamed answers, on the relay thread. */
	struct cy_sse sse;
	bool saw_done;
	bool saw_error;
	long long prompt_tokens, completion_tokens;
	bool have_usage;
};

/*
 * The completions whose request lives, so that shutdown can resume the
 * suspended ones (libmicrohttpd refuses to stop with a connection
 * suspended) before the listeners stop.
 */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct chat *chats_live;
static bool chats_stopping;

static void
chat_live_add(struct chat *c)
{
	pthread_mutex_lock(&live_lock);
	c->next = chats_live;
	if (chats_live)
		chats_live->prev = c;
	chats_live = c;
	pthread_mutex_unlock(&live_lock);
}

static void
chat_live_del(struct chat *c)
{
	pthread_mutex_lock(&live_lock);
	if (c->prev)
		c->prev->next = c->next;
	else if (chats_live == c)
		chats_live = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	pthread_mutex_unlock(&live_lock);
}

void
chat_stop_all(void)
{
	struct chat *c;

	pthread_mutex_lock(&live_lock);
	chats_stopping = true;
	for (c = chats_live; c; c = c->next)
		cy_http_resume(c->susp);
	pthread_mutex_unlock(&live_lock);
}

static void
chat_unref(struct chat *c)
{
	int left;

	pthread_mutex_lock(&c->lock);
	left = --c->refs;
	pthread_mutex_unlock(&c->lock);
	if (left > 0)
		return;
	if (c->have_usage && c->model)
		usage_record(c->user_id, c->model, c->node_id, c->prompt_tokens,
		    c->completion_tokens);
	if (c->node_id[0])
		inference_node_busy(c->node_id, -1);
	__atomic_sub_fetch(&chats_inflight, 1, __ATOMIC_SEQ_CST);
	cy_sse_release(&c->sse);
	free(c->model);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* state_free of the request. */
static void
chat_state_free(void *p)
{
	struct chat *c = p;

	chat_live_del(c);
	cy_relay_release(c->relay);
	c->relay = NULL;
	chat_unref(c);
}

/* The usage object of a completion or chunk, if it has one. */
static void
chat_usage(struct chat *c, const json_t *o)
{
	json_t *u = json_object_get(o, "usage");
	json_t *pt = json_object_get(u, "prompt_tokens"),
	       *ct = json_object_get(u, "completion_tokens");

	if (!json_is_object(u))
		return;
	c->prompt_tokens =
	    json_is_integer(pt) && json_integer_value(pt) > 0 ? json_integer_value(pt) : 0;
	c->completion_tokens =
	    json_is_integer(ct) && json_integer_value(ct) > 0 ? json_integer_value(ct) : 0;
	c->have_usage = true;
}

struct chat_sink {
	struct chat *c;
	struct cy_http_stream *out;
};

/* One event of the node's stream: noted, then passed on (or dropped). */
static int
chat_event(void *arg, const char *event, const char *data, size_t len)
{
	struct chat_sink *s = arg;
	struct chat *c = s->c;
	struct cy_buf ev = CY_BUF_INIT;
	json_t *o;
	int rc;

	if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
		c->saw_done = true;
	} else if ((o = json_loadb(data, len, 0, NULL)) != NULL) {
		json_t *ch = json_object_get(o, "choices");

		if (json_object_get(o, "error"))
			c->saw_error = true;
		chat_usage(c, o);
		/* The usage-only chunk the gateway asked for itself. */
		if (!c->client_usage && json_is_array(ch) && json_array_size(ch) == 0 &&
		    json_object_get(o, "usage")) {
			json_decref(o);
			return 0;
		}
		json_decref(o);
	}
	if (strcmp(event, "message"))
		cy_buf_addf(&ev, "event: %s\n", event);
	cy_buf_addstr(&ev, "data: ");
	/* A multi-line data field goes out as several data lines. */
	{
		size_t i, start = 0;

		for (i = 0; i <= len; i++) {
			if (i == len || data[i] == '\n') {
				cy_buf_add(&ev, data + start, i - start);
				cy_buf_addstr(&ev, i == len ? "\n\n" : "\ndata: ");
				start = i + 1;
			}
		}
	}
	rc = cy_http_stream_write(s->out, ev.buf, ev.len);
	cy_buf_release(&ev);
	return rc;
}

/* The relay's filter: parses the node's event stream, writes what goes on. */
static int
chat_filter(void *arg, struct cy_http_stream *out, const char *data, size_t len,
    const struct cy_relay_result *r)
{
	struct chat *c = arg;
	struct chat_sink s = { .c = c, .out = out };
	int rc;

	c->sse.arg = &s;
	if (data)
		return cy_sse_feed(&c->sse, data, len) == 0 ? 0 : -1;
	/* The end: a stream cut before [DONE] says so to the client. */
	if (!c->saw_done && !c->saw_error && !r->client_gone) {
		char msg[1024];
		json_t *e;
		char *js;

		cy_snprintf_clip(msg, sizeof(msg), "the reply from node %s ended early: %s",
		    c->node_slug, r->rc < 0 ? r->err.msg : "no [DONE]");
		e = cy_openai_error_json(r->rc < 0 && r->err.code == ETIMEDOUT ? 504 : 502, msg);
		js = e ? cy_json_dump(e) : NULL;
		if (js) {
			cy_http_stream_write(out, "data: ", 6);
			cy_http_stream_write(out, js, strlen(js));
			cy_http_stream_write(out, "\n\n", 2);
		}
		free(js);
		json_decref(e);
		cy_log_warn("chat_stream_cut", "node", c->node_slug, "model", c->model, "error",
		    msg, NULL);
	}
	rc = 0;
	return rc;
}

/* The relay's done callback (relay thread): usage of a whole answer. */
static void
chat_done(void *arg, const struct cy_relay_result *r)
{
	struct chat *c = arg;

	if (r->rc == 0 && !r->streamed && r->status == 200) {
		json_t *o = json_loadb(r->body.buf, r->body.len, 0, NULL);

		chat_usage(c, o);
		json_decref(o);
	}
	if (r->client_gone)
		cy_log_info("chat_client_gone", "node", c->node_slug, "model", c->model, NULL);
	chat_unref(c);
}

static void
chat_wake(void *arg)
{
	struct chat *c = arg;

	cy_http_resume(c->susp);
}

static const char *const chat_roles[] = { "system", "user", "assistant", "tool", "developer",
	NULL };

/* A message: its role; content is checked by chat_check. */
/* clang-format off */
static const struct cy_jcheck chat_message = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "role", .type = CY_JC_STRING, .required = true, .choices = chat_roles },
		{ .name = "content", .type = CY_JC_ANY }),
	.open = true,
};

/*
 * POST /v1/chat/completions: the parts of an OpenAI chat request the
 * gateway reads.  Open: the many optional fields OpenAI clients send
 * (temperature, tools, ...) go on to the node and its backend.
 */
const struct cy_jcheck chat_completions_body = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "model", .type = CY_JC_STRING, .null_ok = true,
		  .valid = cy_model_name_valid, .shape = INFERENCE_MODEL_SHAPE },
		{ .name = "messages", .type = CY_JC_ARRAY, .required = true, .min = 1,
		  .max = MESSAGES_MAX,
		  .item = &(const struct cy_jcheck_field){ .type = CY_JC_OBJECT,
			.sub = &chat_message } },
		{ .name = "stream", .type = CY_JC_BOOL, .null_ok = true },
		{ .name = "stream_options", .type = CY_JC_OBJECT, .null_ok = true }),
	.open = true,
};
/* clang-format on */

/*
 * Reads a chat request (checked by chat_completions_body) and checks the
 * messages' content, a string or an array of parts; 0 or -1 (resp filled).
 */
static int
chat_check(const json_t *body, const char **model, bool *stream, struct cy_http_resp *resp)
{
	json_t *m, *v;
	size_t i;

	*model = cy_json_str(body, "model");
	*stream = cy_json_bool(body, "stream", false);
	json_array_foreach(json_object_get(body, "messages"), i, m) {
		v = json_object_get(m, "content");
		if (v && !json_is_string(v) && !json_is_array(v) && !json_is_null(v)) {
			cy_openai_fail(resp, 400,
			    "messages[%zu].content must be a string or an "
			    "array of parts",
			    i);
			return -1;
		}
	}
	return 0;
}

/*
 * The node for a completion of `asked` (NULL: the default model): fills
 * model (the name the fleet lists) and returns the node, or NULL with resp
 * filled (503 no inference path, 404 unknown model).
 */
static const struct inf_node *
chat_place(const struct inf_fleet *f, const char *asked, const char **model,
    struct cy_http_resp *resp)
{
	const char *m = asked ? asked : inference_default_model(f);

	if (!m || f->n == 0) {
		cy_openai_fail(resp, 503,
		    "no inference path available: no dispatchable node has a "
		    "running inference backend with a model");
		return NULL;
	}
	if (!(*model = inference_fleet_resolve(f, m))) {
		cy_openai_fail(resp, 404,
		    "model '%s' is not served by any dispatchable node (GET "
		    "/v1/models lists them)",
		    m);
		return NULL;
	}
	return inference_pick_node(f, *model);
}

/* A new completion's state for node nd (two references: request and relay). */
static struct chat *
chat_new(const struct auth_ctx *a, const struct inf_node *nd, const char *model, const json_t *body,
    bool stream)
{
	struct chat *c = xcalloc(1, sizeof(*c));

	pthread_mutex_init(&c->lock, NULL);
	c->refs = 2;
	xsnprintf(c->user_id, sizeof(c->user_id), "%s", a->user_id);
	xsnprintf(c->node_id, sizeof(c->node_id), "%s", nd->id);
	xsnprintf(c->node_slug, sizeof(c->node_slug), "%s", nd->slug);
	c->model = xstrdup(model);
	c->stream = stream;
	c->client_usage =
	    json_is_true(json_object_get(json_object_get(body, "stream_options"), "include_usage"));
	cy_sse_init(&c->sse, EVENT_MAX, chat_event, NULL);
	inference_node_busy(nd->id, 1);
	return c;
}

/* The body the node gets: the resolved model, and usage asked for on a stream. */
static char *
chat_upstream_body(json_t *body, const char *model, bool stream)
{
	json_object_set_new(body, "model", json_string(model));
	if (stream) {
		json_t *so = json_object_get(body, "stream_options");

		if (!json_is_object(so))
			json_object_set_new(body, "stream_options", so = json_object());
		json_object_set_new(so, "include_usage", json_true());
	}
	return cy_json_dump(body);
}

/*
 * Suspends the request and starts the relay to the node with its token
 * (the caller wipes it).  A relay that cannot start is answered on the
 * rerun.
 */
static void
chat_start(struct cy_http_req *req, struct chat *c, const struct inf_node *nd, const char *token,
    const char *payload)
{
	struct cy_error err = CY_ERROR_INIT;
	struct cy_relay_spec spec = { 0 };
	char *url = dispatch_url_join(nd->target_url, "/v1/worker/inference/chat/completions");
	char tlsmsg[256];

	spec.method = "POST";
	spec.url = url;
	spec.body = payload;
	spec.body_len = strlen(payload);
	spec.bearer = token;
	spec.timeout_ms = srv.cfg.inference_timeout_s * 1000;
	spec.max_body = ANSWER_MAX;
	spec.want_stream = cy_relay_want_stream;
	spec.filter = chat_filter;
	spec.done = chat_done;
	spec.wake = chat_wake;
	spec.arg = c;
	req->state = c;
	req->state_free = chat_state_free;
	c->susp = cy_req_suspend(req);
	chat_live_add(c);
	if (node_tls_choose(url, nd->tls_pin, &spec.pinned_pubkey, &spec.ca_file, tlsmsg,
		sizeof(tlsmsg)) < 0)
		cy_error_set(&err, EPROTO, "%s", tlsmsg);
	else
		c->relay = cy_relay_start(&spec, &err);
	if (!c->relay) {
		/* The relay's reference is ours to drop; answer on the rerun. */
		cy_snprintf_clip(c->fail, sizeof(c->fail), "%s", err.msg);
		chat_unref(c);
		cy_http_resume(c->susp);
	} else {
		cy_log_debug("chat_relay", "node", nd->slug, "model", c->model, "stream",
		    c->stream ? "true" : "false", NULL);
	}
	free(url);
}

/*
 * First run of a completion: check it, choose model and node, start the
 * relay and suspend.  Returns with resp filled when it answers at once.
 */
static void
chat_begin(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	const struct inf_node *nd;
	const char *asked, *model = NULL;
	struct inf_fleet f;
	struct chat *c;
	char *token, *payload;
	bool stream;
	json_t *body;

	if (!(body = cy_req_json(req, resp)))
		return;
	if (chat_check(body, &asked, &stream, resp) < 0) {
		json_decref(body);
		return;
	}
	if (inference_fleet_load(&f, &err) < 0) {
		cy_log_error("chat_fleet_failed", "error", err.msg, NULL);
		json_decref(body);
		return cy_openai_fail(resp, 500, "cannot read the fleet");
	}
	if (!(nd = chat_place(&f, asked, &model, resp)))
		goto out;
	if (__atomic_add_fetch(&chats_inflight, 1, __ATOMIC_SEQ_CST) >
	    srv.cfg.inference_max_requests) {
		__atomic_sub_fetch(&chats_inflight, 1, __ATOMIC_SEQ_CST);
		cy_resp_header(resp, "Retry-After", "1");
		cy_openai_fail(resp, 429,
		    "too many chat completions in flight (%lld, "
		    "inference.max_concurrent_requests)",
		    srv.cfg.inference_max_requests);
		goto out;
	}
	if (!(token = node_token_open(nd->token_sealed, &err))) {
		__atomic_sub_fetch(&chats_inflight, 1, __ATOMIC_SEQ_CST);
		cy_log_error("chat_token_failed", "node", nd->slug, "error", err.msg, NULL);
		cy_openai_fail(resp, 500, "cannot use node %s's credentials", nd->slug);
		goto out;
	}
	c = chat_new(req->auth, nd, model, body, stream);
	payload = chat_upstream_body(body, model, stream);
	chat_start(req, c, nd, token, payload);
	explicit_bzero(token, strlen(token));
	free(token);
	free(payload);
out:
	inference_fleet_release(&f);
	json_decref(body);
}

/* The node's answer was not a stream: pass it on, or say what failed. */
static void
chat_answer(struct chat *c, const struct cy_relay_result *r, struct cy_http_resp *resp)
{
	json_t *o;

	if (r->rc < 0) {
		int st = r->err.code == ETIMEDOUT ? 504 : r->err.code == ECONNREFUSED ? 503 : 502;

		cy_log_warn("chat_relay_failed", "node", c->node_slug, "model", c->model, "error",
		    r->err.msg, NULL);
		return cy_openai_fail(resp, st, "node %s: %s", c->node_slug,
		    r->err.code == ETIMEDOUT ?
			"the model did not answer in time (inference.request_timeout)" :
		    r->err.code == ECONNREFUSED ? "cannot reach the node" :
						  "the reply could not be read");
	}
	o = json_loadb(r->body.buf, r->body.len, 0, NULL);
	if (r->status == 200 && json_is_object(o)) {
		cy_resp_json(resp, 200, o);
		return;
	}
	if (r->status >= 400 && r->status < 500 && json_is_object(json_object_get(o, "error"))) {
		/* The node's own OpenAI-shaped refusal (unknown model, bad request). */
		cy_resp_json(resp, (int)r->status, o);
		return;
	}
	{
		const char *msg = cy_json_path_str(o, "error.message");

		cy_log_warn("chat_node_error", "node", c->node_slug, "model", c->model, "error",
		    msg ? msg : "unreadable answer", NULL);
		cy_openai_fail(resp,
		    r->status == 503 ? 503 :
		    r->status == 504 ? 504 :
				       502,
		    "node %s: %s", c->node_slug,
		    msg              ? msg :
		    r->status == 200 ? "the answer is not a chat completion" :
				       "the inference backend failed");
	}
	json_decref(o);
}

void
h_chat_completions(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct chat *c = req->state;
	struct cy_http_stream *st;

	if (!c)
		return chat_begin(req, resp);
	if (!c->relay)
		return cy_openai_fail(resp, 500, "cannot relay the request: %s", c->fail);
	switch (cy_relay_state(c->relay)) {
	case RELAY_PENDING:
		if (__atomic_load_n(&chats_stopping, __ATOMIC_SEQ_CST))
			return cy_openai_fail(resp, 503, "the server is shutting down");
		/* Not ready yet (a spurious wake-up): wait again. */
		c->susp = cy_req_suspend(req);
		if (cy_relay_state(c->relay) != RELAY_PENDING)
			cy_http_resume(c->susp);
		return;
	case RELAY_STREAM:
		st = cy_resp_stream(resp, 200, "text/event-stream");
		cy_resp_header(resp, "Cache-Control", "no-cache");
		cy_relay_attach(c->relay, st);
		return;
	case RELAY_DONE:
		chat_answer(c, cy_relay_result(c->relay), resp);
		return;
	}
}
