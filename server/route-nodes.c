/*
 * Operator views of the node fleet on the user gateway: GET /v1/nodes and
 * GET /v1/nodes/{slug-or-id}, one JSON object per node with its status,
 * operator state (enabled, drain), config state, liveness, Worker API URL,
 * labels, capacity, running jobs and the conditions it reports.
 */
#include <jansson.h>
#include <stdint.h>
#include <string.h>

#include "log.h"
#include "nodes.h"
#include "store-nodes.h"
#include "store-util.h"
#include "strnum.h"
#include "banned.h"

/* A nullable text column as a JSON string or null. */
static json_t *
col_str(const PGresult *res, int row, int col)
{
	const char *v = store_val(res, row, col);

	return v ? json_string(v) : json_null();
}

static json_t *
col_int(const PGresult *res, int row, int col)
{
	const char *errstr;
	long long v = 0;

	if (cy_strtonum(PQgetvalue(res, row, col), 0, INT64_MAX, &v, &errstr) < 0)
		v = 0;
	return json_integer(v);
}

/* The operator view of one node row. */
json_t *
nodes_view_json(const PGresult *res, int row)
{
	json_t *o = json_object(), *labels, *conditions, *caps;

	json_object_set_new(o, "node_id", col_str(res, row, NV_ID));
	json_object_set_new(o, "node_slug", col_str(res, row, NV_SLUG));
	json_object_set_new(o, "status", col_str(res, row, NV_STATUS));
	json_object_set_new(o, "enabled",
	    json_boolean(strcmp(PQgetvalue(res, row, NV_ENABLED), "t") == 0));
	json_object_set_new(o, "drain_reason", col_str(res, row, NV_DRAIN_REASON));
	json_object_set_new(o, "drained_at", col_str(res, row, NV_DRAINED_AT));
	json_object_set_new(o, "config_version", col_str(res, row, NV_CONFIG_VERSION));
	json_object_set_new(o, "config_document", col_str(res, row, NV_CONFIG_DOCUMENT));
	json_object_set_new(o, "config_ack_status", col_str(res, row, NV_ACK_STATUS));
	json_object_set_new(o, "config_ack_version", col_str(res, row, NV_ACK_VERSION));
	json_object_set_new(o, "config_ack_error", col_str(res, row, NV_ACK_ERROR));
	json_object_set_new(o, "config_ack_at", col_str(res, row, NV_ACK_AT));
	json_object_set_new(o, "last_seen_at", col_str(res, row, NV_LAST_SEEN));
	json_object_set_new(o, "last_capability_at", col_str(res, row, NV_LAST_CAPABILITY));
	json_object_set_new(o, "capability_hash", col_str(res, row, NV_CAPABILITY_HASH));
	json_object_set_new(o, "worker_api_url", col_str(res, row, NV_TARGET_URL));
	labels = json_loads(PQgetvalue(res, row, NV_LABELS), 0, NULL);
	json_object_set_new(o, "labels", json_is_array(labels) ? labels : json_array());
	if (labels && !json_is_array(labels))
		json_decref(labels);
	json_object_set_new(o, "max_concurrency", col_int(res, row, NV_MAX_CONCURRENCY));
	json_object_set_new(o, "running_jobs", col_int(res, row, NV_RUNNING));
	json_object_set_new(o, "created_at", col_str(res, row, NV_CREATED));
	/* What the node reports an operator should know ([{type, message}]: disk_low, ...). */
	conditions = json_loads(PQgetvalue(res, row, NV_CONDITIONS), 0, NULL);
	json_object_set_new(o, "conditions", json_is_array(conditions) ? conditions : json_array());
	if (conditions && !json_is_array(conditions))
		json_decref(conditions);
	/* The last capability report's platform, compute, gpu and inference (null: none yet). */
	caps = json_loads(PQgetvalue(res, row, NV_CAPABILITIES), JSON_DECODE_ANY, NULL);
	json_object_set_new(o, "capabilities", json_is_object(caps) ? caps : json_null());
	if (caps && !json_is_object(caps))
		json_decref(caps);
	return o;
}

void
h_nodes_list(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	PGresult *res = store_nodes_view(NULL, &err);
	json_t *arr;
	int i;

	if (!res) {
		cy_log_error("nodes_list_failed", "error", err.msg, NULL);
		return cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot list nodes");
	}
	arr = json_array();
	for (i = 0; i < PQntuples(res); i++)
		json_array_append_new(arr, nodes_view_json(res, i));
	PQclear(res);
	cy_resp_json(resp, 200, json_pack("{s:o}", "nodes", arr));
}

void
h_nodes_get(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	PGresult *res = store_nodes_view(req->params[0], &err);

	if (!res) {
		cy_log_error("nodes_get_failed", "error", err.msg, NULL);
		return cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot read the node");
	}
	if (PQntuples(res) == 0)
		cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "node '%s' not found", req->params[0]);
	else
		cy_resp_json(resp, 200, nodes_view_json(res, 0));
	PQclear(res);
}
