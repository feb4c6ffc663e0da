/*
 * cynork config push|get|status (spec/cli.md section 11): pushes a
 * node configuration document (YAML or JSON: the policy, constraints and
 * inference_backend parts of the node configuration payload) to some nodes
 * or the whole fleet, shows the stored document, and lists each node's
 * desired versus applied version.  push --wait polls config status until
 * every targeted node has acknowledged the new version.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "config.h"
#include "cynork.h"
#include "id.h"
#include "json.h"
#include "timeutil.h"
#include "banned.h"

#define DOC_MAX (60 * 1024)
#define STATUS_POLL_MS 500

/* The document of -f FILE as a JSON object; 0 or an exit code. */
static int
config_read_doc(const char *path, json_t **doc)
{
	struct cy_error err = CY_ERROR_INIT;
	struct cy_buf text = CY_BUF_INIT;
	int rc;

	*doc = NULL;
	if ((rc = read_input("file", path, DOC_MAX, &text)) != 0)
		return rc;
	rc = cy_yaml_to_json(strcmp(path, "-") ? path : "(stdin)", text.buf ? text.buf : "",
	    text.len, doc, &err);
	cy_buf_release(&text);
	if (rc < 0)
		return fail(EXIT_USAGE, "--file: %s", err.msg);
	if (!json_is_object(*doc)) {
		json_decref(*doc);
		*doc = NULL;
		return fail(EXIT_USAGE,
		    "--file '%s': the document must be a mapping of policy, "
		    "constraints and inference_backend",
		    path);
	}
	return 0;
}

/* The state of each targeted node for `version`: 1 all acked, 0 not yet. */
static int
config_acked(json_t *status, json_t *targets, const char *version, json_t **failed)
{
	json_t *n, *t;
	size_t i, k;
	int done = 1;

	*failed = json_array();
	json_array_foreach(targets, k, t) {
		json_array_foreach(json_object_get(status, "nodes"), i, n) {
			const char *slug = cy_json_str(n, "node_slug");
			const char *acked = cy_json_str(n, "ack_version");

			if (!slug || strcmp(slug, json_string_value(t)))
				continue;
			if (!acked || strcmp(acked, version))
				done = 0;
			else if (strcmp(out_dash(n, "ack_status"), "applied"))
				json_array_append(*failed, n);
		}
	}
	return done;
}

/* Waits until the targets acked version; 0, 6 when one failed, 124, or an error. */
static int
config_wait(struct ctx *c, json_t *targets, const char *version, long long timeout_s)
{
	int64_t deadline = timeout_s > 0 ? cy_mono_ms() + timeout_s * 1000 : 0;

	note(c, "waiting for %zu node(s) to acknowledge %s", json_array_size(targets), version);
	for (;;) {
		json_t *st = NULL, *failed = NULL, *n;
		size_t i;
		int rc = api_call(c, "GET", "/v1/config/status", NULL, true, &st);

		if (rc)
			return rc;
		if (config_acked(st, targets, version, &failed)) {
			json_array_foreach(failed, i, n)
				fprintf(stderr, "cynork: node %s refused config %s: %s\n",
				    out_dash(n, "node_slug"), version, out_dash(n, "ack_error"));
			rc = json_array_size(failed) ? EXIT_VALIDATION : EXIT_OK;
			json_decref(failed);
			json_decref(st);
			return rc;
		}
		json_decref(failed);
		json_decref(st);
		if (deadline && cy_mono_ms() >= deadline)
			return fail(EXIT_TIMEOUT,
			    "not every node acknowledged %s within %llds "
			    "(--timeout); see cynork config status",
			    version, timeout_s);
		usleep(STATUS_POLL_MS * 1000);
	}
}

static int
node_invalid(const char *slug)
{
	return fail(EXIT_USAGE,
	    "invalid value '%s' for --node: want a node slug "
	    "(1-63 characters of a-z, 0-9 and '-')",
	    slug);
}

static int
config_get_check(const struct parsed *p)
{
	const char *node = opt_get(p, "node");

	return node && !cy_slug_valid(node) ? node_invalid(node) : 0;
}

static int
config_push_check(const struct parsed *p)
{
	const char *const *nodes;
	size_t n = opt_list(p, "node", &nodes), i;

	if (!opt_get(p, "file"))
		return fail(EXIT_USAGE, "config push needs -f/--file FILE (- = stdin)");
	if ((n > 0) == opt_set(p, "all"))
		return fail(EXIT_USAGE, "give --node SLUG (repeatable) or --all");
	for (i = 0; i < n; i++)
		if (!cy_slug_valid(nodes[i]))
			return node_invalid(nodes[i]);
	if (opt_set(p, "dry-run") && (opt_set(p, "wait") || opt_get(p, "timeout")))
		return fail(EXIT_USAGE, "--dry-run does not wait");
	return check_file("file", opt_get(p, "file"), DOC_MAX);
}

static int
config_push(struct ctx *c, const struct parsed *p)
{
	const char *const *nodes;
	size_t n = opt_list(p, "node", &nodes), i;
	json_t *doc, *body, *res = NULL, *arr, *v;
	struct cy_buf line = CY_BUF_INIT, list = CY_BUF_INIT;
	long long timeout = 0;
	int rc;

	if ((rc = config_read_doc(opt_get(p, "file"), &doc)) != 0)
		return rc;
	body = json_pack("{s:o, s:b}", "document", doc, "dry_run", opt_set(p, "dry-run"));
	if (opt_set(p, "force"))
		json_object_set_new(body, "force", json_true());
	if (opt_set(p, "all")) {
		json_object_set_new(body, "all", json_true());
	} else {
		arr = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(arr, json_string(nodes[i]));
		json_object_set_new(body, "nodes", arr);
	}
	rc = api_call(c, "POST", "/v1/config/push", body, true, &res);
	json_decref(body);
	if (rc)
		return rc;
	if (opt_set(p, "wait") || opt_get(p, "timeout")) {
		if (opt_get(p, "timeout"))
			cy_duration_parse(opt_get(p, "timeout"), &timeout);
		rc = config_wait(c, json_object_get(res, "nodes"), out_dash(res, "config_version"),
		    timeout);
		if (rc && rc != EXIT_VALIDATION) {
			json_decref(res);
			return rc;
		}
	}
	if (out_json(c)) {
		print_json(res);
		return rc;
	}
	if (out_name(c)) {
		printf("%s\n", out_dash(res, "config_version"));
		json_decref(res);
		return rc;
	}
	json_array_foreach(json_object_get(res, "nodes"), i, v)
		cy_buf_addf(&list, "%s%s", i ? "," : "", json_string_value(v));
	if (opt_set(p, "dry-run"))
		rec_add(&line, "dry_run", "true");
	else
		rec_add(&line, "config_version", out_dash(res, "config_version"));
	rec_add(&line, "all", json_is_true(json_object_get(res, "all")) ? "true" : "false");
	rec_add(&line, "nodes", list.len ? list.buf : "-");
	cy_buf_release(&list);
	json_decref(res);
	print_line(&line);
	return rc;
}

static int
config_get(struct ctx *c, const struct parsed *p)
{
	const char *node = opt_get(p, "node");
	char *e = node ? url_escape(node) : NULL;
	char *path = node ? xasprintf("/v1/config?node=%s", e) : xstrdup("/v1/config");
	json_t *res = NULL;
	char *text;
	int rc = api_call(c, "GET", path, NULL, true, &res);

	free(path);
	free(e);
	if (rc)
		return rc;
	if (out_json(c))
		return print_json(res);
	if (out_name(c)) {
		printf("%s\n", out_dash(res, "config_version"));
		json_decref(res);
		return 0;
	}
	if (json_is_null(json_object_get(res, "document"))) {
		printf("# node %s runs on the built-in defaults (no document pushed)\n",
		    out_dash(res, "node_slug"));
	} else {
		printf("# config_version %s, pushed %s by %s%s\n", out_dash(res, "config_version"),
		    out_dash(res, "created_at"), out_dash(res, "created_by"),
		    json_is_true(json_object_get(res, "all")) ? " to all nodes" : "");
		text =
		    json_dumps(json_object_get(res, "document"), JSON_INDENT(2) | JSON_SORT_KEYS);
		printf("%s\n", text);
		free(text);
	}
	json_decref(res);
	return 0;
}

/* config status: the columns (-o wide adds the node's status and the version acked). */
static const struct col status_cols[] = {
	{ "NODE", 0 },
	{ "STATE", COL_STATE },
	{ "DESIRED", 0 },
	{ "APPLIED", 0 },
	{ "ACK_AT", COL_TIME },
	{ "ERROR", COL_TRUNC },
	{ "NODE_STATUS", COL_WIDE | COL_STATE },
	{ "ACKED", COL_WIDE },
	{ NULL, 0 },
};

static int
config_status(struct ctx *c, const struct parsed *p)
{
	struct out_table *t;
	json_t *res = NULL, *n;
	size_t i;
	int rc = api_call(c, "GET", "/v1/config/status", NULL, true, &res);

	if (rc)
		return rc;
	if (!json_is_array(json_object_get(res, "nodes"))) {
		json_decref(res);
		return fail(EXIT_PROTOCOL, "malformed response: no 'nodes' list");
	}
	if (out_json(c))
		return print_json(res);
	t = out_name(c) ? NULL : table_new(c, p, status_cols);
	json_array_foreach(json_object_get(res, "nodes"), i, n) {
		if (!t) {
			printf("%s\n", out_dash(n, "node_slug"));
			continue;
		}
		table_row(t);
		table_cell(t, cy_json_str(n, "node_slug"));
		table_cell(t, cy_json_str(n, "state"));
		table_cell(t, cy_json_str(n, "desired_version"));
		table_cell(t, cy_json_str(n, "applied_version"));
		table_cell(t, cy_json_str(n, "ack_at"));
		table_cell(t, cy_json_str(n, "ack_error"));
		table_cell(t, cy_json_str(n, "status"));
		table_cell(t, cy_json_str(n, "ack_version"));
	}
	json_decref(res);
	return t ? table_print(t) : 0;
}

/* clang-format off */
static const struct opt push_opts[] = {
	{ .name = "file", .shrt = 'f', .kind = OPT_STR, .arg = "FILE",
	  .help = "the document, YAML or JSON (- = stdin, max 60 KiB)" },
	{ .name = "node", .kind = OPT_LIST, .arg = "SLUG",
	  .help = "push to this node (repeatable)" },
	{ .name = "all", .kind = OPT_BOOL,
	  .help = "push to every node, and make it the default for new nodes" },
	{ .name = "dry-run", .kind = OPT_BOOL,
	  .help = "validate and show the targets; store nothing" },
	{ .name = "force", .kind = OPT_BOOL,
	  .help = "push allowed_images a targeted node does not have yet" },
	{ .name = "wait", .kind = OPT_BOOL,
	  .help = "wait until every targeted node has acknowledged it" },
	{ .name = "timeout", .kind = OPT_DURATION, .arg = "DUR",
	  .help = "wait at most DUR (implies --wait; exit 124)" },
	{ NULL }
};

static const struct opt get_opts[] = {
	{ .name = "node", .kind = OPT_STR, .arg = "SLUG",
	  .help = "the document of this node (default: the fleet's)" },
	{ NULL }
};

static const struct opt status_opts[] = {
	{ .name = "no-headers", .kind = OPT_BOOL, .help = "omit the header line" },
	{ NULL }
};
/* clang-format on */

const struct cmd cmd_config_push = {
	.path = "config push",
	.summary = "push a configuration document to nodes",
	.opts = push_opts,
	.flags = CMD_NEEDS_AUTH,
	.check = config_push_check,
	.exec = config_push,
	.doc =
	    "Admin only. Reads a node configuration document from -f FILE (YAML or JSON; - reads standard input): a mapping of policy (sandbox: allowed_images, default_network_policy restricted|none|allowlist, allowed_egress_domains, allow_privileged, allow_host_network, allow_device_mounts; updates), constraints (max_request_bytes, max_job_timeout_seconds, max_concurrency) and inference_backend (enabled, image, images.cpu|cuda|rocm, port), plus notes. The server checks it (unknown keys and bad values exit 65 before any node sees it) and stores it under a new config_version (a ULID, greater than every earlier one) for each --node SLUG, or with --all for every node and as the default of nodes registered later. An unknown slug exits 66 and pushes nothing.\n\nThe nodes learn of the new version from their next heartbeat, fetch it, check it against their own node.yaml (which may be stricter, never looser) and acknowledge applied or failed with the reason; a node refuses a version older than the one it applied. Prints config_version=V all=BOOL nodes=a,b (-o name: the version). --dry-run checks the document and the targets and stores nothing. policy.sandbox.allowed_images must name images every targeted bwrap node reports it has (host, its node.yaml sandbox.images, imported images): otherwise every job there would fail, so the push is refused (exit 65) naming the node and the image, unless --force (say, the image is imported next).\n\nWith --wait (or --timeout DUR), waits until every targeted node has acknowledged the version: exit 0 when all applied it, 65 when a node refused it (its reason on stderr), 124 when the wait ran out.",
};

const struct cmd cmd_config_get = {
	.path = "config get",
	.summary = "show a pushed configuration document",
	.opts = get_opts,
	.flags = CMD_NEEDS_AUTH,
	.check = config_get_check,
	.exec = config_get,
	.doc =
	    "Shows the document node --node SLUG must apply (or that it runs on the built-in defaults), or without --node the latest document pushed with --all. Table output is a comment line with the version, time and author, then the document as indented JSON; -o json prints node_slug, desired_version, config_version, document, all, created_at and created_by.",
};

const struct cmd cmd_config_status = {
	.path = "config status",
	.summary = "show each node's desired and applied configuration",
	.opts = status_opts,
	.flags = CMD_NEEDS_AUTH,
	.exec = config_status,
	.doc =
	    "Lists every node with the state of its configuration: pending (the node has not acknowledged the desired version yet), applied or failed; the desired and applied versions (a refused push leaves the earlier version applied), the time of the last acknowledgement and its error.",
};
