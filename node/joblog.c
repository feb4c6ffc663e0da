/*
 * The capture side of a job's streamed logs (joblog.h): the spool files,
 * unnamed files in the job directory made at a stream's first byte (they
 * live while the sender holds them), written where the node reads the
 * job's output.
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
job_log_open(struct node *n, const char *job_dir, const char *job_id, const char *lease_id)
{
	struct job_log *l;

	if (!lease_id)
		return NULL;
	l = xcalloc(1, sizeof(*l));
	xsnprintf(l->job_id, sizeof(l->job_id), "%s", job_id);
	if (cy_snprintf(l->lease_id, sizeof(l->lease_id), "%s", lease_id) < 0)
		l->lease_id[0] = '\0';
	l->dir = xstrdup(job_dir);
	l->cap = n->cfg.max_log_bytes;
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->changed, NULL);
	l->refs = 1;
	l->progress_ms = cy_mono_ms();
	l->s[0].fd = l->s[1].fd = -1;
	if (logship_add(l) < 0) {
		job_log_unref(l);
		return NULL;
	}
	return l;
}

/*
 * The spool of stream s, made at its first byte (most jobs write nothing,
 * and a file made on the node's disk costs more than the job): an unnamed
 * file in the job directory (O_TMPFILE), or one made in <job_dir>/logs and
 * unlinked at once where the file system has no O_TMPFILE.  Only the
 * descriptor is needed: the space goes with the last reference.
 * Under l->lock; -1 with errno.
 */
static int
spool_open(struct job_log *l, int s)
{
	static const char *const names[2] = { "stdout", "stderr" };
	char *dir, *p;
	int fd;

	fd = open(l->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	/* A prompt job has no directory until its first byte. */
	if (fd < 0 && errno == ENOENT && cy_mkdir_p(l->dir, 0711, 0711) == 0)
		fd = open(l->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd;
	dir = xasprintf("%s/logs", l->dir);
	if (cy_mkdir_p(dir, 0711, 0700) < 0) {
		free(dir);
		return -1;
	}
	p = xasprintf("%s/%s", dir, names[s]);
	fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0)
		unlink(p);
	free(p);
	free(dir);
	return fd;
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
		if (keep && st->fd < 0 && (st->fd = spool_open(l, s)) < 0) {
			cy_log_warn("job_log_spool_failed", "job_id", l->job_id, "error",
			    strerror(errno), NULL);
			keep = 0;
			st->stopped = true;
		} else if (keep && spool_write(st->fd, st->spooled, data, keep) < 0) {
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
	free(l->dir);
	pthread_cond_destroy(&l->changed);
	pthread_mutex_destroy(&l->lock);
	free(l);
}
