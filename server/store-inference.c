/*
 * SQL of the inference path: the dispatchable nodes whose capability
 * report says their backend runs, with their models, GPU memory and load,
 * and the token usage records.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "db.h"
#include "id.h"
#include "inference.h"
#include "json.h"
#include "store-nodes-sql.h"
#include "strnum.h"
#include "banned.h"

#define FLEET_MODELS_MAX 4096 /* per node: a report cannot make us hold more */

static int
model_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The valid model names of a JSON array text, sorted, without duplicates. */
static void
node_models(struct inf_node *nd, const char *json)
{
	json_t *arr = json_loads(json, 0, NULL), *v;
	size_t i, j;

	json_array_foreach(arr, i, v) {
		const char *m = json_string_value(v);

		if (!m || !cy_model_name_valid(m) || nd->nmodels >= FLEET_MODELS_MAX)
			continue;
		nd->models = xreallocarray(nd->models, nd->nmodels + 1, sizeof(char *));
		nd->models[nd->nmodels++] = xstrdup(m);
	}
	json_decref(arr);
	if (nd->nmodels == 0)
		return;
	qsort(nd->models, nd->nmodels, sizeof(char *), model_cmp);
	for (i = 1, j = 1; i < nd->nmodels; i++) {
		if (strcmp(nd->models[i], nd->models[j - 1]) == 0)
			free(nd->models[i]);
		else
			nd->models[j++] = nd->models[i];
	}
	nd->nmodels = j;
}

int
inference_fleet_load(struct inf_fleet *f, struct cy_error *err)
{
	const char *errstr;
	PGresult *res;
	int i, n;

	memset(f, 0, sizeof(*f));
	/* clang-format off */
	res = db_exec("inference_fleet",
		"SELECT n.id, n.node_slug, n.worker_api_target_url, "
		"encode(n.worker_api_bearer_token_enc, 'hex'), "
		SQL_NODE_LABELS " ? 'orchestrator_host', "
		"COALESCE((SELECT sum((d->>'vram_mb')::numeric) FROM jsonb_array_elements("
		"CASE WHEN jsonb_typeof(c.capability_snapshot->'gpu'->'devices') = 'array' "
		"THEN c.capability_snapshot->'gpu'->'devices' ELSE '[]' END) d "
		"WHERE jsonb_typeof(d->'vram_mb') = 'number'), 0)::bigint, "
		SQL_NODE_RUNNING ", "
		"CASE WHEN jsonb_typeof(c.capability_snapshot->'inference'->'available_models') = "
		"'array' THEN c.capability_snapshot->'inference'->'available_models' "
		"ELSE '[]' END::text, "
		SQL_NODE_INFERENCE " "
		"FROM nodes n LEFT JOIN node_capabilities c ON c.node_id = n.id "
		"WHERE " SQL_NODE_DISPATCHABLE " ORDER BY n.node_slug", 0, NULL, err);
	/* clang-format on */
	if (!res)
		return -1;
	n = PQntuples(res);
	f->dispatchable = (size_t)n;
	for (i = 0; i < n; i++) {
		struct inf_node *nd;

		if (strcmp(PQgetvalue(res, i, 8), "t") != 0)
			continue;
		f->nodes = xreallocarray(f->nodes, f->n + 1, sizeof(*f->nodes));
		nd = &f->nodes[f->n++];
		memset(nd, 0, sizeof(*nd));
		xsnprintf(nd->id, sizeof(nd->id), "%s", PQgetvalue(res, i, 0));
		xsnprintf(nd->slug, sizeof(nd->slug), "%s", PQgetvalue(res, i, 1));
		nd->target_url = xstrdup(PQgetvalue(res, i, 2));
		nd->token_sealed = xstrdup(PQgetvalue(res, i, 3));
		nd->orchestrator_host = strcmp(PQgetvalue(res, i, 4), "t") == 0;
		if (cy_strtonum(PQgetvalue(res, i, 5), 0, 1LL << 50, &nd->vram_mb, &errstr) < 0)
			nd->vram_mb = 0;
		if (cy_strtonum(PQgetvalue(res, i, 6), 0, 1LL << 40, &nd->running, &errstr) < 0)
			nd->running = 0;
		node_models(nd, PQgetvalue(res, i, 7));
	}
	PQclear(res);
	return 0;
}

void
inference_fleet_release(struct inf_fleet *f)
{
	size_t i, j;

	for (i = 0; i < f->n; i++) {
		for (j = 0; j < f->nodes[i].nmodels; j++)
			free(f->nodes[i].models[j]);
		free(f->nodes[i].models);
		free(f->nodes[i].target_url);
		free(f->nodes[i].token_sealed);
	}
	free(f->nodes);
	memset(f, 0, sizeof(*f));
}

int
store_inference_usage(const char *user_id, const char *model, const char *node_id,
    const char *task_id, const char *kind, long long requests, long long prompt_tokens,
    long long completion_tokens, struct cy_error *err)
{
	char rq[24], pt[24], ct[24];
	const char *p[8];
	PGresult *res;

	xsnprintf(rq, sizeof(rq), "%lld", requests < 0 ? 0 : requests);
	xsnprintf(pt, sizeof(pt), "%lld", prompt_tokens < 0 ? 0 : prompt_tokens);
	xsnprintf(ct, sizeof(ct), "%lld", completion_tokens < 0 ? 0 : completion_tokens);
	p[0] = user_id;
	p[1] = model;
	p[2] = node_id;
	p[3] = task_id;
	p[4] = kind;
	p[5] = rq;
	p[6] = pt;
	p[7] = ct;
	res = db_exec("inference_usage_add",
	    "INSERT INTO inference_usage (user_id, model, node_id, task_id, kind, requests, "
	    "prompt_tokens, completion_tokens) VALUES ((SELECT id FROM users WHERE id = $1::uuid), "
	    "$2, (SELECT id FROM nodes WHERE id = $3::uuid), $4::uuid, $5, $6::int, $7::bigint, "
	    "$8::bigint)",
	    8, p, err);
	if (!res)
		return -1;
	PQclear(res);
	return 0;
}
