/*
 * cynork secret set|list|delete: the caller's secrets (PUT, GET, DELETE
 * /v1/secrets), which jobs get by name (task create --secret).  A value
 * never comes from the command line: `set` reads it from standard input
 * when that is not a terminal (one trailing newline stripped), else from
 * a Secret: prompt on standard error with echo off.  Nothing ever prints a
 * value: the server keeps it sealed and lists names only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "cynork.h"
#include "id.h"
#include "jobenv.h"
#include "json.h"
#include "banned.h"

#define SECRET_VALUE_MAX (64 * 1024)

/* The NAME argument and --project-id: exit 64 when they are not what the server takes. */
static int
secret_check(const struct parsed *p)
{
	const char *name = p->nargs ? p->args[0] : NULL;

	if (name && !cy_secret_name_valid(name))
		return fail(EXIT_USAGE,
		    "invalid secret name '%s': want %s (CYNODE_* and INFERENCE_PROXY_URL are the node's)",
		    name, CY_SECRET_NAME_SHAPE);
	if (opt_get(p, "project-id") && !cy_uuid_valid(opt_get(p, "project-id")))
		return fail(EXIT_USAGE, "invalid value '%s' for --project-id: want a UUID",
		    opt_get(p, "project-id"));
	return 0;
}

/*
 * The value: all of standard input when it is not a terminal (one trailing
 * newline, or CRLF, stripped), else a line read at a Secret: prompt with
 * echo off.  NULL (reported) when there is none or it is too long.
 */
static char *
secret_read(struct ctx *c, int *rc)
{
	struct cy_buf b = CY_BUF_INIT;
	char *v;

	if (isatty(STDIN_FILENO) || c->in_shell) {
		if (!(v = prompt("Secret: ", true)) || !*v) {
			free(v);
			*rc = fail(EXIT_USAGE, "no secret value given");
			return NULL;
		}
		if (strlen(v) > SECRET_VALUE_MAX) {
			explicit_bzero(v, strlen(v));
			free(v);
			*rc = fail(EXIT_USAGE, "the secret value is longer than %d bytes",
			    SECRET_VALUE_MAX);
			return NULL;
		}
		return v;
	}
	if (cy_buf_read_fd(&b, STDIN_FILENO, SECRET_VALUE_MAX + 2) < 0) {
		explicit_bzero(b.buf, b.len);
		cy_buf_release(&b);
		*rc = fail(EXIT_USAGE, "cannot read the secret value from standard input");
		return NULL;
	}
	if (b.len && b.buf[b.len - 1] == '\n')
		cy_buf_setlen(&b, b.len - 1);
	if (b.len && b.buf[b.len - 1] == '\r')
		cy_buf_setlen(&b, b.len - 1);
	*rc = 0;
	if (b.len == 0)
		*rc = fail(EXIT_USAGE, "no secret value on standard input");
	else if (b.len > SECRET_VALUE_MAX)
		*rc =
		    fail(EXIT_USAGE, "the secret value is longer than %d bytes", SECRET_VALUE_MAX);
	else if (strlen(b.buf) != b.len)
		*rc = fail(EXIT_USAGE, "the secret value holds a NUL byte");
	if (*rc) {
		explicit_bzero(b.buf, b.len);
		cy_buf_release(&b);
		return NULL;
	}
	return cy_buf_detach(&b, NULL);
}

static int
secret_set(struct ctx *c, const struct parsed *p)
{
	const char *name = p->args[0], *project = opt_get(p, "project-id");
	struct cy_buf line = CY_BUF_INIT;
	char *value, *e, *path;
	json_t *req, *res = NULL;
	int rc = 0;

	if (!(value = secret_read(c, &rc)))
		return rc;
	req = json_pack("{s:s}", "value", value);
	explicit_bzero(value, strlen(value));
	free(value);
	if (project)
		json_object_set_new(req, "project_id", json_string(project));
	e = url_escape(name);
	path = xasprintf("/v1/secrets/%s", e);
	free(e);
	rc = api_call(c, "PUT", path, req, true, &res);
	free(path);
	/* The request's copy of the value: wiped before jansson frees it. */
	cy_json_wipe(req);
	json_decref(req);
	if (rc)
		return rc;
	if (out_json(c))
		return print_json(res);
	if (out_name(c)) {
		printf("%s\n", name);
	} else {
		rec_add(&line, "secret", name);
		if (project)
			rec_add(&line, "project_id", project);
		rec_add(&line, "created",
		    json_is_true(json_object_get(res, "created")) ? "true" : "false");
		print_line(&line);
	}
	json_decref(res);
	return 0;
}

/* secret list: the columns (nothing more to show with -o wide: no value is ever shown). */
static const struct col secret_cols[] = {
	{ "NAME", 0 },
	{ "PROJECT_ID", 0 },
	{ "CREATED_AT", COL_TIME },
	{ "UPDATED_AT", COL_TIME },
	{ NULL, 0 },
};

static int
secret_list(struct ctx *c, const struct parsed *p)
{
	struct out_table *t;
	json_t *res = NULL, *list, *s;
	size_t i;
	int rc;

	if ((rc = api_call(c, "GET", "/v1/secrets", NULL, true, &res)))
		return rc;
	list = json_object_get(res, "secrets");
	if (!json_is_array(list)) {
		json_decref(res);
		return fail(EXIT_PROTOCOL, "malformed response: no 'secrets' list");
	}
	if (out_json(c))
		return print_json(res);
	t = out_name(c) ? NULL : table_new(c, p, secret_cols);
	json_array_foreach(list, i, s) {
		if (!t) {
			printf("%s\n", out_dash(s, "name"));
			continue;
		}
		table_row(t);
		table_cell(t, cy_json_str(s, "name"));
		table_cell(t, cy_json_str(s, "project_id"));
		table_cell(t, cy_json_str(s, "created_at"));
		table_cell(t, cy_json_str(s, "updated_at"));
	}
	json_decref(res);
	return t ? table_print(t) : 0;
}

static int
secret_delete(struct ctx *c, const struct parsed *p)
{
	const char *name = p->args[0], *project = opt_get(p, "project-id");
	struct cy_buf line = CY_BUF_INIT;
	char *e, *path;
	int rc;

	if (!confirm(c, p, &rc, "Delete secret %s", p->args[0]))
		return rc;
	e = url_escape(name);
	path = project ? xasprintf("/v1/secrets/%s?project_id=%s", e, project) :
			 xasprintf("/v1/secrets/%s", e);
	free(e);
	rc = api_call(c, "DELETE", path, NULL, true, NULL);
	free(path);
	if (rc)
		return rc;
	if (out_json(c))
		return print_json(json_pack("{s:s, s:s?, s:b}", "name", name, "project_id", project,
		    "deleted", 1));
	if (out_name(c)) {
		printf("%s\n", name);
		return 0;
	}
	rec_add(&line, "secret", name);
	rec_add(&line, "deleted", "true");
	return print_line(&line);
}

/* clang-format off */
static const struct opt set_opts[] = {
	{ .name = "project-id", .kind = OPT_STR, .arg = "ID",
	  .help = "only for the tasks of this project (default: all your tasks)" },
	{ NULL }
};

static const struct opt list_opts[] = {
	{ .name = "no-headers", .kind = OPT_BOOL, .help = "omit the header line" },
	{ NULL }
};

static const struct opt delete_opts[] = {
	{ .name = "project-id", .kind = OPT_STR, .arg = "ID",
	  .help = "the secret of this project (default: your own)" },
	{ .name = "yes", .shrt = 'y', .kind = OPT_BOOL, .help = "do not ask for confirmation" },
	{ NULL }
};
/* clang-format on */

const struct cmd cmd_secret_set = {
	.path = "secret set",
	.summary = "store a secret for your jobs (value from stdin or a prompt)",
	.usage = "<name>",
	.opts = set_opts,
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_NEEDS_AUTH,
	.check = secret_check,
	.exec = secret_set,
	.doc =
	    "Creates or replaces the secret NAME (a variable name of 1 to 128 letters, digits or _, not starting with a digit; CYNODE_* and INFERENCE_PROXY_URL are refused). The value is never an argument: it is read from standard input when that is not a terminal (all of it, one trailing newline stripped), else at a Secret: prompt on standard error with echo off. At most 64 KiB, no NUL byte.\n\nThe server stores the value encrypted and never shows it again; a job gets it in its environment with task create --secret NAME[=VAR], and any of its output that repeats it (4 bytes or longer) reads *** in results and logs. With --project-id the secret serves only that project's tasks, where it wins over your own secret of the same name. Prints secret=NAME created=true|false.",
};
const struct cmd cmd_secret_list = {
	.path = "secret list",
	.aliases = "ls",
	.summary = "list your secrets (names only, never values)",
	.opts = list_opts,
	.flags = CMD_NEEDS_AUTH,
	.exec = secret_list,
	.doc =
	    "A TAB-separated table: NAME, PROJECT_ID (- for your own), CREATED_AT, UPDATED_AT. -o json prints the server's answer; no form holds a value.",
};
const struct cmd cmd_secret_delete = {
	.path = "secret delete",
	.aliases = "rm",
	.summary = "delete a secret",
	.usage = "<name>",
	.opts = delete_opts,
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_NEEDS_AUTH,
	.check = secret_check,
	.exec = secret_delete,
	.doc =
	    "Deletes the secret NAME (with --project-id, that project's). A queued task that names it fails when it is dispatched, saying so; it never runs without it. Asks for confirmation on a terminal unless -y; without -y and without a terminal it does nothing and exits 64. Prints secret=NAME deleted=true; a name you have no secret for exits 66.",
};
