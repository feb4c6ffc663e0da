/*
 * The durable job logs' SQL (store-logs.h).  An append runs in one
 * transaction: one upsert checks that the attempt is the sending node's,
 * creates the stream's job_logs row on the first chunk and locks it (so
 * chunks of one stream apply one at a time, whatever the replica), stores
 * the new bytes below the limit as one job_log_chunks row at the stream's
 * end and moves the end.  So the stored log is always a gapless prefix of
 * what the job wrote, and a chunk sent again (a retry after a lost answer,
 * a server restart) changes nothing.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "db.h"
#include "store-logs.h"
#include "store-util.h"
#include "strnum.h"
#include "banned.h"

/*
 * Checks that the attempt is the node's, creates the stream's row on the
 * first chunk and locks it, in one statement (an upsert takes the row
 * lock), and reads its state; 0, or -1 with err (ENOENT: not the node's).
 */
static int
logs_lock(const struct log_chunk *c, struct log_state *st, struct cy_error *err)
{
	char lim[24];
	const char *p[5] = { c->lease_id, c->stream, c->job_id, c->node_id, lim };
	const char *errstr;
	PGresult *res;

	xsnprintf(lim, sizeof(lim), "%lld", c->limit_bytes);
	res = db_exec("logs_stream_lock",
	    "INSERT INTO job_logs (lease_id, stream, job_id, limit_bytes) "
	    "SELECT $1::uuid, $2, $3::uuid, $5::bigint FROM job_attempts "
	    "WHERE lease_id = $1::uuid AND job_id = $3::uuid AND node_id = $4::uuid "
	    "ON CONFLICT (lease_id, stream) DO UPDATE SET updated_at = job_logs.updated_at "
	    "RETURNING stored_bytes, end_offset, limit_bytes, ended",
	    5, p, err);
	if (!res)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return cy_error_set(err, ENOENT,
		    "no attempt of job %s under lease %s ran on this node", c->job_id, c->lease_id);
	}
	cy_strtonum(PQgetvalue(res, 0, 0), 0, LLONG_MAX, &st->stored_bytes, &errstr);
	cy_strtonum(PQgetvalue(res, 0, 1), 0, LLONG_MAX, &st->end_offset, &errstr);
	cy_strtonum(PQgetvalue(res, 0, 2), 0, LLONG_MAX, &st->limit_bytes, &errstr);
	st->ended = PQgetvalue(res, 0, 3)[0] == 't';
	PQclear(res);
	return 0;
}

/*
 * Where c goes in stream st: -1 (ERANGE) when it does not fit, else 0 with
 * the bytes to keep (data[*skip .. *skip + *take) at offset st->end_offset)
 * and st moved to the state after it.
 */
static int
logs_place(const struct log_chunk *c, struct log_state *st, size_t *skip, size_t *take,
    struct cy_error *err)
{
	long long end = c->offset + (long long)c->len, keep_end;
	bool full = st->stored_bytes >= st->limit_bytes;

	*skip = *take = 0;
	/*
	 * Once the limit is reached nothing more is kept: gaps do not matter.
	 * An empty eof past the end says the node lost the bytes between.
	 */
	if (c->offset > st->end_offset && !full && !(c->eof && c->len == 0 && !st->ended))
		return cy_error_set(err, ERANGE,
		    "offset %lld is past the end of the stored %s (%lld bytes)", c->offset,
		    c->stream, st->end_offset);
	if (st->ended) {
		if (end > st->end_offset || (c->eof && end != st->end_offset))
			return cy_error_set(err, ERANGE, "%s ended at %lld bytes", c->stream,
			    st->end_offset);
		return 0;
	}
	if (c->eof && end < st->end_offset)
		return cy_error_set(err, ERANGE,
		    "end of %s at %lld bytes, but %lld bytes are already there", c->stream, end,
		    st->end_offset);
	if (end > st->end_offset) {
		if (!full && c->offset <= st->end_offset) {
			/* Not full and no gap: stored_bytes == end_offset. */
			keep_end = end < st->limit_bytes ? end : st->limit_bytes;
			*skip = (size_t)(st->end_offset - c->offset);
			*take = (size_t)(keep_end - st->end_offset);
			st->stored_bytes = keep_end;
		}
		st->end_offset = end;
	}
	if (c->eof)
		st->ended = true;
	return 0;
}

int
store_logs_append(const struct log_chunk *c, struct log_state *st, struct cy_error *err)
{
	char off[24], stored[24], end[24];
	struct log_state before;
	size_t skip, take;
	PGresult *res;

	if (db_begin(err) < 0)
		return -1;
	st->task_id[0] = '\0';
	if (logs_lock(c, st, err) < 0)
		goto fail;
	before = *st;
	if (logs_place(c, st, &skip, &take, err) < 0)
		goto fail;
	if (take > 0) {
		const char *q[4] = { c->lease_id, c->stream, off, c->data + skip };
		const int lens[4] = { 0, 0, 0, (int)take };
		const int fmts[4] = { 0, 0, 0, 1 };

		xsnprintf(off, sizeof(off), "%lld", st->stored_bytes - (long long)take);
		res = db_exec_bin("logs_chunk_add",
		    "INSERT INTO job_log_chunks (lease_id, stream, byte_offset, data) "
		    "VALUES ($1::uuid, $2, $3::bigint, $4::bytea)",
		    4, q, lens, fmts, 0, err);
		if (!res)
			goto fail;
		PQclear(res);
	}
	/* A chunk sent again changes nothing: no write, no wake-up. */
	if (st->end_offset != before.end_offset || st->ended != before.ended) {
		const char *q[5] = { c->lease_id, c->stream, stored, end, st->ended ? "t" : "f" };

		xsnprintf(stored, sizeof(stored), "%lld", st->stored_bytes);
		xsnprintf(end, sizeof(end), "%lld", st->end_offset);
		/* The new state, and the task's followers told (at commit). */
		res = db_exec("logs_stream_set",
		    "WITH u AS (UPDATE job_logs SET stored_bytes = $3::bigint, "
		    "end_offset = $4::bigint, ended = $5::boolean, updated_at = now() "
		    "WHERE lease_id = $1::uuid AND stream = $2 RETURNING job_id) "
		    "SELECT j.task_id, pg_notify('cynode_task_logs', j.task_id::text) "
		    "FROM u JOIN jobs j ON j.id = u.job_id",
		    5, q, err);
		if (!res)
			goto fail;
		if (PQntuples(res) == 1)
			xsnprintf(st->task_id, sizeof(st->task_id), "%s", PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	return db_commit(err);
fail:
	db_rollback();
	return -1;
}

PGresult *
store_logs_task(const char *task_id, const char *array_index, struct cy_error *err)
{
	const char *p[2] = { task_id, array_index };

	return db_exec("logs_task",
	    "SELECT j.id, j.status, a.lease_id, so.stored_bytes, so.end_offset, so.ended, "
	    "se.stored_bytes, se.end_offset, se.ended, COALESCE(j.result->>'stdout', ''), "
	    "COALESCE(j.result->>'stderr', '') FROM jobs j "
	    "LEFT JOIN LATERAL (SELECT ja.lease_id FROM job_attempts ja WHERE ja.job_id = j.id "
	    "AND ja.status <> 'dispatch_error' ORDER BY ja.started_at DESC, ja.attempt DESC "
	    "LIMIT 1) a ON true "
	    "LEFT JOIN job_logs so ON so.lease_id = a.lease_id AND so.stream = 'stdout' "
	    "LEFT JOIN job_logs se ON se.lease_id = a.lease_id AND se.stream = 'stderr' "
	    "WHERE j.task_id = $1::uuid AND ($2::int IS NULL OR j.array_index = $2::int) "
	    "ORDER BY j.created_at, j.id",
	    2, p, err);
}

int
store_logs_read(const char *lease_id, const char *stream, long long off, long long max,
    struct cy_buf *b, struct cy_error *err)
{
	char o[24], m[24];
	const char *p[4] = { lease_id, stream, o, m };
	const char *errstr;
	PGresult *res;
	int i;

	xsnprintf(o, sizeof(o), "%lld", off);
	xsnprintf(m, sizeof(m), "%lld", max);
	/*
	 * Binary results: the data comes as raw bytes, the offset as its text
	 * (named apart, so ORDER BY sorts by the number).
	 */
	res = db_exec_bin("logs_read",
	    "SELECT byte_offset::text AS at, data FROM job_log_chunks "
	    "WHERE lease_id = $1::uuid AND stream = $2 AND byte_offset > $3::bigint - 1048576 "
	    "AND byte_offset < $3::bigint + $4::bigint ORDER BY byte_offset",
	    4, p, NULL, NULL, 1, err);
	if (!res)
		return -1;
	for (i = 0; i < PQntuples(res); i++) {
		char num[24];
		long long at, from, to;
		size_t n = (size_t)PQgetlength(res, i, 1);

		xsnprintf(num, sizeof(num), "%.*s", PQgetlength(res, i, 0), PQgetvalue(res, i, 0));
		if (cy_strtonum(num, 0, LOGS_OFFSET_MAX, &at, &errstr) < 0)
			continue;
		from = at > off ? at : off;
		to = at + (long long)n < off + max ? at + (long long)n : off + max;
		if (to > from)
			cy_buf_add(b, PQgetvalue(res, i, 1) + (from - at), (size_t)(to - from));
	}
	PQclear(res);
	return 0;
}
