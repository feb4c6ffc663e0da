/*
 * Workflow leases (contract section 2, POST /v1/workflow/{start,resume,
 * checkpoint,release}): an external workflow runner, authenticated by the
 * runner token of workflow.runner_token_file (auth.c, AUTH_WORKFLOW),
 * leases a task as a run, checkpoints named steps (node_id and an optional
 * JSON state object), resumes from the last checkpoint after a crash and
 * releases.  One running run per task; another holder gets 409 until the
 * lease expires, then may take the run over (audited).
 */
#ifndef SERVER_WORKFLOW_H
#define SERVER_WORKFLOW_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "error.h"
#include "httpd.h"
#include "jcheck.h"

/* route-workflow.c */
void h_workflow_start(struct cy_http_req *req, struct cy_http_resp *resp);
void h_workflow_resume(struct cy_http_req *req, struct cy_http_resp *resp);
void h_workflow_checkpoint(struct cy_http_req *req, struct cy_http_resp *resp);
void h_workflow_release(struct cy_http_req *req, struct cy_http_resp *resp);
extern const struct cy_jcheck workflow_start_body;
extern const struct cy_jcheck workflow_resume_body;
extern const struct cy_jcheck workflow_checkpoint_body;
extern const struct cy_jcheck workflow_release_body;

/* store-workflow.c (call inside a transaction) */
/* Locks the task's row; 1 when it exists, 0 when not, -1 with err set. */
int store_wf_lock_task(const char *task_id, struct cy_error *err);

/* The columns of store_wf_running() and store_wf_run_lock(). */
enum wf_run_col {
	WFR_ID,
	WFR_HOLDER,
	WFR_EXPIRED, /* "t" when the lease has run out */
	WFR_STATUS,
	WFR_EXPIRES, /* lease_expires_at, RFC 3339 */
};
/* The task's running run, locked (0 or 1 rows), or NULL with err set. */
PGresult *store_wf_running(const char *task_id, struct cy_error *err);
/* Run run_id of task_id, locked (0 or 1 rows), or NULL with err set. */
PGresult *store_wf_run_lock(const char *run_id, const char *task_id, struct cy_error *err);

/* Each returns the run as a new JSON object, or NULL with err set. */
json_t *store_wf_start(const char *task_id, const char *holder, long long lease_s,
    struct cy_error *err);
/* Renews the lease (lease_s <= 0 keeps the run's), giving it to holder. */
json_t *store_wf_renew(const char *run_id, const char *holder, long long lease_s, bool takeover,
    struct cy_error *err);
/* Records step node_id with state (JSON object text, or NULL) and renews the lease. */
json_t *store_wf_checkpoint(const char *run_id, const char *node_id, const char *state,
    struct cy_error *err);
json_t *store_wf_release(const char *run_id, struct cy_error *err);
/* The run as JSON without changing it. */
json_t *store_wf_get(const char *run_id, struct cy_error *err);

#endif
