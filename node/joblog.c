/*
 * The capture side of a job's streamed logs (joblog.h): the spool files
 * made under <job_dir>/logs and unlinked at once (they live while the
 * sender holds them), written where the node reads the job's output.
 * A write never waits for the network; past sandbox.max_log_bytes, or
 * once the disk refuses a write, bytes are counted and not kept (the
 * server then reports them as lost).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "fsutil.h"
#include "joblog-int.h"
#include "log.h"
#include "node.h"
#include "timeutil.h"
#include "banned.h"

#define FINISH_POLL_MS 100 /* a wait for the sender wakes at least this often */

struct job_log *
job_log_open(struct node *n, const char *job_dir, const char *job_id, const char *lease_id,
    struct cy_error *err)
{
	static const char *const names[2] = { "stdout", "stderr" };
	struct job_log *l;
	char *dir, *p;
	int s;

	if (!lease_id)
		return NULL;
	dir = xasprintf("%s/logs", job_dir);
	if (cy_mkdir_p(dir, 0711, 0700) < 0) {
		cy_error_errno(err, "creating '%s'", dir);
		free(dir);
		return NULL;
	}
	l = xcalloc(1, sizeof(*l));
	xsnprintf(l->job_id, sizeof(l->job_id), "%s", job_id);
	if (cy_snprintf(l->lease_id, sizeof(l->lease_id), "%s", lease_id) < 0)
		l->lease_id[0] = '\0';
	l->cap = n->cfg.max_log_bytes;
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->changed, NULL);
	l->refs = 1;
	l->progress_ms = cy_mono_ms();
	l->s[0].fd = l->s[1].fd = -1;
	for (s = 0; s < 2; s++) {
		p = xasprintf("%s/%s", dir, names[s]);
		l->s[s].fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (l->s[s].fd < 0) {
			cy_error_errno(err, "creating '%s'", p);
			free(p);
			free(dir);
			job_log_unref(l);
			return NULL;
		}
		/* Only the descriptor is needed: the space goes with the last reference. */
		unlink(p);
		free(p);
	}
	free(dir);
	if (logship_add(l) < 0) {
		job_log_unref(l);
		return NULL;
	}
	return l;
}

/* Writes all of data at the spool's end; -1 on a write error. */
static int
spool_write(int fd, long long at, const char *data, size_t len)
{
	ssize_t w;

	while (len > 0) {
		w = pwrite(fd, data, len, (off_t)at);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		data += w;
		len -= (size_t)w;
		at += w;
	}
	return 0;
}

void
job_log_write(struct job_log *l, int s, const char *data, size_t len)
{
	struct job_log_stream *st;
	long long room;
	size_t keep;
	bool kick = false;

	if (!l || len == 0 || (s != JOB_LOG_OUT && s != JOB_LOG_ERR))
		return;
	st = &l->s[s];
	pthread_mutex_lock(&l->lock);
	st->total += (long long)len;
	if (!st->stopped) {
		room = l->cap - st->spooled;
		keep = room < (long long)len ? (size_t)(room > 0 ? room : 0) : len;
		if (keep && spool_write(st->fd, st->spooled, data, keep) < 0) {
			cy_log_warn("job_log_spool_failed", "job_id", l->job_id, "error",
			    strerror(errno), NULL);
			keep = 0;
			st->stopped = true;
		}
		st->spooled += (long long)keep;
		if (keep < len)
			st->stopped = true;
		kick = st->spooled - st->sent >= LOGSHIP_CHUNK_MAX;
	}
	pthread_mutex_unlock(&l->lock);
	if (kick)
		logship_kick();
}

/* True when the sender has nothing more to do for l. */
static bool
done(struct job_log *l)
{
	return l->dead || (l->s[0].eof_sent && l->s[1].eof_sent);
}

int
job_log_finish(struct job_log *l, long long idle_ms)
{
	struct timespec ts;
	bool ok;
	int s;

	if (!l)
		return 0;
	pthread_mutex_lock(&l->lock);
	l->finished = true;
	l->progress_ms = l->finished_ms = cy_mono_ms();
	/* A stream the job never wrote to has nothing to send. */
	for (s = 0; s < 2; s++)
		if (l->s[s].total == 0)
			l->s[s].eof_sent = true;
	ok = done(l);
	pthread_mutex_unlock(&l->lock);
	/* The tail goes from this thread; the sender takes over if it cannot. */
	if (!ok && logship_flush(l) < 0)
		logship_kick();
	pthread_mutex_lock(&l->lock);
	while (!(ok = done(l)) && cy_mono_ms() - l->progress_ms <= idle_ms) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += FINISH_POLL_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&l->changed, &l->lock, &ts);
	}
	ok = ok && !l->dead;
	pthread_mutex_unlock(&l->lock);
	if (!ok)
		cy_log_warn("job_log_unsent", "job_id", l->job_id, "note",
		    "the result goes out before the end of the logs; sending goes on", NULL);
	return ok ? 0 : -1;
}

void
job_log_release(struct job_log *l)
{
	if (l)
		job_log_unref(l);
}

void
job_log_unref(struct job_log *l)
{
	int refs, s;

	pthread_mutex_lock(&l->lock);
	refs = --l->refs;
	pthread_mutex_unlock(&l->lock);
	if (refs > 0)
		return;
	for (s = 0; s < 2; s++)
		if (l->s[s].fd >= 0)
			close(l->s[s].fd);
	pthread_cond_destroy(&l->changed);
	pthread_mutex_destroy(&l->lock);
	free(l);
}
