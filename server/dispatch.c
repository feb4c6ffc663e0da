/*
 * The dispatcher: one thread that claims queued jobs in batches for nodes
 * with free slots (store-dispatch.c), sends each to its node's Worker API
 * POST /v1/worker/jobs:run through libcurl's multi interface (many jobs in
 * flight from this one thread, connections kept alive), and applies the
 * RunJobResponses in batches.  It sleeps in curl_multi_poll(), woken by
 * dispatch_wake() (a task created here, a NOTIFY from any replica, a node
 * that freed up) or by the slow backup timer (dispatch.poll_interval_ms).
 *
 * Outcomes: a RunJobResponse closes job and task (once: see
 * store_dispatch_finish); a node that cannot be reached or fails with 5xx
 * puts the job back in the queue by its retry policy (507, a node low on
 * disk, also rests the node a while); 503 (busy) gives the attempt back;
 * other 4xx fail the task; a connection lost after the
 * request was sent leaves the job running: the node either delivers the
 * result later (node/results.c) or stops renewing the lease, and the
 * chores requeue it.  Cancels are sent to nodes from here as well.
 */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "db.h"
#include "dispatch.h"
#include "httpc.h"
#include "json.h"
#include "log.h"
#include "notify-send.h"
#include "tasks.h"
#include "node-tls.h"
#include "node-token.h"
#include "secrets.h"
#include "server.h"
#include "task-wait.h"
#include "timeutil.h"
#include "version.h"
#include "banned.h"

#define JOB_TIMEOUT_DEFAULT 3600
#define HTTP_GRACE_S 30
#define CONNECT_TIMEOUT_MS 5000
#define CANCEL_TIMEOUT_MS 10000
#define RESPONSE_MAX (32 * 1024 * 1024)
#define ERROR_BACKOFF_MS 1000
#define PENDING_MAX 100000
#define COOLDOWN_MS 5000 /* a node that refused a connection gets no jobs */
#define COOLDOWN_MAX 64

enum flight_kind {
	FLIGHT_RUN,
	FLIGHT_CANCEL
};

struct flight {
	struct flight *prev, *next; /* all transfers, for shutdown */
	enum flight_kind kind;
	struct dispatch_job job;
	CURL *easy;
	struct curl_slist *hdrs;
	char *body;
	struct cy_buf resp;
	bool too_big;
	bool sba; /* an agent job: its result must carry a valid sba_result */
};

/* A cancel waiting to be sent. */
struct cancel_req {
	struct cancel_req *next;
	char job_id[DISPATCH_ID_LEN];
	char *url, *token_sealed, *tls_pin;
};

/* A result not stored yet (the database was unreachable). */
struct pending {
	struct dispatch_job job;
	char status[16];
	char *result;
	char exit_code[24];
	bool has_exit;
};

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cancel_req *cancels;
static volatile int wake_pending;
static volatile int stopping;
static CURLM *multi;
static pthread_t thread;
static bool started;
static size_t inflight; /* FLIGHT_RUN transfers */
static struct flight *flights;

static struct pending *pend;
static size_t npend;

/* Nodes that refused connections lately (dispatcher thread only). */
static struct cooldown {
	char node_id[DISPATCH_ID_LEN];
	int64_t until;
} cool[COOLDOWN_MAX];

static void
cooldown_add(const char *node_id)
{
	int64_t now = cy_mono_ms();
	size_t i, slot = 0;

	for (i = 0; i < COOLDOWN_MAX; i++) {
		if (!strcmp(cool[i].node_id, node_id) || cool[i].until < cool[slot].until) {
			slot = i;
			if (!strcmp(cool[i].node_id, node_id))
				break;
		}
	}
	xsnprintf(cool[slot].node_id, sizeof(cool[slot].node_id), "%s", node_id);
	cool[slot].until = now + COOLDOWN_MS;
}

/* The nodes cooling down as a uuid[] literal. */
static void
cooldown_list(struct cy_buf *b)
{
	int64_t now = cy_mono_ms();
	size_t i;

	cy_buf_addstr(b, "{");
	for (i = 0; i < COOLDOWN_MAX; i++) {
		if (cool[i].until > now && cool[i].node_id[0]) {
			if (b->len > 1)
				cy_buf_addch(b, ',');
			cy_buf_addstr(b, cool[i].node_id);
		}
	}
	cy_buf_addstr(b, "}");
}

long long
dispatch_lease_s(void)
{
	return srv.cfg.dispatch_lease_s > 0 ? srv.cfg.dispatch_lease_s : 30;
}

void
dispatch_wake(void)
{
	pthread_mutex_lock(&q_lock);
	wake_pending = 1;
	if (multi)
		curl_multi_wakeup(multi);
	pthread_mutex_unlock(&q_lock);
}

void
dispatch_cancel_job(const char *job_id, const char *target_url, const char *token_sealed,
    const char *tls_pin)
{
	struct cancel_req *c = xcalloc(1, sizeof(*c));

	xsnprintf(c->job_id, sizeof(c->job_id), "%s", job_id);
	c->url = xstrdup(target_url);
	c->token_sealed = xstrdup(token_sealed);
	c->tls_pin = xstrdup(tls_pin ? tls_pin : "");
	pthread_mutex_lock(&q_lock);
	c->next = cancels;
	cancels = c;
	if (multi)
		curl_multi_wakeup(multi);
	pthread_mutex_unlock(&q_lock);
}

static size_t
on_data(char *p, size_t sz, size_t n, void *arg)
{
	struct flight *f = arg;

	if (f->resp.len + sz * n > RESPONSE_MAX) {
		f->too_big = true;
		return 0;
	}
	cy_buf_add(&f->resp, p, sz * n);
	return sz * n;
}

char *
dispatch_url_join(const char *base, const char *suffix)
{
	size_t n = strlen(base);

	while (n > 0 && base[n - 1] == '/')
		n--;
	return xasprintf("%.*s%s", (int)n, base, suffix);
}

static void
flight_free(struct flight *f)
{
	if (f->prev)
		f->prev->next = f->next;
	else if (flights == f)
		flights = f->next;
	if (f->next)
		f->next->prev = f->prev;
	if (f->easy) {
		curl_multi_remove_handle(multi, f->easy);
		curl_easy_cleanup(f->easy);
	}
	curl_slist_free_all(f->hdrs);
	/* It may carry secret values. */
	if (f->body)
		explicit_bzero(f->body, strlen(f->body));
	free(f->body);
	cy_buf_release(&f->resp);
	dispatch_job_release(&f->job);
	free(f);
}

/*
 * Starts a POST of `body` (owned) to url with the sealed token, checking an
 * https node's key against tls_pin (node-tls.h); -1 with msg.
 */
static int
flight_start(struct flight *f, const char *url, const char *token_sealed, const char *tls_pin,
    char *body, long timeout_ms, char *msg, size_t msglen)
{
	struct cy_error err = CY_ERROR_INIT;
	char *token, *auth;

	f->body = body;
	cy_buf_init(&f->resp, 0);
	f->easy = curl_easy_init();
	if (node_tls_curl(f->easy, url, tls_pin, msg, msglen) < 0)
		return -1;
	if (!(token = node_token_open(token_sealed, &err))) {
		cy_snprintf_clip(msg, msglen, "%s", err.msg);
		return -1;
	}
	auth = xasprintf("Authorization: Bearer %s", token);
	explicit_bzero(token, strlen(token));
	free(token);
	f->hdrs = curl_slist_append(f->hdrs, auth);
	explicit_bzero(auth, strlen(auth));
	free(auth);
	f->hdrs = curl_slist_append(f->hdrs, "Content-Type: application/json");
	f->hdrs = curl_slist_append(f->hdrs, "Expect:");
	curl_easy_setopt(f->easy, CURLOPT_URL, url);
	curl_easy_setopt(f->easy, CURLOPT_POST, 1L);
	curl_easy_setopt(f->easy, CURLOPT_POSTFIELDS, f->body);
	curl_easy_setopt(f->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(f->body));
	curl_easy_setopt(f->easy, CURLOPT_HTTPHEADER, f->hdrs);
	curl_easy_setopt(f->easy, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(f->easy, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(f->easy, CURLOPT_PRIVATE, f);
	curl_easy_setopt(f->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(f->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
	curl_easy_setopt(f->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(f->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	/*
	 * A node closes a connection idle 10 s (worker-api.c): one idle
	 * longer than this is not reused, so a request never meets the close.
	 */
	curl_easy_setopt(f->easy, CURLOPT_MAXAGE_CONN, 8L);
	curl_easy_setopt(f->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(f->easy, CURLOPT_USERAGENT, "cynode-server/" CYNODE_VERSION);
	if (curl_multi_add_handle(multi, f->easy) != CURLM_OK) {
		xsnprintf(msg, msglen, "cannot start the request");
		return -1;
	}
	f->next = flights;
	if (flights)
		flights->prev = f;
	flights = f;
	return 0;
}

/*
 * The payload's secret references ("secrets": [{name, env}]) become the
 * values the request carries (sandbox.secret_env): they exist in this
 * request only.  -1 (msg filled, names only) when one is gone or does not
 * open: the job fails rather than run without it.
 */
static int
run_secrets(const struct dispatch_job *j, json_t *payload, char *msg, size_t msglen)
{
	json_t *refs = json_object_get(payload, "secrets"), *env;

	if (!refs)
		return 0;
	if (!json_is_array(refs)) {
		cy_snprintf_clip(msg, msglen, "job payload has a malformed secrets list");
		return -1;
	}
	if (secrets_job_env(j->task_id, refs, &env, msg, msglen) < 0)
		return -1;
	json_object_del(payload, "secrets");
	json_object_set_new(payload, "secret_env", env);
	return 0;
}

/*
 * The RunJobRequest body; NULL (msg filled) on a bad payload.  A prompt
 * task's payload ({"mode":"prompt", model, prompt, timeout_seconds}) goes
 * out as the request's "inference" object (the node asks its backend, no
 * sandbox); any other payload is the sandbox spec.
 */
static char *
run_request(const struct dispatch_job *j, long long *timeout_s, bool *sba, char *msg, size_t msglen)
{
	struct cy_error err = CY_ERROR_INIT;
	json_t *payload, *req, *t, *spec;
	const char *mode;
	char *s;

	payload = cy_json_parse(j->payload, strlen(j->payload), true, &err);
	mode = payload ? cy_json_str(payload, "mode") : NULL;
	if (mode && !strcmp(mode, "prompt")) {
		t = json_object_get(payload, "timeout_seconds");
		*timeout_s = json_is_integer(t) && json_integer_value(t) > 0 ?
				 json_integer_value(t) :
				 JOB_TIMEOUT_DEFAULT;
		json_object_del(payload, "mode");
		req = json_pack("{s:i, s:s, s:s, s:s, s:o}", "version", 1, "task_id", j->task_id,
		    "job_id", j->job_id, "lease_id", j->lease_id, "inference", payload);
		s = cy_json_dump(req);
		json_decref(req);
		return s;
	}
	spec = payload ? json_object_get(payload, "sba") : NULL;
	if (!payload ||
	    (!json_is_array(json_object_get(payload, "command")) && !json_is_object(spec))) {
		cy_snprintf_clip(msg, msglen, "job payload is not a sandbox spec%s%s",
		    payload ? "" : ": ", payload ? "" : err.msg);
		json_decref(payload);
		return NULL;
	}
	/* An agent job's spec names its job, which exists only now. */
	if (json_is_object(spec)) {
		json_object_set_new(spec, "job_id", json_string(j->job_id));
		json_object_set_new(spec, "task_id", json_string(j->task_id));
		*sba = true;
	}
	t = json_object_get(payload, "timeout_seconds");
	*timeout_s = json_is_integer(t) && json_integer_value(t) > 0 ? json_integer_value(t) :
								       JOB_TIMEOUT_DEFAULT;
	if (run_secrets(j, payload, msg, msglen) < 0) {
		json_decref(payload);
		return NULL;
	}
	req = json_pack("{s:i, s:s, s:s, s:s, s:o}", "version", 1, "task_id", j->task_id, "job_id",
	    j->job_id, "lease_id", j->lease_id, "sandbox", payload);
	s = cy_json_dump(req);
	cy_json_wipe(json_object_get(payload, "secret_env"));
	json_decref(req);
	return s;
}

/* Puts the job back or fails it, and wakes waiters when its task closed. */
static void
job_retry(const struct dispatch_job *j, const char *msg, bool permanent, bool counted)
{
	struct cy_error err = CY_ERROR_INIT;
	int rc;

	cy_log_warn(permanent ? "job_dispatch_failed" : "job_dispatch_retry", "job_id", j->job_id,
	    "task_id", j->task_id, "node_id", j->node_id, "error", msg, NULL);
	rc = store_dispatch_retry(j, msg, permanent, counted, &err);
	if (rc < 0)
		cy_log_error("job_retry_store_failed", "job_id", j->job_id, "error", err.msg,
		    "note", "the lease expiry will requeue it", NULL);
	else if (rc == 1)
		task_wait_closed(j->task_id);
}

static void
flight_begin_run(struct dispatch_job *j)
{
	struct flight *f = xcalloc(1, sizeof(*f));
	long long timeout_s = JOB_TIMEOUT_DEFAULT;
	char msg[600], *body, *url;

	f->kind = FLIGHT_RUN;
	f->job = *j;
	memset(j, 0, sizeof(*j));
	if (!(body = run_request(&f->job, &timeout_s, &f->sba, msg, sizeof(msg)))) {
		job_retry(&f->job, msg, true, true);
		flight_free(f);
		return;
	}
	url = dispatch_url_join(f->job.target_url, "/v1/worker/jobs:run");
	if (flight_start(f, url, f->job.token_sealed, f->job.tls_pin, body,
		(long)((timeout_s + HTTP_GRACE_S) * 1000), msg, sizeof(msg)) < 0) {
		job_retry(&f->job, msg, true, true);
		free(url);
		flight_free(f);
		return;
	}
	free(url);
	inflight++;
	cy_log_debug("job_dispatch", "job_id", f->job.job_id, "node_id", f->job.node_id, NULL);
}

static void
flight_begin_cancel(struct cancel_req *c)
{
	struct flight *f = xcalloc(1, sizeof(*f));
	char msg[300], *url, *suffix;

	f->kind = FLIGHT_CANCEL;
	xsnprintf(f->job.job_id, sizeof(f->job.job_id), "%s", c->job_id);
	suffix = xasprintf("/v1/worker/jobs/%s/cancel", c->job_id);
	url = dispatch_url_join(c->url, suffix);
	if (flight_start(f, url, c->token_sealed, c->tls_pin, xstrdup("{}"), CANCEL_TIMEOUT_MS, msg,
		sizeof(msg)) < 0) {
		cy_log_warn("job_cancel_send_failed", "job_id", c->job_id, "error", msg, NULL);
		flight_free(f);
	}
	free(suffix);
	free(url);
}

/* Adds a result to the batch to store. */
static void
pending_add(struct flight *f, const char *status, char *result, const json_t *ec)
{
	struct pending *p;

	if (npend >= PENDING_MAX) {
		cy_log_error("job_result_dropped", "job_id", f->job.job_id, "note",
		    "too many unsaved results; the node delivers it again", NULL);
		free(result);
		return;
	}
	pend = xreallocarray(pend, npend + 1, sizeof(*pend));
	p = &pend[npend++];
	memset(p, 0, sizeof(*p));
	p->job = f->job;
	memset(&f->job, 0, sizeof(f->job));
	xsnprintf(p->status, sizeof(p->status), "%s", status);
	p->result = result;
	if (json_is_integer(ec)) {
		xsnprintf(p->exit_code, sizeof(p->exit_code), "%lld",
		    (long long)json_integer_value(ec));
		p->has_exit = true;
	} else if (!strcmp(status, "completed")) {
		xsnprintf(p->exit_code, sizeof(p->exit_code), "0");
		p->has_exit = true;
	}
}

/* The TLS handshake failed (untrusted certificate, another key): nothing was sent. */
static bool
dispatch_tls_failure(CURLcode cc)
{
	return cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_PINNEDPUBKEYNOTMATCH ||
	       cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_SSL_CACERT_BADFILE;
}

/* Handles a finished jobs:run transfer. */
static void
flight_done_run(struct flight *f, CURLcode cc)
{
	struct cy_error err = CY_ERROR_INIT;
	long code = 0;
	char msg[600];
	const char *st;
	json_t *r;

	inflight--;
	curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &code);
	if (cc != CURLE_OK) {
		if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
		    dispatch_tls_failure(cc)) {
			/* It never ran: back to the queue, the node rests a while. */
			cy_snprintf_clip(msg, sizeof(msg), "cannot reach the worker: %s",
			    curl_easy_strerror(cc));
			if (dispatch_tls_failure(cc))
				cy_log_warn("node_tls_failed", "job_id", f->job.job_id, "node_id",
				    f->job.node_id, "error", curl_easy_strerror(cc), "note",
				    "the node's key is not its registered pin, or its certificate "
				    "does not verify with nodes.ca_file: nothing sent",
				    NULL);
			cooldown_add(f->job.node_id);
			job_retry(&f->job, msg, false, false);
		} else {
			/* It may be running: the lease and the node's sync decide. */
			cy_log_warn("job_dispatch_lost", "job_id", f->job.job_id, "node_id",
			    f->job.node_id, "error",
			    f->too_big ? "response too large" : curl_easy_strerror(cc), "note",
			    "left running under its lease", NULL);
		}
		return;
	}
	if (code == 503) {
		job_retry(&f->job, "worker busy (503)", false, false);
		return;
	}
	if (code == 507) {
		/* The node's disk is low: a counted attempt, and the node rests a while. */
		cy_snprintf_clip(msg, sizeof(msg), "worker answered HTTP %ld: %.300s", code,
		    f->resp.buf);
		cooldown_add(f->job.node_id);
		job_retry(&f->job, msg, false, true);
		return;
	}
	if (code == 409) {
		cy_log_warn("job_dispatch_conflict", "job_id", f->job.job_id, "note",
		    "the node already runs it; left running under its lease", NULL);
		return;
	}
	if (code != 200) {
		cy_snprintf_clip(msg, sizeof(msg), "worker answered HTTP %ld: %.300s", code,
		    f->resp.buf);
		job_retry(&f->job, msg, code >= 400 && code < 500, true);
		return;
	}
	r = cy_json_parse(f->resp.buf, f->resp.len, true, &err);
	st = r ? cy_json_str(r, "status") : NULL;
	if (!r || !json_is_integer(json_object_get(r, "version")) ||
	    json_integer_value(json_object_get(r, "version")) != 1 || !st ||
	    (strcmp(st, "completed") && strcmp(st, "failed") && strcmp(st, "timeout") &&
		strcmp(st, "canceled"))) {
		cy_snprintf_clip(msg, sizeof(msg), "worker answered an invalid result%s%s",
		    r ? "" : ": ", r ? "" : err.msg);
		json_decref(r);
		job_retry(&f->job, msg, true, true);
		return;
	}
	if (!task_sba_verdict(r, f->job.job_id, f->sba))
		st = "failed";
	pending_add(f, strcmp(st, "completed") ? "failed" : "completed", cy_json_dump(r),
	    json_object_get(r, "exit_code"));
	json_decref(r);
}

/* Stores the batch of results; keeps it for later when the database fails. */
static int
pending_flush(void)
{
	struct dispatch_ids closed = { 0 };
	struct cy_error err = CY_ERROR_INIT;
	struct dispatch_result *r;
	size_t i;
	int n;

	if (npend == 0)
		return 0;
	r = xcalloc(npend, sizeof(*r));
	for (i = 0; i < npend; i++) {
		r[i].job_id = pend[i].job.job_id;
		r[i].lease_id = pend[i].job.lease_id;
		r[i].node_id = pend[i].job.node_id;
		r[i].status = pend[i].status;
		r[i].result = pend[i].result;
		r[i].exit_code = pend[i].has_exit ? pend[i].exit_code : NULL;
		r[i].task_id = pend[i].job.task_id;
	}
	n = store_dispatch_finish(r, npend, &closed, &err);
	free(r);
	if (n < 0) {
		cy_log_error("job_store_failed", "jobs", npend > 1 ? "several" : "one", "error",
		    err.msg, "note", "kept; retried", NULL);
		return -1;
	}
	for (i = 0; i < npend; i++) {
		cy_log_info("job_finished", "job_id", pend[i].job.job_id, "task_id",
		    pend[i].job.task_id, "node_id", pend[i].job.node_id, "status", pend[i].status,
		    "exit_code", pend[i].has_exit ? pend[i].exit_code : "", NULL);
		free(pend[i].result);
		dispatch_job_release(&pend[i].job);
	}
	for (i = 0; i < closed.n; i++)
		task_wait_closed(closed.id[i]);
	dispatch_ids_release(&closed);
	FREE_AND_NULL(pend);
	npend = 0;
	return 0;
}

/* Claims work for the free in-flight slots; true when the claim was full. */
static int
claim_more(bool *more)
{
	struct cy_error err = CY_ERROR_INIT;
	size_t max = (size_t)(srv.cfg.dispatch_workers > 0 ? srv.cfg.dispatch_workers : 64);
	struct cy_buf skip = CY_BUF_INIT;
	struct dispatch_job *jobs;
	size_t n, i, want;
	int rc;

	*more = false;
	if (inflight >= max)
		return 0;
	want = max - inflight;
	cooldown_list(&skip);
	rc = store_dispatch_claim(want, dispatch_lease_s(), skip.buf, &jobs, &n, &err);
	cy_buf_release(&skip);
	if (rc < 0) {
		cy_log_error("dispatch_claim_failed", "error", err.msg, NULL);
		return -1;
	}
	for (i = 0; i < n; i++)
		flight_begin_run(&jobs[i]);
	free(jobs);
	*more = n == want;
	return 0;
}

/* Sends the queued cancels. */
static void
cancels_send(void)
{
	struct cancel_req *c, *next;

	pthread_mutex_lock(&q_lock);
	c = cancels;
	cancels = NULL;
	pthread_mutex_unlock(&q_lock);
	for (; c; c = next) {
		next = c->next;
		flight_begin_cancel(c);
		free(c->url);
		free(c->token_sealed);
		free(c->tls_pin);
		free(c);
	}
}

/* Collects finished transfers; true when a job transfer ended. */
static bool
transfers_collect(void)
{
	bool freed = false;
	int running, left;
	CURLMsg *m;

	curl_multi_perform(multi, &running);
	while ((m = curl_multi_info_read(multi, &left))) {
		struct flight *f;
		long code = 0;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&f);
		if (f->kind == FLIGHT_RUN) {
			flight_done_run(f, m->data.result);
			freed = true;
		} else {
			curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &code);
			if (m->data.result != CURLE_OK || code >= 300)
				cy_log_warn("job_cancel_not_delivered", "job_id", f->job.job_id,
				    "error",
				    m->data.result != CURLE_OK ?
					curl_easy_strerror(m->data.result) :
					"HTTP error",
				    "note", "the node's next sync kills it", NULL);
			else
				cy_log_info("job_cancel_sent", "job_id", f->job.job_id, NULL);
		}
		flight_free(f);
	}
	return freed;
}

static void *
dispatch_main(void *arg)
{
	long poll_ms = srv.cfg.dispatch_poll_ms > 0 ? (long)srv.cfg.dispatch_poll_ms : 1000;
	int64_t last_claim = 0, retry_at = 0;
	bool need_claim = true;

	while (!stopping) {
		int64_t now, due;

		pthread_mutex_lock(&q_lock);
		if (wake_pending)
			need_claim = true;
		wake_pending = 0;
		pthread_mutex_unlock(&q_lock);
		cancels_send();
		if (transfers_collect())
			need_claim = true;
		now = cy_mono_ms();
		if (npend && now >= retry_at && pending_flush() < 0)
			retry_at = now + ERROR_BACKOFF_MS;
		if (now - last_claim >= poll_ms)
			need_claim = true;
		if (need_claim && !npend && now >= retry_at) {
			bool more = false;

			last_claim = now;
			if (claim_more(&more) < 0)
				retry_at = now + ERROR_BACKOFF_MS;
			need_claim = more;
		}
		/* Sleep until woken, a transfer moves, or the next timer. */
		due = npend || need_claim ? retry_at : last_claim + poll_ms;
		now = cy_mono_ms();
		if (need_claim && !npend && now >= retry_at)
			continue;
		curl_multi_poll(multi, NULL, 0, due > now ? (int)(due - now) : 0, NULL);
	}
	db_thread_cleanup();
	return NULL;
}

int
dispatch_start(struct cy_error *err)
{
	char num[24];
	int rc;

	if (cy_curl_global_init() < 0)
		return cy_error_set(err, EIO, "libcurl cannot start");
	multi = curl_multi_init();
	if (!multi)
		return cy_error_set(err, ENOMEM, "cannot create the curl multi handle");
	stopping = 0;
	if (task_wait_start() < 0)
		return cy_error_set(err, EAGAIN, "cannot start the long-poll timer thread");
	if ((rc = pthread_create(&thread, NULL, dispatch_main, NULL)) != 0) {
		errno = rc;
		return cy_error_errno(err, "cannot start the dispatcher thread");
	}
	started = true;
	if (notify_start(err) < 0 || dispatch_listen_start(err) < 0 ||
	    dispatch_chores_start(err) < 0) {
		dispatch_stop();
		return -1;
	}
	xsnprintf(num, sizeof(num), "%lld", srv.cfg.dispatch_workers);
	cy_log_info("dispatch_started", "max_in_flight", num, NULL);
	return 0;
}

void
dispatch_stop(void)
{
	struct cancel_req *c;

	dispatch_chores_stop();
	dispatch_listen_stop();
	task_wait_stop();
	if (started) {
		stopping = 1;
		curl_multi_wakeup(multi);
		pthread_join(thread, NULL);
		started = false;
	}
	if (!multi) {
		notify_stop();
		return;
	}
	/* Jobs still in flight stay running on their nodes; the lease decides. */
	while (flights)
		flight_free(flights);
	if (npend)
		pending_flush();
	while ((c = cancels)) {
		cancels = c->next;
		free(c->url);
		free(c->token_sealed);
		free(c->tls_pin);
		free(c);
	}
	pthread_mutex_lock(&q_lock);
	curl_multi_cleanup(multi);
	multi = NULL;
	pthread_mutex_unlock(&q_lock);
	notify_stop(); /* after the results above: it sends what they posted */
}
