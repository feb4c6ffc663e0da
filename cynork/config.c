/*
 * cynork's configuration file (spec/cli.md section 2): a YAML mapping with
 * gateway_url, token, refresh_token, credential_helper and ca_file.  Read once at
 * start (a missing file is fine, invalid YAML is a configuration error, exit 78); written only
 * by login, logout and refresh, atomically (temporary file in the same
 * directory, then rename), directory 0700, file 0600.  Unknown keys are kept
 * on rewrite.  Environment overrides (CYNORK_GATEWAY_URL, CYNORK_TOKEN) are
 * applied after loading and never written back.  Token resolution (once
 * per process or shell): CYNORK_TOKEN, the file's token, the credential
 * helper (credhelper.c), asked only when a command needs a token.
 */
#include <errno.h>
#include <fcntl.h>
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
#include "banned.h"

#define CONFIG_MAX (1024 * 1024)
#define DEFAULT_GATEWAY "http://localhost:12080"

static char *
cfg_default_path(void)
{
	const char *x = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

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
		if (strcmp(key, "gateway_url") == 0)
			dst = &cfg->gateway_url;
		else if (strcmp(key, "token") == 0)
			dst = &cfg->token;
		else if (strcmp(key, "refresh_token") == 0)
			dst = &cfg->refresh_token;
		else if (strcmp(key, "credential_helper") == 0)
			dst = &cfg->credential_helper;
		else if (strcmp(key, "ca_file") == 0)
			dst = &cfg->ca_file;
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

int
cfg_load(struct ctx *c)
{
	struct cfg *cfg = &c->cfg;
	struct cy_buf b = CY_BUF_INIT;
	const char *env;
	int rc = 0;

	cfg->extra = json_object();
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
	env = getenv("CYNORK_GATEWAY_URL");
	c->gateway = env && *env ? env : cfg->gateway_url ? cfg->gateway_url : DEFAULT_GATEWAY;
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
	rc = credhelper_get(c->cfg.credential_helper, &secret);
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
emit_pair(struct cy_buf *out, const char *key, json_t *value)
{
	json_t *ks = json_string(key);
	char *k, *v;

	if (key[0] && strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789_-") == strlen(key))
		k = xstrdup(key);
	else
		k = json_dumps(ks, JSON_ENCODE_ANY);
	v = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
	cy_buf_addf(out, "%s: %s\n", k ? k : "\"\"", v ? v : "null");
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
		emit_pair(out, key, v);
	json_decref(v);
}

int
cfg_save(struct ctx *c)
{
	struct cfg *cfg = &c->cfg;
	struct cy_buf out = CY_BUF_INIT;
	const char *key;
	json_t *v;
	char *tmp = NULL, *dir = NULL;
	int fd = -1, rc = EXIT_INTERNAL;
	ssize_t w;

	if (!cfg->path)
		return fail(EXIT_CONFIG, "no config file: HOME is not set; use --config PATH");
	/*
	 * With a credential helper the token is stored only through it (cli.md
	 * section 9, decision 6): `store` on login and refresh, `erase` on
	 * logout.  The refresh token then lives only in memory.
	 */
	if (cfg->credential_helper) {
		rc = cfg->token ? credhelper_store(cfg->credential_helper, cfg->token) :
				  credhelper_erase(cfg->credential_helper);
		if (rc)
			return rc;
		rc = EXIT_INTERNAL;
		if (!cfg->token && cfg->helper_token) {
			explicit_bzero(cfg->helper_token, strlen(cfg->helper_token));
			FREE_AND_NULL(cfg->helper_token);
		}
	}
	cy_buf_addstr(&out, "# cynork configuration (written by cynork; keep it private)\n");
	emit_str(&out, "gateway_url", cfg->gateway_url);
	if (!cfg->credential_helper) {
		emit_str(&out, "token", cfg->token);
		emit_str(&out, "refresh_token", cfg->refresh_token);
	}
	emit_str(&out, "credential_helper", cfg->credential_helper);
	emit_str(&out, "ca_file", cfg->ca_file);
	json_object_foreach(cfg->extra, key, v)
		emit_pair(&out, key, v);
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

static void
free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
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
	json_decref(cfg->extra);
	memset(cfg, 0, sizeof(*cfg));
}
