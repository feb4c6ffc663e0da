/*
 * SQL of the event log (store-events.h).  Every statement reads the
 * primary key's order: the stream's reads are ranges of ids, the horizon
 * walks the ids after the last one it settled, and retention deletes the
 * oldest ids, so no statement scans the table.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "db.h"
#include "store-events.h"
#include "strnum.h"
#include "banned.h"

#define WALK_BATCH 1000

#define STR(x) #x
#define XSTR(x) STR(x)

int
store_events_horizon_init(long long *h, struct cy_error *err)
{
	PGresult *res;
	const char *errstr;

	res = db_exec("events_horizon_init",
	    "SELECT COALESCE((SELECT id FROM events WHERE created_at < clock_timestamp() - "
	    "interval '" XSTR(EVENTS_GAP_MS) " milliseconds' ORDER BY id DESC LIMIT 1), "
					     "(SELECT min(id) - 1 FROM events), 0)",
	    0, NULL, err);
	if (!res)
		return -1;
	if (cy_strtonum(PQgetvalue(res, 0, 0), 0, LLONG_MAX, h, &errstr) < 0)
		*h = 0;
	PQclear(res);
	return 0;
}

int
store_events_horizon_advance(long long *h, bool *pending, struct cy_error *err)
{
	char after[24];
	const char *p[1] = { after };
	const char *errstr;
	PGresult *res;
	int i, n;

	*pending = false;
	for (;;) {
		xsnprintf(after, sizeof(after), "%lld", *h);
		/*
		 * One snapshot for the rows and the in-flight test: with no
		 * transaction in flight, no id below a visible one can still
		 * appear.
		 */
		res = db_exec("events_horizon_walk",
		    "SELECT id, created_at < clock_timestamp() - interval '" XSTR(
			EVENTS_GAP_MS) " milliseconds', "
				       "pg_snapshot_xmin(pg_current_snapshot()) = "
				       "pg_snapshot_xmax(pg_current_snapshot()) "
				       "FROM events WHERE id > $1::bigint ORDER BY id LIMIT " XSTR(
					   WALK_BATCH),
		    1, p, err);
		if (!res)
			return -1;
		n = PQntuples(res);
		for (i = 0; i < n; i++) {
			long long id;

			if (cy_strtonum(PQgetvalue(res, i, 0), 1, LLONG_MAX, &id, &errstr) < 0)
				break;
			if (id != *h + 1 && strcmp(PQgetvalue(res, i, 1), "t") != 0 &&
			    strcmp(PQgetvalue(res, i, 2), "t") != 0) {
				*pending = true;
				break;
			}
			*h = id;
		}
		PQclear(res);
		if (*pending || i < WALK_BATCH)
			return 0;
	}
}

PGresult *
store_events_read(const struct events_filter *f, long long after, long long upto, int limit,
    struct cy_error *err)
{
	char a[24], u[24], l[24];
	const char *p[7];

	xsnprintf(a, sizeof(a), "%lld", after);
	xsnprintf(u, sizeof(u), "%lld", upto);
	xsnprintf(l, sizeof(l), "%d", limit);
	p[0] = a;
	p[1] = u;
	p[2] = f->tasks ? "t" : "f";
	p[3] = f->user_id;
	p[4] = f->task_id;
	p[5] = f->nodes ? "t" : "f";
	p[6] = l;
	return db_exec("events_read",
	    "SELECT id, type, (jsonb_build_object('id', id, 'type', type, 'time', "
	    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')) "
	    "|| data)::text FROM events WHERE id > $1::bigint AND id <= $2::bigint "
	    "AND ((kind = 'task' AND $3::boolean AND ($4::uuid IS NULL OR user_id = $4::uuid) "
	    "AND ($5::uuid IS NULL OR task_id = $5::uuid)) OR (kind = 'node' AND $6::boolean)) "
	    "ORDER BY id LIMIT $7::int",
	    7, p, err);
}

PGresult *
store_events_read_all(long long after, long long upto, int limit, struct cy_error *err)
{
	char a[24], u[24], l[24];
	const char *p[3] = { a, u, l };

	xsnprintf(a, sizeof(a), "%lld", after);
	xsnprintf(u, sizeof(u), "%lld", upto);
	xsnprintf(l, sizeof(l), "%d", limit);
	return db_exec("events_read_all",
	    "SELECT id, type, (jsonb_build_object('id', id, 'type', type, 'time', "
	    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')) "
	    "|| data)::text, kind, COALESCE(user_id::text, ''), COALESCE(task_id::text, '') "
	    "FROM events WHERE id > $1::bigint AND id <= $2::bigint ORDER BY id LIMIT $3::int",
	    3, p, err);
}

long long
store_events_prune(long long age_s, int limit, struct cy_error *err)
{
	char age[24], lim[24];
	const char *p[2] = { age, lim };
	long long n;
	const char *errstr;
	PGresult *res;

	xsnprintf(age, sizeof(age), "%lld", age_s);
	xsnprintf(lim, sizeof(lim), "%d", limit);
	/* Ids follow time closely enough: the oldest ids, those past the age. */
	res = db_exec("events_prune",
	    "DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY id LIMIT $2::int) "
	    "AND created_at < now() - $1::bigint * interval '1 second'",
	    2, p, err);
	if (!res)
		return -1;
	if (cy_strtonum(PQcmdTuples(res), 0, LLONG_MAX, &n, &errstr) < 0)
		n = 0;
	PQclear(res);
	/* The webhook delivery log (settled deliveries) goes the same way. */
	res = db_exec("webhook_deliveries_prune",
	    "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries "
	    "ORDER BY id LIMIT $2::int) AND status <> 'pending' "
	    "AND created_at < now() - $1::bigint * interval '1 second'",
	    2, p, err);
	if (!res)
		return -1;
	PQclear(res);
	return n;
}
