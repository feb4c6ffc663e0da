/*
 * Internal interface between the inference modules: inference.c (state,
 * supervisor, reports), inference-run.c (starting and stopping an
 * `ollama serve` process or a podman/docker container) and
 * inference-pull.c (model names, pulls).  Not used outside them.
 */
#ifndef CY_NODE_INFERENCE_BACKEND_H
#define CY_NODE_INFERENCE_BACKEND_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "error.h"

/* What to start (from node.yaml and the orchestrator's inference_backend). */
struct inf_spec {
	const char *runtime; /* process | podman | docker */
	const char *ollama_path;
	const char *state_dir; /* models under <state_dir>/ollama */
	const char *slug;      /* node.id: names the container */
	const char *host;      /* where it listens */
	unsigned port;
	const char *image;   /* the orchestrator's, or NULL: ollama/ollama */
	const char *variant; /* cpu | cuda | rocm */
	bool allow_gpu;
};

/* Output lines of a backend process are cut at this length in the log. */
#define INF_LINE_MAX 1024

/* A started backend. */
struct inf_proc {
	pid_t pid;               /* process: the child, leader of its group; 0 none */
	int out;                 /* its stdout and stderr; -1 none */
	char line[INF_LINE_MAX]; /* the output line being read */
	size_t len;
	bool cut;       /* it was longer than INF_LINE_MAX */
	bool container; /* a container of this name runs */
	char name[160];
	char *engine;      /* the engine binary (container) */
	int64_t window_ms; /* output lines logged in the current window */
	unsigned logged, dropped;
};

/* clang-format off */
#define INF_PROC_INIT { .pid = 0, .out = -1 }
/* clang-format on */

/*
 * The binary `name` (absolute, or looked up on PATH and then /usr/bin,
 * /usr/local/bin, /bin), executable; a new string or NULL.
 */
char *inf_find_program(const char *name);

/*
 * Whether the configured runtime can start a backend here: the ollama
 * binary (process) or the engine binary exists and is executable.  why gets
 * the reason when not.
 */
bool inf_runtime_available(const char *runtime, const char *ollama_path, char *why, size_t size);

/*
 * True when host (a name or an address) is one of this machine's: a
 * loopback or unspecified address, or one assigned to a local interface.
 * Only there can the node start a backend.
 */
bool inf_host_local(const char *host);

/*
 * Starts the backend of spec s (process: fork/exec, no shell; container:
 * `<engine> run -d`).  *stop is polled while an engine command runs.  0, or
 * -1 with err.  Waiting until it answers is the caller's job.
 */
int inf_proc_start(struct inf_proc *p, const struct inf_spec *s, volatile sig_atomic_t *stop,
    struct cy_error *err);

/* Process runtime: true once the child has exited (reaped; why says how). */
bool inf_proc_exited(struct inf_proc *p, char *why, size_t size);

/* Reads what the child wrote so far and logs it, one line per line (capped). */
void inf_proc_drain(struct inf_proc *p);

/*
 * Stops it: SIGTERM to the process group, SIGKILL after grace_ms; a
 * container with `<engine> stop` then `rm -f`.  p is empty afterwards.
 */
void inf_proc_stop(struct inf_proc *p, int grace_ms);

/* inference-pull.c: the thread pulling inference.models. */
int inf_pull_start(const struct cy_strlist *models, struct cy_error *err);
/* Asks for a pass over the models (a backend came up). */
void inf_pull_kick(void);
/* Stops a pull in progress and the thread. */
void inf_pull_stop(void);

#endif
