/*
 * The Worker API's inference relay (DESIGN.md 5a): POST
 * /v1/worker/inference/chat/completions, called by the gateway with this
 * node's bearer token, forwards an OpenAI chat completion to the backend
 * (its /v1/chat/completions: Ollama, llama.cpp's server and vLLM all speak
 * it) and streams the answer back as it comes.  The backend stays on
 * loopback; only the Worker API's token reaches it.  A gateway that goes
 * away (its client left) stops the backend's request.  Errors are
 * OpenAI-shaped: 404 for a model this node lacks, 503 when the backend is
 * not running, 504/502 when it fails.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "httpd.h"
#include "inference.h"
#include "json.h"
#include "log.h"
#include "node.h"
#include "openai.h"
#include "relay.h"
#include "banned.h"

#define ANSWER_MAX (32 * 1024 * 1024)
#define RELAY_TIMEOUT_MS (3600L * 1000) /* the gateway's own timeout is shorter */

static long long relays; /* chat completions relayed now, until their relay ends */

static void
relay_done(void *arg, const struct cy_relay_result *r)
{
	(void)arg;
	(void)r;
	__atomic_sub_fetch(&relays, 1, __ATOMIC_SEQ_CST);
}

void
worker_inference_chat(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct node *n = req->app;
	struct cy_error err = CY_ERROR_INIT;
	struct cy_relay_spec spec = { 0 };
	struct cy_relay *rel;
	long long limit = n->cfg.inf_max_concurrency;
	char base[512], model[256], *url;
	json_t *body;

	if (!(body = cy_req_json(req, resp)))
		return;
	if (!cy_json_str(body, "model") || !*cy_json_str(body, "model")) {
		json_decref(body);
		return cy_openai_fail(resp, 400, "model is required");
	}
	if (cy_snprintf(model, sizeof(model), "%s", cy_json_str(body, "model")) < 0) {
		json_decref(body);
		return cy_openai_fail(resp, 400, "model is longer than %zu bytes",
		    sizeof(model) - 1);
	}
	if (!node_inference_url(base, sizeof(base))) {
		cy_resp_header(resp, "Retry-After", "5");
		cy_openai_fail(resp, 503, "the inference backend of node %s is not running",
		    n->cfg.node_id);
		json_decref(body);
		return;
	}
	if (!node_inference_has_model(model)) {
		cy_openai_fail(resp, 404, "model '%s' is not on node %s", model, n->cfg.node_id);
		json_decref(body);
		return;
	}
	json_decref(body);
	if (__atomic_add_fetch(&relays, 1, __ATOMIC_SEQ_CST) > limit && limit > 0) {
		__atomic_sub_fetch(&relays, 1, __ATOMIC_SEQ_CST);
		cy_resp_header(resp, "Retry-After", "1");
		return cy_openai_fail(resp, 429,
		    "node %s is answering %lld inference requests "
		    "(inference.max_concurrency)",
		    n->cfg.node_id, limit);
	}
	url = xasprintf("%s/v1/chat/completions", base);
	spec.method = "POST";
	spec.url = url;
	spec.body = req->body;
	spec.body_len = req->body_len;
	spec.timeout_ms = RELAY_TIMEOUT_MS;
	spec.max_body = ANSWER_MAX;
	spec.want_stream = cy_relay_want_stream;
	spec.done = relay_done;
	spec.abort_on_cut = true;
	rel = cy_relay_start(&spec, &err);
	free(url);
	if (!rel) {
		__atomic_sub_fetch(&relays, 1, __ATOMIC_SEQ_CST);
		return cy_openai_fail(resp, 500, "%s", err.msg);
	}
	/* One thread per connection here: waiting blocks only this request. */
	cy_relay_respond(rel, resp, cy_openai_error, "the inference backend");
}
