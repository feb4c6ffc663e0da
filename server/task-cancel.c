/*
 * POST /v1/tasks/{id}/cancel: ends a task that has not ended, with its
 * jobs, in one transaction (store-tasks.c), asks the nodes running its
 * jobs to kill them (dispatch.c), and wakes the long polls waiting on it.
 * Cancelling an ended task is a 409 naming its status.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "alloc.h"
#include "buf.h"
#include "dispatch.h"
#include "log.h"
#include "store-tasks.h"
#include "task-wait.h"
#include "tasks.h"
#include "banned.h"

void
h_tasks_cancel(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	char id[64], status[32] = "", *name;
	PGresult *res, *running;
	json_t *o;
	int rc, i;

	if (cy_req_no_params(req, resp) < 0 || !(res = task_lookup(req, resp)))
		return;
	xsnprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, TC_ID));
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
			return cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "task '%s' not found",
			    id);
		cy_log_error("task_cancel_failed", "task_id", id, "error", err.msg, NULL);
		return cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot cancel the task");
	}
	for (i = 0; rc == 1 && running && i < PQntuples(running); i++)
		dispatch_cancel_job(PQgetvalue(running, i, DRC_JOB_ID),
		    PQgetvalue(running, i, DRC_TARGET_URL), PQgetvalue(running, i, DRC_TOKEN),
		    PQgetvalue(running, i, DRC_TLS_PIN));
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
