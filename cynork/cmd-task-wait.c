/*
 * cynork task wait TASK... [--any] [--timeout DUR]: waits until all (or,
 * with --any, one) of the tasks have ended, through the server's long poll
 * POST /v1/tasks:wait (no client-side sleeping), then prints one record per
 * task.  Exit 0 when every task completed, 1 when one failed or was
 * canceled, 124 when --timeout ran out first.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cynork.h"
#include "json.h"
#include "timeutil.h"
#include "banned.h"

#define WAIT_CHUNK_S 30

static int
wait_print(struct ctx *c, json_t *tasks)
{
	json_t *t;
	size_t i;

	if (out_json(c))
		return print_json(json_pack("{s:O}", "tasks", tasks));
	json_array_foreach(tasks, i, t) {
		struct cy_buf line = CY_BUF_INIT;

		rec_add(&line, "task_id", cy_json_str(t, "task_id"));
		rec_add(&line, "task_name", cy_json_str(t, "task_name"));
		rec_add(&line, "status", cy_json_str(t, "status"));
		print_line(&line);
	}
	return 0;
}

static int
task_wait(struct ctx *c, const struct parsed *p)
{
	long long timeout_s = 0;
	int64_t deadline = 0;
	json_t *ids = json_array(), *res = NULL, *tasks, *t;
	bool any = opt_set(p, "any");
	size_t i;
	int rc;

	if (opt_get(p, "timeout")) {
		cy_duration_parse(opt_get(p, "timeout"), &timeout_s);
		deadline = cy_mono_ms() + timeout_s * 1000;
	}
	for (i = 0; i < p->nargs; i++)
		json_array_append_new(ids, json_string(p->args[i]));
	for (;;) {
		long long wait = WAIT_CHUNK_S;
		json_t *req;

		if (deadline) {
			long long left = (deadline - cy_mono_ms() + 999) / 1000;

			if (left <= 0) {
				rc = fail(EXIT_TIMEOUT, "gave up waiting after %llds (--timeout)",
					timeout_s);
				break;
			}
			if (left < wait)
				wait = left;
		}
		req = json_pack("{s:O, s:I, s:b}", "task_ids", ids, "wait", (json_int_t)wait,
			"any", any);
		json_decref(res);
		res = NULL;
		rc = api_call_h(c, "POST", "/v1/tasks:wait", req, true, NULL, (wait + 30) * 1000,
			&res, NULL);
		json_decref(req);
		if (rc)
			break;
		if (!json_is_true(json_object_get(res, "ended")))
			continue;
		tasks = json_object_get(res, "tasks");
		if (!json_is_array(tasks)) {
			rc = fail(EXIT_GATEWAY, "malformed response: no 'tasks' list");
			break;
		}
		wait_print(c, tasks);
		rc = EXIT_OK;
		json_array_foreach(tasks, i, t) {
			const char *st = cy_json_str(t, "status");

			if (st && (!strcmp(st, "failed") || !strcmp(st, "canceled") ||
			    !strcmp(st, "superseded")))
				rc = EXIT_JOB_FAILED;
		}
		break;
	}
	json_decref(res);
	json_decref(ids);
	return rc;
}

static const struct opt wait_opts[] = {
	{ "any", 0, OPT_BOOL, NULL, "return as soon as one of the tasks has ended" },
	{ "timeout", 0, OPT_DURATION, "DUR", "give up after DUR (exit 124)" },
	{ NULL }
};

const struct cmd cmd_task_wait = { "task wait", NULL,
	"wait until tasks have ended (exit 0 when all completed)", "<task>...", wait_opts, 1,
	-1, CMD_NEEDS_AUTH, NULL, task_wait };
