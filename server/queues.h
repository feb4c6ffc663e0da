/*
 * Queues (migration 0095): named, with a priority added to each job's, and
 * optional limits on the jobs running at once in the queue and per user in
 * it.  The queue "default" always exists and takes jobs that name none.
 * Everyone lists and shows queues; admins create, change and delete them.
 * A queue with queued or running jobs cannot be deleted.  Routes:
 * route-queues.c; SQL: store-queues.c.  The dispatcher enforces the limits
 * (store-dispatch.c).
 */
#ifndef SERVER_QUEUES_H
#define SERVER_QUEUES_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "error.h"
#include "httpd.h"
#include "jcheck.h"

#define QUEUE_NAME_SHAPE \
	"a queue's name: a lower-case letter, then up to 62 of a-z, 0-9, '-' and '_'"

bool queue_name_valid(const char *name);

/* route-queues.c */
void h_queues_list(struct cy_http_req *req, struct cy_http_resp *resp);
void h_queues_create(struct cy_http_req *req, struct cy_http_resp *resp);
void h_queues_get(struct cy_http_req *req, struct cy_http_resp *resp);
void h_queues_update(struct cy_http_req *req, struct cy_http_resp *resp);
void h_queues_delete(struct cy_http_req *req, struct cy_http_resp *resp);
extern const struct cy_jcheck queues_create_body, queues_update_body;

/* store-queues.c: 1 when the queue exists, 0 when not, -1 with err set. */
int store_queue_exists(const char *name, struct cy_error *err);
/* Every queue as a JSON object with its queued and running counts, by name. */
PGresult *store_queue_list(struct cy_error *err);
/* One queue's object (no row: none). */
PGresult *store_queue_get(const char *name, struct cy_error *err);
/*
 * The queue's first `limit` queued jobs in dispatch order, one JSON object
 * each: position, priority, fair_rank, created_at, pending_reason, and the
 * task and owner when the caller (viewer) owns the job or all_visible.
 */
PGresult *store_queue_head(const char *name, const char *viewer, bool all_visible, long long limit,
    struct cy_error *err);
/* Per owner in the queue: running and queued counts (handles as for the head). */
PGresult *store_queue_users(const char *name, const char *viewer, bool all_visible,
    struct cy_error *err);
/*
 * Creates (update false) or changes a queue from a checked body; the row,
 * or no row when update names no queue; err->code EEXIST when create finds
 * the name taken.  Each of priority, max_running, max_running_per_user and
 * description given in the body is set (null clears a limit).
 */
PGresult *store_queue_put(const char *name, const json_t *body, bool update, struct cy_error *err);
/*
 * Deletes a queue: 1 done, 0 no such queue, -1 with err (err->code EBUSY:
 * it still has queued or running jobs, with how many).
 */
int store_queue_delete(const char *name, struct cy_error *err);

#endif
