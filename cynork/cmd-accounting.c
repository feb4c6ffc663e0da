/*
 * cynork accounting list|summary: the records of finished job attempts
 * (like Slurm's sacct) and their totals per user or per queue, from
 * GET /v1/accounting/jobs and /v1/accounting/summary.  Both filter by
 * user, state, time window (--since/--until: RFC 3339 or a duration ago),
 * node and queue; a user sees their own records, operators and admins
 * everyone's.  Tables, -o wide, -o csv (every column), -o json|yaml.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "cynork.h"
#include "json.h"
#include "banned.h"

static const char *const state_choices[] = { "completed", "failed", "canceled", "lease_expired",
	"dispatch_error", NULL };
static const char *const by_choices[] = { "user", "queue", NULL };
static const char *const time_flags[] = { "since", "until", NULL };

/* accounting list: the columns (-o wide and -o csv add the COL_WIDE ones). */
static const struct col list_cols[] = {
	{ "ATTEMPT_ID", COL_WIDE },
	{ "TASK_ID", 0 },
	{ "JOB_ID", COL_WIDE },
	{ "USER", 0 },
	{ "QUEUE", 0 },
	{ "NODE", 0 },
	{ "STATE", COL_STATE },
	{ "EXIT", COL_RIGHT },
	{ "ATTEMPT", COL_RIGHT },
	{ "REQ_CPUS", COL_RIGHT | COL_WIDE },
	{ "REQ_MEM_MB", COL_RIGHT | COL_WIDE },
	{ "REQ_GPUS", COL_RIGHT | COL_WIDE },
	{ "CPU_S", COL_RIGHT },
	{ "CPU_USER_S", COL_RIGHT | COL_WIDE },
	{ "CPU_SYS_S", COL_RIGHT | COL_WIDE },
	{ "PEAK_MEM_BYTES", COL_RIGHT },
	{ "GPU_S", COL_RIGHT | COL_WIDE },
	{ "WALL_S", COL_RIGHT },
	{ "USAGE_SOURCE", COL_WIDE },
	{ "STARTED", COL_TIME | COL_WIDE },
	{ "ENDED", COL_TIME },
	{ NULL, 0 },
};

/* accounting summary: the first column is USER or QUEUE. */
static const struct col sum_user_cols[] = {
	{ "USER", 0 },
	{ "JOBS", COL_RIGHT },
	{ "ATTEMPTS", COL_RIGHT },
	{ "COMPLETED", COL_RIGHT },
	{ "FAILURES", COL_RIGHT },
	{ "CANCELED", COL_RIGHT },
	{ "CPU_S", COL_RIGHT },
	{ "WALL_S", COL_RIGHT },
	{ "PEAK_MEM_MAX_BYTES", COL_RIGHT },
	{ "GPU_S", COL_RIGHT | COL_WIDE },
	{ NULL, 0 },
};
static const struct col sum_queue_cols[] = {
	{ "QUEUE", 0 },
	{ "JOBS", COL_RIGHT },
	{ "ATTEMPTS", COL_RIGHT },
	{ "COMPLETED", COL_RIGHT },
	{ "FAILURES", COL_RIGHT },
	{ "CANCELED", COL_RIGHT },
	{ "CPU_S", COL_RIGHT },
	{ "WALL_S", COL_RIGHT },
	{ "PEAK_MEM_MAX_BYTES", COL_RIGHT },
	{ "GPU_S", COL_RIGHT | COL_WIDE },
	{ NULL, 0 },
};

/* The number at key as the next cell: integers whole, seconds to milliseconds. */
static void
num_cell(struct out_table *t, const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	if (json_is_integer(v))
		table_cellf(t, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		table_cellf(t, "%.3f", json_real_value(v));
	else
		table_cell(t, NULL);
}

static int
acct_check(const struct parsed *p)
{
	return query_time_check(p, time_flags);
}

/* The filters both commands send. */
static void
acct_query(struct cy_buf *q, const struct parsed *p)
{
	query_add(q, "user", opt_get(p, "user"));
	query_add(q, "state", opt_get(p, "state"));
	query_add_time(q, "since", opt_get(p, "since"));
	query_add_time(q, "until", opt_get(p, "until"));
	query_add(q, "node", opt_get(p, "node"));
	query_add(q, "queue", opt_get(p, "queue"));
}

/* GET path+q into *res, checking that key is a list. */
static int
acct_get(struct ctx *c, const char *base, struct cy_buf *q, const char *key, json_t **res)
{
	char *path = xasprintf("%s%s", base, q->buf);
	int rc = api_call(c, "GET", path, NULL, true, res);

	free(path);
	cy_buf_release(q);
	if (rc)
		return rc;
	if (!json_is_array(json_object_get(*res, key))) {
		json_decref(*res);
		return fail(EXIT_PROTOCOL, "malformed response: no '%s' list", key);
	}
	return 0;
}

static int
acct_list(struct ctx *c, const struct parsed *p)
{
	struct cy_buf q = CY_BUF_INIT;
	struct out_table *t;
	json_t *res = NULL, *r;
	size_t i;
	int rc;

	acct_query(&q, p);
	query_add(&q, "limit", opt_get(p, "limit"));
	query_add(&q, "cursor", opt_get(p, "cursor"));
	if ((rc = acct_get(c, "/v1/accounting/jobs", &q, "jobs", &res)) != 0)
		return rc;
	if (out_json(c))
		return print_json(res);
	t = out_name(c) ? NULL : table_new(c, p, list_cols);
	json_array_foreach(json_object_get(res, "jobs"), i, r) {
		if (!t) {
			printf("%s\n", out_dash(r, "attempt_id"));
			continue;
		}
		table_row(t);
		table_cell(t, cy_json_str(r, "attempt_id"));
		table_cell(t, cy_json_str(r, "task_id"));
		table_cell(t, cy_json_str(r, "job_id"));
		table_cell(t, cy_json_str(r, "user"));
		table_cell(t, cy_json_str(r, "queue"));
		table_cell(t, cy_json_str(r, "node"));
		table_cell(t, cy_json_str(r, "state"));
		num_cell(t, r, "exit_code");
		num_cell(t, r, "attempt");
		num_cell(t, r, "req_cpus");
		num_cell(t, r, "req_memory_mb");
		num_cell(t, r, "req_gpus");
		num_cell(t, r, "cpu_seconds");
		num_cell(t, r, "cpu_user_seconds");
		num_cell(t, r, "cpu_system_seconds");
		num_cell(t, r, "peak_memory_bytes");
		num_cell(t, r, "gpu_seconds");
		num_cell(t, r, "wall_seconds");
		table_cell(t, cy_json_str(r, "usage_source"));
		table_cell(t, cy_json_str(r, "started_at"));
		table_cell(t, cy_json_str(r, "ended_at"));
	}
	rc = t ? table_print(t) : 0;
	fflush(stdout);
	if (cy_json_str(res, "next_cursor"))
		note(c, "more: --cursor %s", cy_json_str(res, "next_cursor"));
	json_decref(res);
	return rc;
}

static int
acct_summary(struct ctx *c, const struct parsed *p)
{
	const char *by = opt_get(p, "by") ? opt_get(p, "by") : "user";
	struct cy_buf q = CY_BUF_INIT;
	struct out_table *t;
	json_t *res = NULL, *r;
	size_t i;
	int rc;

	acct_query(&q, p);
	query_add(&q, "by", by);
	if ((rc = acct_get(c, "/v1/accounting/summary", &q, "rows", &res)) != 0)
		return rc;
	if (out_json(c))
		return print_json(res);
	t = out_name(c) ? NULL :
			  table_new(c, p, strcmp(by, "queue") ? sum_user_cols : sum_queue_cols);
	json_array_foreach(json_object_get(res, "rows"), i, r) {
		if (!t) {
			printf("%s\n", out_dash(r, by));
			continue;
		}
		table_row(t);
		table_cell(t, cy_json_str(r, by));
		num_cell(t, r, "jobs");
		num_cell(t, r, "attempts");
		num_cell(t, r, "completed");
		num_cell(t, r, "failures");
		num_cell(t, r, "canceled");
		num_cell(t, r, "cpu_seconds");
		num_cell(t, r, "wall_seconds");
		num_cell(t, r, "peak_memory_bytes_max");
		num_cell(t, r, "gpu_seconds");
	}
	rc = t ? table_print(t) : 0;
	json_decref(res);
	return rc;
}

/* clang-format off */
#define ACCT_FILTERS \
	{ .name = "user", .shrt = 'u', .kind = OPT_STR, .arg = "HANDLE", \
	  .help = "only this user's jobs (another user's: operator or admin)" }, \
	{ .name = "state", .shrt = 's', .kind = OPT_ENUM, .arg = "STATE", \
	  .help = "only attempts that ended so", .choices = state_choices }, \
	{ .name = "since", .shrt = 'S', .kind = OPT_STR, .arg = "TIME", \
	  .help = "ended from this time on (RFC 3339, or a duration ago: 1h)" }, \
	{ .name = "until", .shrt = 'E', .kind = OPT_STR, .arg = "TIME", \
	  .help = "ended before this time (RFC 3339, or a duration ago)" }, \
	{ .name = "node", .shrt = 'N', .kind = OPT_STR, .arg = "SLUG", \
	  .help = "only attempts on this node" }, \
	{ .name = "queue", .kind = OPT_STR, .arg = "QUEUE", \
	  .help = "only attempts in this queue" }, \
	{ .name = "no-headers", .kind = OPT_BOOL, .help = "omit the header line" }

static const struct opt list_opts[] = {
	ACCT_FILTERS,
	{ .name = "limit", .shrt = 'l', .kind = OPT_INT, .arg = "N",
	  .help = "at most N records (1-1000, default 100)", .min = 1, .max = 1000 },
	{ .name = "cursor", .kind = OPT_STR, .arg = "C",
	  .help = "continue after the last page (its next_cursor)" },
	{ NULL }
};

static const struct opt summary_opts[] = {
	ACCT_FILTERS,
	{ .name = "by", .kind = OPT_ENUM, .arg = "KEY",
	  .help = "totals per user (default) or per queue", .choices = by_choices },
	{ NULL }
};
/* clang-format on */

const struct cmd cmd_accounting_list = {
	.path = "accounting list",
	.aliases = "ls",
	.summary = "finished job attempts with the resources they used, newest first (like sacct)",
	.opts = list_opts,
	.flags = CMD_NEEDS_AUTH | CMD_CSV,
	.check = acct_check,
	.exec = acct_list,
	.doc =
	    "One record per job attempt that ended (completed, failed, canceled, lease_expired, dispatch_error): the task's owner, its queue, the node, what the job asked for (cpu cores, memory, GPUs), what it used (CPU seconds user and system and peak memory, from the job's cgroup when the node has cgroups, else from the sandbox's rusage; GPU time where known), the wall time, the exit code and the attempt number. You see your own records; operators and admins see everyone's and may name another user with --user.\n\n"
	    "The table shows TASK_ID, USER, QUEUE, NODE, STATE, EXIT, ATTEMPT, CPU_S, PEAK_MEM_BYTES, WALL_S, ENDED; -o wide adds ATTEMPT_ID, JOB_ID, REQ_CPUS, REQ_MEM_MB, REQ_GPUS, CPU_USER_S, CPU_SYS_S, GPU_S, USAGE_SOURCE and STARTED. -o csv prints every column as RFC 4180 CSV (absent values empty, times RFC 3339). -o json prints jobs and next_cursor; in table and CSV mode the next cursor is printed to standard error.",
};

const struct cmd cmd_accounting_summary = {
	.path = "accounting summary",
	.summary = "job, CPU, wall time and failure totals per user or per queue",
	.opts = summary_opts,
	.flags = CMD_NEEDS_AUTH | CMD_CSV,
	.check = acct_check,
	.exec = acct_summary,
	.doc =
	    "The records 'accounting list' would select with the same filters, summed per user (--by user, the default) or per queue: JOBS (distinct jobs), ATTEMPTS, COMPLETED, FAILURES (failed, lease expired, not dispatched), CANCELED, CPU_S, WALL_S and PEAK_MEM_MAX_BYTES (the largest peak); -o wide adds GPU_S. -o csv and -o json as for the list.",
};
