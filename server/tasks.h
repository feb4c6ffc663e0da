/*
 * The task routes of the user gateway, one file per route (or pair of
 * routes), and the helpers they share.  The long-poll registry is in
 * task-wait.h, task names in task-name.h, the SQL in store-tasks.h.
 */
#ifndef SERVER_TASKS_H
#define SERVER_TASKS_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "httpd.h"
#include "jcheck.h"

/* task-create.c: POST /v1/tasks */
void h_tasks_create(struct cy_http_req *req, struct cy_http_resp *resp);
extern const struct cy_jcheck tasks_create_body;
/*
 * The create path of POST /v1/tasks for a body that passed
 * tasks_create_body, on behalf of user_id (handle for the logs), with an
 * optional Idempotency-Key: every check, then (unless dry_run) the task
 * stored and the dispatcher woken.  0 with *task (when task is not NULL;
 * not set by a dry run) the new TaskResponse and *replayed true when the
 * key had made it before; -1 with resp filled (400, 404, 500, 503).  The
 * schedules (schedule-run.c) create their tasks through it too.
 */
int task_create_checked(const json_t *body, const char *user_id, const char *handle,
    const char *idempotency_key, bool dry_run, json_t **task, bool *replayed,
    struct cy_http_resp *resp);

/* task-get.c: GET /v1/tasks, GET /v1/tasks/{id}, and the helpers below */
void h_tasks_list(struct cy_http_req *req, struct cy_http_resp *resp);
void h_tasks_get(struct cy_http_req *req, struct cy_http_resp *resp);
/* The API status for a DB task status ("pending" -> "queued"). */
const char *task_api_status(const char *db);
/* True when a DB task status is terminal. */
bool task_db_status_ended(const char *db);
/* TaskResponse for row `row` of a TASK_COLS result. */
json_t *task_json(const PGresult *res, int row);
/* An array task's summary (store_task_array), or NULL (not an array, or an error logged). */
json_t *task_array_json(const char *task_id);
/*
 * The caller's task named by req->params[0] (UUID or name).  Returns the
 * row (TASK_COLS), or NULL with resp filled: 404, 403 "Not task owner", 500.
 */
PGresult *task_lookup(struct cy_http_req *req, struct cy_http_resp *resp);
/* The same for the task reference `ref`. */
PGresult *task_lookup_ref(struct cy_http_req *req, const char *ref, struct cy_http_resp *resp);

/* task-result.c: GET /v1/tasks/{id}/result (?wait=), POST /v1/tasks:wait */
void h_tasks_result(struct cy_http_req *req, struct cy_http_resp *resp);
void h_tasks_wait(struct cy_http_req *req, struct cy_http_resp *resp);
extern const struct cy_jcheck tasks_wait_body;

/* task-logs.c: GET /v1/tasks/{id}/logs (?follow=) */
void h_tasks_logs(struct cy_http_req *req, struct cy_http_resp *resp);

/* route-blobs.c: uploads (streamed body) and the node's attachment downloads. */
int b_uploads_body(struct cy_http_req *req, const char *data, size_t len,
    struct cy_http_resp *resp);
void h_uploads_create(struct cy_http_req *req, struct cy_http_resp *resp);
void h_nodes_job_attachment(struct cy_http_req *req, struct cy_http_resp *resp);

/*
 * route-artifacts.c: the node's artifact uploads (streamed body), the
 * users' list and download.
 */
int b_nodes_job_artifact_body(struct cy_http_req *req, const char *data, size_t len,
    struct cy_http_resp *resp);
void h_nodes_job_artifact_put(struct cy_http_req *req, struct cy_http_resp *resp);
void h_tasks_artifacts_list(struct cy_http_req *req, struct cy_http_resp *resp);
void h_tasks_artifact_get(struct cy_http_req *req, struct cy_http_resp *resp);

/*
 * task-sba.c: agent tasks.  The job spec of a new task with use_sba (the
 * caller's job_spec_json, or the prompt as its goal), checked: a new
 * object, or NULL with resp filled.
 */
json_t *task_sba_spec(const json_t *body, const char *prompt, struct cy_http_resp *resp);
/*
 * A job result reporting "completed": its sba_result (required when the
 * job is an agent job) must be valid, else the result becomes "failed"
 * with the reason in "error".  False when it was changed so.
 */
bool task_sba_verdict(json_t *result, const char *job_id, bool required);

/* task-cancel.c: POST /v1/tasks/{id}/cancel */
void h_tasks_cancel(struct cy_http_req *req, struct cy_http_resp *resp);

#endif
