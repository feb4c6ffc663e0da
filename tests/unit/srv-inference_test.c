/*
 * Unit tests for server/inference-select.c: the default model of
 * contract 4.6 (the node labelled orchestrator_host, else the one with the
 * most GPU memory, ties to the lowest slug; the first model of its memory
 * tier it has, else its first model; a pinned inference.default_model
 * wins), name resolution ("llama3.2" is "llama3.2:latest"), the node chosen
 * for a model (least loaded) and the OpenAI model list.  Fleets are built
 * in memory; links the server's objects (srv-*_test rule in the Makefile).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "inference.h"
#include "json.h"
#include "server.h"
#include "tap.h"

struct server srv;

/* node SLUG VRAM_MB HOST RUNNING MODEL... NULL */
static void
add_node(struct inf_fleet *f, const char *slug, long long vram, bool host, long long running, ...)
{
	struct inf_node *nd;
	const char *m;
	va_list ap;

	f->nodes = xreallocarray(f->nodes, f->n + 1, sizeof(*f->nodes));
	nd = &f->nodes[f->n++];
	memset(nd, 0, sizeof(*nd));
	xsnprintf(nd->id, sizeof(nd->id), "00000000-0000-4000-8000-%012zu", f->n);
	xsnprintf(nd->slug, sizeof(nd->slug), "%s", slug);
	nd->target_url = xstrdup("http://127.0.0.1:1");
	nd->token_sealed = xstrdup("00");
	nd->vram_mb = vram;
	nd->orchestrator_host = host;
	nd->running = running;
	va_start(ap, running);
	/* The models must be sorted, as the loader leaves them. */
	while ((m = va_arg(ap, const char *)) != NULL) {
		nd->models = xreallocarray(nd->models, nd->nmodels + 1, sizeof(char *));
		nd->models[nd->nmodels++] = xstrdup(m);
	}
	va_end(ap);
	f->dispatchable = f->n;
}

static void
test_default_model(void)
{
	struct inf_fleet f = { 0 };

	is_str(inference_default_model(&f), NULL, "empty fleet: no model");
	add_node(&f, "small", 0, false, 0, "llama3.2:1b", "qwen3.5:0.8b", NULL);
	is_str(inference_default_model(&f), "qwen3.5:0.8b", "small tier: qwen3.5:0.8b");
	add_node(&f, "big", 24576, false, 0, "qwen2.5:14b", "qwen3.5:9b", NULL);
	is_str(inference_default_model(&f), "qwen2.5:14b",
	    "the node with the most VRAM; first of its 24 GB tier that it has");
	add_node(&f, "mid", 16384, false, 0, "qwen2.5:14b", "qwen3.5:9b", NULL);
	is_str(inference_default_model(&f), "qwen2.5:14b", "still the biggest node");
	add_node(&f, "zz-host", 0, true, 0, "mistral:7b", NULL);
	is_str(inference_default_model(&f), "mistral:7b",
	    "orchestrator_host wins; no tier model there: its first model");
	srv.cfg.inference_model = "llama3.2:1b";
	is_str(inference_default_model(&f), "llama3.2:1b", "inference.default_model pins");
	srv.cfg.inference_model = NULL;
	inference_fleet_release(&f);

	add_node(&f, "b-node", 8192, false, 0, "qwen3.5:0.8b", "qwen3.5:9b", NULL);
	add_node(&f, "a-node", 8192, false, 0, "qwen3.5:0.8b", NULL);
	is_str(inference_default_model(&f), "qwen3.5:0.8b",
	    "equal VRAM: the lowest slug (a-node), first of the 8 GB tier it has");
	inference_fleet_release(&f);

	add_node(&f, "pulling", 99999, false, 0, NULL);
	add_node(&f, "ready", 0, false, 0, "phi3:mini", NULL);
	is_str(inference_default_model(&f), "phi3:mini", "a node with no model yet is skipped");
	inference_fleet_release(&f);
}

static void
test_resolve_and_pick(void)
{
	struct inf_fleet f = { 0 };
	const struct inf_node *nd;
	json_t *list;

	add_node(&f, "n1", 0, false, 3, "llama3.2:latest", "qwen3.5:0.8b", NULL);
	add_node(&f, "n2", 0, false, 1, "qwen3.5:0.8b", NULL);
	is_str(inference_fleet_resolve(&f, "llama3.2"), "llama3.2:latest",
	    "a name without a tag is :latest");
	is_str(inference_fleet_resolve(&f, "library/llama3.2:latest"), "llama3.2:latest",
	    "library/ is dropped");
	is_str(inference_fleet_resolve(&f, "qwen3.5:0.8b"), "qwen3.5:0.8b", "exact name");
	is_str(inference_fleet_resolve(&f, "qwen3.5"), NULL, "another tag is another model");
	ok(inference_fleet_has(&f, "qwen3.5:0.8b"), "fleet has qwen3.5:0.8b");
	ok(!inference_fleet_has(&f, "llama3.2"), "has() takes exact names");
	nd = inference_pick_node(&f, "qwen3.5:0.8b");
	is_str(nd ? nd->slug : NULL, "n2", "the least loaded node");
	nd = inference_pick_node(&f, "llama3.2:latest");
	is_str(nd ? nd->slug : NULL, "n1", "the only node with the model");
	inference_node_busy(f.nodes[1].id, 5);
	nd = inference_pick_node(&f, "qwen3.5:0.8b");
	is_str(nd ? nd->slug : NULL, "n1", "requests relayed here count as load");
	inference_node_busy(f.nodes[1].id, -5);
	ok(inference_pick_node(&f, "nosuch:1b") == NULL, "no node for an unknown model");

	list = inference_models_json(&f);
	is_str(json_string_value(json_object_get(list, "object")), "list", "object list");
	is_int(json_array_size(json_object_get(list, "data")), 2, "two models");
	is_str(cy_json_str(json_array_get(json_object_get(list, "data"), 0), "id"),
	    "llama3.2:latest", "sorted by id");
	is_int(json_integer_value(
		   json_object_get(json_array_get(json_object_get(list, "data"), 1), "nodes")),
	    2, "qwen3.5:0.8b is on two nodes");
	json_decref(list);
	inference_fleet_release(&f);
}

int
main(void)
{
	RUN_TEST(test_default_model);
	RUN_TEST(test_resolve_and_pick);
	return tap_done();
}
