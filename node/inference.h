/*
 * The node's inference backend (DESIGN 5a, contract 3.1 step 8, 3.4, 3.6):
 * ONE server speaking the Ollama API, either an existing service found at
 * inference.url or one the node starts (an `ollama serve` process, or a
 * podman/docker container) when the orchestrator's inference_backend says
 * so.  The node supervises what it started (restart with backoff, stop on
 * shutdown), pulls inference.models into it, and reports what it really has
 * in the capability report's `inference` object.
 *
 * All functions are thread-safe.  The state is one per process.
 */
#ifndef CY_NODE_INFERENCE_H
#define CY_NODE_INFERENCE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "error.h"

struct node;
struct node_config;

/* The Ollama API's port when inference.url names none. */
#define INFERENCE_DEFAULT_PORT 11434
#define INFERENCE_DEFAULT_URL "http://127.0.0.1:11434"

/* --- lifecycle (manager.c, config-apply.c, main.c) --- */

/*
 * Startup, before registration: unless inference.mode is disabled (or
 * sandbox.mode is sandbox_only), probes inference.url (GET /api/version,
 * short timeout) so the first capability report says whether an existing
 * service answers, and starts the supervisor thread.  0, or -1 with err.
 */
int node_inference_start(struct node *n, struct cy_error *err);

/*
 * Checks a config payload's inference_backend object ({enabled, image?,
 * variant?, port?}; NULL or JSON null = absent).  0, or -1 with err naming
 * the bad member (the config is then refused).
 */
int node_inference_check(const json_t *ib, struct cy_error *err);

/*
 * Hands the orchestrator's decision (a checked inference_backend, or NULL:
 * don't start one) to the supervisor and returns at once: enabled starts
 * ONE backend unless an existing service answers; disabled stops the one
 * the node started.
 */
void node_inference_configure(const json_t *ib);

/*
 * Startup (3.1 step 8, before the config ack): waits at most wait_ms for
 * the supervisor to carry out the last decision.  1 while it has not yet;
 * 0 when done (a backend answers, or none is needed); -1 with err when
 * inference.mode is require and no backend can be had.
 */
int node_inference_await(int wait_ms, struct cy_error *err);

/*
 * Heartbeat: asks the backend in use for its models (/api/tags, /api/ps)
 * so the next capability report lists what it has now.
 */
void node_inference_refresh(void);

/* The capability report's `inference` object (a new reference). */
json_t *node_inference_capability(void);

/*
 * Shutdown: stops the model pulls, the supervisor and the backend the node
 * started (SIGTERM to its process group, SIGKILL after a few seconds;
 * `<engine> stop` for a container).  An existing service is left alone.
 */
void node_inference_stop(void);

/* --- accessors (prompt jobs, the per-job proxy, /readyz) --- */

/*
 * The base URL of the backend in use ("http://127.0.0.1:11434", no
 * trailing slash) into out; false (out "") when none answers now.
 */
bool node_inference_url(char *out, size_t size);

/*
 * True when the backend in use lists model `name` (/api/tags as of the last
 * refresh; "llama3.2" matches "llama3.2:latest").
 */
bool node_inference_has_model(const char *name);

/*
 * True when a backend answers now.  Otherwise why (when not NULL) gets the
 * reason, naming inference.
 */
bool node_inference_ready(char *why, size_t size);

/* --- pure helpers (config.c, unit tests) --- */

/*
 * Splits "http://HOST[:PORT][/]" (HOST a name, an IPv4 address or a
 * bracketed IPv6 address; no path, query or user) into host (without
 * brackets) and port (INFERENCE_DEFAULT_PORT when absent).  0, or -1 with
 * err saying what is wrong.
 */
int node_inference_parse_url(const char *url, char *host, size_t hsize, unsigned *port,
    struct cy_error *err);

/* "HOST:PORT" (IPv6 bracketed) for OLLAMA_HOST and base URLs into out. */
void node_inference_hostport(const char *host, unsigned port, char *out, size_t size);

/* Progress of one streamed /api/pull, fed line by line. */
#define INFERENCE_PULL_LAYERS 32
struct inference_pull {
	char status[96]; /* the last status logged */
	struct {
		char digest[80];
		int decile; /* the last 10% step logged, -1 none */
	} layer[INFERENCE_PULL_LAYERS];
	unsigned nlayers;
	bool success;
	char error[256];
};

enum inference_pull_event {
	INFERENCE_PULL_NONE,     /* nothing worth a log line */
	INFERENCE_PULL_STATUS,   /* a new status: msg holds it */
	INFERENCE_PULL_PROGRESS, /* a layer passed a 10% step: msg "digest pct" */
	INFERENCE_PULL_DONE,     /* status success */
	INFERENCE_PULL_ERROR,    /* an error object or a line that is not one: msg */
};

void node_inference_pull_init(struct inference_pull *p);
/* Feeds one NDJSON line; msg (reset first) gets what to log. */
enum inference_pull_event node_inference_pull_line(struct inference_pull *p, const char *line,
    size_t len, struct cy_buf *msg);

#endif
