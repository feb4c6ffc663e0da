/*
 * POST /v1/workflow/{start,resume,checkpoint,release}: workflow leases for
 * an external workflow runner (workflow.h).  Every call runs in one
 * transaction that first locks the task's row, then the run's, so that
 * two holders racing for one task get exactly one 200.
 *
 *   start      {task_id, holder, lease_seconds?} -> 200 {run_id, status:
 *              started | already_running, lease_expires_at, ...}; 409 while
 *              another holder's lease runs; an expired lease is taken over
 *              (the run, its id and its checkpoint pass to the new holder).
 *   resume     {task_id, holder, lease_seconds?} -> 200 the running run with
 *              its last checkpoint (last_node_id, state), lease renewed; 404
 *              when none runs; 409 while another holder's lease runs.
 *   checkpoint {task_id, run_id, holder, node_id, state?} -> 200; renews the
 *              lease; 409 when the run is released or another holder's.
 *   release    {task_id, run_id, holder} -> 200 {status: released}; then
 *              another holder may start.
 *
 * Takeovers are audited (admin_audit_log "workflow.takeover").
 */
#include <string.h>

#include "audit.h"
#include "auth.h"
#include "db.h"
#include "id.h"
#include "identity.h"
#include "json.h"
#include "log.h"
#include "server.h"
#include "workflow.h"
#include "banned.h"

#define WF_NAME_MAX 128
#define WF_LEASE_MAX 86400
/* The state object of a checkpoint, serialized. */
#define WF_STATE_MAX (64 * 1024)

/* A holder or step name: [A-Za-z0-9] then [A-Za-z0-9._:@/-], at most 128 bytes. */
static bool
name_valid(const char *s, const char *more)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > WF_NAME_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
			continue;
		if (i == 0 || !strchr(more, c))
			return false;
	}
	return true;
}

static bool
holder_valid(const char *s)
{
	return name_valid(s, "._:@/-");
}

static bool
node_id_valid(const char *s)
{
	return name_valid(s, "._:-");
}

#define HOLDER_SHAPE "1 to 128 of [A-Za-z0-9._:@/-], starting with a letter or digit"
#define NODE_ID_SHAPE "1 to 128 of [A-Za-z0-9._:-], starting with a letter or digit"

/* clang-format off */
const struct cy_jcheck workflow_start_body = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "task_id", .type = CY_JC_STRING, .required = true,
		  .valid = cy_uuid_valid, .shape = "a UUID" },
		{ .name = "holder", .type = CY_JC_STRING, .required = true,
		  .valid = holder_valid, .shape = HOLDER_SHAPE },
		{ .name = "lease_seconds", .type = CY_JC_INT, .null_ok = true, .min = 1,
		  .max = WF_LEASE_MAX }),
};
const struct cy_jcheck workflow_resume_body = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "task_id", .type = CY_JC_STRING, .required = true,
		  .valid = cy_uuid_valid, .shape = "a UUID" },
		{ .name = "holder", .type = CY_JC_STRING, .required = true,
		  .valid = holder_valid, .shape = HOLDER_SHAPE },
		{ .name = "lease_seconds", .type = CY_JC_INT, .null_ok = true, .min = 1,
		  .max = WF_LEASE_MAX }),
};
const struct cy_jcheck workflow_checkpoint_body = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "task_id", .type = CY_JC_STRING, .required = true,
		  .valid = cy_uuid_valid, .shape = "a UUID" },
		{ .name = "run_id", .type = CY_JC_STRING, .required = true,
		  .valid = cy_uuid_valid, .shape = "a UUID" },
		{ .name = "holder", .type = CY_JC_STRING, .required = true,
		  .valid = holder_valid, .shape = HOLDER_SHAPE },
		{ .name = "node_id", .type = CY_JC_STRING, .required = true,
		  .valid = node_id_valid, .shape = NODE_ID_SHAPE },
		{ .name = "state", .type = CY_JC_OBJECT, .null_ok = true }),
};
const struct cy_jcheck workflow_release_body = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "task_id", .type = CY_JC_STRING, .required = true,
		  .valid = cy_uuid_valid, .shape = "a UUID" },
		{ .name = "run_id", .type = CY_JC_STRING, .required = true,
		  .valid = cy_uuid_valid, .shape = "a UUID" },
		{ .name = "holder", .type = CY_JC_STRING, .required = true,
		  .valid = holder_valid, .shape = HOLDER_SHAPE }),
};
/* clang-format on */

/* The lease a start or resume asks for, else the configured default. */
static long long
lease_of(const json_t *body)
{
	long long s;

	if (cy_json_int(body, "lease_seconds", &s) == 0 && s > 0)
		return s;
	return srv.cfg.workflow_lease_s > 0 ? srv.cfg.workflow_lease_s : 300;
}

/* Answers 200 with run plus "status"; takes run. */
static void
answer(struct cy_http_resp *resp, json_t *run, const char *status, bool taken_over)
{
	json_object_set_new(run, "status", json_string(status));
	json_object_set_new(run, "taken_over", json_boolean(taken_over));
	cy_resp_json(resp, 200, run);
}

static void
conflict_held(struct cy_http_resp *resp, const PGresult *res)
{
	cy_resp_problem(resp, CY_PROBLEM_CONFLICT,
	    "the task's workflow lease is held by '%s' until %s (run %s)",
	    PQgetvalue(res, 0, WFR_HOLDER), PQgetvalue(res, 0, WFR_EXPIRES),
	    PQgetvalue(res, 0, WFR_ID));
}

/* Audits and logs the takeover of run from `from` by `to`; -1 with err set. */
static int
audit_takeover(const struct auth_ctx *a, const char *task_id, const char *run_id, const char *from,
    const char *to, const char *how, struct cy_error *err)
{
	json_t *d = json_pack("{s:s, s:s, s:s, s:s}", "run_id", run_id, "from_holder", from,
	    "to_holder", to, "by", how);
	int rc = audit_admin(a, "workflow.takeover", task_id, d, err);

	json_decref(d);
	if (rc == 0)
		cy_log_warn("workflow_takeover", "task_id", task_id, "run_id", run_id, "from", from,
		    "to", to, "by", how, NULL);
	return rc;
}

/*
 * Begins the transaction and locks the task: 1 locked, 0 answered (404),
 * -1 failed (err set; the caller rolls back and answers 500).
 */
static int
begin_task(struct cy_http_resp *resp, const char *task_id, struct cy_error *err)
{
	int n;

	if (db_begin(err) < 0 || (n = store_wf_lock_task(task_id, err)) < 0)
		return -1;
	if (n == 0) {
		db_rollback();
		cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "task %s not found", task_id);
		return 0;
	}
	return 1;
}

/* start and resume differ only in what happens when no run is running. */
static void
lease_take(struct cy_http_req *req, struct cy_http_resp *resp, bool start)
{
	const char *what = start ? "workflow start" : "workflow resume";
	struct cy_error err = CY_ERROR_INIT;
	const char *task_id, *holder, *status;
	PGresult *res = NULL;
	json_t *body, *run = NULL;
	bool mine, takeover = false;
	int n;

	if (!(body = cy_req_json(req, resp)))
		return;
	task_id = cy_json_str(body, "task_id");
	holder = cy_json_str(body, "holder");
	if ((n = begin_task(resp, task_id, &err)) < 0)
		goto fail;
	if (n == 0)
		goto done;
	if (!(res = store_wf_running(task_id, &err)))
		goto fail;
	if (PQntuples(res) == 0) {
		if (!start) {
			db_rollback();
			cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND,
			    "no workflow run is running for task %s: start one", task_id);
			goto done;
		}
		if (!(run = store_wf_start(task_id, holder, lease_of(body), &err)))
			goto fail;
		status = "started";
	} else {
		mine = !strcmp(PQgetvalue(res, 0, WFR_HOLDER), holder);
		if (!mine && PQgetvalue(res, 0, WFR_EXPIRED)[0] != 't') {
			db_rollback();
			conflict_held(resp, res);
			goto done;
		}
		takeover = !mine;
		if (!(run = store_wf_renew(PQgetvalue(res, 0, WFR_ID), holder, lease_of(body),
			  takeover, &err)))
			goto fail;
		if (takeover && audit_takeover(req->auth, task_id, PQgetvalue(res, 0, WFR_ID),
				    PQgetvalue(res, 0, WFR_HOLDER), holder,
				    start ? "start" : "resume", &err) < 0)
			goto fail;
		status = !start ? "resumed" : mine ? "already_running" : "started";
	}
	if (db_commit(&err) < 0)
		goto fail;
	cy_log_info(start ? "workflow_start" : "workflow_resume", "task_id", task_id, "holder",
	    holder, "status", status, NULL);
	answer(resp, run, status, takeover);
	run = NULL;
	goto done;
fail:
	db_rollback();
	identity_internal(resp, what, &err);
done:
	json_decref(run);
	PQclear(res);
	json_decref(body);
}

void
h_workflow_start(struct cy_http_req *req, struct cy_http_resp *resp)
{
	lease_take(req, resp, true);
}

void
h_workflow_resume(struct cy_http_req *req, struct cy_http_resp *resp)
{
	lease_take(req, resp, false);
}

/*
 * Locks run_id of the body's task for its holder: 1 locked (*res holds the
 * row), 0 answered (404, 409), -1 failed (err set).  A released run
 * answers 409 unless released_ok.
 */
static int
run_for_holder(struct cy_http_resp *resp, const json_t *body, bool released_ok, PGresult **res,
    struct cy_error *err)
{
	const char *task_id = cy_json_str(body, "task_id");
	const char *run_id = cy_json_str(body, "run_id");
	const char *holder = cy_json_str(body, "holder");
	int n;

	if ((n = begin_task(resp, task_id, err)) <= 0)
		return n;
	if (!(*res = store_wf_run_lock(run_id, task_id, err)))
		return -1;
	if (PQntuples(*res) == 0) {
		db_rollback();
		cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "task %s has no workflow run %s",
		    task_id, run_id);
		return 0;
	}
	if (strcmp(PQgetvalue(*res, 0, WFR_HOLDER), holder) != 0) {
		db_rollback();
		cy_resp_problem(resp, CY_PROBLEM_CONFLICT,
		    "workflow run %s is held by '%s', not by '%s'", run_id,
		    PQgetvalue(*res, 0, WFR_HOLDER), holder);
		return 0;
	}
	if (!released_ok && strcmp(PQgetvalue(*res, 0, WFR_STATUS), "running") != 0) {
		db_rollback();
		cy_resp_problem(resp, CY_PROBLEM_CONFLICT,
		    "workflow run %s was released: start a new run", run_id);
		return 0;
	}
	return 1;
}

void
h_workflow_checkpoint(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	const json_t *state;
	PGresult *res = NULL;
	json_t *body, *run = NULL;
	char *sj = NULL;
	int n;

	if (!(body = cy_req_json(req, resp)))
		return;
	state = json_object_get(body, "state");
	if (state && json_is_object(state)) {
		sj = json_dumps(state, JSON_COMPACT);
		if (!sj || strlen(sj) > WF_STATE_MAX) {
			cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			    "state is larger than %d bytes as JSON", WF_STATE_MAX);
			goto done;
		}
	}
	if ((n = run_for_holder(resp, body, false, &res, &err)) < 0)
		goto fail;
	if (n == 0)
		goto done;
	if (!(run = store_wf_checkpoint(cy_json_str(body, "run_id"), cy_json_str(body, "node_id"),
		  sj, &err)) ||
	    db_commit(&err) < 0)
		goto fail;
	cy_log_info("workflow_checkpoint", "task_id", cy_json_str(body, "task_id"), "run_id",
	    cy_json_str(body, "run_id"), "node_id", cy_json_str(body, "node_id"), NULL);
	answer(resp, run, "checkpointed", false);
	run = NULL;
	goto done;
fail:
	db_rollback();
	identity_internal(resp, "workflow checkpoint", &err);
done:
	free(sj);
	json_decref(run);
	PQclear(res);
	json_decref(body);
}

void
h_workflow_release(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	PGresult *res = NULL;
	json_t *body, *run = NULL;
	bool again;
	int n;

	if (!(body = cy_req_json(req, resp)))
		return;
	if ((n = run_for_holder(resp, body, true, &res, &err)) < 0)
		goto fail;
	if (n == 0)
		goto done;
	/* Releasing twice is answered as the first time. */
	again = strcmp(PQgetvalue(res, 0, WFR_STATUS), "running") != 0;
	run = again ? store_wf_get(cy_json_str(body, "run_id"), &err) :
		      store_wf_release(cy_json_str(body, "run_id"), &err);
	if (!run || db_commit(&err) < 0)
		goto fail;
	cy_log_info("workflow_release", "task_id", cy_json_str(body, "task_id"), "run_id",
	    cy_json_str(body, "run_id"), "holder", cy_json_str(body, "holder"), NULL);
	answer(resp, run, "released", false);
	run = NULL;
	goto done;
fail:
	db_rollback();
	identity_internal(resp, "workflow release", &err);
done:
	json_decref(run);
	PQclear(res);
	json_decref(body);
}
