/*
 * telemetry.c: the node's own telemetry store under <state_dir>/telemetry
 * (lifecycle and job events, job records), bounded by telemetry.max_bytes
 * and telemetry.retention, read by the Worker API's telemetry routes
 * (telemetry-api.c).
 */
#ifndef CY_NODE_TELEMETRY_H
#define CY_NODE_TELEMETRY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "error.h"

struct node_config;

/* Makes the store's directory; until then (and after close) nothing is recorded. */
int node_telemetry_open(const struct node_config *c, struct cy_error *err);
void node_telemetry_close(void);
/* Drops the lines older than telemetry.retention from the store's files. */
void node_telemetry_prune(void);
/* One event: source "node" or "job", level info|warn|error, kind, message. */
void node_telemetry_event(const char *source, const char *level, const char *kind,
    const char *message, const char *task_id, const char *job_id);
/* A job's record (ended 0 and exit_code NULL while it runs). */
void node_telemetry_job(const char *job_id, const char *task_id, const char *status, time_t started,
    time_t ended, const json_t *exit_code, const char *detail);
/*
 * The newest `limit` events (oldest first) of source (NULL: any) within
 * [since, until] (0: open) whose JSON fits max_bytes; *truncated when some
 * were left out.
 */
json_t *node_telemetry_events(const char *source, time_t since, time_t until, size_t limit,
    size_t max_bytes, bool *truncated);
/* The job records, newest first, at most limit; with only_id that one record or NULL. */
json_t *node_telemetry_jobs(const char *only_id, size_t limit);

/* telemetry-api.c: the Worker API's GET /v1/worker/telemetry/... handlers. */
struct cy_http_req;
struct cy_http_resp;
void worker_telemetry_info(struct cy_http_req *req, struct cy_http_resp *resp);
void worker_telemetry_stats(struct cy_http_req *req, struct cy_http_resp *resp);
void worker_telemetry_containers(struct cy_http_req *req, struct cy_http_resp *resp);
void worker_telemetry_container(struct cy_http_req *req, struct cy_http_resp *resp);
void worker_telemetry_logs(struct cy_http_req *req, struct cy_http_resp *resp);

#endif
