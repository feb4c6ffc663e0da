/*
 * Unit tests for node/sandbox-usage.c: what a job used, read from fake
 * cgroup directories (v2 cpu.stat and memory.peak; v1 cpuacct and
 * memory.max_usage_in_bytes, the cpuacct group apart or co-mounted with
 * cpu), garbage and missing files (then the rusage fallback, field by
 * field), and the result's "usage" object.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "fsutil.h"
#include "json.h"
#include "sandbox.h"
#include "tap.h"

static char base[] = "/tmp/cy-usage-XXXXXX";

/* Writes text to base/dir/file, making base/dir. */
static void
put(const char *dir, const char *file, const char *text)
{
	char path[512];
	FILE *f;

	xsnprintf(path, sizeof(path), "%s/%s", base, dir);
	mkdir(path, 0755);
	xsnprintf(path, sizeof(path), "%s/%s/%s", base, dir, file);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		fprintf(stderr, "cannot write %s\n", path);
		exit(1);
	}
}

static char *
dir(const char *name)
{
	static char path[4][512];
	static int n;
	char *p = path[n++ % 4];

	xsnprintf(p, sizeof(path[0]), "%s/%s", base, name);
	return p;
}

static void
test_v2(void)
{
	struct sb_cgroup c = { .version = 2 };
	struct sb_usage u = { 0 };
	json_t *o;

	put("v2", "cpu.stat",
	    "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\nnr_periods 0\n");
	put("v2", "memory.peak", "67108864\n");
	c.dir[0] = dir("v2");
	sb_usage_collect(&u, &c, NULL);
	ok(u.have_cpu && u.cpu_usec == 1500000 && u.user_usec == 1000000 && u.system_usec == 500000,
	    "v2: cpu.stat's usage, user and system");
	ok(u.have_mem && u.peak_bytes == 67108864, "v2: memory.peak");
	is_str(u.cpu_src, "cgroup_v2", "v2: the source");
	u.wall_ms = 2500;
	o = sb_usage_json(&u);
	ok(json_real_value(json_object_get(o, "cpu_seconds")) == 1.5 &&
		json_integer_value(json_object_get(o, "peak_memory_bytes")) == 67108864 &&
		json_is_null(json_object_get(o, "gpu_seconds")) &&
		json_real_value(json_object_get(o, "wall_seconds")) == 2.5 &&
		!strcmp(json_string_value(json_object_get(o, "source")), "cgroup_v2"),
	    "v2: the usage object");
	json_decref(o);
}

static void
test_v1(void)
{
	struct sb_cgroup c = { .version = 1 };
	struct sb_usage u = { 0 };

	put("mem", "memory.max_usage_in_bytes", "1048576\n");
	put("acct", "cpuacct.usage_user", "2000000000\n");
	put("acct", "cpuacct.usage_sys", "500000000\n");
	c.dir[SB_CG_MEMORY] = dir("mem");
	c.dir[SB_CG_CPUACCT] = dir("acct");
	sb_usage_collect(&u, &c, NULL);
	ok(u.have_cpu && u.user_usec == 2000000 && u.system_usec == 500000 && u.cpu_usec == 2500000,
	    "v1: cpuacct nanoseconds to microseconds");
	ok(u.have_mem && u.peak_bytes == 1048576, "v1: memory.max_usage_in_bytes");
	/* cpuacct co-mounted with cpu: the cpu group has the files. */
	memset(&u, 0, sizeof(u));
	c.dir[SB_CG_CPUACCT] = NULL;
	c.dir[SB_CG_CPU] = dir("acct");
	sb_usage_collect(&u, &c, NULL);
	ok(u.have_cpu && u.cpu_usec == 2500000, "v1: cpuacct in the cpu group");
}

static void
test_fallback(void)
{
	struct sb_cgroup c = { .version = 2 };
	struct rusage ru;
	struct sb_usage u = { 0 };
	json_t *o;

	memset(&ru, 0, sizeof(ru));
	ru.ru_utime.tv_sec = 1;
	ru.ru_stime.tv_usec = 250000;
	ru.ru_maxrss = 2048; /* KiB */
	/* Garbage: negative, not a number, trailing junk, no memory.peak (kernel < 5.19). */
	put("bad", "cpu.stat", "usage_usec -5\nuser_usec x\n");
	c.dir[0] = dir("bad");
	sb_usage_collect(&u, &c, &ru);
	ok(u.have_cpu && u.cpu_usec == 1250000 && !strcmp(u.cpu_src, "rusage"),
	    "garbage cpu.stat: rusage's CPU time");
	ok(u.have_mem && u.peak_bytes == 2048 * 1024 && !strcmp(u.mem_src, "rusage"),
	    "no memory.peak: ru_maxrss");
	/* Memory from the cgroup, CPU from rusage: mixed. */
	memset(&u, 0, sizeof(u));
	put("half", "memory.peak", "4096\n");
	put("half", "cpu.stat", "usage_usec 12abc\n");
	c.dir[0] = dir("half");
	sb_usage_collect(&u, &c, &ru);
	o = sb_usage_json(&u);
	is_str(json_string_value(json_object_get(o, "source")), "mixed",
	    "cgroup and rusage: mixed");
	json_decref(o);
	/* Nothing at all: no object. */
	memset(&u, 0, sizeof(u));
	sb_usage_collect(&u, NULL, NULL);
	ok(sb_usage_json(&u) == NULL, "nothing measured: no usage object");
	/* No cgroup, rusage only. */
	memset(&u, 0, sizeof(u));
	sb_usage_collect(&u, NULL, &ru);
	ok(u.have_cpu && u.have_mem, "no cgroup: rusage for both");
}

int
main(void)
{
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 1;
	}
	RUN_TEST(test_v2);
	RUN_TEST(test_v1);
	RUN_TEST(test_fallback);
	cy_rm_rf(base);
	return tap_done();
}
