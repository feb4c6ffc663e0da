/*
 * Prompt jobs (contract 4.2): a task whose text is answered by a
 * model.  The RunJobRequest carries "inference": {model, prompt, system,
 * timeout_seconds} instead of a sandbox; no user code runs, so there is no
 * sandbox: the node asks its backend (POST /api/generate, streamed NDJSON)
 * and the answer becomes the job's stdout, appended as it arrives so that
 * `cynork task logs --follow` shows it being written.  The result also
 * carries "inference" (model, token counts, timings) and "inference_usage"
 * (the server's usage records).  A backend that is not running, or that
 * lacks the model, is a 503 to the dispatcher (the job goes back to the
 * queue and is placed again once the node's capability report says so).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "buf.h"
#include "httpc.h"
#include "id.h"
#include "inference.h"
#include "joblog.h"
#include "json.h"
#include "lines.h"
#include "log.h"
#include "node.h"
#include "prompt-job.h"
#include "sandbox.h"
#include "banned.h"

#define LINE_MAX_BYTES (1024 * 1024)
#define ANSWER_HARD_MAX (64 * 1024 * 1024) /* read (and drop) at most this much */

int
prompt_job_parse(const json_t *inf, struct prompt_job *p, struct cy_buf *d)
{
	json_t *v;

	if (!json_is_object(inf))
		return job_refuse(d, "inference must be an object {model, prompt, "
				     "timeout_seconds}");
	p->model = cy_json_str(inf, "model");
	if (!p->model || !cy_model_name_valid(p->model))
		return job_refuse(d, "inference.model must be a model name");
	p->prompt = cy_json_str(inf, "prompt");
	v = json_object_get(inf, "prompt");
	if (!p->prompt || !*p->prompt || strlen(p->prompt) != json_string_length(v))
		return job_refuse(d, "inference.prompt must be a non-empty string");
	p->system = NULL;
	v = json_object_get(inf, "system");
	if (v && !json_is_null(v)) {
		p->system = json_string_value(v);
		if (!p->system || strlen(p->system) != json_string_length(v))
			return job_refuse(d, "inference.system must be a string");
	}
	p->timeout_s = 0;
	v = json_object_get(inf, "timeout_seconds");
	if (v && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return job_refuse(d, "inference.timeout_seconds must be an integer "
					     ">= 0");
		p->timeout_s = json_integer_value(v);
	}
	return 0;
}

/* What one streamed /api/generate brings. */
struct gen {
	const struct prompt_job *p;
	struct sandbox_result *res;
	struct cy_lines lines;
	char error[512];
	bool done;
	size_t seen;  /* answer bytes, kept or not */
	json_t *last; /* the final ("done": true) object */
};

/* Appends answer text to stdout within the cap, and whole to the streamed log. */
static void
gen_append(struct gen *g, const char *s, size_t n)
{
	size_t room;

	g->seen += n;
	job_log_write(g->p->log, JOB_LOG_OUT, s, n);
	room = g->p->max_output > g->res->out.len ? g->p->max_output - g->res->out.len : 0;
	if (n > room) {
		g->res->trunc_out = true;
		n = room;
	}
	cy_buf_add(&g->res->out, s, n);
}

static int
gen_line(void *arg, const char *line, size_t len)
{
	struct gen *g = arg;
	const char *text, *e;
	json_t *o;

	if (len == 0)
		return 0;
	o = json_loadb(line, len, 0, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		xsnprintf(g->error, sizeof(g->error), "the backend sent a line that is not JSON");
		return -1;
	}
	if ((e = cy_json_str(o, "error")) != NULL) {
		cy_snprintf_clip(g->error, sizeof(g->error), "%s", e);
		json_decref(o);
		return 0;
	}
	text = cy_json_str(o, "response");
	if (text)
		gen_append(g, text, json_string_length(json_object_get(o, "response")));
	if (json_is_true(json_object_get(o, "done"))) {
		g->done = true;
		json_decref(g->last);
		g->last = o;
		return 0;
	}
	json_decref(o);
	return g->seen > ANSWER_HARD_MAX ? -1 : 0;
}

static int
gen_data(void *arg, const struct cy_httpc_resp *resp, const char *data, size_t len)
{
	struct gen *g = arg;

	if (resp->status != 200) {
		/* An error answer: {"error": "..."} as a whole. */
		cy_buf_add(&g->res->err, data, len > 4096 ? 4096 : len);
		return g->res->err.len > 4096 ? -1 : 0;
	}
	return cy_lines_feed(&g->lines, data, len) == 0 ? 0 : -1;
}

/* Milliseconds from a nanosecond field of the final object. */
static json_int_t
ns_ms(const json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_integer(v) && json_integer_value(v) > 0 ? json_integer_value(v) / 1000000 :
								 0;
}

static json_int_t
count_of(const json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_integer(v) && json_integer_value(v) > 0 ? json_integer_value(v) : 0;
}

/*
 * The job's outcome from how the exchange ended: the backend's refusal
 * (its {"error": ...} becomes stderr), a cancel, the timeout, a broken or
 * cut answer, or a complete one.
 */
static void
gen_outcome(const struct gen *g, int rc, long status, const struct cy_error *err,
    struct sandbox_result *res)
{
	const struct prompt_job *p = g->p;

	res->status = SANDBOX_FAILED;
	res->exit_code = -1;
	if (rc == 0 && status != 200) {
		json_t *e = json_loadb(res->err.buf, res->err.len, 0, NULL);
		const char *msg = e ? cy_json_str(e, "error") : NULL;
		char *m = xasprintf("inference: %s (HTTP %ld from the backend)\n",
		    msg ? msg : "the backend refused the request", status);

		json_decref(e);
		cy_buf_reset(&res->err);
		cy_buf_addstr(&res->err, m);
		free(m);
	} else if (rc < 0 && p->cancel && *p->cancel) {
		res->status = SANDBOX_CANCELED;
		cy_buf_addstr(&res->err, "inference: canceled\n");
	} else if (rc < 0 && err->code == ETIMEDOUT) {
		res->status = SANDBOX_TIMEOUT;
		res->exit_code = 124;
		cy_buf_addf(&res->err, "inference: no complete answer within %lld s\n",
		    p->timeout_s);
	} else if (rc < 0 || g->error[0] || !g->done) {
		cy_buf_addf(&res->err, "inference: %s\n",
		    g->error[0] ? g->error :
		    rc < 0      ? err->msg :
				  "the backend's answer ended early");
	} else {
		res->status = SANDBOX_COMPLETED;
		res->exit_code = 0;
	}
}

/* The result's "inference" object from the answer's final line. */
static json_t *
gen_info(const struct prompt_job *p, const json_t *last)
{
	const char *reason = last ? cy_json_str(last, "done_reason") : NULL;
	json_t *info = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "model", p->model,
	    "prompt_tokens", count_of(last, "prompt_eval_count"), "completion_tokens",
	    count_of(last, "eval_count"), "total_duration_ms", ns_ms(last, "total_duration"),
	    "load_duration_ms", ns_ms(last, "load_duration"), "prompt_eval_duration_ms",
	    ns_ms(last, "prompt_eval_duration"), "eval_duration_ms", ns_ms(last, "eval_duration"));

	if (reason)
		json_object_set_new(info, "done_reason", json_string(reason));
	return info;
}

int
prompt_job_run(struct node *n, const struct prompt_job *p, struct sandbox_result *res,
    json_t **info, struct cy_error *err)
{
	struct cy_httpc_resp resp = CY_HTTPC_RESP_INIT;
	struct cy_httpc_opts o = { 0 };
	struct gen g;
	char base[512], *url, *body;
	json_t *req;
	int rc;

	(void)n;
	*info = NULL;
	memset(res, 0, sizeof(*res));
	res->out = (struct cy_buf)CY_BUF_INIT;
	res->err = (struct cy_buf)CY_BUF_INIT;
	if (!node_inference_url(base, sizeof(base)))
		return cy_error_set(err, EAGAIN, "the inference backend is not running");
	if (!node_inference_has_model(p->model))
		return cy_error_set(err, ENOENT, "model '%s' is not on this node", p->model);
	memset(&g, 0, sizeof(g));
	g.p = p;
	g.res = res;
	cy_lines_init(&g.lines, LINE_MAX_BYTES, gen_line, &g);
	req = json_pack("{s:s, s:s, s:b}", "model", p->model, "prompt", p->prompt, "stream", 1);
	if (p->system) /* Ollama's generate: the system prompt for this request */
		json_object_set_new(req, "system", json_string(p->system));
	body = cy_json_dump(req);
	json_decref(req);
	url = xasprintf("%s/api/generate", base);
	o.timeout_ms = p->timeout_s > 0 ? p->timeout_s * 1000 : -1;
	o.max_response = (size_t)ANSWER_HARD_MAX + LINE_MAX_BYTES;
	o.on_data = gen_data;
	o.on_data_arg = &g;
	o.abort_flag = p->cancel;
	res->started = time(NULL);
	rc = cy_httpc_request("POST", url, body, strlen(body), &o, &resp, err);
	if (rc == 0 && resp.status == 200)
		cy_lines_finish(&g.lines);
	res->ended = time(NULL);
	gen_outcome(&g, rc, resp.status, err, res);
	job_log_write(p->log, JOB_LOG_ERR, res->err.buf, res->err.len);
	cy_error_clear(err);
	*info = gen_info(p, g.last);
	json_decref(g.last);
	cy_lines_release(&g.lines);
	cy_httpc_resp_release(&resp);
	free(url);
	free(body);
	return 0;
}
