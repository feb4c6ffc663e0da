/*
 * A job's complete stdout and stderr, streamed to the server while the job
 * runs.  Capture and sending are apart:
 *
 *  - capture (joblog.c): job_log_write() is called where the node reads
 *    the job's output (sandbox.c's capture point, prompt-job.c's answer);
 *    it appends to a spool file per stream made under <job_dir>/logs and
 *    unlinked at once, so it goes when the sender is done with it (at most
 *    sandbox.max_log_bytes each; more is counted, not kept) and never
 *    waits for the network, so a slow or absent server never slows the
 *    job;
 *  - sending (logship.c): one thread posts what each spool has past what
 *    the server confirmed, every LOGSHIP_TICK_MS or sooner when a
 *    megabyte is waiting, as POST /v1/nodes/jobs/{id}/logs chunks (the
 *    attempt's lease, stream, offset; at most 1 MiB), retrying with a
 *    backoff when the server cannot take them; offsets make a resend
 *    harmless.  When the job has ended, job_log_finish() marks the end of
 *    each stream and waits for everything to be sent before the result
 *    goes out; a held result (results.c) waits while job_log_pending().
 */
#ifndef CY_NODE_JOBLOG_H
#define CY_NODE_JOBLOG_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

struct node;
struct job_log;

enum {
	JOB_LOG_OUT,
	JOB_LOG_ERR
};

#define LOGSHIP_TICK_MS 250
#define LOGSHIP_CHUNK_MAX (1024 * 1024)

/*
 * The streamed logs of job job_id's attempt lease_id, handed to the
 * sender; each stream's spool is made in job_dir at its first byte (a
 * spool that cannot be made is logged, and what it would have held is
 * counted as lost).  NULL (nothing streamed) when lease_id is NULL (a job
 * run without a server) or the sender is not running.
 */
struct job_log *job_log_open(struct node *n, const char *job_dir, const char *job_id,
    const char *lease_id);
/* The capture point: the job wrote data[0..len) on stream s.  l may be NULL. */
void job_log_write(struct job_log *l, int s, const char *data, size_t len);
/*
 * The job has ended: sends the end of both streams and waits until the
 * server has everything, the server refused the job, or no progress was
 * made for idle_ms.  0 when all was sent.  l may be NULL.
 */
int job_log_finish(struct job_log *l, long long idle_ms);
/* Drops the caller's reference (the sender keeps its own until done). */
void job_log_release(struct job_log *l);

/* logship.c: the sender thread. */
int logship_start(struct node *n, struct cy_error *err);
void logship_stop(void);
/* True while logs of job_id wait to be sent (its held result waits too). */
bool job_log_pending(const char *job_id);

#endif
