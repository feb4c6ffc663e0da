/*
 * The sandbox's own PID 1 is the node's to reap.
 *
 * bwrap runs as two processes: the one the node starts (outside) and its
 * child, PID 1 of the sandbox's PID namespace, which sets the sandbox up,
 * runs the job's command as its child and reaps it.  The outside one exits
 * as soon as the inside one reports the command's exit status, usually
 * before the inside one has exited.  That process then has no parent and
 * goes to the nearest subreaper, by default the host's PID 1.  Left there,
 * its CPU time, which holds the sandbox's whole setup and the job's
 * command, would be missing from what wait4(2) reports to the node (a job's
 * usage where no cgroup measures it, and the node's accounting of its
 * children), and a node that is itself PID 1 (a container) would keep a
 * zombie per job.
 *
 * So the node marks itself a child subreaper the first time it runs bwrap,
 * and the job's thread reaps the inside process by the pid bwrap's
 * --json-status-fd reports first ("child-pid", written by the outside
 * process before the sandbox runs anything of the job's, so a job cannot
 * forge it).  That process is often still exiting (its mount namespace is
 * torn down as it exits): where the job's usage comes from rusage (no
 * cgroup measures it) the thread waits up to 100 ms for it; otherwise, and
 * for one that outlives the wait, the pid is kept in a short list that the
 * next job's call and the node's heartbeat loop reap (and past 64 of them,
 * the heartbeat's sweep of adopted orphans, children.c).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "children.h"
#include "error.h"
#include "json.h"
#include "log.h"
#include "sandbox.h"
#include "timeutil.h"
#include "banned.h"

#define REAP_WAIT_MS 100
#define REAP_PENDING_MAX 64

static pthread_once_t adopt_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t pending_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t pending[REAP_PENDING_MAX];

static void
adopt(void)
{
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		cy_log_warn("subreaper_failed", "error", strerror(errno), NULL);
}

void
sb_reap_adopt(void)
{
	pthread_once(&adopt_once, adopt);
}

pid_t
sb_reap_status_pid(const struct cy_buf *status)
{
	struct cy_error err = CY_ERROR_INIT;
	const char *nl;
	json_int_t pid;
	json_t *o, *v;

	if (!status->len)
		return -1;
	nl = memchr(status->buf, '\n', status->len);
	o = cy_json_parse(status->buf, nl ? (size_t)(nl - status->buf) : status->len, true, &err);
	if (!o)
		return -1;
	v = json_object_get(o, "child-pid");
	pid = json_is_integer(v) ? json_integer_value(v) : -1;
	json_decref(o);
	return pid > 1 && pid <= INT32_MAX ? (pid_t)pid : -1;
}

/* Adds b's CPU times to a's; a's peak RSS is the larger of the two. */
static void
rusage_add(struct rusage *a, const struct rusage *b)
{
	a->ru_utime.tv_sec += b->ru_utime.tv_sec;
	a->ru_utime.tv_usec += b->ru_utime.tv_usec;
	a->ru_stime.tv_sec += b->ru_stime.tv_sec;
	a->ru_stime.tv_usec += b->ru_stime.tv_usec;
	a->ru_utime.tv_sec += a->ru_utime.tv_usec / 1000000;
	a->ru_utime.tv_usec %= 1000000;
	a->ru_stime.tv_sec += a->ru_stime.tv_usec / 1000000;
	a->ru_stime.tv_usec %= 1000000;
	if (b->ru_maxrss > a->ru_maxrss)
		a->ru_maxrss = b->ru_maxrss;
}

/* Reaps pid if it has exited: 1, 0 while it runs, -1 when it is not ours. */
static int
reap_now(pid_t pid, struct rusage *ru)
{
	pid_t w;
	int ws;

	/* A pid the sandbox's setup failed on may be another child's by now. */
	if (node_child_owned(pid))
		return -1;
	while ((w = wait4(pid, &ws, WNOHANG, ru)) < 0 && errno == EINTR)
		;
	return w == pid ? 1 : w == 0 ? 0 : -1;
}

void
sb_reap_pending(void)
{
	struct rusage ru;
	int i;

	pthread_mutex_lock(&pending_lock);
	for (i = 0; i < REAP_PENDING_MAX; i++)
		if (pending[i] > 0 && reap_now(pending[i], &ru) != 0)
			pending[i] = 0;
	pthread_mutex_unlock(&pending_lock);
}

/*
 * Keeps pid to reap later, if the list has room; else the heartbeat's sweep
 * reaps it, seconds later (said once a minute at most).
 */
static void
pending_add(pid_t pid)
{
	static int64_t warned_ms;
	int64_t now;
	int i;

	pthread_mutex_lock(&pending_lock);
	for (i = 0; i < REAP_PENDING_MAX && pending[i] > 0; i++)
		;
	if (i < REAP_PENDING_MAX)
		pending[i] = pid;
	now = cy_mono_ms();
	if (i == REAP_PENDING_MAX && now - warned_ms >= 60000) {
		warned_ms = now;
		i = -1;
	}
	pthread_mutex_unlock(&pending_lock);
	if (i < 0)
		cy_log_warn("sandbox_reap_full", "detail",
		    "64 sandboxes still exiting; more wait for the heartbeat's sweep", NULL);
}

/* Waits up to REAP_WAIT_MS for pid to exit and reaps it: as reap_now. */
static int
reap_wait(pid_t pid, struct rusage *ru)
{
	struct timespec ts = { 0, 2 * 1000 * 1000 };
	int fd, r = 0, i;

	/* A pidfd turns readable when the process has exited (Linux 5.3+). */
#ifdef SYS_pidfd_open
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
#else
	fd = -1;
#endif
	if (fd >= 0) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		while (poll(&p, 1, REAP_WAIT_MS) < 0 && errno == EINTR)
			;
		close(fd);
		return reap_now(pid, ru);
	}
	for (i = 0; i < REAP_WAIT_MS / 2 && (r = reap_now(pid, ru)) == 0; i++)
		nanosleep(&ts, NULL);
	return r;
}

void
sb_reap_inner(pid_t pid, struct rusage *ru, bool wait)
{
	struct rusage inner;
	int r;

	sb_reap_pending();
	if (pid <= 1)
		return;
	memset(&inner, 0, sizeof(inner));
	r = reap_now(pid, &inner);
	/* Still exiting (its mount namespace goes with it): wait only when needed. */
	if (r == 0 && wait)
		r = reap_wait(pid, &inner);
	/* Else a later call, or the heartbeat's sweep when the list is full. */
	if (r == 0)
		pending_add(pid);
	if (r == 1 && ru)
		rusage_add(ru, &inner);
}
