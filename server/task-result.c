/*
 * The task routes that read or end a task's jobs: result (with the
 * ?wait=SECONDS long poll) and cancel; logs are in task-logs.c.  The long
 * poll parks the request in task-wait.c (no thread held) until the task
 * closes, on this replica or another, or the wait runs out.  Cancel also
 * asks the node running the job to kill it (dispatch.c).
 */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "dispatch.h"
#include "handlers.h"
#include "json.h"
#include "log.h"
#include "states.h"
#include "store-tasks.h"
#include "store-util.h"
#include "strnum.h"
#include "tasks.h"
#include "task-wait.h"
#include "timeutil.h"
#include "banned.h"

#define WAIT_MAX_S 60

bool task_db_status_ended(const char *db)
{
	int s = cy_task_state_parse(db);

	return s >= 0 && cy_task_state_terminal((enum cy_task_state)s);
}

/* JobResponse for one row of store_task_jobs(). */
static json_t *job_json(const PGresult *res, int row)
{
	const char *result = store_val(res, row, JC_RESULT);
	const char *exit_code = store_val(res, row, JC_EXIT_CODE);
	const char *status = PQgetvalue(res, row, JC_STATUS);
	json_t *o = json_object();
	long long ec;
	const char *errstr;

	json_object_set_new(o, "id", json_string(PQgetvalue(res, row, JC_ID)));
	json_object_set_new(o, "status", json_string(status));
	if (result) {
		json_t *r = json_loads(result, 0, NULL);
		char *s = r ? cy_json_dump(r) : NULL;

		json_object_set_new(o, "result", json_string(s ? s : result));
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

void h_tasks_result(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const char *q_wait = cy_req_query(req, "wait");
	struct cy_error err = CY_ERROR_INIT;
	char id[64], status[32], name[256];
	long long wait_s = 0;
	const char *errstr;
	int64_t *deadline = req->state;
	PGresult *res, *jobs;
	uint64_t seq;
	json_t *o, *arr;
	int i;

	if (q_wait && cy_strtonum(q_wait, 0, WAIT_MAX_S, &wait_s, &errstr) < 0)
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			"wait must be an integer number of seconds between 0 and %d", WAIT_MAX_S);
	seq = task_wait_seq();
	if (!(res = task_lookup(req, resp)))
		return;
	snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, TC_ID));
	snprintf(status, sizeof(status), "%s", PQgetvalue(res, 0, TC_STATUS));
	snprintf(name, sizeof(name), "%s", PQgetvalue(res, 0, TC_NAME));
	PQclear(res);
	if (wait_s > 0 && !task_db_status_ended(status) && !task_wait_stopping()) {
		const char *ids[1] = { id };

		if (!deadline) {
			deadline = xmalloc(sizeof(*deadline));
			*deadline = cy_mono_ms() + wait_s * 1000;
			req->state = deadline;
			req->state_free = free;
		}
		if (cy_mono_ms() < *deadline)
			return task_wait_park(req, ids, 1, seq, *deadline);
	}
	if (!(jobs = store_task_jobs(id, &err))) {
		cy_log_error("task_result_failed", "task_id", id, "error", err.msg, NULL);
		return cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot read the task's jobs");
	}
	arr = json_array();
	for (i = 0; i < PQntuples(jobs); i++)
		json_array_append_new(arr, job_json(jobs, i));
	PQclear(jobs);
	o = json_object();
	json_object_set_new(o, "task_id", json_string(id));
	json_object_set_new(o, "status", json_string(task_api_status(status)));
	if (name[0])
		json_object_set_new(o, "task_name", json_string(name));
	json_object_set_new(o, "jobs", arr);
	cy_resp_json(resp, 200, o);
}

void h_tasks_cancel(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	char id[64], status[32] = "", *name;
	PGresult *res, *running;
	json_t *o;
	int rc, i;

	if (cy_req_no_params(req, resp) < 0 || !(res = task_lookup(req, resp)))
		return;
	snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, TC_ID));
	name = xstrdup(PQgetvalue(res, 0, TC_NAME));
	PQclear(res);
	/* The nodes to tell; a job claimed after this read is killed by the node's sync. */
	running = store_dispatch_running(id, &err);
	rc = store_task_cancel(id, status, sizeof(status), &err);
	if (rc < 0) {
		free(name);
		if (running)
			PQclear(running);
		if (err.code == ENOENT)
			return cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "task '%s' not found", id);
		cy_log_error("task_cancel_failed", "task_id", id, "error", err.msg, NULL);
		return cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot cancel the task");
	}
	for (i = 0; rc == 1 && running && i < PQntuples(running); i++)
		dispatch_cancel_job(PQgetvalue(running, i, DRC_JOB_ID),
			PQgetvalue(running, i, DRC_TARGET_URL), PQgetvalue(running, i, DRC_TOKEN));
	if (running)
		PQclear(running);
	if (rc == 0) {
		free(name);
		return cy_resp_problem(resp, CY_PROBLEM_CONFLICT, "task already %s",
			task_api_status(status));
	}
	task_wait_closed(id);
	cy_log_info("task_canceled", "task_id", id, NULL);
	o = json_pack("{s:s, s:b}", "task_id", id, "canceled", 1);
	if (name[0])
		json_object_set_new(o, "task_name", json_string(name));
	free(name);
	cy_resp_json(resp, 200, o);
}
