/*
 * Results that survive the server: every finished job's
 * RunJobResponse (plus the lease it ran under) is kept in the result
 * spool, <state_dir>/results/journal (result-spool.c), before jobs:run
 * answers, and stays there until the server says it no longer wants it.  A sync thread calls
 * POST <orchestrator.url>/v1/nodes/jobs/sync with the node JWT every few
 * seconds (the server says how often): it reports the jobs running here
 * (which renews their leases) and the results held; the answer names the
 * results still wanted (delivered with POST /v1/nodes/jobs/{id}/result,
 * then deleted, once the job's streamed logs are all sent), the rest are
 * deleted, and the jobs the server no longer runs here (canceled,
 * requeued) are killed.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "httpc.h"
#include "joblog.h"
#include "json.h"
#include "log.h"
#include "node.h"
#include "result-spool.h"
#include "banned.h"

#define SYNC_DEFAULT_S 5
#define SYNC_RETRY_S 1
#define SYNC_MIN_AGE_S 2 /* a fresh result is still on its way over jobs:run */
#define ID_LEN 137

struct running {
	struct running *next;
	char id[ID_LEN];
};

static struct result_spool spool = RESULT_SPOOL_INIT;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct running *running_jobs;
static pthread_t thread;
static bool started;
static volatile int stopping;

void
node_job_begin(const char *job_id)
{
	struct running *r = xcalloc(1, sizeof(*r));

	xsnprintf(r->id, sizeof(r->id), "%s", job_id);
	pthread_mutex_lock(&lock);
	r->next = running_jobs;
	running_jobs = r;
	pthread_mutex_unlock(&lock);
}

void
node_job_end(const char *job_id)
{
	struct running **pp, *r;

	pthread_mutex_lock(&lock);
	for (pp = &running_jobs; (r = *pp); pp = &r->next) {
		if (!strcmp(r->id, job_id)) {
			*pp = r->next;
			free(r);
			break;
		}
	}
	pthread_mutex_unlock(&lock);
}

static char *
results_dir(const struct node *n)
{
	return xasprintf("%s/results", n->cfg.state_dir);
}

int
node_result_save(struct node *n, const char *job_id, const char *lease_id, const json_t *out)
{
	json_t *copy = json_deep_copy(out);
	int rc;

	if (lease_id)
		json_object_set_new(copy, "lease_id", json_string(lease_id));
	rc = result_spool_put(&spool, job_id, copy);
	if (rc < 0)
		cy_log_error("result_save_failed", "job_id", job_id, "error", strerror(errno),
		    NULL);
	json_decref(copy);
	return rc;
}

char *
node_orch_jwt(const struct node *n)
{
	char *path = xasprintf("%s/credentials/node.jwt", n->cfg.state_dir);
	struct cy_buf b = CY_BUF_INIT;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	free(path);
	if (fd < 0)
		return NULL;
	if (cy_buf_read_fd(&b, fd, 16384) < 0 || b.len == 0) {
		close(fd);
		cy_buf_release(&b);
		return NULL;
	}
	close(fd);
	while (b.len && (b.buf[b.len - 1] == '\n' || b.buf[b.len - 1] == '\r'))
		cy_buf_setlen(&b, b.len - 1);
	return cy_buf_detach(&b, NULL);
}

char *
node_orch_url(const struct node *n, const char *path)
{
	size_t ul = strlen(n->cfg.orch_url);

	while (ul > 0 && n->cfg.orch_url[ul - 1] == '/')
		ul--;
	return xasprintf("%.*s%s", (int)ul, n->cfg.orch_url, path);
}

static int
call(const struct node *n, const char *path, const char *body, const char *jwt,
    struct cy_httpc_resp *resp, struct cy_error *err)
{
	struct cy_httpc_opts o = { 0 };
	char *url = node_orch_url(n, path);
	int rc;

	o.timeout_ms = n->cfg.request_s * 1000;
	o.connect_timeout_ms = n->cfg.connect_s * 1000;
	o.max_response = 16 * 1024 * 1024;
	o.bearer = jwt;
	o.ca_file = n->cfg.tls_ca;
	o.pinned_pubkey = n->cfg.tls_pin;
	rc = cy_httpc_request("POST", url, body, strlen(body), &o, resp, err);
	free(url);
	return rc;
}

static json_t *
running_list(void)
{
	json_t *a = json_array();
	struct running *r;

	pthread_mutex_lock(&lock);
	for (r = running_jobs; r; r = r->next)
		json_array_append_new(a, json_string(r->id));
	pthread_mutex_unlock(&lock);
	return a;
}

static bool
in_list(const json_t *arr, const char *id)
{
	json_t *v;
	size_t i;

	json_array_foreach(arr, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), id))
			return true;
	return false;
}

/*
 * Delivers one held result, put at or before `put_by`; 0 when the server
 * took it (or does not want it, or it cannot be sent).
 */
static int
deliver(const struct node *n, const char *id, const char *jwt, time_t put_by)
{
	struct cy_httpc_resp resp = CY_HTTPC_RESP_INIT;
	struct cy_error err = CY_ERROR_INIT;
	struct cy_buf body = CY_BUF_INIT;
	char *path = xasprintf("/v1/nodes/jobs/%s/result", id);
	int rc = -1;

	if (result_spool_get(&spool, id, &body) < 0) {
		/* Gone meanwhile: done.  Not a result: sending it can never succeed.  Else: retry.
		 */
		if (errno == ENOENT || errno == EBADMSG)
			rc = 0;
		if (errno != ENOENT)
			cy_log_error("result_unreadable", "job_id", id, "error", strerror(errno),
			    NULL);
	} else if (call(n, path, body.buf, jwt, &resp, &err) == 0) {
		if (resp.status == 200) {
			cy_log_info("result_redelivered", "job_id", id, NULL);
			rc = 0;
		} else if (resp.status == 400) {
			cy_log_error("result_refused", "job_id", id, "detail", resp.body.buf, NULL);
			rc = 0; /* never accepted: do not loop on it */
		}
	}
	if (rc == 0)
		result_spool_drop(&spool, id, put_by);
	cy_httpc_resp_release(&resp);
	cy_buf_release(&body);
	free(path);
	return rc;
}

/* One sync round; returns the seconds until the next one. */
static long long
sync_once(struct node *n, long long every)
{
	struct cy_httpc_resp resp = CY_HTTPC_RESP_INIT;
	struct cy_error err = CY_ERROR_INIT;
	json_t *req, *held, *old = json_array(), *ans = NULL, *want, *cancel, *v;
	char *jwt, *body;
	long long next = every;
	time_t cutoff = time(NULL) - SYNC_MIN_AGE_S;
	size_t i;

	if (!(jwt = node_orch_jwt(n)))
		return SYNC_RETRY_S;
	/* Only results put by the cutoff are sent or dropped: not one put since (a new attempt). */
	held = result_spool_ids(&spool, cutoff, old);
	req =
	    json_pack("{s:i, s:o, s:O}", "version", 1, "running", running_list(), "finished", held);
	body = cy_json_dump(req);
	json_decref(req);
	if (call(n, "/v1/nodes/jobs/sync", body, jwt, &resp, &err) < 0 || resp.status != 200) {
		cy_log_debug("job_sync_failed", "error", err.msg[0] ? err.msg : resp.body.buf,
		    NULL);
		next = SYNC_RETRY_S;
		goto out;
	}
	ans = cy_json_parse(resp.body.buf, resp.body.len, true, &err);
	want = ans ? json_object_get(ans, "want") : NULL;
	cancel = ans ? json_object_get(ans, "cancel") : NULL;
	if (!json_is_array(want) || !json_is_array(cancel)) {
		next = SYNC_RETRY_S;
		goto out;
	}
	v = json_object_get(ans, "sync_seconds");
	if (json_is_integer(v) && json_integer_value(v) >= 1 && json_integer_value(v) <= 60)
		next = json_integer_value(v);
	/* Fresh results are left alone: jobs:run is probably delivering them. */
	json_array_foreach(old, i, v) {
		const char *id = json_string_value(v);

		if (in_list(want, id)) {
			/* Its logs first: the result closes the task for followers. */
			if (job_log_pending(id) || deliver(n, id, jwt, cutoff) < 0)
				next = SYNC_RETRY_S;
		} else {
			result_spool_drop(&spool, id, cutoff);
		}
	}
	json_array_foreach(cancel, i, v) {
		if (json_is_string(v) && node_job_cancel(n, json_string_value(v)) == 0)
			cy_log_info("job_killed_by_sync", "job_id", json_string_value(v), "reason",
			    "no longer running here on the server", NULL);
	}
out:
	json_decref(ans);
	json_decref(held);
	json_decref(old);
	cy_httpc_resp_release(&resp);
	explicit_bzero(jwt, strlen(jwt));
	free(jwt);
	free(body);
	return next;
}

static void *
sync_main(void *arg)
{
	struct node *n = arg;
	long long every = SYNC_DEFAULT_S, wait = SYNC_RETRY_S;
	int64_t ticks;

	while (!stopping) {
		for (ticks = wait * 10; ticks > 0 && !stopping; ticks--)
			poll(NULL, 0, 100);
		if (stopping)
			break;
		if (!n->registered) {
			wait = SYNC_RETRY_S;
			continue;
		}
		wait = sync_once(n, every);
		if (wait != SYNC_RETRY_S)
			every = wait;
	}
	cy_httpc_thread_cleanup();
	return NULL;
}

int
node_results_start(struct node *n, struct cy_error *err)
{
	char *dir = results_dir(n);
	int rc;

	rc = result_spool_open(&spool, dir, err);
	free(dir);
	if (rc < 0)
		return rc;
	stopping = 0;
	if ((rc = pthread_create(&thread, NULL, sync_main, n)) != 0) {
		errno = rc;
		return cy_error_errno(err, "cannot start the result sync thread");
	}
	started = true;
	return 0;
}

void
node_results_stop(void)
{
	struct running *r;

	if (started) {
		stopping = 1;
		pthread_join(thread, NULL);
		started = false;
	}
	result_spool_close(&spool);
	pthread_mutex_lock(&lock);
	while ((r = running_jobs)) {
		running_jobs = r->next;
		free(r);
	}
	pthread_mutex_unlock(&lock);
}
