/*
 * cynork task wait ID...: one long poll over all the tasks on
 * POST /v1/tasks:wait ({"task_ids":[...],"wait":N} -> {"tasks":[...],
 * "ended":bool}), asked again until they have all ended or --timeout
 * passes (no client-side sleep loop), then each task's result in argument
 * order and the exit code of spec/cli.md section 11.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cynork.h"
#include "json.h"
#include "timeutil.h"
#include "banned.h"

/*
 * Long polls until every task in refs has ended or deadline passes; *out
 * gets the last answer's "tasks" (one per ref, in order).  Returns 0,
 * EXIT_TIMEOUT (nothing printed) or cynork's own failure (printed).
 */
static int
wait_all(struct ctx *c, json_t *refs, int64_t deadline, struct progress *pg, json_t **out)
{
	json_t *res = NULL, *tasks;
	size_t i;
	int rc = 0;

	*out = NULL;
	for (;;) {
		long long wait = task_poll_seconds(deadline);
		json_t *body;

		if (!wait && *out) {
			rc = EXIT_TIMEOUT;
			break;
		}
		body = json_pack("{s:O, s:I}", "task_ids", refs, "wait",
		    (json_int_t)progress_poll_s(pg, wait));
		json_decref(res);
		res = NULL;
		rc = api_call_h(c, "POST", "/v1/tasks:wait", body, true, NULL, (wait + 30) * 1000,
		    &res, NULL);
		json_decref(body);
		if (rc)
			break;
		tasks = json_object_get(res, "tasks");
		if (!json_is_array(tasks) || json_array_size(tasks) != json_array_size(refs) ||
		    !json_is_boolean(json_object_get(res, "ended"))) {
			rc = fail(EXIT_PROTOCOL, "malformed response: no 'tasks' list or 'ended'");
			break;
		}
		json_decref(*out);
		*out = json_incref(tasks);
		for (i = 0; i < json_array_size(tasks); i++)
			progress_update(&pg[i], c, cy_json_str(json_array_get(tasks, i), "status"));
		if (json_is_true(json_object_get(res, "ended")))
			break;
	}
	json_decref(res);
	return rc;
}

/* Prints the result of each ended task; returns the first unsuccessful one's code. */
static int
print_ended(struct ctx *c, json_t *tasks, struct progress *pg, int *first)
{
	json_t *t, *res;
	size_t i;
	int rc;

	json_array_foreach(tasks, i, t) {
		const char *id = cy_json_str(t, "task_id");
		char *eid, *path;
		int job_rc;

		if (!task_status_ended(cy_json_str(t, "status")) || !id)
			continue;
		eid = url_escape(id);
		path = xasprintf("/v1/tasks/%s/result", eid);
		res = NULL;
		rc = api_call(c, "GET", path, NULL, true, &res);
		free(path);
		free(eid);
		if (rc)
			return rc;
		progress_end(&pg[i], res);
		task_print_result(c, res);
		job_rc = task_exit_code(res);
		if (job_rc && !*first)
			*first = job_rc;
		json_decref(res);
	}
	return 0;
}

static int
task_wait(struct ctx *c, const struct parsed *p)
{
	json_t *refs = json_array(), *tasks = NULL, *t;
	struct progress *pg = xcalloc(p->nargs, sizeof(*pg));
	long long timeout_s = 0;
	struct cy_buf open = CY_BUF_INIT;
	int rc, prc, first = 0;
	size_t i, nopen = 0;

	if (opt_get(p, "timeout"))
		cy_duration_parse(opt_get(p, "timeout"), &timeout_s);
	for (i = 0; i < p->nargs; i++) {
		json_array_append_new(refs, json_string(p->args[i]));
		progress_start(&pg[i], c, p->args[i], NULL,
		    p->nargs > 1 ? PROGRESS_LINES : PROGRESS_LINE);
	}
	rc = wait_all(c, refs, timeout_s > 0 ? cy_mono_ms() + timeout_s * 1000 : 0, pg, &tasks);
	json_decref(refs);
	if (rc && rc != EXIT_TIMEOUT)
		goto out;
	/* On timeout too: the tasks that did end get their result line. */
	prc = print_ended(c, tasks, pg, &first);
	if (prc)
		rc = prc;
	if (rc == EXIT_TIMEOUT) {
		json_array_foreach(tasks, i, t) {
			if (task_status_ended(cy_json_str(t, "status")))
				continue;
			cy_buf_addf(&open, "%s'%s'", nopen++ ? ", " : "", p->args[i]);
		}
		fail(EXIT_TIMEOUT, "gave up waiting for task%s %s after %llds (--timeout)",
		    nopen == 1 ? "" : "s", open.buf, timeout_s);
		cy_buf_release(&open);
		rc = EXIT_JOB(EXIT_TIMEOUT); /* the wait's own limit, not a failure of cynork's */
	}
out:
	for (i = 0; i < p->nargs; i++)
		progress_release(&pg[i]);
	free(pg);
	json_decref(tasks);
	return rc ? rc : first;
}

/* clang-format off */
static const struct opt wait_opts[] = {
	{ .name = "timeout", .kind = OPT_DURATION, .arg = "DUR",
	  .help = "give up after DUR in all (exit 124)" },
	{ NULL }
};
/* clang-format on */

const struct cmd cmd_task_wait = {
	.path = "task wait",
	.summary = "wait for tasks to end; exit with the job's exit code",
	.usage = "<task>...",
	.opts = wait_opts,
	.min_args = 1,
	.max_args = MAX_POS_ARGS,
	.flags = CMD_NEEDS_AUTH | CMD_JOB_EXIT,
	.exec = task_wait,
	.doc =
	    "Waits until all the tasks (ids or names, at most 1000, the server's limit) have ended: "
	    "one server long poll over all of them, asked again until they have ended or --timeout "
	    "runs out (no client-side sleep loop). Then prints each task's result line in argument "
	    "order, as task result does. Exits 0 when all completed; otherwise with the first "
	    "unsuccessful task's code in argument order: the job's own exit code, 1 when it failed "
	    "without one, 124 when the job timed out on the node, 143 when the task was canceled; for a job array (task create --array), the first "
	    "failing element's code by index. "
	    "A --timeout that runs out prints the result lines of the tasks that did end, names the "
	    "others on standard error and exits 124. Any failure of cynork's own (an unknown task, "
	    "no login, the gateway unreachable, a bad flag) exits 125; standard error gives its "
	    "own code (cynork(1) EXIT STATUS) and -o json prints it as "
	    "{\"cynork_error\": {\"code\", \"reason\", \"message\"}}.\n\n"
	    "When standard error is a terminal and -q is not given, the task's state changes show there as they happen, one line growing for one task (task T: queued → running on NODE → completed, exit 0 after 1.2 s), a line each for several (task T: queued, task T: running on NODE, task T: completed, exit 0 after 1.2 s, the time waited); the long polls are then at most 2 s each. Nothing of it when standard error is not a terminal.",
};
