/*
 * GET /v1/tasks/{id}/logs: a task's output, its jobs' logs one after the
 * other, as the server stores them (logs.h): the node streams them while
 * the job runs, so they are there before the job ends, whole up to
 * logs.max_bytes_per_stream per stream.
 *
 *  - JSON (the default): {"task_id", "stdout", "stderr", "bytes",
 *    "stored_bytes", "truncated", "lost_bytes"} (the last four objects
 *    keyed by stream), the text made valid UTF-8 (invalid bytes become
 *    U+FFFD); `stream` empties the other one.
 *  - format=raw with stream=stdout or stderr: the stored bytes exactly
 *    (application/octet-stream), with the headers Cynode-Log-Truncated
 *    and Cynode-Log-Lost-Bytes.
 *  - follow=true (cynork task logs --follow): one window from
 *    stdout_offset / stderr_offset (byte offsets in the stored log; at most
 *    256 KiB a stream, cut before a character split by the window), the
 *    offsets to ask from next, and "ended" once the task has ended, when
 *    the stored logs are complete (the node sends them before the result).
 *    With wait=N (seconds, at most 60) an answer with nothing new waits
 *    (parked in task-wait.c, no thread held) until the task gets new log
 *    bytes on any replica (NOTIFY cynode_task_logs), ends, or N passes.
 *  - index=N: only element N of a job array (404 when it has none); with
 *    follow, "ended" once that element has ended.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "arrayspec.h"
#include "buf.h"
#include "json.h"
#include "log.h"
#include "logs.h"
#include "store-logs.h"
#include "store-tasks.h"
#include "strnum.h"
#include "task-wait.h"
#include "tasks.h"
#include "timeutil.h"
#include "banned.h"

#define WINDOW_MAX (256 * 1024)

#define WAIT_MAX_S 60

struct logs_query {
	bool want[2]; /* the streams asked for */
	bool follow;
	bool raw;
	long long off[2];
	long long wait_s;  /* follow: wait this long for new bytes */
	const char *index; /* ?index=N: that array element only; NULL: all jobs */
};

/* The deadline of a follow long poll, set at its first run and kept across parks. */
static int64_t
wait_deadline(struct cy_http_req *req, long long wait_s)
{
	int64_t *deadline = req->state;

	if (!deadline) {
		deadline = xmalloc(sizeof(*deadline));
		*deadline = cy_mono_ms() + wait_s * 1000;
		req->state = deadline;
		req->state_free = free;
	}
	return *deadline;
}

static int
logs_parse(struct cy_http_req *req, struct logs_query *q, struct cy_http_resp *resp)
{
	const char *stream = cy_req_query(req, "stream");
	const char *follow = cy_req_query(req, "follow");
	const char *format = cy_req_query(req, "format");
	const char *index = cy_req_query(req, "index");
	const char *errstr;
	char key[32];
	int s;

	if (!stream)
		stream = "all";
	if (strcmp(stream, "stdout") && strcmp(stream, "stderr") && strcmp(stream, "all")) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "stream must be one of stdout, stderr, all");
		return -1;
	}
	q->want[LOG_OUT] = strcmp(stream, "stderr") != 0;
	q->want[LOG_ERR] = strcmp(stream, "stdout") != 0;
	if (follow && strcmp(follow, "true") && strcmp(follow, "false")) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "follow must be true or false");
		return -1;
	}
	q->follow = follow && !strcmp(follow, "true");
	if (format && strcmp(format, "json") && strcmp(format, "raw")) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "format must be json or raw");
		return -1;
	}
	q->raw = format && !strcmp(format, "raw");
	q->index = NULL;
	if (index) {
		long long n;

		if (cy_strtonum(index, 0, CY_ARRAY_INDEX_MAX, &n, &errstr) < 0) {
			cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			    "index must be a job array index, an integer from 0 to %d",
			    CY_ARRAY_INDEX_MAX);
			return -1;
		}
		q->index = index;
	}
	if (q->raw && (q->follow || !strcmp(stream, "all"))) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "format=raw takes one stream (stream=stdout or stderr) and no follow");
		return -1;
	}
	q->wait_s = 0;
	if (cy_req_query(req, "wait") && (!q->follow || cy_strtonum(cy_req_query(req, "wait"), 0,
							    WAIT_MAX_S, &q->wait_s, &errstr) < 0)) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "wait goes with follow=true: seconds from 0 to %d", WAIT_MAX_S);
		return -1;
	}
	for (s = LOG_OUT; s <= LOG_ERR; s++) {
		const char *v;

		xsnprintf(key, sizeof(key), "%s_offset", log_stream_names[s]);
		v = cy_req_query(req, key);
		q->off[s] = 0;
		if (!v)
			continue;
		if (!q->follow) {
			cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "%s needs follow=true", key);
			return -1;
		}
		if (cy_strtonum(v, 0, LOGS_OFFSET_MAX, &q->off[s], &errstr) < 0) {
			cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			    "%s must be a byte offset (an integer >= 0)", key);
			return -1;
		}
	}
	return 0;
}

/* Adds {"stdout": f(stdout), "stderr": f(stderr)} sums over the jobs at key. */
static void
add_counts(json_t *o, const PGresult *rows)
{
	static const char *const keys[] = { "bytes", "stored_bytes", "lost_bytes", "truncated" };
	json_t *k[4];
	int s, i, j;

	for (j = 0; j < 4; j++)
		k[j] = json_object();
	for (s = LOG_OUT; s <= LOG_ERR; s++) {
		long long stored = 0, lost = 0;

		for (i = 0; i < PQntuples(rows); i++) {
			stored += logs_stored(rows, i, s);
			lost += logs_lost(rows, i, s);
		}
		json_object_set_new(k[0], log_stream_names[s], json_integer(stored + lost));
		json_object_set_new(k[1], log_stream_names[s], json_integer(stored));
		json_object_set_new(k[2], log_stream_names[s], json_integer(lost));
		json_object_set_new(k[3], log_stream_names[s], json_boolean(lost > 0));
	}
	for (j = 0; j < 4; j++)
		json_object_set_new(o, keys[j], k[j]);
}

/* Adds stream s's window from q->off[s] and the offset to ask from next. */
static int
add_window(json_t *o, const struct logs_query *q, int s, const PGresult *rows, bool ended,
    struct cy_error *err)
{
	struct cy_buf raw = CY_BUF_INIT, text = CY_BUF_INIT;
	size_t used = 0;
	char key[32];

	/* Three bytes more: a character the window would split is not cut. */
	if (q->want[s] && logs_read(rows, s, q->off[s], WINDOW_MAX + 3, &raw, err) < 0) {
		cy_buf_release(&raw);
		return -1;
	}
	if (raw.len) {
		size_t n = raw.len > WINDOW_MAX ? WINDOW_MAX : raw.len;

		used = cy_utf8_sanitize(raw.buf, n, ended && n == raw.len, &text);
		if (used == 0 && n < raw.len)
			used = cy_utf8_sanitize(raw.buf, raw.len, false, &text);
	}
	json_object_set_new(o, log_stream_names[s], json_stringn(text.buf, text.len));
	xsnprintf(key, sizeof(key), "%s_offset", log_stream_names[s]);
	json_object_set_new(o, key, json_integer(q->off[s] + (long long)used));
	cy_buf_release(&raw);
	cy_buf_release(&text);
	return 0;
}

/* The whole of stream s as valid UTF-8 text (empty when not wanted). */
static json_t *
whole_text(const struct logs_query *q, int s, const PGresult *rows, struct cy_error *err)
{
	struct cy_buf raw = CY_BUF_INIT, text = CY_BUF_INIT;
	json_t *v = NULL;

	if (!q->want[s] || logs_read(rows, s, 0, LOGS_OFFSET_MAX, &raw, err) == 0) {
		cy_utf8_sanitize(raw.buf, raw.len, true, &text);
		v = json_stringn(text.buf, text.len);
	}
	cy_buf_release(&raw);
	cy_buf_release(&text);
	return v;
}

/* format=raw: the stored bytes of the one stream asked for. */
static void
logs_raw(const struct logs_query *q, const PGresult *rows, struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	int s = q->want[LOG_OUT] ? LOG_OUT : LOG_ERR, i;
	long long lost = 0;
	char n[24];

	cy_buf_reset(&resp->body);
	if (logs_read(rows, s, 0, LOGS_OFFSET_MAX, &resp->body, &err) < 0) {
		cy_log_error("task_logs_failed", "error", err.msg, NULL);
		return cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot read the task's logs");
	}
	for (i = 0; i < PQntuples(rows); i++)
		lost += logs_lost(rows, i, s);
	xsnprintf(n, sizeof(n), "%lld", lost);
	resp->status = 200;
	resp->content_type = "application/octet-stream";
	cy_resp_header(resp, "Cynode-Log-Truncated", lost > 0 ? "true" : "false");
	cy_resp_header(resp, "Cynode-Log-Lost-Bytes", n);
}

/* True when the follow answer o moved no offset the query asked about. */
static bool
nothing_new(const json_t *o, const struct logs_query *q)
{
	char key[32];
	long long at;
	int s;

	for (s = LOG_OUT; s <= LOG_ERR; s++) {
		xsnprintf(key, sizeof(key), "%s_offset", log_stream_names[s]);
		if (q->want[s] && (cy_json_int(o, key, &at) < 0 || at != q->off[s]))
			return false;
	}
	return true;
}

void
h_tasks_logs(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	struct logs_query q;
	char id[64], status[32];
	PGresult *res, *rows;
	uint64_t seq;
	json_t *o;
	bool ended;
	int s;

	if (logs_parse(req, &q, resp) < 0)
		return;
	seq = task_wait_seq(); /* before reading: new bytes meanwhile are not missed */
	if (!(res = task_lookup(req, resp)))
		return;
	/* The status before the logs: an ended task's stored logs are complete. */
	xsnprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, TC_ID));
	xsnprintf(status, sizeof(status), "%s", PQgetvalue(res, 0, TC_STATUS));
	PQclear(res);
	ended = task_db_status_ended(status);
	if (!(rows = store_logs_task(id, q.index, &err))) {
		cy_log_error("task_logs_failed", "error", err.msg, NULL);
		return cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot read the task's jobs");
	}
	if (q.index) {
		/* One element: it ends with its job. */
		if (PQntuples(rows) == 0) {
			PQclear(rows);
			return cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND,
			    "task %s has no array element %s", id, q.index);
		}
		ended = task_db_status_ended(PQgetvalue(rows, 0, LC_JOB_STATUS));
	}
	if (q.raw) {
		logs_raw(&q, rows, resp);
		PQclear(rows);
		return;
	}
	o = json_pack("{s:s}", "task_id", id);
	if (q.follow) {
		json_object_set_new(o, "status", json_string(task_api_status(status)));
		json_object_set_new(o, "ended", json_boolean(ended));
	}
	for (s = LOG_OUT; s <= LOG_ERR; s++) {
		json_t *t;

		if (q.follow) {
			if (add_window(o, &q, s, rows, ended, &err) < 0)
				goto fail;
		} else {
			if (!(t = whole_text(&q, s, rows, &err)))
				goto fail;
			json_object_set_new(o, log_stream_names[s], t);
		}
	}
	add_counts(o, rows);
	PQclear(rows);
	if (q.follow && q.wait_s > 0 && !ended && !task_wait_stopping() && nothing_new(o, &q)) {
		const char *ids[1] = { id };
		int64_t deadline = wait_deadline(req, q.wait_s);

		if (cy_mono_ms() < deadline) {
			json_decref(o);
			return task_wait_park(req, ids, 1, seq, deadline);
		}
	}
	return cy_resp_json(resp, 200, o);
fail:
	json_decref(o);
	PQclear(rows);
	cy_log_error("task_logs_failed", "error", err.msg, NULL);
	cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot read the task's logs");
}
