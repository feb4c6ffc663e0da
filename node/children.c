/*
 * The node's children.  The node is the subreaper of its descendants once
 * it runs bwrap (sandbox-reap.c), so besides the processes it starts and
 * waits for by pid (bwrap, podman, nvidia-smi, an inference service, image
 * tools) it adopts orphans: the sandbox's PID 1 (reaped by the job's
 * thread), and rarer ones such as a podman container's conmon, which
 * double-forks away from `podman run -d`, or an inference service's
 * runners killed after the service itself.  Nobody waits for those, so
 * the heartbeat loop sweeps them: a child that is a zombie, is not one the
 * node started (each start registers its pid until its wait), and was a
 * zombie at the previous sweep too, is reaped.  The second sighting keeps
 * a child whose start has not registered yet, or whose starter is about
 * to wait for it, out of the sweep's hands.
 *
 * The children are read from /proc/self/task/TID/children (any thread may
 * be an adopted orphan's parent), or where the kernel lacks that file,
 * from the parent pid of every process in /proc.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "children.h"
#include "log.h"
#include "banned.h"

struct pidset {
	pid_t *v;
	size_t n, cap;
};

/* Zombies one sweep saw, by pid and start time. */
struct sighting {
	pid_t pid;
	unsigned long long start;
};
struct sightings {
	struct sighting *v;
	size_t n, cap;
};

static pthread_mutex_t own_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pidset owned;
/* Zombies the last sweep saw that were not owned (the sweep's own thread). */
static struct sightings seen;

static void
set_add(struct pidset *s, pid_t pid)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->v = xreallocarray(s->v, s->cap, sizeof(*s->v));
	}
	s->v[s->n++] = pid;
}

static void
sighting_add(struct sightings *s, pid_t pid, unsigned long long start)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->v = xreallocarray(s->v, s->cap, sizeof(*s->v));
	}
	s->v[s->n].pid = pid;
	s->v[s->n++].start = start;
}

static bool
sighting_has(const struct sightings *s, pid_t pid, unsigned long long start)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->v[i].pid == pid && s->v[i].start == start)
			return true;
	return false;
}

static bool
set_has(const struct pidset *s, pid_t pid)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->v[i] == pid)
			return true;
	return false;
}

void
node_child_own(pid_t pid)
{
	if (pid <= 0)
		return;
	pthread_mutex_lock(&own_lock);
	set_add(&owned, pid);
	pthread_mutex_unlock(&own_lock);
}

void
node_child_done(pid_t pid)
{
	size_t i;

	pthread_mutex_lock(&own_lock);
	for (i = 0; i < owned.n; i++) {
		if (owned.v[i] == pid) {
			owned.v[i] = owned.v[--owned.n];
			break;
		}
	}
	pthread_mutex_unlock(&own_lock);
}

int
node_child_owned(pid_t pid)
{
	bool r;

	pthread_mutex_lock(&own_lock);
	r = set_has(&owned, pid);
	pthread_mutex_unlock(&own_lock);
	return r;
}

/*
 * The state letter of /proc/PID/stat, its parent pid and its start time
 * (clock ticks after boot, which tell a reused pid apart); 0 when it is gone.
 */
static char
proc_state(pid_t pid, pid_t *ppid, unsigned long long *start)
{
	char path[64], buf[512], *p, *q, *end;
	unsigned long long st = 0;
	FILE *f;
	size_t n;
	int pp = 0, i;

	xsnprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The name is in parentheses and may hold anything: after the last ')'. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2] || p[3] != ' ')
		return 0;
	pp = (int)strtol(p + 4, NULL, 10);
	/* The state is field 3, the start time field 22: 19 fields on. */
	for (i = 0, q = p + 2; q && i < 19; i++)
		if ((q = strchr(q, ' ')))
			q++;
	if (!q)
		return 0;
	st = strtoull(q, &end, 10);
	if (end == q)
		return 0;
	if (ppid)
		*ppid = pp;
	if (start)
		*start = st;
	return p[2];
}

/* Appends the pids in a children file ("1 2 3 ") to s; false when it cannot be read. */
static bool
read_children(const char *path, struct pidset *s)
{
	FILE *f = fopen(path, "re");
	char *line = NULL, *p, *end;
	size_t cap = 0;

	if (!f)
		return false;
	/* One line, however many children. */
	if (getline(&line, &cap, f) > 0) {
		for (p = line;;) {
			long v = strtol(p, &end, 10);

			if (end == p)
				break;
			if (v > 0)
				set_add(s, (pid_t)v);
			p = end;
		}
	}
	free(line);
	fclose(f);
	return true;
}

/* The node's children, from every thread's children file, else from /proc. */
static void
list_children(struct pidset *s)
{
	char path[96];
	struct dirent *de;
	bool any = false;
	pid_t self = getpid(), pp;
	DIR *d;

	d = opendir("/proc/self/task");
	while (d && (de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		xsnprintf(path, sizeof(path), "/proc/self/task/%s/children", de->d_name);
		any |= read_children(path, s);
	}
	if (d)
		closedir(d);
	if (any)
		return;
	d = opendir("/proc");
	while (d && (de = readdir(d))) {
		long v;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		v = strtol(de->d_name, NULL, 10);
		if (v > 0 && proc_state((pid_t)v, &pp, NULL) && pp == self)
			set_add(s, (pid_t)v);
	}
	if (d)
		closedir(d);
}

/* Called from one thread only (the heartbeat loop): `seen` is its own. */
int
node_children_sweep(void)
{
	struct pidset kids = { 0 };
	struct sightings next = { 0 };
	unsigned long long start;
	size_t i;
	int reaped = 0, ws;

	list_children(&kids);
	for (i = 0; i < kids.n; i++) {
		pid_t pid = kids.v[i];

		if (node_child_owned(pid) || proc_state(pid, NULL, &start) != 'Z')
			continue;
		if (!sighting_has(&seen, pid, start)) {
			sighting_add(&next, pid, start);
			continue;
		}
		if (waitpid(pid, &ws, WNOHANG) == pid)
			reaped++;
	}
	free(seen.v);
	seen = next;
	free(kids.v);
	if (reaped > 0) {
		char n[16];

		xsnprintf(n, sizeof(n), "%d", reaped);
		cy_log_debug("orphans_reaped", "count", n, NULL);
	}
	return reaped;
}
