/*
 * Durable job logs: the node streams each job's stdout and
 * stderr while it runs (logs-node.c: POST /v1/nodes/jobs/{id}/logs), the
 * server keeps them whole up to logs.max_bytes_per_stream, and the user
 * routes read them (logs-read.c helpers, used by task-logs.c for
 * GET /v1/tasks/{id}/logs and task-result.c for each job's `logs`).
 * A job whose node streamed nothing (an older node, a job that never
 * started) falls back to the stdout/stderr of its result.
 */
#ifndef SERVER_LOGS_H
#define SERVER_LOGS_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "buf.h"
#include "error.h"
#include "httpd.h"

enum {
	LOG_OUT,
	LOG_ERR
};
extern const char *const log_stream_names[2];

/* logs-node.c: POST /v1/nodes/jobs/{id}/logs (node JWT, raw body) */
void h_nodes_job_logs(struct cy_http_req *req, struct cy_http_resp *resp);

/*
 * logs-read.c, over the rows of store_logs_task(): the stored length of
 * stream s of the job at row (the result's text when nothing was streamed),
 * the bytes it lost to the limit, and whether it is complete.
 */
long long logs_stored(const PGresult *rows, int row, int s);
long long logs_lost(const PGresult *rows, int row, int s);
/* Appends bytes [off, off + max) of stream s, all jobs concatenated, to b. */
int logs_read(const PGresult *rows, int s, long long off, long long max, struct cy_buf *b,
    struct cy_error *err);
/*
 * {"stdout": {"bytes", "stored_bytes", "truncated", "lost_bytes"},
 * "stderr": {...}} for the job at row.
 */
json_t *logs_job_json(const PGresult *rows, int row);

#endif
