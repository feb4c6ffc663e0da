/*
 * Accounting SQL (accounting.h): the job_accounting records, filtered and
 * paged with a keyset cursor (ended_at in microseconds, lease_id), and
 * their totals per user or per queue.  Rows are JSON built in SQL; CPU and
 * wall seconds are rounded to milliseconds.
 */
#include <stdio.h>
#include <string.h>

#include "accounting.h"
#include "buf.h"
#include "db.h"
#include "store-util.h"
#include "banned.h"

#define SECS(col) "round((" col ")::numeric, 3)"

/* clang-format off */
/* The filters of both queries, on parameters $1-$7. */
#define ACCT_WHERE \
	" WHERE ($1::uuid IS NULL OR a.user_id = $1::uuid)" \
	" AND ($2::text IS NULL OR a.user_handle = $2)" \
	" AND ($3::text IS NULL OR a.status = $3)" \
	" AND ($4::timestamptz IS NULL OR a.ended_at >= $4::timestamptz)" \
	" AND ($5::timestamptz IS NULL OR a.ended_at < $5::timestamptz)" \
	" AND ($6::text IS NULL OR a.node_slug = $6)" \
	" AND ($7::text IS NULL OR a.queue = $7)"

#define ACCT_LIST_SQL \
	"SELECT json_build_object('attempt_id', a.lease_id, 'job_id', a.job_id," \
	" 'task_id', a.task_id, 'user', a.user_handle, 'queue', a.queue, 'node', a.node_slug," \
	" 'attempt', a.attempt, 'attempts', a.attempts, 'state', a.status," \
	" 'exit_code', a.exit_code, 'req_cpus', a.req_cpus, 'req_memory_mb', a.req_memory_mb," \
	" 'req_gpus', a.req_gpus, 'cpu_seconds', " SECS("a.cpu_seconds") "," \
	" 'cpu_user_seconds', " SECS("a.cpu_user_seconds") "," \
	" 'cpu_system_seconds', " SECS("a.cpu_system_seconds") "," \
	" 'peak_memory_bytes', a.peak_memory_bytes, 'gpu_seconds', " SECS("a.gpu_seconds") "," \
	" 'wall_seconds', " SECS("a.wall_seconds") ", 'usage_source', a.usage_source," \
	" 'started_at', " SQL_TS("a.started_at") ", 'ended_at', " SQL_TS("a.ended_at") ")::text," \
	" (extract(epoch FROM a.ended_at) * 1000000)::bigint, a.lease_id" \
	" FROM job_accounting a" ACCT_WHERE \
	" AND ($9::uuid IS NULL OR (a.ended_at, a.lease_id) <" \
	" (timestamptz 'epoch' + $8::bigint * interval '1 microsecond', $9::uuid))" \
	" ORDER BY a.ended_at DESC, a.lease_id DESC LIMIT $10::int"

/* $8: 'user' or 'queue'.  Failures: attempts that did not complete and were not canceled. */
#define ACCT_SUMMARY_SQL \
	"SELECT json_build_object($8::text, k, 'jobs', count(DISTINCT a.job_id)," \
	" 'attempts', count(*), 'completed', count(*) FILTER (WHERE a.status = 'completed')," \
	" 'failures', count(*) FILTER (WHERE a.status IN ('failed', 'lease_expired'," \
	" 'dispatch_error')), 'canceled', count(*) FILTER (WHERE a.status = 'canceled')," \
	" 'cpu_seconds', " SECS("COALESCE(sum(a.cpu_seconds), 0)") "," \
	" 'wall_seconds', " SECS("COALESCE(sum(a.wall_seconds), 0)") "," \
	" 'peak_memory_bytes_max', max(a.peak_memory_bytes)," \
	" 'gpu_seconds', " SECS("sum(a.gpu_seconds)") ")::text" \
	" FROM job_accounting a, LATERAL (SELECT CASE WHEN $8::text = 'queue' THEN a.queue" \
	" ELSE a.user_handle END AS k) g" ACCT_WHERE \
	" GROUP BY k ORDER BY k"
/* clang-format on */

PGresult *
store_acct_list(const struct acct_filter *f, struct cy_error *err)
{
	char usbuf[32], limbuf[32];
	const char *p[10] = { f->owner_id, f->user, f->state, f->since, f->until, f->node, f->queue,
		usbuf, f->cursor_id, limbuf };

	xsnprintf(usbuf, sizeof(usbuf), "%lld", f->cursor_us);
	xsnprintf(limbuf, sizeof(limbuf), "%lld", f->limit + 1);
	return db_exec("acct_list", ACCT_LIST_SQL, 10, p, err);
}

PGresult *
store_acct_summary(const struct acct_filter *f, const char *by, struct cy_error *err)
{
	const char *p[8] = { f->owner_id, f->user, f->state, f->since, f->until, f->node, f->queue,
		by };

	return db_exec("acct_summary", ACCT_SUMMARY_SQL, 8, p, err);
}
