/*
 * /v1/queues: list, show (the queue's head in dispatch order with each
 * job's pending reason, and its users' running and queued counts), and,
 * for admins, create, change and delete (each audited).  A job's owner and
 * task show only to that owner and to operators and admins; others see
 * the job's place, priority and rank, which is what explains the order.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "auth.h"
#include "db.h"
#include "identity.h"
#include "json.h"
#include "log.h"
#include "queues.h"
#include "store-util.h"
#include "strnum.h"
#include "banned.h"

#define QUEUE_LIMIT_MAX 1000000
#define QUEUE_HEAD_MAX 500

/* clang-format off */
#define QUEUE_FIELDS \
	{ .name = "priority", .type = CY_JC_INT, .null_ok = true, .min = -1000, .max = 1000 }, \
	{ .name = "max_running", .type = CY_JC_INT, .null_ok = true, .min = 1, \
	  .max = QUEUE_LIMIT_MAX }, \
	{ .name = "max_running_per_user", .type = CY_JC_INT, .null_ok = true, .min = 1, \
	  .max = QUEUE_LIMIT_MAX }, \
	{ .name = "description", .type = CY_JC_STRING, .null_ok = true, .max = 500, \
	  .printable = true }

const struct cy_jcheck queues_create_body = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "name", .type = CY_JC_STRING, .required = true, .valid = queue_name_valid,
		  .shape = QUEUE_NAME_SHAPE },
		QUEUE_FIELDS),
};
const struct cy_jcheck queues_update_body = {
	.fields = CY_JCHECK_ROWS(QUEUE_FIELDS),
};
/* clang-format on */

/* The {name} of the path, or NULL with a 400. */
static const char *
queue_param(struct cy_http_req *req, struct cy_http_resp *resp)
{
	if (!queue_name_valid(req->params[0])) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "'%.64s' is not %s", req->params[0],
		    QUEUE_NAME_SHAPE);
		return NULL;
	}
	return req->params[0];
}

static bool
sees_all(const struct auth_ctx *a)
{
	return a->role >= ROLE_OPERATOR;
}

void
h_queues_list(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	PGresult *res = store_queue_list(&err);

	if (!res)
		return identity_internal(resp, "queue list", &err);
	cy_resp_json(resp, 200, json_pack("{s:o}", "queues", store_json_rows(res, 0)));
	PQclear(res);
}

void
h_queues_get(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	const char *name, *q_limit = cy_req_query(req, "limit"), *errstr;
	struct cy_error err = CY_ERROR_INIT;
	PGresult *res;
	long long limit = 20;
	json_t *o;

	if (!(name = queue_param(req, resp)))
		return;
	if (q_limit && cy_strtonum(q_limit, 1, QUEUE_HEAD_MAX, &limit, &errstr) < 0)
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "limit must be an integer between 1 and %d", QUEUE_HEAD_MAX);
	if (!(res = store_queue_get(name, &err)))
		return identity_internal(resp, "queue get", &err);
	if (!(o = store_json_row(res, 0))) {
		PQclear(res);
		return cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "no queue named %s", name);
	}
	PQclear(res);
	if (!(res = store_queue_head(name, a->user_id, sees_all(a), limit, &err)))
		goto fail;
	json_object_set_new(o, "head", store_json_rows(res, 0));
	PQclear(res);
	if (!(res = store_queue_users(name, a->user_id, sees_all(a), &err)))
		goto fail;
	json_object_set_new(o, "users", store_json_rows(res, 0));
	PQclear(res);
	cy_resp_json(resp, 200, o);
	return;
fail:
	json_decref(o);
	identity_internal(resp, "queue show", &err);
}

/* Create or change, audited in the same transaction. */
static void
queue_put(struct cy_http_req *req, struct cy_http_resp *resp, const char *name, bool update)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	PGresult *res = NULL;
	json_t *body, *o = NULL;

	if (!(body = cy_req_json(req, resp)))
		return;
	if (!name)
		name = cy_json_str(body, "name");
	if (db_begin(&err) < 0)
		goto fail;
	if (!(res = store_queue_put(name, body, update, &err)))
		goto fail;
	if (!(o = store_json_row(res, 0))) {
		db_rollback();
		cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "no queue named %s", name);
		goto out;
	}
	if (audit_admin(a, update ? "queue.update" : "queue.create", name, body, &err) < 0 ||
	    db_commit(&err) < 0)
		goto fail;
	cy_log_info(update ? "queue_updated" : "queue_created", "user", a->handle, "queue", name,
	    NULL);
	cy_resp_json(resp, update ? 200 : 201, o);
	o = NULL;
	goto out;
fail:
	db_rollback();
	if (err.code == EEXIST)
		cy_resp_problem(resp, CY_PROBLEM_CONFLICT, "a queue named %s exists", name);
	else
		identity_internal(resp, update ? "queue update" : "queue create", &err);
out:
	json_decref(o);
	PQclear(res);
	json_decref(body);
}

void
h_queues_create(struct cy_http_req *req, struct cy_http_resp *resp)
{
	queue_put(req, resp, NULL, false);
}

void
h_queues_update(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const char *name;

	if ((name = queue_param(req, resp)))
		queue_put(req, resp, name, true);
}

void
h_queues_delete(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	const char *name;
	int n;

	if (!(name = queue_param(req, resp)))
		return;
	if (!strcmp(name, "default"))
		return cy_resp_problem(resp, CY_PROBLEM_CONFLICT,
		    "the queue default takes the jobs that name none: it cannot be deleted");
	if (db_begin(&err) < 0)
		goto fail;
	if ((n = store_queue_delete(name, &err)) < 0)
		goto fail;
	if (n == 0) {
		db_rollback();
		return cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "no queue named %s", name);
	}
	if (audit_admin(a, "queue.delete", name, NULL, &err) < 0 || db_commit(&err) < 0)
		goto fail;
	cy_log_info("queue_deleted", "user", a->handle, "queue", name, NULL);
	cy_resp_empty(resp, 204);
	return;
fail:
	db_rollback();
	if (err.code == EBUSY)
		cy_resp_problem(resp, CY_PROBLEM_CONFLICT, "%s", err.msg);
	else
		identity_internal(resp, "queue delete", &err);
}
