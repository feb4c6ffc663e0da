/*
 * `cynode-node --bench-sandbox N`: the sandbox's start and teardown cost.
 * Runs /bin/true N times through the sandbox runtime (the same code and
 * limits as a job: namespaces, seccomp, cgroups, /tmp) and N times as a
 * bare fork/exec, and prints the percentiles in milliseconds, one
 * "name value" a line, for tests/bench/50-sandbox.bench.
 */
#include <errno.h>
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

int
node_bench_sandbox(struct node *n, int count)
{
	static char *const argv[] = { "/bin/true", NULL };
	struct cy_error err = CY_ERROR_INIT;
	struct sandbox_job job = { 0 };
	struct sandbox_result res;
	double *sb = xcalloc((size_t)count, sizeof(double));
	double *bare = xcalloc((size_t)count, sizeof(double));
	char *dir, *ws, *jd;
	int i, rc = 1;

	dir = xasprintf("%s/bench-%d", n->cfg.mount_root, (int)getpid());
	ws = xasprintf("%s/workspace", dir);
	jd = xasprintf("%s/job", dir);
	if (cy_mkdir_p(ws, 0711, 0711) < 0 || cy_mkdir_p(jd, 0711, 0711) < 0) {
		fprintf(stderr, "cynode-node: cannot create '%s': %s\n", dir, strerror(errno));
		goto out;
	}
	job.task_id = "bench";
	job.job_id = strrchr(dir, '/') + 1;
	job.argv = (char **)argv;
	job.job_dir = dir;
	job.timeout_s = 30;
	job.max_output = 4096;
	job.limits.mem_mb = n->cfg.res_mem;
	job.limits.pids = n->cfg.res_pids;
	job.limits.cpu_milli = n->cfg.res_cpu * 1000;
	job.limits.tmp_mb = n->cfg.res_tmp;
	job.limits.nofile = n->cfg.res_nofile;
	job.limits.fsize_mb = n->cfg.res_fsize;
	for (i = 0; i < count; i++) {
		double t0 = now_ms();

		if (node_runtime()->run(&job, &res, &err) < 0) {
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
	rmdir(ws);
	rmdir(jd);
	rmdir(dir);
	free(dir);
	free(ws);
	free(jd);
	free(sb);
	free(bare);
	return rc;
}
