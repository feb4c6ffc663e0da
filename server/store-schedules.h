/*
 * Schedule SQL (store-schedules.c): the schedules of a user and their runs
 * (migrations/0096_schedules.sql).  Rows are handed out as JSON objects
 * built in SQL (column SC_JSON) beside the fields the code needs.
 */
#ifndef SERVER_STORE_SCHEDULES_H
#define SERVER_STORE_SCHEDULES_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

/* Columns of a schedule row. */
enum schedule_col {
	SC_JSON, /* the Schedule object without its runs */
	SC_ID,
	SC_CRON,
	SC_ENABLED, /* "t" or "f" */
	SC_MAX_HISTORY,
	SC_NEXT, /* next_run_at in UTC seconds, or SQL NULL */
};

/* A new schedule; next_run (UTC seconds) is -1 for none. */
struct schedule_new {
	const char *id, *owner_id, *name, *cron, *timezone, *task;
	bool enabled;
	long long max_history;
	int64_t next_run;
};

/* The new row, an empty result when the owner has a schedule of that name, NULL on error. */
PGresult *store_schedule_insert(const struct schedule_new *s, struct cy_error *err);
/* How many schedules owner_id has, or -1 with err set. */
long long store_schedule_count(const char *owner_id, struct cy_error *err);
/* The owner's schedules by name. */
PGresult *store_schedule_list(const char *owner_id, struct cy_error *err);
/* The owner's schedule whose id or name is ref (0 or 1 row). */
PGresult *store_schedule_find(const char *owner_id, const char *ref, struct cy_error *err);
/* The newest `limit` runs of a schedule as an array of {slot, task_id, status, error}. */
json_t *store_schedule_runs(const char *id, long long limit, struct cy_error *err);
/*
 * Sets the fields given (NULL: unchanged) and next_run_at (-1: NULL) of
 * a schedule; the new row.
 */
PGresult *store_schedule_update(const char *id, const char *cron, const char *enabled,
    const char *max_history, int64_t next_run, struct cy_error *err);
/* Deletes the owner's schedule ref (id or name) with its runs: 1, 0 when none, -1. */
int store_schedule_delete(const char *owner_id, const char *ref, struct cy_error *err);

/* Columns of a due schedule. */
enum schedule_due_col {
	SD_ID,
	SD_OWNER,
	SD_HANDLE,
	SD_CRON,
	SD_TASK,
	SD_NEXT, /* UTC seconds */
	SD_NOW,  /* the database's clock, UTC seconds */
};

/* Enabled schedules whose next_run_at has come (of active users), oldest first. */
PGresult *store_schedules_due(int limit, struct cy_error *err);
/*
 * Records the run of a slot (task_id or error, the other NULL) unless it
 * is recorded already, and keeps the newest max_history runs: 0 or -1.
 */
int store_schedule_run_record(const char *id, int64_t slot, const char *task_id, const char *error,
    struct cy_error *err);
/*
 * Moves next_run_at from `from` to `to` (-1: NULL) when it still is
 * `from`: 1 when this call moved it, 0 when another did, -1.
 */
int store_schedule_advance(const char *id, int64_t from, int64_t to, struct cy_error *err);

#endif
