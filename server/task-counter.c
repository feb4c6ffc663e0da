/*
 * Combined updates of the task name counter (task-counter.h).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "db.h"
#include "id.h"
#include "strnum.h"
#include "task-counter.h"
#include "banned.h"

/* One create waiting for its number. */
struct waiter {
	long long n;
	bool done;
	struct cy_error err;
	struct waiter *next;
};

/* The waiting creates of one user; freed when no thread refers to it. */
struct user_queue {
	char user_id[CY_UUID_LEN + 1];
	bool running;	/* a batch of this user is in the database */
	int refs;	/* threads inside task_counter_next for this user */
	struct waiter *head, **tail;
	pthread_cond_t done;
	struct user_queue *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct user_queue *queues;

static struct user_queue *
queue_get(const char *user_id)
{
	struct user_queue *q;

	for (q = queues; q; q = q->next)
		if (!strcmp(q->user_id, user_id))
			return q;
	q = xcalloc(1, sizeof(*q));
	xsnprintf(q->user_id, sizeof(q->user_id), "%s", user_id);
	q->tail = &q->head;
	pthread_cond_init(&q->done, NULL);
	q->next = queues;
	queues = q;
	return q;
}

static void
queue_put(struct user_queue *q)
{
	struct user_queue **pp;

	if (--q->refs > 0)
		return;
	for (pp = &queues; *pp != q; pp = &(*pp)->next)
		;
	*pp = q->next;
	pthread_cond_destroy(&q->done);
	free(q);
}

/* Adds k to the user's counter: its new value, or 0 with err set. */
static long long
counter_add(const char *user_id, long long k, struct cy_error *err)
{
	char num[24];
	const char *p[2] = { user_id, num };
	long long top = 0;
	PGresult *res;

	xsnprintf(num, sizeof(num), "%lld", k);
	res = db_exec("task_name_next",
	    "INSERT INTO task_name_seq (user_id, seq) VALUES ($1::uuid, $2::bigint) "
	    "ON CONFLICT (user_id) DO UPDATE SET seq = task_name_seq.seq + $2::bigint "
	    "RETURNING seq",
	    2, p, err);
	if (!res)
		return 0;
	if (cy_strtonum(PQgetvalue(res, 0, 0), k, LLONG_MAX, &top, NULL) < 0) {
		cy_error_set(err, EIO, "the task name counter returned '%s'", PQgetvalue(res, 0, 0));
		top = 0;
	}
	PQclear(res);
	return top;
}

long long
task_counter_next(const char *user_id, struct cy_error *err)
{
	struct waiter self = { 0 }, *batch, *w;
	struct user_queue *q;
	struct cy_error berr;
	long long k, top, n;

	pthread_mutex_lock(&lock);
	q = queue_get(user_id);
	q->refs++;
	*q->tail = &self;
	q->tail = &self.next;
	while (!self.done) {
		if (q->running) {
			pthread_cond_wait(&q->done, &lock);
			continue;
		}
		/* Lead: take everyone waiting, this create among them. */
		batch = q->head;
		q->head = NULL;
		q->tail = &q->head;
		q->running = true;
		for (k = 0, w = batch; w; w = w->next)
			k++;
		pthread_mutex_unlock(&lock);
		berr = (struct cy_error)CY_ERROR_INIT;
		top = counter_add(user_id, k, &berr);
		pthread_mutex_lock(&lock);
		for (n = top - k + 1, w = batch; w; w = w->next, n++) {
			w->n = top ? n : 0;
			w->err = berr;
			w->done = true;
		}
		q->running = false;
		pthread_cond_broadcast(&q->done);
	}
	queue_put(q);
	pthread_mutex_unlock(&lock);
	if (!self.n)
		*err = self.err;
	return self.n;
}
