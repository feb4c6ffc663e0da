/*
 * Schedule SQL (store-schedules.h).  A schedule's JSON is built here, so
 * the list, the get and the answers of create and update agree.  The
 * scheduler's statements are each one short transaction: the slot's task
 * is made idempotent by its Idempotency-Key (schedule-run.c), its run row
 * by the primary key (schedule_id, slot), and next_run_at moves by a
 * compare-and-set, so replicas racing for a slot settle in the database.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "db.h"
#include "id.h"
#include "store-schedules.h"
#include "store-util.h"
#include "banned.h"

/* clang-format off */
#define SCHED_COLS \
	"json_build_object('id', s.id, 'name', s.name, 'cron', s.cron, 'timezone', " \
	"s.timezone, 'task', s.task, 'enabled', s.enabled, 'max_history', s.max_history, " \
	"'next_run_at', " SQL_TS("s.next_run_at") ", 'last_run_at', (SELECT " \
	SQL_TS("max(r.slot)") " FROM schedule_runs r WHERE r.schedule_id = s.id), " \
	"'created_at', " SQL_TS("s.created_at") ", 'updated_at', " SQL_TS("s.updated_at") \
	")::text, s.id, s.cron, s.enabled, s.max_history, " \
	"extract(epoch FROM s.next_run_at)::bigint"
/* clang-format on */

/* UTC seconds as text for to_timestamp, or NULL for -1. */
static const char *
epoch_text(int64_t t, char out[24])
{
	if (t < 0)
		return NULL;
	xsnprintf(out, 24, "%lld", (long long)t);
	return out;
}

PGresult *
store_schedule_insert(const struct schedule_new *s, struct cy_error *err)
{
	char hist[24], next[24];
	const char *p[8];

	xsnprintf(hist, sizeof(hist), "%lld", s->max_history);
	p[0] = s->id;
	p[1] = s->owner_id;
	p[2] = s->name;
	p[3] = s->cron;
	p[4] = s->timezone;
	p[5] = s->task;
	p[6] = s->enabled ? "true" : "false";
	p[7] = hist;
	/* clang-format off */
	return db_exec("schedule_insert",
		"WITH s AS (INSERT INTO schedules (id, owner_id, name, cron, timezone, task, "
		"enabled, max_history, next_run_at) VALUES ($1::uuid, $2::uuid, $3, $4, $5, "
		"$6::jsonb, $7::bool, $8::int, to_timestamp($9::bigint)) "
		"ON CONFLICT (owner_id, name) DO NOTHING RETURNING *) SELECT " SCHED_COLS " FROM s",
		9, (const char *[]){ p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7],
			epoch_text(s->next_run, next) }, err);
	/* clang-format on */
}

PGresult *
store_schedule_list(const char *owner_id, struct cy_error *err)
{
	const char *p[1] = { owner_id };

	return db_exec("schedule_list",
	    "SELECT " SCHED_COLS " FROM schedules s WHERE s.owner_id = $1::uuid ORDER BY s.name", 1,
	    p, err);
}

PGresult *
store_schedule_find(const char *owner_id, const char *ref, struct cy_error *err)
{
	const char *p[2] = { owner_id, ref };

	if (cy_uuid_valid(ref))
		return db_exec("schedule_get_id",
		    "SELECT " SCHED_COLS " FROM schedules s WHERE s.owner_id = $1::uuid "
		    "AND s.id = lower($2)::uuid",
		    2, p, err);
	return db_exec("schedule_get_name",
	    "SELECT " SCHED_COLS " FROM schedules s WHERE s.owner_id = $1::uuid AND s.name = $2", 2,
	    p, err);
}

json_t *
store_schedule_runs(const char *id, long long limit, struct cy_error *err)
{
	char lim[24];
	const char *p[2] = { id, lim };
	PGresult *res;
	json_t *out;

	xsnprintf(lim, sizeof(lim), "%lld", limit);
	/* clang-format off */
	res = db_exec("schedule_runs",
		"SELECT json_build_object('slot', " SQL_TS("r.slot") ", 'task_id', r.task_id, "
		"'task_name', t.summary, 'status', CASE t.status WHEN 'pending' THEN 'queued' "
		"ELSE t.status END, 'error', r.error)::text FROM schedule_runs r "
		"LEFT JOIN tasks t ON t.id = r.task_id WHERE r.schedule_id = $1::uuid "
		"ORDER BY r.slot DESC LIMIT $2::int", 2, p, err);
	/* clang-format on */
	if (!res)
		return NULL;
	out = store_json_rows(res, 0);
	PQclear(res);
	return out;
}

PGresult *
store_schedule_update(const char *id, const char *cron, const char *enabled,
    const char *max_history, int64_t next_run, struct cy_error *err)
{
	char next[24];
	const char *p[5] = { id, cron, enabled, max_history, epoch_text(next_run, next) };

	/* clang-format off */
	return db_exec("schedule_update",
		"WITH s AS (UPDATE schedules SET cron = COALESCE($2, cron), "
		"enabled = COALESCE($3::bool, enabled), "
		"max_history = COALESCE($4::int, max_history), "
		"next_run_at = to_timestamp($5::bigint), updated_at = now() "
		"WHERE id = $1::uuid RETURNING *), "
		"d AS (DELETE FROM schedule_runs r USING s WHERE r.schedule_id = s.id AND r.slot < "
		"(SELECT x.slot FROM schedule_runs x WHERE x.schedule_id = s.id "
		"ORDER BY x.slot DESC OFFSET s.max_history - 1 LIMIT 1)) "
		"SELECT " SCHED_COLS " FROM s", 5, p, err);
	/* clang-format on */
}

int
store_schedule_delete(const char *owner_id, const char *ref, struct cy_error *err)
{
	const char *p[2] = { owner_id, ref };
	PGresult *res;
	int n;

	res = db_exec("schedule_delete",
	    "DELETE FROM schedules WHERE owner_id = $1::uuid AND (name = $2 OR id::text = "
	    "lower($2))",
	    2, p, err);
	if (!res)
		return -1;
	n = strcmp(PQcmdTuples(res), "0") != 0;
	PQclear(res);
	return n;
}

PGresult *
store_schedules_due(int limit, struct cy_error *err)
{
	char lim[24];
	const char *p[1] = { lim };

	xsnprintf(lim, sizeof(lim), "%d", limit);
	return db_exec("schedules_due",
	    "SELECT s.id, s.owner_id, u.handle, s.cron, s.task::text, "
	    "extract(epoch FROM s.next_run_at)::bigint, floor(extract(epoch FROM "
	    "now()))::bigint FROM schedules s JOIN users u ON u.id = s.owner_id "
	    "WHERE s.enabled AND u.is_active AND s.next_run_at <= now() "
	    "ORDER BY s.next_run_at LIMIT $1::int",
	    1, p, err);
}

int
store_schedule_run_record(const char *id, int64_t slot, const char *task_id, const char *error,
    struct cy_error *err)
{
	char s[24];
	const char *p[4] = { id, epoch_text(slot, s), task_id, error };

	/* clang-format off */
	return store_run("schedule_run_record",
		"WITH i AS (INSERT INTO schedule_runs (schedule_id, slot, task_id, error) "
		"VALUES ($1::uuid, to_timestamp($2::bigint), $3::uuid, left($4, 1024)) "
		"ON CONFLICT DO NOTHING RETURNING schedule_id) "
		"DELETE FROM schedule_runs r USING schedules s WHERE s.id = $1::uuid "
		"AND r.schedule_id = s.id AND EXISTS (SELECT 1 FROM i) AND r.slot <= "
		"(SELECT x.slot FROM schedule_runs x WHERE x.schedule_id = s.id "
		"ORDER BY x.slot DESC OFFSET s.max_history - 1 LIMIT 1)", 4, p, err);
	/* clang-format on */
}

int
store_schedule_advance(const char *id, int64_t from, int64_t to, struct cy_error *err)
{
	char f[24], t[24];
	const char *p[3] = { id, epoch_text(from, f), epoch_text(to, t) };
	PGresult *res;
	int n;

	res = db_exec("schedule_advance",
	    "UPDATE schedules SET next_run_at = to_timestamp($3::bigint) WHERE id = $1::uuid "
	    "AND next_run_at = to_timestamp($2::bigint)",
	    3, p, err);
	if (!res)
		return -1;
	n = strcmp(PQcmdTuples(res), "0") != 0;
	PQclear(res);
	return n;
}

long long
store_schedule_count(const char *owner_id, struct cy_error *err)
{
	PGresult *res = db_exec("schedule_count",
	    "SELECT count(*) FROM schedules WHERE owner_id = $1::uuid", 1, &owner_id, err);
	long long n;

	if (!res)
		return -1;
	n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return n;
}
