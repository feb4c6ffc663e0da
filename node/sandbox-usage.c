/*
 * What a job used, for accounting: CPU seconds (user and system) and the
 * peak memory of the whole job, read from its cgroup when the job has
 * ended and before the group is removed (v2: cpu.stat and memory.peak,
 * which kernels before 5.19 lack; v1: cpuacct.usage_user/_sys where
 * cpuacct shares the cpu hierarchy, and memory.max_usage_in_bytes).  What
 * the cgroup cannot say comes from the launcher's rusage: wait4() counts
 * every process the sandbox reaped, and ru_maxrss is the largest of them
 * (a lower bound of the job's peak).  The numbers go to the server in the
 * result's "usage" object.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "buf.h"
#include "sandbox.h"
#include "banned.h"

#define USAGE_FILE_MAX 8192

/* The contents of dir/file, or NULL. */
static char *
usage_read(const char *dir, const char *file)
{
	struct cy_buf b = CY_BUF_INIT;
	char path[4200];

	if (!dir || cy_snprintf(path, sizeof(path), "%s/%s", dir, file) < 0 ||
	    cy_buf_read_file(&b, path, USAGE_FILE_MAX) < 0) {
		cy_buf_release(&b);
		return NULL;
	}
	return cy_buf_detach(&b, NULL);
}

/* A non-negative decimal at s, ending at whitespace or NUL; -1 when not one. */
static long long
usage_num(const char *s)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || errno || v < 0 || (*end && *end != '\n' && *end != ' '))
		return -1;
	return v;
}

/* The number of the line `key N` in a flat-keyed file's text, or -1. */
static long long
usage_key(const char *text, const char *key)
{
	size_t kl = strlen(key);
	const char *p;

	for (p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, key, kl) && p[kl] == ' ')
			return usage_num(p + kl + 1);
	return -1;
}

/* The single number in dir/file, or -1. */
static long long
usage_file_num(const char *dir, const char *file)
{
	char *s = usage_read(dir, file);
	long long v = s ? usage_num(s) : -1;

	free(s);
	return v;
}

static void
usage_cgroup_v2(struct sb_usage *u, const char *dir)
{
	char *st = usage_read(dir, "cpu.stat");
	long long total = st ? usage_key(st, "usage_usec") : -1;
	long long user = st ? usage_key(st, "user_usec") : -1;
	long long sys = st ? usage_key(st, "system_usec") : -1;
	long long peak;

	free(st);
	if (total >= 0) {
		u->have_cpu = true;
		u->cpu_usec = total;
		u->user_usec = user > 0 ? user : 0;
		u->system_usec = sys > 0 ? sys : 0;
		u->cpu_src = "cgroup_v2";
	}
	peak = usage_file_num(dir, "memory.peak");
	if (peak >= 0) {
		u->have_mem = true;
		u->peak_bytes = peak;
		u->mem_src = "cgroup_v2";
	}
}

static void
usage_cgroup_v1(struct sb_usage *u, const struct sb_cgroup *c)
{
	const char *acct = c->dir[SB_CG_CPUACCT] ? c->dir[SB_CG_CPUACCT] : c->dir[SB_CG_CPU];
	long long user = usage_file_num(acct, "cpuacct.usage_user");
	long long sys = usage_file_num(acct, "cpuacct.usage_sys");
	long long peak = usage_file_num(c->dir[SB_CG_MEMORY], "memory.max_usage_in_bytes");

	if (user >= 0 && sys >= 0) { /* nanoseconds */
		u->have_cpu = true;
		u->user_usec = user / 1000;
		u->system_usec = sys / 1000;
		u->cpu_usec = u->user_usec + u->system_usec;
		u->cpu_src = "cgroup_v1";
	}
	if (peak >= 0) {
		u->have_mem = true;
		u->peak_bytes = peak;
		u->mem_src = "cgroup_v1";
	}
}

static long long
tv_usec(const struct timeval *tv)
{
	return (long long)tv->tv_sec * 1000000 + tv->tv_usec;
}

void
sb_usage_collect(struct sb_usage *u, const struct sb_cgroup *c, const struct rusage *ru)
{
	if (c && c->version == 2)
		usage_cgroup_v2(u, c->dir[0]);
	else if (c && c->version == 1)
		usage_cgroup_v1(u, c);
	if (!ru)
		return;
	if (!u->have_cpu) {
		u->have_cpu = true;
		u->user_usec = tv_usec(&ru->ru_utime);
		u->system_usec = tv_usec(&ru->ru_stime);
		u->cpu_usec = u->user_usec + u->system_usec;
		u->cpu_src = "rusage";
	}
	if (!u->have_mem && ru->ru_maxrss > 0) {
		u->have_mem = true;
		u->peak_bytes = (long long)ru->ru_maxrss * 1024; /* KiB on Linux */
		u->mem_src = "rusage";
	}
}

json_t *
sb_usage_json(const struct sb_usage *u)
{
	const char *src;
	json_t *o;

	if (!u->have_cpu && !u->have_mem && u->wall_ms <= 0)
		return NULL;
	o = json_object();
	if (u->have_cpu) {
		json_object_set_new(o, "cpu_seconds", json_real((double)u->cpu_usec / 1e6));
		json_object_set_new(o, "cpu_user_seconds", json_real((double)u->user_usec / 1e6));
		json_object_set_new(o, "cpu_system_seconds",
		    json_real((double)u->system_usec / 1e6));
	}
	if (u->have_mem)
		json_object_set_new(o, "peak_memory_bytes", json_integer(u->peak_bytes));
	json_object_set_new(o, "gpu_seconds", json_null()); /* not measured yet */
	if (u->wall_ms > 0)
		json_object_set_new(o, "wall_seconds", json_real((double)u->wall_ms / 1e3));
	src = u->cpu_src ? u->cpu_src : u->mem_src;
	if (u->cpu_src && u->mem_src && strcmp(u->cpu_src, u->mem_src))
		src = "mixed";
	if (src)
		json_object_set_new(o, "source", json_string(src));
	return o;
}
