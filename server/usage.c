/*
 * Token usage of chat completions, written in the background: the relay
 * that ends a completion queues one record here and a writer thread stores
 * the queue in batches, so no relay thread opens a database connection of
 * its own and a slow database never holds up a reply.  Records still
 * queued at shutdown are written before the server exits; a queue that
 * grows past USAGE_QUEUE_MAX (database down for long) drops the oldest,
 * with a log line.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "db.h"
#include "inference.h"
#include "log.h"
#include "banned.h"

#define USAGE_QUEUE_MAX 100000

struct usage_rec {
	struct usage_rec *next;
	char user_id[37], node_id[37];
	char *model;
	long long prompt_tokens, completion_tokens;
};

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cond = PTHREAD_COND_INITIALIZER;
static struct usage_rec *q_head, **q_tail = &q_head;
static size_t q_len;
static bool q_stop, q_started;
static pthread_t q_thread;

void
usage_record(const char *user_id, const char *model, const char *node_id, long long prompt_tokens,
    long long completion_tokens)
{
	struct usage_rec *u = xcalloc(1, sizeof(*u)), *old = NULL;

	xsnprintf(u->user_id, sizeof(u->user_id), "%s", user_id ? user_id : "");
	xsnprintf(u->node_id, sizeof(u->node_id), "%s", node_id ? node_id : "");
	u->model = xstrdup(model);
	u->prompt_tokens = prompt_tokens;
	u->completion_tokens = completion_tokens;
	pthread_mutex_lock(&q_lock);
	*q_tail = u;
	q_tail = &u->next;
	if (++q_len > USAGE_QUEUE_MAX) {
		old = q_head;
		q_head = old->next;
		q_len--;
	}
	pthread_cond_signal(&q_cond);
	pthread_mutex_unlock(&q_lock);
	if (old) {
		cy_log_warn("usage_dropped", "model", old->model, "note",
		    "the usage queue is full (database unavailable?)", NULL);
		free(old->model);
		free(old);
	}
}

/* Writes a batch; the records go back to the queue's head when it fails. */
static void
usage_write(struct usage_rec *batch)
{
	struct cy_error err = CY_ERROR_INIT;
	struct usage_rec *u, *next, **tail;

	for (u = batch; u; u = u->next) {
		if (store_inference_usage(u->user_id[0] ? u->user_id : NULL, u->model,
			u->node_id[0] ? u->node_id : NULL, NULL, "chat", 1, u->prompt_tokens,
			u->completion_tokens, &err) < 0)
			break;
	}
	/* Written ones are freed; the rest are retried later. */
	for (next = batch; next != u; next = batch) {
		batch = next->next;
		free(next->model);
		free(next);
	}
	if (!u)
		return;
	cy_log_warn("usage_write_failed", "error", err.msg, "note", "retried", NULL);
	pthread_mutex_lock(&q_lock);
	for (tail = &u; *tail; tail = &(*tail)->next)
		q_len++;
	*tail = q_head;
	if (!q_head)
		q_tail = tail;
	q_head = u;
	pthread_mutex_unlock(&q_lock);
}

static void *
usage_main(void *arg)
{
	struct usage_rec *batch;
	bool stop;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&q_lock);
		while (!q_head && !q_stop)
			pthread_cond_wait(&q_cond, &q_lock);
		batch = q_head;
		q_head = NULL;
		q_tail = &q_head;
		q_len = 0;
		stop = q_stop;
		pthread_mutex_unlock(&q_lock);
		if (batch)
			usage_write(batch);
		if (stop) {
			pthread_mutex_lock(&q_lock);
			batch = q_head;
			q_head = NULL;
			q_tail = &q_head;
			pthread_mutex_unlock(&q_lock);
			while (batch) {
				struct usage_rec *n = batch->next;

				free(batch->model);
				free(batch);
				batch = n;
			}
			break;
		}
		if (batch && q_head) {
			/* A failed write: wait a little before trying again. */
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_mutex_lock(&q_lock);
			if (!q_stop)
				pthread_cond_timedwait(&q_cond, &q_lock, &ts);
			pthread_mutex_unlock(&q_lock);
		}
	}
	db_thread_cleanup();
	return NULL;
}

int
usage_start(struct cy_error *err)
{
	int rc = pthread_create(&q_thread, NULL, usage_main, NULL);

	if (rc != 0)
		return cy_error_set(err, rc, "cannot start the usage writer thread");
	q_started = true;
	return 0;
}

void
usage_stop(void)
{
	if (!q_started)
		return;
	pthread_mutex_lock(&q_lock);
	q_stop = true;
	pthread_cond_broadcast(&q_cond);
	pthread_mutex_unlock(&q_lock);
	pthread_join(q_thread, NULL);
	q_started = false;
}
