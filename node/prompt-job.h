/*
 * Prompt jobs: the model answers, no sandbox (prompt-job.c).
 */
#ifndef CY_NODE_PROMPT_JOB_H
#define CY_NODE_PROMPT_JOB_H

#include <jansson.h>
#include <signal.h>
#include <stddef.h>

#include "buf.h"
#include "error.h"

struct node;
struct job_log;
struct sandbox_result;

struct prompt_job {
	const char *model; /* borrowed from the request */
	const char *prompt;
	const char *system;            /* the task's skills, or NULL */
	long long timeout_s;           /* effective, 0 = none */
	size_t max_output;             /* stdout cap */
	struct job_log *log;           /* the streamed logs (joblog.h), or NULL */
	volatile sig_atomic_t *cancel; /* set by a cancel */
};

/* Reads the request's "inference" object; -1 with the reason in d. */
int prompt_job_parse(const json_t *inf, struct prompt_job *p, struct cy_buf *d);
/*
 * Asks the backend.  0 with res filled (completed, failed with the
 * backend's reason, timeout or canceled) and *info the result's
 * "inference" object; -1 with err when the backend cannot take the job
 * here at all (err->code EAGAIN: not running, ENOENT: model not here).
 */
int prompt_job_run(struct node *n, const struct prompt_job *p, struct sandbox_result *res,
    json_t **info, struct cy_error *err);

#endif
