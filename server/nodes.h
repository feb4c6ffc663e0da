/*
 * Nodes and the fleet, as operators and nodes reach them: the node-facing
 * control plane, the operator's views and actions, pushed configuration,
 * GET /metrics, node liveness and the listeners' readiness.  The node's
 * job sync is in dispatch.h; the SQL in store-nodes.h, store-fleet.h and
 * store-config.h.
 */
#ifndef SERVER_NODES_H
#define SERVER_NODES_H

#include <jansson.h>
#include <libpq-fe.h>

#include "buf.h"
#include "error.h"
#include "httpd.h"
#include "jcheck.h"

/* cy_slug_valid in words, for messages. */
#define NODE_SLUG_SHAPE "a node slug (1-63 characters of [a-z0-9-])"

/* route-node-control.c: the node-facing control plane (node JWT, or PSK to register) */
void h_nodes_register(struct cy_http_req *req, struct cy_http_resp *resp);
void h_nodes_config_get(struct cy_http_req *req, struct cy_http_resp *resp);
void h_nodes_config_ack(struct cy_http_req *req, struct cy_http_resp *resp);
void h_nodes_capability(struct cy_http_req *req, struct cy_http_resp *resp);
extern const struct cy_jcheck nodes_register_body, nodes_config_ack_body;
/* The readyz check of both listeners (cy_httpd's ready hook). */
int server_ready(void *app, struct cy_buf *reason);

/* route-node-heartbeat.c: POST /v1/nodes/heartbeat */
void h_nodes_heartbeat(struct cy_http_req *req, struct cy_http_resp *resp);
extern const struct cy_jcheck nodes_heartbeat_body;

/* route-nodes.c: the operator's views, GET /v1/nodes and /v1/nodes/{id} */
void h_nodes_list(struct cy_http_req *req, struct cy_http_resp *resp);
void h_nodes_get(struct cy_http_req *req, struct cy_http_resp *resp);
/* route-node-telemetry.c: a node's telemetry (its Worker API), for operators. */
void h_nodes_telemetry_stats(struct cy_http_req *req, struct cy_http_resp *resp);
void h_nodes_telemetry_logs(struct cy_http_req *req, struct cy_http_resp *resp);
/* One row of store_nodes_view() as a new JSON object (the operator actions answer with it). */
json_t *nodes_view_json(const PGresult *res, int row);

/* route-node-admin.c: the operator's actions and enrollment tokens */
void h_nodes_drain(struct cy_http_req *req, struct cy_http_resp *resp);
void h_nodes_undrain(struct cy_http_req *req, struct cy_http_resp *resp);
void h_nodes_enable(struct cy_http_req *req, struct cy_http_resp *resp);
void h_nodes_disable(struct cy_http_req *req, struct cy_http_resp *resp);
void h_nodes_remove(struct cy_http_req *req, struct cy_http_resp *resp);
void h_nodes_enroll(struct cy_http_req *req, struct cy_http_resp *resp);
void h_nodes_replace(struct cy_http_req *req, struct cy_http_resp *resp);
extern const struct cy_jcheck nodes_drain_body, nodes_enroll_body, nodes_replace_body;

/* route-config.c: config push, get and status */
void h_config_push(struct cy_http_req *req, struct cy_http_resp *resp);
void h_config_get(struct cy_http_req *req, struct cy_http_resp *resp);
void h_config_status(struct cy_http_req *req, struct cy_http_resp *resp);
extern const struct cy_jcheck config_push_body;

/* route-metrics.c: GET /metrics (Prometheus), counts by state for operators */
void h_metrics(struct cy_http_req *req, struct cy_http_resp *resp);

/* liveness.c: the thread that marks silent nodes inactive */
int liveness_start(struct cy_error *err);
void liveness_stop(void);

#endif
