/*
 * Node configuration push on the user gateway (cli.md section 11):
 *
 *  POST /v1/config/push (admin) {"document":{...},"nodes":[slugs] | "all":true,
 *  "dry_run"?:bool}: checks the document (config-doc.c), stores it under a
 *  new ULID config_version for the targeted nodes and answers 201
 *  {"config_version","nodes","all","dry_run":false,"document"}; a dry run
 *  answers 200 with the targets and stores nothing.  The nodes learn of the
 *  version from their next heartbeat answer, fetch, apply and ack it.
 *
 *  GET /v1/config[?node=SLUG] (nodes:read): the node's document (or that it
 *  runs on the defaults), or the latest fleet-wide one.
 *
 *  GET /v1/config/status (nodes:read): per node, the desired and applied
 *  versions and the last ack with its error.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config-doc.h"
#include "id.h"
#include "json.h"
#include "log.h"
#include "node-payload.h"
#include "nodes.h"
#include "store-config.h"
#include "store-util.h"
#include "banned.h"

#define PUSH_NODES_MAX 1000

/*
 * POST /v1/config/push {document, nodes | all, dry_run?}; the document is
 * checked on its own (config-doc.c) so that its messages name paths in it.
 */
/* clang-format off */
const struct cy_jcheck config_push_body = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "document", .type = CY_JC_OBJECT, .required = true },
		{ .name = "nodes", .type = CY_JC_ARRAY, .null_ok = true, .max = PUSH_NODES_MAX,
		  .item = &(const struct cy_jcheck_field){ .type = CY_JC_STRING,
			.valid = cy_slug_valid, .shape = NODE_SLUG_SHAPE } },
		{ .name = "all", .type = CY_JC_BOOL },
		{ .name = "dry_run", .type = CY_JC_BOOL },
		{ .name = "force", .type = CY_JC_BOOL }),
};
/* clang-format on */

/* The slugs of body.nodes (checked: slugs) into slugs[], borrowed, each once. */
static void
push_slugs(const json_t *nodes, const char **slugs, size_t *n)
{
	json_t *v;
	size_t i, k;

	*n = 0;
	json_array_foreach(nodes, i, v) {
		const char *s = json_string_value(v);

		for (k = 0; k < *n && strcmp(slugs[k], s); k++)
			;
		if (k == *n)
			slugs[(*n)++] = s;
	}
}

/* Reads the push body into p; 0, or -1 answered. */
static int
push_parse(const json_t *body, struct config_push *p, const char **slugs, json_t **doc,
    struct cy_http_resp *resp)
{
	struct cy_buf why = CY_BUF_INIT;
	json_t *nodes = json_object_get(body, "nodes");

	p->all = cy_json_bool(body, "all", false);
	p->dry_run = cy_json_bool(body, "dry_run", false);
	if (p->all == (nodes && !json_is_null(nodes))) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "give either nodes (a list of slugs) or all=true");
		return -1;
	}
	if (!p->all)
		push_slugs(nodes, slugs, &p->nslugs);
	if (!p->all && p->nslugs == 0) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "nodes must name at least one node");
		return -1;
	}
	*doc = json_object_get(body, "document");
	if (config_doc_check(*doc, &why) < 0) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "invalid configuration document: %s",
		    why.buf);
		cy_buf_release(&why);
		return -1;
	}
	cy_buf_release(&why);
	return 0;
}

/*
 * A pushed policy.sandbox.allowed_images must name images the targeted
 * nodes have (their capability reports list them), or every job would
 * fail there: 0 when they do (or force, or no list), -1 answered with 400
 * naming each node and missing image.
 */
static int
push_images_check(const json_t *doc, const struct config_push *p, bool force,
    struct cy_http_resp *resp)
{
	const json_t *want = cy_json_path(doc, "policy.sandbox.allowed_images"), *v;
	struct cy_error err = CY_ERROR_INIT;
	struct cy_buf why = CY_BUF_INIT;
	size_t i, shown = 0;
	PGresult *res;
	int row;

	if (force || !json_is_array(want) || json_array_size(want) == 0)
		return 0;
	res = store_config_node_images(p->slugs, p->nslugs, p->all, &err);
	if (!res) {
		cy_log_error("config_push_failed", "error", err.msg, NULL);
		cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot read the nodes' images");
		return -1;
	}
	for (row = 0; row < PQntuples(res); row++) {
		json_t *have = json_loads(PQgetvalue(res, row, 1), 0, NULL);
		char *has = cy_json_dump(have);

		json_array_foreach(want, i, v) {
			const char *img = json_string_value(v);
			size_t j;
			json_t *h;
			bool found = false;

			json_array_foreach(have, j, h)
				found = found ||
					(json_is_string(h) && !strcmp(json_string_value(h), img));
			if (found || shown++ >= 8)
				continue;
			cy_buf_addf(&why, "%snode '%s' has no image '%.128s' (it has %s)",
			    why.len ? "; " : "", PQgetvalue(res, row, 0), img, has ? has : "[]");
		}
		free(has);
		json_decref(have);
	}
	PQclear(res);
	if (why.len == 0)
		return 0;
	cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
	    "policy.sandbox.allowed_images: %s; every job there would fail. Import the image on "
	    "the node first (cynode-node image import), or push anyway with force "
	    "(cynork config push --force)",
	    why.buf);
	cy_buf_release(&why);
	return -1;
}

void
h_config_push(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	struct config_push p = { 0 };
	const char *slugs[PUSH_NODES_MAX];
	char *text = NULL;
	json_t *body, *doc = NULL;
	int rc;

	if (!(body = cy_req_json(req, resp)))
		return;
	if (push_parse(body, &p, slugs, &doc, resp) < 0)
		goto out;
	p.slugs = slugs;
	if (push_images_check(doc, &p, cy_json_bool(body, "force", false), resp) < 0)
		goto out;
	text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	p.document = text;
	p.slugs = slugs;
	p.actor = req->auth;
	rc = store_config_push(&p, &err);
	if (rc < 0) {
		cy_log_error("config_push_failed", "error", err.msg, NULL);
		cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot store the configuration");
	} else if (rc == 0) {
		cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "node '%s' not found; nothing pushed",
		    p.missing);
	} else {
		char count[24];

		xsnprintf(count, sizeof(count), "%zu", json_array_size(p.nodes));
		if (!p.dry_run)
			cy_log_info("config_pushed", "config_version", p.version, "all",
			    p.all ? "true" : "false", "nodes", count, NULL);
		cy_resp_json(resp, p.dry_run ? 200 : 201,
		    json_pack("{s:s?, s:O, s:b, s:b, s:O}", "config_version",
			p.dry_run ? NULL : p.version, "nodes", p.nodes, "all", p.all, "dry_run",
			p.dry_run, "document", doc));
	}
	json_decref(p.nodes);
out:
	free(text);
	json_decref(body);
}

void
h_config_get(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	const char *node = cy_req_query(req, "node");
	const char *doc;
	PGresult *res;
	json_t *o;

	if (node && !*node)
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "node must not be empty");
	if (!(res = store_config_get(node, &err))) {
		cy_log_error("config_get_failed", "error", err.msg, NULL);
		return cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot read the configuration");
	}
	if (PQntuples(res) == 0) {
		if (node)
			cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "node '%s' not found", node);
		else
			cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND,
			    "no fleet-wide configuration has been pushed (config push --all)");
		PQclear(res);
		return;
	}
	doc = store_val(res, 0, CD_DOCUMENT);
	o = json_pack("{s:s?, s:s?, s:s?, s:o, s:b, s:s?, s:s?}", "node_slug",
	    store_val(res, 0, CD_SLUG), "desired_version", store_val(res, 0, CD_DESIRED),
	    "config_version", store_val(res, 0, CD_VERSION), "document",
	    doc ? json_loads(doc, 0, NULL) : json_null(), "all",
	    store_val(res, 0, CD_ALL) && strcmp(store_val(res, 0, CD_ALL), "t") == 0, "created_at",
	    store_val(res, 0, CD_CREATED), "created_by", store_val(res, 0, CD_CREATED_BY));
	PQclear(res);
	cy_resp_json(resp, 200, o);
}

void
h_config_status(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	PGresult *res = store_config_status(&err);
	json_t *nodes;
	int i;

	(void)req;
	if (!res) {
		cy_log_error("config_status_failed", "error", err.msg, NULL);
		return cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot read the nodes");
	}
	nodes = json_array();
	for (i = 0; i < PQntuples(res); i++) {
		const char *want = store_val(res, i, CS_DESIRED);
		const char *acked = store_val(res, i, CS_ACK_VERSION);
		const char *st = store_val(res, i, CS_ACK_STATUS);
		const char *state = !acked || !want || strcmp(acked, want) ? "pending" : st;

		json_array_append_new(nodes,
		    json_pack("{s:s, s:s, s:s?, s:s?, s:s, s:s?, s:s?, "
			      "s:s?, s:s?, s:s?}",
			"node_slug", store_val(res, i, CS_SLUG), "status",
			store_val(res, i, CS_STATUS), "desired_version", want, "applied_version",
			store_val(res, i, CS_APPLIED), "state", state, "ack_status", st,
			"ack_version", acked, "ack_error", store_val(res, i, CS_ACK_ERROR),
			"ack_at", store_val(res, i, CS_ACK_AT), "document_version",
			store_val(res, i, CS_DOCUMENT)));
	}
	PQclear(res);
	cy_resp_json(resp, 200, json_pack("{s:o}", "nodes", nodes));
}
