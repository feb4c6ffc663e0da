/*
 * Combined updates of the task name counter (task-counter.h).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "db.h"
#include "id.h"
#include "store-tasks.h"
#include "task-counter.h"
#include "banned.h"

/* One create waiting for its number. */
struct waiter {
	long long n;  /* its number; 0: take one alone (the batch failed) */
	bool done;
	struct waiter *next;
};

/* The waiting creates of one user; freed when no thread refers to it. */
struct user_queue {
	char user_id[CY_UUID_LEN + 1];
	bool running; /* a batch of this user is in the database */
	int refs;     /* threads inside task_counter_next for this user */
	struct waiter *head, **tail;
	pthread_cond_t done;
	struct user_queue *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct user_queue *queues;
static long long (*counter_add)(const char *, long long, struct cy_error *) =
    store_task_counter_add;
static bool (*in_tx)(void) = db_in_tx;

void
task_counter_set_backend(long long (*add)(const char *user_id, long long k,
			     struct cy_error *err),
    bool (*tx)(void))
{
	counter_add = add ? add : store_task_counter_add;
	in_tx = tx ? tx : db_in_tx;
}

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

long long
task_counter_next(const char *user_id, struct cy_error *err)
{
	struct waiter self = { 0 }, *batch, *w;
	struct user_queue *q;
	long long k, top, n;
	bool led = false;

	if (in_tx())
		return counter_add(user_id, 1, err);
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
		led = true;
		for (k = 0, w = batch; w; w = w->next)
			k++;
		pthread_mutex_unlock(&lock);
		top = counter_add(user_id, k, err);
		pthread_mutex_lock(&lock);
		/* The waiters live on their threads' stacks: all done under the lock. */
		for (n = top - k + 1, w = batch; w; w = w->next, n++) {
			w->n = top ? n : 0;
			w->done = true;
		}
		q->running = false;
		pthread_cond_broadcast(&q->done);
	}
	queue_put(q);
	pthread_mutex_unlock(&lock);
	if (self.n || led)
		return self.n; /* a leader's failure is its own: err is set */
	/* A follower of a failed batch: one number alone, on this connection. */
	return counter_add(user_id, 1, err);
}
