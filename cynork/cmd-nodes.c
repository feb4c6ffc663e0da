/*
 * cynork nodes: the operator's fleet commands (spec/cli.md sections 1.6 and
 * 11).  list and get read the operator view; drain [--reason] [--wait],
 * undrain, enable, disable and remove change a node (role operator or
 * admin; drain/disable/remove ask for confirmation unless -y); enroll
 * (admin) creates a single-use enrollment token and prints it with the
 * node.yaml lines that use it.  stats and logs [--since] [--follow] read
 * the node's own telemetry store through the server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "cynork.h"
#include "id.h"
#include "json.h"
#include "timeutil.h"
#include "banned.h"

#define DRAIN_POLL_MS 500

static const char *
str_or_dash(const json_t *o, const char *key)
{
	const char *s = cy_json_str(o, key);

	return s && *s ? s : "-";
}

/* "a,b" from a JSON array of strings ("-" when empty); caller frees. */
static char *
labels_text(const json_t *o)
{
	struct cy_buf b = CY_BUF_INIT;
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(o, "labels"), i, v)
		if (json_is_string(v))
			cy_buf_addf(&b, "%s%s", b.len ? "," : "", json_string_value(v));
	if (!b.len)
		cy_buf_addstr(&b, "-");
	return cy_buf_detach(&b, NULL);
}

/* nodes list: the columns (-o wide adds the last four). */
static const struct col nodes_cols[] = {
	{ "NODE", 0 },
	{ "STATUS", COL_STATE },
	{ "ENABLED", 0 },
	{ "CONFIG", COL_STATE },
	{ "APPLIED", COL_TRUNC },
	{ "LAST_SEEN", COL_TIME },
	{ "RUNNING", COL_RIGHT },
	{ "CAPACITY", COL_RIGHT },
	{ "LABELS", COL_TRUNC },
	{ "URL", COL_TRUNC },
	{ "NODE_ID", COL_WIDE },
	{ "DESIRED", COL_WIDE },
	{ "DRAIN_REASON", COL_WIDE | COL_TRUNC },
	{ "CREATED_AT", COL_WIDE | COL_TIME },
	{ NULL, 0 },
};

static int
nodes_list(struct ctx *c, const struct parsed *p)
{
	struct out_table *t;
	json_t *res = NULL, *nodes, *n;
	size_t i;
	int rc = api_call(c, "GET", "/v1/nodes", NULL, true, &res);

	if (rc)
		return rc;
	nodes = json_object_get(res, "nodes");
	if (!json_is_array(nodes)) {
		json_decref(res);
		return fail(EXIT_PROTOCOL, "malformed response: no 'nodes' list");
	}
	if (out_json(c))
		return print_json(res);
	if (out_name(c)) {
		json_array_foreach(nodes, i, n)
			printf("%s\n", str_or_dash(n, "node_slug"));
		json_decref(res);
		return 0;
	}
	t = table_new(c, p, nodes_cols);
	json_array_foreach(nodes, i, n) {
		char *labels = labels_text(n);

		table_row(t);
		table_cell(t, cy_json_str(n, "node_slug"));
		table_cell(t, cy_json_str(n, "status"));
		table_cell(t, json_is_false(json_object_get(n, "enabled")) ? "false" : "true");
		table_cell(t, cy_json_str(n, "config_ack_status"));
		table_cell(t, cy_json_str(n, "config_ack_version"));
		table_cell(t, cy_json_str(n, "last_seen_at"));
		table_cell_key(t, n, "running_jobs");
		table_cell_key(t, n, "max_concurrency");
		table_cell(t, labels);
		table_cell(t, cy_json_str(n, "worker_api_url"));
		table_cell(t, cy_json_str(n, "node_id"));
		table_cell(t, cy_json_str(n, "config_version"));
		table_cell(t, cy_json_str(n, "drain_reason"));
		table_cell(t, cy_json_str(n, "created_at"));
		free(labels);
	}
	json_decref(res);
	return table_print(t);
}

/* GET /v1/nodes/{ref}: EXIT_OK with *out, or the error's exit code. */
static int
nodes_fetch(struct ctx *c, const char *ref, json_t **out)
{
	char *e = url_escape(ref), *path = xasprintf("/v1/nodes/%s", e);
	int rc = api_call(c, "GET", path, NULL, true, out);

	free(path);
	free(e);
	return rc;
}

/* conditions=type,type (what the node reports: disk_low, workspace_quota_unenforced), if any. */
static void
nodes_add_conditions(struct cy_buf *line, const json_t *n)
{
	struct cy_buf b = CY_BUF_INIT;
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(n, "conditions"), i, v)
		if (cy_json_str(v, "type"))
			cy_buf_addf(&b, "%s%s", b.len ? "," : "", cy_json_str(v, "type"));
	if (b.len)
		rec_add(line, "conditions", b.buf);
	cy_buf_release(&b);
}

/*
 * From the last capability report: cpu_cores ram_mb gpus, inference
 * (running, supported or unsupported) and the models it serves.
 */
static void
nodes_add_capabilities(struct cy_buf *line, const json_t *caps)
{
	const json_t *comp = json_object_get(caps, "compute"),
		     *inf = json_object_get(caps, "inference");
	struct cy_buf m = CY_BUF_INIT;
	json_t *v;
	size_t i;

	if (!json_is_object(caps))
		return;
	if (json_is_integer(json_object_get(comp, "cpu_cores")))
		rec_addll(line, "cpu_cores",
		    json_integer_value(json_object_get(comp, "cpu_cores")));
	if (json_is_integer(json_object_get(comp, "ram_mb")))
		rec_addll(line, "ram_mb", json_integer_value(json_object_get(comp, "ram_mb")));
	rec_addll(line, "gpus",
	    (long long)json_array_size(json_object_get(json_object_get(caps, "gpu"), "devices")));
	rec_add(line, "inference",
	    json_is_true(json_object_get(inf, "running"))   ? "running" :
	    json_is_true(json_object_get(inf, "supported")) ? "supported" :
							      "unsupported");
	json_array_foreach(json_object_get(inf, "available_models"), i, v) {
		const char *name =
		    json_is_string(v) ? json_string_value(v) : cy_json_str(v, "name");

		if (name)
			cy_buf_addf(&m, "%s%s", m.len ? "," : "", name);
	}
	rec_add(line, "models", m.len ? m.buf : "-");
	cy_buf_release(&m);
}

static int
nodes_get(struct ctx *c, const struct parsed *p)
{
	struct cy_buf line = CY_BUF_INIT;
	json_t *n = NULL;
	char *labels;
	int rc;

	if ((rc = nodes_fetch(c, p->args[0], &n)) != 0)
		return rc;
	if (out_json(c))
		return print_json(n);
	if (out_name(c) || out_text(c)) {
		if (out_name(c))
			printf("%s\n", str_or_dash(n, "node_slug"));
		else
			nodes_get_text(c, n);
		json_decref(n);
		return 0;
	}
	labels = labels_text(n);
	rec_add(&line, "node_id", cy_json_str(n, "node_id"));
	rec_add(&line, "node_slug", cy_json_str(n, "node_slug"));
	rec_add(&line, "status", cy_json_str(n, "status"));
	rec_add(&line, "enabled", json_is_false(json_object_get(n, "enabled")) ? "false" : "true");
	if (cy_json_str(n, "drain_reason"))
		rec_add(&line, "drain_reason", cy_json_str(n, "drain_reason"));
	rec_add(&line, "config_version", cy_json_str(n, "config_version"));
	rec_add(&line, "config_ack_status", cy_json_str(n, "config_ack_status"));
	rec_add(&line, "config_ack_version", cy_json_str(n, "config_ack_version"));
	if (cy_json_str(n, "config_ack_error"))
		rec_add(&line, "config_ack_error", cy_json_str(n, "config_ack_error"));
	rec_add(&line, "last_seen_at", cy_json_str(n, "last_seen_at"));
	rec_addll(&line, "running_jobs", json_integer_value(json_object_get(n, "running_jobs")));
	rec_addll(&line, "max_concurrency",
	    json_integer_value(json_object_get(n, "max_concurrency")));
	rec_add(&line, "labels", labels);
	rec_add(&line, "worker_api_url", cy_json_str(n, "worker_api_url"));
	nodes_add_conditions(&line, n);
	nodes_add_capabilities(&line, json_object_get(n, "capabilities"));
	free(labels);
	print_line(&line);
	json_decref(n);
	return 0;
}

/* GET /v1/nodes/{ref}/telemetry/{what}[query]: EXIT_OK with *out, or the exit code. */
static int
nodes_telemetry(struct ctx *c, const char *ref, const char *what, const char *query, json_t **out)
{
	char *e = url_escape(ref),
	     *path = xasprintf("/v1/nodes/%s/telemetry/%s%s", e, what, query ? query : "");
	int rc = api_call(c, "GET", path, NULL, true, out);

	free(path);
	free(e);
	return rc;
}

static int
nodes_stats(struct ctx *c, const struct parsed *p)
{
	struct cy_buf line = CY_BUF_INIT;
	json_t *s = NULL, *v;
	char num[64];
	int rc;

	if ((rc = nodes_telemetry(c, p->args[0], "stats", NULL, &s)) != 0)
		return rc;
	if (out_json(c))
		return print_json(s);
	rec_add(&line, "node_slug", cy_json_str(s, "node_slug"));
	rec_add(&line, "captured_at", cy_json_str(s, "captured_at"));
	rec_addll(&line, "cpu_cores",
	    json_integer_value(json_object_get(json_object_get(s, "cpu"), "cores")));
	v = json_object_get(s, "load");
	xsnprintf(num, sizeof(num), "%.2f,%.2f,%.2f", json_number_value(json_object_get(v, "1m")),
	    json_number_value(json_object_get(v, "5m")),
	    json_number_value(json_object_get(v, "15m")));
	rec_add(&line, "load", num);
	v = json_object_get(s, "memory");
	rec_addll(&line, "mem_total_bytes", json_integer_value(json_object_get(v, "total_bytes")));
	rec_addll(&line, "mem_free_bytes", json_integer_value(json_object_get(v, "free_bytes")));
	v = json_object_get(json_object_get(s, "disk"), "state_dir");
	rec_addll(&line, "state_free_bytes", json_integer_value(json_object_get(v, "free_bytes")));
	v = json_object_get(s, "jobs");
	rec_addll(&line, "jobs_running", json_integer_value(json_object_get(v, "running")));
	rec_addll(&line, "job_slots", json_integer_value(json_object_get(v, "slots")));
	print_line(&line);
	json_decref(s);
	return 0;
}

/* One event as a record line (-o json: one JSON object a line). */
static void
nodes_print_event(struct ctx *c, json_t *ev)
{
	struct cy_buf line = CY_BUF_INIT;

	if (out_json(c) && strcmp(c->output, "yaml") == 0) {
		/* A stream of YAML documents, one per event. */
		print_json(json_incref(ev));
		return;
	}
	if (out_json(c)) {
		char *t = json_dumps(ev, JSON_COMPACT);

		if (t)
			printf("%s\n", t);
		free(t);
		return;
	}
	rec_add(&line, "ts", cy_json_str(ev, "ts"));
	rec_add(&line, "source", cy_json_str(ev, "source"));
	rec_add(&line, "level", cy_json_str(ev, "level"));
	rec_add(&line, "event", cy_json_str(ev, "kind"));
	if (cy_json_str(ev, "task_id"))
		rec_add(&line, "task_id", cy_json_str(ev, "task_id"));
	if (cy_json_str(ev, "job_id"))
		rec_add(&line, "job_id", cy_json_str(ev, "job_id"));
	rec_add(&line, "message", cy_json_str(ev, "message"));
	print_line(&line);
}

static int
nodes_logs(struct ctx *c, const struct parsed *p)
{
	const char *since = opt_get(p, "since"), *source = opt_get(p, "source");
	bool follow = opt_set(p, "follow");
	char last[CY_RFC3339_LEN + 1] = "";
	size_t at_last = 0; /* events printed whose ts is `last` */
	struct cy_buf q = CY_BUF_INIT;
	json_t *r = NULL, *ev;
	size_t i;
	int rc;

	for (;;) {
		size_t skip = at_last;
		char *e;

		cy_buf_reset(&q);
		cy_buf_addstr(&q, "?limit=1000");
		if (last[0] || since) {
			e = url_escape(last[0] ? last : since);
			cy_buf_addf(&q, "&since=%s", e);
			free(e);
		}
		if (source) {
			e = url_escape(source);
			cy_buf_addf(&q, "&source=%s", e);
			free(e);
		}
		if ((rc = nodes_telemetry(c, p->args[0], "logs", q.buf, &r)) != 0)
			break;
		if (out_json(c) && !follow) {
			cy_buf_release(&q);
			return print_json(r);
		}
		json_array_foreach(json_object_get(r, "events"), i, ev) {
			const char *ts = cy_json_str(ev, "ts");

			if (!ts)
				continue;
			/* The events of `last` already printed come again with since=last. */
			if (last[0] && !strcmp(ts, last) && skip > 0) {
				skip--;
				continue;
			}
			nodes_print_event(c, ev);
			if (strcmp(ts, last) != 0) {
				xsnprintf(last, sizeof(last), "%s", ts);
				at_last = 0;
			}
			at_last++;
		}
		if (json_is_true(json_object_get(r, "truncated")) && !follow)
			fprintf(stderr, "cynork: more events than shown (at most 1000, 1 MiB)\n");
		json_decref(r);
		r = NULL;
		fflush(stdout);
		if (!follow)
			break;
		sleep(1);
	}
	cy_buf_release(&q);
	return rc;
}

/* POSTs /v1/nodes/{ref}/{action}; *out gets the node. */
static int
nodes_post(struct ctx *c, const char *ref, const char *action, json_t *body, json_t **out)
{
	char *e = url_escape(ref), *path = xasprintf("/v1/nodes/%s/%s", e, action);
	int rc;

	if (!body)
		body = json_object();
	rc = api_call(c, "POST", path, body, true, out);
	json_decref(body);
	free(path);
	free(e);
	return rc;
}

/* Prints "node_id=<slug> KEY=VALUE" (or the node as JSON). */
static int
nodes_print_state(struct ctx *c, json_t *n, const char *key, const char *value)
{
	struct cy_buf line = CY_BUF_INIT;

	if (out_json(c))
		return print_json(n);
	if (out_name(c)) {
		printf("%s\n", str_or_dash(n, "node_slug"));
	} else {
		rec_add(&line, "node_id", cy_json_str(n, "node_slug"));
		rec_add(&line, key, value);
		print_line(&line);
	}
	json_decref(n);
	return 0;
}

/* Polls the node until it runs no job; EXIT_TIMEOUT after timeout_s (> 0). */
static int
nodes_wait_idle(struct ctx *c, const char *ref, long long timeout_s)
{
	int64_t deadline = timeout_s > 0 ? cy_mono_ms() + timeout_s * 1000 : 0;

	for (;;) {
		json_t *n = NULL;
		json_int_t running;
		int rc = nodes_fetch(c, ref, &n);

		if (rc)
			return rc;
		running = json_integer_value(json_object_get(n, "running_jobs"));
		json_decref(n);
		if (running == 0)
			return 0;
		if (deadline && cy_mono_ms() >= deadline)
			return fail(EXIT_TIMEOUT,
			    "node '%s' still runs %lld job(s) after %llds "
			    "(--timeout)",
			    ref, (long long)running, timeout_s);
		usleep(DRAIN_POLL_MS * 1000);
	}
}

static int
nodes_drain(struct ctx *c, const struct parsed *p)
{
	const char *reason = opt_get(p, "reason");
	json_t *n = NULL, *body = json_object();
	long long timeout = 0;
	int rc;

	if (!confirm(c, p, &rc, "Drain node %s", p->args[0])) {
		json_decref(body);
		return rc;
	}
	if (reason)
		json_object_set_new(body, "reason", json_string(reason));
	if ((rc = nodes_post(c, p->args[0], "drain", body, &n)) != 0)
		return rc;
	if (opt_set(p, "wait") || opt_get(p, "timeout")) {
		if (opt_get(p, "timeout"))
			cy_duration_parse(opt_get(p, "timeout"), &timeout);
		note(c, "waiting for the jobs running on %s to end", p->args[0]);
		if ((rc = nodes_wait_idle(c, p->args[0], timeout)) != 0) {
			json_decref(n);
			return rc;
		}
		json_decref(n);
		n = NULL;
		if ((rc = nodes_fetch(c, p->args[0], &n)) != 0)
			return rc;
	}
	return nodes_print_state(c, n, "drained", "true");
}

static int
nodes_undrain(struct ctx *c, const struct parsed *p)
{
	json_t *n = NULL;
	int rc = nodes_post(c, p->args[0], "undrain", NULL, &n);

	return rc ? rc : nodes_print_state(c, n, "drained", "false");
}

static int
nodes_enable(struct ctx *c, const struct parsed *p)
{
	json_t *n = NULL;
	int rc;

	if (!confirm(c, p, &rc, "Enable node %s", p->args[0]))
		return rc;
	rc = nodes_post(c, p->args[0], "enable", NULL, &n);
	return rc ? rc : nodes_print_state(c, n, "enabled", "true");
}

static int
nodes_disable(struct ctx *c, const struct parsed *p)
{
	json_t *n = NULL;
	int rc;

	if (!confirm(c, p, &rc, "Disable node %s", p->args[0]))
		return rc;
	rc = nodes_post(c, p->args[0], "disable", NULL, &n);
	return rc ? rc : nodes_print_state(c, n, "enabled", "false");
}

static int
nodes_remove(struct ctx *c, const struct parsed *p)
{
	char *e, *path;
	json_t *res = NULL;
	int rc;

	if (!confirm(c, p, &rc, "Remove node %s", p->args[0]))
		return rc;
	e = url_escape(p->args[0]);
	path = xasprintf("/v1/nodes/%s%s", e, opt_set(p, "force") ? "?force=true" : "");
	rc = api_call(c, "DELETE", path, NULL, true, &res);
	free(path);
	free(e);
	if (rc)
		return rc;
	return nodes_print_state(c, res, "removed", "true");
}

/* POST /v1/nodes/{node}/replace: prints node_id=SLUG replace_until=TIME. */
static int
nodes_replace(struct ctx *c, const struct parsed *p)
{
	const char *ttl = opt_get(p, "ttl");
	json_t *body = json_object(), *n = NULL;
	struct cy_buf line = CY_BUF_INIT;
	long long secs;
	int rc;

	if (!confirm(c, p, &rc, "Let a new machine take the place of node %s", p->args[0])) {
		json_decref(body);
		return rc;
	}
	if (ttl && cy_duration_parse(ttl, &secs) == 0)
		json_object_set_new(body, "ttl_seconds", json_integer(secs));
	if ((rc = nodes_post(c, p->args[0], "replace", body, &n)) != 0)
		return rc;
	if (out_json(c))
		return print_json(n);
	if (out_name(c)) {
		printf("%s\n", str_or_dash(n, "node_slug"));
	} else {
		rec_add(&line, "node_id", cy_json_str(n, "node_slug"));
		rec_add(&line, "replace_until", cy_json_str(n, "replace_until"));
		print_line(&line);
	}
	json_decref(n);
	return 0;
}

static int
nodes_enroll(struct ctx *c, const struct parsed *p)
{
	const char *name = opt_get(p, "name"), *ttl = opt_get(p, "ttl");
	const char *const *labels;
	size_t nl = opt_list(p, "labels", &labels), i;
	json_t *body = json_object(), *res = NULL, *arr = json_array();
	long long secs;
	int rc;

	for (i = 0; i < nl; i++) {
		char *copy = xstrdup(labels[i]), *save = NULL, *tok;

		for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			if (*tok)
				json_array_append_new(arr, json_string(tok));
		free(copy);
	}
	if (name)
		json_object_set_new(body, "node_slug", json_string(name));
	json_object_set_new(body, "labels", arr);
	if (ttl && cy_duration_parse(ttl, &secs) == 0)
		json_object_set_new(body, "ttl_seconds", json_integer(secs));
	rc = api_call(c, "POST", "/v1/nodes/enrollment-tokens", body, true, &res);
	json_decref(body);
	if (rc)
		return rc;
	if (out_json(c))
		return print_json(res);
	if (out_name(c)) {
		printf("%s\n", str_or_dash(res, "token"));
	} else {
		printf("token=%s expires_at=%s\n", str_or_dash(res, "token"),
		    str_or_dash(res, "expires_at"));
		printf("# node.yaml lines for the new node (store the token in a file "
		       "readable only by the node's service user):\n");
		printf("#   printf '%%s\\n' '%s' > /etc/cynode/enrollment-token && "
		       "chmod 600 /etc/cynode/enrollment-token\n",
		    str_or_dash(res, "token"));
		printf("orchestrator:\n  url: %s\n  enrollment_token_file: "
		       "/etc/cynode/enrollment-token\n",
		    str_or_dash(res, "control_plane_url"));
		printf("node:\n  id: %s\n", name ? name : "<choose-a-slug>");
	}
	json_decref(res);
	return 0;
}

static int
nodes_enroll_check(const struct parsed *p)
{
	const char *name = opt_get(p, "name"), *const * labels;
	size_t nl = opt_list(p, "labels", &labels), i;

	if (name && !cy_slug_valid(name))
		return fail(EXIT_USAGE,
		    "invalid value '%s' for --name: want 1-63 "
		    "characters of a-z, 0-9 and '-'",
		    name);
	for (i = 0; i < nl; i++) {
		char *copy = xstrdup(labels[i]), *save = NULL, *tok;
		int bad = !*labels[i];

		for (tok = strtok_r(copy, ",", &save); tok && !bad;
		     tok = strtok_r(NULL, ",", &save))
			bad = !cy_label_valid(tok);
		free(copy);
		if (bad)
			return fail(EXIT_USAGE,
			    "invalid value '%s' for --labels: want labels "
			    "of 1-63 characters of a-z, 0-9, '-', '_' and '.', separated by ','",
			    labels[i]);
	}
	return 0;
}

/* clang-format off */
static const struct opt nodes_list_opts[] = {
	{ .name = "no-headers", .kind = OPT_BOOL, .help = "omit the header line" },
	{ NULL }
};
/* clang-format on */

static const struct opt nodes_yes_opts[] = {
	{ .name = "yes", .shrt = 'y', .kind = OPT_BOOL, .help = "do not ask for confirmation" },
	{ NULL }
};

static const char *const nodes_log_sources[] = { "node", "job", NULL };

/* clang-format off */
static const struct opt nodes_logs_opts[] = {
	{ .name = "since", .kind = OPT_STR, .arg = "DUR|TIME",
	  .help = "events from this long ago (15m) or this RFC 3339 time on" },
	{ .name = "source", .kind = OPT_ENUM, .arg = "SOURCE", .choices = nodes_log_sources,
	  .help = "node (the node manager) or job events only" },
	{ .name = "follow", .shrt = 'F', .shrt_alias = 'f', .kind = OPT_BOOL,
	  .help = "keep printing new events (polls every second) until interrupted" },
	{ NULL }
};
/* clang-format on */

/* clang-format off */
static const struct opt nodes_drain_opts[] = {
	{ .name = "reason", .kind = OPT_STR, .arg = "TEXT",
	  .help = "why the node is drained (shown by nodes get)" },
	{ .name = "wait", .kind = OPT_BOOL,
	  .help = "return when the node's running jobs have ended" },
	{ .name = "timeout", .kind = OPT_DURATION, .arg = "DUR",
	  .help = "wait at most DUR (implies --wait; exit 124)" },
	{ .name = "yes", .shrt = 'y', .kind = OPT_BOOL, .help = "do not ask for confirmation" },
	{ NULL }
};
/* clang-format on */

static const struct opt nodes_remove_opts[] = {
	{ .name = "force", .kind = OPT_BOOL, .help = "remove even while jobs run on the node" },
	{ .name = "yes", .shrt = 'y', .kind = OPT_BOOL, .help = "do not ask for confirmation" },
	{ NULL }
};

/* clang-format off */
static const struct opt nodes_replace_opts[] = {
	{ .name = "ttl", .kind = OPT_DURATION, .arg = "DUR", .min = 60,
	  .help = "how long the new machine has to register (default 1h, at least 1m)" },
	{ .name = "yes", .shrt = 'y', .kind = OPT_BOOL, .help = "do not ask for confirmation" },
	{ NULL }
};
/* clang-format on */

/* clang-format off */
static const struct opt nodes_enroll_opts[] = {
	{ .name = "name", .kind = OPT_STR, .arg = "NAME",
	  .help = "the node.id the token is for (default: any)" },
	{ .name = "labels", .kind = OPT_LIST, .arg = "A,B",
	  .help = "operator labels given to the node (repeatable)" },
	{ .name = "ttl", .kind = OPT_DURATION, .arg = "DUR", .min = 60,
	  .help = "token lifetime (default 1h, at least 1m)" },
	{ NULL }
};
/* clang-format on */

const struct cmd cmd_nodes_list = {
	.path = "nodes list",
	.summary = "list worker nodes",
	.opts = nodes_list_opts,
	.flags = CMD_NEEDS_AUTH,
	.exec = nodes_list,
	.doc =
	    "Lists worker nodes as a table (aligned on a terminal, TAB-separated when piped: see OUTPUT in cynork(1)) with the columns NODE, STATUS (active, inactive: no heartbeat within the server's liveness TTL, drained), ENABLED, CONFIG (the last ack: applied or failed), APPLIED (the config_version last acknowledged), LAST_SEEN, RUNNING, CAPACITY, LABELS and URL; -o wide adds NODE_ID, DESIRED (the config_version pushed), DRAIN_REASON and CREATED_AT (-o name: only the slugs; -o json: the server's objects, with drain_reason, config_ack_error, capability_hash and more). Operators and admins only.",
};
const struct cmd cmd_nodes_get = {
	.path = "nodes get",
	.summary = "show one worker node",
	.usage = "<node>",
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_NEEDS_AUTH,
	.exec = nodes_get,
	.doc =
	    "Shows one node (slug or id) as a record line with node_id, node_slug, status, enabled, drain_reason (when drained), config_version (the version the node must apply), config_ack_status, config_ack_version, config_ack_error (when the last ack failed), last_seen_at, running_jobs, max_concurrency, labels, worker_api_url, conditions (what the node reports an operator should know, when any: disk_low when its state dir or mount root has less than storage.min_free_mb free and it refuses jobs, workspace_quota_unenforced when it cannot limit job workspaces) and, from its last capability report, cpu_cores, ram_mb, gpus, inference (running, supported or unsupported) and models (those its backend serves, - for none); -o json prints the server's object (conditions as [{type, message}], capabilities as {platform, compute, gpu, inference}). An unknown node exits 66.",
};
const struct cmd cmd_nodes_stats = {
	.path = "nodes stats",
	.summary = "show a node's resource snapshot",
	.usage = "<node>",
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_NEEDS_AUTH,
	.exec = nodes_stats,
	.doc =
	    "Asks the node (through the server, with its worker token) for a snapshot of itself and prints a record line with node_slug, captured_at, cpu_cores, load (1, 5 and 15 minutes), mem_total_bytes, mem_free_bytes, state_free_bytes, jobs_running and job_slots; -o json prints the node's node:stats object. An unknown node exits 66, a node that does not answer 69. Operators and admins only.",
};
const struct cmd cmd_nodes_logs = {
	.path = "nodes logs",
	.summary = "show a node's telemetry events (--follow: keep printing)",
	.usage = "<node>",
	.opts = nodes_logs_opts,
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_NEEDS_AUTH,
	.exec = nodes_logs,
	.doc =
	    "Prints the events of the node's own telemetry store, oldest first, one record line each: ts, source (node: the node manager's lifecycle, such as node_starting, node_registered, config_applied, config_refused, node_stopping; job: job_started, job_finished, job_refused), level, event, task_id and job_id (job events) and message. At most the newest 1000 events (and 1 MiB) are shown; a note on stderr says when there were more. --since DUR|TIME starts at that age (15m, 2h) or RFC 3339 time; --source node|job keeps one source; --follow polls every second and prints new events until interrupted. -o json prints the node's answer ({version, events, truncated}); with --follow one event object a line. A bad --since exits 65 naming it. Operators and admins only.",
};
const struct cmd cmd_nodes_drain = {
	.path = "nodes drain",
	.summary = "stop new jobs on a node (--wait: until its running jobs end)",
	.usage = "<node>",
	.opts = nodes_drain_opts,
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_NEEDS_AUTH,
	.exec = nodes_drain,
	.doc =
	    "Marks the node drained at once: the dispatcher places no new job on it; jobs already running finish. Prints node_id=NODE drained=true. With --wait, returns only when the node runs no job any more (--timeout DUR implies --wait and gives up after DUR with exit 124). Asks for confirmation on a terminal unless -y; without -y and without a terminal it does nothing and exits 64. The node stays drained across restarts and re-registrations until nodes undrain.",
};
const struct cmd cmd_nodes_undrain = {
	.path = "nodes undrain",
	.summary = "let a drained node take jobs again",
	.usage = "<node>",
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_NEEDS_AUTH,
	.exec = nodes_undrain,
	.doc =
	    "Ends a drain: the node takes jobs again (if it is alive and enabled). Prints node_id=NODE drained=false.",
};
const struct cmd cmd_nodes_enable = {
	.path = "nodes enable",
	.summary = "make a node eligible for jobs",
	.usage = "<node>",
	.opts = nodes_yes_opts,
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_NEEDS_AUTH,
	.exec = nodes_enable,
	.doc =
	    "Makes the node eligible for jobs again. Prints node_id=NODE enabled=true. Asks for confirmation on a terminal unless -y; without -y and without a terminal it does nothing and exits 64.",
};
const struct cmd cmd_nodes_disable = {
	.path = "nodes disable",
	.summary = "make a node ineligible for jobs",
	.usage = "<node>",
	.opts = nodes_yes_opts,
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_NEEDS_AUTH,
	.exec = nodes_disable,
	.doc =
	    "Makes the node ineligible for jobs (running jobs finish) without draining it. Prints node_id=NODE enabled=false. Asks for confirmation on a terminal unless -y; without -y and without a terminal it does nothing and exits 64.",
};
const struct cmd cmd_nodes_remove = {
	.path = "nodes remove",
	.summary = "remove a node and revoke its credentials",
	.usage = "<node>",
	.opts = nodes_remove_opts,
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_NEEDS_AUTH,
	.exec = nodes_remove,
	.doc =
	    "Removes the node and revokes its credentials at once: its node JWT, Worker API token and node credential stop working, and the registration PSK no longer admits its slug (a running node stops). Refused with exit 73 while jobs run on it unless --force. To bring the node back, enroll it again: nodes enroll --name SLUG. Prints node_id=NODE removed=true. Asks for confirmation on a terminal unless -y; without -y and without a terminal it does nothing and exits 64.",
};
const struct cmd cmd_nodes_replace = {
	.path = "nodes replace",
	.summary = "let a new machine register as an existing node",
	.usage = "<node>",
	.opts = nodes_replace_opts,
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_NEEDS_AUTH,
	.exec = nodes_replace,
	.doc =
	    "Admin only. A node that registered once holds a node credential and re-registers with it; the fleet's registration PSK, or an enrollment token that names no node, cannot take its name (the server answers 409 and audits the attempt). To put a new machine (or a reinstalled one, whose state_dir/credentials is gone) in the node's place, run nodes replace: for --ttl (default 1h) one registration with the PSK or such a token may take the name, receiving a new node credential and worker token; the old credential stops working then. An enrollment token made for the node (nodes enroll --name NODE) does the same without this step. Prints node_id=NODE replace_until=TIME. Asks for confirmation on a terminal unless -y; without -y and without a terminal it does nothing and exits 64.",
};
const struct cmd cmd_nodes_enroll = {
	.path = "nodes enroll",
	.summary = "create a single-use enrollment token for a new node",
	.opts = nodes_enroll_opts,
	.flags = CMD_NEEDS_AUTH,
	.check = nodes_enroll_check,
	.exec = nodes_enroll,
	.doc =
	    "Admin only. Creates a single-use enrollment token (shown once, stored hashed), valid for --ttl (default 1h), optionally bound to one node.id (--name) and giving the node operator labels (--labels a,b). Prints token=T expires_at=TIME and the node.yaml lines that use it (orchestrator.enrollment_token_file). On its first registration the node receives a node credential, kept in <state_dir>/credentials/node.credential (0600), and re-registers with it from then on; the token cannot be used again. -o name prints the token only.",
};
