/*
 * The per-job inference socket (inference-proxy.c).
 */
#ifndef CY_NODE_INFERENCE_PROXY_H
#define CY_NODE_INFERENCE_PROXY_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

struct node;
struct inference_proxy;

/* What the sandbox gets in INFERENCE_PROXY_URL. */
#define INFERENCE_PROXY_URL "http+unix://%2Frun%2Fcynode%2Finference.sock"

/*
 * Makes <dir>/run/inference.sock and serves it (dir: the job's directory under
 * sandbox.staging_dir).  NULL with err when it
 * cannot.  inference_proxy_dir() is the directory to bind into the job.
 */
struct inference_proxy *inference_proxy_start(struct node *n, const char *job_id,
    const char *job_dir, struct cy_error *err);
const char *inference_proxy_dir(const struct inference_proxy *p);
/* The sandbox runtime's start hook: the job's first process. */
void inference_proxy_started(void *arg, pid_t pid);
/*
 * Stops serving (requests still in flight are stopped) and frees p.
 * Returns the job's usage, an array of {model, requests, prompt_tokens,
 * completion_tokens} (new reference, empty when none).
 */
json_t *inference_proxy_stop(struct inference_proxy *p);

/* For the unit test: true when pid descends from root (via /proc/PID/stat). */
bool inference_proxy_descends(pid_t pid, pid_t root);

#endif
