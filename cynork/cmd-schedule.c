/*
 * cynork schedule create|list|get|enable|disable|delete: recurring tasks
 * (/v1/schedules).  schedule create takes the task create flags that make
 * the task (task-body.h: parsed, checked and turned into the body by the
 * same code as task create) with --cron and --name; the cron expression is
 * checked here by the server's own parser (lib/cron.h) before any request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cron.h"
#include "cynork.h"
#include "json.h"
#include "strnum.h"
#include "task-body.h"
#include "banned.h"

/*
 * A schedule as -o json shows it: the server's id named schedule_id, as
 * the record line and the table call it, and its task with the input under
 * the name of its mode, as task get shows a task (commands an array,
 * script, or prompt), not the request body's prompt; the other keys as
 * they came.
 */
static json_t *
schedule_view(const json_t *srv)
{
	json_t *o = out_id_view(srv, "schedule_id"), *task = json_object_get(srv, "task");

	if (json_is_object(task))
		json_object_set_new(o, "task", task_body_view(task));
	return o;
}

/* schedule create's own flags, then the task's: exit 64 before any request. */
static int
schedule_create_check(const struct parsed *p)
{
	const char *name = opt_get(p, "name"), *cron = opt_get(p, "cron");
	struct cy_cron c;
	char why[256];
	size_t i;

	if (!name || !cron)
		return fail(EXIT_USAGE, "give the schedule --name NAME and --cron EXPR");
	for (i = 0; name[i]; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
			(i > 0 && strchr("._-", name[i]))))
			break;
	if (i == 0 || name[i] || i > 63)
		return fail(EXIT_USAGE,
		    "invalid value '%s' for --name: want 1 to 63 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit",
		    name);
	if (cy_cron_parse(cron, &c, why, sizeof(why)) < 0)
		return fail(EXIT_USAGE, "invalid value '%s' for --cron: %s", cron, why);
	return task_body_check(p);
}

static int
schedule_create(struct ctx *c, const struct parsed *p)
{
	struct cy_buf line = CY_BUF_INIT;
	json_t *task, *req, *res = NULL;
	long long hist;
	int rc;

	if ((rc = task_body_build(p, &task)) != 0)
		return rc;
	req = json_pack("{s:s, s:s, s:o, s:b}", "name", opt_get(p, "name"), "cron",
	    opt_get(p, "cron"), "task", task, "enabled", !opt_set(p, "disabled"));
	if (opt_get(p, "max-history") &&
	    cy_strtonum(opt_get(p, "max-history"), 1, 1000, &hist, NULL) == 0)
		json_object_set_new(req, "max_history", json_integer(hist));
	rc = api_call(c, "POST", "/v1/schedules", req, true, &res);
	json_decref(req);
	if (rc)
		return rc;
	if (out_json(c)) {
		print_json(schedule_view(res));
		json_decref(res);
		return 0;
	}
	if (out_name(c)) {
		printf("%s\n", out_dash(res, "name"));
	} else {
		rec_add(&line, "schedule_id", cy_json_str(res, "id"));
		rec_add(&line, "name", cy_json_str(res, "name"));
		rec_add(&line, "cron", cy_json_str(res, "cron"));
		rec_add(&line, "next_run_at", out_dash(res, "next_run_at"));
		print_line(&line);
	}
	json_decref(res);
	return 0;
}

static const struct col schedule_cols[] = {
	{ "NAME", 0 },
	{ "CRON", 0 },
	{ "ENABLED", 0 },
	{ "NEXT_RUN_AT", 0 },
	{ "LAST_RUN_AT", COL_TIME },
	{ "SCHEDULE_ID", COL_WIDE },
	{ NULL, 0 },
};

static int
schedule_list(struct ctx *c, const struct parsed *p)
{
	struct out_table *t;
	json_t *res = NULL, *list, *s;
	size_t i;
	int rc;

	if ((rc = api_call(c, "GET", "/v1/schedules", NULL, true, &res)))
		return rc;
	list = json_object_get(res, "schedules");
	if (!json_is_array(list)) {
		json_decref(res);
		return fail(EXIT_PROTOCOL, "malformed response: no 'schedules' list");
	}
	if (out_json(c)) {
		json_t *o = json_pack("{s:[]}", "schedules");

		json_array_foreach(list, i, s)
			json_array_append_new(json_object_get(o, "schedules"), schedule_view(s));
		json_decref(res);
		return print_json(o);
	}
	t = out_name(c) ? NULL : table_new(c, p, schedule_cols);
	json_array_foreach(list, i, s) {
		if (!t) {
			printf("%s\n", out_dash(s, "name"));
			continue;
		}
		table_row(t);
		table_cell(t, cy_json_str(s, "name"));
		table_cell(t, cy_json_str(s, "cron"));
		table_cell(t, json_is_true(json_object_get(s, "enabled")) ? "true" : "false");
		table_cell(t, cy_json_str(s, "next_run_at"));
		table_cell(t, cy_json_str(s, "last_run_at"));
		table_cell(t, cy_json_str(s, "id"));
	}
	json_decref(res);
	return t ? table_print(t) : 0;
}

static const struct col run_cols[] = {
	{ "SLOT", 0 },
	{ "TASK_ID", 0 },
	{ "TASK_NAME", 0 },
	{ "STATUS", 0 },
	{ "ERROR", 0 },
	{ NULL, 0 },
};

/* The path of the schedule named by the first argument. */
static char *
schedule_path(const struct parsed *p)
{
	char *e = url_escape(p->args[0]), *path = xasprintf("/v1/schedules/%s", e);

	free(e);
	return path;
}

static int
schedule_get(struct ctx *c, const struct parsed *p)
{
	struct cy_buf line = CY_BUF_INIT;
	char *path = schedule_path(p), *task;
	struct out_table *t;
	json_t *res = NULL, *r, *view;
	size_t i;
	int rc;

	rc = api_call(c, "GET", path, NULL, true, &res);
	free(path);
	if (rc)
		return rc;
	view = schedule_view(res);
	json_decref(res);
	res = view;
	if (out_json(c))
		return print_json(res);
	if (out_name(c)) {
		printf("%s\n", out_dash(res, "name"));
		json_decref(res);
		return 0;
	}
	rec_add(&line, "schedule_id", cy_json_str(res, "schedule_id"));
	rec_add(&line, "name", cy_json_str(res, "name"));
	rec_add(&line, "cron", cy_json_str(res, "cron"));
	rec_add(&line, "timezone", cy_json_str(res, "timezone"));
	rec_add(&line, "enabled", json_is_true(json_object_get(res, "enabled")) ? "true" : "false");
	rec_add(&line, "next_run_at", out_dash(res, "next_run_at"));
	rec_add(&line, "last_run_at", out_dash(res, "last_run_at"));
	task = cy_json_dump(json_object_get(res, "task"));
	rec_add(&line, "task", task);
	free(task);
	print_line(&line);
	t = table_new(c, p, run_cols);
	json_array_foreach(json_object_get(res, "runs"), i, r) {
		table_row(t);
		table_cell(t, cy_json_str(r, "slot"));
		table_cell(t, cy_json_str(r, "task_id"));
		table_cell(t, cy_json_str(r, "task_name"));
		table_cell(t, cy_json_str(r, "status"));
		table_cell(t, cy_json_str(r, "error"));
	}
	json_decref(res);
	return table_print(t);
}

/* PATCH the schedule with body (stolen); prints name=... enabled=... next_run_at=... */
static int
schedule_patch(struct ctx *c, const struct parsed *p, json_t *body)
{
	struct cy_buf line = CY_BUF_INIT;
	char *path = schedule_path(p);
	json_t *res = NULL;
	int rc;

	rc = api_call(c, "PATCH", path, body, true, &res);
	free(path);
	json_decref(body);
	if (rc)
		return rc;
	if (out_json(c)) {
		print_json(schedule_view(res));
		json_decref(res);
		return 0;
	}
	rec_add(&line, "name", cy_json_str(res, "name"));
	rec_add(&line, "enabled", json_is_true(json_object_get(res, "enabled")) ? "true" : "false");
	rec_add(&line, "next_run_at", out_dash(res, "next_run_at"));
	json_decref(res);
	return print_line(&line);
}

static int
schedule_enable(struct ctx *c, const struct parsed *p)
{
	return schedule_patch(c, p, json_pack("{s:b}", "enabled", 1));
}

static int
schedule_disable(struct ctx *c, const struct parsed *p)
{
	return schedule_patch(c, p, json_pack("{s:b}", "enabled", 0));
}

static int
schedule_delete(struct ctx *c, const struct parsed *p)
{
	struct cy_buf line = CY_BUF_INIT;
	char *path;
	int rc = 0;

	if (!confirm(c, p, &rc, "delete schedule '%s' (its tasks stay)", p->args[0]))
		return rc;
	path = schedule_path(p);
	rc = api_call(c, "DELETE", path, NULL, true, NULL);
	free(path);
	if (rc)
		return rc;
	if (out_json(c))
		return print_json(json_pack("{s:s, s:b}", "schedule", p->args[0], "deleted", 1));
	rec_add(&line, "schedule", p->args[0]);
	rec_add(&line, "deleted", "true");
	return print_line(&line);
}

/* clang-format off */
static const struct opt create_opts[] = {
	{ .name = "name", .shrt = 'n', .kind = OPT_STR, .arg = "NAME",
	  .help = "the schedule's name (1 to 63 of a-z 0-9 . _ -)" },
	{ .name = "cron", .kind = OPT_STR, .arg = "EXPR",
	  .help = "when: minute hour day-of-month month day-of-week (UTC), @hourly, @daily, ...; 6 fields: seconds first" },
	{ .name = "max-history", .kind = OPT_INT, .arg = "N", .min = 1, .max = 1000,
	  .help = "runs kept in the history (1 to 1000, default 20)" },
	{ .name = "disabled", .kind = OPT_BOOL, .help = "create it disabled (schedule enable starts it)" },
	TASK_BODY_OPTS,
	{ NULL }
};

static const struct opt list_opts[] = {
	{ .name = "no-headers", .kind = OPT_BOOL, .help = "omit the header line" },
	{ NULL }
};

static const struct opt delete_opts[] = {
	{ .name = "yes", .shrt = 'y', .kind = OPT_BOOL, .help = "do not ask for confirmation" },
	{ NULL }
};
/* clang-format on */

const struct cmd cmd_schedule_create = {
	.path = "schedule create",
	.summary = "run a task on a schedule (cron)",
	.opts = create_opts,
	.flags = CMD_NEEDS_AUTH,
	.check = schedule_create_check,
	.exec = schedule_create,
	.doc =
	    "Creates the schedule NAME: at each time its cron expression names (UTC), the server creates the task the other flags describe, for you, as task create would (the same flags: -p/-t/-f, -s, --command, --commands-file, --env, --secret, --image, --timeout, --label, ...; not --attach, --wait or --follow). The expression is minute hour day-of-month month day-of-week, each *, a number, a range a-b, a list a,b and a step */n or a-b/n; months jan-dec and days sun-sat by name; day-of-week 7 is Sunday; when both day fields are restricted a day matches either (as cron does). The macros @hourly, @daily (@midnight), @weekly, @monthly and @yearly (@annually) stand for their expressions. As an extension, 6 fields put seconds first (*/30 * * * * *: every 30 seconds). A bad expression or task is a usage error (exit 64) before any request; the server checks the task as task create's would be (a secret you lack, a model nobody serves, a node nobody has: exit 65) and stores nothing then.\n\nEach time (a slot) runs once however many server replicas run; a slot missed while every server was down is skipped, except the latest, which runs when a server is back. A slot whose task the server refuses by then (a secret deleted since) is recorded with the reason, and the schedule goes on. --max-history N keeps the newest N runs (default 20); the tasks stay until retention removes them. Prints schedule_id=ID name=NAME cron=EXPR next_run_at=TIME.",
};
const struct cmd cmd_schedule_list = {
	.path = "schedule list",
	.aliases = "ls",
	.summary = "list your schedules",
	.opts = list_opts,
	.flags = CMD_NEEDS_AUTH,
	.exec = schedule_list,
	.doc =
	    "A TAB-separated table: NAME, CRON, ENABLED, NEXT_RUN_AT (- while disabled), LAST_RUN_AT; -o wide adds SCHEDULE_ID. -o json prints {\"schedules\": [...]}, each schedule as schedule get -o json shows it (without runs).",
};
const struct cmd cmd_schedule_get = {
	.path = "schedule get",
	.summary = "show a schedule and its newest runs",
	.usage = "<name|id>",
	.opts = list_opts,
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_NEEDS_AUTH,
	.exec = schedule_get,
	.doc =
	    "Prints a line (schedule_id name cron timezone enabled next_run_at last_run_at task), then the history, newest first: SLOT, TASK_ID, TASK_NAME, STATUS (the task's) and ERROR (why the slot's task was refused). task is the task each slot creates, as JSON, with the names task get -o json uses: the input under the name of its mode (commands as an array, script, or prompt), then the other task create fields as sent (env, timeout_seconds, ...). -o json prints the schedule (its id as schedule_id) with the same task object and its runs (see JSON OUTPUT in cynork(1)). Another user's schedule, or none, is exit 66.",
};
const struct cmd cmd_schedule_enable = {
	.path = "schedule enable",
	.summary = "start a schedule again",
	.usage = "<name|id>",
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_NEEDS_AUTH,
	.exec = schedule_enable,
	.doc =
	    "Enables the schedule: it runs from its next slot after now (slots passed while it was disabled do not run). Prints name=NAME enabled=true next_run_at=TIME.",
};
const struct cmd cmd_schedule_disable = {
	.path = "schedule disable",
	.summary = "stop a schedule (kept, with its history)",
	.usage = "<name|id>",
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_NEEDS_AUTH,
	.exec = schedule_disable,
	.doc =
	    "Disables the schedule: no slot runs until schedule enable; tasks it made already go on. Prints name=NAME enabled=false next_run_at=-.",
};
const struct cmd cmd_schedule_delete = {
	.path = "schedule delete",
	.aliases = "rm",
	.summary = "delete a schedule",
	.usage = "<name|id>",
	.opts = delete_opts,
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_NEEDS_AUTH,
	.exec = schedule_delete,
	.doc =
	    "Deletes the schedule and its history; the tasks it made stay. Asks for confirmation on a terminal unless -y; without -y and without a terminal it does nothing and exits 64. Prints schedule=NAME deleted=true (-o json: {\"schedule\": NAME, \"deleted\": true}); none of yours is exit 66.",
};
