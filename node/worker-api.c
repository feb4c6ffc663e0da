/*
 * The Worker API (contract 2.3): POST /v1/worker/jobs:run behind the
 * orchestrator's bearer token (compared in constant time), with a body
 * limit of min(worker_api.max_request_bytes, constraints.max_request_bytes),
 * plus /healthz and /readyz (503 with a reason until the node is
 * registered and configured, or when the sandbox runtime or mount root is
 * unusable).  One thread per connection: jobs block for their whole run.
 * Each result is saved in the state dir before the answer
 * (results.c redelivers it), and POST /v1/worker/jobs/{id}/cancel kills a
 * running job's sandbox.  A running job's output goes to the server as it
 * comes (joblog.h), not through this API.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "httpd.h"
#include "id.h"
#include "inference.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "node.h"
#include "openai.h"
#include "sandbox.h"
#include "strnum.h"
#include "telemetry.h"
#include "banned.h"

enum {
	WORKER_AUTH = 1,
	WORKER_METRICS = 2 /* worker_api.metrics_token_file's token */
};

/*
 * A connection the orchestrator left idle this long after an answer is
 * closed: each holds a thread, its stack and a 64 KiB request buffer, and
 * the dispatcher keeps as many open as it once had jobs in flight here.
 * Its next job opens a new one (a connect, and a TLS handshake with TLS).
 */
#define WORKER_KEEPALIVE_IDLE_S 10

static void worker_jobs_run(struct cy_http_req *req, struct cy_http_resp *resp);
static void worker_jobs_cancel(struct cy_http_req *req, struct cy_http_resp *resp);
static void worker_metrics(struct cy_http_req *req, struct cy_http_resp *resp);

/*
 * The routes (api/openapi-worker.json documents them; cynode-node --routes
 * prints them).  The limits of jobs:run and the chat completions come from
 * the configuration when the API starts.
 */
static struct cy_route worker_routes[] = {
	{ .method = "POST",
	    .pattern = "/v1/worker/jobs:run",
	    .auth = WORKER_AUTH,
	    .handler = worker_jobs_run },
	{ .method = "POST",
	    .pattern = "/v1/worker/jobs/{id}/cancel",
	    .auth = WORKER_AUTH,
	    .body_limit = 4096,
	    .handler = worker_jobs_cancel },
	/* The gateway's chat completions, OpenAI-shaped errors. */
	{ .method = "POST",
	    .pattern = "/v1/worker/inference/chat/completions",
	    .auth = WORKER_AUTH,
	    .handler = worker_inference_chat,
	    .error_fn = cy_openai_error },
	{ .method = "GET",
	    .pattern = "/metrics",
	    .auth = WORKER_METRICS,
	    .handler = worker_metrics },
	/* The node's telemetry store (telemetry-api.c). */
	{ .method = "GET",
	    .pattern = "/v1/worker/telemetry/node:info",
	    .auth = WORKER_AUTH,
	    .handler = worker_telemetry_info },
	{ .method = "GET",
	    .pattern = "/v1/worker/telemetry/node:stats",
	    .auth = WORKER_AUTH,
	    .handler = worker_telemetry_stats },
	{ .method = "GET",
	    .pattern = "/v1/worker/telemetry/containers",
	    .auth = WORKER_AUTH,
	    .handler = worker_telemetry_containers },
	{ .method = "GET",
	    .pattern = "/v1/worker/telemetry/containers/{id}",
	    .auth = WORKER_AUTH,
	    .handler = worker_telemetry_container },
	{ .method = "GET",
	    .pattern = "/v1/worker/telemetry/logs",
	    .auth = WORKER_AUTH,
	    .handler = worker_telemetry_logs },
};

void
worker_routes_print(FILE *f)
{
	size_t i;

	fputs("listener\tmethod\tpattern\tauth\n", f);
	for (i = 0; i < sizeof(worker_routes) / sizeof(worker_routes[0]); i++)
		fprintf(f, "worker\t%s\t%s\t%s\n", worker_routes[i].method,
		    worker_routes[i].pattern,
		    worker_routes[i].auth == WORKER_METRICS ? "metrics_token" : "worker_bearer");
}

static int
worker_authenticate(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct node *n = req->app;
	const char *tok = cy_req_bearer(req);
	time_t expires;
	bool good;

	if (req->route->auth == WORKER_METRICS) {
		if (!n->cfg.metrics_token) {
			cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND,
			    "no /metrics: set worker_api.metrics_token_file");
			return -1;
		}
		if (!tok || !cy_streq_ct(tok, n->cfg.metrics_token)) {
			cy_log_warn("metrics_auth_denied", "client", req->client_ip, NULL);
			cy_resp_problem(resp, CY_PROBLEM_AUTHENTICATION, "invalid metrics token");
			return -1;
		}
		req->auth = n;
		return 0;
	}
	if (!tok || !*tok) {
		cy_resp_problem(resp, CY_PROBLEM_AUTHENTICATION, "missing bearer token");
		return -1;
	}
	/* A config push swaps the token under the node lock. */
	pthread_mutex_lock(&n->lock);
	good = n->config_applied && n->applied.bearer_token &&
	       cy_streq_ct(tok, n->applied.bearer_token);
	expires = n->applied.token_expires_at;
	pthread_mutex_unlock(&n->lock);
	if (!good) {
		cy_log_warn("worker_auth_denied", "client", req->client_ip, NULL);
		cy_resp_problem(resp, CY_PROBLEM_AUTHENTICATION, "invalid bearer token");
		return -1;
	}
	if (expires && time(NULL) >= expires) {
		cy_resp_problem(resp, CY_PROBLEM_AUTHENTICATION, "bearer token expired");
		return -1;
	}
	req->auth = n;
	return 0;
}

/*
 * Runs the job; its result is saved in the state dir before the answer, so
 * a server that dies meanwhile gets it from the sync thread.
 */
static void
worker_jobs_run(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct node *n = req->app;
	struct cy_buf detail = CY_BUF_INIT;
	enum cy_problem prob = CY_PROBLEM_INTERNAL;
	char job_id[137] = "", lease_id[64] = "", task_id[137] = "";
	time_t started;
	json_t *out, *in;

	in = json_loadb(req->body, req->body_len, 0, NULL);
	/* A longer job id is no valid one: worker_run_job refuses it. */
	if (json_is_string(json_object_get(in, "job_id")) &&
	    cy_snprintf(job_id, sizeof(job_id), "%s",
		json_string_value(json_object_get(in, "job_id"))) < 0)
		job_id[0] = '\0';
	if (json_is_string(json_object_get(in, "lease_id")) &&
	    cy_snprintf(lease_id, sizeof(lease_id), "%s",
		json_string_value(json_object_get(in, "lease_id"))) < 0) {
		json_decref(in);
		cy_buf_release(&detail);
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "lease_id is longer than %zu bytes", sizeof(lease_id) - 1);
	}
	if (json_is_string(json_object_get(in, "task_id")) &&
	    cy_snprintf(task_id, sizeof(task_id), "%s",
		json_string_value(json_object_get(in, "task_id"))) < 0)
		task_id[0] = '\0';
	json_decref(in);
	started = time(NULL);
	if (job_id[0]) {
		node_job_begin(job_id);
		node_telemetry_job(job_id, task_id[0] ? task_id : NULL, "running", started, 0, NULL,
		    NULL);
		node_telemetry_event("job", "info", "job_started", "job started",
		    task_id[0] ? task_id : NULL, job_id);
	}
	if (worker_run_job(n, req->body, req->body_len, &out, &prob, &detail) == 0) {
		const char *jid = json_string_value(json_object_get(out, "job_id"));
		const char *st = json_string_value(json_object_get(out, "status"));

		if (jid) {
			node_result_save(n, jid, lease_id[0] ? lease_id : NULL, out);
			node_telemetry_job(jid, task_id[0] ? task_id : NULL, st ? st : "unknown",
			    started, time(NULL), json_object_get(out, "exit_code"), NULL);
			node_telemetry_event("job", "info", "job_finished", st ? st : "finished",
			    task_id[0] ? task_id : NULL, jid);
		}
		cy_resp_json(resp, 200, out);
	} else {
		if (job_id[0]) {
			node_telemetry_job(job_id, task_id[0] ? task_id : NULL, "refused", started,
			    time(NULL), NULL, detail.buf);
			node_telemetry_event("job", "warn", "job_refused", detail.buf,
			    task_id[0] ? task_id : NULL, job_id);
		}
		if (prob == CY_PROBLEM_UNAVAILABLE)
			cy_resp_header(resp, "Retry-After", "5");
		cy_resp_problem(resp, prob, "%s", detail.buf);
	}
	if (job_id[0])
		node_job_end(job_id);
	cy_buf_release(&detail);
}

/* POST /v1/worker/jobs/{id}/cancel: kills the job's sandbox. */
static void
worker_jobs_cancel(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const char *id = req->params[0];

	if (cy_req_no_params(req, resp) < 0)
		return;
	if (node_job_cancel(req->app, id) == 0) {
		cy_log_info("job_canceled_by_server", "job_id", id, NULL);
		cy_resp_json(resp, 200, json_pack("{s:s, s:b}", "job_id", id, "canceled", 1));
	} else {
		cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "job '%s' is not running here", id);
	}
}

static int
worker_ready(void *app, struct cy_buf *reason)
{
	struct node *n = app;

	if (!n->registered || !n->config_applied) {
		cy_buf_addstr(reason, "node not registered and configured yet");
		return -1;
	}
	if (!strcmp(n->cfg.sb_mode, "disabled")) {
		cy_buf_addstr(reason, "sandboxes are disabled (sandbox.mode: disabled)");
		return -1;
	}
	if (!n->sandbox_ok) {
		cy_buf_addf(reason, "sandbox runtime unavailable: %s", n->sandbox_reason);
		return -1;
	}
	if (access(n->cfg.mount_root, W_OK | X_OK) < 0) {
		cy_buf_addf(reason, "sandbox mount root '%s' is not writable", n->cfg.mount_root);
		return -1;
	}
	/* A node that requires inference is not ready without a backend. */
	if (!strcmp(n->cfg.inf_mode, "require")) {
		char why[1400];

		if (!node_inference_ready(why, sizeof(why))) {
			cy_buf_addstr(reason, why);
			return -1;
		}
	}
	return 0;
}

/* GET /metrics: Prometheus text (metrics.c and lib/httpd.c's request counts). */
static void
worker_metrics(struct cy_http_req *req, struct cy_http_resp *resp)
{
	(void)req;
	cy_metrics_render(&resp->body);
	resp->status = 200;
	resp->content_type = CY_METRICS_CONTENT_TYPE;
}

void
worker_api_limits(struct node *n)
{
	worker_routes[0].body_limit = n->body_limit;
}

struct cy_httpd *
worker_api_start(struct node *n, struct cy_error *err)
{
	struct cy_httpd_config hc = { 0 };

	worker_routes[0].body_limit = n->body_limit;
	worker_routes[2].body_limit = (size_t)n->cfg.inf_max_request_bytes;
	node_metrics_init(n);
	hc.name = "worker";
	hc.host = n->cfg.listen_host;
	hc.port = (unsigned)n->cfg.listen_port;
	hc.routes = worker_routes;
	hc.nroutes = sizeof(worker_routes) / sizeof(worker_routes[0]);
	hc.threads = 0;
	hc.conn_timeout_s = 0;
	hc.keepalive_idle_s = WORKER_KEEPALIVE_IDLE_S;
	hc.authenticate = worker_authenticate;
	hc.ready = worker_ready;
	hc.app = n;
	hc.tls_cert_pem = n->tls_cert_pem;
	hc.tls_key_pem = n->tls_key_pem;
	hc.openapi = cy_openapi_worker;
	hc.openapi_len = cy_openapi_worker_len;
	return cy_httpd_start(&hc, err);
}
