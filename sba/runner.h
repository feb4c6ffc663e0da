/*
 * cynode-sba: the agent runner, a small program the node starts as an agent
 * job's command inside its sandbox (README "Agent jobs").  It reads the job
 * spec from /job/job.json (sandbox.sba), checks it (lib/sba.c), runs the
 * spec's steps in /workspace, then lets the model drive tool calls toward
 * the goal through the job's inference socket ($INFERENCE_PROXY_URL, never
 * TCP), and leaves the result in /workspace/.cynode/sba_result.json, which
 * the node reads back, checks and reports as the job's sba_result.
 */
#ifndef CY_SBA_RUNNER_H
#define CY_SBA_RUNNER_H

#include <jansson.h>
#include <stdbool.h>

#include "buf.h"
#include "sba.h"

/* What a step's record keeps of its output (the job's log has all of it). */
#define SBA_OUTPUT_KEEP (16 * 1024)
#define SBA_STEP_TIMEOUT_DEFAULT 600

struct sba_run {
	const json_t *spec;
	const char *job_id;
	const char *workspace; /* "/workspace", or $SBA_WORKSPACE for tests */
	char *socket;          /* the inference socket's path */
	char *base_url;        /* "http://localhost" + the URL's path */
	const char *model;
	json_t *steps;     /* the result's step records */
	json_t *artifacts; /* files the steps wrote, relative to the workspace */
	int nstep;         /* steps run so far (spec and agent) */
	json_t *usage;     /* {prompt_tokens, completion_tokens} */
};

/* steps.c: one step each; returns its record (new), status "ok" or not. */
json_t *sba_step_run(struct sba_run *r, const char *origin, const char *const *argv,
    long long timeout_s);
json_t *sba_step_write(struct sba_run *r, const char *origin, const char *path, const char *content,
    size_t len);
json_t *sba_step_read(struct sba_run *r, const char *origin, const char *path, struct cy_buf *out);
/* s[0..n) as a JSON string, made valid UTF-8 (a cut character, binary bytes). */
json_t *sba_json_text(const char *s, size_t n);
/* True when the record says the step went well. */
bool sba_step_ok(const json_t *rec);

/* infer.c: POST /v1/chat/completions (not streamed); the message, or NULL and why. */
json_t *sba_chat(struct sba_run *r, const json_t *messages, const json_t *tools,
    struct cy_buf *why);
/* Parses INFERENCE_PROXY_URL ("http+unix://<%-encoded socket path>[/path]"). */
int sba_infer_setup(struct sba_run *r, const char *url, struct cy_buf *why);

/* agent.c: the model's turn toward the goal; 0 with *reply, or -1 and why. */
int sba_agent(struct sba_run *r, const char *goal, const char *context, char **reply,
    struct cy_buf *why);

#endif
