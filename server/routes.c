/*
 * The route tables of cynode-server, one row per endpoint (method, path
 * pattern, auth kind, body limit, handler).  The user gateway serves the
 * user API and, per the contract's caution (section 2), the node-facing
 * /v1/nodes/{register,config,capability} routes too; the control plane
 * serves only the node-facing routes.  /healthz and /readyz are answered by
 * lib/httpd.c before these tables.  Rows are matched in order, so literal
 * paths come before {param} ones.  Which file serves each route, and where
 * every other kind of thing in server/ lives: server/README.md.
 */
#include "auth.h"
#include "core.h"
#include "dispatch.h"
#include "identity.h"
#include "inference.h"
#include "node-payload.h"
#include "nodes.h"
#include "openai.h"
#include "server.h"
#include "tasks.h"
#include "banned.h"

/* Marks a route whose body limit is the configured MAX_REQUEST_BODY_MB. */
#define BODY_CFG ((size_t)-1)
#define BODY_SMALL (64 * 1024)
#define BODY_NODE (1024 * 1024)
#define BODY_SYNC (8 * 1024 * 1024)
#define BODY_RESULT (16 * 1024 * 1024)

#define NODE_ROUTES \
	{ "POST", "/v1/nodes/register", AUTH_NONE, BODY_NODE, h_nodes_register, \
	  .body = &nodes_register_body }, \
	{ "GET", "/v1/nodes/config", AUTH_NODE, 0, h_nodes_config_get }, \
	{ "POST", "/v1/nodes/config", AUTH_NODE, BODY_NODE, h_nodes_config_ack, \
	  .body = &nodes_config_ack_body }, \
	{ "POST", "/v1/nodes/capability", AUTH_NODE, BODY_NODE, h_nodes_capability, \
	  .body = &node_capability_report }, \
	{ "POST", "/v1/nodes/heartbeat", AUTH_NODE, BODY_SMALL, h_nodes_heartbeat, \
	  .body = &nodes_heartbeat_body }

/* The node's job sync and result redelivery (both listeners). */
#define NODE_JOB_ROUTES \
	{ "POST", "/v1/nodes/jobs/sync", AUTH_NODE, BODY_SYNC, h_nodes_jobs_sync, \
	  .body = &nodes_jobs_sync_body }, \
	{ "POST", "/v1/nodes/jobs/{id}/result", AUTH_NODE, BODY_RESULT, h_nodes_job_result, \
	  .body = &nodes_job_result_body }

static struct cy_route gateway[] = {
	{ "POST", "/v1/auth/login", AUTH_NONE, BODY_SMALL, h_auth_login, .body = &auth_login_body },
	{ "POST", "/v1/auth/refresh", AUTH_NONE, BODY_SMALL, h_auth_refresh,
	  .body = &auth_refresh_body },
	{ "POST", "/v1/auth/logout", AUTH_USER, BODY_SMALL, h_auth_logout,
	  .body = &auth_logout_body },
	{ "GET", "/v1/users/me", AUTH_USER, 0, h_users_me },
	{ "POST", "/v1/users/{id}/revoke_sessions", AUTH_ADMIN, BODY_SMALL,
	  h_users_revoke_sessions },
	/* Own password, user administration and API tokens. */
	{ "POST", "/v1/users/me/password", AUTH_USER, BODY_SMALL, h_users_change_password,
	  .body = &users_password_body },
	{ "POST", "/v1/users", AUTH_ADMIN, BODY_SMALL, h_users_create, .body = &users_create_body },
	{ "GET", "/v1/users", AUTH_ADMIN, 0, h_users_list },
	{ "GET", "/v1/users/{id}", AUTH_ADMIN, 0, h_users_get },
	{ "POST", "/v1/users/{id}/disable", AUTH_ADMIN, BODY_SMALL, h_users_disable },
	{ "POST", "/v1/users/{id}/enable", AUTH_ADMIN, BODY_SMALL, h_users_enable },
	{ "POST", "/v1/users/{id}/reset_password", AUTH_ADMIN, BODY_SMALL,
	  h_users_reset_password, .body = &users_reset_password_body },
	{ "POST", "/v1/users/{id}/role", AUTH_ADMIN, BODY_SMALL, h_users_set_role,
	  .body = &users_role_body },
	{ "GET", "/v1/audit", AUTH_ADMIN, 0, h_audit_list },
	{ "POST", "/v1/tokens", AUTH_USER, BODY_SMALL, h_tokens_create,
	  .body = &tokens_create_body },
	{ "GET", "/v1/tokens", AUTH_USER, 0, h_tokens_list },
	{ "POST", "/v1/tokens/{id}/revoke", AUTH_USER, BODY_SMALL, h_tokens_revoke },
	{ "POST", "/v1/tasks", AUTH_TASKS_WRITE, BODY_CFG, h_tasks_create,
	  .body = &tasks_create_body },
	{ "GET", "/v1/tasks", AUTH_TASKS_READ, 0, h_tasks_list },
	{ "POST", "/v1/tasks:wait", AUTH_TASKS_READ, BODY_NODE, h_tasks_wait,
	  .body = &tasks_wait_body },
	{ "GET", "/v1/tasks/{id}", AUTH_TASKS_READ, 0, h_tasks_get },
	{ "GET", "/v1/tasks/{id}/result", AUTH_TASKS_READ, 0, h_tasks_result },
	{ "GET", "/v1/tasks/{id}/logs", AUTH_TASKS_READ, 0, h_tasks_logs },
	{ "POST", "/v1/tasks/{id}/cancel", AUTH_TASKS_WRITE, BODY_SMALL, h_tasks_cancel },
	NODE_ROUTES,
	NODE_JOB_ROUTES,
	/* Node fleet. */
	{ "GET", "/v1/nodes", AUTH_NODES_READ, 0, h_nodes_list },
	{ "POST", "/v1/nodes/enrollment-tokens", AUTH_ADMIN, BODY_SMALL, h_nodes_enroll,
	  .body = &nodes_enroll_body },
	{ "GET", "/v1/nodes/{id}", AUTH_NODES_READ, 0, h_nodes_get },
	{ "DELETE", "/v1/nodes/{id}", AUTH_NODES_WRITE, 0, h_nodes_remove },
	{ "POST", "/v1/nodes/{id}/drain", AUTH_NODES_WRITE, BODY_SMALL, h_nodes_drain,
	  .body = &nodes_drain_body },
	{ "POST", "/v1/nodes/{id}/undrain", AUTH_NODES_WRITE, BODY_SMALL, h_nodes_undrain },
	{ "POST", "/v1/nodes/{id}/enable", AUTH_NODES_WRITE, BODY_SMALL, h_nodes_enable },
	{ "POST", "/v1/nodes/{id}/disable", AUTH_NODES_WRITE, BODY_SMALL, h_nodes_disable },
	{ "POST", "/v1/config/push", AUTH_ADMIN, BODY_SMALL, h_config_push,
	  .body = &config_push_body },
	{ "GET", "/v1/config/status", AUTH_NODES_READ, 0, h_config_status },
	{ "GET", "/v1/config", AUTH_NODES_READ, 0, h_config_get },
	{ "GET", "/metrics", AUTH_NODES_READ, 0, h_metrics },
	/* Inference: OpenAI-compatible, errors in OpenAI's shape. */
	{ "GET", "/v1/models", AUTH_INFERENCE, 0, h_models_list, cy_openai_error },
	{ "POST", "/v1/chat/completions", AUTH_INFERENCE, BODY_CFG, h_chat_completions,
	  cy_openai_error, .body = &chat_completions_body },
};

static struct cy_route control[] = {
	NODE_ROUTES,
	NODE_JOB_ROUTES,
};

/* Replaces BODY_CFG with the configured cap (idempotent). */
static void
routes_fix(struct cy_route *r, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (r[i].body_limit == BODY_CFG)
			r[i].body_limit = (size_t)srv.cfg.max_body_bytes;
}

const struct cy_route *
routes_gateway(size_t *n)
{
	*n = sizeof(gateway) / sizeof(gateway[0]);
	routes_fix(gateway, *n);
	return gateway;
}

const struct cy_route *
routes_control(size_t *n)
{
	*n = sizeof(control) / sizeof(control[0]);
	routes_fix(control, *n);
	return control;
}
