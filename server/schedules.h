/*
 * Recurring tasks (cron): the /v1/schedules routes of the user gateway
 * (route-schedules.c) and the scheduler that runs their slots
 * (schedule-run.c).  A schedule of a user holds a cron expression
 * (lib/cron.h, UTC) and a CreateTask body checked at create as POST
 * /v1/tasks checks it; at each slot the scheduler makes the task for the
 * owner.  The SQL is in store-schedules.h.
 */
#ifndef SERVER_SCHEDULES_H
#define SERVER_SCHEDULES_H

#include "error.h"
#include "httpd.h"
#include "jcheck.h"

/* Runs kept per schedule by default, and at most. */
#define SCHEDULE_HISTORY_DEFAULT 20
#define SCHEDULE_HISTORY_MAX 1000
/* Schedules one user may have. */
#define SCHEDULES_PER_USER 256

extern const struct cy_jcheck schedules_create_body;
extern const struct cy_jcheck schedules_patch_body;
void h_schedules_create(struct cy_http_req *req, struct cy_http_resp *resp);
void h_schedules_list(struct cy_http_req *req, struct cy_http_resp *resp);
void h_schedules_get(struct cy_http_req *req, struct cy_http_resp *resp);
void h_schedules_patch(struct cy_http_req *req, struct cy_http_resp *resp);
void h_schedules_delete(struct cy_http_req *req, struct cy_http_resp *resp);

/*
 * The scheduler thread of this replica: every SCHEDULE_TICK_MS it runs the
 * due slots of every schedule (all replicas do; the database settles who
 * makes a slot's task).  0, or -1 with err set.
 */
int schedules_start(struct cy_error *err);
void schedules_stop(void);

#endif
