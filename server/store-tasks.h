/*
 * SQL for tasks and their jobs as the task routes see them: creation (task,
 * attachments and job in one transaction), listing with a keyset cursor,
 * lookup by id or name, results, logs and cancel.  Task rows come back with
 * the columns of TASK_COLS, in the order of enum task_col.
 */
#ifndef SERVER_STORE_TASKS_H
#define SERVER_STORE_TASKS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"

enum task_col {
	TC_ID,
	TC_OWNER,
	TC_STATUS,
	TC_NAME,
	TC_PROMPT,
	TC_CREATED,
	TC_UPDATED,
	TC_ATTACHMENTS,
	TC_CURSOR_US,
	TC_INPUT_MODE,
	TC_ARRAY_SPEC, /* NULL: not an array */
	TC__COUNT
};

enum job_col {
	JC_ID,
	JC_STATUS,
	JC_RESULT,
	JC_EXIT_CODE,
	JC_STARTED,
	JC_ENDED,
	JC_STDOUT,
	JC_STDERR,
	JC_ARRAY_INDEX, /* NULL: not an array element */
	JC__COUNT
};

/* A file placed at /workspace/<name> before the job runs. */
struct task_attachment {
	const char *name; /* checked with cy_relpath_valid */
	const char *sha256;
};

struct task_new {
	const char *user_id;
	const char *project_id; /* NULL: the caller's default project */
	const char *name;       /* normalised; NULL or "": generated */
	const char *prompt;
	const char *input_mode;                    /* prompt | script | commands */
	const struct task_attachment *attachments; /* uploads of user_id */
	size_t nattachments;
	const char *payload;     /* the job payload (JSON object) */
	const char *fail_result; /* non-NULL: the job fails at once with this result */
	/* Idempotency, priority, retry policy, placement requirements. */
	const char *idempotency_key; /* NULL: none */
	const char *priority;        /* integer text -1000..1000 */
	const char *max_attempts;    /* integer text 1..100 */
	const char *retry_backoff_s; /* integer text 0..86400 */
	const char *req_labels;      /* PostgreSQL text[] literal */
	const char *req_gpus;        /* integer text */
	/* Reserved on the node while the job runs (integer text; NULL: 0). */
	const char *req_cpus, *req_memory_mb;
	const char *queue;         /* a queue's name; NULL: default (it must exist) */
	const char *req_gpu_model; /* NULL: any model */
	const char *req_nodes;     /* text[] literal of node slugs; NULL: any node */
	/* The job runs where an inference backend serves req_model (NULL: any). */
	bool req_inference;
	const char *req_model;
	/*
	 * Dependencies: the ids of tasks of user_id (uuid[] literal) and, in
	 * the same order, their conditions ok | notok | any (text[] literal);
	 * NULL: none.  store_task_deps_resolve() gives the ids.
	 */
	const char *after_ids, *after_conds;
	/*
	 * A job array: the spec as given, the cap (integer text, NULL: none)
	 * and the indexes (int[] literal, ascending); NULL: one job.
	 */
	const char *array_spec, *array_cap, *array_idx;
};

/*
 * The caller's tasks named by refs (a text[] literal of ids or names): a
 * row per ref in order, with the task's id or NULL when the caller has no
 * such task.  NULL with err set.
 */
/*
 * Whether any registered node has t's GPUs, CPUs, memory and every label:
 * 0 when one does, 1 with why when none does, -1.
 */
int store_task_fit_problem(const struct task_new *t, char *why, size_t size, struct cy_error *err);
PGresult *store_task_deps_resolve(const char *user_id, const char *refs, struct cy_error *err);

/*
 * Creates the task, its attachments, its dependencies and its job in one
 * transaction: a job with dependencies still open waits (not_before
 * 'infinity') until they end (migration 0090).  Returns the task row, or
 * NULL with err set (err->code ENOENT: unknown project_id, or a dependency
 * that already ended in a way its condition cannot accept, with why).
 * With an idempotency key the user used before, returns that first task
 * instead and sets *replayed.
 */
PGresult *store_task_create(const struct task_new *t, bool *replayed, struct cy_error *err);
/*
 * Adds k to user_id's task name counter (made at 0 when missing): its new
 * value, or 0 with err set.  See task-counter.h.
 */
long long store_task_counter_add(const char *user_id, long long k, struct cy_error *err);

/*
 * The tasks of user_id (NULL: every user's), newest first, at most `limit` + 1 rows (the extra one
 * says there is a next page).  status_db and the cursor (cursor_id NULL =
 * first page) are optional.  Column TC__COUNT is the pending reason of the
 * task's queued job, NULL when none waits.
 */
PGresult *store_task_list(const char *user_id, const char *status_db, long long cursor_us,
    const char *cursor_id, long long limit, struct cy_error *err);

/*
 * Finds a task by UUID (any owner: the caller checks TC_OWNER) or else by the
 * caller's task name.  Zero rows when unknown.
 */
PGresult *store_task_find(const char *user_id, const char *ref, struct cy_error *err);

/* The task's DB status only (zero rows when gone). */
PGresult *store_task_status(const char *task_id, struct cy_error *err);

/* The task's jobs, oldest first, columns of enum job_col. */
PGresult *store_task_jobs(const char *task_id, struct cy_error *err);

/*
 * The task's latest job as one JSON object built in SQL (one row, one
 * column; zero rows when it has none): its status, node, attempts, exit
 * code, times and durations, and the fields it was created with.
 */
PGresult *store_task_job_info(const char *task_id, struct cy_error *err);

/*
 * An array task's summary as one JSON object built in SQL (one row; zero
 * rows when the task is not an array): spec, cap, size and the elements
 * per state (queued, held by the cap or a dependency, running, completed,
 * failed, canceled).
 */
PGresult *store_task_array(const char *task_id, struct cy_error *err);

/*
 * Cancels a non-terminal task and its non-terminal jobs.  Returns 1 when
 * canceled, 0 when the task was already terminal (its DB status copied into
 * `status`), -1 on error.
 */
int store_task_cancel(const char *task_id, char *status, size_t statuslen, struct cy_error *err);

/* Tasks by DB status, every status present (columns of enum state_count_col). */
PGresult *store_task_state_counts(struct cy_error *err);
/* Jobs queued and running (columns of enum state_count_col). */
PGresult *store_job_state_counts(struct cy_error *err);

#endif
