/*
 * `cynode-node --bench-sandbox N`: the sandbox's start and teardown cost.
 * Runs /bin/true N times through the sandbox runtime (the same code and
 * limits as a job: namespaces, seccomp, cgroups, /tmp) and N times as a
 * bare fork/exec, and prints the percentiles in milliseconds, one
 * "name value" a line, for tests/bench/50-sandbox.bench.
 *
 * With `--bench-parallel P` it runs N jobs of `sh -c true` instead, P at a
 * time, and prints the rate: what the sandbox alone allows a node on this
 * machine, without the Worker API, the server or the database
 * (tests/bench/10-dispatch.bench sets the end-to-end rate beside it).
 */
#include <errno.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "fsutil.h"
#include "node.h"
#include "sandbox.h"
#include "timeutil.h"
#include "banned.h"

extern char **environ;

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(double *v, int n, double p)
{
	int i = (int)(p * (n - 1) + 0.5);

	return v[i];
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/*
 * A job as the executor would run it, with the node's default limits, in
 * <mount_root>/<name>/{workspace,job}, which it creates.  0, or -1 after
 * saying why in err (of errlen bytes).
 */
struct bench_job {
	struct sandbox_job job;
	char *dir; /* job.job_dir, owned */
};

static int
bench_job_init(struct node *n, struct bench_job *b, const char *name, char **argv, char *errbuf,
    size_t errlen)
{
	struct sandbox_job *job = &b->job;
	char *ws, *jd;
	int rc = 0;

	memset(job, 0, sizeof(*job));
	b->dir = xasprintf("%s/%s", n->cfg.mount_root, name);
	ws = xasprintf("%s/workspace", b->dir);
	jd = xasprintf("%s/job", b->dir);
	if (cy_mkdir_p(ws, 0711, 0711) < 0 || cy_mkdir_p(jd, 0711, 0711) < 0) {
		xsnprintf(errbuf, errlen, "cannot create '%s': %s", b->dir, strerror(errno));
		rc = -1;
	}
	free(ws);
	free(jd);
	job->job_dir = b->dir;
	job->task_id = "bench";
	job->job_id = strrchr(job->job_dir, '/') + 1;
	job->argv = argv;
	job->timeout_s = 30;
	job->max_output = 4096;
	job->limits.mem_mb = n->cfg.res_mem;
	job->limits.pids = n->cfg.res_pids;
	job->limits.cpu_milli = n->cfg.res_cpu * 1000;
	job->limits.tmp_mb = n->cfg.res_tmp;
	job->limits.nofile = n->cfg.res_nofile;
	job->limits.fsize_mb = n->cfg.res_fsize;
	return rc;
}

/* Removes what bench_job_init made (the runs leave their directories empty). */
static void
bench_job_done(struct bench_job *b)
{
	char *p;

	if (!b->dir)
		return;
	p = xasprintf("%s/workspace", b->dir);
	rmdir(p);
	free(p);
	p = xasprintf("%s/job", b->dir);
	rmdir(p);
	free(p);
	rmdir(b->dir);
	free(b->dir);
	b->dir = NULL;
}

int
node_bench_sandbox(struct node *n, int count)
{
	static char *const argv[] = { "/bin/true", NULL };
	struct cy_error err = CY_ERROR_INIT;
	struct bench_job b = { 0 };
	struct sandbox_result res;
	double *sb = xcalloc((size_t)count, sizeof(double));
	double *bare = xcalloc((size_t)count, sizeof(double));
	char name[64], msg[320];
	int i, rc = 1;

	xsnprintf(name, sizeof(name), "bench-%d", (int)getpid());
	if (bench_job_init(n, &b, name, (char **)argv, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "cynode-node: %s\n", msg);
		goto out;
	}
	for (i = 0; i < count; i++) {
		double t0 = now_ms();

		if (node_runtime()->run(&b.job, &res, &err) < 0) {
			fprintf(stderr, "cynode-node: %s\n", err.msg);
			goto out;
		}
		sb[i] = now_ms() - t0;
		if (res.status != SANDBOX_COMPLETED) {
			fprintf(stderr, "cynode-node: the sandbox failed: %.300s\n", res.err.buf);
			sandbox_result_release(&res);
			goto out;
		}
		sandbox_result_release(&res);
	}
	for (i = 0; i < count; i++) {
		double t0 = now_ms();
		pid_t pid;
		int ws_;

		if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0)
			goto out;
		while (waitpid(pid, &ws_, 0) < 0 && errno == EINTR)
			;
		bare[i] = now_ms() - t0;
	}
	qsort(sb, (size_t)count, sizeof(double), cmp_double);
	qsort(bare, (size_t)count, sizeof(double), cmp_double);
	printf("sandbox_p50_ms %.2f\nsandbox_p99_ms %.2f\nbare_p50_ms %.2f\n"
	       "overhead_p50_ms %.2f\n",
	    pct(sb, count, 0.5), pct(sb, count, 0.99), pct(bare, count, 0.5),
	    pct(sb, count, 0.5) - pct(bare, count, 0.5));
	{
		long long taken, missed;

		/* How many runs had their network namespace made ahead. */
		netns_pool_counts(&taken, &missed);
		printf("netns_pooled %lld\nnetns_pool_empty %lld\n", taken, missed);
	}
	rc = 0;
out:
	bench_job_done(&b);
	free(sb);
	free(bare);
	return rc;
}

/* One thread of node_bench_sandbox_rate: runs its share, each in a job directory of its own. */
struct rate_worker {
	struct node *n;
	pthread_t tid;
	int index, runs, failed;
	char err[320];
};

static void *
rate_worker_main(void *arg)
{
	static char *const argv[] = { "/bin/sh", "-c", "true", NULL };
	struct rate_worker *w = arg;
	struct cy_error err = CY_ERROR_INIT;
	struct bench_job b = { 0 };
	struct sandbox_result res;
	char name[64];
	int i;

	xsnprintf(name, sizeof(name), "bench-%d-%d", (int)getpid(), w->index);
	if (bench_job_init(w->n, &b, name, (char **)argv, w->err, sizeof(w->err)) < 0)
		w->failed = 1;
	for (i = 0; i < w->runs && !w->failed; i++) {
		if (node_runtime()->run(&b.job, &res, &err) < 0) {
			xsnprintf(w->err, sizeof(w->err), "%s", err.msg);
			w->failed = 1;
			break;
		}
		if (res.status != SANDBOX_COMPLETED || res.exit_code != 0) {
			xsnprintf(w->err, sizeof(w->err), "the sandbox failed: %.200s",
			    res.err.buf);
			w->failed = 1;
		}
		sandbox_result_release(&res);
	}
	bench_job_done(&b);
	return NULL;
}

int
node_bench_sandbox_rate(struct node *n, int count, int parallel)
{
	struct rate_worker *w;
	double t0, secs;
	int i, started = 0, rc = 0;

	if (parallel > count)
		parallel = count; /* no idle threads, and the rate says how many ran at once */
	w = xcalloc((size_t)parallel, sizeof(*w));

	t0 = now_ms();
	for (i = 0; i < parallel; i++) {
		w[i].n = n;
		w[i].index = i;
		w[i].runs = count / parallel + (i < count % parallel);
		if (pthread_create(&w[i].tid, NULL, rate_worker_main, &w[i]) != 0) {
			fprintf(stderr, "cynode-node: cannot start a thread\n");
			rc = 1;
			break;
		}
		started++;
	}
	for (i = 0; i < started; i++)
		pthread_join(w[i].tid, NULL);
	secs = (now_ms() - t0) / 1000.0;
	for (i = 0; i < started; i++)
		if (w[i].failed) {
			fprintf(stderr, "cynode-node: %s\n", w[i].err);
			rc = 1;
		}
	if (!rc)
		printf("parallel %d\nruns %d\nrate_per_s %.0f\n", parallel, count, count / secs);
	free(w);
	return rc;
}
