/*
 * Route handlers, one file per resource; the tables in routes.c point at
 * them.
 */
#ifndef SERVER_HANDLERS_H
#define SERVER_HANDLERS_H

#include "buf.h"
#include "httpd.h"

/* route-auth.c */
void h_auth_login(struct cy_http_req *req, struct cy_http_resp *resp);
void h_auth_refresh(struct cy_http_req *req, struct cy_http_resp *resp);
void h_auth_logout(struct cy_http_req *req, struct cy_http_resp *resp);
/* route-users.c */
void h_users_me(struct cy_http_req *req, struct cy_http_resp *resp);
void h_users_revoke_sessions(struct cy_http_req *req, struct cy_http_resp *resp);
void h_users_change_password(struct cy_http_req *req, struct cy_http_resp *resp);
/* route-users-admin.c (issue 3) */
void h_users_create(struct cy_http_req *req, struct cy_http_resp *resp);
void h_users_list(struct cy_http_req *req, struct cy_http_resp *resp);
void h_users_get(struct cy_http_req *req, struct cy_http_resp *resp);
void h_users_disable(struct cy_http_req *req, struct cy_http_resp *resp);
void h_users_enable(struct cy_http_req *req, struct cy_http_resp *resp);
void h_users_reset_password(struct cy_http_req *req, struct cy_http_resp *resp);
void h_users_set_role(struct cy_http_req *req, struct cy_http_resp *resp);
/* route-audit.c (issue 3) */
void h_audit_list(struct cy_http_req *req, struct cy_http_resp *resp);
/* route-tokens.c (issue 3) */
void h_tokens_create(struct cy_http_req *req, struct cy_http_resp *resp);
void h_tokens_list(struct cy_http_req *req, struct cy_http_resp *resp);
void h_tokens_revoke(struct cy_http_req *req, struct cy_http_resp *resp);
/* route-tasks.c */
void h_tasks_create(struct cy_http_req *req, struct cy_http_resp *resp);
void h_tasks_list(struct cy_http_req *req, struct cy_http_resp *resp);
void h_tasks_get(struct cy_http_req *req, struct cy_http_resp *resp);
void h_tasks_result(struct cy_http_req *req, struct cy_http_resp *resp);
void h_tasks_logs(struct cy_http_req *req, struct cy_http_resp *resp);
void h_tasks_cancel(struct cy_http_req *req, struct cy_http_resp *resp);
/* route-nodes.c: operator views on the gateway */
void h_nodes_list(struct cy_http_req *req, struct cy_http_resp *resp);
void h_nodes_get(struct cy_http_req *req, struct cy_http_resp *resp);
/* route-chat.c (issue 12): the OpenAI-compatible endpoints */
void h_models_list(struct cy_http_req *req, struct cy_http_resp *resp);
void h_chat_completions(struct cy_http_req *req, struct cy_http_resp *resp);
/* route-metrics.c: GET /metrics (Prometheus) */
void h_metrics(struct cy_http_req *req, struct cy_http_resp *resp);
/* route-node-control.c: the node-facing control plane */
void h_nodes_register(struct cy_http_req *req, struct cy_http_resp *resp);
void h_nodes_config_get(struct cy_http_req *req, struct cy_http_resp *resp);
void h_nodes_config_ack(struct cy_http_req *req, struct cy_http_resp *resp);
void h_nodes_capability(struct cy_http_req *req, struct cy_http_resp *resp);
/* Node fleet (issue 4): route-node-heartbeat.c, route-node-admin.c */
void h_nodes_heartbeat(struct cy_http_req *req, struct cy_http_resp *resp);
void h_nodes_drain(struct cy_http_req *req, struct cy_http_resp *resp);
void h_nodes_undrain(struct cy_http_req *req, struct cy_http_resp *resp);
void h_nodes_enable(struct cy_http_req *req, struct cy_http_resp *resp);
void h_nodes_disable(struct cy_http_req *req, struct cy_http_resp *resp);
void h_nodes_remove(struct cy_http_req *req, struct cy_http_resp *resp);
void h_nodes_enroll(struct cy_http_req *req, struct cy_http_resp *resp);
/* route-config.c (issue 4): config push, get and status */
void h_config_push(struct cy_http_req *req, struct cy_http_resp *resp);
void h_config_get(struct cy_http_req *req, struct cy_http_resp *resp);
void h_config_status(struct cy_http_req *req, struct cy_http_resp *resp);
/* liveness.c: marks silent nodes inactive */
int liveness_start(struct cy_error *err);
void liveness_stop(void);

/* route-dispatch.c (issue 7): node job sync and result redelivery, multi-task wait */
void h_nodes_jobs_sync(struct cy_http_req *req, struct cy_http_resp *resp);
void h_nodes_job_result(struct cy_http_req *req, struct cy_http_resp *resp);
void h_tasks_wait(struct cy_http_req *req, struct cy_http_resp *resp);

/* readiness (readyz on both listeners), in route-node-control.c */
int server_ready(void *app, struct cy_buf *reason);

/* dispatch.c */
int dispatch_start(struct cy_error *err);
void dispatch_stop(void);
/* Wakes the dispatcher (after a task is created). */
void dispatch_wake(void);

#endif
