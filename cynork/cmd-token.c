/*
 * cynork token create|list|revoke: API tokens for CI.  The token
 * is printed once, by create, and never stored by cynork; CI passes it in
 * CYNORK_TOKEN (or any client as "Authorization: Bearer cyn_...").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "cynork.h"
#include "json.h"
#include "timeutil.h"
#include "banned.h"

static const char *const scope_names[] = { "tasks:read", "tasks:write", "nodes:read", "nodes:write",
	"inference", "secrets", "metrics", "admin", NULL };

/* "tasks:read,tasks:write" from a JSON array of strings (caller frees). */
static char *
scopes_join(const json_t *a)
{
	struct cy_buf b = CY_BUF_INIT;
	json_t *e;
	size_t i;

	json_array_foreach(a, i, e) {
		if (b.len)
			cy_buf_addch(&b, ',');
		cy_buf_addstr(&b, json_string_value(e) ? json_string_value(e) : "?");
	}
	if (!b.len)
		cy_buf_addch(&b, '-');
	return cy_buf_detach(&b, NULL);
}

static int
token_create_check(const struct parsed *p)
{
	const char *const *scopes;
	size_t n, i, j;

	n = opt_list(p, "scope", &scopes);
	for (i = 0; i < n; i++) {
		for (j = 0; scope_names[j]; j++)
			if (!strcmp(scopes[i], scope_names[j]))
				break;
		if (!scope_names[j])
			return fail(EXIT_USAGE,
			    "invalid value '%s' for --scope: want tasks:read, tasks:write, nodes:read, nodes:write, inference, secrets, metrics or admin",
			    scopes[i]);
	}
	return 0;
}

/*
 * A token as -o json shows it: a new object with the server's id named
 * token_id, as the record lines, token revoke and the table call it (one
 * name per thing); the other keys as they came.
 */
static json_t *
token_view(const json_t *t)
{
	json_t *o = json_object(), *v;
	const char *key;

	json_object_set(o, "token_id", json_object_get(t, "id"));
	json_object_foreach((json_t *)t, key, v) {
		if (strcmp(key, "id") != 0)
			json_object_set(o, key, v);
	}
	return o;
}

static int
token_create(struct ctx *c, const struct parsed *p)
{
	const char *const *scopes;
	struct cy_buf line = CY_BUF_INIT;
	json_t *req, *arr, *res = NULL;
	const char *tok;
	long long ttl;
	size_t n, i;
	char *sj;
	int rc;

	req = json_pack("{s:s}", "name", opt_get(p, "name"));
	n = opt_list(p, "scope", &scopes);
	if (n) {
		arr = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(arr, json_string(scopes[i]));
		json_object_set_new(req, "scopes", arr);
	}
	if (opt_get(p, "ttl") && cy_duration_parse(opt_get(p, "ttl"), &ttl) == 0)
		json_object_set_new(req, "ttl", json_integer(ttl));
	rc = api_call(c, "POST", "/v1/tokens", req, true, &res);
	json_decref(req);
	if (rc)
		return rc;
	tok = cy_json_str(res, "token");
	if (!tok) {
		json_decref(res);
		return fail(EXIT_PROTOCOL, "malformed response: no token");
	}
	if (out_json(c)) {
		print_json(token_view(res));
		json_decref(res);
		return 0;
	}
	if (out_name(c)) {
		printf("%s\n", tok);
	} else {
		sj = scopes_join(json_object_get(res, "scopes"));
		rec_add(&line, "token_id", cy_json_str(res, "id"));
		rec_add(&line, "name", cy_json_str(res, "name"));
		rec_add(&line, "scopes", sj);
		rec_add(&line, "expires_at", cy_json_str(res, "expires_at"));
		rec_add(&line, "token", tok);
		print_line(&line);
		free(sj);
	}
	note(c, "note: store the token now; it is not shown again");
	json_decref(res);
	return 0;
}

static const char *
token_state(const json_t *t)
{
	const char *exp = cy_json_str(t, "expires_at");
	time_t e;

	if (cy_json_str(t, "revoked_at"))
		return "revoked";
	if (exp && cy_time_parse_rfc3339(exp, &e) == 0 && e <= time(NULL))
		return "expired";
	return "active";
}

/* token list: the columns, OWNER with --all (-o wide adds created_at and revoked_at). */
static const struct col token_cols[] = {
	{ "TOKEN_ID", 0 },
	{ "NAME", COL_TRUNC },
	{ "PREFIX", 0 },
	{ "SCOPES", COL_TRUNC },
	{ "STATE", COL_STATE },
	{ "EXPIRES_AT", COL_TIME },
	{ "LAST_USED_AT", COL_TIME },
	{ "CREATED_AT", COL_WIDE | COL_TIME },
	{ "REVOKED_AT", COL_WIDE | COL_TIME },
	{ NULL, 0 },
};
static const struct col token_cols_all[] = {
	{ "TOKEN_ID", 0 },
	{ "NAME", COL_TRUNC },
	{ "PREFIX", 0 },
	{ "SCOPES", COL_TRUNC },
	{ "STATE", COL_STATE },
	{ "EXPIRES_AT", COL_TIME },
	{ "LAST_USED_AT", COL_TIME },
	{ "OWNER", 0 },
	{ "CREATED_AT", COL_WIDE | COL_TIME },
	{ "REVOKED_AT", COL_WIDE | COL_TIME },
	{ NULL, 0 },
};

static int
token_list(struct ctx *c, const struct parsed *p)
{
	struct out_table *tb;
	json_t *res = NULL, *list, *t;
	bool all = opt_set(p, "all");
	size_t i;
	char *sj;
	int rc;

	rc = api_call(c, "GET", all ? "/v1/tokens?all=true" : "/v1/tokens", NULL, true, &res);
	if (rc)
		return rc;
	list = json_object_get(res, "tokens");
	if (!json_is_array(list)) {
		json_decref(res);
		return fail(EXIT_PROTOCOL, "malformed response: no 'tokens' list");
	}
	if (out_json(c)) {
		json_t *o = json_pack("{s:[]}", "tokens");

		json_array_foreach(list, i, t)
			json_array_append_new(json_object_get(o, "tokens"), token_view(t));
		json_decref(res);
		return print_json(o);
	}
	tb = out_name(c) ? NULL : table_new(c, p, all ? token_cols_all : token_cols);
	json_array_foreach(list, i, t) {
		if (!tb) {
			printf("%s\n", out_dash(t, "id"));
			continue;
		}
		sj = scopes_join(json_object_get(t, "scopes"));
		table_row(tb);
		table_cell(tb, cy_json_str(t, "id"));
		table_cell(tb, cy_json_str(t, "name"));
		table_cell(tb, cy_json_str(t, "token_prefix"));
		table_cell(tb, sj);
		table_cell(tb, token_state(t));
		table_cell(tb, cy_json_str(t, "expires_at"));
		table_cell(tb, cy_json_str(t, "last_used_at"));
		if (all)
			table_cell(tb, cy_json_str(t, "owner"));
		table_cell(tb, cy_json_str(t, "created_at"));
		table_cell(tb, cy_json_str(t, "revoked_at"));
		free(sj);
	}
	json_decref(res);
	return tb ? table_print(tb) : 0;
}

static int
token_revoke(struct ctx *c, const struct parsed *p)
{
	struct cy_buf line = CY_BUF_INIT;
	char *e, *path;
	int rc = 0;

	if (!confirm(c, p, &rc, "revoke API token %s (it fails on its next use)", p->args[0]))
		return rc;
	e = url_escape(p->args[0]);
	path = xasprintf("/v1/tokens/%s/revoke", e);
	free(e);
	rc = api_call(c, "POST", path, NULL, true, NULL);
	free(path);
	if (rc)
		return rc;
	if (out_json(c))
		return print_json(json_pack("{s:s, s:b}", "token_id", p->args[0], "revoked", 1));
	if (out_name(c)) {
		printf("%s\n", p->args[0]);
		return 0;
	}
	rec_add(&line, "token_id", p->args[0]);
	rec_add(&line, "revoked", "true");
	return print_line(&line);
}

/* clang-format off */
static const struct opt create_opts[] = {
	{ .name = "name", .shrt = 'n', .kind = OPT_STR, .arg = "NAME",
	  .help = "token name (unique among your active tokens)" },
	{ .name = "scope", .shrt = 's', .kind = OPT_LIST, .arg = "SCOPE",
	  .help = "tasks:read, tasks:write, nodes:read, nodes:write, inference, secrets, metrics or admin (repeatable; default tasks:read and tasks:write)" },
	{ .name = "ttl", .kind = OPT_DURATION, .arg = "DUR",
	  .help = "lifetime, 60s to 8784h (default 2160h = 90 days)" },
	{ NULL }
};

static const struct opt list_opts[] = {
	{ .name = "all", .kind = OPT_BOOL, .help = "every user's tokens, with their owner (admin)" },
	{ .name = "no-headers", .kind = OPT_BOOL, .help = "omit the header line" },
	{ NULL }
};

static const struct opt revoke_opts[] = {
	{ .name = "yes", .shrt = 'y', .kind = OPT_BOOL, .help = "do not ask for confirmation" },
	{ NULL }
};
/* clang-format on */

static int
token_create_usage(const struct parsed *p)
{
	if (!opt_get(p, "name"))
		return fail(EXIT_USAGE, "token create needs --name");
	return token_create_check(p);
}

const struct cmd cmd_token_create = {
	.path = "token create",
	.summary = "create an API token for CI and print it once",
	.opts = create_opts,
	.flags = CMD_NEEDS_AUTH,
	.check = token_create_usage,
	.exec = token_create,
	.doc =
	    "Prints token_id, name, scopes, expires_at and the token itself, once: the server keeps only its SHA-256 and its first 12 characters. -o name prints only the token. Scopes are tasks:read, tasks:write, nodes:read, nodes:write, inference (the OpenAI-compatible /v1/models and /v1/chat/completions: cynork models, cynork chat), secrets (cynork secret set, list and delete; a tasks:write token may give jobs your secrets without it) and admin; write implies read; a token never holds more than its owner's role allows, and a token cannot create tokens unless it has the admin scope. The lifetime is 60s to 8784h (default 90 days).\n\nUse the token as CYNORK_TOKEN=cyn_... in CI, or as \"Authorization: Bearer cyn_...\" with any HTTP client.",
};
const struct cmd cmd_token_list = {
	.path = "token list",
	.aliases = "ls",
	.summary = "list your API tokens (never the secrets)",
	.opts = list_opts,
	.flags = CMD_NEEDS_AUTH,
	.exec = token_list,
	.doc =
	    "A TAB-separated table: TOKEN_ID, NAME, PREFIX, SCOPES, STATE (active, expired, revoked), EXPIRES_AT, LAST_USED_AT (to the minute); --all adds OWNER. The secret is never shown again.",
};
const struct cmd cmd_token_revoke = {
	.path = "token revoke",
	.summary = "revoke an API token at once",
	.usage = "<token-id>",
	.opts = revoke_opts,
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_NEEDS_AUTH,
	.exec = token_revoke,
	.doc =
	    "The token fails on its next use, on every server replica. Admins may revoke any user's token. Asks for confirmation on a terminal unless -y; without -y and without a terminal it does nothing and exits 64.",
};
