/*
 * The state of one job's streamed logs, shared by the capture side
 * (joblog.c) and the sender (logship.c).  Every field below `lock` is
 * read and written under it; the spool bytes [0, spooled) never change
 * once written, so the sender reads them without the lock.
 */
#ifndef CY_NODE_JOBLOG_INT_H
#define CY_NODE_JOBLOG_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "joblog.h"

struct job_log_stream {
	int fd;            /* the spool file, -1 until the first byte (or when it could not be made) */
	long long total;   /* bytes the job wrote */
	long long spooled; /* [0, spooled) are in the spool */
	bool stopped;      /* the cap or a write error: the rest is only counted */
	long long sent;    /* the server has [0, sent) */
	bool full;         /* the server keeps no more: only the end is sent */
	bool eof_sent;     /* the server knows the stream's length */
};

struct job_log {
	struct job_log *next; /* the sender's list */
	char job_id[137];
	char lease_id[64];
	char *dir;     /* the job directory, where the spools are made */
	long long cap; /* sandbox.max_log_bytes */
	pthread_mutex_t lock;
	pthread_cond_t changed; /* the sender moved a stream on (job_log_finish waits) */
	int refs;
	struct job_log_stream s[2];
	bool shipping; /* a thread is sending it (the sender, or job_log_finish) */
	bool finished; /* the job has ended */
	bool dead;     /* the server refused the job, or never took it: nothing more is sent */
	int64_t progress_ms; /* when the sender last got something through */
	int64_t finished_ms; /* when the job ended (0: running) */
	/* The sender's own (no lock): when to try again after a failure. */
	int64_t next_try_ms;
	long long backoff_ms;
};

/* logship.c: adds l to the sender's list (taking a reference); -1 when not running. */
int logship_add(struct job_log *l);
/* Wakes the sender (a megabyte is waiting, or the job ended). */
void logship_kick(void);
/*
 * Sends what l has from the calling thread (the end of a job: each job's
 * thread sends its own tail, in parallel), taking turns with the sender.
 * 0 when all is sent, -1 when the server cannot take it now.
 */
int logship_flush(struct job_log *l);
/* Drops a reference; the last one closes the spools and frees l. */
void job_log_unref(struct job_log *l);

#endif
