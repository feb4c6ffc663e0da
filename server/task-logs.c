/*
 * GET /v1/tasks/{id}/logs: a task's output, concatenated over its jobs.
 * With follow=true (cynork task logs --follow) the answer is one piece:
 * the text from stdout_offset / stderr_offset on (at most 256 KiB a
 * stream, cut at UTF-8 boundaries), the offsets to ask from next, and
 * "ended" once the task has ended, when the stored output is complete.
 * While a job runs, its output so far comes from its node's Worker API
 * (GET /v1/worker/jobs/{id}/logs with the node's bearer token and a short
 * timeout); the node cleans it as the final result will be, so offsets
 * stay valid when the answers switch to the stored output.  A node that
 * cannot answer gives nothing new this time.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "dispatch.h"
#include "httpc.h"
#include "json.h"
#include "log.h"
#include "node-tls.h"
#include "node-token.h"
#include "store-tasks.h"
#include "strnum.h"
#include "tasks.h"
#include "banned.h"

#define CHUNK_MAX (256 * 1024)
#define OFFSET_MAX 1000000000000LL
#define NODE_TIMEOUT_MS 3000L
#define NODE_CONNECT_MS 2000L
#define NODE_RESPONSE_MAX (4 * 1024 * 1024)

enum {
	OUT,
	ERR
};
static const char *const stream_names[2] = { "stdout", "stderr" };

struct logs_query {
	bool want[2]; /* the streams asked for */
	bool follow;
	long long off[2];
};

static int
logs_parse(struct cy_http_req *req, struct logs_query *q, struct cy_http_resp *resp)
{
	const char *stream = cy_req_query(req, "stream");
	const char *follow = cy_req_query(req, "follow");
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
	q->want[OUT] = strcmp(stream, "stderr") != 0;
	q->want[ERR] = strcmp(stream, "stdout") != 0;
	if (follow && strcmp(follow, "true") && strcmp(follow, "false")) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "follow must be true or false");
		return -1;
	}
	q->follow = follow && !strcmp(follow, "true");
	for (s = OUT; s <= ERR; s++) {
		const char *v;

		xsnprintf(key, sizeof(key), "%s_offset", stream_names[s]);
		v = cy_req_query(req, key);
		q->off[s] = 0;
		if (!v)
			continue;
		if (!q->follow) {
			cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "%s needs follow=true", key);
			return -1;
		}
		if (cy_strtonum(v, 0, OFFSET_MAX, &q->off[s], &errstr) < 0) {
			cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			    "%s must be a byte offset (an integer >= 0)", key);
			return -1;
		}
	}
	return 0;
}

/*
 * GETs the output of running job job_id of task_id from its node, from the
 * offsets; the node's answer, or NULL (logged) when there is none.
 */
static json_t *
node_logs(const char *task_id, const char *job_id, const long long off[2])
{
	struct cy_httpc_opts o = { .timeout_ms = NODE_TIMEOUT_MS,
		.connect_timeout_ms = NODE_CONNECT_MS,
		.max_response = NODE_RESPONSE_MAX };
	struct cy_httpc_resp r = CY_HTTPC_RESP_INIT;
	struct cy_error err = CY_ERROR_INIT;
	char *token = NULL, *suffix = NULL, *url = NULL, msg[256];
	json_t *ans = NULL;
	PGresult *nodes;
	int i;

	if (!(nodes = store_dispatch_running(task_id, &err))) {
		cy_log_error("task_logs_failed", "task_id", task_id, "error", err.msg, NULL);
		return NULL;
	}
	for (i = 0; i < PQntuples(nodes); i++)
		if (!strcmp(PQgetvalue(nodes, i, DRC_JOB_ID), job_id))
			break;
	if (i == PQntuples(nodes))
		goto out;
	if (!(token = node_token_open(PQgetvalue(nodes, i, DRC_TOKEN), &err))) {
		cy_log_warn("task_logs_node_failed", "job_id", job_id, "error", err.msg, NULL);
		goto out;
	}
	o.bearer = token;
	suffix = xasprintf("/v1/worker/jobs/%s/logs?stdout_offset=%lld&stderr_offset=%lld", job_id,
	    off[OUT], off[ERR]);
	url = dispatch_url_join(PQgetvalue(nodes, i, DRC_TARGET_URL), suffix);
	if (node_tls_choose(url, PQgetvalue(nodes, i, DRC_TLS_PIN), &o.pinned_pubkey, &o.ca_file,
		msg, sizeof(msg)) < 0)
		cy_log_warn("task_logs_node_failed", "job_id", job_id, "error", msg, NULL);
	else if (cy_httpc_request("GET", url, NULL, 0, &o, &r, &err) < 0)
		cy_log_warn("task_logs_node_failed", "job_id", job_id, "error", err.msg, NULL);
	else if (r.status == 200)
		ans = cy_json_parse(r.body.buf, r.body.len, true, NULL);
	else
		cy_log_debug("task_logs_node_refused", "job_id", job_id, "status",
		    r.status == 404 ? "404" : "other", NULL);
out:
	if (token) {
		explicit_bzero(token, strlen(token));
		free(token);
	}
	free(suffix);
	free(url);
	cy_httpc_resp_release(&r);
	PQclear(nodes);
	return ans;
}

/*
 * Adds stream s's text from off in b (nothing when not wanted) and the
 * offset to ask from next, never before off.
 */
static void
add_window(json_t *o, int s, const struct cy_buf *b, long long off, bool want)
{
	char key[32];
	size_t a = 0, e = 0;
	json_t *v;

	if (want)
		cy_utf8_window(b->buf, b->len, (size_t)off, CHUNK_MAX, &a, &e);
	v = json_stringn(b->buf + a, e - a);
	json_object_set_new(o, stream_names[s], v ? v : json_string(""));
	xsnprintf(key, sizeof(key), "%s_offset", stream_names[s]);
	json_object_set_new(o, key, json_integer((long long)e > off ? (json_int_t)e : off));
}

/*
 * The follow answer: the stored output of the ended jobs, then that of the
 * running job from its node (when the offset has reached it).
 */
static json_t *
logs_follow(const struct logs_query *q, const char *task_id, const char *status, PGresult *jobs)
{
	struct cy_buf text[2] = { CY_BUF_INIT, CY_BUF_INIT };
	const char *running = NULL;
	bool ended = task_db_status_ended(status), live = false;
	long long base[2], noff[2];
	json_t *o, *ans = NULL;
	int i, s;

	for (i = 0; i < PQntuples(jobs); i++) {
		if (!strcmp(PQgetvalue(jobs, i, JC_STATUS), "running")) {
			if (!running)
				running = PQgetvalue(jobs, i, JC_ID);
			continue;
		}
		cy_buf_addstr(&text[OUT], PQgetvalue(jobs, i, JC_STDOUT));
		cy_buf_addstr(&text[ERR], PQgetvalue(jobs, i, JC_STDERR));
	}
	for (s = OUT; s <= ERR; s++) {
		base[s] = (long long)text[s].len;
		noff[s] = q->off[s] > base[s] ? q->off[s] - base[s] : 0;
		if (q->want[s] && q->off[s] >= base[s])
			live = true;
	}
	if (!ended && running && live)
		ans = node_logs(task_id, running, noff);
	o = json_pack("{s:s, s:s, s:b}", "task_id", task_id, "status", task_api_status(status),
	    "ended", ended);
	for (s = OUT; s <= ERR; s++) {
		const char *t = cy_json_str(ans, stream_names[s]);
		char key[32];
		long long next;

		xsnprintf(key, sizeof(key), "%s_offset", stream_names[s]);
		if (q->want[s] && q->off[s] >= base[s] && t && cy_json_int(ans, key, &next) == 0 &&
		    next >= 0) {
			next += base[s];
			json_object_set_new(o, stream_names[s], json_string(t));
			json_object_set_new(o, key,
			    json_integer(next > q->off[s] ? next : q->off[s]));
		} else {
			add_window(o, s, &text[s], q->off[s], q->want[s]);
		}
		cy_buf_release(&text[s]);
	}
	json_decref(ans);
	return o;
}

void
h_tasks_logs(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct cy_buf out = CY_BUF_INIT, errb = CY_BUF_INIT;
	struct cy_error err = CY_ERROR_INIT;
	struct logs_query q;
	char id[64], status[32];
	PGresult *res, *jobs;
	json_t *o;
	int i;

	if (logs_parse(req, &q, resp) < 0)
		return;
	if (!(res = task_lookup(req, resp)))
		return;
	/* The status before the jobs: an ended task's stored output is complete. */
	xsnprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, TC_ID));
	xsnprintf(status, sizeof(status), "%s", PQgetvalue(res, 0, TC_STATUS));
	PQclear(res);
	if (!(jobs = store_task_jobs(id, &err))) {
		cy_log_error("task_logs_failed", "error", err.msg, NULL);
		return cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot read the task's jobs");
	}
	if (q.follow) {
		o = logs_follow(&q, id, status, jobs);
		PQclear(jobs);
		return cy_resp_json(resp, 200, o);
	}
	for (i = 0; i < PQntuples(jobs); i++) {
		cy_buf_addstr(&out, PQgetvalue(jobs, i, JC_STDOUT));
		cy_buf_addstr(&errb, PQgetvalue(jobs, i, JC_STDERR));
	}
	o = json_object();
	json_object_set_new(o, "task_id", json_string(id));
	json_object_set_new(o, "stdout", json_string(q.want[OUT] ? out.buf : ""));
	json_object_set_new(o, "stderr", json_string(q.want[ERR] ? errb.buf : ""));
	PQclear(jobs);
	cy_buf_release(&out);
	cy_buf_release(&errb);
	cy_resp_json(resp, 200, o);
}
