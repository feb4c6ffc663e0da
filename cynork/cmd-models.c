/*
 * cynork models list: the models the fleet serves, from the gateway's
 * OpenAI-compatible GET /v1/models ({"object":"list","data":[{"id",
 * "object":"model","created","owned_by","nodes"}]}).  The fetch and the
 * sorted id list are shared with chat (/models, /model) and completion.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cynork.h"
#include "json.h"
#include "banned.h"

int
models_get(struct ctx *c, long timeout_ms, json_t **out)
{
	json_t *res = NULL;
	int rc = api_call_h(c, "GET", "/v1/models", NULL, true, NULL, timeout_ms, &res, NULL);

	*out = NULL;
	if (rc)
		return rc;
	/* Ollama's own /v1/models says "data": null when it has no model. */
	if (!json_is_array(json_object_get(res, "data")) &&
	    !json_is_null(json_object_get(res, "data"))) {
		json_decref(res);
		return fail(EXIT_PROTOCOL,
		    "malformed response from the gateway: no 'data' list of models");
	}
	*out = res;
	return 0;
}

static int
by_id(const void *a, const void *b)
{
	const char *x = cy_json_str(*(json_t *const *)a, "id");
	const char *y = cy_json_str(*(json_t *const *)b, "id");

	return strcmp(x, y);
}

/* The entries of res's data that have a string id, sorted by id (borrowed). */
static json_t **
models_sorted(const json_t *res, size_t *n)
{
	json_t *data = json_object_get(res, "data"), *e, **v;
	size_t i;

	v = xcalloc(json_array_size(data) + 1, sizeof(*v));
	*n = 0;
	json_array_foreach(data, i, e)
		if (cy_json_str(e, "id"))
			v[(*n)++] = e;
	qsort(v, *n, sizeof(*v), by_id);
	return v;
}

json_t *
models_ids(const json_t *res)
{
	json_t *ids = json_array(), **v;
	size_t i, n;

	v = models_sorted(res, &n);
	for (i = 0; i < n; i++)
		json_array_append_new(ids, json_string(cy_json_str(v[i], "id")));
	free(v);
	return ids;
}

/* models list: the columns (-o wide adds CREATED, the Unix time of the answer). */
static const struct col models_cols[] = {
	{ "MODEL_ID", 0 },
	{ "NODES", COL_RIGHT },
	{ "OWNED_BY", 0 },
	{ "CREATED", COL_WIDE },
	{ NULL, 0 },
};

static int
models_list(struct ctx *c, const struct parsed *p)
{
	struct out_table *t;
	json_t *res, **v;
	size_t i, n;
	int rc;

	if ((rc = models_get(c, 0, &res)) != 0)
		return rc;
	if (out_json(c))
		return print_json(res);
	v = models_sorted(res, &n);
	t = out_name(c) ? NULL : table_new(c, p, models_cols);
	for (i = 0; i < n; i++) {
		if (!t) {
			printf("%s\n", cy_json_str(v[i], "id"));
			continue;
		}
		table_row(t);
		table_cell(t, cy_json_str(v[i], "id"));
		table_cell_key(t, v[i], "nodes");
		table_cell(t, cy_json_str(v[i], "owned_by"));
		table_cell_key(t, v[i], "created");
	}
	free(v);
	json_decref(res);
	return t ? table_print(t) : 0;
}

/* clang-format off */
static const struct opt list_opts[] = {
	{ .name = "no-headers", .kind = OPT_BOOL, .help = "omit the header line" },
	{ NULL }
};
/* clang-format on */

const struct cmd cmd_models_list = {
	.path = "models list",
	.aliases = "ls",
	.summary = "list the models the nodes serve",
	.opts = list_opts,
	.flags = CMD_NEEDS_AUTH,
	.exec = models_list,
	.doc =
	    "Lists the models available across the fleet (GET /v1/models): a TAB-separated table "
	    "with the header MODEL_ID, NODES, OWNED_BY and one row per model, sorted by id; NODES is "
	    "how many nodes serve the model; -o wide adds CREATED (the answer's Unix time). -o json prints the gateway's answer as it came "
	    "({\"object\":\"list\",\"data\":[...]}, OpenAI's format); -o name prints only the ids. "
	    "Use an id with chat --model or task create --model.",
};
