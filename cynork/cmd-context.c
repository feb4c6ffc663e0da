/*
 * cynork context list|use|add|remove: the named contexts of the config
 * file (config.c), as kubectl's and nomad's: a gateway URL, its CA file
 * and its own session each, one of them current.  The context "default"
 * is the file's top level, there in every file, never removed.  Nothing
 * here calls the gateway.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "cynork.h"
#include "json.h"
#include "banned.h"

/* A context's keys as the file has them (the active one's from cfg itself). */
static json_t *
context_keys(const struct cfg *cfg, const char *name)
{
	if (strcmp(name, cfg->context) == 0 && !cfg->context_unknown) {
		json_t *o = json_object();

		if (cfg->gateway_url)
			json_object_set_new(o, "gateway_url", json_string(cfg->gateway_url));
		if (cfg->token)
			json_object_set_new(o, "token", json_string(cfg->token));
		if (cfg->credential_helper)
			json_object_set_new(o, "credential_helper",
			    json_string(cfg->credential_helper));
		if (cfg->ca_file)
			json_object_set_new(o, "ca_file", json_string(cfg->ca_file));
		return o;
	}
	if (strcmp(name, CFG_DEFAULT_CONTEXT) == 0)
		return json_incref(cfg->top);
	return json_incref(json_object_get(cfg->contexts, name));
}

/* The context a rewrite makes current (what the file says, or default). */
static const char *
file_current(const struct cfg *cfg)
{
	return cfg->current_context ? cfg->current_context : CFG_DEFAULT_CONTEXT;
}

static bool
context_exists(const struct cfg *cfg, const char *name)
{
	return strcmp(name, CFG_DEFAULT_CONTEXT) == 0 ||
	       (json_object_get(cfg->contexts, name) &&
		   !(cfg->context_unknown && strcmp(name, cfg->context) == 0));
}

/* Inside the shell, the session reads the file again for its next line. */
static void
context_reload(struct ctx *c)
{
	if (!c->in_shell)
		return;
	cfg_release(&c->cfg);
	c->cfg_ready = false;
	c->gateway = NULL;
	c->token = NULL;
}

static const struct col context_cols[] = {
	{ "CONTEXT", 0 },
	{ "CURRENT", 0 },
	{ "GATEWAY_URL", COL_TRUNC },
	{ "SESSION", 0 },
	{ "ACTIVE", COL_WIDE },
	{ NULL, 0 },
};

/* One context: into arr (-o json), a row of t (the table), or a line. */
static void
list_one(struct ctx *c, json_t *arr, struct out_table *t, const char *name)
{
	json_t *o = context_keys(&c->cfg, name);
	const char *url = cy_json_str(o, "gateway_url");
	const char *session = cy_json_str(o, "credential_helper") ? "helper" :
			      cy_json_str(o, "token")             ? "stored" :
								    "none";
	struct cy_buf line = CY_BUF_INIT;
	bool cur = strcmp(name, file_current(&c->cfg)) == 0;
	bool active = strcmp(name, c->cfg.context) == 0;

	if (out_json(c)) {
		json_array_append_new(arr,
		    json_pack("{s:s, s:s?, s:b, s:b, s:s}", "name", name, "gateway_url", url,
			"current", cur, "active", active, "session", session));
	} else if (out_name(c)) {
		printf("%s\n", name);
	} else if (t) {
		table_row(t);
		table_cell(t, name);
		table_cell(t, cur ? "true" : "false");
		table_cell(t, url);
		table_cell(t, session);
		table_cell(t, active ? "true" : "false");
	} else {
		rec_add(&line, "context", name);
		rec_add(&line, "gateway_url", url ? url : "-");
		rec_add(&line, "current", cur ? "true" : "false");
		if (active != cur)
			rec_add(&line, "active", active ? "true" : "false");
		rec_add(&line, "session", session);
		print_line(&line);
	}
	json_decref(o);
}

static int
context_list(struct ctx *c, const struct parsed *p)
{
	json_t *arr = json_array(), *v;
	struct out_table *t = NULL;
	const char *name;
	int rc = 0;

	if (!out_json(c) && !out_name(c) && (out_text(c) || out_wide(c)))
		t = table_new(c, p, context_cols);
	list_one(c, arr, t, CFG_DEFAULT_CONTEXT);
	json_object_foreach(c->cfg.contexts, name, v) {
		if (c->cfg.context_unknown && strcmp(name, c->cfg.context) == 0)
			continue;
		list_one(c, arr, t, name);
	}
	if (out_json(c))
		return print_json(json_pack("{s:s, s:s, s:o}", "current", file_current(&c->cfg),
		    "active", c->cfg.context, "contexts", arr));
	json_decref(arr);
	if (t)
		rc = table_print(t);
	if (c->cfg.context_unknown)
		note(c, "cynork: the selected context '%s' is not in the file", c->cfg.context);
	return rc;
}

static int
context_use(struct ctx *c, const struct parsed *p)
{
	const char *name = p->args[0], *env = getenv("CYNORK_CONTEXT");
	struct cy_buf line = CY_BUF_INIT;
	int rc;

	if (!cfg_context_name_ok(name))
		return fail(EXIT_USAGE,
		    "invalid context name '%s': want 1 to 63 of a-z, 0-9, '.', '_', '-'", name);
	if (!context_exists(&c->cfg, name))
		return fail(EXIT_NOT_FOUND,
		    "unknown context '%s'; 'cynork context list' shows them", name);
	free(c->cfg.current_context);
	c->cfg.current_context = strcmp(name, CFG_DEFAULT_CONTEXT) ? xstrdup(name) : NULL;
	if ((rc = cfg_save(c)) != 0)
		return rc;
	if (c->context_opt || (env && *env))
		note(c, "cynork: %s still selects context '%s' here",
		    c->context_opt ? "--context" : "CYNORK_CONTEXT", c->cfg.context);
	if (out_json(c)) {
		print_json(json_pack("{s:s}", "current", name));
	} else if (!out_name(c)) {
		rec_add(&line, "context", name);
		rec_add(&line, "current", "true");
		print_line(&line);
	} else {
		printf("%s\n", name);
	}
	context_reload(c);
	return 0;
}

static int
context_add_check(const struct parsed *p)
{
	const char *name = p->args[0], *why;

	if (!cfg_context_name_ok(name))
		return fail(EXIT_USAGE,
		    "invalid context name '%s': want 1 to 63 of a-z, 0-9, '.', '_', '-'", name);
	if (!opt_get(p, "server"))
		return fail(EXIT_USAGE, "'cynork context add' needs --server URL");
	if ((why = cfg_url_problem(opt_get(p, "server"))))
		return fail(EXIT_USAGE, "invalid value '%s' for --server: %s", opt_get(p, "server"),
		    why);
	if (opt_get(p, "ca-file") && access(opt_get(p, "ca-file"), R_OK) < 0)
		return fail(EXIT_USAGE, "cannot read --ca-file '%s': %s", opt_get(p, "ca-file"),
		    strerror(errno));
	return 0;
}

static int
context_add(struct ctx *c, const struct parsed *p)
{
	const char *name = p->args[0];
	struct cy_buf line = CY_BUF_INIT;
	json_t *o;
	int rc;

	if (context_exists(&c->cfg, name))
		return fail(EXIT_CONFLICT, "context '%s' exists; 'cynork context remove %s' first",
		    name, name);
	o = json_pack("{s:s}", "gateway_url", opt_get(p, "server"));
	if (opt_get(p, "ca-file"))
		json_object_set_new(o, "ca_file", json_string(opt_get(p, "ca-file")));
	if (opt_get(p, "credential-helper"))
		json_object_set_new(o, "credential_helper",
		    json_string(opt_get(p, "credential-helper")));
	json_object_set_new(c->cfg.contexts, name, o);
	/* The selected context was this one, not yet made: it is now, with those keys. */
	if (c->cfg.context_unknown && strcmp(name, c->cfg.context) == 0) {
		c->cfg.context_unknown = false;
		c->cfg.gateway_url = xstrdup(opt_get(p, "server"));
		if (opt_get(p, "ca-file"))
			c->cfg.ca_file = xstrdup(opt_get(p, "ca-file"));
		if (opt_get(p, "credential-helper"))
			c->cfg.credential_helper = xstrdup(opt_get(p, "credential-helper"));
	}
	if (opt_set(p, "use")) {
		free(c->cfg.current_context);
		c->cfg.current_context = xstrdup(name);
	}
	if ((rc = cfg_save(c)) != 0)
		return rc;
	if (out_json(c)) {
		print_json(json_pack("{s:s, s:s, s:b}", "context", name, "gateway_url",
		    opt_get(p, "server"), "current", opt_set(p, "use")));
	} else if (out_name(c)) {
		printf("%s\n", name);
	} else {
		rec_add(&line, "context", name);
		rec_add(&line, "gateway_url", opt_get(p, "server"));
		rec_add(&line, "added", "true");
		print_line(&line);
	}
	context_reload(c);
	return 0;
}

static int
context_remove(struct ctx *c, const struct parsed *p)
{
	const char *name = p->args[0], *helper;
	struct cy_buf line = CY_BUF_INIT;
	json_t *o;
	int rc;

	if (strcmp(name, CFG_DEFAULT_CONTEXT) == 0)
		return fail(EXIT_USAGE,
		    "the context 'default' is the file's top level and cannot be removed");
	if (!context_exists(&c->cfg, name))
		return fail(EXIT_NOT_FOUND,
		    "unknown context '%s'; 'cynork context list' shows them", name);
	if (strcmp(name, file_current(&c->cfg)) == 0 || strcmp(name, c->cfg.context) == 0)
		return fail(EXIT_CONFLICT,
		    "context '%s' is in use; 'cynork context use OTHER' (or another --context, "
		    "CYNORK_CONTEXT) first",
		    name);
	if (!confirm(c, p, &rc, "Remove context %s and its session", name))
		return rc;
	o = json_object_get(c->cfg.contexts, name);
	helper = cy_json_str(o, "credential_helper");
	/* Its secret goes with it; a helper that cannot erase it stops the removal. */
	if (helper && (rc = credhelper_erase(helper, name)) != 0)
		return rc;
	json_object_del(c->cfg.contexts, name);
	if ((rc = cfg_save(c)) != 0)
		return rc;
	if (out_json(c)) {
		print_json(json_pack("{s:s, s:b}", "context", name, "removed", 1));
	} else if (out_name(c)) {
		printf("%s\n", name);
	} else {
		rec_add(&line, "context", name);
		rec_add(&line, "removed", "true");
		print_line(&line);
	}
	context_reload(c);
	return 0;
}

/* clang-format off */
static const struct opt add_opts[] = {
	{ .name = "server", .kind = OPT_STR, .arg = "URL",
	  .help = "the context's gateway (http:// or https://HOST[:PORT])" },
	{ .name = "ca-file", .kind = OPT_STR, .arg = "FILE",
	  .help = "CA bundle verifying the gateway's certificate" },
	{ .name = "credential-helper", .kind = OPT_STR, .arg = "HELPER",
	  .help = "store this context's token through HELPER (told the context's name)" },
	{ .name = "use", .kind = OPT_BOOL, .help = "make it the current context" },
	{ NULL }
};
static const struct opt remove_opts[] = {
	{ .name = "yes", .shrt = 'y', .kind = OPT_BOOL, .help = "do not ask for confirmation" },
	{ NULL }
};

static const struct opt list_opts[] = {
	{ .name = "no-headers", .kind = OPT_BOOL, .help = "omit the header line" },
	{ NULL }
};
/* clang-format on */

const struct cmd cmd_context_list = {
	.path = "context list",
	.aliases = "ls",
	.summary = "list the contexts of the config file",
	.opts = list_opts,
	.flags = CMD_ANY_CONTEXT,
	.exec = context_list,
	.doc = "Prints one line per context, default (the file's top level) first: context=NAME "
	       "gateway_url=URL current=BOOL session=stored|helper|none, plus active=BOOL when "
	       "--context or CYNORK_CONTEXT selects another one than the file's current_context. "
	       "With -o text (the default on a terminal) or -o wide, a table instead: "
	       "CONTEXT, CURRENT, GATEWAY_URL, SESSION; -o wide adds ACTIVE (true for the "
	       "context this command runs in); --no-headers leaves the header line out. "
	       "-o json: {\"current\", \"active\", \"contexts\": [{name, gateway_url, current, "
	       "active, session}]}; -o name: the names. Tokens are never printed.",
};
const struct cmd cmd_context_use = {
	.path = "context use",
	.summary = "make a context the current one",
	.usage = "<context>",
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_ANY_CONTEXT,
	.exec = context_use,
	.doc = "Sets the file's current_context (removes it for default). An unknown context "
	       "exits 66. --context and CYNORK_CONTEXT still win where they are given (noted "
	       "on standard error). Inside cynork shell the session switches at once.",
};
const struct cmd cmd_context_add = {
	.path = "context add",
	.summary = "add a context: a gateway with its own session",
	.usage = "<context>",
	.opts = add_opts,
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_ANY_CONTEXT,
	.check = context_add_check,
	.exec = context_add,
	.doc = "Adds the context NAME (1 to 63 of a-z, 0-9, '.', '_', '-') with --server URL "
	       "(needed), --ca-file and --credential-helper; --use makes it current. Then "
	       "cynork --context NAME login (or context use NAME, login) stores its own "
	       "session; logging in to one context never touches another's tokens. A name "
	       "taken (default included) exits 73; a bad name or URL, or an unreadable CA file, "
	       "64.",
};
const struct cmd cmd_context_remove = {
	.path = "context remove",
	.aliases = "rm",
	.summary = "remove a context and its session",
	.usage = "<context>",
	.opts = remove_opts,
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_ANY_CONTEXT,
	.exec = context_remove,
	.doc = "Removes the context and its stored tokens (with a credential helper: sends it "
	       "erase for the context) after Remove context NAME and its session? [y/N] on a "
	       "terminal, unless -y; without a terminal and without -y it exits 64. The context "
	       "in use (current, or selected by --context or CYNORK_CONTEXT) is refused with "
	       "73: switch first. default cannot be removed (64); an unknown context exits 66.",
};
