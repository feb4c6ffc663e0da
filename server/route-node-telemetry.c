/*
 * Operators' view of a node's own telemetry store:
 * GET /v1/nodes/{id}/telemetry/stats and /logs call the node's Worker API
 * (GET /v1/worker/telemetry/node:stats, /logs) with the node's worker
 * token and its registered TLS pin, as the dispatcher does
 * (node-tls.h), and pass its answer on.  The logs filters (source, since,
 * until, limit) go to the node, which checks them (a bad one is its 400,
 * passed on).  A node that cannot be reached is a 503.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "httpc.h"
#include "httpd.h"
#include "log.h"
#include "node-tls.h"
#include "node-token.h"
#include "nodes.h"
#include "store-nodes.h"
#include "store-util.h"
#include "banned.h"

#define TELEMETRY_TIMEOUT_MS 10000
#define TELEMETRY_MAX (2 * 1024 * 1024) /* contract 2.3: 2 MiB */

static const char *const log_filters[] = { "source", "since", "until", "limit", NULL };

/* Appends ?k=v&... for the filters the request carries (escaped). */
static void
telemetry_query(struct cy_http_req *req, struct cy_buf *url)
{
	char sep = '?';

	for (size_t i = 0; log_filters[i]; i++) {
		const char *v = cy_req_query(req, log_filters[i]);
		char *e;

		if (!v)
			continue;
		e = curl_easy_escape(NULL, v, 0);
		if (!e)
			continue;
		cy_buf_addf(url, "%c%s=%s", sep, log_filters[i], e);
		curl_free(e);
		sep = '&';
	}
}

static void
telemetry_proxy(struct cy_http_req *req, struct cy_http_resp *resp, const char *what, bool filters)
{
	struct cy_httpc_opts o = { .timeout_ms = TELEMETRY_TIMEOUT_MS,
		.max_response = TELEMETRY_MAX };
	struct cy_httpc_resp r = CY_HTTPC_RESP_INIT;
	struct cy_buf url = CY_BUF_INIT;
	struct cy_error err = CY_ERROR_INIT;
	char tlsmsg[512], *token = NULL;
	const char *base, *slug;
	PGresult *res;
	json_t *body;
	size_t n;

	if (!(res = store_node_worker(req->params[0], &err))) {
		cy_log_error("node_telemetry_failed", "error", err.msg, NULL);
		return cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot read the node");
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		return cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "node '%s' not found",
		    req->params[0]);
	}
	slug = store_val(res, 0, NW_SLUG);
	base = store_val(res, 0, NW_URL);
	if (!*base || !*store_val(res, 0, NW_TOKEN)) {
		cy_resp_problem(resp, CY_PROBLEM_UNAVAILABLE, "node '%s' has no Worker API yet",
		    slug);
		goto out;
	}
	n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		n--;
	cy_buf_add(&url, base, n);
	cy_buf_addf(&url, "/v1/worker/telemetry/%s", what);
	if (filters)
		telemetry_query(req, &url);
	if (node_tls_choose(url.buf, store_val(res, 0, NW_PIN), &o.pinned_pubkey, &o.ca_file,
		tlsmsg, sizeof(tlsmsg)) < 0) {
		cy_resp_problem(resp, CY_PROBLEM_UNAVAILABLE, "node '%s': %s", slug, tlsmsg);
		goto out;
	}
	if (!(token = node_token_open(store_val(res, 0, NW_TOKEN), &err))) {
		cy_log_error("node_telemetry_token_failed", "node", slug, "error", err.msg, NULL);
		cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot use node %s's credentials",
		    slug);
		goto out;
	}
	o.bearer = token;
	if (cy_httpc_request("GET", url.buf, NULL, 0, &o, &r, &err) < 0) {
		cy_log_warn("node_telemetry_unreachable", "node", slug, "error", err.msg, NULL);
		cy_resp_problem(resp, CY_PROBLEM_UNAVAILABLE, "node '%s' did not answer: %s", slug,
		    err.code == EFBIG ? "its answer is over 2 MiB" : err.msg);
		goto out;
	}
	body = json_loadb(r.body.buf, r.body.len, 0, NULL);
	if (r.status == 200 && json_is_object(body)) {
		cy_resp_json(resp, 200, body);
	} else if (r.status == 400 && json_is_object(body)) {
		/* A filter the node refused: its problem names the parameter. */
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "%s",
		    json_string_value(json_object_get(body, "detail")) ?
			json_string_value(json_object_get(body, "detail")) :
			"bad filter");
		json_decref(body);
	} else {
		json_decref(body);
		cy_log_warn("node_telemetry_refused", "node", slug, NULL);
		cy_resp_problem(resp, CY_PROBLEM_UNAVAILABLE,
		    "node '%s' answered HTTP %ld to its telemetry request", slug, r.status);
	}
out:
	if (token) {
		explicit_bzero(token, strlen(token));
		free(token);
	}
	cy_httpc_resp_release(&r);
	cy_buf_release(&url);
	PQclear(res);
}

/* GET /v1/nodes/{id}/telemetry/stats */
void
h_nodes_telemetry_stats(struct cy_http_req *req, struct cy_http_resp *resp)
{
	telemetry_proxy(req, resp, "node:stats", false);
}

/* GET /v1/nodes/{id}/telemetry/logs */
void
h_nodes_telemetry_logs(struct cy_http_req *req, struct cy_http_resp *resp)
{
	telemetry_proxy(req, resp, "logs", true);
}
