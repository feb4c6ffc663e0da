/*
 * Models: the strict check of an Ollama model name, the name a backend
 * lists a model under, and the thread that pulls inference.models into
 * the backend in use (POST /api/pull, streamed NDJSON progress).  Models
 * the backend lists already are not pulled again.  Progress goes to the
 * log at each new status and at most every 10% per layer; a failure is
 * logged with the model named, and the next model is pulled all the same.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "httpc.h"
#include "inference-backend.h"
#include "inference.h"
#include "json.h"
#include "lines.h"
#include "log.h"
#include "banned.h"

#define PULL_LINE_MAX 65536
#define PULL_IDLE_S 600 /* no progress byte for this long: failed */
#define PULL_MAX_BODY (1024UL * 1024 * 1024)

void
node_inference_pull_init(struct inference_pull *p)
{
	memset(p, 0, sizeof(*p));
}

/* The progress slot of a layer (NULL when all are taken). */
static int *
pull_layer(struct inference_pull *p, const char *digest)
{
	unsigned i;

	for (i = 0; i < p->nlayers; i++)
		if (!strcmp(p->layer[i].digest, digest))
			return &p->layer[i].decile;
	if (p->nlayers == INFERENCE_PULL_LAYERS || strlen(digest) >= sizeof(p->layer[0].digest))
		return NULL;
	xsnprintf(p->layer[p->nlayers].digest, sizeof(p->layer[0].digest), "%s", digest);
	p->layer[p->nlayers].decile = -1;
	return &p->layer[p->nlayers++].decile;
}

enum inference_pull_event
node_inference_pull_line(struct inference_pull *p, const char *line, size_t len, struct cy_buf *msg)
{
	struct cy_error err = CY_ERROR_INIT;
	enum inference_pull_event ev = INFERENCE_PULL_NONE;
	const char *status, *digest, *e;
	long long total = 0, done = 0;
	int pct = -1, *decile = NULL;
	json_t *o;

	cy_buf_reset(msg);
	while (len && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (len == 0)
		return INFERENCE_PULL_NONE;
	o = cy_json_parse(line, len, true, &err);
	if (!o) {
		cy_buf_addf(msg, "not a progress object: %s", err.msg);
		goto error;
	}
	if ((e = cy_json_str(o, "error"))) {
		cy_buf_addf(msg, "%.200s", e);
		json_decref(o);
		goto error;
	}
	status = cy_json_str(o, "status");
	digest = cy_json_str(o, "digest");
	if (!status) {
		json_decref(o);
		return INFERENCE_PULL_NONE;
	}
	if (digest && cy_json_int(o, "total", &total) == 0 && total > 0 &&
	    cy_json_int(o, "completed", &done) == 0 && done >= 0) {
		pct = done >= total ? 100 : (int)(done * 100 / total);
		decile = pull_layer(p, digest);
	}
	if (!strcmp(status, "success")) {
		p->success = true;
		cy_buf_addstr(msg, "success");
		ev = INFERENCE_PULL_DONE;
	} else if (strncmp(status, p->status, sizeof(p->status) - 1)) {
		/* A long status is kept cut; the strncmp above compares as much. */
		xsnprintf(p->status, sizeof(p->status), "%.*s", (int)sizeof(p->status) - 1, status);
		cy_buf_addf(msg, "%.95s", status);
		if (pct >= 0)
			cy_buf_addf(msg, " %d%%", pct);
		if (decile)
			*decile = pct / 10;
		ev = INFERENCE_PULL_STATUS;
	} else if (decile && pct / 10 > *decile) {
		*decile = pct / 10;
		cy_buf_addf(msg, "%.79s %d%%", digest, pct);
		ev = INFERENCE_PULL_PROGRESS;
	}
	json_decref(o);
	return ev;
error:
	cy_snprintf_clip(p->error, sizeof(p->error), "%s", msg->buf);
	return INFERENCE_PULL_ERROR;
}

/* One pull's stream: lines to the progress parser, the parser to the log. */
struct pull_run {
	const char *model;
	struct cy_lines lines;
	struct inference_pull prog;
	struct cy_buf msg;
	bool failed;
};

static int
pull_on_line(void *arg, const char *line, size_t len)
{
	struct pull_run *r = arg;

	switch (node_inference_pull_line(&r->prog, line, len, &r->msg)) {
	case INFERENCE_PULL_STATUS:
	case INFERENCE_PULL_PROGRESS:
		cy_log_info("inference_model_pull", "model", r->model, "progress", r->msg.buf,
		    NULL);
		break;
	case INFERENCE_PULL_ERROR:
		r->failed = true;
		return 1;
	default:
		break;
	}
	return 0;
}

static int
pull_on_data(void *arg, const struct cy_httpc_resp *resp, const char *data, size_t len)
{
	struct pull_run *r = arg;

	return cy_lines_feed(&r->lines, data, len) == 0 ? 0 : -1;
}

/* Pulls one model into the backend at base; 0, or -1 with err. */
static int
pull_model(const char *base, const char *model, volatile sig_atomic_t *abort_flag,
    struct cy_error *err)
{
	struct cy_httpc_resp resp = CY_HTTPC_RESP_INIT;
	struct cy_httpc_opts o = { 0 };
	struct pull_run r = { .model = model, .msg = CY_BUF_INIT };
	char *url = xasprintf("%s/api/pull", base);
	json_t *body = json_pack("{s:s, s:b}", "model", model, "stream", 1);
	char *data = cy_json_dump(body);
	int rc;

	node_inference_pull_init(&r.prog);
	cy_lines_init(&r.lines, PULL_LINE_MAX, pull_on_line, &r);
	o.timeout_ms = -1;
	o.connect_timeout_ms = 5000;
	o.idle_timeout_s = PULL_IDLE_S;
	o.max_response = PULL_MAX_BODY;
	o.abort_flag = abort_flag;
	o.on_data = pull_on_data;
	o.on_data_arg = &r;
	rc = cy_httpc_request("POST", url, data, strlen(data), &o, &resp, err);
	if (rc == 0 && !r.failed)
		(void)cy_lines_finish(&r.lines); /* a last line without "\n" */
	if (r.failed)
		rc = cy_error_set(err, EPROTO, "%s", r.prog.error);
	else if (rc < 0 && err->code == ECANCELED)
		rc = cy_error_set(err, EPROTO, "a progress line longer than %d bytes",
		    PULL_LINE_MAX);
	else if (rc == 0 && resp.status != 200)
		rc = cy_error_set(err, EPROTO, "HTTP %ld", resp.status);
	else if (rc == 0 && !r.prog.success)
		rc = cy_error_set(err, EPROTO, "the progress stream ended before success");
	cy_lines_release(&r.lines);
	cy_buf_release(&r.msg);
	cy_httpc_resp_release(&resp);
	json_decref(body);
	free(data);
	free(url);
	return rc;
}

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool started;
	bool kicked;
	volatile sig_atomic_t stop;
	const struct cy_strlist *models;
} puller = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

/* One pass: every configured model the backend does not list is pulled. */
static void
pull_pass(void)
{
	struct cy_error err = CY_ERROR_INIT;
	char base[320];
	size_t i;

	node_inference_refresh();
	for (i = 0; i < puller.models->n && !puller.stop; i++) {
		const char *m = puller.models->v[i];

		if (node_inference_has_model(m)) {
			cy_log_debug("inference_model_present", "model", m, NULL);
			continue;
		}
		if (!node_inference_url(base, sizeof(base))) {
			cy_log_warn("inference_model_pull_failed", "model", m, "error",
			    "no inference backend answers", NULL);
			return;
		}
		cy_log_info("inference_model_pull_started", "model", m, "backend", base, NULL);
		if (pull_model(base, m, &puller.stop, &err) < 0) {
			if (!puller.stop)
				cy_log_error("inference_model_pull_failed", "model", m, "error",
				    err.msg, NULL);
			cy_error_clear(&err);
			continue;
		}
		cy_log_info("inference_model_pulled", "model", m, NULL);
		node_inference_refresh();
	}
}

static void *
pull_thread(void *arg)
{
	pthread_mutex_lock(&puller.lock);
	for (;;) {
		while (!puller.kicked && !puller.stop)
			pthread_cond_wait(&puller.cond, &puller.lock);
		if (puller.stop)
			break;
		puller.kicked = false;
		pthread_mutex_unlock(&puller.lock);
		pull_pass();
		pthread_mutex_lock(&puller.lock);
	}
	pthread_mutex_unlock(&puller.lock);
	cy_httpc_thread_cleanup();
	return NULL;
}

int
inf_pull_start(const struct cy_strlist *models, struct cy_error *err)
{
	int rc;

	if (puller.started || models->n == 0)
		return 0;
	puller.models = models;
	puller.stop = 0;
	rc = pthread_create(&puller.thread, NULL, pull_thread, NULL);
	if (rc != 0) {
		errno = rc;
		return cy_error_errno(err, "model pull thread");
	}
	puller.started = true;
	return 0;
}

void
inf_pull_kick(void)
{
	pthread_mutex_lock(&puller.lock);
	puller.kicked = true;
	pthread_cond_signal(&puller.cond);
	pthread_mutex_unlock(&puller.lock);
}

void
inf_pull_stop(void)
{
	if (!puller.started)
		return;
	pthread_mutex_lock(&puller.lock);
	puller.stop = 1;
	pthread_cond_signal(&puller.cond);
	pthread_mutex_unlock(&puller.lock);
	pthread_join(puller.thread, NULL);
	puller.started = false;
	puller.kicked = false;
}
