/*
 * The dispatcher: N worker threads, each claiming the oldest queued job for
 * a dispatchable node with free capacity (store-dispatch.c), calling that
 * node's Worker API POST /v1/worker/jobs:run with the node's own bearer
 * token, and storing the RunJobResponse (or a dispatch-error result, contract
 * 4.4) while closing job and task.  Threads sleep on a condition variable
 * that dispatch_wake() signals, and poll every dispatch_poll_ms for work
 * queued by other replicas.
 */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "db.h"
#include "handlers.h"
#include "httpc.h"
#include "json.h"
#include "log.h"
#include "node-token.h"
#include "server.h"
#include "store-nodes.h"
#include "task-wait.h"
#include "banned.h"

#define WORKERS_DEFAULT 8
#define POLL_MS_DEFAULT 500
#define JOB_TIMEOUT_DEFAULT 3600
#define HTTP_GRACE_S 30
#define ATTEMPTS 3
#define RETRY_MS 500
#define ERROR_BACKOFF_MS 2000
#define STOP_JOIN_S 10
#define IDLE_SLEEP_MS 60000

static pthread_mutex_t wake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_cond;
static unsigned long wake_gen;
static volatile int dispatch_stopping;
static pthread_t *workers;
static size_t nworkers;

void dispatch_wake(void)
{
	pthread_mutex_lock(&wake_lock);
	wake_gen++;
	/* One sleeper is enough: a thread that claims a job wakes the next. */
	pthread_cond_signal(&wake_cond);
	pthread_mutex_unlock(&wake_lock);
}

/* Sleeps until woken after generation `gen`, stopping, or `ms` pass. */
static void dispatch_sleep(unsigned long gen, long ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&wake_lock);
	while (wake_gen == gen && !dispatch_stopping)
		if (pthread_cond_timedwait(&wake_cond, &wake_lock, &ts) != 0)
			break;
	pthread_mutex_unlock(&wake_lock);
}

static unsigned long dispatch_generation(void)
{
	unsigned long g;

	pthread_mutex_lock(&wake_lock);
	g = wake_gen;
	pthread_mutex_unlock(&wake_lock);
	return g;
}

/* Closes the job and task as failed with a dispatch-error result. */
static void dispatch_fail(const struct dispatch_job *j, const char *msg)
{
	struct cy_error err = CY_ERROR_INIT;
	json_t *r = json_pack("{s:i, s:s, s:s}", "version", 1, "status", "failed", "error", msg);
	char *s = cy_json_dump(r);

	cy_log_warn("job_dispatch_failed", "job_id", j->job_id, "task_id", j->task_id,
		"node_id", j->node_id, "error", msg, NULL);
	if (store_dispatch_finish(j, "failed", s, "-1", &err) < 0)
		cy_log_error("job_store_failed", "job_id", j->job_id, "error", err.msg, NULL);
	free(s);
	json_decref(r);
}

/* Stores a RunJobResponse; -1 (with msg filled) when it is not one. */
static int dispatch_store(const struct dispatch_job *j, const struct cy_httpc_resp *hr,
	char *msg, size_t msglen)
{
	struct cy_error err = CY_ERROR_INIT;
	const char *status;
	json_t *r, *ec;
	char *s, code[24] = "-1";
	bool ok;

	r = cy_json_parse(hr->body.buf, hr->body.len, true, &err);
	if (!r) {
		snprintf(msg, msglen, "worker answered an invalid result: %s", err.msg);
		return -1;
	}
	status = cy_json_str(r, "status");
	if (!json_is_integer(json_object_get(r, "version")) ||
	    json_integer_value(json_object_get(r, "version")) != 1 || !status ||
	    (strcmp(status, "completed") && strcmp(status, "failed") && strcmp(status, "timeout"))) {
		json_decref(r);
		snprintf(msg, msglen, "worker answered a result without version 1 or a valid status");
		return -1;
	}
	ok = strcmp(status, "completed") == 0;
	ec = json_object_get(r, "exit_code");
	if (json_is_integer(ec))
		snprintf(code, sizeof(code), "%lld", (long long)json_integer_value(ec));
	else if (ok)
		snprintf(code, sizeof(code), "0");
	s = cy_json_dump(r);
	if (store_dispatch_finish(j, ok ? "completed" : "failed", s, code, &err) < 0)
		cy_log_error("job_store_failed", "job_id", j->job_id, "error", err.msg, NULL);
	else
		cy_log_info("job_finished", "job_id", j->job_id, "task_id", j->task_id,
			"node_id", j->node_id, "status", status, "exit_code", code, NULL);
	free(s);
	json_decref(r);
	return 0;
}

/* The RunJobRequest body for the job; NULL (msg filled) on a bad payload. */
static char *dispatch_request(const struct dispatch_job *j, long long *timeout_s,
	char *msg, size_t msglen)
{
	struct cy_error err = CY_ERROR_INIT;
	json_t *payload, *req, *t;
	char *s;

	payload = cy_json_parse(j->payload, strlen(j->payload), true, &err);
	if (!payload || !json_is_array(json_object_get(payload, "command"))) {
		snprintf(msg, msglen, "job payload is not a sandbox spec%s%s",
			payload ? "" : ": ", payload ? "" : err.msg);
		json_decref(payload);
		return NULL;
	}
	t = json_object_get(payload, "timeout_seconds");
	*timeout_s = json_is_integer(t) && json_integer_value(t) > 0 ?
		json_integer_value(t) : JOB_TIMEOUT_DEFAULT;
	req = json_pack("{s:i, s:s, s:s, s:o}", "version", 1, "task_id", j->task_id,
		"job_id", j->job_id, "sandbox", payload);
	s = cy_json_dump(req);
	json_decref(req);
	return s;
}

/* Sends the claimed job to its node and stores the outcome. */
static void dispatch_run(const struct dispatch_job *j)
{
	struct cy_httpc_opts opts = { 0 };
	struct cy_error err = CY_ERROR_INIT;
	char msg[600], *body = NULL, *token = NULL, *url = NULL;
	long long timeout_s = JOB_TIMEOUT_DEFAULT;
	size_t ulen;
	int attempt;

	if (!(body = dispatch_request(j, &timeout_s, msg, sizeof(msg))))
		goto fail;
	if (!(token = node_token_open(j->token_sealed, &err))) {
		snprintf(msg, sizeof(msg), "%s", err.msg);
		goto fail;
	}
	ulen = strlen(j->target_url);
	while (ulen > 0 && j->target_url[ulen - 1] == '/')
		ulen--;
	url = xasprintf("%.*s/v1/worker/jobs:run", (int)ulen, j->target_url);
	opts.bearer = token;
	opts.timeout_ms = (timeout_s + HTTP_GRACE_S) * 1000;
	for (attempt = 1; attempt <= ATTEMPTS; attempt++) {
		struct cy_httpc_resp hr = CY_HTTPC_RESP_INIT;
		int rc;

		cy_log_debug("job_dispatch", "job_id", j->job_id, "node_id", j->node_id, NULL);
		rc = cy_httpc_request("POST", url, body, strlen(body), &opts, &hr, &err);
		if (rc == 0 && hr.status == 200) {
			rc = dispatch_store(j, &hr, msg, sizeof(msg));
			cy_httpc_resp_release(&hr);
			if (rc == 0)
				goto out;
			goto fail;
		}
		if (rc == 0) {
			snprintf(msg, sizeof(msg), "worker answered HTTP %ld: %.300s", hr.status,
				hr.body.buf);
			cy_httpc_resp_release(&hr);
			goto fail;
		}
		cy_httpc_resp_release(&hr);
		snprintf(msg, sizeof(msg), "cannot reach the worker: %s", err.msg);
		if (err.code == EFBIG || attempt == ATTEMPTS || dispatch_stopping)
			goto fail;
		cy_log_warn("job_dispatch_retry", "job_id", j->job_id, "error", err.msg, NULL);
		usleep(RETRY_MS * 1000);
	}
fail:
	dispatch_fail(j, msg);
out:
	task_wait_broadcast();
	dispatch_wake();
	free(url);
	free(token);
	free(body);
}

/*
 * One dispatcher thread.  Only the first polls the database on a timer; the
 * others sleep until woken, and each successful claim wakes another thread,
 * so a burst of work fans out without every idle thread polling.
 */
static void *dispatch_main(void *arg)
{
	long poll_ms = srv.cfg.dispatch_poll_ms > 0 ? (long)srv.cfg.dispatch_poll_ms :
		POLL_MS_DEFAULT;

	if ((uintptr_t)arg != 0)
		poll_ms = IDLE_SLEEP_MS;

	while (!dispatch_stopping && !srv.stopping) {
		unsigned long gen = dispatch_generation();
		struct cy_error err = CY_ERROR_INIT;
		struct dispatch_job j;
		int rc = store_dispatch_claim(&j, &err);

		if (rc == 1) {
			dispatch_wake();
			dispatch_run(&j);
			dispatch_job_release(&j);
			continue;
		}
		if (rc < 0) {
			cy_log_error("dispatch_claim_failed", "error", err.msg, NULL);
			dispatch_sleep(gen, ERROR_BACKOFF_MS);
			continue;
		}
		dispatch_sleep(gen, poll_ms);
	}
	db_thread_cleanup();
	cy_httpc_thread_cleanup();
	return NULL;
}

int dispatch_start(struct cy_error *err)
{
	pthread_condattr_t a;
	char num[24];
	size_t i;
	int rc;

	nworkers = srv.cfg.dispatch_workers > 0 ? (size_t)srv.cfg.dispatch_workers :
		WORKERS_DEFAULT;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&wake_cond, &a);
	pthread_condattr_destroy(&a);
	dispatch_stopping = 0;
	workers = xcalloc(nworkers, sizeof(*workers));
	for (i = 0; i < nworkers; i++) {
		rc = pthread_create(&workers[i], NULL, dispatch_main, (void *)(uintptr_t)i);
		if (rc != 0) {
			nworkers = i;
			dispatch_stop();
			errno = rc;
			return cy_error_errno(err, "cannot start dispatcher thread");
		}
	}
	snprintf(num, sizeof(num), "%zu", nworkers);
	cy_log_info("dispatch_started", "workers", num, NULL);
	return 0;
}

void dispatch_stop(void)
{
	struct timespec ts;
	size_t i;

	if (!workers)
		return;
	pthread_mutex_lock(&wake_lock);
	dispatch_stopping = 1;
	pthread_cond_broadcast(&wake_cond);
	pthread_mutex_unlock(&wake_lock);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += STOP_JOIN_S;
	for (i = 0; i < nworkers; i++) {
		/* A thread inside a long jobs:run call is left to process exit. */
		if (pthread_timedjoin_np(workers[i], NULL, &ts) != 0)
			cy_log_warn("dispatch_stop_timeout", "note",
				"a job was still in flight; it stays running", NULL);
	}
	FREE_AND_NULL(workers);
	nworkers = 0;
}
