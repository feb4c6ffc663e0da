/*
 * cynork version, status and nodes list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cynork.h"
#include "httpc.h"
#include "json.h"
#include "version.h"
#include "banned.h"

static int
misc_version(struct ctx *c, const struct parsed *p)
{
	struct cy_buf line = CY_BUF_INIT;

	if (out_json(c))
		return print_json(json_pack("{s:s, s:s}", "version", CYNODE_VERSION, "api_version",
			CYNODE_API_VERSION));
	rec_add(&line, "version", CYNODE_VERSION);
	return print_line(&line);
}

/* GET /healthz: not JSON, so it bypasses api_call. */
static int
misc_status(struct ctx *c, const struct parsed *p)
{
	struct cy_httpc_opts o = { .timeout_ms = 10000, .user_agent = "cynork/" CYNODE_VERSION,
		.max_response = 65536 };
	struct cy_httpc_resp r = CY_HTTPC_RESP_INIT;
	struct cy_error err = CY_ERROR_INIT;
	struct cy_buf line = CY_BUF_INIT;
	char url[2048];
	int rc = 0;

	if (snprintf(url, sizeof(url), "%s/healthz", c->gateway) >= (int)sizeof(url))
		return fail(EXIT_USAGE, "gateway URL too long");
	if (cy_httpc_request("GET", url, NULL, 0, &o, &r, &err) < 0) {
		rc = fail(EXIT_GATEWAY, "gateway %s is not reachable: %s", c->gateway, err.msg);
	} else if (r.status != 200 || !strstr(r.body.buf, "ok")) {
		rc = fail(EXIT_GATEWAY, "gateway %s is unhealthy (HTTP %ld)", c->gateway, r.status);
	} else if (out_json(c)) {
		print_json(json_pack("{s:s, s:s}", "gateway", "ok", "gateway_url", c->gateway));
	} else {
		rec_add(&line, "gateway", "ok");
		rec_add(&line, "gateway_url", c->gateway);
		print_line(&line);
	}
	cy_httpc_resp_release(&r);
	return rc;
}

static const char *
str_or_dash(const json_t *o, const char *key)
{
	const char *s = cy_json_str(o, key);

	return s && *s ? s : "-";
}

static int
nodes_list(struct ctx *c, const struct parsed *p)
{
	json_t *res = NULL, *nodes, *n;
	size_t i;
	int rc = api_call(c, "GET", "/v1/nodes", NULL, true, &res);

	if (rc)
		return rc;
	nodes = json_object_get(res, "nodes");
	if (!json_is_array(nodes)) {
		json_decref(res);
		return fail(EXIT_GATEWAY, "malformed response: no 'nodes' list");
	}
	if (out_json(c))
		return print_json(res);
	if (!out_name(c) && !opt_set(p, "no-headers"))
		printf("NODE\tSTATUS\tCONFIG\tLAST_SEEN\tRUNNING\tCAPACITY\tURL\n");
	json_array_foreach(nodes, i, n) {
		json_int_t running = json_integer_value(json_object_get(n, "running_jobs"));
		json_int_t cap = json_integer_value(json_object_get(n, "max_concurrency"));

		if (out_name(c)) {
			printf("%s\n", str_or_dash(n, "node_slug"));
			continue;
		}
		printf("%s\t%s\t%s\t%s\t%lld\t%lld\t%s\n", str_or_dash(n, "node_slug"),
			str_or_dash(n, "status"), str_or_dash(n, "config_ack_status"),
			str_or_dash(n, "last_seen_at"), (long long)running, (long long)cap,
			str_or_dash(n, "worker_api_url"));
	}
	json_decref(res);
	return 0;
}

static int
nodes_get(struct ctx *c, const struct parsed *p)
{
	struct cy_buf line = CY_BUF_INIT;
	char *e = url_escape(p->args[0]), path[512];
	json_t *res = NULL, *n;
	int rc;

	snprintf(path, sizeof(path), "/v1/nodes/%s", e);
	free(e);
	if ((rc = api_call(c, "GET", path, NULL, true, &res)) != 0)
		return rc;
	if (out_json(c))
		return print_json(res);
	n = res;
	if (out_name(c)) {
		printf("%s\n", str_or_dash(n, "node_slug"));
	} else {
		rec_add(&line, "node_id", cy_json_str(n, "node_id"));
		rec_add(&line, "node_slug", cy_json_str(n, "node_slug"));
		rec_add(&line, "status", cy_json_str(n, "status"));
		rec_add(&line, "config_version", cy_json_str(n, "config_version"));
		rec_add(&line, "config_ack_status", cy_json_str(n, "config_ack_status"));
		rec_add(&line, "last_seen_at", cy_json_str(n, "last_seen_at"));
		rec_addll(&line, "running_jobs",
			json_integer_value(json_object_get(n, "running_jobs")));
		rec_addll(&line, "max_concurrency",
			json_integer_value(json_object_get(n, "max_concurrency")));
		rec_add(&line, "worker_api_url", cy_json_str(n, "worker_api_url"));
		print_line(&line);
	}
	json_decref(res);
	return 0;
}

static const struct opt nodes_list_opts[] = {
	{ "no-headers", 0, OPT_BOOL, NULL, "omit the header line" },
	{ NULL }
};

const struct cmd cmd_version = { "version", NULL, "print the version", NULL, NULL, 0, 0, 0,
	NULL, misc_version,
	"Prints version=V, or with -o json {\"version\": V, \"api_version\": N}. Needs no login and no server." };
const struct cmd cmd_status = { "status", NULL, "check that the gateway is healthy", NULL, NULL,
	0, 0, 0, NULL, misc_status,
	"Checks GET /healthz on the gateway. Prints gateway=ok gateway_url=URL, or with -o json {\"gateway\":\"ok\",...}. Exits 7 when the gateway is unreachable or unhealthy. Needs no login." };
const struct cmd cmd_nodes_list = { "nodes list", NULL, "list worker nodes", NULL,
	nodes_list_opts, 0, 0, CMD_NEEDS_AUTH, NULL, nodes_list,
	"Lists worker nodes as a TAB-separated table with the columns NODE, STATUS, CONFIG, LAST_SEEN, RUNNING, CAPACITY and URL (-o name: only the slugs; -o json: the server's object). Operators and admins only." };
const struct cmd cmd_nodes_get = { "nodes get", NULL, "show one worker node", "<node>", NULL, 1,
	1, CMD_NEEDS_AUTH, NULL, nodes_get,
	"Shows one node (slug or id) as a record line with node_id, node_slug, status, config_version, config_ack_status, last_seen_at, running_jobs, max_concurrency and worker_api_url; -o json prints the server's object. An unknown node exits 4." };
