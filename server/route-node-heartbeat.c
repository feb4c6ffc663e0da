/*
 * POST /v1/nodes/heartbeat (node JWT; cynode addition, DESIGN.md section 1):
 * the node's liveness signal, sent every orchestrator.heartbeat_interval_seconds.
 * Body {"version":1,"node_slug","config_version"?,"running_jobs"?,
 * "capability_hash"?}.  The answer tells the node what it must know at
 * once: {"version":1,"status","enabled","config_version" (the version it
 * must apply; a different one means fetch the config),"capability_hash"
 * (of the last stored report; a different one means send a report),
 * "liveness_ttl_seconds"}.
 */
#include <jansson.h>
#include <string.h>

#include "auth.h"
#include "dispatch.h"
#include "json.h"
#include "log.h"
#include "node-payload.h"
#include "nodes.h"
#include "server.h"
#include "store-fleet.h"
#include "banned.h"

/* The heartbeat; node_slug is checked against the authenticated node. */
/* clang-format off */
const struct cy_jcheck nodes_heartbeat_body = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "node_slug", .type = CY_JC_ANY },
		{ .name = "config_version", .type = CY_JC_STRING, .null_ok = true },
		{ .name = "running_jobs", .type = CY_JC_INT, .null_ok = true, .min = 0,
		  .max = 1 << 20 },
		{ .name = "capability_hash", .type = CY_JC_STRING, .null_ok = true }),
	.open = true,
	.version = 1,
	.what = "heartbeat",
};
/* clang-format on */

void
h_nodes_heartbeat(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	struct node_beat b;
	json_t *body;
	int rc;

	if (!(body = cy_req_json(req, resp)))
		return;
	if (node_slug_matches(body, "node_slug", a->node_slug, resp) < 0)
		goto out;
	rc = store_node_heartbeat(a->node_id, &b, &err);
	if (rc < 0) {
		cy_log_error("node_heartbeat_failed", "node", a->node_slug, "error", err.msg, NULL);
		cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot record the heartbeat");
	} else if (rc == 0) {
		cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "node not found; register again");
	} else {
		if (b.revived)
			dispatch_wake();
		cy_resp_json(resp, 200,
		    json_pack("{s:i, s:s, s:b, s:s, s:s, s:I}", "version", 1, "status", b.status,
			"enabled", b.enabled, "config_version", b.config_version, "capability_hash",
			b.capability_hash, "liveness_ttl_seconds",
			(json_int_t)srv.cfg.node_liveness_ttl_s));
	}
out:
	json_decref(body);
}
