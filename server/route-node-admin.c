/*
 * Operator node actions on the user gateway (cli.md section 11):
 * POST /v1/nodes/{id}/drain {"reason"?}, /undrain, /enable, /disable
 * (role operator+, nodes:write), DELETE /v1/nodes/{id}[?force=true]
 * (revokes the node's JWT, worker token and credential; refused with 409
 * while jobs run unless forced), and POST /v1/nodes/enrollment-tokens
 * {"node_slug"?,"labels"?,"ttl_seconds"?} (admin) returning a single-use
 * token shown once and stored as SHA-256 only.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "auth.h"
#include "dispatch.h"
#include "digest.h"
#include "id.h"
#include "json.h"
#include "log.h"
#include "node-payload.h"
#include "nodes.h"
#include "server.h"
#include "store-fleet.h"
#include "store-nodes.h"
#include "banned.h"

#define REASON_MAX 500
#define LABELS_MAX 32
#define ENROLL_TTL_DEFAULT 3600
/* The most nodes.enrollment_token_max_ttl may be (config.c). */
#define ENROLL_TTL_LIMIT (86400LL * 366)

/* Answers with the operator view of the node `slug`. */
static void
answer_node(const char *slug, int status, struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	PGresult *res = store_nodes_view(slug, &err);

	if (!res) {
		cy_log_error("nodes_get_failed", "error", err.msg, NULL);
		return cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot read the node");
	}
	if (PQntuples(res) == 0)
		cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "node '%s' not found", slug);
	else
		cy_resp_json(resp, status, nodes_view_json(res, 0));
	PQclear(res);
}

/* POST /v1/nodes/{id}/drain {reason?}: "" or null gives no reason. */
/* clang-format off */
const struct cy_jcheck nodes_drain_body = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "reason", .type = CY_JC_STRING, .null_ok = true, .max = REASON_MAX }),
};
/* clang-format on */

/* drain (a body is optional), undrain, enable, disable (no parameters). */
static void
node_action(struct cy_http_req *req, struct cy_http_resp *resp, enum node_action act)
{
	struct cy_error err = CY_ERROR_INIT;
	const char *reason = NULL;
	json_t *body = NULL;
	char slug[128];
	int rc;

	if (act != NODE_DRAIN && cy_req_no_params(req, resp) < 0)
		return;
	if (act == NODE_DRAIN && req->body_len > 0) {
		if (!(body = cy_req_json(req, resp)))
			return;
		reason = cy_json_str(body, "reason");
		if (reason && !*reason)
			reason = NULL;
	}
	rc = store_node_action(req->params[0], act, reason, req->auth, slug, &err);
	if (rc < 0) {
		cy_log_error("node_action_failed", "node", req->params[0], "error", err.msg, NULL);
		cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot update the node");
	} else if (rc == 0) {
		cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "node '%s' not found", req->params[0]);
	} else {
		if (act == NODE_UNDRAIN || act == NODE_ENABLE)
			dispatch_wake();
		answer_node(slug, 200, resp);
	}
	json_decref(body);
}

void
h_nodes_drain(struct cy_http_req *req, struct cy_http_resp *resp)
{
	node_action(req, resp, NODE_DRAIN);
}

void
h_nodes_undrain(struct cy_http_req *req, struct cy_http_resp *resp)
{
	node_action(req, resp, NODE_UNDRAIN);
}

void
h_nodes_enable(struct cy_http_req *req, struct cy_http_resp *resp)
{
	node_action(req, resp, NODE_ENABLE);
}

void
h_nodes_disable(struct cy_http_req *req, struct cy_http_resp *resp)
{
	node_action(req, resp, NODE_DISABLE);
}

void
h_nodes_remove(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	const char *force = cy_req_query(req, "force");
	char slug[128];
	bool f = false;
	int rc;

	if (force) {
		if (strcmp(force, "true") && strcmp(force, "false"))
			return cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			    "force must be true or false");
		f = strcmp(force, "true") == 0;
	}
	rc = store_node_remove(req->params[0], f, req->auth, slug, &err);
	if (rc < 0) {
		cy_log_error("node_remove_failed", "node", req->params[0], "error", err.msg, NULL);
		cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot remove the node");
	} else if (rc == 0) {
		cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "node '%s' not found", req->params[0]);
	} else if (rc == 2) {
		cy_resp_problem(resp, CY_PROBLEM_CONFLICT,
		    "node '%s' has running jobs; drain it and wait, or remove with force", slug);
	} else {
		cy_log_info("node_removed", "node", slug, NULL);
		cy_resp_json(resp, 200, json_pack("{s:s, s:b}", "node_slug", slug, "removed", 1));
	}
}

/*
 * POST /v1/nodes/enrollment-tokens {node_slug?, labels?, ttl_seconds?}.
 * The table bounds ttl_seconds by the most any configuration allows;
 * h_nodes_enroll then by the configured nodes.enrollment_token_max_ttl.
 */
/* clang-format off */
const struct cy_jcheck nodes_enroll_body = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "node_slug", .type = CY_JC_STRING, .null_ok = true,
		  .valid = cy_slug_valid, .shape = NODE_SLUG_SHAPE },
		{ .name = "labels", .type = CY_JC_ARRAY, .null_ok = true, .max = LABELS_MAX,
		  .item = &(const struct cy_jcheck_field){ .type = CY_JC_STRING,
			.valid = cy_label_valid, .shape = "a label (1-63 characters of [a-z0-9_.-])" } },
		{ .name = "ttl_seconds", .type = CY_JC_INT, .null_ok = true, .min = 60,
		  .max = ENROLL_TTL_LIMIT }),
};
/* clang-format on */

void
h_nodes_enroll(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	char hash[65], expires[32];
	const char *slug = NULL;
	char *token = NULL, *labels_text = NULL;
	long long ttl = ENROLL_TTL_DEFAULT;
	json_t *body, *labels;

	if (!(body = cy_req_json(req, resp)))
		return;
	slug = cy_json_str(body, "node_slug");
	labels = json_object_get(body, "labels");
	if (cy_json_int(body, "ttl_seconds", &ttl) == 0 && ttl > srv.cfg.enroll_max_ttl_s) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "ttl_seconds must be an integer from 60 to %lld", srv.cfg.enroll_max_ttl_s);
		goto out;
	}
	if (ttl > srv.cfg.enroll_max_ttl_s)
		ttl = srv.cfg.enroll_max_ttl_s;
	labels_text = json_is_array(labels) ? cy_json_dump(labels) : NULL;
	token = cy_random_token("cye_", 32);
	cy_sha256_hex(token, strlen(token), hash);
	if (store_enroll_create(hash, slug, labels_text, ttl, req->auth, expires, &err) < 0) {
		cy_log_error("enroll_create_failed", "error", err.msg, NULL);
		cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot create the enrollment token");
		goto out;
	}
	cy_resp_json(resp, 201,
	    json_pack("{s:s, s:s, s:s?, s:o, s:s}", "token", token, "expires_at", expires,
		"node_slug", slug, "labels",
		json_is_array(labels) ? json_incref(labels) : json_array(), "control_plane_url",
		srv.cfg.public_url ? srv.cfg.public_url : ""));
out:
	if (token)
		explicit_bzero(token, strlen(token));
	free(token);
	free(labels_text);
	json_decref(body);
}

/*
 * POST /v1/nodes/{id}/replace {ttl_seconds?}: opens a window (default one
 * hour, at most nodes.enrollment_token_max_ttl) in which one registration
 * with the PSK or an enrollment token naming no node may take this node's
 * slug: a new machine put in its place.  Without it such a registration is
 * refused (409), since the PSK is shared by the whole fleet.
 */
const struct cy_jcheck nodes_replace_body = {
	.fields = CY_JCHECK_ROWS({ .name = "ttl_seconds",
	    .type = CY_JC_INT,
	    .null_ok = true,
	    .min = 60,
	    .max = ENROLL_TTL_LIMIT }),
};

void
h_nodes_replace(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	long long ttl = 3600;
	char slug[128], until[40];
	json_t *body = NULL;
	int rc;

	/* An empty body takes the defaults. */
	if (req->body_len > 0 && !(body = cy_req_json(req, resp)))
		return;
	if (body && cy_json_int(body, "ttl_seconds", &ttl) == 0 && ttl > srv.cfg.enroll_max_ttl_s) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "ttl_seconds must be an integer from 60 to %lld", srv.cfg.enroll_max_ttl_s);
		goto out;
	}
	if (ttl > srv.cfg.enroll_max_ttl_s)
		ttl = srv.cfg.enroll_max_ttl_s;
	rc = store_node_replace(req->params[0], ttl, req->auth, slug, until, &err);
	if (rc < 0) {
		cy_log_error("node_replace_failed", "node", req->params[0], "error", err.msg, NULL);
		cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot open the replace window");
	} else if (rc == 0) {
		cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "node '%s' not found", req->params[0]);
	} else {
		cy_log_info("node_replace_opened", "node", slug, "until", until, NULL);
		cy_resp_json(resp, 200,
		    json_pack("{s:s, s:s}", "node_slug", slug, "replace_until", until));
	}
out:
	json_decref(body);
}
