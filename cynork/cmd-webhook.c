/*
 * cynork webhook create|list|delete|deliveries: the caller's webhooks
 * (POST/GET /v1/webhooks, DELETE /v1/webhooks/{id}, GET
 * /v1/webhooks/{id}/deliveries).  The signing secret comes from a file
 * (--secret-file), never from an argument; without one the server makes
 * one and create prints it, once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cynork.h"
#include "json.h"
#include "banned.h"

#define SECRET_FILE_MAX 4096

static const char *const event_names[] = { "task.finished", "node.lost", NULL };

/* --events: a comma-separated list of known names, into a new JSON array (NULL: reported). */
static json_t *
events_list(const char *v, int *rc)
{
	json_t *a = json_array();
	char *dup = xstrdup(v), *s = dup, *comma;
	size_t i;

	for (;;) {
		comma = strchr(s, ',');
		if (comma)
			*comma = '\0';
		for (i = 0; event_names[i] && strcmp(event_names[i], s); i++)
			;
		if (!event_names[i]) {
			*rc = fail(EXIT_USAGE,
			    "invalid event '%s' for --events: want task.finished, node.lost or both, comma-separated",
			    s);
			json_decref(a);
			free(dup);
			return NULL;
		}
		json_array_append_new(a, json_string(s));
		if (!comma)
			break;
		s = comma + 1;
	}
	free(dup);
	return a;
}

static int
create_check(const struct parsed *p)
{
	int rc = 0;
	json_t *a = events_list(opt_get(p, "events") ? opt_get(p, "events") : "", &rc);

	json_decref(a);
	if (rc)
		return rc;
	if (opt_get(p, "secret-file"))
		return check_file("secret-file", opt_get(p, "secret-file"), SECRET_FILE_MAX);
	return 0;
}

static int
webhook_create(struct ctx *c, const struct parsed *p)
{
	struct cy_buf secret = CY_BUF_INIT, line = CY_BUF_INIT;
	json_t *req, *res = NULL;
	int rc = 0;

	req = json_pack("{s:s, s:o}", "url", opt_get(p, "url"), "events",
	    events_list(opt_get(p, "events"), &rc));
	if (opt_get(p, "secret-file")) {
		if ((rc = read_input("secret-file", opt_get(p, "secret-file"), SECRET_FILE_MAX,
			 &secret))) {
			json_decref(req);
			return rc;
		}
		/* One trailing newline is the file's, not the secret's. */
		if (secret.len && secret.buf[secret.len - 1] == '\n')
			cy_buf_setlen(&secret, secret.len - 1);
		json_object_set_new(req, "secret", json_stringn(secret.buf, secret.len));
		explicit_bzero(secret.buf, secret.len);
	}
	cy_buf_release(&secret);
	rc = api_call(c, "POST", "/v1/webhooks", req, true, &res);
	json_decref(req);
	if (rc)
		return rc;
	if (out_json(c)) {
		print_json(out_id_view(res, "webhook_id"));
		json_decref(res);
		return 0;
	}
	if (out_name(c)) {
		printf("%s\n", out_dash(res, "id"));
		json_decref(res);
		return 0;
	}
	rec_add(&line, "webhook_id", cy_json_str(res, "id"));
	rec_add(&line, "url", cy_json_str(res, "url"));
	if (cy_json_str(res, "secret"))
		rec_add(&line, "secret", cy_json_str(res, "secret"));
	json_decref(res);
	return print_line(&line);
}

static const struct col webhook_cols[] = {
	{ "WEBHOOK_ID", 0 },
	{ "URL", COL_TRUNC },
	{ "EVENTS", 0 },
	{ "DELIVERIES", COL_RIGHT },
	{ "FAILED", COL_RIGHT },
	{ "CREATED_AT", COL_TIME },
	{ NULL, 0 },
};

static int
webhook_list(struct ctx *c, const struct parsed *p)
{
	struct out_table *t;
	json_t *res = NULL, *list, *w, *e;
	size_t i, j;
	int rc;

	if ((rc = api_call(c, "GET", "/v1/webhooks", NULL, true, &res)))
		return rc;
	list = json_object_get(res, "webhooks");
	if (!json_is_array(list)) {
		json_decref(res);
		return fail(EXIT_PROTOCOL, "malformed response: no 'webhooks' list");
	}
	if (out_json(c)) {
		json_t *o = json_pack("{s:o}", "webhooks", out_ids_view(list, "webhook_id"));

		json_decref(res);
		return print_json(o);
	}
	t = out_name(c) ? NULL : table_new(c, p, webhook_cols);
	json_array_foreach(list, i, w) {
		struct cy_buf ev = CY_BUF_INIT;

		if (!t) {
			printf("%s\n", out_dash(w, "id"));
			continue;
		}
		json_array_foreach(json_object_get(w, "events"), j, e)
			cy_buf_addf(&ev, "%s%s", j ? "," : "", json_string_value(e));
		table_row(t);
		table_cell(t, cy_json_str(w, "id"));
		table_cell(t, cy_json_str(w, "url"));
		table_cell(t, ev.buf);
		table_cell_key(t, w, "deliveries");
		table_cell_key(t, w, "failed");
		table_cell(t, cy_json_str(w, "created_at"));
		cy_buf_release(&ev);
	}
	json_decref(res);
	return t ? table_print(t) : 0;
}

static int
webhook_delete(struct ctx *c, const struct parsed *p)
{
	struct cy_buf line = CY_BUF_INIT;
	char *e, *path;
	int rc;

	if (!confirm(c, p, &rc, "Delete webhook %s", p->args[0]))
		return rc;
	e = url_escape(p->args[0]);
	path = xasprintf("/v1/webhooks/%s", e);
	free(e);
	rc = api_call(c, "DELETE", path, NULL, true, NULL);
	free(path);
	if (rc)
		return rc;
	if (out_json(c))
		return print_json(json_pack("{s:s, s:b}", "webhook_id", p->args[0], "deleted", 1));
	rec_add(&line, "webhook_id", p->args[0]);
	rec_add(&line, "deleted", "true");
	return print_line(&line);
}

static const struct col delivery_cols[] = {
	{ "DELIVERY_ID", 0 },
	{ "EVENT", 0 },
	{ "EVENT_ID", 0 },
	{ "STATUS", COL_STATE },
	{ "ATTEMPTS", COL_RIGHT },
	{ "LAST_STATUS", 0 },
	{ "LAST_ERROR", COL_TRUNC },
	{ "CREATED_AT", COL_TIME },
	{ NULL, 0 },
};

static int
webhook_deliveries(struct ctx *c, const struct parsed *p)
{
	struct out_table *t;
	json_t *res = NULL, *list, *d;
	char *e, *path;
	size_t i;
	int rc;

	e = url_escape(p->args[0]);
	path = opt_get(p, "limit") ?
		   xasprintf("/v1/webhooks/%s/deliveries?limit=%s", e, opt_get(p, "limit")) :
		   xasprintf("/v1/webhooks/%s/deliveries", e);
	free(e);
	rc = api_call(c, "GET", path, NULL, true, &res);
	free(path);
	if (rc)
		return rc;
	list = json_object_get(res, "deliveries");
	if (!json_is_array(list)) {
		json_decref(res);
		return fail(EXIT_PROTOCOL, "malformed response: no 'deliveries' list");
	}
	if (out_json(c)) {
		json_t *o = out_id_view(res, "webhook_id");

		json_object_set_new(o, "deliveries", out_ids_view(list, "delivery_id"));
		json_decref(res);
		return print_json(o);
	}
	t = out_name(c) ? NULL : table_new(c, p, delivery_cols);
	json_array_foreach(list, i, d) {
		if (!t) {
			printf("%lld\n", (long long)json_integer_value(json_object_get(d, "id")));
			continue;
		}
		table_row(t);
		table_cell_key(t, d, "id");
		table_cell(t, cy_json_str(d, "event"));
		table_cell_key(t, d, "event_id");
		table_cell(t, cy_json_str(d, "status"));
		table_cell_key(t, d, "attempts");
		table_cell_key(t, d, "last_status");
		table_cell(t, cy_json_str(d, "last_error"));
		table_cell(t, cy_json_str(d, "created_at"));
	}
	json_decref(res);
	return t ? table_print(t) : 0;
}

/* clang-format off */
static const struct opt create_opts[] = {
	{ .name = "url", .kind = OPT_STR, .arg = "URL",
	  .help = "where to POST each event (http:// or https://)" },
	{ .name = "events", .kind = OPT_STR, .arg = "LIST",
	  .help = "task.finished, node.lost (admins) or both, comma-separated" },
	{ .name = "secret-file", .kind = OPT_STR, .arg = "FILE",
	  .help = "the signing secret (16 to 256 printable bytes; one trailing newline ignored); default: the server makes one and prints it once" },
	{ NULL }
};

static const struct opt list_opts[] = {
	{ .name = "no-headers", .kind = OPT_BOOL, .help = "omit the header line" },
	{ NULL }
};

static const struct opt delete_opts[] = {
	{ .name = "yes", .shrt = 'y', .kind = OPT_BOOL, .help = "do not ask for confirmation" },
	{ NULL }
};

static const struct opt deliveries_opts[] = {
	{ .name = "limit", .shrt = 'l', .kind = OPT_INT, .arg = "N",
	  .help = "at most N deliveries, newest first (1-1000, default 100)", .min = 1, .max = 1000 },
	{ .name = "no-headers", .kind = OPT_BOOL, .help = "omit the header line" },
	{ NULL }
};
/* clang-format on */

static int
create_required(const struct parsed *p)
{
	if (!opt_get(p, "url"))
		return fail(EXIT_USAGE, "webhook create needs --url URL");
	if (!opt_get(p, "events"))
		return fail(EXIT_USAGE, "webhook create needs --events LIST");
	return create_check(p);
}

const struct cmd cmd_webhook_create = {
	.path = "webhook create",
	.summary = "POST events to a URL, signed (task.finished; node.lost for admins)",
	.opts = create_opts,
	.flags = CMD_NEEDS_AUTH,
	.check = create_required,
	.exec = webhook_create,
	.doc =
	    "Creates a webhook: for each event it names the server POSTs the event's JSON object to URL with the headers Cynode-Event (task.finished or node.lost), Cynode-Delivery (the delivery id) and Cynode-Signature: sha256=HEX, the HMAC-SHA256 of the body under the secret. task.finished: one of your tasks completed, failed or was canceled (the body's type says which); node.lost: a node stopped reporting (admins only). Anything but a 2xx answer is retried after 1 s, 2 s, 4 s ... (at most an hour apart, 8 attempts); webhook deliveries shows the log. Prints webhook_id=ID url=URL, and secret=S when the server made the secret (shown this once); -o json the webhook (webhook_id, url, events, created_at, and secret when the server made it).",
};
const struct cmd cmd_webhook_list = {
	.path = "webhook list",
	.aliases = "ls",
	.summary = "list your webhooks",
	.opts = list_opts,
	.flags = CMD_NEEDS_AUTH,
	.exec = webhook_list,
	.doc =
	    "A TAB-separated table: WEBHOOK_ID, URL, EVENTS, DELIVERIES, FAILED, CREATED_AT. -o json prints {\"webhooks\": [...]}, each with webhook_id, url, events, deliveries, failed, created_at; no form holds the secret.",
};
const struct cmd cmd_webhook_delete = {
	.path = "webhook delete",
	.aliases = "rm",
	.summary = "delete a webhook and its delivery log",
	.usage = "<id>",
	.opts = delete_opts,
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_NEEDS_AUTH,
	.exec = webhook_delete,
	.doc =
	    "Deletes the webhook ID; deliveries not yet made are dropped. Asks for confirmation on a terminal unless -y; without -y and without a terminal it does nothing and exits 64. Prints webhook_id=ID deleted=true (-o json: {\"webhook_id\": ID, \"deleted\": true}); an id you have no webhook for exits 66.",
};
const struct cmd cmd_webhook_deliveries = {
	.path = "webhook deliveries",
	.summary = "the delivery log of a webhook, newest first",
	.usage = "<id>",
	.opts = deliveries_opts,
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_NEEDS_AUTH,
	.exec = webhook_deliveries,
	.doc =
	    "A TAB-separated table: DELIVERY_ID, EVENT, EVENT_ID (the event's id in cynork events), STATUS (pending, delivered, failed), ATTEMPTS, LAST_STATUS (the receiver's HTTP status), LAST_ERROR, CREATED_AT. -o json prints {\"deliveries\": [...]}, each with delivery_id, event, event_id, status, attempts, last_status, last_error, created_at, delivered_at and next_attempt_at.",
};
