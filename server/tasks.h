/*
 * Helpers shared by the task route files (route-tasks.c, task-result.c):
 * the TaskResponse JSON of a task row and the lookup of the task named by
 * the {id} path segment with its ownership check.
 */
#ifndef SERVER_TASKS_H
#define SERVER_TASKS_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "httpd.h"

/* The API status for a DB task status ("pending" -> "queued"). */
const char *task_api_status(const char *db);
/* True when a DB task status is terminal (task-result.c). */
bool task_db_status_ended(const char *db);
/* TaskResponse for row `row` of a TASK_COLS result. */
json_t *task_json(const PGresult *res, int row);
/*
 * The caller's task named by req->params[0] (UUID or name).  Returns the
 * row (TASK_COLS), or NULL with resp filled: 404, 403 "Not task owner", 500.
 */
PGresult *task_lookup(struct cy_http_req *req, struct cy_http_resp *resp);
/* The same for the task reference `ref`. */
PGresult *task_lookup_ref(struct cy_http_req *req, const char *ref, struct cy_http_resp *resp);

#endif
