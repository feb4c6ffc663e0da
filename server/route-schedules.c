/*
 * /v1/schedules: the caller's recurring tasks.  POST creates one {name,
 * cron, timezone?, task, enabled?, max_history?}: the cron expression
 * parsed (lib/cron.h), the task body checked by the create path of POST
 * /v1/tasks without storing anything (task_create_checked, dry run), so a
 * schedule that could never make its task is refused at once.  GET lists
 * them, GET /v1/schedules/{id|name} adds the newest runs (slot, task,
 * status), PATCH changes enabled, cron or max_history, DELETE removes one
 * with its runs (the tasks stay).  Another user's schedule is not found:
 * nobody, an admin neither, sees or changes it.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "cron.h"
#include "id.h"
#include "json.h"
#include "log.h"
#include "schedules.h"
#include "store-schedules.h"
#include "store-util.h"
#include "tasks.h"
#include "banned.h"

#define SCHEDULE_NAME_SHAPE \
	"1 to 63 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"

/* A schedule's name: SCHEDULE_NAME_SHAPE. */
static bool
schedule_name_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 63 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
			s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

/* clang-format off */
const struct cy_jcheck schedules_create_body = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "name", .type = CY_JC_STRING, .required = true,
		  .valid = schedule_name_valid, .shape = SCHEDULE_NAME_SHAPE },
		{ .name = "cron", .type = CY_JC_STRING, .required = true, .min = 1,
		  .max = CY_CRON_MAX },
		{ .name = "timezone", .type = CY_JC_STRING, .null_ok = true, .min = 1, .max = 64 },
		{ .name = "task", .type = CY_JC_OBJECT, .required = true,
		  .sub = &tasks_create_body },
		{ .name = "enabled", .type = CY_JC_BOOL, .null_ok = true },
		{ .name = "max_history", .type = CY_JC_INT, .null_ok = true, .min = 1,
		  .max = SCHEDULE_HISTORY_MAX }),
};

const struct cy_jcheck schedules_patch_body = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "cron", .type = CY_JC_STRING, .null_ok = true, .min = 1,
		  .max = CY_CRON_MAX },
		{ .name = "enabled", .type = CY_JC_BOOL, .null_ok = true },
		{ .name = "max_history", .type = CY_JC_INT, .null_ok = true, .min = 1,
		  .max = SCHEDULE_HISTORY_MAX }),
};
/* clang-format on */

static void
schedule_internal(struct cy_http_resp *resp, const char *what, const struct cy_error *err)
{
	cy_log_error("schedule_failed", "step", what, "error", err->msg, NULL);
	cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot %s the schedule", what);
}

/*
 * The cron expression parsed, and its first slot after now into *next;
 * -1 with resp filled (400) when it is not one or never matches.
 */
static int
schedule_cron(const char *expr, int64_t *next, struct cy_http_resp *resp)
{
	struct cy_cron c;
	char why[256];

	if (cy_cron_parse(expr, &c, why, sizeof(why)) < 0) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "cron '%.300s': %s (want minute hour day-of-month month day-of-week, e.g. "
		    "'*/5 * * * *', or @hourly, @daily, @weekly, @monthly, @yearly)",
		    expr, why);
		return -1;
	}
	*next = cy_cron_next(&c, (int64_t)time(NULL));
	if (*next < 0) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "cron '%.300s' never matches a day of the calendar (e.g. 30 February)", expr);
		return -1;
	}
	return 0;
}

/* The schedule row of res with its newest runs (up to its max_history), or NULL on error. */
static json_t *
schedule_json(PGresult *res, bool runs, struct cy_error *err)
{
	json_t *o = store_json_row(res, SC_JSON), *list;
	long long hist = strtoll(PQgetvalue(res, 0, SC_MAX_HISTORY), NULL, 10);

	if (!o)
		o = json_object();
	if (!runs)
		return o;
	if (!(list = store_schedule_runs(PQgetvalue(res, 0, SC_ID), hist, err))) {
		json_decref(o);
		return NULL;
	}
	json_object_set_new(o, "runs", list);
	return o;
}

void
h_schedules_create(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	struct cy_http_resp check = { .body = CY_BUF_INIT };
	struct schedule_new s = { 0 };
	char id[CY_UUID_LEN + 1];
	PGresult *res = NULL;
	long long count;
	json_t *body, *o;
	bool replayed;
	char *task = NULL;

	if (!(body = cy_req_json(req, resp)))
		return;
	s.name = cy_json_str(body, "name");
	s.cron = cy_json_str(body, "cron");
	s.timezone = cy_json_str(body, "timezone") ? cy_json_str(body, "timezone") : "UTC";
	s.enabled = cy_json_bool(body, "enabled", true);
	s.max_history = SCHEDULE_HISTORY_DEFAULT;
	(void)cy_json_int(body, "max_history", &s.max_history);
	if (strcmp(s.timezone, "UTC")) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "timezone '%.64s': only UTC is supported (a schedule's slots are UTC times)",
		    s.timezone);
		goto out;
	}
	if (schedule_cron(s.cron, &s.next_run, resp) < 0)
		goto out;
	if (json_array_size(json_object_get(json_object_get(body, "task"), "attachments"))) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "task.attachments: a schedule's task cannot carry attachments (uploads are "
		    "kept for uploads.retention only); fetch the files in the job instead");
		goto out;
	}
	/* The task as POST /v1/tasks would check it, nothing stored. */
	if (task_create_checked(json_object_get(body, "task"), a->user_id, a->handle, NULL, true,
		NULL, &replayed, &check) < 0) {
		json_t *p = json_loadb(check.body.buf, check.body.len, 0, NULL);

		if (json_is_object(p)) {
			json_object_set_new(p, "detail",
			    json_sprintf("task: %s",
				cy_json_str(p, "detail") ? cy_json_str(p, "detail") : "refused"));
			cy_resp_json(resp, check.status, p);
			resp->content_type = "application/problem+json";
		} else {
			json_decref(p);
			cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot check the task");
		}
		goto out;
	}
	if (!s.enabled)
		s.next_run = -1;
	/* A bound on the scheduler's work one user can ask for (a check, not a lock). */
	if ((count = store_schedule_count(a->user_id, &err)) < 0) {
		schedule_internal(resp, "count", &err);
		goto out;
	}
	if (count >= SCHEDULES_PER_USER) {
		cy_resp_problem(resp, CY_PROBLEM_CONFLICT,
		    "you have %lld schedules: at most %d (delete some first)", count,
		    SCHEDULES_PER_USER);
		goto out;
	}
	cy_uuid_v4(id);
	s.id = id;
	s.owner_id = a->user_id;
	task = cy_json_dump(json_object_get(body, "task"));
	s.task = task;
	if (!(res = store_schedule_insert(&s, &err))) {
		schedule_internal(resp, "create", &err);
		goto out;
	}
	if (PQntuples(res) == 0) {
		cy_resp_problem(resp, CY_PROBLEM_CONFLICT,
		    "you have a schedule named '%s' already (PATCH or DELETE it)", s.name);
		goto out;
	}
	if (!(o = schedule_json(res, true, &err))) {
		schedule_internal(resp, "read", &err);
		goto out;
	}
	cy_log_info("schedule_created", "schedule_id", id, "name", s.name, "cron", s.cron, "user",
	    a->handle, NULL);
	cy_resp_json(resp, 201, o);
out:
	if (res)
		PQclear(res);
	free(task);
	cy_buf_release(&check.body);
	json_decref(body);
}

void
h_schedules_list(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	PGresult *res;
	json_t *list;

	if (!(res = store_schedule_list(a->user_id, &err)))
		return schedule_internal(resp, "list", &err);
	list = store_json_rows(res, SC_JSON);
	PQclear(res);
	cy_resp_json(resp, 200, json_pack("{s:o}", "schedules", list));
}

/* The caller's schedule {id} (id or name), or NULL with resp filled (404, 500). */
static PGresult *
schedule_lookup(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	PGresult *res;

	if (!(res = store_schedule_find(a->user_id, req->params[0], &err))) {
		schedule_internal(resp, "read", &err);
		return NULL;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "you have no schedule '%.200s'",
		    req->params[0]);
		return NULL;
	}
	return res;
}

void
h_schedules_get(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	PGresult *res;
	json_t *o;

	if (!(res = schedule_lookup(req, resp)))
		return;
	o = schedule_json(res, true, &err);
	PQclear(res);
	if (!o)
		return schedule_internal(resp, "read", &err);
	cy_resp_json(resp, 200, o);
}

void
h_schedules_patch(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	PGresult *res = NULL, *upd = NULL;
	const char *cron, *enabled = NULL, *hist = NULL;
	char histbuf[24];
	bool was_on, on;
	int64_t next = -1;
	long long n;
	json_t *body, *o;

	if (!(body = cy_req_json(req, resp)))
		return;
	cron = cy_json_str(body, "cron");
	if (json_is_boolean(json_object_get(body, "enabled")))
		enabled = cy_json_bool(body, "enabled", false) ? "true" : "false";
	if (cy_json_int(body, "max_history", &n) == 0) {
		xsnprintf(histbuf, sizeof(histbuf), "%lld", n);
		hist = histbuf;
	}
	if (!cron && !enabled && !hist) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "nothing to change: give enabled, cron or max_history");
		goto out;
	}
	if (cron && schedule_cron(cron, &next, resp) < 0)
		goto out;
	if (!(res = schedule_lookup(req, resp)))
		goto out;
	was_on = !strcmp(PQgetvalue(res, 0, SC_ENABLED), "t");
	on = enabled ? !strcmp(enabled, "true") : was_on;
	/* Enabled anew or with a new expression: from the next slot after now. */
	if (on && !cron && was_on && !PQgetisnull(res, 0, SC_NEXT))
		next = strtoll(PQgetvalue(res, 0, SC_NEXT), NULL, 10);
	else if (on && !cron && schedule_cron(PQgetvalue(res, 0, SC_CRON), &next, resp) < 0)
		goto out;
	if (!on)
		next = -1;
	if (!(upd = store_schedule_update(PQgetvalue(res, 0, SC_ID), cron, enabled, hist, next,
		  &err)) ||
	    PQntuples(upd) == 0) {
		if (upd)
			cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "you have no schedule '%.200s'",
			    req->params[0]);
		else
			schedule_internal(resp, "update", &err);
		goto out;
	}
	if (!(o = schedule_json(upd, true, &err))) {
		schedule_internal(resp, "read", &err);
		goto out;
	}
	cy_log_info("schedule_updated", "schedule_id", PQgetvalue(upd, 0, SC_ID), "enabled",
	    on ? "true" : "false", "user", a->handle, NULL);
	cy_resp_json(resp, 200, o);
out:
	if (upd)
		PQclear(upd);
	if (res)
		PQclear(res);
	json_decref(body);
}

void
h_schedules_delete(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	int n;

	if ((n = store_schedule_delete(a->user_id, req->params[0], &err)) < 0)
		return schedule_internal(resp, "delete", &err);
	if (n == 0)
		return cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "you have no schedule '%.200s'",
		    req->params[0]);
	cy_log_info("schedule_deleted", "schedule", req->params[0], "user", a->handle, NULL);
	cy_resp_empty(resp, 204);
}
