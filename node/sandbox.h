/*
 * The sandbox runtime interface: a job spec in, a bounded result out, and a
 * small table of functions (probe, run, kill) so other runtimes (podman,
 * docker) can stand in for bubblewrap.
 */
#ifndef CY_NODE_SANDBOX_H
#define CY_NODE_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "error.h"

enum sandbox_status { SANDBOX_COMPLETED, SANDBOX_FAILED, SANDBOX_TIMEOUT };

struct sandbox_job {
	const char *task_id;
	const char *job_id;
	char **argv;		/* NULL-terminated */
	char **env;		/* "KEY=VALUE", NULL-terminated, already filtered */
	const char *rootfs;	/* image directory, NULL = the host's /usr etc. */
	const char *job_dir;	/* <mount_root>/<job_id>, with workspace/ and job/ */
	long long timeout_s;
	size_t max_output;	/* per stream */
};

struct sandbox_result {
	enum sandbox_status status;
	int exit_code;		/* -1 on timeout or launch failure */
	struct cy_buf out, err;
	bool trunc_out, trunc_err;
	time_t started, ended;
};

struct sandbox_runtime {
	const char *name;
	/* 0 when sandboxes can run here, else -1 with the reason. */
	int (*probe)(const char *mount_root, struct cy_error *err);
	/* Runs the job to the end; -1 only for node errors (result then unset). */
	int (*run)(const struct sandbox_job *job, struct sandbox_result *res,
		struct cy_error *err);
	/* Kills a running job; 0 when it was running. */
	int (*kill)(const char *job_id);
	/* Kills every running job (shutdown). */
	void (*kill_all)(void);
};

extern const struct sandbox_runtime sandbox_bwrap;

void sandbox_result_release(struct sandbox_result *res);
/* Cuts b to at most max bytes at a UTF-8 boundary and replaces invalid bytes with U+FFFD. */
void sandbox_utf8_clean(struct cy_buf *b, size_t max);

#endif
