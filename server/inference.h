/*
 * The server's side of the inference path (DESIGN.md 5a): which
 * dispatchable nodes have a running inference backend and which models
 * each serves (store-inference.c), the default model (contract 4.6,
 * inference-select.c), readiness, the node a chat completion goes to, the
 * OpenAI-shaped errors of /v1/models and /v1/chat/completions and the
 * token usage records (usage.c).
 */
#ifndef SERVER_INFERENCE_H
#define SERVER_INFERENCE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "error.h"
#include "httpd.h"
#include "id.h"
#include "jcheck.h"

/* cy_model_name_valid in words, for messages. */
#define INFERENCE_MODEL_SHAPE "a model name (1 to 200 of A-Z a-z 0-9 . _ : / -, like qwen3.5:0.8b)"
_Static_assert(CY_MODEL_NAME_MAX == 200, "INFERENCE_MODEL_SHAPE says 200");

/* A dispatchable node whose inference backend runs. */
struct inf_node {
	char id[37];
	char slug[64];
	char *target_url;
	char *token_sealed;     /* hex, see node-token.h */
	char *tls_pin;          /* its registered key pin, "" when none (node-tls.h) */
	bool orchestrator_host; /* labelled orchestrator_host */
	long long vram_mb;      /* summed over its GPUs */
	long long running;      /* jobs running there now */
	char **models;          /* available_models, sorted */
	size_t nmodels;
};

struct inf_fleet {
	struct inf_node *nodes; /* by slug */
	size_t n;
	size_t dispatchable; /* dispatchable nodes, inference or not */
};

/* store-inference.c: loads the fleet; 0 or -1 with err. */
int inference_fleet_load(struct inf_fleet *f, struct cy_error *err);
void inference_fleet_release(struct inf_fleet *f);
/*
 * Records tokens used (kind "chat", "prompt" or "proxy"); user, node and
 * task may be NULL.  0 or -1.
 */
int store_inference_usage(const char *user_id, const char *model, const char *node_id,
    const char *task_id, const char *kind, long long requests, long long prompt_tokens,
    long long completion_tokens, struct cy_error *err);

/*
 * usage.c: chat completion usage, queued and written by a background
 * thread (records still queued at usage_stop are written first).
 */
void usage_record(const char *user_id, const char *model, const char *node_id,
    long long prompt_tokens, long long completion_tokens);
int usage_start(struct cy_error *err);
void usage_stop(void);

/*
 * The model listed by the fleet that `asked` names: the same string, or
 * the same model once "registry.ollama.ai/" and "library/" are dropped
 * and ":latest" is added to a name without a tag.  NULL when none serves
 * it; the pointer lives as long as the fleet.
 */
const char *inference_fleet_resolve(const struct inf_fleet *f, const char *asked);

/* inference-select.c */
/* True when some node of the fleet serves model. */
bool inference_fleet_has(const struct inf_fleet *f, const char *model);
/*
 * The default model (contract 4.6): inference.default_model when set, else
 * from the preferred node (labelled orchestrator_host, else the most VRAM;
 * ties to the lowest slug) the first model of its VRAM tier list that it
 * has, else its first model.  NULL when no node serves any model.
 */
const char *inference_default_model(const struct inf_fleet *f);
/*
 * The node to serve model: the one with the fewest running jobs plus
 * requests relayed by this server, ties broken by a rotating start.  NULL
 * when none serves it.
 */
const struct inf_node *inference_pick_node(const struct inf_fleet *f, const char *model);
/* Requests this server relays to a node now (+1 / -1 around each relay). */
void inference_node_busy(const char *node_id, int delta);
/*
 * Readiness (contract 3.8): 0 when an inference path exists, else -1 with
 * the reason.  With readiness.require_inference false a dispatchable node
 * suffices.
 */
int inference_ready(struct cy_buf *reason);
/* The OpenAI model list of the fleet (new reference). */
json_t *inference_models_json(const struct inf_fleet *f);

/* route-chat.c: GET /v1/models and POST /v1/chat/completions (OpenAI-compatible) */
void h_models_list(struct cy_http_req *req, struct cy_http_resp *resp);
void h_chat_completions(struct cy_http_req *req, struct cy_http_resp *resp);
extern const struct cy_jcheck chat_completions_body;
/* Shutdown: suspended completions answer 503 (call before the listeners stop). */
void chat_stop_all(void);

#endif
