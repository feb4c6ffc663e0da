/*
 * The task routes that wait for tasks to end: a task's result with its
 * jobs (GET /v1/tasks/{id}/result, with the ?wait=SECONDS long poll) and
 * the wait over several tasks (POST /v1/tasks:wait).  A long poll parks
 * the request in task-wait.c (no thread held) until a task closes, on this
 * replica or another, or the wait runs out.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "json.h"
#include "log.h"
#include "logs.h"
#include "store-logs.h"
#include "store-tasks.h"
#include "store-util.h"
#include "strnum.h"
#include "task-wait.h"
#include "tasks.h"
#include "timeutil.h"
#include "banned.h"

#define WAIT_MAX_S 60
#define WAIT_MAX_IDS 1000

/*
 * The deadline (cy_mono_ms clock) of a long poll of wait_s seconds, set at
 * its first run and kept with the request across the runs after a park.
 */
static int64_t
wait_deadline(struct cy_http_req *req, long long wait_s)
{
	int64_t *deadline = req->state;

	if (!deadline) {
		deadline = xmalloc(sizeof(*deadline));
		*deadline = cy_mono_ms() + wait_s * 1000;
		req->state = deadline;
		req->state_free = free;
	}
	return *deadline;
}

/* JobResponse for one row of store_task_jobs(). */
static json_t *
job_json(const PGresult *res, int row)
{
	const char *result = store_val(res, row, JC_RESULT);
	const char *exit_code = store_val(res, row, JC_EXIT_CODE);
	const char *status = PQgetvalue(res, row, JC_STATUS);
	json_t *o = json_object();
	long long ec;
	const char *errstr;

	json_object_set_new(o, "id", json_string(PQgetvalue(res, row, JC_ID)));
	if (store_val(res, row, JC_ARRAY_INDEX) &&
	    cy_strtonum(PQgetvalue(res, row, JC_ARRAY_INDEX), 0, INT32_MAX, &ec, &errstr) == 0)
		json_object_set_new(o, "array_index", json_integer(ec));
	json_object_set_new(o, "status", json_string(status));
	if (result) {
		json_t *r = json_loads(result, 0, NULL);
		char *s = r ? cy_json_dump(r) : NULL;

		json_object_set_new(o, "result", json_string(s ? s : result));
		/* An agent job's outcome and reply, readable without parsing result. */
		if (json_is_object(json_object_get(r, "sba_result")))
			json_object_set(o, "sba_result", json_object_get(r, "sba_result"));
		if (json_is_string(json_object_get(r, "reply")))
			json_object_set(o, "reply", json_object_get(r, "reply"));
		free(s);
		json_decref(r);
	} else {
		json_object_set_new(o, "result", json_null());
	}
	if (exit_code && cy_strtonum(exit_code, INT32_MIN, INT32_MAX, &ec, &errstr) == 0)
		json_object_set_new(o, "exit_code", json_integer(ec));
	else if (strcmp(status, "failed") == 0)
		json_object_set_new(o, "exit_code", json_integer(-1));
	if (store_val(res, row, JC_STARTED))
		json_object_set_new(o, "started_at", json_string(PQgetvalue(res, row, JC_STARTED)));
	if (store_val(res, row, JC_ENDED))
		json_object_set_new(o, "ended_at", json_string(PQgetvalue(res, row, JC_ENDED)));
	return o;
}

void
h_tasks_result(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const char *q_wait = cy_req_query(req, "wait");
	struct cy_error err = CY_ERROR_INIT;
	char id[64], status[32], name[256];
	bool is_array;
	long long wait_s = 0;
	const char *errstr;
	int64_t deadline;
	PGresult *res, *jobs, *logs;
	uint64_t seq;
	json_t *o, *arr;
	int i, k;

	if (q_wait && cy_strtonum(q_wait, 0, WAIT_MAX_S, &wait_s, &errstr) < 0)
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "wait must be an integer number of seconds between 0 and %d", WAIT_MAX_S);
	seq = task_wait_seq();
	if (!(res = task_lookup(req, resp)))
		return;
	xsnprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, TC_ID));
	xsnprintf(status, sizeof(status), "%s", PQgetvalue(res, 0, TC_STATUS));
	xsnprintf(name, sizeof(name), "%s", PQgetvalue(res, 0, TC_NAME));
	is_array = !PQgetisnull(res, 0, TC_ARRAY_SPEC);
	PQclear(res);
	if (wait_s > 0 && !task_db_status_ended(status) && !task_wait_stopping()) {
		const char *ids[1] = { id };

		deadline = wait_deadline(req, wait_s);
		if (cy_mono_ms() < deadline)
			return task_wait_park(req, ids, 1, seq, deadline);
	}
	if (!(jobs = store_task_jobs(id, &err))) {
		cy_log_error("task_result_failed", "task_id", id, "error", err.msg, NULL);
		return cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot read the task's jobs");
	}
	if (!(logs = store_logs_task(id, NULL, &err))) {
		PQclear(jobs);
		cy_log_error("task_result_failed", "task_id", id, "error", err.msg, NULL);
		return cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot read the task's logs");
	}
	arr = json_array();
	/*
	 * Both lists are the task's jobs in the same order (created_at, id),
	 * the logs' a subsequence: one walk, not a search per job (arrays).
	 */
	for (i = 0, k = 0; i < PQntuples(jobs); i++) {
		json_t *j = job_json(jobs, i);

		if (k < PQntuples(logs) &&
		    !strcmp(PQgetvalue(logs, k, LC_JOB_ID), PQgetvalue(jobs, i, JC_ID)))
			json_object_set_new(j, "logs", logs_job_json(logs, k++));
		json_array_append_new(arr, j);
	}
	PQclear(jobs);
	PQclear(logs);
	o = json_object();
	json_object_set_new(o, "task_id", json_string(id));
	json_object_set_new(o, "status", json_string(task_api_status(status)));
	if (name[0])
		json_object_set_new(o, "task_name", json_string(name));
	json_object_set_new(o, "jobs", arr);
	if (is_array && (arr = task_array_json(id)))
		json_object_set_new(o, "array", arr);
	cy_resp_json(resp, 200, o);
}

/* POST /v1/tasks:wait {task_ids, wait?, any?} */
/* clang-format off */
const struct cy_jcheck tasks_wait_body = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "task_ids", .type = CY_JC_ARRAY, .required = true, .min = 1,
		  .max = WAIT_MAX_IDS,
		  .item = &(const struct cy_jcheck_field){ .type = CY_JC_STRING, .min = 1,
			.shape = "a task id or name" } },
		{ .name = "wait", .type = CY_JC_INT, .null_ok = true, .min = 0, .max = WAIT_MAX_S },
		{ .name = "any", .type = CY_JC_BOOL, .null_ok = true }),
};
/* clang-format on */

/*
 * POST /v1/tasks:wait: the long poll over several tasks behind `cynork
 * task wait ID...`.  {"task_ids":[ids or names],"wait":SECONDS,"any":false}
 * -> {"tasks":[{"task_id","task_name","status"}],"ended":bool}, answered
 * when all (or, with any, one) of them ended or the wait ran out.
 */
void
h_tasks_wait(struct cy_http_req *req, struct cy_http_resp *resp)
{
	json_t *body, *ids, *tasks = NULL;
	const char **park = NULL;
	int64_t deadline;
	size_t i, n, nended = 0;
	long long wait_s = 30;
	bool any, done;
	uint64_t seq;

	if (!(body = cy_req_json(req, resp)))
		return;
	ids = json_object_get(body, "task_ids");
	(void)cy_json_int(body, "wait", &wait_s);
	any = cy_json_bool(body, "any", false);
	n = json_array_size(ids);
	park = xcalloc(n, sizeof(*park));
	seq = task_wait_seq();
	tasks = json_array();
	for (i = 0; i < n; i++) {
		const char *ref = json_string_value(json_array_get(ids, i));
		PGresult *res;
		json_t *t;

		if (!(res = task_lookup_ref(req, ref, resp)))
			goto out;
		t = json_pack("{s:s, s:s, s:s}", "task_id", PQgetvalue(res, 0, TC_ID), "task_name",
		    PQgetvalue(res, 0, TC_NAME), "status",
		    task_api_status(PQgetvalue(res, 0, TC_STATUS)));
		if (task_db_status_ended(PQgetvalue(res, 0, TC_STATUS)))
			nended++;
		json_array_append_new(tasks, t);
		park[i] = json_string_value(json_object_get(t, "task_id"));
		PQclear(res);
	}
	done = any ? nended > 0 : nended == n;
	if (!done && wait_s > 0 && !task_wait_stopping()) {
		deadline = wait_deadline(req, wait_s);
		if (cy_mono_ms() < deadline) {
			task_wait_park(req, park, n, seq, deadline);
			goto out;
		}
	}
	cy_resp_json(resp, 200, json_pack("{s:O, s:b}", "tasks", tasks, "ended", done));
out:
	json_decref(tasks);
	free(park);
	json_decref(body);
}
