/*
 * Unit tests for server/task-counter.c with the database replaced by a
 * counter in memory: concurrent creates of one user are served in batches
 * and get distinct, dense numbers; a failed batch leaves its followers to
 * take one each; a caller inside a transaction takes its own; two users'
 * counters are apart.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server.h"
#include "task-counter.h"
#include "tap.h"

/* The server's globals: the counter's default backend lives beside them. */
struct server srv;

#define NTHREADS 24

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t all_in = PTHREAD_COND_INITIALIZER;
static long long value[2], calls, batched, failed_batches;
static bool fail_batches, tx, first_waits;
static int arrived;

static long long
fake_add(const char *user_id, long long k, struct cy_error *err)
{
	struct timespec ts = { 0, 2000000 };
	int u = user_id[0] == 'b';
	long long top;

	pthread_mutex_lock(&mu);
	if (first_waits) {
		/* The burst's first update waits for every create to have arrived. */
		first_waits = false;
		while (arrived < NTHREADS)
			pthread_cond_wait(&all_in, &mu);
		ts.tv_nsec = 20000000;
	}
	pthread_mutex_unlock(&mu);
	nanosleep(&ts, NULL); /* a round trip: others queue meanwhile */
	pthread_mutex_lock(&mu);
	calls++;
	if (k > 1)
		batched++;
	if (fail_batches && k > 1) {
		value[u] += k; /* reserved, then lost: the connection dropped */
		failed_batches++;
		pthread_mutex_unlock(&mu);
		return cy_error_set(err, EIO, "connection lost"), 0;
	}
	top = value[u] += k;
	pthread_mutex_unlock(&mu);
	return top;
}

static bool
fake_in_tx(void)
{
	return tx;
}

struct arg {
	const char *user;
	long long n;
	struct cy_error err;
};

static void *
run(void *p)
{
	struct arg *a = p;

	pthread_mutex_lock(&mu);
	arrived++;
	pthread_cond_broadcast(&all_in);
	pthread_mutex_unlock(&mu);
	a->n = task_counter_next(a->user, &a->err);
	return NULL;
}

static int
cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

/* Runs NTHREADS creates at once, half of them for user b when two_users. */
static void
burst(struct arg *args, bool two_users)
{
	pthread_t th[NTHREADS];
	int i;

	arrived = 0;
	first_waits = true;
	for (i = 0; i < NTHREADS; i++) {
		args[i].user = two_users && i % 2 ? "b-user" : "a-user";
		args[i].n = -1;
		args[i].err = (struct cy_error)CY_ERROR_INIT;
		pthread_create(&th[i], NULL, run, &args[i]);
	}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
}

static void
test_batches(void)
{
	struct arg args[NTHREADS];
	long long got[NTHREADS];
	bool dense = true;
	int i;

	burst(args, false);
	for (i = 0; i < NTHREADS; i++)
		got[i] = args[i].n;
	qsort(got, NTHREADS, sizeof(got[0]), cmp);
	for (i = 0; i < NTHREADS; i++)
		if (got[i] != i + 1)
			dense = false;
	ok(dense, "%d creates at once got 1..%d, each once", NTHREADS, NTHREADS);
	ok(batched > 0 && calls < NTHREADS, "they were served in batches (%lld updates)", calls);
	is_int(value[0], NTHREADS, "the counter stands at the last number");
}

static void
test_two_users(void)
{
	struct arg args[NTHREADS];
	long long max[2] = { 0, 0 };
	int i;

	value[0] = value[1] = 0;
	burst(args, true);
	for (i = 0; i < NTHREADS; i++)
		if (args[i].n > max[i % 2])
			max[i % 2] = args[i].n;
	ok(max[0] == NTHREADS / 2 && max[1] == NTHREADS / 2 && value[0] == NTHREADS / 2 &&
	       value[1] == NTHREADS / 2,
	    "two users' counters are apart (%lld, %lld)", max[0], max[1]);
}

static void
test_failed_batch(void)
{
	struct arg args[NTHREADS];
	int i, zero = 0, errs = 0, bad = 0;
	long long got[NTHREADS], prev = 0;
	int ngot = 0;

	value[0] = 0;
	failed_batches = 0;
	fail_batches = true;
	burst(args, false);
	fail_batches = false;
	for (i = 0; i < NTHREADS; i++) {
		if (args[i].n == 0) {
			zero++;
			if (args[i].err.code == EIO)
				errs++;
		} else {
			got[ngot++] = args[i].n;
		}
	}
	qsort(got, (size_t)ngot, sizeof(got[0]), cmp);
	for (i = 0; i < ngot; i++) {
		if (got[i] <= prev)
			bad++;
		prev = got[i];
	}
	ok(failed_batches > 0, "some batches failed (%lld)", failed_batches);
	ok(zero == failed_batches && errs == zero,
	    "only each failed batch's leader fails, with the error (%d of %d)", zero, NTHREADS);
	ok(bad == 0 && ngot == NTHREADS - zero, "the others took distinct numbers alone");
}

static void
test_in_transaction(void)
{
	struct cy_error err = CY_ERROR_INIT;
	long long before = calls;

	value[0] = 41;
	tx = true;
	is_int(task_counter_next("a-user", &err), 42, "inside a transaction: one number");
	is_int(calls - before, 1, "taken alone, on the caller's own connection");
	tx = false;
}

int
main(void)
{
	task_counter_set_backend(fake_add, fake_in_tx);
	RUN_TEST(test_batches);
	RUN_TEST(test_two_users);
	RUN_TEST(test_failed_batch);
	RUN_TEST(test_in_transaction);
	return tap_done();
}
