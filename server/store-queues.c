/*
 * The queues' SQL (queues.h): the queue table of migration 0095 and the
 * views of its jobs in dispatch order (priority, fair-share rank, age).
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "db.h"
#include "json.h"
#include "queues.h"
#include "store-util.h"
#include "banned.h"

/* A queue row as a JSON object with its live job counts; expects `queues q`. */
#define QUEUE_JSON \
	"json_build_object('name', q.name, 'priority', q.priority, " \
	"'max_running', q.max_running, 'max_running_per_user', q.max_running_per_user, " \
	"'description', q.description, " \
	"'queued', (SELECT count(*) FROM jobs j WHERE j.status = 'queued' AND j.queue = q.name), " \
	"'running', (SELECT count(*) FROM jobs j WHERE j.status = 'running' " \
	"AND j.queue = q.name), " \
	"'created_at', " SQL_TS("q.created_at") ", 'updated_at', " SQL_TS( \
	    "q.updated_at") ")::text"

bool
queue_name_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n < 1 || n > 63 || s[0] < 'a' || s[0] > 'z')
		return false;
	for (i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
			s[i] == '_'))
			return false;
	return true;
}

int
store_queue_exists(const char *name, struct cy_error *err)
{
	PGresult *res =
	    db_exec("queue_exists", "SELECT 1 FROM queues WHERE name = $1", 1, &name, err);
	int n;

	if (!res)
		return -1;
	n = PQntuples(res) > 0;
	PQclear(res);
	return n;
}

PGresult *
store_queue_list(struct cy_error *err)
{
	return db_exec("queue_list", "SELECT " QUEUE_JSON " FROM queues q ORDER BY q.name", 0, NULL,
	    err);
}

PGresult *
store_queue_get(const char *name, struct cy_error *err)
{
	return db_exec("queue_get", "SELECT " QUEUE_JSON " FROM queues q WHERE q.name = $1", 1,
	    &name, err);
}

PGresult *
store_queue_head(const char *name, const char *viewer, bool all_visible, long long limit,
    struct cy_error *err)
{
	char lim[24];
	const char *p[4] = { name, viewer, all_visible ? "true" : "false", lim };

	xsnprintf(lim, sizeof(lim), "%lld", limit);
	/* clang-format off */
	return db_exec("queue_head",
	    "SELECT json_build_object('position', row_number() OVER (ORDER BY j.priority DESC, "
	    "j.fair_rank, j.created_at), "
	    "'task_id', CASE WHEN $3::bool OR j.owner = $2::uuid THEN j.task_id END, "
	    "'owner', CASE WHEN $3::bool OR j.owner = $2::uuid THEN u.handle END, "
	    "'mine', j.owner IS NOT DISTINCT FROM $2::uuid, "
	    "'priority', j.priority, 'fair_rank', j.fair_rank, "
	    "'created_at', " SQL_TS("j.created_at") ", "
	    "'req_cpus', j.req_cpus, 'req_memory_mb', j.req_memory_mb, 'req_gpus', j.req_gpus, "
	    "'pending_reason', cy_job_pending_reason(j))::text "
	    "FROM jobs j LEFT JOIN users u ON u.id = j.owner "
	    "WHERE j.status = 'queued' AND j.queue = $1 "
	    "ORDER BY j.priority DESC, j.fair_rank, j.created_at LIMIT $4::int",
	    4, p, err);
	/* clang-format on */
}

PGresult *
store_queue_users(const char *name, const char *viewer, bool all_visible, struct cy_error *err)
{
	const char *p[3] = { name, viewer, all_visible ? "true" : "false" };

	/* clang-format off */
	return db_exec("queue_users",
	    "SELECT json_build_object("
	    "'owner', CASE WHEN $3::bool OR j.owner = $2::uuid THEN min(u.handle) END, "
	    "'mine', j.owner IS NOT DISTINCT FROM $2::uuid, "
	    "'running', count(*) FILTER (WHERE j.status = 'running'), "
	    "'queued', count(*) FILTER (WHERE j.status = 'queued'), "
	    "'next_fair_rank', min(j.fair_rank) FILTER (WHERE j.status = 'queued'))::text "
	    "FROM jobs j LEFT JOIN users u ON u.id = j.owner "
	    "WHERE j.status IN ('queued', 'running') AND j.queue = $1 "
	    "GROUP BY j.owner ORDER BY count(*) FILTER (WHERE j.status = 'running') DESC, "
	    "min(j.fair_rank)",
	    3, p, err);
	/* clang-format on */
}

/* The member's value as SQL text (NULL for null or absent) and whether it was given. */
static void
member(const json_t *body, const char *key, const char **val, const char **given, char buf[24])
{
	json_t *v = json_object_get(body, key);

	*given = v ? "true" : "false";
	*val = NULL;
	if (json_is_integer(v)) {
		xsnprintf(buf, 24, "%lld", (long long)json_integer_value(v));
		*val = buf;
	} else if (json_is_string(v)) {
		*val = json_string_value(v);
	}
}

PGresult *
store_queue_put(const char *name, const json_t *body, bool update, struct cy_error *err)
{
	char b[4][24];
	const char *p[9];

	p[0] = name;
	member(body, "priority", &p[1], &p[2], b[0]);
	member(body, "max_running", &p[3], &p[4], b[1]);
	member(body, "max_running_per_user", &p[5], &p[6], b[2]);
	member(body, "description", &p[7], &p[8], b[3]);
	if (!update) {
		const char *c[5] = { p[0], p[1], p[3], p[5], p[7] };

		/* clang-format off */
		return db_exec("queue_create",
		    "INSERT INTO queues AS q (name, priority, max_running, max_running_per_user, "
		    "description) VALUES ($1, COALESCE($2::int, 0), $3::int, $4::int, "
		    "COALESCE($5, '')) RETURNING " QUEUE_JSON,
		    5, c, err);
	}
	return db_exec("queue_update",
	    "UPDATE queues q SET "
	    "priority = CASE WHEN $3::bool THEN COALESCE($2::int, 0) ELSE priority END, "
	    "max_running = CASE WHEN $5::bool THEN $4::int ELSE max_running END, "
	    "max_running_per_user = CASE WHEN $7::bool THEN $6::int "
	    "ELSE max_running_per_user END, "
	    "description = CASE WHEN $9::bool THEN COALESCE($8, '') ELSE description END, "
	    "updated_at = now() WHERE name = $1 RETURNING " QUEUE_JSON,
	    9, p, err);
	/* clang-format on */
}

int
store_queue_delete(const char *name, struct cy_error *err)
{
	PGresult *res;
	long long live;
	int n;

	/* The row lock keeps a dispatcher's read of the limits consistent meanwhile. */
	res = db_exec("queue_delete_live",
	    "SELECT (SELECT count(*) FROM jobs WHERE status IN ('queued', 'running') "
	    "AND queue = $1) FROM queues WHERE name = $1 FOR UPDATE",
	    1, &name, err);
	if (!res)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return 0;
	}
	live = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	if (live > 0)
		return cy_error_set(err, EBUSY,
		    "queue %s still has %lld queued or running jobs: wait for them or cancel them",
		    name, live);
	res = db_exec("queue_delete", "DELETE FROM queues WHERE name = $1", 1, &name, err);
	if (!res)
		return -1;
	n = strcmp(PQcmdTuples(res), "1") == 0;
	PQclear(res);
	return n;
}
