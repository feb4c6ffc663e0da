/*
 * cynork's configuration file (spec/cli.md section 2): a YAML mapping with
 * gateway_url, token, refresh_token, credential_helper and ca_file, plus
 * named contexts (kubectl's, nomad's):
 *
 *	gateway_url: ...            # the context "default": every older file
 *	token: ...
 *	current_context: lab        # absent: default
 *	contexts:
 *	  lab: {gateway_url: ..., token: ..., refresh_token: ..., ca_file: ...}
 *
 * Each context has its own five keys, so logging in to one never touches
 * another's tokens; a file without contexts is read as before and keeps
 * working with older cynork.  The active context: --context, then
 * CYNORK_CONTEXT, then current_context, then default.  The file:
 * --config, then CYNORK_CONFIG, then $XDG_CONFIG_HOME/cynork/config.yaml.
 * Read once at start (a missing file is fine; invalid YAML or a bad value
 * is a configuration error, exit 78); written only by login, logout,
 * refresh and context, atomically (temporary file in the same directory,
 * then rename), directory 0700, file 0600.  Unknown keys are kept on
 * rewrite.  Environment overrides (CYNORK_GATEWAY_URL or CYNORK_SERVER,
 * CYNORK_TOKEN) are applied after loading and never written back.  Token
 * resolution (once per process or shell): CYNORK_TOKEN, the context's
 * token, the credential helper (credhelper.c), asked only when a command
 * needs a token.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "alloc.h"
#include "buf.h"
#include "cynork.h"
#include "fsutil.h"
#include "json.h"
#include "banned.h"

#define CONFIG_MAX (1024 * 1024)
#define DEFAULT_GATEWAY "http://localhost:12080"
#define URL_MAX 2048

/* The keys every context has (the top level's for the context default). */
static const struct {
	const char *key;
	size_t off;
	bool secret;
} ctx_keys[] = {
	{ "gateway_url", offsetof(struct cfg, gateway_url), false },
	{ "token", offsetof(struct cfg, token), true },
	{ "refresh_token", offsetof(struct cfg, refresh_token), true },
	{ "credential_helper", offsetof(struct cfg, credential_helper), false },
	{ "ca_file", offsetof(struct cfg, ca_file), false },
};
#define NKEYS (sizeof(ctx_keys) / sizeof(ctx_keys[0]))

static char **
key_slot(struct cfg *cfg, size_t i)
{
	return (char **)((char *)cfg + ctx_keys[i].off);
}

static int
key_index(const char *key)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(ctx_keys[i].key, key) == 0)
			return (int)i;
	return -1;
}

static void
free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* The active context's name when it is a named one; NULL for default. */
static const char *
named_context(const struct cfg *cfg)
{
	return cfg->context && strcmp(cfg->context, CFG_DEFAULT_CONTEXT) ? cfg->context : NULL;
}

bool
cfg_context_name_ok(const char *name)
{
	size_t n = strlen(name);

	return n >= 1 && n <= 63 && strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789._-") == n &&
	       name[0] != '.' && name[0] != '-' && name[0] != '_';
}

const char *
cfg_url_problem(const char *url)
{
	const char *host;
	size_t i;

	if (strncmp(url, "http://", 7) == 0)
		host = url + 7;
	else if (strncmp(url, "https://", 8) == 0)
		host = url + 8;
	else
		return "want http://HOST[:PORT] or https://HOST[:PORT]";
	if (!*host || *host == '/' || *host == ':')
		return "no host";
	if (strlen(url) > URL_MAX)
		return "longer than 2048 bytes";
	for (i = 0; url[i]; i++)
		if ((unsigned char)url[i] <= ' ' || url[i] == 0x7f)
			return "holds a space or a control character";
	return NULL;
}

static char *
cfg_default_path(void)
{
	const char *x = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	const char *env = getenv("CYNORK_CONFIG");

	if (env && *env)
		return xstrdup(env);
	if (x && *x)
		return xasprintf("%s/cynork/config.yaml", x);
	if (home && *home)
		return xasprintf("%s/.config/cynork/config.yaml", home);
	return NULL;
}

/* Converts a YAML node to JSON (scalars as strings), for unknown keys. */
static json_t *
node_to_json(yaml_document_t *doc, yaml_node_t *n, int depth)
{
	json_t *v;
	yaml_node_item_t *it;
	yaml_node_pair_t *pr;

	if (!n || depth > 32)
		return json_null();
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return json_stringn((const char *)n->data.scalar.value, n->data.scalar.length);
	case YAML_SEQUENCE_NODE:
		v = json_array();
		for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++)
			json_array_append_new(v,
			    node_to_json(doc, yaml_document_get_node(doc, *it), depth + 1));
		return v;
	case YAML_MAPPING_NODE:
		v = json_object();
		for (pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
			yaml_node_t *k = yaml_document_get_node(doc, pr->key);

			if (k && k->type == YAML_SCALAR_NODE)
				json_object_set_new(v, (const char *)k->data.scalar.value,
				    node_to_json(doc, yaml_document_get_node(doc, pr->value),
					depth + 1));
		}
		return v;
	default:
		return json_null();
	}
}

/* contexts: a mapping of names to mappings whose known keys are strings. */
static int
parse_contexts(struct cfg *cfg, yaml_document_t *doc, yaml_node_t *v)
{
	const char *name, *key;
	json_t *o, *val;

	if (!v || (v->type != YAML_MAPPING_NODE &&
		      !(v->type == YAML_SCALAR_NODE && v->data.scalar.length == 0)))
		return fail(EXIT_CONFIG,
		    "invalid config file '%s': line %zu: 'contexts' must be a mapping of names",
		    cfg->path, v ? v->start_mark.line + 1 : 0);
	json_decref(cfg->contexts);
	cfg->contexts = v->type == YAML_MAPPING_NODE ? node_to_json(doc, v, 0) : json_object();
	json_object_foreach(cfg->contexts, name, o) {
		if (!json_is_object(o))
			return fail(EXIT_CONFIG,
			    "invalid config file '%s': context '%s' must be a mapping", cfg->path,
			    name);
		json_object_foreach(o, key, val)
			if (key_index(key) >= 0 && !json_is_string(val))
				return fail(EXIT_CONFIG,
				    "invalid config file '%s': '%s' of context '%s' must be a string",
				    cfg->path, key, name);
	}
	return 0;
}

static int
cfg_parse(struct cfg *cfg, const char *data, size_t len)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	yaml_node_pair_t *pr;
	int rc = 0;

	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	if (!yaml_parser_load(&parser, &doc)) {
		rc = fail(EXIT_CONFIG, "invalid config file '%s': line %zu: %s", cfg->path,
		    parser.problem_mark.line + 1, parser.problem ? parser.problem : "syntax error");
		yaml_parser_delete(&parser);
		return rc;
	}
	root = yaml_document_get_root_node(&doc);
	if (root && root->type != YAML_MAPPING_NODE) {
		rc = fail(EXIT_CONFIG, "invalid config file '%s': not a mapping", cfg->path);
		goto out;
	}
	for (pr = root ? root->data.mapping.pairs.start : NULL;
	     root && pr < root->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = yaml_document_get_node(&doc, pr->key);
		yaml_node_t *v = yaml_document_get_node(&doc, pr->value);
		const char *key;
		char **dst = NULL;

		if (!k || k->type != YAML_SCALAR_NODE) {
			rc = fail(EXIT_CONFIG, "invalid config file '%s': non-string key",
			    cfg->path);
			goto out;
		}
		key = (const char *)k->data.scalar.value;
		if (strcmp(key, "contexts") == 0) {
			if ((rc = parse_contexts(cfg, &doc, v)) != 0)
				goto out;
			continue;
		}
		if (strcmp(key, "current_context") == 0)
			dst = &cfg->current_context;
		else if (key_index(key) >= 0)
			dst = key_slot(cfg, (size_t)key_index(key));
		if (!dst) {
			json_object_set_new(cfg->extra, key, node_to_json(&doc, v, 0));
			continue;
		}
		if (!v || v->type != YAML_SCALAR_NODE) {
			rc = fail(EXIT_CONFIG,
			    "invalid config file '%s': line %zu: '%s' must be a string", cfg->path,
			    v ? v->start_mark.line + 1 : 0, key);
			goto out;
		}
		free(*dst);
		*dst = v->data.scalar.length ? xstrdup((const char *)v->data.scalar.value) : NULL;
	}
out:
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return rc;
}

/*
 * The active context: --context, CYNORK_CONTEXT, current_context or
 * default.  A named one's keys replace the top level's (kept in cfg->top
 * for the rewrite); one not in the file leaves them empty and sets
 * context_unknown (the dispatcher refuses most commands then).
 */
static int
select_context(struct ctx *c)
{
	struct cfg *cfg = &c->cfg;
	const char *env = getenv("CYNORK_CONTEXT"), *name, *why;
	json_t *o;
	size_t i;

	name = c->context_opt       ? c->context_opt :
	       env && *env          ? env :
	       cfg->current_context ? cfg->current_context :
				      CFG_DEFAULT_CONTEXT;
	why = c->context_opt ? "--context" : env && *env ? "CYNORK_CONTEXT" : "current_context";
	if (!cfg_context_name_ok(name))
		return fail(c->context_opt ? EXIT_USAGE : EXIT_CONFIG,
		    "invalid context name '%s' (%s): want 1 to 63 of a-z, 0-9, '.', '_', '-'", name,
		    why);
	cfg->context = xstrdup(name);
	if (strcmp(name, CFG_DEFAULT_CONTEXT) == 0)
		return 0;
	o = json_object_get(cfg->contexts, name);
	cfg->top = json_object();
	for (i = 0; i < NKEYS; i++) {
		char **slot = key_slot(cfg, i);
		const char *v = o ? cy_json_str(o, ctx_keys[i].key) : NULL;

		if (*slot)
			json_object_set_new(cfg->top, ctx_keys[i].key, json_string(*slot));
		ctx_keys[i].secret ? free_secret(*slot) : free(*slot);
		*slot = v && *v ? xstrdup(v) : NULL;
	}
	cfg->context_unknown = o == NULL;
	return 0;
}

/* *out: the URL in environment variable var, NULL when unset; a bad one is exit 78. */
static int
env_url(struct ctx *c, const char *var, const char **out)
{
	const char *v = getenv(var), *why;

	*out = NULL;
	if (!v || !*v)
		return 0;
	if ((why = cfg_url_problem(v)) != NULL)
		return fail(EXIT_CONFIG, "invalid %s '%s': %s", var, v, why);
	*out = v;
	return 0;
}

void
cfg_context_create(struct cfg *cfg)
{
	if (!cfg->contexts)
		cfg->contexts = json_object();
	if (!json_object_get(cfg->contexts, cfg->context))
		json_object_set_new(cfg->contexts, cfg->context, json_object());
	cfg->context_unknown = false;
}

int
cfg_load(struct ctx *c)
{
	struct cfg *cfg = &c->cfg;
	struct cy_buf b = CY_BUF_INIT;
	const char *env;
	int rc = 0;

	cfg->extra = json_object();
	cfg->contexts = json_object();
	cfg->path = c->config_path ? xstrdup(c->config_path) : cfg_default_path();
	if (cfg->path) {
		if (cy_buf_read_file(&b, cfg->path, CONFIG_MAX) == 0) {
			cfg->loaded = true;
			rc = cfg_parse(cfg, b.buf, b.len);
		} else if (errno == EFBIG) {
			rc = fail(EXIT_CONFIG, "config file '%s' is larger than 1 MiB", cfg->path);
		} else if (errno != ENOENT) {
			rc = fail(EXIT_CONFIG, "cannot read config file '%s': %s", cfg->path,
			    strerror(errno));
		}
	}
	cy_buf_release(&b);
	if (rc == 0)
		rc = select_context(c);
	if (rc == 0 && (rc = env_url(c, "CYNORK_GATEWAY_URL", &env)) == 0 && !env)
		rc = env_url(c, "CYNORK_SERVER", &env);
	c->gateway = env ? env : cfg->gateway_url ? cfg->gateway_url : DEFAULT_GATEWAY;
	env = getenv("CYNORK_CA_FILE");
	c->ca_file = env && *env ? env : cfg->ca_file;
	cfg_resolve_token(c);
	return rc;
}

void
cfg_resolve_token(struct ctx *c)
{
	const char *env = getenv("CYNORK_TOKEN");

	c->token_from_env = env && *env;
	if (c->token_from_env)
		c->token = env;
	else if (c->cfg.token)
		c->token = c->cfg.token;
	else
		c->token = c->cfg.helper_token;
}

int
cfg_helper_fetch(struct ctx *c)
{
	char *secret = NULL;
	int rc;

	if (c->token || c->helper_tried || !c->cfg.credential_helper)
		return 0;
	c->helper_tried = true;
	rc = credhelper_get(c->cfg.credential_helper, named_context(&c->cfg), &secret);
	if (rc)
		return rc;
	c->cfg.helper_token = secret;
	cfg_resolve_token(c);
	return 0;
}

char *
cfg_dir(const struct ctx *c)
{
	char *path = c->cfg.path    ? xstrdup(c->cfg.path) :
		     c->config_path ? xstrdup(c->config_path) :
				      cfg_default_path();
	char *slash = path ? strrchr(path, '/') : NULL;

	if (!path)
		return NULL;
	if (!slash) {
		free(path);
		return xstrdup(".");
	}
	*slash = '\0';
	if (!*path) {
		free(path);
		return xstrdup("/");
	}
	return path;
}

/* Appends `key: "value"` (a JSON string is a valid YAML double-quoted scalar). */
static void
emit_pair(struct cy_buf *out, const char *indent, const char *key, json_t *value)
{
	json_t *ks = json_string(key);
	char *k, *v;

	if (key[0] && strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789_-") == strlen(key))
		k = xstrdup(key);
	else
		k = json_dumps(ks, JSON_ENCODE_ANY);
	v = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
	cy_buf_addf(out, "%s%s: %s\n", indent, k ? k : "\"\"", v ? v : "null");
	free(k);
	free(v);
	json_decref(ks);
}

static void
emit_str(struct cy_buf *out, const char *key, const char *value)
{
	json_t *v;

	if (!value)
		return;
	v = json_string(value);
	if (v)
		emit_pair(out, "", key, v);
	json_decref(v);
}

/* Appends the context keys of o in their usual order, then its other keys. */
static void
emit_keys(struct cy_buf *out, const char *indent, json_t *o)
{
	const char *key;
	json_t *v;
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if ((v = json_object_get(o, ctx_keys[i].key)) != NULL)
			emit_pair(out, indent, ctx_keys[i].key, v);
	json_object_foreach(o, key, v)
		if (key_index(key) < 0)
			emit_pair(out, indent, key, v);
}

int
cfg_save(struct ctx *c)
{
	struct cfg *cfg = &c->cfg;
	struct cy_buf out = CY_BUF_INIT;
	const char *key;
	json_t *v, *o;
	char *tmp = NULL, *dir = NULL;
	int fd = -1, rc = EXIT_INTERNAL;
	size_t i;
	ssize_t w;

	if (!cfg->path)
		return fail(EXIT_CONFIG, "no config file: HOME is not set; use --config PATH");
	/*
	 * With a credential helper the token is stored only through it (cli.md
	 * section 9, decision 6): `store` on login and refresh, `erase` on
	 * logout.  The refresh token then lives only in memory.
	 */
	if (cfg->credential_helper) {
		const char *named = named_context(cfg);

		rc = cfg->token ? credhelper_store(cfg->credential_helper, named, cfg->token) :
				  credhelper_erase(cfg->credential_helper, named);
		if (rc)
			return rc;
		rc = EXIT_INTERNAL;
		if (!cfg->token && cfg->helper_token) {
			explicit_bzero(cfg->helper_token, strlen(cfg->helper_token));
			FREE_AND_NULL(cfg->helper_token);
		}
	}
	cy_buf_addstr(&out, "# cynork configuration (written by cynork; keep it private)\n");
	if (named_context(cfg)) {
		emit_keys(&out, "", cfg->top);
		/* The active context's keys, over what else it holds (one not made: none). */
		o = cfg->context_unknown ? NULL : json_object_get(cfg->contexts, cfg->context);
		for (i = 0; o && i < NKEYS; i++) {
			const char *val = *key_slot(cfg, i);

			if (val && !(ctx_keys[i].secret && cfg->credential_helper))
				json_object_set_new(o, ctx_keys[i].key, json_string(val));
			else
				json_object_del(o, ctx_keys[i].key);
		}
	} else {
		o = json_object();
		for (i = 0; i < NKEYS; i++)
			if (*key_slot(cfg, i) && !(ctx_keys[i].secret && cfg->credential_helper))
				json_object_set_new(o, ctx_keys[i].key,
				    json_string(*key_slot(cfg, i)));
		emit_keys(&out, "", o);
		json_decref(o);
	}
	emit_str(&out, "current_context", cfg->current_context);
	if (json_object_size(cfg->contexts)) {
		cy_buf_addstr(&out, "contexts:\n");
		json_object_foreach(cfg->contexts, key, v) {
			json_t *ks = json_string(key);
			char *k = json_dumps(ks, JSON_ENCODE_ANY);

			cy_buf_addf(&out, "  %s:\n", k ? k : "\"\"");
			free(k);
			json_decref(ks);
			emit_keys(&out, "    ", v);
			if (!json_object_size(v))
				cy_buf_addstr(&out, "    {}\n");
		}
	}
	json_object_foreach(cfg->extra, key, v)
		emit_pair(&out, "", key, v);
	dir = xstrdup(cfg->path);
	if (strrchr(dir, '/'))
		*strrchr(dir, '/') = '\0';
	else
		FREE_AND_NULL(dir);
	if (dir && *dir && cy_mkdir_p(dir, 0700, 0700) < 0) {
		fail(EXIT_INTERNAL, "cannot create the directory of '%s': %s", cfg->path,
		    strerror(errno));
		goto out;
	}
	tmp = xasprintf("%s.tmp.XXXXXX", cfg->path);
	fd = mkstemp(tmp);
	if (fd < 0 || fchmod(fd, 0600) < 0) {
		fail(EXIT_INTERNAL, "cannot write '%s': %s", cfg->path, strerror(errno));
		goto out;
	}
	w = write(fd, out.buf, out.len);
	if (w < 0 || (size_t)w != out.len || fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		fail(EXIT_INTERNAL, "cannot write '%s': %s", cfg->path, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, cfg->path) < 0) {
		fail(EXIT_INTERNAL, "cannot replace '%s': %s", cfg->path, strerror(errno));
		goto out;
	}
	FREE_AND_NULL(tmp);
	rc = 0;
out:
	free(dir);
	if (fd >= 0)
		close(fd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	/* The buffer held tokens: wipe it before freeing. */
	if (out.alloc)
		explicit_bzero(out.buf, out.len);
	cy_buf_release(&out);
	return rc;
}

void
cfg_release(struct cfg *cfg)
{
	free(cfg->path);
	free(cfg->gateway_url);
	free(cfg->ca_file);
	free_secret(cfg->token);
	free_secret(cfg->refresh_token);
	free_secret(cfg->helper_token);
	free(cfg->credential_helper);
	free(cfg->context);
	free(cfg->current_context);
	json_decref(cfg->contexts);
	json_decref(cfg->top);
	json_decref(cfg->extra);
	memset(cfg, 0, sizeof(*cfg));
}
