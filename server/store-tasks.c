/*
 * Task and job SQL for the task routes (store-tasks.h).  A task and its job
 * are inserted by one statement, named by the user or "task-N" from the
 * user's counter (task_name_seq, bumped in batches: task-counter.h); the unique
 * (created_by, summary) and idempotency indexes settle races between
 * concurrent creates on any replica: an insert that conflicts inserts
 * nothing and is retried with another name, or answers with the task its
 * Idempotency-Key made first.  Creates asking for the same name of one user
 * take turns under an advisory lock (task_name_lock); no other lock is held
 * across statements.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "db.h"
#include "id.h"
#include "notify-send.h"
#include "states.h"
#include "store-tasks.h"
#include "store-util.h"
#include "strnum.h"
#include "task-counter.h"
#include "task-name.h"
#include "banned.h"

/*
 * Tries of a create that lost a race for its name: a generated name taken
 * meanwhile by an explicit one, or an explicit "task-N" by a generated one.
 * A generated name refused because the user named tasks "task-N" explicitly
 * moves the counter past all of them at once (task_generated_skip), so a
 * run of such names costs one try, not one each.
 */
#define TASK_CREATE_TRIES 8

/* clang-format off */
#define TASK_COLS \
	"t.id, t.created_by, t.status, t.summary, t.prompt, " \
	SQL_TS("t.created_at") ", " SQL_TS("t.updated_at") ", " \
	"COALESCE((SELECT json_agg(json_build_object('name', a.name, 'sha256', a.sha256, " \
	"'size', a.size) ORDER BY a.name) " \
	"FROM task_attachments a WHERE a.task_id = t.id)::text, '[]'), " \
	"(extract(epoch FROM t.created_at) * 1000000)::bigint, t.input_mode, t.array_spec"
/* clang-format on */

/*
 * The pending reason of a queued task's job (the list's column TC__COUNT;
 * NULL when it has none queued).  Only lists pay for it, not creates.
 */
#define SQL_TASK_PENDING \
	"(SELECT cy_job_pending_reason(j) FROM jobs j WHERE j.task_id = t.id " \
	"AND j.status = 'queued' ORDER BY j.created_at LIMIT 1)"

/*
 * Users whose default project is known to exist, so that their creates
 * find it inside the insert instead of a statement of its own (the server
 * never deletes a project).  A slot per user id hash; a collision only
 * costs the other user that statement again.
 */
#define KNOWN_SLOTS 1024
static pthread_mutex_t known_lock = PTHREAD_MUTEX_INITIALIZER;
static char known[KNOWN_SLOTS][CY_UUID_LEN + 1];

static size_t
known_slot(const char *user_id)
{
	uint32_t h = 2166136261u;

	for (; *user_id; user_id++)
		h = (h ^ (unsigned char)*user_id) * 16777619u;
	return h % KNOWN_SLOTS;
}

static bool
known_default(const char *user_id, bool add)
{
	size_t k = known_slot(user_id);
	bool hit;

	pthread_mutex_lock(&known_lock);
	hit = !strcmp(known[k], user_id);
	if (add && !hit)
		xsnprintf(known[k], sizeof(known[k]), "%s", user_id);
	pthread_mutex_unlock(&known_lock);
	return hit;
}

/*
 * The project for the new task: the given one (must exist) or the default;
 * out is empty when the insert is to look up the user's default itself.
 */
static int
task_project(const struct task_new *t, char out[CY_UUID_LEN + 1], struct cy_error *err)
{
	const char *p[1];
	PGresult *res;
	int rc = 0;

	out[0] = '\0';
	if (!t->project_id && strlen(t->user_id) == CY_UUID_LEN && known_default(t->user_id, false))
		return 0;
	if (t->project_id) {
		p[0] = t->project_id;
		res = db_exec("task_project_get", "SELECT id FROM projects WHERE id = $1::uuid", 1,
		    p, err);
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
				"ON CONFLICT (slug) DO NOTHING",
				1, p, err) < 0)
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
		xsnprintf(out, CY_UUID_LEN + 1, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	if (rc == 0 && !t->project_id && strlen(t->user_id) == CY_UUID_LEN)
		(void)known_default(t->user_id, true);
	return rc;
}

/* A free name for the task's own name: the base or base-2, base-3, ... */
static char *
task_choose_name(const struct task_new *t, struct cy_error *err)
{
	char *base = NULL, *like = NULL, *name = NULL;
	const char **taken = NULL;
	const char *p[3];
	PGresult *res;
	int i, n;

	base = xstrdup(t->name);
	like = xasprintf("%s-%%", base);
	p[0] = t->user_id;
	p[1] = base;
	p[2] = like;
	res = db_exec("task_name_taken",
	    "SELECT summary FROM tasks WHERE created_by = $1 "
	    "AND (summary = $2 OR summary LIKE $3)",
	    3, p, err);
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

/*
 * Inserts the task's attachments (inside the caller's transaction): each
 * must be a blob the task's creator uploaded (ENOENT when not).
 */
static int
task_insert_attachments(const struct task_new *t, const char *id, struct cy_error *err)
{
	const char *p[4] = { id, NULL, NULL, t->user_id };
	PGresult *res;
	size_t i;
	int n;

	for (i = 0; i < t->nattachments; i++) {
		p[1] = t->attachments[i].name;
		p[2] = t->attachments[i].sha256;
		res = db_exec("task_attachment_insert",
		    "INSERT INTO task_attachments (task_id, name, sha256, size) "
		    "SELECT $1::uuid, $2, b.sha256, b.size FROM blobs b JOIN blob_owners o "
		    "ON o.sha256 = b.sha256 AND o.user_id = $4::uuid WHERE b.sha256 = $3",
		    4, p, err);
		if (!res)
			return -1;
		n = strcmp(PQcmdTuples(res), "1") == 0;
		PQclear(res);
		if (!n)
			return cy_error_set(err, ENOENT,
			    "attachment '%s': no upload %s of yours (POST /v1/uploads first)",
			    t->attachments[i].name, t->attachments[i].sha256);
	}
	return 0;
}

/*
 * Task and job in one statement returning the task row, or no row when a
 * unique index refused it (the name is taken, or the idempotency key was
 * used meanwhile).
 */
static PGresult *
task_insert_one(const struct task_new *t, const char *id, const char *project, const char *name,
    struct cy_error *err)
{
	bool fail = t->fail_result != NULL;
	const char *p[26];

	p[0] = id;
	p[1] = t->user_id;
	p[2] = *project ? project : NULL;
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
	p[16] = t->req_inference ? "true" : "false";
	p[17] = t->req_model;
	p[18] = t->queue ? t->queue : "default";
	p[19] = t->req_cpus ? t->req_cpus : "0";
	p[20] = t->req_memory_mb ? t->req_memory_mb : "0";
	p[21] = t->req_gpu_model;
	p[22] = t->req_nodes ? t->req_nodes : "{}";
	p[23] = t->array_spec;
	p[24] = t->array_cap;
	p[25] = t->array_idx;
	/*
	 * An array task has a job per index (none: one job, index NULL); those
	 * past the cap wait (cy_array_fill releases them), and each is
	 * created a microsecond after the one before, so the claim's order
	 * by creation takes them in index order; their fair-share ranks
	 * follow one another from the owner's next rank.
	 */
	/* clang-format off */
	return db_exec("task_insert_one",
		"WITH t AS (INSERT INTO tasks (id, created_by, project_id, status, closed, prompt, "
		"summary, input_mode, idempotency_key, array_spec, array_cap) VALUES ($1::uuid, "
		"$2::uuid, COALESCE($3::uuid, (SELECT id FROM projects "
		"WHERE slug = 'default-' || $2::uuid::text)), $4, $5, $6, $7, $8, $9, $24, $25::int) "
		"ON CONFLICT DO NOTHING "
		"RETURNING *), "
		"j AS (INSERT INTO jobs (task_id, status, payload, result, exit_code, ended_at, "
		"priority, max_attempts, retry_backoff_s, req_labels, req_gpus, req_inference, "
		"req_model, queue, owner, fair_rank, req_cpus, req_memory_mb, req_gpu_model, "
		"req_nodes, array_index, not_before, created_at) "
		"SELECT t.id, CASE WHEN $5::bool THEN 'failed' ELSE 'queued' END, "
		"CASE WHEN x.ix IS NULL THEN $10::jsonb ELSE $10::jsonb || jsonb_build_object("
		"'array_index', x.ix) END, "
		"$11::jsonb, CASE WHEN $5::bool THEN -1 END, CASE WHEN $5::bool THEN now() END, "
		"cy_queue_priority($12::int, $19), $13::int, $14::int, $15::text[], $16::int, "
		"$17::bool, $18, $19, t.created_by, cy_fair_rank(t.created_by) + x.ord - 1, "
		"$20::int, $21::bigint, $22, $23::text[], x.ix, "
		"CASE WHEN x.ord > $25::int THEN 'infinity'::timestamptz END, "
		"now() + (x.ord - 1) * interval '1 microsecond' "
		"FROM t, unnest(COALESCE($26::int[], ARRAY[NULL]::int[])) WITH ORDINALITY "
		"AS x(ix, ord)) "
		"SELECT " TASK_COLS " FROM t, (SELECT "
		NOTIFY_DEFER_SQL(NOTIFY_CREATE_CHANNELS) " AS deferred) d", 26, p, err);
	/* clang-format on */
}

PGresult *
store_task_deps_resolve(const char *user_id, const char *refs, struct cy_error *err)
{
	const char *p[2] = { user_id, refs };

	/* clang-format off */
	return db_exec("task_deps_resolve",
		"SELECT DISTINCT ON (x.ord) x.ord, t.id FROM unnest($2::text[]) WITH ORDINALITY "
		"AS x(ref, ord) LEFT JOIN tasks t ON t.created_by = $1 AND (t.id::text = "
		"lower(x.ref) OR t.summary = x.ref) ORDER BY x.ord, (t.id::text = lower(x.ref)) DESC",
		2, p, err);
	/* clang-format on */
}

/*
 * The new task's dependencies, in its transaction: stored, then its job
 * waits while one is open; one that ended against its condition refuses
 * the task (ENOENT, why in err).
 */
static int
task_insert_deps(const struct task_new *t, const char *id, struct cy_error *err)
{
	const char *p[3] = { id, t->after_ids, t->after_conds };
	PGresult *res;
	const char *st;
	bool waiting;
	int rc = 0;

	/*
	 * Locks the dependencies first: one that ends meanwhile then waits for
	 * this transaction, and its trigger sees these rows; one that ended
	 * already is seen so by the next statement.
	 */
	res = db_exec("task_deps_lock",
	    "SELECT 1 FROM tasks WHERE id = ANY($1::uuid[]) ORDER BY id FOR SHARE", 1, p + 1, err);
	if (!res)
		return -1;
	PQclear(res);
	res = db_exec("task_deps_insert",
	    "INSERT INTO task_deps (task_id, after_task_id, cond) SELECT $1::uuid, a, c "
	    "FROM unnest($2::uuid[], $3::text[]) AS x(a, c) ON CONFLICT DO NOTHING",
	    3, p, err);
	if (!res)
		return -1;
	PQclear(res);
	/* A statement of its own: it must see the rows just inserted. */
	res = db_exec("task_deps_state", "SELECT cy_task_deps_state($1::uuid)", 1, p, err);
	if (!res)
		return -1;
	st = PQgetvalue(res, 0, 0);
	waiting = !strcmp(st, "waiting");
	if (!strncmp(st, "never:", 6))
		rc = cy_error_set(err, ENOENT, "after: it can never run: %s", st + 7);
	PQclear(res);
	if (rc == 0 && waiting) {
		res = db_exec("task_deps_wait",
		    "UPDATE jobs SET not_before = 'infinity' WHERE task_id = $1::uuid", 1, p, err);
		if (!res)
			return -1;
		PQclear(res);
	}
	return rc;
}

long long
store_task_counter_add(const char *user_id, long long k, struct cy_error *err)
{
	char num[24];
	const char *p[2] = { user_id, num };
	long long top = 0;
	PGresult *res;

	xsnprintf(num, sizeof(num), "%lld", k);
	/*
	 * Outside a transaction, its own is committed without waiting for the
	 * WAL flush (synchronous_commit off for that transaction only): a task
	 * that uses the number commits after it, and flushing that commit
	 * flushes this one; a crash before loses only numbers no task has.
	 * Otherwise every batch waited for a flush of its own with the
	 * counter's row locked.  Inside a caller's transaction the setting
	 * would last to its commit: the plain statement then.
	 */
	if (db_in_tx())
		res = db_exec("task_name_next_tx",
		    "INSERT INTO task_name_seq (user_id, seq) VALUES ($1::uuid, $2::bigint) "
		    "ON CONFLICT (user_id) DO UPDATE SET seq = task_name_seq.seq + $2::bigint "
		    "RETURNING seq",
		    2, p, err);
	else
		res = db_exec("task_name_next",
		    "INSERT INTO task_name_seq (user_id, seq) VALUES ($1::uuid, $2::bigint) "
		    "ON CONFLICT (user_id) DO UPDATE SET seq = task_name_seq.seq + $2::bigint "
		    "RETURNING seq, set_config('synchronous_commit', 'off', true)",
		    2, p, err);
	if (!res)
		return 0;
	if (cy_strtonum(PQgetvalue(res, 0, 0), k, LLONG_MAX, &top, NULL) < 0) {
		cy_error_set(err, EIO, "the task name counter returned '%s'",
		    PQgetvalue(res, 0, 0));
		top = 0;
	}
	PQclear(res);
	return top;
}

/* The next generated name, "task-N", from the user's counter (task-counter.h). */
static char *
task_generated_name(const char *user_id, struct cy_error *err)
{
	long long n = task_counter_next(user_id, err);

	return n ? xasprintf("task-%lld", n) : NULL;
}

/*
 * After the generated name "task-N" was refused: moves the user's counter
 * past the run of names task-N+1, task-N+2, ... the user already has
 * (explicit names that look generated), up to 1000 at a time, so the next
 * try takes the first free one instead of spending a try on each.
 */
static int
task_generated_skip(const char *user_id, const char *name, struct cy_error *err)
{
	const char *p[2] = { user_id, name + strlen("task-") };

	return store_run("task_name_skip",
	    "UPDATE task_name_seq SET seq = GREATEST(seq, COALESCE((SELECT min(n) "
	    "FROM generate_series($2::bigint + 1, $2::bigint + 1000) n WHERE NOT EXISTS "
	    "(SELECT 1 FROM tasks t WHERE t.created_by = $1::uuid AND t.summary = 'task-' || n)), "
	    "$2::bigint + 1001) - 1) WHERE user_id = $1::uuid",
	    2, p, err);
}

/* The task an earlier create with this idempotency key made (0 or 1 row). */
static PGresult *
task_idempotent(const struct task_new *t, struct cy_error *err)
{
	const char *p[2] = { t->user_id, t->idempotency_key };

	/* clang-format off */
	return db_exec("task_get_idempotent", "SELECT " TASK_COLS " FROM tasks t "
		"WHERE t.created_by = $1 AND t.idempotency_key = $2", 2, p, err);
	/* clang-format on */
}

/*
 * Serialises the creates of one user that ask for the same name (on every
 * replica) until the transaction ends, so they take base, base-2, ... in
 * turn instead of racing for the same free one.  Other names and users are
 * not held up; a hash collision only serialises two unrelated names.
 */
static int
task_name_lock(const struct task_new *t, struct cy_error *err)
{
	const char *p[2] = { t->user_id, t->name };

	return store_run("task_name_lock",
	    "SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || $2, 7061))", 2, p, err);
}

/*
 * One try: the task and its job, and its attachments.  A transaction holds
 * an explicit name's lock from the choice of the name to the insert, and the
 * attachments with their task.  The task row, an empty result when a unique
 * index refused the insert, or NULL on error.
 */
static PGresult *
task_try_create(const struct task_new *t, const char *project, struct cy_error *err)
{
	bool named = t->name && *t->name;
	bool tx = named || t->nattachments > 0 || t->after_ids;
	char id[CY_UUID_LEN + 1];
	const char *p[1] = { id };
	PGresult *res = NULL;
	char *name = NULL;

	cy_uuid_v4(id);
	/* The counter's statement runs outside: its row lock stays short. */
	if (!named && !(name = task_generated_name(t->user_id, err)))
		return NULL;
	if (tx && db_begin(err) < 0)
		goto out;
	if (named && (task_name_lock(t, err) < 0 || !(name = task_choose_name(t, err))))
		goto fail;
	if (!(res = task_insert_one(t, id, project, name, err)))
		goto fail;
	if (!named && PQntuples(res) == 0 && task_generated_skip(t->user_id, name, err) < 0)
		goto fail;
	if (!tx)
		goto out;
	if (PQntuples(res) > 0 && t->after_ids && task_insert_deps(t, id, err) < 0)
		goto fail;
	if (PQntuples(res) > 0 && t->nattachments > 0) {
		PQclear(res);
		res = NULL;
		/* clang-format off */
		if (task_insert_attachments(t, id, err) < 0 ||
		    !(res = db_exec("task_get_id",
			      "SELECT " TASK_COLS " FROM tasks t WHERE t.id = $1::uuid", 1, p, err)))
			goto fail;
		/* clang-format on */
	}
	if (db_commit(err) < 0) {
		PQclear(res);
		res = NULL;
	}
	goto out;
fail:
	PQclear(res);
	res = NULL;
	if (tx)
		db_rollback();
out:
	free(name);
	return res;
}

PGresult *
store_task_create(const struct task_new *t, bool *replayed, struct cy_error *err)
{
	char project[CY_UUID_LEN + 1];
	PGresult *res = NULL;
	int try;

	*replayed = false;
	if (task_project(t, project, err) < 0)
		return NULL;
	for (try = 0; try < TASK_CREATE_TRIES; try++) {
		if (t->idempotency_key) {
			if (!(res = task_idempotent(t, err)))
				return NULL;
			if (PQntuples(res) > 0) {
				*replayed = true;
				return res;
			}
			PQclear(res);
		}
		if (!(res = task_try_create(t, project, err)) || PQntuples(res) > 0)
			return res;
		PQclear(res);
	}
	cy_error_set(err, EAGAIN, "no free task name after %d tries", TASK_CREATE_TRIES);
	return NULL;
}

PGresult *
store_task_list(const char *user_id, const char *status_db, long long cursor_us,
    const char *cursor_id, long long limit, struct cy_error *err)
{
	char us[32], lim[32];
	const char *p[5];

	xsnprintf(us, sizeof(us), "%lld", cursor_us);
	xsnprintf(lim, sizeof(lim), "%lld", limit + 1);
	p[0] = user_id;
	p[1] = status_db;
	p[2] = us;
	p[3] = cursor_id;
	p[4] = lim;
	/* clang-format off */
	if (!user_id)
		return db_exec("task_list_all",
			"SELECT " TASK_COLS ", " SQL_TASK_PENDING " FROM tasks t WHERE $1::uuid IS NULL "
			"AND ($2::text IS NULL OR t.status = $2) "
			"AND ($4::uuid IS NULL OR (t.created_at, t.id) < "
			"(timestamptz 'epoch' + $3::bigint * interval '1 microsecond', $4::uuid)) "
			"ORDER BY t.created_at DESC, t.id DESC LIMIT $5::int", 5, p, err);
	return db_exec("task_list",
		"SELECT " TASK_COLS ", " SQL_TASK_PENDING " FROM tasks t WHERE t.created_by = $1 "
		"AND ($2::text IS NULL OR t.status = $2) "
		"AND ($4::uuid IS NULL OR (t.created_at, t.id) < "
		"(timestamptz 'epoch' + $3::bigint * interval '1 microsecond', $4::uuid)) "
		"ORDER BY t.created_at DESC, t.id DESC LIMIT $5::int", 5, p, err);
	/* clang-format on */
}

PGresult *
store_task_find(const char *user_id, const char *ref, struct cy_error *err)
{
	const char *p[2];
	PGresult *res;

	if (cy_uuid_valid(ref)) {
		p[0] = ref;
		/* clang-format off */
		res = db_exec("task_get_id",
			"SELECT " TASK_COLS " FROM tasks t WHERE t.id = $1::uuid", 1, p, err);
		/* clang-format on */
		if (!res || PQntuples(res) > 0)
			return res;
		PQclear(res);
	}
	p[0] = user_id;
	p[1] = ref;
	/* clang-format off */
	return db_exec("task_get_name",
		"SELECT " TASK_COLS " FROM tasks t WHERE t.created_by = $1 AND t.summary = $2",
		2, p, err);
	/* clang-format on */
}

PGresult *
store_task_status(const char *task_id, struct cy_error *err)
{
	const char *p[1] = { task_id };

	return db_exec("task_status", "SELECT status FROM tasks WHERE id = $1::uuid", 1, p, err);
}

PGresult *
store_task_jobs(const char *task_id, struct cy_error *err)
{
	const char *p[1] = { task_id };

	/* clang-format off */
	return db_exec("task_jobs",
		"SELECT j.id, j.status, j.result::text, j.exit_code, "
		SQL_TS("j.started_at") ", " SQL_TS("j.ended_at") ", "
		"COALESCE(j.result->>'stdout', ''), COALESCE(j.result->>'stderr', ''), "
		"j.array_index "
		"FROM jobs j WHERE j.task_id = $1::uuid ORDER BY j.created_at, j.id", 1, p, err);
	/* clang-format on */
}

PGresult *
store_task_array(const char *task_id, struct cy_error *err)
{
	const char *p[1] = { task_id };

	/* clang-format off */
	return db_exec("task_array",
		"SELECT json_build_object('spec', t.array_spec, 'cap', t.array_cap, "
		"'size', count(j.id), 'counts', json_build_object("
		"'queued', count(j.id) FILTER (WHERE j.status = 'queued' "
		"AND j.not_before IS DISTINCT FROM 'infinity'), "
		"'held', count(j.id) FILTER (WHERE j.status = 'queued' "
		"AND j.not_before = 'infinity'), "
		"'running', count(j.id) FILTER (WHERE j.status = 'running'), "
		"'completed', count(j.id) FILTER (WHERE j.status = 'completed'), "
		"'failed', count(j.id) FILTER (WHERE j.status = 'failed'), "
		"'canceled', count(j.id) FILTER (WHERE j.status = 'canceled')))::text "
		"FROM tasks t JOIN jobs j ON j.task_id = t.id WHERE t.id = $1::uuid "
		"AND t.array_spec IS NOT NULL GROUP BY t.id", 1, p, err);
	/* clang-format on */
}

PGresult *
store_task_job_info(const char *task_id, struct cy_error *err)
{
	const char *p[1] = { task_id };

	/*
	 * queued_seconds: from creation to the (last) start, or to now while
	 * queued; run_seconds: from the start to the end, or to now while
	 * running.  Milliseconds precision.
	 */
	/* clang-format off */
	return db_exec("task_job_info",
		"SELECT json_build_object('id', j.id, 'status', j.status, 'node', n.node_slug, "
		"'attempts', j.attempts, 'exit_code', j.exit_code, "
		"'queued_at', " SQL_TS("j.created_at") ", "
		"'started_at', " SQL_TS("j.started_at") ", "
		"'ended_at', " SQL_TS("j.ended_at") ", "
		"'queued_seconds', round(extract(epoch FROM COALESCE(j.started_at, "
		"CASE WHEN j.status = 'queued' THEN now() ELSE j.ended_at END) "
		"- j.created_at)::numeric, 3), "
		"'run_seconds', round(extract(epoch FROM COALESCE(j.ended_at, now()) "
		"- j.started_at)::numeric, 3), "
		"'image', j.payload->'image', 'timeout_seconds', j.payload->'timeout_seconds', "
		"'network_policy', j.payload->'network_policy', "
		"'resources', j.payload->'resources', 'model', j.req_model, "
		"'priority', j.priority, 'max_attempts', j.max_attempts, "
		"'retry_backoff_seconds', j.retry_backoff_s, "
		"'requirements', json_build_object('labels', j.req_labels, 'gpus', j.req_gpus, "
		"'gpu_model', j.req_gpu_model, 'nodes', j.req_nodes), 'queue', j.queue, "
		"'fair_rank', j.fair_rank, "
		"'waiting_for_dependencies', j.status = 'queued' AND j.not_before = 'infinity' "
		"AND cy_task_deps_state(j.task_id) = 'waiting', "
		"'pending_reason', cy_job_pending_reason(j), "
		"'after', (SELECT json_agg(json_build_object('task_id', d.id, 'task_name', "
		"d.summary, 'condition', td.cond, 'status', CASE d.status WHEN 'pending' THEN "
		"'queued' ELSE d.status END) ORDER BY d.created_at) FROM task_deps td "
		"JOIN tasks d ON d.id = td.after_task_id WHERE td.task_id = j.task_id)"
		")::text FROM jobs j LEFT JOIN nodes n ON n.id = j.node_id "
		"WHERE j.task_id = $1::uuid ORDER BY j.created_at DESC, j.id DESC LIMIT 1",
		1, p, err);
	/* clang-format on */
}

int
store_task_cancel(const char *task_id, char *status, size_t statuslen, struct cy_error *err)
{
	const char *p[1] = { task_id };
	PGresult *res;
	int st;

	if (db_begin(err) < 0)
		return -1;
	/*
	 * The jobs first, then the task: the order of the dispatcher's claim,
	 * of result writes and of the array trigger (job, then its task), so a
	 * cancel that lands during a claim waits instead of deadlocking.
	 */
	res = db_exec("task_lock_jobs",
	    "SELECT 1 FROM jobs WHERE task_id = $1::uuid ORDER BY id FOR UPDATE", 1, p, err);
	if (!res)
		goto fail;
	PQclear(res);
	res = db_exec("task_lock", "SELECT status FROM tasks WHERE id = $1::uuid FOR UPDATE", 1, p,
	    err);
	if (!res)
		goto fail;
	if (PQntuples(res) == 0) {
		PQclear(res);
		cy_error_set(err, ENOENT, "task not found");
		goto fail;
	}
	xsnprintf(status, statuslen, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	st = cy_task_state_parse(status);
	if (st >= 0 && cy_task_state_terminal((enum cy_task_state)st)) {
		db_rollback();
		return 0;
	}
	if (store_run("task_cancel",
		"UPDATE tasks SET status = 'canceled', closed = true WHERE id = $1::uuid", 1, p,
		err) < 0 ||
	    store_run("task_cancel_attempts",
		"UPDATE job_attempts SET status = 'canceled', ended_at = now() "
		"WHERE status = 'running' AND job_id IN (SELECT id FROM jobs "
		"WHERE task_id = $1::uuid AND status = 'running')",
		1, p, err) < 0 ||
	    store_run("task_cancel_jobs",
		"UPDATE jobs SET status = 'canceled', ended_at = now() WHERE task_id = $1::uuid "
		"AND status NOT IN ('completed', 'failed', 'canceled')",
		1, p, err) < 0)
		goto fail;
	if (db_commit(err) < 0)
		return -1;
	return 1;
fail:
	db_rollback();
	return -1;
}

PGresult *
store_task_state_counts(struct cy_error *err)
{
	return db_exec("metrics_tasks",
	    "SELECT s, coalesce(c, 0) FROM unnest(ARRAY['pending','running','completed',"
	    "'failed','canceled','superseded']) s LEFT JOIN (SELECT status, count(*) c"
	    " FROM tasks GROUP BY status) x ON x.status = s",
	    0, NULL, err);
}

PGresult *
store_job_state_counts(struct cy_error *err)
{
	return db_exec("metrics_jobs",
	    "SELECT s, (SELECT count(*) FROM jobs j WHERE j.status = s) FROM unnest("
	    "ARRAY['queued','running']) s",
	    0, NULL, err);
}

int
store_task_fit_problem(const struct task_new *t, char *why, size_t size, struct cy_error *err)
{
	const char *p[6] = { t->req_gpus ? t->req_gpus : "0", t->req_labels ? t->req_labels : "{}",
		t->req_cpus ? t->req_cpus : "0", t->req_memory_mb ? t->req_memory_mb : "0",
		t->req_gpu_model, t->req_nodes ? t->req_nodes : "{}" };
	PGresult *res = db_exec("task_fit_problem",
	    "SELECT cy_job_fit_problem($1::int, $2::text[], false, NULL, $3::int, $4::bigint, "
	    "$5, $6::text[])",
	    6, p, err);
	int rc;

	if (!res)
		return -1;
	rc = !PQgetisnull(res, 0, 0);
	if (rc)
		cy_snprintf_clip(why, size, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return rc;
}
