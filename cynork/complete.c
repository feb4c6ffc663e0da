/*
 * The completion engine shared by the interactive shell (shell.c) and the
 * hidden `cynork __complete WORD...` behind the bash, zsh and fish scripts
 * (completion.c), so both offer the same candidates: command and group
 * names, flags, enum values, file names for PATH/FILE arguments, and task
 * names or node slugs fetched from the server (with the stored token, a
 * short timeout and errors silenced; nothing secret is ever a candidate).
 *
 * `__complete` prints one candidate a line, "word<TAB>description" when a
 * description is known, then one directive line: ":0" (default) or ":1"
 * (complete file names instead).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "cynork.h"
#include "fsutil.h"
#include "json.h"
#include "banned.h"

#define DYNAMIC_TIMEOUT_MS 3000
#define MODELS_CACHE_S 60

static void
add(json_t *cands, const char *cur, const char *word, const char *desc)
{
	if (strncmp(word, cur, strlen(cur)) != 0)
		return;
	if (desc && *desc) {
		char *s = xasprintf("%s\t%s", word, desc);

		json_array_append_new(cands, json_string(s));
		free(s);
	} else {
		json_array_append_new(cands, json_string(word));
	}
}

bool
opt_is_file(const struct opt *o)
{
	return o->arg && (strcmp(o->arg, "PATH") == 0 || strcmp(o->arg, "FILE") == 0 ||
			     strcmp(o->arg, "DIR") == 0);
}

/* Runs fn with stderr sent to /dev/null (completion must not garble a line). */
static void
quietly(struct ctx *c, const char *what, json_t *cands, const char *cur,
    void (*fn)(struct ctx *, const char *, json_t *, const char *))
{
	int saved = dup(STDERR_FILENO), null = open("/dev/null", O_WRONLY | O_CLOEXEC);

	fflush(stderr);
	if (saved >= 0 && null >= 0)
		dup2(null, STDERR_FILENO);
	fn(c, what, cands, cur);
	fflush(stderr);
	if (saved >= 0) {
		dup2(saved, STDERR_FILENO);
		close(saved);
	}
	if (null >= 0)
		close(null);
}

/* Task names (or ids of unnamed tasks) and node slugs from the server. */
static void
fetch_names(struct ctx *c, const char *what, json_t *cands, const char *cur)
{
	bool tasks = strcmp(what, "task") == 0;
	json_t *res = NULL, *list, *e;
	size_t i;

	if (!c->cfg_ready) {
		if (cfg_load(c) != 0)
			return;
		c->cfg_ready = true;
	}
	if (!c->token)
		return;
	if (api_call_h(c, "GET", tasks ? "/v1/tasks?limit=200" : "/v1/nodes", NULL, true, NULL,
		DYNAMIC_TIMEOUT_MS, &res, NULL) != 0)
		return;
	list = json_object_get(res, tasks ? "tasks" : "nodes");
	json_array_foreach(list, i, e) {
		const char *name = cy_json_str(e, tasks ? "task_name" : "node_slug");
		const char *id = cy_json_str(e, tasks ? "task_id" : "node_id");

		if (!name || !*name)
			name = tasks && !id ? cy_json_str(e, "id") : id;
		if (name)
			add(cands, cur, name, cy_json_str(e, "status"));
	}
	json_decref(res);
}

/*
 * The model ids cache: $XDG_CACHE_HOME/cynork/models.json (or
 * ~/.cache/cynork/...), {"gateway": URL, "at": UNIX seconds, "ids": [...]},
 * used for MODELS_CACHE_S seconds so that pressing Tab twice asks the
 * gateway once.  Model ids are not secret; the file is private anyway.
 */
static char *
models_cache_path(void)
{
	const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");

	if (x && *x)
		return xasprintf("%s/cynork/models.json", x);
	if (home && *home)
		return xasprintf("%s/.cache/cynork/models.json", home);
	return NULL;
}

/* The cached ids for this gateway while fresh, or NULL. */
static json_t *
models_cache_read(const char *gateway)
{
	struct cy_buf b = CY_BUF_INIT;
	char *path = models_cache_path();
	json_t *j = NULL, *ids = NULL;
	long long at;
	time_t now = time(NULL);

	if (path && cy_buf_read_file(&b, path, 1024 * 1024) == 0 &&
	    (j = cy_json_parse(b.buf, b.len, true, NULL)) != NULL && cy_json_str(j, "gateway") &&
	    strcmp(cy_json_str(j, "gateway"), gateway) == 0 && cy_json_int(j, "at", &at) == 0 &&
	    at <= now && now - at < MODELS_CACHE_S && json_is_array(json_object_get(j, "ids")))
		ids = json_incref(json_object_get(j, "ids"));
	json_decref(j);
	cy_buf_release(&b);
	free(path);
	return ids;
}

/* Writes the cache (private directory and file, renamed into place); best effort. */
static void
models_cache_write(const char *gateway, json_t *ids)
{
	char *path = models_cache_path(), *dir = NULL, *tmp = NULL, *data = NULL;
	json_t *j;
	int fd = -1;

	if (!path)
		return;
	dir = xstrndup(path, (size_t)(strrchr(path, '/') - path));
	tmp = xasprintf("%s/.models.XXXXXX", dir);
	j = json_pack("{s:s, s:I, s:O}", "gateway", gateway, "at", (json_int_t)time(NULL), "ids",
	    ids);
	data = j ? cy_json_dump(j) : NULL;
	if (data && cy_mkdir_p(dir, 0700, 0700) == 0 && (fd = mkstemp(tmp)) >= 0) {
		if (fchmod(fd, 0600) == 0 && cy_write_all(fd, data, strlen(data)) == 0 &&
		    close(fd) == 0) {
			fd = -1;
			if (rename(tmp, path) == 0)
				*tmp = '\0';
		}
		if (fd >= 0)
			close(fd);
		if (*tmp)
			unlink(tmp);
	}
	json_decref(j);
	free(data);
	free(tmp);
	free(dir);
	free(path);
}

/* Model ids from the gateway (or the fresh cache of them). */
static void
fetch_models(struct ctx *c, const char *what, json_t *cands, const char *cur)
{
	json_t *res = NULL, *ids, *v;
	size_t i;

	if (!c->cfg_ready) {
		if (cfg_load(c) != 0)
			return;
		c->cfg_ready = true;
	}
	if (!c->token || !c->gateway)
		return;
	ids = models_cache_read(c->gateway);
	if (!ids) {
		if (models_get(c, DYNAMIC_TIMEOUT_MS, &res) != 0)
			return;
		ids = models_ids(res);
		json_decref(res);
		models_cache_write(c->gateway, ids);
	}
	json_array_foreach(ids, i, v)
		if (json_is_string(v))
			add(cands, cur, json_string_value(v), NULL);
	json_decref(ids);
}

/* The context names of the config file (no request): default and the named ones. */
static void
fetch_contexts(struct ctx *c, const char *what, json_t *cands, const char *cur)
{
	const char *name;
	json_t *v;

	(void)what;
	if (!c->cfg_ready) {
		if (cfg_load(c) != 0)
			return;
		c->cfg_ready = true;
	}
	add(cands, cur, CFG_DEFAULT_CONTEXT, NULL);
	json_object_foreach(c->cfg.contexts, name, v)
		if (!(c->cfg.context_unknown && strcmp(name, c->cfg.context) == 0))
			add(cands, cur, name, cy_json_str(v, "gateway_url"));
}

void
complete_models(struct ctx *c, const char *cur, json_t *cands)
{
	quietly(c, "model", cands, cur, fetch_models);
}

/*
 * Values of option o for the partial value cur (prefix prepended to each);
 * a SLUG argument completes to node slugs from the server.
 */
static enum comp_dir
complete_value(struct ctx *c, const struct opt *o, const char *prefix, const char *cur,
    json_t *cands)
{
	size_t i;

	if (o->arg && strcmp(o->arg, "SLUG") == 0 && !*prefix) {
		quietly(c, "node", cands, cur, fetch_names);
		return COMP_DEFAULT;
	}
	if (o->arg && strcmp(o->arg, "MODEL") == 0 && !*prefix) {
		complete_models(c, cur, cands);
		return COMP_DEFAULT;
	}
	if (strcmp(o->name, "context") == 0 && !*prefix) {
		quietly(c, "context", cands, cur, fetch_contexts);
		return COMP_DEFAULT;
	}
	if (o->kind == OPT_ENUM) {
		for (i = 0; o->choices[i]; i++) {
			char *w = xasprintf("%s%s", prefix, o->choices[i]);

			add(cands, cur, w, NULL);
			free(w);
		}
		return COMP_DEFAULT;
	}
	if (opt_is_file(o))
		return COMP_FILES;
	return COMP_NOSPACE;
}

static void
add_flags(json_t *cands, const struct opt *opts, const char *cur)
{
	size_t i;

	for (i = 0; opts && opts[i].name; i++) {
		char *w = xasprintf("--%s", opts[i].name);

		add(cands, cur, w, opts[i].help);
		free(w);
	}
}

static const struct opt *
find_opt(const struct cmd *cmd, const char *lng, char shrt)
{
	const struct opt *opts = cmd && cmd->exec ? cmd->opts : NULL;
	int i = opt_lookup(opts, lng, shrt);

	if (i >= 0)
		return &opts[i];
	i = opt_lookup(global_opts, lng, shrt);
	return i >= 0 ? &global_opts[i] : NULL;
}

/* Positional candidates of cmd at position pos (words so far in args). */
static enum comp_dir
complete_positional(struct ctx *c, const struct cmd *cmd, int pos, char **args, const char *cur,
    json_t *cands)
{
	const char *u = cmd->usage ? cmd->usage : "";
	bool many = strstr(u, "...") != NULL;
	size_t i;

	if (strcmp(cmd->path, "help") == 0) {
		const struct cmd *grp = NULL;
		const char *path = "";
		int k;

		for (k = 0; k < pos; k++) {
			grp = cmd_find_child(path, args[k]);
			if (!grp || grp->exec)
				return COMP_DEFAULT;
			path = grp->path;
		}
		for (i = 0; i < cmd_table_len; i++)
			if (cmd_is_child(cmd_table[i], path) && !(cmd_table[i]->flags & CMD_HIDDEN))
				add(cands, cur, cmd_word(cmd_table[i]), cmd_table[i]->summary);
		return COMP_DEFAULT;
	}
	if (cmd->max_args >= 0 && pos >= cmd->max_args)
		return COMP_DEFAULT;
	if (pos > 0 && !many)
		return COMP_DEFAULT;
	if (strncmp(u, "<task>", 6) == 0) {
		quietly(c, "task", cands, cur, fetch_names);
	} else if (strncmp(u, "<node>", 6) == 0) {
		quietly(c, "node", cands, cur, fetch_names);
	} else if (strncmp(u, "<context>", 9) == 0 && strcmp(cmd->path, "context add") != 0) {
		quietly(c, "context", cands, cur, fetch_contexts);
	} else if (u[0] == '<' && strchr(u, '|') && strchr(u, '>')) {
		/* "<a|b|c>": a fixed choice. */
		char *s = xstrndup(u + 1, strcspn(u + 1, ">")), *tok, *save = NULL;

		for (tok = strtok_r(s, "|", &save); tok; tok = strtok_r(NULL, "|", &save))
			add(cands, cur, tok, NULL);
		free(s);
	} else if (strstr(u, "<path>") || strstr(u, "<file>")) {
		return COMP_FILES;
	}
	return COMP_DEFAULT;
}

enum comp_dir
complete_words(struct ctx *c, int n, char **words, bool shell, json_t *cands)
{
	const struct cmd *cmd = NULL;
	const struct opt *pending = NULL;
	const char *path = "", *cur = n > 0 ? words[n - 1] : "";
	char **args = n > 1 ? xcalloc((size_t)n, sizeof(*args)) : NULL;
	enum comp_dir dir = COMP_DEFAULT;
	bool opts_done = false;
	int i, pos = 0;
	size_t k;

	for (i = 0; i < n - 1; i++) {
		const char *w = words[i];

		if (pending) {
			pending = NULL;
			continue;
		}
		if (!opts_done && strcmp(w, "--") == 0) {
			opts_done = true;
			continue;
		}
		if (!opts_done && w[0] == '-' && w[1]) {
			const struct opt *o;

			if (w[1] == '-') {
				char *name = xstrndup(w + 2, strcspn(w + 2, "="));

				o = find_opt(cmd, name, 0);
				if (o && o->kind != OPT_BOOL && !strchr(w, '='))
					pending = o;
				free(name);
			} else {
				o = find_opt(cmd, NULL, w[1]);
				if (o && o->kind != OPT_BOOL && !w[2])
					pending = o;
			}
			continue;
		}
		if (!cmd || !cmd->exec) {
			cmd = cmd_find_child(path, w);
			if (!cmd)
				goto out;
			path = cmd->path;
			continue;
		}
		args[pos++] = words[i];
	}
	if (pending) {
		dir = complete_value(c, pending, "", cur, cands);
		goto out;
	}
	if (!opts_done && cur[0] == '-') {
		const char *eq = strchr(cur, '=');

		if (cur[1] == '-' && eq) {
			char *name = xstrndup(cur + 2, (size_t)(eq - cur - 2));
			char *prefix = xstrndup(cur, (size_t)(eq - cur + 1));
			const struct opt *o = find_opt(cmd, name, 0);

			if (o && o->kind != OPT_BOOL)
				dir = complete_value(c, o, prefix, cur, cands);
			free(name);
			free(prefix);
			goto out;
		}
		if (cmd && cmd->exec)
			add_flags(cands, cmd->opts, cur);
		add_flags(cands, global_opts, cur);
		goto out;
	}
	if (!cmd || !cmd->exec) {
		for (k = 0; k < cmd_table_len; k++) {
			const struct cmd *e = cmd_table[k];

			if (!cmd_is_child(e, path) || (e->flags & CMD_HIDDEN) ||
			    (shell && (e->flags & CMD_NO_SHELL)))
				continue;
			add(cands, cur, cmd_word(e), e->summary);
		}
		if (shell && !cmd) {
			add(cands, cur, "exit", "leave the shell");
			add(cands, cur, "quit", "leave the shell");
		}
		goto out;
	}
	dir = complete_positional(c, cmd, pos, args, cur, cands);
out:
	free(args);
	return dir;
}

int
complete_main(int argc, char **argv)
{
	struct ctx c;
	json_t *cands = json_array(), *v;
	char *empty[] = { (char *)"" };
	enum comp_dir dir;
	size_t i;
	int k;

	memset(&c, 0, sizeof(c));
	c.output = "table";
	/* A --config among the words picks the config (and token) to use. */
	for (k = 0; k + 1 < argc; k++) {
		if (strcmp(argv[k], "--") == 0)
			break;
		if ((strcmp(argv[k], "-c") == 0 || strcmp(argv[k], "--config") == 0) &&
		    k + 2 < argc)
			c.config_path = argv[k + 1];
		else if (strncmp(argv[k], "--config=", 9) == 0)
			c.config_path = argv[k] + 9;
	}
	if (argc == 0)
		dir = complete_words(&c, 1, empty, false, cands);
	else
		dir = complete_words(&c, argc, argv, false, cands);
	json_array_foreach(cands, i, v)
		printf("%s\n", json_string_value(v));
	printf(":%d\n", dir == COMP_FILES ? 1 : dir == COMP_NOSPACE ? 2 : 0);
	json_decref(cands);
	cfg_release(&c.cfg);
	return out_flush();
}
