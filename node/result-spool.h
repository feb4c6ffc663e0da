/*
 * The result spool: every finished job's result, kept on disk from before
 * jobs:run answers until the server says it no longer wants it (results.c).
 *
 * One append-only file, <dir>/journal, of JSON lines
 *
 *   {"put":"<job id>","at":<unix seconds>,"result":{...}}
 *   {"drop":"<job id>"}
 *
 * and an index in memory of the results it holds (where each one's line
 * and result text are).  A put is one write(2); like the node's other state
 * it survives the daemon (a crash, a restart), not the machine (no fsync).
 * Opening takes an exclusive lock (flock(2) on <dir>/lock: one daemon a
 * state directory) and replays the file: a last line cut short by a crash is cut
 * off, a line that is not a record is skipped with a warning.  The file is
 * emptied when it holds nothing and rewritten with only the held lines once
 * it is four times their size and 1 MiB or more (on a drop, never in a
 * put).  Results kept by older versions as <dir>/<job id>.json are taken in.
 *
 * One file rather than one per result: a file per job cost an inode, a
 * rename and an unlink for every job, and the directory's churn made the
 * inode allocation the node daemon's largest cost in an end-to-end profile.
 *
 * All calls are safe from any thread.
 */
#ifndef CY_RESULT_SPOOL_H
#define CY_RESULT_SPOOL_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "buf.h"
#include "error.h"

struct spool_entry;

struct result_spool {
	pthread_mutex_t lock;
	char *path;               /* <dir>/journal */
	int fd;                   /* the journal, -1 until opened */
	int dir_fd;               /* the directory */
	int lock_fd;              /* <dir>/lock, flock'd: one daemon a directory */
	off_t size;               /* where the next line goes */
	off_t live;               /* bytes of the lines of held results */
	size_t count;             /* results held */
	struct spool_entry *head; /* oldest first */
	struct spool_entry *tail;
	void *tree; /* tsearch(3) index by id */
};

#define RESULT_SPOOL_INIT \
	{ \
		.lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1, .dir_fd = -1, .lock_fd = -1 \
	}

/* Opens (creating dir, mode 0700), locks and replays; 0, or -1 with err set. */
int result_spool_open(struct result_spool *s, const char *dir, struct cy_error *err);
/* Closes, unlocks and forgets the index (the file stays). */
void result_spool_close(struct result_spool *s);

/*
 * Keeps result (a JSON object) for id (a job id: job_id_valid), replacing
 * one kept before; 0 or -1 (errno; EINVAL for a bad id, EBADF when closed).
 */
int result_spool_put(struct result_spool *s, const char *id, const json_t *result);
/*
 * The kept result of id as JSON text into out; 0, or -1 with errno ENOENT
 * when none is kept, EBADMSG when its line is not a result (it never will
 * be), EBADF when the spool is closed, another errno when reading failed.
 */
int result_spool_get(struct result_spool *s, const char *id, struct cy_buf *out);
/*
 * Forgets id's result if it was put at or before put_by (nothing when none
 * is kept): a caller that listed or read the result, waited, and drops it
 * passes the time it listed it by, so a newer result for the same job id
 * (another attempt, put meanwhile) stays.
 */
void result_spool_drop(struct result_spool *s, const char *id, time_t put_by);
/*
 * The ids held, oldest first, as a new JSON array; those put at or before
 * `cutoff` are appended to `old` too (when not NULL).
 */
json_t *result_spool_ids(struct result_spool *s, time_t cutoff, json_t *old);

#endif
