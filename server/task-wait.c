/*
 * The registry of parked long polls (task-wait.h): a list of waiters, each
 * holding the ids it waits on, its deadline and its suspended request; a
 * ring of the most recent closures so a closure that happens between a
 * handler's read and its park still wakes it; and one thread that resumes
 * waiters whose deadline has passed.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "buf.h"
#include "task-wait.h"
#include "timeutil.h"
#include "banned.h"

#define RING 1024
#define ID_LEN 37
#define IDLE_TICK_MS 1000

struct waiter {
	struct waiter *next;
	struct cy_http_suspension *susp;
	int64_t deadline;
	size_t nids;
	char (*ids)[ID_LEN];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tick;
static struct waiter *waiters;
static size_t nparked;
static uint64_t seq;            /* closures seen so far */
static char ring[RING][ID_LEN]; /* ring[s % RING] = id of closure s + 1 */
static int stopping;
static pthread_t timer;
static bool timer_started;

static bool
waiter_wants(const struct waiter *w, const char *id)
{
	size_t i;

	for (i = 0; i < w->nids; i++)
		if (!strcmp(w->ids[i], id))
			return true;
	return false;
}

/* Resumes and frees w (under lock, already unlinked). */
static void
waiter_wake(struct waiter *w)
{
	cy_http_resume(w->susp);
	nparked--;
	free(w->ids);
	free(w);
}

/* Unlinks and wakes every waiter for which pred(w, arg) holds (under lock). */
static void
wake_matching(bool (*pred)(const struct waiter *, const void *), const void *arg)
{
	struct waiter **pp = &waiters, *w;

	while ((w = *pp)) {
		if (pred(w, arg)) {
			*pp = w->next;
			waiter_wake(w);
		} else {
			pp = &w->next;
		}
	}
}

static bool
pred_id(const struct waiter *w, const void *id)
{
	return waiter_wants(w, id);
}

static bool
pred_due(const struct waiter *w, const void *now)
{
	return w->deadline <= *(const int64_t *)now;
}

static bool
pred_all(const struct waiter *w, const void *arg)
{
	return true;
}

static void *
timer_main(void *arg)
{
	pthread_mutex_lock(&lock);
	while (!stopping) {
		int64_t now = cy_mono_ms(), next = now + IDLE_TICK_MS;
		struct waiter *w;
		struct timespec ts;

		wake_matching(pred_due, &now);
		for (w = waiters; w; w = w->next)
			if (w->deadline < next)
				next = w->deadline;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += (next - now) / 1000;
		ts.tv_nsec += ((next - now) % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&tick, &lock, &ts);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

int
task_wait_start(void)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&tick, &a);
	pthread_condattr_destroy(&a);
	stopping = 0;
	if (pthread_create(&timer, NULL, timer_main, NULL) != 0)
		return -1;
	timer_started = true;
	return 0;
}

void
task_wait_stop(void)
{
	pthread_mutex_lock(&lock);
	stopping = 1;
	wake_matching(pred_all, NULL);
	pthread_cond_signal(&tick);
	pthread_mutex_unlock(&lock);
	if (timer_started)
		pthread_join(timer, NULL);
	timer_started = false;
}

int
task_wait_stopping(void)
{
	int s;

	pthread_mutex_lock(&lock);
	s = stopping;
	pthread_mutex_unlock(&lock);
	return s;
}

uint64_t
task_wait_seq(void)
{
	uint64_t s;

	pthread_mutex_lock(&lock);
	s = seq;
	pthread_mutex_unlock(&lock);
	return s;
}

void
task_wait_closed(const char *task_id)
{
	pthread_mutex_lock(&lock);
	xsnprintf(ring[seq % RING], ID_LEN, "%s", task_id);
	seq++;
	if (waiters)
		wake_matching(pred_id, task_id);
	pthread_mutex_unlock(&lock);
}

void
task_wait_logs(const char *task_id)
{
	task_wait_closed(task_id);
}

/* True when one of w's ids closed after `since` (or the ring lost track). */
static bool
closed_since(const struct waiter *w, uint64_t since)
{
	uint64_t s;

	if (seq - since > RING)
		return true;
	for (s = since; s < seq; s++)
		if (waiter_wants(w, ring[s % RING]))
			return true;
	return false;
}

void
task_wait_park(struct cy_http_req *req, const char *const *ids, size_t n, uint64_t since,
    int64_t deadline_ms)
{
	struct waiter *w = xcalloc(1, sizeof(*w));
	size_t i;

	w->susp = cy_req_suspend(req);
	w->deadline = deadline_ms;
	w->nids = n;
	w->ids = xcalloc(n ? n : 1, sizeof(*w->ids));
	for (i = 0; i < n; i++)
		xsnprintf(w->ids[i], ID_LEN, "%s", ids[i]);
	pthread_mutex_lock(&lock);
	nparked++;
	if (stopping || closed_since(w, since) || deadline_ms <= cy_mono_ms()) {
		waiter_wake(w);
	} else {
		w->next = waiters;
		waiters = w;
		pthread_cond_signal(&tick);
	}
	pthread_mutex_unlock(&lock);
}

void
task_wait_kick_all(void)
{
	pthread_mutex_lock(&lock);
	wake_matching(pred_all, NULL);
	pthread_mutex_unlock(&lock);
}

size_t
task_wait_parked(void)
{
	size_t n;

	pthread_mutex_lock(&lock);
	n = nparked;
	pthread_mutex_unlock(&lock);
	return n;
}
