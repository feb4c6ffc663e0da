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
#include <jansson.h>
#include <stdio.h>

#include "accounting.h"
#include "auth.h"
#include "core.h"
#include "dispatch.h"
#include "events.h"
#include "webhooks.h"
#include "identity.h"
#include "inference.h"
#include "jcheck.h"
#include "logs.h"
#include "node-payload.h"
#include "nodes.h"
#include "openai.h"
#include "queues.h"
#include "secrets.h"
#include "schedules.h"
#include "server.h"
#include "skills.h"
#include "store-logs.h"
#include "tasks.h"
#include "workflow.h"
#include "banned.h"

/* Marks a route whose body limit is the configured MAX_REQUEST_BODY_MB. */
#define BODY_CFG ((size_t)-1)
/* Marks a route whose body limit is limits.attachment_max_bytes. */
#define BODY_BLOB ((size_t)-2)
/* Marks a route whose body limit is limits.artifact_max_bytes. */
#define BODY_ARTIFACT ((size_t)-3)
#define BODY_SMALL (64 * 1024)
#define BODY_NODE (1024 * 1024)
/* A checkpoint: its state object (64 KiB as compact JSON) and the rest. */
#define BODY_WORKFLOW (128 * 1024)
#define BODY_SYNC (8 * 1024 * 1024)
#define BODY_RESULT (16 * 1024 * 1024)
#define BODY_LOG_CHUNK LOGS_CHUNK_MAX

/*
 * Workflow leases, on both listeners (contract.md lists them under the
 * control plane; cynode's runners have used the gateway): same handlers, and
 * the workflow runner's token on either.
 */
#define WORKFLOW_ROUTES \
	{ .method = "POST", \
		.pattern = "/v1/workflow/start", \
		.auth = AUTH_WORKFLOW, \
		.body_limit = BODY_SMALL, \
		.handler = h_workflow_start, \
		.body = &workflow_start_body }, \
	    { .method = "POST", \
		    .pattern = "/v1/workflow/resume", \
		    .auth = AUTH_WORKFLOW, \
		    .body_limit = BODY_SMALL, \
		    .handler = h_workflow_resume, \
		    .body = &workflow_resume_body }, \
	    { .method = "POST", \
		    .pattern = "/v1/workflow/checkpoint", \
		    .auth = AUTH_WORKFLOW, \
		    .body_limit = BODY_WORKFLOW, \
		    .handler = h_workflow_checkpoint, \
		    .body = &workflow_checkpoint_body }, \
	{ \
		.method = "POST", .pattern = "/v1/workflow/release", .auth = AUTH_WORKFLOW, \
		.body_limit = BODY_SMALL, .handler = h_workflow_release, \
		.body = &workflow_release_body \
	}

#define NODE_ROUTES \
	{ .method = "POST", \
		.pattern = "/v1/nodes/register", \
		.auth = AUTH_NONE, \
		.body_limit = BODY_NODE, \
		.handler = h_nodes_register, \
		.body = &nodes_register_body }, \
	    { .method = "GET", \
		    .pattern = "/v1/nodes/config", \
		    .auth = AUTH_NODE, \
		    .handler = h_nodes_config_get }, \
	    { .method = "POST", \
		    .pattern = "/v1/nodes/config", \
		    .auth = AUTH_NODE, \
		    .body_limit = BODY_NODE, \
		    .handler = h_nodes_config_ack, \
		    .body = &nodes_config_ack_body }, \
	    { .method = "POST", \
		    .pattern = "/v1/nodes/capability", \
		    .auth = AUTH_NODE, \
		    .body_limit = BODY_NODE, \
		    .handler = h_nodes_capability, \
		    .body = &node_capability_report }, \
	{ \
		.method = "POST", .pattern = "/v1/nodes/heartbeat", .auth = AUTH_NODE, \
		.body_limit = BODY_SMALL, .handler = h_nodes_heartbeat, \
		.body = &nodes_heartbeat_body \
	}

/* The node's job sync and result redelivery (both listeners). */
#define NODE_JOB_ROUTES \
	{ .method = "POST", \
		.pattern = "/v1/nodes/jobs/sync", \
		.auth = AUTH_NODE, \
		.body_limit = BODY_SYNC, \
		.handler = h_nodes_jobs_sync, \
		.body = &nodes_jobs_sync_body }, \
	    { .method = "POST", \
		    .pattern = "/v1/nodes/jobs/{id}/result", \
		    .auth = AUTH_NODE, \
		    .body_limit = BODY_RESULT, \
		    .handler = h_nodes_job_result, \
		    .body = &nodes_job_result_body }, \
	    { .method = "POST", \
		    .pattern = "/v1/nodes/jobs/{id}/logs", \
		    .auth = AUTH_NODE, \
		    .body_limit = BODY_LOG_CHUNK, \
		    .handler = h_nodes_job_logs }, \
	    { .method = "GET", \
		    .pattern = "/v1/nodes/jobs/{id}/attachments/{sha256}", \
		    .auth = AUTH_NODE, \
		    .handler = h_nodes_job_attachment }, \
	{ \
		.method = "PUT", .pattern = "/v1/nodes/jobs/{id}/artifacts", .auth = AUTH_NODE, \
		.body_limit = BODY_ARTIFACT, .handler = h_nodes_job_artifact_put, \
		.body_fn = b_nodes_job_artifact_body \
	}

/* clang-format off */
static struct cy_route gateway[] = {
	{ .method = "POST", .pattern = "/v1/auth/login", .auth = AUTH_NONE,
	  .body_limit = BODY_SMALL, .handler = h_auth_login, .body = &auth_login_body },
	{ .method = "POST", .pattern = "/v1/auth/refresh", .auth = AUTH_NONE,
	  .body_limit = BODY_SMALL, .handler = h_auth_refresh, .body = &auth_refresh_body },
	{ .method = "POST", .pattern = "/v1/auth/logout", .auth = AUTH_SESSION,
	  .body_limit = BODY_SMALL, .handler = h_auth_logout, .body = &auth_logout_body },
	{ .method = "GET", .pattern = "/v1/users/me", .auth = AUTH_ANY, .handler = h_users_me },
	{ .method = "POST", .pattern = "/v1/users/{id}/revoke_sessions", .auth = AUTH_ADMIN,
	  .body_limit = BODY_SMALL, .handler = h_users_revoke_sessions },
	/* Own password, user administration and API tokens. */
	{ .method = "POST", .pattern = "/v1/users/me/password", .auth = AUTH_SESSION,
	  .body_limit = BODY_SMALL, .handler = h_users_change_password,
	  .body = &users_password_body },
	{ .method = "POST", .pattern = "/v1/users", .auth = AUTH_ADMIN, .body_limit = BODY_SMALL,
	  .handler = h_users_create, .body = &users_create_body },
	{ .method = "GET", .pattern = "/v1/users", .auth = AUTH_ADMIN, .handler = h_users_list },
	{ .method = "GET", .pattern = "/v1/users/{id}", .auth = AUTH_ADMIN, .handler = h_users_get },
	{ .method = "POST", .pattern = "/v1/users/{id}/disable", .auth = AUTH_ADMIN,
	  .body_limit = BODY_SMALL, .handler = h_users_disable },
	{ .method = "POST", .pattern = "/v1/users/{id}/enable", .auth = AUTH_ADMIN,
	  .body_limit = BODY_SMALL, .handler = h_users_enable },
	{ .method = "POST", .pattern = "/v1/users/{id}/reset_password", .auth = AUTH_ADMIN,
	  .body_limit = BODY_SMALL, .handler = h_users_reset_password,
	  .body = &users_reset_password_body },
	{ .method = "POST", .pattern = "/v1/users/{id}/role", .auth = AUTH_ADMIN,
	  .body_limit = BODY_SMALL, .handler = h_users_set_role, .body = &users_role_body },
	{ .method = "GET", .pattern = "/v1/audit", .auth = AUTH_ADMIN, .handler = h_audit_list },
	{ .method = "POST", .pattern = "/v1/tokens", .auth = AUTH_ACCOUNT, .body_limit = BODY_SMALL,
	  .handler = h_tokens_create, .body = &tokens_create_body },
	{ .method = "GET", .pattern = "/v1/tokens", .auth = AUTH_ACCOUNT, .handler = h_tokens_list },
	{ .method = "POST", .pattern = "/v1/tokens/{id}/revoke", .auth = AUTH_ACCOUNT,
	  .body_limit = BODY_SMALL, .handler = h_tokens_revoke },
	/* Queues (route-queues.c): everyone reads, admins change. */
	{ .method = "GET", .pattern = "/v1/queues", .auth = AUTH_TASKS_READ,
	  .handler = h_queues_list },
	{ .method = "POST", .pattern = "/v1/queues", .auth = AUTH_ADMIN, .body_limit = BODY_SMALL,
	  .handler = h_queues_create, .body = &queues_create_body },
	{ .method = "GET", .pattern = "/v1/queues/{name}", .auth = AUTH_TASKS_READ,
	  .handler = h_queues_get },
	{ .method = "PATCH", .pattern = "/v1/queues/{name}", .auth = AUTH_ADMIN,
	  .body_limit = BODY_SMALL, .handler = h_queues_update, .body = &queues_update_body },
	{ .method = "DELETE", .pattern = "/v1/queues/{name}", .auth = AUTH_ADMIN,
	  .handler = h_queues_delete },
	/* The caller's own skills (route-skills.c); /load before {id}. */
	{ .method = "POST", .pattern = "/v1/skills/load", .auth = AUTH_TASKS_WRITE,
	  .body_limit = BODY_CFG, .handler = h_skills_load, .body = &skills_load_body },
	{ .method = "GET", .pattern = "/v1/skills", .auth = AUTH_TASKS_READ,
	  .handler = h_skills_list },
	{ .method = "GET", .pattern = "/v1/skills/{id}", .auth = AUTH_TASKS_READ,
	  .handler = h_skills_get },
	{ .method = "PUT", .pattern = "/v1/skills/{id}", .auth = AUTH_TASKS_WRITE,
	  .body_limit = BODY_CFG, .handler = h_skills_put, .body = &skills_put_body },
	{ .method = "DELETE", .pattern = "/v1/skills/{id}", .auth = AUTH_TASKS_WRITE,
	  .handler = h_skills_delete },
	/* The caller's own secrets. */
	{ .method = "GET", .pattern = "/v1/secrets", .auth = AUTH_SECRETS,
	  .handler = h_secrets_list },
	{ .method = "PUT", .pattern = "/v1/secrets/{name}", .auth = AUTH_SECRETS,
	  .body_limit = BODY_NODE, .handler = h_secrets_put, .body = &secrets_put_body },
	{ .method = "DELETE", .pattern = "/v1/secrets/{name}", .auth = AUTH_SECRETS,
	  .handler = h_secrets_delete },
	{ .method = "POST", .pattern = "/v1/uploads", .auth = AUTH_TASKS_WRITE,
	  .body_limit = BODY_BLOB, .handler = h_uploads_create, .body_fn = b_uploads_body },
	{ .method = "POST", .pattern = "/v1/tasks", .auth = AUTH_TASKS_WRITE,
	  .body_limit = BODY_CFG, .handler = h_tasks_create, .body = &tasks_create_body },
	{ .method = "GET", .pattern = "/v1/tasks", .auth = AUTH_TASKS_READ,
	  .handler = h_tasks_list },
	{ .method = "POST", .pattern = "/v1/tasks:wait", .auth = AUTH_TASKS_READ,
	  .body_limit = BODY_NODE, .handler = h_tasks_wait, .body = &tasks_wait_body },
	{ .method = "GET", .pattern = "/v1/tasks/{id}", .auth = AUTH_TASKS_READ,
	  .handler = h_tasks_get },
	{ .method = "GET", .pattern = "/v1/tasks/{id}/result", .auth = AUTH_TASKS_READ,
	  .handler = h_tasks_result },
	{ .method = "GET", .pattern = "/v1/tasks/{id}/logs", .auth = AUTH_TASKS_READ,
	  .handler = h_tasks_logs },
	{ .method = "GET", .pattern = "/v1/tasks/{id}/artifacts", .auth = AUTH_TASKS_READ,
	  .handler = h_tasks_artifacts_list },
	{ .method = "GET", .pattern = "/v1/tasks/{id}/artifacts/{ref}", .auth = AUTH_TASKS_READ,
	  .handler = h_tasks_artifact_get },
	{ .method = "POST", .pattern = "/v1/tasks/{id}/cancel", .auth = AUTH_TASKS_WRITE,
	  .body_limit = BODY_SMALL, .handler = h_tasks_cancel },
	/* Accounting of finished job attempts: own records, or everyone's for operators. */
	{ .method = "GET", .pattern = "/v1/accounting/jobs", .auth = AUTH_TASKS_READ,
	  .handler = h_accounting_jobs },
	{ .method = "GET", .pattern = "/v1/accounting/summary", .auth = AUTH_TASKS_READ,
	  .handler = h_accounting_summary },
	/* The caller's recurring tasks (route-schedules.c). */
	{ .method = "POST", .pattern = "/v1/schedules", .auth = AUTH_TASKS_WRITE,
	  .body_limit = BODY_CFG, .handler = h_schedules_create, .body = &schedules_create_body },
	{ .method = "GET", .pattern = "/v1/schedules", .auth = AUTH_TASKS_READ,
	  .handler = h_schedules_list },
	{ .method = "GET", .pattern = "/v1/schedules/{id}", .auth = AUTH_TASKS_READ,
	  .handler = h_schedules_get },
	{ .method = "PATCH", .pattern = "/v1/schedules/{id}", .auth = AUTH_TASKS_WRITE,
	  .body_limit = BODY_SMALL, .handler = h_schedules_patch, .body = &schedules_patch_body },
	{ .method = "DELETE", .pattern = "/v1/schedules/{id}", .auth = AUTH_TASKS_WRITE,
	  .handler = h_schedules_delete },
	/* Task and node state changes as server-sent events (route-events.c). */
	{ .method = "GET", .pattern = "/v1/events", .auth = AUTH_TASKS_READ, .handler = h_events },
	/* The caller's webhooks (route-webhooks.c). */
	{ .method = "POST", .pattern = "/v1/webhooks", .auth = AUTH_TASKS_WRITE,
	  .body_limit = BODY_SMALL, .handler = h_webhooks_create, .body = &webhooks_create_body },
	{ .method = "GET", .pattern = "/v1/webhooks", .auth = AUTH_TASKS_READ,
	  .handler = h_webhooks_list },
	{ .method = "DELETE", .pattern = "/v1/webhooks/{id}", .auth = AUTH_TASKS_WRITE,
	  .handler = h_webhooks_delete },
	{ .method = "GET", .pattern = "/v1/webhooks/{id}/deliveries", .auth = AUTH_TASKS_READ,
	  .handler = h_webhooks_deliveries },
	NODE_ROUTES,
	NODE_JOB_ROUTES,
	/* Node fleet. */
	{ .method = "GET", .pattern = "/v1/nodes", .auth = AUTH_NODES_READ,
	  .handler = h_nodes_list },
	{ .method = "POST", .pattern = "/v1/nodes/enrollment-tokens", .auth = AUTH_ADMIN,
	  .body_limit = BODY_SMALL, .handler = h_nodes_enroll, .body = &nodes_enroll_body },
	{ .method = "GET", .pattern = "/v1/nodes/{id}", .auth = AUTH_NODES_READ,
	  .handler = h_nodes_get },
	{ .method = "GET", .pattern = "/v1/nodes/{id}/telemetry/stats", .auth = AUTH_NODES_READ,
	  .handler = h_nodes_telemetry_stats },
	{ .method = "GET", .pattern = "/v1/nodes/{id}/telemetry/logs", .auth = AUTH_NODES_READ,
	  .handler = h_nodes_telemetry_logs },
	{ .method = "DELETE", .pattern = "/v1/nodes/{id}", .auth = AUTH_NODES_WRITE,
	  .handler = h_nodes_remove },
	{ .method = "POST", .pattern = "/v1/nodes/{id}/drain", .auth = AUTH_NODES_WRITE,
	  .body_limit = BODY_SMALL, .handler = h_nodes_drain, .body = &nodes_drain_body },
	{ .method = "POST", .pattern = "/v1/nodes/{id}/undrain", .auth = AUTH_NODES_WRITE,
	  .body_limit = BODY_SMALL, .handler = h_nodes_undrain },
	{ .method = "POST", .pattern = "/v1/nodes/{id}/replace", .auth = AUTH_ADMIN,
	  .body_limit = BODY_SMALL, .handler = h_nodes_replace, .body = &nodes_replace_body },
	{ .method = "POST", .pattern = "/v1/nodes/{id}/enable", .auth = AUTH_NODES_WRITE,
	  .body_limit = BODY_SMALL, .handler = h_nodes_enable },
	{ .method = "POST", .pattern = "/v1/nodes/{id}/disable", .auth = AUTH_NODES_WRITE,
	  .body_limit = BODY_SMALL, .handler = h_nodes_disable },
	{ .method = "POST", .pattern = "/v1/config/push", .auth = AUTH_ADMIN,
	  .body_limit = BODY_SMALL, .handler = h_config_push, .body = &config_push_body },
	{ .method = "GET", .pattern = "/v1/config/status", .auth = AUTH_NODES_READ,
	  .handler = h_config_status },
	{ .method = "GET", .pattern = "/v1/config", .auth = AUTH_NODES_READ,
	  .handler = h_config_get },
	{ .method = "GET", .pattern = "/metrics", .auth = AUTH_METRICS, .handler = h_metrics },
	/* Workflow leases: the workflow runner's token (workflow.runner_token_file). */
	WORKFLOW_ROUTES,
	/* Inference: OpenAI-compatible, errors in OpenAI's shape. */
	{ .method = "GET", .pattern = "/v1/models", .auth = AUTH_INFERENCE,
	  .handler = h_models_list, .error_fn = cy_openai_error },
	{ .method = "POST", .pattern = "/v1/chat/completions", .auth = AUTH_INFERENCE,
	  .body_limit = BODY_CFG, .handler = h_chat_completions, .error_fn = cy_openai_error,
	  .body = &chat_completions_body },
};
/* clang-format on */

static struct cy_route control[] = {
	NODE_ROUTES,
	NODE_JOB_ROUTES,
	/* Where contract.md puts them; the gateway serves them too. */
	WORKFLOW_ROUTES,
};

/* Replaces BODY_CFG with the configured cap (idempotent). */
static void
routes_fix(struct cy_route *r, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (r[i].body_limit == BODY_CFG)
			r[i].body_limit = (size_t)srv.cfg.max_body_bytes;
		else if (r[i].body_limit == BODY_BLOB)
			r[i].body_limit = (size_t)srv.cfg.attach_max_bytes;
		else if (r[i].body_limit == BODY_ARTIFACT)
			r[i].body_limit = (size_t)srv.cfg.artifact_max_bytes;
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

/* One listener's rows for routes_print. */
static void
routes_print_table(FILE *f, const char *listener, const struct cy_route *r, size_t n)
{
	const char *name, *role;
	char scopes[128];
	size_t i;

	for (i = 0; i < n; i++) {
		if (!auth_kind_describe((enum auth_kind)r[i].auth, &name, &role, scopes,
			sizeof(scopes))) {
			fprintf(f, "%s\t%s\t%s\tUNKNOWN(%d)\t-\t-\n", listener, r[i].method,
			    r[i].pattern, r[i].auth);
			continue;
		}
		fprintf(f, "%s\t%s\t%s\t%s\t%s\t%s\n", listener, r[i].method, r[i].pattern, name,
		    role, *scopes ? scopes : "-");
	}
}

void
routes_print(FILE *f)
{
	fputs("listener\tmethod\tpattern\tauth\tleast_role\ttoken_scopes\n", f);
	routes_print_table(f, "gateway", gateway, sizeof(gateway) / sizeof(gateway[0]));
	routes_print_table(f, "control", control, sizeof(control) / sizeof(control[0]));
}

/* One listener's body tables into o (a route on both listeners once). */
static void
routes_bodies_add(json_t *o, const struct cy_route *r, size_t n)
{
	char key[256];
	size_t i;

	for (i = 0; i < n; i++) {
		if (!r[i].body)
			continue;
		xsnprintf(key, sizeof(key), "%s %s", r[i].method, r[i].pattern);
		json_object_set_new(o, key, cy_jcheck_schema(r[i].body));
	}
}

void
routes_print_bodies(FILE *f)
{
	json_t *o = json_object();

	routes_bodies_add(o, gateway, sizeof(gateway) / sizeof(gateway[0]));
	routes_bodies_add(o, control, sizeof(control) / sizeof(control[0]));
	json_dumpf(o, f, JSON_INDENT(2) | JSON_SORT_KEYS);
	fputc('\n', f);
	json_decref(o);
}
