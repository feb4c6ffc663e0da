/*
 * SQL of the durable job logs (migrations/0062_logs.sql): appending a
 * chunk a node streams (store_logs_append), the log state of each job of
 * a task (store_logs_task) and the stored bytes of one stream
 * (store_logs_read).  logs.h has the routes that use them.
 */
#ifndef SERVER_STORE_LOGS_H
#define SERVER_STORE_LOGS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "error.h"

/* The largest chunk one request may carry (and one job_log_chunks row holds). */
#define LOGS_CHUNK_MAX (1024 * 1024)
/* Offsets are below this (2^50 bytes: a PiB). */
#define LOGS_OFFSET_MAX (1LL << 50)

/* One chunk of a stream: data[0..len) are the stream's bytes from offset on. */
struct log_chunk {
	const char *job_id;
	const char *lease_id; /* the attempt the node runs */
	const char *node_id;  /* the node sending it */
	const char *stream;   /* "stdout" | "stderr" */
	long long offset;
	const char *data;
	size_t len;
	bool eof;              /* the stream ends at offset + len */
	long long limit_bytes; /* kept per stream (from the first chunk on) */
};

/* A stream's state after an append (or when the append was refused). */
struct log_state {
	long long stored_bytes; /* the prefix kept */
	long long end_offset;   /* bytes the job wrote so far (kept or not) */
	long long limit_bytes;
	bool ended;
	char task_id[37]; /* the job's task when the append changed the stream, else "" */
};

/*
 * Appends the part of c past the stream's end (a chunk sent again stores
 * nothing twice; only bytes below the limit are kept, the rest counted).
 * 0 with *st the new state (a change is announced on the NOTIFY channel
 * cynode_task_logs with the task id, for the follow long polls); -1 with err: err->code ENOENT when
 * no attempt of c->job_id under c->lease_id ran on c->node_id, ERANGE when the chunk does not fit
 * the stream (a gap before it, past the end of an ended stream; err->msg says which, *st the stored
 * state), else a database error.
 */
int store_logs_append(const struct log_chunk *c, struct log_state *st, struct cy_error *err);

/* The columns of store_logs_task: one row per job, in creation order. */
enum logs_col {
	LC_JOB_ID,
	LC_JOB_STATUS,
	LC_LEASE_ID,   /* the latest attempt, or NULL */
	LC_OUT_STORED, /* NULL: no streamed stdout for that attempt */
	LC_OUT_END,
	LC_OUT_ENDED,
	LC_ERR_STORED, /* NULL: no streamed stderr */
	LC_ERR_END,
	LC_ERR_ENDED,
	LC_RESULT_OUT, /* the result's stdout ("" when none) */
	LC_RESULT_ERR,
	LC__COUNT
};
/* The log state of every job of task_id (its latest attempt), or NULL with err. */
/* array_index: only that element's job (integer text); NULL: all the task's jobs. */
PGresult *store_logs_task(const char *task_id, const char *array_index, struct cy_error *err);

/*
 * Appends the stored bytes [off, off + max) of a stream of attempt lease_id
 * to b (fewer when the stream is shorter).  0, or -1 with err.
 */
int store_logs_read(const char *lease_id, const char *stream, long long off, long long max,
    struct cy_buf *b, struct cy_error *err);

#endif
