/*
 * cynork queue list|show|create|set|delete: the named queues, their
 * limits, and the head of a queue in dispatch order with each job's
 * pending reason (GET/POST/PATCH/DELETE /v1/queues).  Changing queues is
 * for admins; everyone lists and shows them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cynork.h"
#include "json.h"
#include "strnum.h"
#include "banned.h"

static const struct col queue_cols[] = {
	{ "NAME", 0 },
	{ "PRIORITY", COL_RIGHT },
	{ "MAX_RUNNING", COL_RIGHT },
	{ "MAX_PER_USER", COL_RIGHT },
	{ "RUNNING", COL_RIGHT },
	{ "QUEUED", COL_RIGHT },
	{ "DESCRIPTION", COL_TRUNC },
	{ NULL, 0 },
};

static const struct col head_cols[] = {
	{ "POS", COL_RIGHT },
	{ "OWNER", 0 },
	{ "TASK_ID", 0 },
	{ "PRIORITY", COL_RIGHT },
	{ "FAIR_RANK", COL_RIGHT },
	{ "CREATED", COL_TIME },
	{ "PENDING_REASON", COL_TRUNC },
	{ "CPUS", COL_RIGHT | COL_WIDE },
	{ "MEMORY_MB", COL_RIGHT | COL_WIDE },
	{ "GPUS", COL_RIGHT | COL_WIDE },
	{ NULL, 0 },
};

/* A limit cell: the number, or "-" for none. */
static void
limit_cell(struct out_table *t, const json_t *q, const char *key)
{
	if (json_is_integer(json_object_get(q, key)))
		table_cell_key(t, q, key);
	else
		table_cell(t, "-");
}

static void
queue_row(struct out_table *t, const json_t *q)
{
	table_row(t);
	table_cell_key(t, q, "name");
	table_cell_key(t, q, "priority");
	limit_cell(t, q, "max_running");
	limit_cell(t, q, "max_running_per_user");
	table_cell_key(t, q, "running");
	table_cell_key(t, q, "queued");
	table_cell_key(t, q, "description");
}

static int
queue_list(struct ctx *c, const struct parsed *p)
{
	json_t *res = NULL, *qs, *q;
	struct out_table *t;
	size_t i;
	int rc;

	if ((rc = api_call(c, "GET", "/v1/queues", NULL, true, &res)))
		return rc;
	qs = json_object_get(res, "queues");
	if (!json_is_array(qs)) {
		json_decref(res);
		return fail(EXIT_PROTOCOL, "malformed response: no 'queues' list");
	}
	if (out_json(c))
		return print_json(res);
	t = out_name(c) ? NULL : table_new(c, p, queue_cols);
	json_array_foreach(qs, i, q) {
		if (t)
			queue_row(t, q);
		else
			printf("%s\n", out_dash(q, "name"));
	}
	json_decref(res);
	return t ? table_print(t) : 0;
}

static int
queue_show(struct ctx *c, const struct parsed *p)
{
	json_t *res = NULL, *head, *j, *u;
	struct out_table *t;
	char *e = url_escape(p->args[0]), *path;
	size_t i;
	int rc;

	path = opt_get(p, "limit") ? xasprintf("/v1/queues/%s?limit=%s", e, opt_get(p, "limit")) :
				     xasprintf("/v1/queues/%s", e);
	free(e);
	rc = api_call(c, "GET", path, NULL, true, &res);
	free(path);
	if (rc)
		return rc;
	head = json_object_get(res, "head");
	if (!json_is_array(head)) {
		json_decref(res);
		return fail(EXIT_PROTOCOL, "malformed response: no 'head' list");
	}
	if (out_json(c))
		return print_json(res);
	if (out_name(c)) {
		json_array_foreach(head, i, j)
			printf("%s\n", out_dash(j, "task_id"));
		json_decref(res);
		return 0;
	}
	t = table_new(c, p, head_cols);
	json_array_foreach(head, i, j) {
		table_row(t);
		table_cell_key(t, j, "position");
		table_cell(t, json_is_string(json_object_get(j, "owner")) ?
				  cy_json_str(j, "owner") :
				  "(other)");
		table_cell_key(t, j, "task_id");
		table_cell_key(t, j, "priority");
		table_cell_key(t, j, "fair_rank");
		table_cell_key(t, j, "created_at");
		table_cell_key(t, j, "pending_reason");
		table_cell_key(t, j, "req_cpus");
		table_cell_key(t, j, "req_memory_mb");
		table_cell_key(t, j, "req_gpus");
	}
	rc = table_print(t);
	fflush(stdout);
	/* The summary goes to standard error, so the table stays a table. */
	note(c,
	    "queue %s: priority %lld, %lld running, %lld queued; jobs go by priority, then fair-share rank (users take turns), then age",
	    cy_json_str(res, "name"),
	    (long long)json_integer_value(json_object_get(res, "priority")),
	    (long long)json_integer_value(json_object_get(res, "running")),
	    (long long)json_integer_value(json_object_get(res, "queued")));
	json_array_foreach(json_object_get(res, "users"), i, u)
		note(c, "  %s: %lld running, %lld queued",
		    json_is_string(json_object_get(u, "owner")) ? cy_json_str(u, "owner") :
								  "(other)",
		    (long long)json_integer_value(json_object_get(u, "running")),
		    (long long)json_integer_value(json_object_get(u, "queued")));
	json_decref(res);
	return rc;
}

/* The limit flag as the body wants it: 0 clears it (null). */
static void
limit_field(const struct parsed *p, const char *flag, json_t *body, const char *key)
{
	long long n;
	const char *errstr;

	if (!opt_get(p, flag) || cy_strtonum(opt_get(p, flag), 0, 1000000, &n, &errstr) < 0)
		return;
	json_object_set_new(body, key, n ? json_integer(n) : json_null());
}

static int
queue_put(struct ctx *c, const struct parsed *p, bool update)
{
	json_t *body = json_object(), *res = NULL;
	struct cy_buf line = CY_BUF_INIT;
	const char *errstr;
	char *path, *e;
	long long n;
	int rc;

	if (!update)
		json_object_set_new(body, "name", json_string(p->args[0]));
	if (opt_get(p, "priority") &&
	    cy_strtonum(opt_get(p, "priority"), -1000, 1000, &n, &errstr) == 0)
		json_object_set_new(body, "priority", json_integer(n));
	limit_field(p, "max-running", body, "max_running");
	limit_field(p, "max-running-per-user", body, "max_running_per_user");
	if (opt_get(p, "description"))
		json_object_set_new(body, "description", json_string(opt_get(p, "description")));
	if (update && json_object_size(body) == 0) {
		json_decref(body);
		return fail(EXIT_USAGE,
		    "nothing to change: give --priority, --max-running, --max-running-per-user or --description");
	}
	e = url_escape(p->args[0]);
	path = update ? xasprintf("/v1/queues/%s", e) : xstrdup("/v1/queues");
	free(e);
	rc = api_call(c, update ? "PATCH" : "POST", path, body, true, &res);
	free(path);
	json_decref(body);
	if (rc)
		return rc;
	if (out_json(c))
		return print_json(res);
	if (out_name(c)) {
		printf("%s\n", cy_json_str(res, "name"));
		json_decref(res);
		return 0;
	}
	rec_add(&line, "queue", cy_json_str(res, "name"));
	rec_add(&line, update ? "updated" : "created", "true");
	json_decref(res);
	return print_line(&line);
}

static int
queue_create(struct ctx *c, const struct parsed *p)
{
	return queue_put(c, p, false);
}

static int
queue_set(struct ctx *c, const struct parsed *p)
{
	return queue_put(c, p, true);
}

static int
queue_delete(struct ctx *c, const struct parsed *p)
{
	struct cy_buf line = CY_BUF_INIT;
	char *e, *path;
	int rc;

	if (!confirm(c, p, &rc, "Delete queue %s", p->args[0]))
		return rc;
	e = url_escape(p->args[0]);
	path = xasprintf("/v1/queues/%s", e);
	free(e);
	rc = api_call(c, "DELETE", path, NULL, true, NULL);
	free(path);
	if (rc)
		return rc;
	if (out_json(c))
		return print_json(json_pack("{s:s, s:b}", "queue", p->args[0], "deleted", 1));
	if (out_name(c)) {
		printf("%s\n", p->args[0]);
		return 0;
	}
	rec_add(&line, "queue", p->args[0]);
	rec_add(&line, "deleted", "true");
	return print_line(&line);
}

/* clang-format off */
static const struct opt list_opts[] = {
	{ .name = "no-headers", .kind = OPT_BOOL, .help = "omit the header line" },
	{ NULL }
};

static const struct opt show_opts[] = {
	{ .name = "limit", .shrt = 'l', .kind = OPT_INT, .arg = "N",
	  .help = "list the first N queued jobs (1-500, default 20)", .min = 1, .max = 500 },
	{ .name = "no-headers", .kind = OPT_BOOL, .help = "omit the header line" },
	{ NULL }
};

static const struct opt put_opts[] = {
	{ .name = "priority", .kind = OPT_INT, .arg = "N", .min = -1000, .max = 1000,
	  .help = "added to the priority of each job created in the queue (-1000 to 1000)" },
	{ .name = "max-running", .kind = OPT_INT, .arg = "N", .min = 0, .max = 1000000,
	  .help = "most jobs of the queue running at once (0: no limit)" },
	{ .name = "max-running-per-user", .kind = OPT_INT, .arg = "N", .min = 0, .max = 1000000,
	  .help = "most jobs of one user in the queue running at once (0: no limit)" },
	{ .name = "description", .kind = OPT_STR, .arg = "TEXT",
	  .help = "what the queue is for (at most 500 bytes)" },
	{ NULL }
};

static const struct opt delete_opts[] = {
	{ .name = "yes", .shrt = 'y', .kind = OPT_BOOL, .help = "do not ask for confirmation" },
	{ NULL }
};
/* clang-format on */

const struct cmd cmd_queue_list = {
	.path = "queue list",
	.aliases = "ls",
	.summary = "list the queues with their limits and live counts",
	.opts = list_opts,
	.flags = CMD_NEEDS_AUTH,
	.exec = queue_list,
	.doc =
	    "A table: NAME, PRIORITY (added to each job's), MAX_RUNNING and MAX_PER_USER (- for no limit), RUNNING, QUEUED, DESCRIPTION. The queue default always exists and takes the jobs that name none (task create --queue NAME names one). -o json prints the server's answer.",
};
const struct cmd cmd_queue_show = {
	.path = "queue show",
	.aliases = "get",
	.summary = "show a queue's head in dispatch order and why each job waits",
	.usage = "<name>",
	.opts = show_opts,
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_NEEDS_AUTH,
	.exec = queue_show,
	.doc =
	    "Lists the queue's first queued jobs in the order the dispatcher takes them: by priority (the job's plus the queue's), then by fair-share rank, then by age. The fair-share rank lets users take turns: a user's new job joins at the head's rank, or one after that user's last queued job, so one user's backlog of thousands does not hold back another user's single job. Columns: POS, OWNER, TASK_ID, PRIORITY, FAIR_RANK, CREATED, PENDING_REASON (Dependency, RetryBackoff, NoMatchingNode with the numbers, NodesUnavailable, QueueLimit, Priority or Resources); -o wide adds the CPUS, MEMORY_MB and GPUS each job reserves. A job's owner and task show to that owner and to operators and admins only; others see (other) and -. On standard error: the queue's totals and each user's running and queued jobs. -o json prints the server's answer (head and users).",
};
const struct cmd cmd_queue_create = {
	.path = "queue create",
	.summary = "create a queue (admin)",
	.usage = "<name>",
	.opts = put_opts,
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_NEEDS_AUTH,
	.exec = queue_create,
	.doc =
	    "Creates the queue NAME (a lower-case letter, then up to 62 of a-z, 0-9, - and _) with --priority N (default 0), --max-running N and --max-running-per-user N (default: no limit) and --description TEXT. The dispatcher never runs more of the queue's jobs at once than --max-running, nor more of one user's than --max-running-per-user; a job held back says QueueLimit in task get. Audited as queue.create. Prints queue=NAME created=true; a name taken exits 73.",
};
const struct cmd cmd_queue_set = {
	.path = "queue set",
	.aliases = "update",
	.summary = "change a queue's priority, limits or description (admin)",
	.usage = "<name>",
	.opts = put_opts,
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_NEEDS_AUTH,
	.exec = queue_set,
	.doc =
	    "Changes what the flags give and keeps the rest; --max-running 0 and --max-running-per-user 0 remove the limit. A new priority applies to jobs created afterwards; limits apply at once. Audited as queue.update. Prints queue=NAME updated=true; an unknown queue exits 66.",
};
const struct cmd cmd_queue_delete = {
	.path = "queue delete",
	.aliases = "rm",
	.summary = "delete a queue without live jobs (admin)",
	.usage = "<name>",
	.opts = delete_opts,
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_NEEDS_AUTH,
	.exec = queue_delete,
	.doc =
	    "Deletes the queue NAME. The queue default cannot be deleted, nor a queue with queued or running jobs (exit 73, saying how many). Asks for confirmation on a terminal unless -y; without -y and without a terminal it does nothing and exits 64. Audited as queue.delete. Prints queue=NAME deleted=true.",
};
