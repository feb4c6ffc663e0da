/*
 * The command table: every cynork command and group, in help order.  Each
 * entry is defined in its group's file; this list is the one place that
 * names them all (tmux cmd_table[], git commands[]).
 */
#include <stddef.h>

#include "cynork.h"
#include "banned.h"

extern const struct cmd cmd_version, cmd_status, cmd_login, cmd_logout, cmd_whoami;
extern const struct cmd cmd_auth_login, cmd_auth_logout, cmd_auth_whoami, cmd_auth_refresh;
extern const struct cmd cmd_context_list, cmd_context_use, cmd_context_add, cmd_context_remove;
extern const struct cmd cmd_task_create, cmd_task_list, cmd_task_get, cmd_task_result;
extern const struct cmd cmd_task_cancel, cmd_task_logs, cmd_nodes_list, cmd_nodes_get;
extern const struct cmd cmd_nodes_stats, cmd_nodes_logs;
/* Node fleet: cmd-nodes.c, cmd-config.c */
extern const struct cmd cmd_nodes_drain, cmd_nodes_undrain, cmd_nodes_enable, cmd_nodes_disable;
extern const struct cmd cmd_nodes_remove, cmd_nodes_enroll, cmd_nodes_replace;
extern const struct cmd cmd_config_push, cmd_config_get, cmd_config_status;
/* identity and access */
extern const struct cmd cmd_token_create, cmd_token_list, cmd_token_revoke;
extern const struct cmd cmd_secret_set, cmd_secret_list, cmd_secret_delete;
extern const struct cmd cmd_schedule_create, cmd_schedule_list, cmd_schedule_get,
    cmd_schedule_enable, cmd_schedule_disable, cmd_schedule_delete;
extern const struct cmd cmd_skills_load, cmd_skills_list, cmd_skills_get, cmd_skills_update;
extern const struct cmd cmd_skills_delete;
extern const struct cmd cmd_user_create, cmd_user_list, cmd_user_get, cmd_user_disable;
extern const struct cmd cmd_user_enable, cmd_user_reset_password, cmd_user_set_role;
extern const struct cmd cmd_user_revoke_sessions, cmd_user_passwd, cmd_audit_list;
extern const struct cmd cmd_task_wait, cmd_task_artifacts_list, cmd_task_artifacts_get;
extern const struct cmd cmd_events, cmd_webhook_create, cmd_webhook_list, cmd_webhook_delete;
extern const struct cmd cmd_webhook_deliveries;
/* inference */
extern const struct cmd cmd_chat, cmd_models_list;
/* scheduling */
extern const struct cmd cmd_queue_list, cmd_queue_show, cmd_queue_create, cmd_queue_set;
extern const struct cmd cmd_queue_delete;
/* accounting */
extern const struct cmd cmd_accounting_list, cmd_accounting_summary;

static const struct cmd grp_auth = {
	.path = "auth",
	.summary = "log in and out, show the session",
};
static const struct cmd grp_context = {
	.path = "context",
	.aliases = "contexts",
	.summary = "the gateways of the config file, each with its own session",
};
static const struct cmd grp_task = {
	.path = "task",
	.aliases = "tasks",
	.summary = "create tasks and read their results",
};
static const struct cmd grp_task_artifacts = {
	.path = "task artifacts",
	.aliases = "artifact",
	.summary = "files a task's job left behind",
};
static const struct cmd grp_nodes = {
	.path = "nodes",
	.aliases = "node",
	.summary = "worker nodes",
};
static const struct cmd grp_config = {
	.path = "config",
	.summary = "push configuration to nodes (admin)",
};
/* identity and access */
static const struct cmd grp_token = {
	.path = "token",
	.aliases = "tokens",
	.summary = "API tokens for CI",
};
static const struct cmd grp_schedule = {
	.path = "schedule",
	.aliases = "schedules",
	.summary = "recurring tasks (cron)",
};
static const struct cmd grp_secret = {
	.path = "secret",
	.aliases = "secrets",
	.summary = "secrets for your jobs (values never shown)",
};
static const struct cmd grp_webhook = {
	.path = "webhook",
	.aliases = "webhooks",
	.summary = "signed POSTs of your events to a URL (task finished, node lost)",
};
static const struct cmd grp_skills = {
	.path = "skills",
	.aliases = "skill",
	.summary = "your Markdown skills",
};
static const struct cmd grp_user = {
	.path = "user",
	.aliases = "users",
	.summary = "user accounts and roles (admin)",
};
static const struct cmd grp_models = {
	.path = "models",
	.aliases = "model",
	.summary = "the models the nodes serve",
};
static const struct cmd grp_queue = {
	.path = "queue",
	.aliases = "queues",
	.summary = "queues: priorities, limits, the order jobs run in",
};
static const struct cmd grp_accounting = {
	.path = "accounting",
	.aliases = "acct",
	.summary = "what finished jobs used, per attempt and in total (like sacct)",
};
static const struct cmd grp_audit = {
	.path = "audit",
	.summary = "the audit trail (admin)",
};

const struct cmd *const cmd_table[] = {
	&cmd_version,
	&cmd_status,
	&cmd_login,
	&cmd_logout,
	&cmd_whoami,
	&grp_auth,
	&cmd_auth_login,
	&cmd_auth_logout,
	&cmd_auth_whoami,
	&cmd_auth_refresh,
	&grp_context,
	&cmd_context_list,
	&cmd_context_use,
	&cmd_context_add,
	&cmd_context_remove,
	&grp_task,
	&cmd_task_create,
	&cmd_task_list,
	&cmd_task_get,
	&cmd_task_result,
	&cmd_task_cancel,
	&cmd_task_logs,
	&cmd_task_wait,
	&grp_task_artifacts,
	&cmd_task_artifacts_list,
	&cmd_task_artifacts_get,
	&grp_queue,
	&cmd_queue_list,
	&cmd_queue_show,
	&cmd_queue_create,
	&cmd_queue_set,
	&cmd_queue_delete,
	&grp_schedule,
	&cmd_schedule_create,
	&cmd_schedule_list,
	&cmd_schedule_get,
	&cmd_schedule_enable,
	&cmd_schedule_disable,
	&cmd_schedule_delete,
	&cmd_events,
	&grp_webhook,
	&cmd_webhook_create,
	&cmd_webhook_list,
	&cmd_webhook_delete,
	&cmd_webhook_deliveries,
	/* inference */
	&cmd_chat,
	&grp_models,
	&cmd_models_list,
	&grp_accounting,
	&cmd_accounting_list,
	&cmd_accounting_summary,
	&grp_nodes,
	&cmd_nodes_list,
	&cmd_nodes_get,
	&cmd_nodes_stats,
	&cmd_nodes_logs,
	&cmd_nodes_drain,
	&cmd_nodes_undrain,
	&cmd_nodes_enable,
	&cmd_nodes_disable,
	&cmd_nodes_remove,
	&cmd_nodes_replace,
	&cmd_nodes_enroll,
	&grp_config,
	&cmd_config_push,
	&cmd_config_get,
	&cmd_config_status,
	/* identity and access */
	&grp_token,
	&cmd_token_create,
	&cmd_token_list,
	&cmd_token_revoke,
	&grp_secret,
	&cmd_secret_set,
	&cmd_secret_list,
	&cmd_secret_delete,
	&grp_skills,
	&cmd_skills_load,
	&cmd_skills_list,
	&cmd_skills_get,
	&cmd_skills_update,
	&cmd_skills_delete,
	&grp_user,
	&cmd_user_create,
	&cmd_user_list,
	&cmd_user_get,
	&cmd_user_disable,
	&cmd_user_enable,
	&cmd_user_reset_password,
	&cmd_user_set_role,
	&cmd_user_revoke_sessions,
	&cmd_user_passwd,
	&grp_audit,
	&cmd_audit_list,
	/* the shell, completion scripts, help (engine commands) */
	&cmd_shell,
	&cmd_completion,
	&cmd_help,
	&cmd_man,
};

const size_t cmd_table_len = sizeof(cmd_table) / sizeof(cmd_table[0]);
