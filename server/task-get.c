/*
 * How the task routes see a task: its API status, its TaskResponse JSON,
 * the lookup of the task a route names with its ownership check (every
 * task-*.c route goes through it), and GET /v1/tasks (keyset cursor,
 * newest first) and GET /v1/tasks/{id} (by UUID or name).
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "auth.h"
#include "buf.h"
#include "id.h"
#include "log.h"
#include "states.h"
#include "store-tasks.h"
#include "strnum.h"
#include "tasks.h"
#include "store-util.h"
#include "banned.h"

const char *
task_api_status(const char *db)
{
	int s = cy_task_state_parse(db);

	return s < 0 ? db : cy_task_state_api((enum cy_task_state)s);
}

bool
task_db_status_ended(const char *db)
{
	int s = cy_task_state_parse(db);

	return s >= 0 && cy_task_state_terminal((enum cy_task_state)s);
}

json_t *
task_json(const PGresult *res, int row)
{
	const char *name = PQgetvalue(res, row, TC_NAME);
	json_t *o = json_object(), *att;

	json_object_set_new(o, "id", json_string(PQgetvalue(res, row, TC_ID)));
	json_object_set_new(o, "task_id", json_string(PQgetvalue(res, row, TC_ID)));
	json_object_set_new(o, "status",
	    json_string(task_api_status(PQgetvalue(res, row, TC_STATUS))));
	json_object_set_new(o, "task_name", json_string(name));
	json_object_set_new(o, "prompt", json_string(PQgetvalue(res, row, TC_PROMPT)));
	/* What prompt holds: text for a model, a script, or commands one a line. */
	json_object_set_new(o, "input_mode", json_string(PQgetvalue(res, row, TC_INPUT_MODE)));
	json_object_set_new(o, "summary", json_string(name));
	json_object_set_new(o, "created_at", json_string(PQgetvalue(res, row, TC_CREATED)));
	json_object_set_new(o, "updated_at", json_string(PQgetvalue(res, row, TC_UPDATED)));
	att = json_loads(PQgetvalue(res, row, TC_ATTACHMENTS), 0, NULL);
	json_object_set_new(o, "attachments", att && json_is_array(att) ? att : json_array());
	if (att && !json_is_array(att))
		json_decref(att);
	if (!PQgetisnull(res, row, TC_ARRAY_SPEC))
		json_object_set_new(o, "array",
		    json_pack("{s:s}", "spec", PQgetvalue(res, row, TC_ARRAY_SPEC)));
	return o;
}

json_t *
task_array_json(const char *task_id)
{
	struct cy_error err = CY_ERROR_INIT;
	PGresult *res = store_task_array(task_id, &err);
	json_t *o = NULL;

	if (!res) {
		cy_log_error("task_array_failed", "task_id", task_id, "error", err.msg, NULL);
		return NULL;
	}
	if (PQntuples(res) > 0)
		o = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	PQclear(res);
	return o;
}

PGresult *
task_lookup(struct cy_http_req *req, struct cy_http_resp *resp)
{
	return task_lookup_ref(req, req->params[0], resp);
}

PGresult *
task_lookup_ref(struct cy_http_req *req, const char *ref, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	PGresult *res;

	res = store_task_find(a->user_id, ref, &err);
	if (!res) {
		cy_log_error("task_lookup_failed", "error", err.msg, NULL);
		cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot read the task");
		return NULL;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "task '%s' not found", ref);
		return NULL;
	}
	/* Operators see every task, admins also act on them. */
	if (strcmp(PQgetvalue(res, 0, TC_OWNER), a->user_id) != 0 &&
	    !(req->route->auth == AUTH_TASKS_READ ? auth_sees_all_tasks(a) :
						    auth_acts_on_all_tasks(a))) {
		PQclear(res);
		cy_resp_problem(resp, CY_PROBLEM_AUTHORIZATION, "Not task owner");
		return NULL;
	}
	return res;
}

void
h_tasks_list(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	const char *q_limit = cy_req_query(req, "limit");
	const char *q_cursor = cy_req_query(req, "cursor");
	const char *q_status = cy_req_query(req, "status");
	const char *q_all = cy_req_query(req, "all");
	bool all;
	struct cy_error err = CY_ERROR_INIT;
	char cursor_id[CY_UUID_LEN + 1];
	const char *status_db = NULL, *errstr;
	long long limit = 50, us = 0;
	json_t *o, *tasks;
	PGresult *res;
	int i, n;

	if (q_limit && cy_strtonum(q_limit, 1, 200, &limit, &errstr) < 0)
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "limit must be an integer between 1 and 200");
	/*
	 * The reference's offset paging is not served (it shifts under
	 * inserts): refused rather than ignored, so a script stepping offset
	 * never gets the first page again and again.
	 */
	if (cy_req_query(req, "offset"))
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "offset is not supported: page with cursor (next_cursor of the previous page)");
	/* cursor= (empty, the reference CLI's default) is the first page. */
	if (q_cursor && !*q_cursor)
		q_cursor = NULL;
	if (q_cursor && store_cursor_parse(q_cursor, &us, cursor_id) < 0)
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "invalid cursor");
	if (q_status) {
		int s = cy_task_state_parse(q_status);

		if (s < 0)
			return cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			    "status must be one of queued, running, completed, failed, "
			    "canceled, superseded");
		status_db = cy_task_state_db((enum cy_task_state)s);
	}
	/* ?all=true: every user's tasks, for operators and admins. */
	if (q_all && strcmp(q_all, "true") != 0 && strcmp(q_all, "false") != 0)
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "all must be true or false");
	all = q_all && !strcmp(q_all, "true");
	if (all && !auth_sees_all_tasks(a))
		return cy_resp_problem(resp, CY_PROBLEM_AUTHORIZATION,
		    "Operator role required to list every user's tasks");
	res = store_task_list(all ? NULL : a->user_id, status_db, us, q_cursor ? cursor_id : NULL,
	    limit, &err);
	if (!res) {
		cy_log_error("task_list_failed", "error", err.msg, NULL);
		return cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot list tasks");
	}
	n = PQntuples(res);
	tasks = json_array();
	for (i = 0; i < n && i < limit; i++) {
		json_t *t = task_json(res, i);

		if (!PQgetisnull(res, i, TC__COUNT))
			json_object_set_new(t, "pending_reason",
			    json_string(PQgetvalue(res, i, TC__COUNT)));
		json_array_append_new(tasks, t);
	}
	o = json_object();
	json_object_set_new(o, "tasks", tasks);
	if (n > limit) {
		char *c = xasprintf("%s_%s", PQgetvalue(res, (int)limit - 1, TC_CURSOR_US),
		    PQgetvalue(res, (int)limit - 1, TC_ID));

		json_object_set_new(o, "next_cursor", json_string(c));
		free(c);
	}
	PQclear(res);
	cy_resp_json(resp, 200, o);
}

/*
 * The task's latest job for GET /v1/tasks/{id}: how it ran (node,
 * attempts, exit code, times, durations) and what it asked for (image,
 * timeout, network, resources, retry policy, placement).  NULL when it
 * has none or it cannot be read (logged; the task is answered without).
 */
static json_t *
task_job_json(const char *task_id)
{
	struct cy_error err = CY_ERROR_INIT;
	PGresult *res = store_task_job_info(task_id, &err);
	json_t *o = NULL;

	if (!res) {
		cy_log_error("task_job_info_failed", "task_id", task_id, "error", err.msg, NULL);
		return NULL;
	}
	if (PQntuples(res) > 0)
		o = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	PQclear(res);
	return o;
}

void
h_tasks_get(struct cy_http_req *req, struct cy_http_resp *resp)
{
	PGresult *res = task_lookup(req, resp);
	json_t *o, *job;

	if (!res)
		return;
	o = task_json(res, 0);
	if ((job = task_job_json(PQgetvalue(res, 0, TC_ID))))
		json_object_set_new(o, "job", job);
	if (!PQgetisnull(res, 0, TC_ARRAY_SPEC) &&
	    (job = task_array_json(PQgetvalue(res, 0, TC_ID))))
		json_object_set_new(o, "array", job);
	cy_resp_json(resp, 200, o);
	PQclear(res);
}
