/*
 * Task and job SQL for the task routes (store-tasks.h).  Task names are
 * chosen under a per-user advisory lock held until commit, so concurrent
 * creates (on any replica) never pick the same name.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "db.h"
#include "id.h"
#include "states.h"
#include "store-tasks.h"
#include "store-util.h"
#include "strnum.h"
#include "task-name.h"
#include "banned.h"

#define TASK_COLS \
	"t.id, t.created_by, t.status, t.summary, t.prompt, " \
	SQL_TS("t.created_at") ", " SQL_TS("t.updated_at") ", " \
	"COALESCE((SELECT json_agg(a.path ORDER BY a.created_at, a.path) " \
	"FROM task_artifacts a WHERE a.task_id = t.id)::text, '[]'), " \
	"(extract(epoch FROM t.created_at) * 1000000)::bigint"

/* The project for the new task: the given one (must exist) or the default. */
static int task_project(const struct task_new *t, char out[CY_UUID_LEN + 1],
	struct cy_error *err)
{
	const char *p[1];
	PGresult *res;
	int rc = 0;

	if (t->project_id) {
		p[0] = t->project_id;
		res = db_exec("task_project_get", "SELECT id FROM projects WHERE id = $1::uuid",
			1, p, err);
	} else {
		/* Read first: the insert (a write) is needed once per user. */
		p[0] = t->user_id;
		res = db_exec("task_project_default_get",
			"SELECT id FROM projects WHERE slug = 'default-' || $1", 1, p, err);
		if (res && PQntuples(res) == 0) {
			PQclear(res);
			if (store_run("task_project_default",
				"INSERT INTO projects (slug, display_name) "
				"VALUES ('default-' || $1, 'Default Project') "
				"ON CONFLICT (slug) DO NOTHING", 1, p, err) < 0)
				return -1;
			res = db_exec("task_project_default_get",
				"SELECT id FROM projects WHERE slug = 'default-' || $1", 1, p, err);
		}
	}
	if (!res)
		return -1;
	if (PQntuples(res) == 0)
		rc = cy_error_set(err, ENOENT, "unknown project_id '%s'",
			t->project_id ? t->project_id : "default");
	else
		snprintf(out, CY_UUID_LEN + 1, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return rc;
}

/*
 * The next generated name, "task-<n>" after the user's latest one, with its
 * collision suffix: one statement returns the base and the names taken.
 */
static char *task_generated_name(const char *user_id, struct cy_error *err)
{
	const char *p[1] = { user_id };
	const char **taken;
	PGresult *res;
	char *name;
	int i, n, k = 0;

	res = db_exec("task_name_generated",
		"WITH l AS (SELECT summary FROM tasks WHERE created_by = $1 "
		"AND summary ~ '^task-[0-9]+$' ORDER BY created_at DESC LIMIT 1), "
		"b AS (SELECT 'task-' || (COALESCE((SELECT CASE WHEN length(summary) <= 17 "
		"THEN substr(summary, 6)::bigint ELSE 0 END FROM l), 0) + 1) AS base) "
		"SELECT b.base, t.summary FROM b LEFT JOIN tasks t ON t.created_by = $1 "
		"AND (t.summary = b.base OR t.summary LIKE b.base || '-%')", 1, p, err);
	if (!res)
		return NULL;
	n = PQntuples(res);
	if (n == 0) {
		PQclear(res);
		cy_error_set(err, EIO, "no generated task name");
		return NULL;
	}
	taken = xcalloc((size_t)n + 1, sizeof(*taken));
	for (i = 0; i < n; i++)
		if (!PQgetisnull(res, i, 1))
			taken[k++] = PQgetvalue(res, i, 1);
	name = task_name_pick(PQgetvalue(res, 0, 0), taken, (size_t)k);
	free(taken);
	PQclear(res);
	return name;
}

/* Chooses a free name for the task (under the advisory lock). */
static char *task_choose_name(const struct task_new *t, struct cy_error *err)
{
	char *base = NULL, *like = NULL, *name = NULL;
	const char **taken = NULL;
	const char *p[3];
	PGresult *res;
	int i, n;

	if (!t->name || !*t->name)
		return task_generated_name(t->user_id, err);
	base = xstrdup(t->name);
	like = xasprintf("%s-%%", base);
	p[0] = t->user_id;
	p[1] = base;
	p[2] = like;
	res = db_exec("task_name_taken",
		"SELECT summary FROM tasks WHERE created_by = $1 "
		"AND (summary = $2 OR summary LIKE $3)", 3, p, err);
	if (res) {
		n = PQntuples(res);
		taken = xcalloc((size_t)n + 1, sizeof(*taken));
		for (i = 0; i < n; i++)
			taken[i] = PQgetvalue(res, i, 0);
		name = task_name_pick(base, taken, (size_t)n);
		free(taken);
		PQclear(res);
	}
	free(like);
	free(base);
	return name;
}

/* Inserts the task row, its attachments and its job. */
static int task_insert(const struct task_new *t, const char *id, const char *project,
	const char *name, struct cy_error *err)
{
	bool fail = t->fail_result != NULL;
	const char *p[10];
	size_t i;

	p[0] = id;
	p[1] = t->user_id;
	p[2] = project;
	p[3] = fail ? "failed" : "pending";
	p[4] = fail ? "true" : "false";
	p[5] = t->prompt;
	p[6] = name;
	p[7] = t->input_mode;
	p[8] = t->idempotency_key;
	if (store_run("task_insert",
		"INSERT INTO tasks (id, created_by, project_id, status, closed, prompt, summary, "
		"input_mode, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
		9, p, err) < 0)
		return -1;
	for (i = 0; i < t->nattachments; i++) {
		p[1] = t->attachments[i];
		if (store_run("task_artifact_insert",
			"INSERT INTO task_artifacts (task_id, path) VALUES ($1, $2) "
			"ON CONFLICT (task_id, path) DO NOTHING", 2, p, err) < 0)
			return -1;
	}
	p[1] = fail ? "failed" : "queued";
	p[2] = t->payload;
	p[3] = t->fail_result;
	p[4] = fail ? "-1" : NULL;
	p[5] = t->priority ? t->priority : "0";
	p[6] = t->max_attempts ? t->max_attempts : "3";
	p[7] = t->retry_backoff_s ? t->retry_backoff_s : "5";
	p[8] = t->req_labels ? t->req_labels : "{}";
	p[9] = t->req_gpus ? t->req_gpus : "0";
	return store_run("task_job_insert",
		"INSERT INTO jobs (task_id, status, payload, result, exit_code, ended_at, "
		"priority, max_attempts, retry_backoff_s, req_labels, req_gpus) "
		"VALUES ($1, $2, $3::jsonb, $4::jsonb, $5::int, "
		"CASE WHEN $2 = 'queued' THEN NULL ELSE now() END, $6::int, $7::int, $8::int, "
		"$9::text[], $10::int)", 10, p, err);
}

/* Task and job in one statement returning the task row (no attachments). */
static PGresult *task_insert_one(const struct task_new *t, const char *id,
	const char *project, const char *name, struct cy_error *err)
{
	bool fail = t->fail_result != NULL;
	const char *p[16];

	p[0] = id;
	p[1] = t->user_id;
	p[2] = project;
	p[3] = fail ? "failed" : "pending";
	p[4] = fail ? "true" : "false";
	p[5] = t->prompt;
	p[6] = name;
	p[7] = t->input_mode;
	p[8] = t->idempotency_key;
	p[9] = t->payload;
	p[10] = t->fail_result;
	p[11] = t->priority ? t->priority : "0";
	p[12] = t->max_attempts ? t->max_attempts : "3";
	p[13] = t->retry_backoff_s ? t->retry_backoff_s : "5";
	p[14] = t->req_labels ? t->req_labels : "{}";
	p[15] = t->req_gpus ? t->req_gpus : "0";
	return db_exec("task_insert_one",
		"WITH t AS (INSERT INTO tasks (id, created_by, project_id, status, closed, prompt, "
		"summary, input_mode, idempotency_key) VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, "
		"$8, $9) RETURNING *), "
		"j AS (INSERT INTO jobs (task_id, status, payload, result, exit_code, ended_at, "
		"priority, max_attempts, retry_backoff_s, req_labels, req_gpus) "
		"SELECT t.id, CASE WHEN $5::bool THEN 'failed' ELSE 'queued' END, $10::jsonb, "
		"$11::jsonb, CASE WHEN $5::bool THEN -1 END, CASE WHEN $5::bool THEN now() END, "
		"$12::int, $13::int, $14::int, $15::text[], $16::int FROM t) "
		"SELECT " TASK_COLS " FROM t", 16, p, err);
}

PGresult *store_task_create(const struct task_new *t, bool *replayed, struct cy_error *err)
{
	char id[CY_UUID_LEN + 1], project[CY_UUID_LEN + 1];
	const char *p[2];
	PGresult *res = NULL;
	char *name = NULL;

	*replayed = false;
	cy_uuid_v4(id);
	if (db_begin(err) < 0)
		return NULL;
	/* Outside the per-user lock: it only guards the name. */
	if (task_project(t, project, err) < 0)
		goto fail;
	p[0] = t->user_id;
	if (store_run("task_name_lock",
		"SELECT pg_advisory_xact_lock(hashtext('cynode-task-name:' || $1))", 1, p, err) < 0)
		goto fail;
	if (t->idempotency_key) {
		p[1] = t->idempotency_key;
		res = db_exec("task_get_idempotent", "SELECT " TASK_COLS " FROM tasks t "
			"WHERE t.created_by = $1 AND t.idempotency_key = $2", 2, p, err);
		if (!res)
			goto fail;
		if (PQntuples(res) > 0) {
			db_rollback();
			*replayed = true;
			return res;
		}
		PQclear(res);
		res = NULL;
	}
	if (!(name = task_choose_name(t, err)))
		goto fail;
	if (t->nattachments == 0) {
		if (!(res = task_insert_one(t, id, project, name, err)))
			goto fail;
	} else {
		if (task_insert(t, id, project, name, err) < 0)
			goto fail;
		p[0] = id;
		res = db_exec("task_get_id",
			"SELECT " TASK_COLS " FROM tasks t WHERE t.id = $1::uuid", 1, p, err);
		if (!res)
			goto fail;
	}
	if (db_commit(err) < 0) {
		PQclear(res);
		res = NULL;
	}
	free(name);
	return res;
fail:
	db_rollback();
	free(name);
	return NULL;
}

PGresult *store_task_list(const char *user_id, const char *status_db, long long cursor_us,
	const char *cursor_id, long long limit, struct cy_error *err)
{
	char us[32], lim[32];
	const char *p[5];

	snprintf(us, sizeof(us), "%lld", cursor_us);
	snprintf(lim, sizeof(lim), "%lld", limit + 1);
	p[0] = user_id;
	p[1] = status_db;
	p[2] = us;
	p[3] = cursor_id;
	p[4] = lim;
	if (!user_id)
		return db_exec("task_list_all",
			"SELECT " TASK_COLS " FROM tasks t WHERE $1::uuid IS NULL "
			"AND ($2::text IS NULL OR t.status = $2) "
			"AND ($4::uuid IS NULL OR (t.created_at, t.id) < "
			"(timestamptz 'epoch' + $3::bigint * interval '1 microsecond', $4::uuid)) "
			"ORDER BY t.created_at DESC, t.id DESC LIMIT $5::int", 5, p, err);
	return db_exec("task_list",
		"SELECT " TASK_COLS " FROM tasks t WHERE t.created_by = $1 "
		"AND ($2::text IS NULL OR t.status = $2) "
		"AND ($4::uuid IS NULL OR (t.created_at, t.id) < "
		"(timestamptz 'epoch' + $3::bigint * interval '1 microsecond', $4::uuid)) "
		"ORDER BY t.created_at DESC, t.id DESC LIMIT $5::int", 5, p, err);
}

PGresult *store_task_find(const char *user_id, const char *ref, struct cy_error *err)
{
	const char *p[2];
	PGresult *res;

	if (cy_uuid_valid(ref)) {
		p[0] = ref;
		res = db_exec("task_get_id",
			"SELECT " TASK_COLS " FROM tasks t WHERE t.id = $1::uuid", 1, p, err);
		if (!res || PQntuples(res) > 0)
			return res;
		PQclear(res);
	}
	p[0] = user_id;
	p[1] = ref;
	return db_exec("task_get_name",
		"SELECT " TASK_COLS " FROM tasks t WHERE t.created_by = $1 AND t.summary = $2",
		2, p, err);
}

PGresult *store_task_status(const char *task_id, struct cy_error *err)
{
	const char *p[1] = { task_id };

	return db_exec("task_status", "SELECT status FROM tasks WHERE id = $1::uuid", 1, p, err);
}

PGresult *store_task_jobs(const char *task_id, struct cy_error *err)
{
	const char *p[1] = { task_id };

	return db_exec("task_jobs",
		"SELECT j.id, j.status, j.result::text, j.exit_code, "
		SQL_TS("j.started_at") ", " SQL_TS("j.ended_at") ", "
		"COALESCE(j.result->>'stdout', ''), COALESCE(j.result->>'stderr', '') "
		"FROM jobs j WHERE j.task_id = $1::uuid ORDER BY j.created_at, j.id", 1, p, err);
}

int store_task_cancel(const char *task_id, char *status, size_t statuslen,
	struct cy_error *err)
{
	const char *p[1] = { task_id };
	PGresult *res;
	int st;

	if (db_begin(err) < 0)
		return -1;
	res = db_exec("task_lock", "SELECT status FROM tasks WHERE id = $1::uuid FOR UPDATE",
		1, p, err);
	if (!res)
		goto fail;
	if (PQntuples(res) == 0) {
		PQclear(res);
		cy_error_set(err, ENOENT, "task not found");
		goto fail;
	}
	snprintf(status, statuslen, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	st = cy_task_state_parse(status);
	if (st >= 0 && cy_task_state_terminal((enum cy_task_state)st)) {
		db_rollback();
		return 0;
	}
	if (store_run("task_cancel",
		"UPDATE tasks SET status = 'canceled', closed = true WHERE id = $1::uuid",
		1, p, err) < 0 ||
	    store_run("task_cancel_jobs",
		"UPDATE jobs SET status = 'canceled', ended_at = now() WHERE task_id = $1::uuid "
		"AND status NOT IN ('completed', 'failed', 'canceled')", 1, p, err) < 0)
		goto fail;
	if (db_commit(err) < 0)
		return -1;
	return 1;
fail:
	db_rollback();
	return -1;
}
