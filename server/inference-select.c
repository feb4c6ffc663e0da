/*
 * Choices of the inference path: the default model (contract 4.6), the
 * node a model's request goes to, readiness (contract 3.8) and the model
 * list.  All work on a fleet snapshot from inference_fleet_load(), so one
 * request sees one consistent view.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "buf.h"
#include "id.h"
#include "inference.h"
#include "server.h"
#include "store-nodes.h"
#include "banned.h"

/* Contract 4.6: candidate models by the preferred node's GPU memory. */
static const char *const tier_24g[] = { "qwen3.5:35b", "qwen2.5:32b", "qwen2.5:14b", "qwen3.5:9b",
	"qwen3.5:0.8b", NULL };
static const char *const tier_16g[] = { "qwen3.5:9b", "qwen2.5:14b", "qwen3.5:0.8b", NULL };
static const char *const tier_8g[] = { "qwen3.5:9b", "qwen3.5:0.8b", NULL };
static const char *const tier_small[] = { "qwen3.5:0.8b", NULL };

static bool
node_has(const struct inf_node *nd, const char *model)
{
	size_t lo = 0, hi = nd->nmodels;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(nd->models[mid], model);

		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

bool
inference_fleet_has(const struct inf_fleet *f, const char *model)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (node_has(&f->nodes[i], model))
			return true;
	return false;
}

const char *
inference_fleet_resolve(const struct inf_fleet *f, const char *asked)
{
	char want[CY_MODEL_NAME_MAX + 16], have[CY_MODEL_NAME_MAX + 16];
	size_t i, j;

	for (i = 0; i < f->n; i++)
		for (j = 0; j < f->nodes[i].nmodels; j++)
			if (!strcmp(f->nodes[i].models[j], asked))
				return f->nodes[i].models[j];
	if (cy_model_name_canon(asked, want, sizeof(want)) < 0)
		return NULL;
	for (i = 0; i < f->n; i++) {
		for (j = 0; j < f->nodes[i].nmodels; j++) {
			if (cy_model_name_canon(f->nodes[i].models[j], have, sizeof(have)) < 0)
				continue;
			if (!strcmp(have, want))
				return f->nodes[i].models[j];
		}
	}
	return NULL;
}

/* True when a is preferred over b: orchestrator_host, then VRAM, then slug. */
static bool
node_preferred(const struct inf_node *a, const struct inf_node *b)
{
	if (a->orchestrator_host != b->orchestrator_host)
		return a->orchestrator_host;
	if (a->vram_mb != b->vram_mb)
		return a->vram_mb > b->vram_mb;
	return strcmp(a->slug, b->slug) < 0;
}

const char *
inference_default_model(const struct inf_fleet *f)
{
	const struct inf_node *best = NULL;
	const char *const *tier;
	size_t i;

	if (srv.cfg.inference_model && *srv.cfg.inference_model)
		return srv.cfg.inference_model;
	/* The preferred node among those that have a model at all. */
	for (i = 0; i < f->n; i++)
		if (f->nodes[i].nmodels && (!best || node_preferred(&f->nodes[i], best)))
			best = &f->nodes[i];
	if (!best)
		return NULL;
	tier = best->vram_mb >= 24000 ? tier_24g :
	       best->vram_mb >= 16000 ? tier_16g :
	       best->vram_mb >= 8000  ? tier_8g :
					tier_small;
	for (; *tier; tier++)
		if (node_has(best, *tier))
			return *tier;
	/*
	 * Contract 4.6 would fail here (no tier model); a fleet that serves
	 * other models is still an inference path, so use the node's first.
	 */
	return best->models[0];
}

/* Requests relayed to each node by this server, for load balancing. */
static pthread_mutex_t busy_lock = PTHREAD_MUTEX_INITIALIZER;
static struct busy {
	char id[37];
	long long n;
} busy[64];
static unsigned rotate;

void
inference_node_busy(const char *node_id, int delta)
{
	size_t i, free_slot = sizeof(busy) / sizeof(busy[0]);

	pthread_mutex_lock(&busy_lock);
	for (i = 0; i < sizeof(busy) / sizeof(busy[0]); i++) {
		if (!strcmp(busy[i].id, node_id))
			break;
		if (busy[i].n == 0 && free_slot == sizeof(busy) / sizeof(busy[0]))
			free_slot = i;
	}
	if (i == sizeof(busy) / sizeof(busy[0]))
		i = free_slot;
	if (i < sizeof(busy) / sizeof(busy[0])) {
		xsnprintf(busy[i].id, sizeof(busy[i].id), "%s", node_id);
		busy[i].n += delta;
		if (busy[i].n < 0)
			busy[i].n = 0;
	}
	pthread_mutex_unlock(&busy_lock);
}

static long long
node_busy(const char *node_id)
{
	long long n = 0;
	size_t i;

	for (i = 0; i < sizeof(busy) / sizeof(busy[0]); i++)
		if (!strcmp(busy[i].id, node_id))
			n = busy[i].n;
	return n;
}

const struct inf_node *
inference_pick_node(const struct inf_fleet *f, const char *model)
{
	const struct inf_node *best = NULL;
	long long best_load = 0;
	size_t k, start;

	if (f->n == 0)
		return NULL;
	pthread_mutex_lock(&busy_lock);
	start = rotate++ % f->n;
	for (k = 0; k < f->n; k++) {
		const struct inf_node *nd = &f->nodes[(start + k) % f->n];
		long long load;

		if (!node_has(nd, model))
			continue;
		load = nd->running + node_busy(nd->id);
		if (!best || load < best_load) {
			best = nd;
			best_load = load;
		}
	}
	pthread_mutex_unlock(&busy_lock);
	return best;
}

int
inference_ready(struct cy_buf *reason)
{
	struct cy_error err = CY_ERROR_INIT;
	struct inf_fleet f;
	const char *model;
	size_t i, with_models = 0;
	int rc;

	if (!srv.cfg.ready_needs_inference) {
		rc = store_nodes_ready(&err);
		if (rc == 1)
			return 0;
		if (rc < 0)
			cy_buf_addf(reason, "database unavailable: %s", err.msg);
		else
			cy_buf_addstr(reason,
			    "no inference path available (no dispatchable "
			    "nodes; register and configure a worker node or configure external "
			    "provider keys)");
		return -1;
	}
	if (inference_fleet_load(&f, &err) < 0) {
		cy_buf_addf(reason, "database unavailable: %s", err.msg);
		return -1;
	}
	for (i = 0; i < f.n; i++)
		if (f.nodes[i].nmodels)
			with_models++;
	rc = -1;
	if (f.dispatchable == 0) {
		cy_buf_addstr(reason,
		    "no inference path available (no dispatchable nodes; "
		    "register and configure a worker node or configure external provider keys)");
	} else if (with_models == 0) {
		cy_buf_addf(reason,
		    "no inference path available (%zu dispatchable node%s, none "
		    "with a running inference backend that has a model; see 'cynork nodes get "
		    "SLUG', or set readiness.require_inference: false for a batch-only site)",
		    f.dispatchable, f.dispatchable == 1 ? "" : "s");
	} else if (!(model = inference_default_model(&f)) || !inference_fleet_resolve(&f, model)) {
		cy_buf_addf(reason,
		    "the default model '%s' (inference.default_model) is not "
		    "available on any dispatchable node",
		    model ? model : "");
	} else {
		rc = 0;
	}
	inference_fleet_release(&f);
	return rc;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

json_t *
inference_models_json(const struct inf_fleet *f)
{
	json_t *data = json_array(), *byname = json_object(), *o;
	const char *name;
	size_t i, j;
	time_t now = time(NULL);

	for (i = 0; i < f->n; i++) {
		for (j = 0; j < f->nodes[i].nmodels; j++) {
			const char *m = f->nodes[i].models[j];

			o = json_object_get(byname, m);
			if (!o) {
				o = json_pack("{s:s, s:s, s:I, s:s, s:i}", "id", m, "object",
				    "model", "created", (json_int_t)now, "owned_by", "cynode",
				    "nodes", 0);
				json_object_set_new(byname, m, o);
			}
			json_object_set_new(o, "nodes",
			    json_integer(json_integer_value(json_object_get(o, "nodes")) + 1));
		}
	}
	/* jansson keeps insertion order; sort the names for a stable list. */
	{
		const char **names = xcalloc(json_object_size(byname) + 1, sizeof(char *));
		size_t n = 0;

		json_object_foreach(byname, name, o)
			names[n++] = name;
		qsort(names, n, sizeof(char *), name_cmp);
		for (i = 0; i < n; i++)
			json_array_append(data, json_object_get(byname, names[i]));
		free(names);
	}
	json_decref(byname);
	return json_pack("{s:s, s:o}", "object", "list", "data", data);
}
