/*
 * The node's side of dispatch (node JWT, on both listeners):
 *
 *  POST /v1/nodes/jobs/sync (node JWT): the node reports the jobs it runs
 *  and the results it holds; running jobs get their lease renewed, and the
 *  answer lists the results still wanted and the jobs to kill.
 *  {"version":1,"running":[job ids],"finished":[job ids]} ->
 *  {"version":1,"want":[...],"cancel":[...],"lease_seconds":N,"sync_seconds":N}
 *
 *  POST /v1/nodes/jobs/{id}/result (node JWT): a RunJobResponse the node
 *  could not deliver on jobs:run; applied once (only while the job is still
 *  running on that node under the same lease).  200 {"applied":bool}.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "auth.h"
#include "buf.h"
#include "dispatch.h"
#include "id.h"
#include "json.h"
#include "log.h"
#include "tasks.h"
#include "task-wait.h"
#include "banned.h"

#define SYNC_MAX_IDS 100000

static const struct cy_jcheck_field job_id_item = {
	.type = CY_JC_STRING,
	.valid = cy_uuid_valid,
	.shape = "a job id (UUID)",
};

/* clang-format off */
#define JOB_IDS(n) { .name = (n), .type = CY_JC_ARRAY, .null_ok = true, .max = SYNC_MAX_IDS, \
	.item = &job_id_item }

/* POST /v1/nodes/jobs/sync {version, running?, finished?} */
const struct cy_jcheck nodes_jobs_sync_body = {
	.fields = CY_JCHECK_ROWS( JOB_IDS("running"), JOB_IDS("finished")),
	.open = true,
	.version = 1,
	.what = "job sync",
};
/* clang-format on */

static const char *const result_statuses[] = { "completed", "failed", "timeout", "canceled", NULL };

/*
 * POST /v1/nodes/jobs/{id}/result: the job's RunJobResponse (contract
 * 3.9) as the node kept it, with the lease it ran under.  The fields the
 * server stores are typed; the rest is kept as the node sent it.
 */
/* clang-format off */
const struct cy_jcheck nodes_job_result_body = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "job_id", .type = CY_JC_STRING, .required = true,
		  .valid = cy_uuid_valid, .shape = "the job's id (a UUID)" },
		{ .name = "status", .type = CY_JC_STRING, .required = true,
		  .choices = result_statuses },
		{ .name = "lease_id", .type = CY_JC_STRING, .null_ok = true,
		  .valid = cy_uuid_valid, .shape = "a UUID" },
		{ .name = "exit_code", .type = CY_JC_INT, .null_ok = true, .min = INT32_MIN,
		  .max = INT32_MAX },
		{ .name = "task_id", .type = CY_JC_STRING, .null_ok = true },
		{ .name = "stdout", .type = CY_JC_STRING, .null_ok = true },
		{ .name = "stderr", .type = CY_JC_STRING, .null_ok = true },
		{ .name = "started_at", .type = CY_JC_STRING, .null_ok = true },
		{ .name = "ended_at", .type = CY_JC_STRING, .null_ok = true },
		{ .name = "truncated", .type = CY_JC_OBJECT, .null_ok = true },
		/* Accounting numbers; migration 0093 keeps the well-formed ones. */
		{ .name = "usage", .type = CY_JC_OBJECT, .null_ok = true }),
	.open = true,
	.version = 1,
	.what = "job result",
};
/* clang-format on */

/* The job ids at key (checked: UUIDs) as a new array of borrowed strings. */
static const char **
id_list(const json_t *body, const char *key, size_t *n)
{
	json_t *arr = json_object_get(body, key), *v;
	const char **out;
	size_t i;

	*n = json_array_size(arr);
	out = xcalloc(*n + 1, sizeof(*out));
	json_array_foreach(arr, i, v)
		out[i] = json_string_value(v);
	return out;
}

static json_t *
ids_json(const struct dispatch_ids *ids)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < ids->n; i++)
		json_array_append_new(a, json_string(ids->id[i]));
	return a;
}

void
h_nodes_jobs_sync(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct dispatch_ids want = { 0 }, cancel = { 0 };
	struct cy_error err = CY_ERROR_INIT;
	const char **running = NULL, **finished = NULL;
	size_t nr, nf;
	long long lease = dispatch_lease_s(), every;
	json_t *body;

	if (!(body = cy_req_json(req, resp)))
		return;
	running = id_list(body, "running", &nr);
	finished = id_list(body, "finished", &nf);
	if (store_dispatch_sync(a->node_id, running, nr, finished, nf, lease, &want, &cancel,
		&err) < 0) {
		cy_log_error("node_sync_failed", "node", a->node_slug, "error", err.msg, NULL);
		cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot sync the node's jobs");
		goto out;
	}
	every = lease / 3 > 0 ? lease / 3 : 1;
	cy_resp_json(resp, 200,
	    json_pack("{s:i, s:o, s:o, s:I, s:I}", "version", 1, "want", ids_json(&want), "cancel",
		ids_json(&cancel), "lease_seconds", (json_int_t)lease, "sync_seconds",
		(json_int_t)every));
out:
	dispatch_ids_release(&want);
	dispatch_ids_release(&cancel);
	free(running);
	free(finished);
	json_decref(body);
}

void
h_nodes_job_result(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct dispatch_ids closed = { 0 };
	struct cy_error err = CY_ERROR_INIT;
	struct dispatch_result r = { 0 };
	const char *job_id = req->params[0], *st, *rj, *lease;
	char code[24], lease_buf[DISPATCH_ID_LEN] = "";
	json_t *body, *ec;
	char *text = NULL;
	size_t i;
	int n, agent;

	if (!cy_uuid_valid(job_id))
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "job id must be a UUID");
	if (!(body = cy_req_json(req, resp)))
		return;
	st = cy_json_str(body, "status");
	rj = cy_json_str(body, "job_id");
	lease = cy_json_str(body, "lease_id");
	if (strcmp(rj, job_id) != 0) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "job_id '%s' is not the job of the path (%s)", rj, job_id);
		goto out;
	}
	ec = json_object_get(body, "exit_code");
	r.job_id = job_id;
	if (lease)
		xsnprintf(lease_buf, sizeof(lease_buf), "%s", lease);
	r.lease_id = lease ? lease_buf : NULL;
	r.node_id = a->node_id;
	/* An agent job's completed result must carry a valid sba_result. */
	if ((agent = store_job_is_agent(job_id, &err)) < 0) {
		cy_log_error("job_redelivery_failed", "job_id", job_id, "error", err.msg, NULL);
		cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot store the result");
		goto out;
	}
	if (!task_sba_verdict(body, job_id, agent == 1))
		st = cy_json_str(body, "status");
	r.status = strcmp(st, "completed") ? "failed" : "completed";
	/* st is borrowed from body: keep the result's own status string alive. */
	json_object_del(body, "lease_id");
	text = cy_json_dump(body);
	r.result = text;
	if (json_is_integer(ec)) {
		xsnprintf(code, sizeof(code), "%lld", (long long)json_integer_value(ec));
		r.exit_code = code;
	} else if (!strcmp(r.status, "completed")) {
		r.exit_code = "0";
	}
	n = store_dispatch_finish(&r, 1, &closed, &err);
	if (n < 0) {
		cy_log_error("job_redelivery_failed", "job_id", job_id, "error", err.msg, NULL);
		cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot store the result");
		goto out;
	}
	for (i = 0; i < closed.n; i++)
		task_wait_closed(closed.id[i]);
	if (n > 0)
		dispatch_wake();
	cy_log_info(n > 0 ? "job_result_redelivered" : "job_result_duplicate", "job_id", job_id,
	    "node", a->node_slug, "status", r.status, NULL);
	cy_resp_json(resp, 200, json_pack("{s:b}", "applied", n > 0));
out:
	dispatch_ids_release(&closed);
	free(text);
	json_decref(body);
}
