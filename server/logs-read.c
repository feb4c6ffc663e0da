/*
 * Reading the durable job logs (logs.h): a task's stream is its jobs'
 * streams one after the other, each the stored log of the job's latest
 * attempt, or the result's text when the node streamed nothing.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "logs.h"
#include "store-logs.h"
#include "store-util.h"
#include "strnum.h"
#include "banned.h"

#define READ_PAGE (8LL * 1024 * 1024)

const char *const log_stream_names[2] = { "stdout", "stderr" };

/* The column of the stored length of stream s (end: +1, ended: +2). */
static int
col(int s)
{
	return s == LOG_OUT ? LC_OUT_STORED : LC_ERR_STORED;
}

/* True when the job at row streamed its logs (any stream). */
static bool
streamed(const PGresult *rows, int row)
{
	return store_val(rows, row, LC_OUT_STORED) || store_val(rows, row, LC_ERR_STORED);
}

static long long
num(const PGresult *rows, int row, int c)
{
	const char *v = store_val(rows, row, c), *errstr;
	long long n = 0;

	if (v)
		(void)cy_strtonum(v, 0, LOGS_OFFSET_MAX, &n, &errstr);
	return n;
}

long long
logs_stored(const PGresult *rows, int row, int s)
{
	if (!streamed(rows, row))
		return (
		    long long)PQgetlength(rows, row, s == LOG_OUT ? LC_RESULT_OUT : LC_RESULT_ERR);
	return num(rows, row, col(s));
}

long long
logs_lost(const PGresult *rows, int row, int s)
{
	long long lost;

	if (!streamed(rows, row))
		return 0;
	lost = num(rows, row, col(s) + 1) - num(rows, row, col(s));
	return lost > 0 ? lost : 0;
}

/* Reads [from, from + n) of a stored stream a page at a time (bounded result sets). */
static int
read_pages(const char *lease_id, int s, long long from, long long n, struct cy_buf *b,
    struct cy_error *err)
{
	long long page;

	while (n > 0) {
		page = n < READ_PAGE ? n : READ_PAGE;
		if (store_logs_read(lease_id, log_stream_names[s], from, page, b, err) < 0)
			return -1;
		from += page;
		n -= page;
	}
	return 0;
}

int
logs_read(const PGresult *rows, int s, long long off, long long max, struct cy_buf *b,
    struct cy_error *err)
{
	long long base = 0, len, from, n;
	int i;

	for (i = 0; i < PQntuples(rows) && max > 0; i++) {
		len = logs_stored(rows, i, s);
		if (off < base + len) {
			from = off > base ? off - base : 0;
			n = len - from < max ? len - from : max;
			if (!streamed(rows, i))
				cy_buf_add(b,
				    PQgetvalue(rows, i,
					s == LOG_OUT ? LC_RESULT_OUT : LC_RESULT_ERR) +
					from,
				    (size_t)n);
			else if (store_val(rows, i, col(s)) &&
				 read_pages(PQgetvalue(rows, i, LC_LEASE_ID), s, from, n, b, err) <
				     0)
				return -1;
			max -= n;
			off += n;
		}
		base += len;
	}
	return 0;
}

json_t *
logs_job_json(const PGresult *rows, int row)
{
	json_t *o = json_object();
	int s;

	for (s = LOG_OUT; s <= LOG_ERR; s++) {
		long long stored = logs_stored(rows, row, s), lost = logs_lost(rows, row, s);

		json_object_set_new(o, log_stream_names[s],
		    json_pack("{s:I, s:I, s:b, s:I, s:b}", "bytes", (json_int_t)(stored + lost),
			"stored_bytes", (json_int_t)stored, "truncated", lost > 0, "lost_bytes",
			(json_int_t)lost, "streamed", streamed(rows, row)));
	}
	return o;
}
