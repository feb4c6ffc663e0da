/*
 * The scheduler (schedules.h): a thread on every replica that, every
 * SCHEDULE_TICK_MS, runs the slots that have come.  For a due schedule
 * the slot to run is the latest one at or before now: a server that was
 * down (or a schedule whose owner was disabled) skips the slots it
 * missed but the latest, as systemd's Persistent=true timers do.  That
 * slot's task is created for the owner through the create path of POST
 * /v1/tasks with the Idempotency-Key "cynode-schedule:<id>:<slot>", so
 * replicas racing for the same slot make one task (the loser's create
 * answers with the winner's); its run is recorded once (primary key
 * schedule_id, slot) and next_run_at moves on by a compare-and-set.  A
 * create that is refused (a secret or skill deleted since, no node that
 * could run it) is recorded as the slot's error, and the schedule goes on.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "alloc.h"
#include "cron.h"
#include "db.h"
#include "json.h"
#include "log.h"
#include "schedules.h"
#include "store-schedules.h"
#include "tasks.h"
#include "banned.h"

#define SCHEDULE_TICK_MS 500
/* Due schedules taken per tick. */
#define DUE_BATCH 100
/* Slots stepped over at most to find the latest due one (a year of seconds is 31.6 M). */
#define CATCHUP_MAX 50000000L

static pthread_t thread;
static bool started;
static volatile int stopping;

/*
 * The latest slot of c at or before now, from the due slot `from`.  After
 * a long pause it starts from the first slot of the shortest recent window
 * that holds one (an hour, a day, a month, a year, five), so an
 * every-second schedule paused for a year steps through an hour, not 31.6 M
 * slots.
 */
static int64_t
latest_slot(const struct cy_cron *c, int64_t from, int64_t now)
{
	static const int64_t windows[] = { 3600, 86400, 86400 * 32, 86400 * 400,
		86400LL * 366 * 5 };
	int64_t slot = from, n;
	size_t w;
	long i;

	for (w = 0; w < sizeof(windows) / sizeof(windows[0]) && now - windows[w] > from; w++)
		if ((n = cy_cron_next(c, now - windows[w])) >= 0 && n <= now) {
			slot = n;
			break;
		}
	for (i = 0; i < CATCHUP_MAX && (n = cy_cron_next(c, slot)) >= 0 && n <= now; i++)
		slot = n;
	return slot;
}

/*
 * The task of one slot, or the reason it was refused into *why (new).
 * The task's id (new) or NULL.
 */
static char *
slot_task(const char *id, const char *owner, const char *handle, const char *task_text,
    int64_t slot, char **why)
{
	struct cy_http_resp resp = { .body = CY_BUF_INIT };
	json_t *body = json_loads(task_text, 0, NULL), *task = NULL;
	char key[128];
	char *task_id = NULL;
	bool replayed;

	*why = NULL;
	xsnprintf(key, sizeof(key), "cynode-schedule:%s:%lld", id, (long long)slot);
	if (!json_is_object(body)) {
		*why = xstrdup("the stored task body is not a JSON object");
	} else if (task_create_checked(body, owner, handle, key, false, &task, &replayed, &resp) <
		   0) {
		json_t *p = json_loadb(resp.body.buf, resp.body.len, 0, NULL);
		const char *d = cy_json_str(p, "detail");

		*why = xasprintf("%d: %s", resp.status, d ? d : "refused");
		json_decref(p);
	} else {
		task_id = xstrdup(cy_json_str(task, "id"));
	}
	json_decref(task);
	json_decref(body);
	cy_buf_release(&resp.body);
	return task_id;
}

/* Runs the due slot of row i of a store_schedules_due result. */
static void
run_due(PGresult *res, int i)
{
	struct cy_error err = CY_ERROR_INIT;
	const char *id = PQgetvalue(res, i, SD_ID);
	int64_t from = strtoll(PQgetvalue(res, i, SD_NEXT), NULL, 10);
	int64_t now = strtoll(PQgetvalue(res, i, SD_NOW), NULL, 10);
	char *task_id = NULL, *why = NULL;
	char slotbuf[24];
	struct cy_cron c;
	int64_t slot, next;

	if (cy_cron_parse(PQgetvalue(res, i, SD_CRON), &c, NULL, 0) < 0) {
		/* Stored only after it parsed: cannot happen; stop the schedule. */
		cy_log_error("schedule_cron_invalid", "schedule_id", id, NULL);
		(void)store_schedule_advance(id, from, -1, &err);
		return;
	}
	slot = latest_slot(&c, from, now);
	next = cy_cron_next(&c, now);
	task_id = slot_task(id, PQgetvalue(res, i, SD_OWNER), PQgetvalue(res, i, SD_HANDLE),
	    PQgetvalue(res, i, SD_TASK), slot, &why);
	xsnprintf(slotbuf, sizeof(slotbuf), "%lld", (long long)slot);
	if (store_schedule_run_record(id, slot, task_id, why, &err) < 0 ||
	    store_schedule_advance(id, from, next, &err) < 0) {
		cy_log_error("schedule_run_failed", "schedule_id", id, "slot", slotbuf, "error",
		    err.msg, NULL);
	} else if (why) {
		cy_log_warn("schedule_task_refused", "schedule_id", id, "slot", slotbuf, "error",
		    why, NULL);
	}
	free(task_id);
	free(why);
}

static void *
schedules_main(void *arg)
{
	struct cy_error err = CY_ERROR_INIT;

	while (!stopping) {
		PGresult *res = store_schedules_due(DUE_BATCH, &err);
		int i;

		if (!res) {
			cy_log_error("schedules_due_failed", "error", err.msg, NULL);
			cy_error_clear(&err);
		} else {
			for (i = 0; i < PQntuples(res) && !stopping; i++)
				run_due(res, i);
			PQclear(res);
		}
		poll(NULL, 0, SCHEDULE_TICK_MS);
	}
	db_thread_cleanup();
	return NULL;
}

int
schedules_start(struct cy_error *err)
{
	int rc;

	stopping = 0;
	if ((rc = pthread_create(&thread, NULL, schedules_main, NULL)) != 0) {
		errno = rc;
		return cy_error_errno(err, "cannot start the scheduler thread");
	}
	started = true;
	return 0;
}

void
schedules_stop(void)
{
	if (!started)
		return;
	stopping = 1;
	pthread_join(thread, NULL);
	started = false;
}
