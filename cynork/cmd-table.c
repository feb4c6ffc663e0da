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
extern const struct cmd cmd_task_create, cmd_task_list, cmd_task_get, cmd_task_result;
extern const struct cmd cmd_task_cancel, cmd_task_logs, cmd_nodes_list, cmd_nodes_get;
extern const struct cmd cmd_task_wait;

static const struct cmd grp_auth = { "auth", NULL, "log in and out, show the session", NULL, NULL,
	0, 0, 0, NULL, NULL };
static const struct cmd grp_task = { "task", "tasks", "create tasks and read their results", NULL,
	NULL, 0, 0, 0, NULL, NULL };
static const struct cmd grp_nodes = { "nodes", "node", "worker nodes", NULL, NULL, 0, 0, 0, NULL,
	NULL };

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
	&grp_task,
	&cmd_task_create,
	&cmd_task_list,
	&cmd_task_get,
	&cmd_task_result,
	&cmd_task_cancel,
	&cmd_task_logs,
	&cmd_task_wait,
	&grp_nodes,
	&cmd_nodes_list,
	&cmd_nodes_get,
	/* issue 6: the shell, completion scripts, help (engine commands) */
	&cmd_shell,
	&cmd_completion,
	&cmd_help,
	&cmd_man,
};

const size_t cmd_table_len = sizeof(cmd_table) / sizeof(cmd_table[0]);
