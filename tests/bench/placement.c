/*
 * placement: the dispatcher's placement decisions per second, measured
 * with the server's own claim (store_dispatch_claim, server/store-dispatch.c)
 * against the database in DATABASE_URL, without the Worker API calls that
 * follow it: it claims batches of 64 until `-n` jobs are placed or a claim
 * places none, and prints "placed=N seconds=S rate=R p50_ms=.. p99_ms=.."
 * (per claim call).  tests/bench/15-scheduling.bench fills the database
 * (many nodes' capability rows, a deep queue of mixed requests) first.
 *
 *   placement [-n JOBS] [-b BATCH]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "db.h"
#include "dispatch.h"
#include "server.h"
#include "strnum.h"
#include "banned.h"

#define CALLS_MAX 100000

/* The server's globals, which its main.c defines. */
struct server srv;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	struct cy_error err = CY_ERROR_INIT;
	long long want = 10000, batch = 64;
	double t0, t1, *ms = xcalloc(CALLS_MAX, sizeof(*ms));
	const char *errstr;
	size_t placed = 0, calls = 0, k;
	int opt;

	while ((opt = getopt(argc, argv, "n:b:")) != -1) {
		if (opt == 'n' && cy_strtonum(optarg, 1, 10000000, &want, &errstr) == 0)
			continue;
		if (opt == 'b' && cy_strtonum(optarg, 1, 4096, &batch, &errstr) == 0)
			continue;
		fprintf(stderr, "usage: placement [-n JOBS] [-b BATCH]\n");
		return 2;
	}
	if (!(srv.cfg.database_url = getenv("DATABASE_URL"))) {
		fprintf(stderr, "placement: DATABASE_URL is not set\n");
		return 2;
	}
	t0 = now_s();
	while ((long long)placed < want && calls < CALLS_MAX) {
		struct dispatch_job *jobs = NULL;
		size_t n = 0;
		double s = now_s();

		if (store_dispatch_claim((size_t)batch, 600, NULL, &jobs, &n, &err) < 0) {
			fprintf(stderr, "placement: %s\n", err.msg);
			return 1;
		}
		ms[calls++] = (now_s() - s) * 1000;
		for (k = 0; k < n; k++)
			dispatch_job_release(&jobs[k]);
		free(jobs);
		placed += n;
		if (n == 0)
			break;
	}
	t1 = now_s();
	qsort(ms, calls, sizeof(*ms), cmp_double);
	printf("placed=%zu seconds=%.3f rate=%.0f calls=%zu p50_ms=%.2f p99_ms=%.2f\n", placed,
	    t1 - t0, (double)placed / (t1 - t0), calls, calls ? ms[calls / 2] : 0.0,
	    calls ? ms[(calls * 99) / 100] : 0.0);
	free(ms);
	db_thread_cleanup();
	return 0;
}
