/*
 * cynork skills load|list|get|update|delete: the caller's Markdown skills
 * (POST /v1/skills/load, GET /v1/skills[/{id}], PUT and DELETE
 * /v1/skills/{id}).  A skill's content comes from a file (- is standard
 * input), read whole, valid UTF-8 without NUL; the server bounds its size
 * (limits.skill_max_bytes, 413 naming it: exit 65).  Only scope user is
 * served, so --scope takes user and --scope-id is refused.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "cynork.h"
#include "id.h"
#include "json.h"
#include "banned.h"

/* What cynork reads of a skill file; the server's limit is usually far lower. */
#define SKILL_FILE_MAX (16 * 1024 * 1024)
#define SKILL_NAME_MAX 128

static const char *const scope_choices[] = { "user", NULL };

/* The skill file at path (- = stdin) as a JSON string, or NULL (reported in *rc, exit 64). */
static json_t *
skill_read(const char *path, int *rc)
{
	struct cy_buf b = CY_BUF_INIT;
	json_t *s = NULL;
	int r = strcmp(path, "-") == 0 ? cy_buf_read_fd(&b, STDIN_FILENO, SKILL_FILE_MAX) :
					 cy_buf_read_file(&b, path, SKILL_FILE_MAX);

	if (r < 0)
		*rc = fail(EXIT_USAGE, "cannot read skill file '%s': %s", path,
		    errno == EFBIG ? "larger than 16 MiB" : strerror(errno));
	else if (b.len == 0)
		*rc = fail(EXIT_USAGE, "skill file '%s' is empty", path);
	else if (memchr(b.buf, '\0', b.len))
		*rc = fail(EXIT_USAGE, "skill file '%s' contains a NUL byte", path);
	else if (!(s = json_stringn(b.buf, b.len)))
		*rc = fail(EXIT_USAGE, "skill file '%s' is not valid UTF-8", path);
	cy_buf_release(&b);
	return s;
}

/* The skill's default name: the file's base name without a .md suffix. */
static char *
skill_default_name(const char *path)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	size_t n = strlen(base);

	if (n > 3 && !strcmp(base + n - 3, ".md"))
		n -= 3;
	return xasprintf("%.*s", (int)n, base);
}

static bool
name_ok(const char *s)
{
	size_t n = strlen(s);
	const unsigned char *p;

	if (n == 0 || n > SKILL_NAME_MAX)
		return false;
	for (p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* --name, when given, is a name; else exit 64. */
static int
skills_name_check(const struct parsed *p)
{
	const char *name = opt_get(p, "name");

	if (name && !name_ok(name))
		return fail(EXIT_USAGE,
		    "invalid value for --name: want 1 to %d bytes without control characters",
		    SKILL_NAME_MAX);
	return 0;
}

/* skills load: --name, and no --scope-id (scope user only). */
static int
skills_load_check(const struct parsed *p)
{
	if (opt_get(p, "scope-id"))
		return fail(EXIT_USAGE,
		    "--scope-id is for group and project skills; this server serves scope user only");
	return skills_name_check(p);
}

/* get, update, delete: the skill id is a UUID. */
static int
skills_id_check(const struct parsed *p)
{
	if (p->nargs && !cy_uuid_valid(p->args[0]))
		return fail(EXIT_USAGE, "invalid skill id '%s': want a UUID (see skills list)",
		    p->args[0]);
	return 0;
}

static int
skills_update_check(const struct parsed *p)
{
	int rc = skills_id_check(p);

	return rc ? rc : skills_name_check(p);
}

/* Prints skill_id=<id> plus one more key=value, or the JSON answer. */
static int
skills_print_done(struct ctx *c, json_t *res, const char *id, const char *key)
{
	struct cy_buf line = CY_BUF_INIT;

	if (out_json(c))
		return print_json(res);
	if (out_name(c)) {
		printf("%s\n", id);
	} else {
		rec_add(&line, "skill_id", id);
		if (key)
			rec_add(&line, key, "true");
		print_line(&line);
	}
	json_decref(res);
	return 0;
}

static int
skills_load(struct ctx *c, const struct parsed *p)
{
	const char *path = p->args[0], *id;
	char *name = NULL;
	json_t *content, *req, *res = NULL;
	int rc = 0;

	if (!opt_get(p, "name")) {
		name = skill_default_name(path);
		if (strcmp(path, "-") == 0 || !name_ok(name)) {
			free(name);
			return fail(EXIT_USAGE, "give the skill a name with --name");
		}
	}
	if (!(content = skill_read(path, &rc))) {
		free(name);
		return rc;
	}
	req = json_pack("{s:s, s:o, s:s}", "name", name ? name : opt_get(p, "name"), "content_md",
	    content, "scope", opt_get(p, "scope") ? opt_get(p, "scope") : "user");
	free(name);
	rc = api_call(c, "POST", "/v1/skills/load", req, true, &res);
	json_decref(req);
	if (rc)
		return rc;
	if (!(id = cy_json_str(res, "skill_id"))) {
		json_decref(res);
		return fail(EXIT_PROTOCOL, "malformed response: no skill_id");
	}
	return skills_print_done(c, res, id, NULL);
}

/* skills list: the columns (-o wide adds the content's size in bytes and created_at). */
static const struct col skills_cols[] = {
	{ "skill_id", 0 },
	{ "name", COL_TRUNC },
	{ "scope", 0 },
	{ "scope_id", 0 },
	{ "owner_id", 0 },
	{ "updated_at", COL_TIME },
	{ "size", COL_WIDE | COL_RIGHT },
	{ "created_at", COL_WIDE | COL_TIME },
	{ NULL, 0 },
};

static int
skills_list(struct ctx *c, const struct parsed *p)
{
	struct out_table *t;
	struct cy_buf path = CY_BUF_INIT;
	json_t *res = NULL, *list, *s;
	size_t i;
	int rc;

	cy_buf_addf(&path, "/v1/skills?limit=%s", opt_get(p, "limit") ? opt_get(p, "limit") : "50");
	if (opt_get(p, "scope"))
		cy_buf_addf(&path, "&scope=%s", opt_get(p, "scope"));
	if (opt_get(p, "cursor") && *opt_get(p, "cursor")) {
		char *e = url_escape(opt_get(p, "cursor"));

		cy_buf_addf(&path, "&cursor=%s", e);
		free(e);
	}
	if (opt_get(p, "owner")) {
		char *e;

		if (!*opt_get(p, "owner")) {
			cy_buf_release(&path);
			return fail(EXIT_USAGE, "--owner needs a handle or a user id");
		}
		e = url_escape(opt_get(p, "owner"));
		cy_buf_addf(&path, "&owner=%s", e);
		free(e);
	}
	rc = api_call(c, "GET", path.buf, NULL, true, &res);
	cy_buf_release(&path);
	if (rc)
		return rc;
	list = json_object_get(res, "skills");
	if (!json_is_array(list)) {
		json_decref(res);
		return fail(EXIT_PROTOCOL, "malformed response: no 'skills' list");
	}
	if (out_json(c))
		return print_json(res);
	t = out_name(c) ? NULL : table_new(c, p, skills_cols);
	json_array_foreach(list, i, s) {
		if (!t) {
			printf("%s\n", out_dash(s, "skill_id"));
			continue;
		}
		table_row(t);
		table_cell(t, cy_json_str(s, "skill_id"));
		table_cell(t, cy_json_str(s, "name"));
		table_cell(t, cy_json_str(s, "scope"));
		table_cell(t, cy_json_str(s, "scope_id"));
		table_cell(t, cy_json_str(s, "owner_id"));
		table_cell(t, cy_json_str(s, "updated_at"));
		table_cell_key(t, s, "size");
		table_cell(t, cy_json_str(s, "created_at"));
	}
	if (t && (rc = table_print(t)) != 0) {
		json_decref(res);
		return rc;
	}
	fflush(stdout);
	if (cy_json_str(res, "next_cursor") && !out_name(c))
		note(c, "more skills: --cursor %s", cy_json_str(res, "next_cursor"));
	json_decref(res);
	return 0;
}

static int
skills_get(struct ctx *c, const struct parsed *p)
{
	struct cy_buf line = CY_BUF_INIT;
	char *path = xasprintf("/v1/skills/%s", p->args[0]);
	const char *content;
	json_t *res = NULL;
	size_t n;
	int rc;

	rc = api_call(c, "GET", path, NULL, true, &res);
	free(path);
	if (rc)
		return rc;
	if (!(content = cy_json_str(res, "content_md"))) {
		json_decref(res);
		return fail(EXIT_PROTOCOL, "malformed response: no content_md");
	}
	if (out_json(c)) {
		json_t *o = json_pack("{s:O?, s:O?, s:O?, s:O?, s:s}", "skill_id",
		    json_object_get(res, "skill_id"), "name", json_object_get(res, "name"), "scope",
		    json_object_get(res, "scope"), "scope_id", json_object_get(res, "scope_id"),
		    "content_md", content);

		json_decref(res);
		return print_json(o);
	}
	if (out_name(c)) {
		printf("%s\n", cy_json_str(res, "skill_id"));
		json_decref(res);
		return 0;
	}
	rec_add(&line, "skill_id", cy_json_str(res, "skill_id"));
	rec_add(&line, "name", cy_json_str(res, "name"));
	rec_add(&line, "scope", cy_json_str(res, "scope"));
	rec_add(&line, "scope_id", cy_json_str(res, "scope_id"));
	rec_add(&line, "updated_at", cy_json_str(res, "updated_at"));
	print_line(&line);
	n = json_string_length(json_object_get(res, "content_md"));
	fwrite(content, 1, n, stdout);
	if (n && content[n - 1] != '\n')
		putchar('\n');
	json_decref(res);
	return 0;
}

static int
skills_update(struct ctx *c, const struct parsed *p)
{
	const char *id = p->args[0];
	char *path;
	json_t *content, *req, *res = NULL;
	int rc = 0;

	if (!(content = skill_read(p->args[1], &rc)))
		return rc;
	req = json_pack("{s:o}", "content_md", content);
	if (opt_get(p, "name"))
		json_object_set_new(req, "name", json_string(opt_get(p, "name")));
	path = xasprintf("/v1/skills/%s", id);
	rc = api_call(c, "PUT", path, req, true, &res);
	free(path);
	json_decref(req);
	if (rc)
		return rc;
	return skills_print_done(c, res, id, "updated");
}

static int
skills_delete(struct ctx *c, const struct parsed *p)
{
	const char *id = p->args[0];
	char *path;
	int rc;

	if (!confirm(c, p, &rc, "Delete skill %s", p->args[0]))
		return rc;
	path = xasprintf("/v1/skills/%s", id);
	rc = api_call(c, "DELETE", path, NULL, true, NULL);
	free(path);
	if (rc)
		return rc;
	if (out_json(c))
		return print_json(json_pack("{s:s, s:b}", "skill_id", id, "deleted", 1));
	return skills_print_done(c, NULL, id, "deleted");
}

/* clang-format off */
static const struct opt load_opts[] = {
	{ .name = "name", .kind = OPT_STR, .arg = "NAME",
	  .help = "the skill's name (default: the file name without .md)" },
	{ .name = "scope", .kind = OPT_ENUM, .arg = "SCOPE", .choices = scope_choices,
	  .help = "who the skill is for: user (the only scope served)" },
	{ .name = "scope-id", .kind = OPT_STR, .arg = "ID",
	  .help = "the group or project (not served yet: refused)" },
	{ NULL }
};

static const struct opt list_opts[] = {
	{ .name = "scope", .kind = OPT_ENUM, .arg = "SCOPE", .choices = scope_choices,
	  .help = "only skills of this scope (user)" },
	{ .name = "limit", .shrt = 'l', .kind = OPT_INT, .arg = "N",
	  .help = "at most N skills (1-200, default 50)", .min = 1, .max = 200 },
	{ .name = "cursor", .kind = OPT_STR, .arg = "CURSOR",
	  .help = "continue from a previous listing" },
	{ .name = "owner", .kind = OPT_STR, .arg = "USER",
	  .help = "whose skills: a handle or user id (default: yours; another user's: admins)" },
	{ .name = "no-headers", .kind = OPT_BOOL, .help = "omit the header line" },
	{ NULL }
};

static const struct opt update_opts[] = {
	{ .name = "name", .kind = OPT_STR, .arg = "NAME", .help = "rename the skill too" },
	{ NULL }
};

static const struct opt delete_opts[] = {
	{ .name = "yes", .shrt = 'y', .kind = OPT_BOOL, .help = "do not ask for confirmation" },
	{ NULL }
};
/* clang-format on */

const struct cmd cmd_skills_load = {
	.path = "skills load",
	.summary = "store a Markdown file as one of your skills",
	.usage = "<file.md>",
	.opts = load_opts,
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_NEEDS_AUTH,
	.check = skills_load_check,
	.exec = skills_load,
	.doc =
	    "Reads FILE (- for standard input, then --name is required) and stores it as a skill of yours, named NAME (default: the file's name without .md; 1 to 128 bytes, no control characters, unique among your skills). The file must be valid UTF-8 without NUL; a missing, unreadable, empty or invalid file is exit 64. The server takes at most limits.skill_max_bytes (default 256 KiB; beyond it exit 65 naming the limit). A name you already use is exit 73. Only scope user is served; --scope-id is refused. Prints skill_id=ID.",
};
const struct cmd cmd_skills_list = {
	.path = "skills list",
	.aliases = "ls",
	.summary = "list your skills",
	.opts = list_opts,
	.flags = CMD_NEEDS_AUTH,
	.exec = skills_list,
	.doc =
	    "A TAB-separated table with the header skill_id name scope scope_id owner_id updated_at, newest first. When more skills exist a --cursor CURSOR hint goes to standard error. -o json prints the server's answer {\"skills\": [...], \"next_cursor\": ...} (without the content); -o name only the ids.",
};
const struct cmd cmd_skills_get = {
	.path = "skills get",
	.summary = "print one of your skills",
	.usage = "<skill_id>",
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_NEEDS_AUTH,
	.check = skills_id_check,
	.exec = skills_get,
	.doc =
	    "Prints a metadata line (skill_id name scope scope_id updated_at), then the Markdown content as stored. -o json prints {skill_id, name, scope, scope_id, content_md}. Another user's skill, or none, is exit 66.",
};
const struct cmd cmd_skills_update = {
	.path = "skills update",
	.summary = "replace a skill's content with a file",
	.usage = "<skill_id> <file.md>",
	.opts = update_opts,
	.min_args = 2,
	.max_args = 2,
	.flags = CMD_NEEDS_AUTH,
	.check = skills_update_check,
	.exec = skills_update,
	.doc =
	    "Replaces the content of the skill with FILE (- for standard input; the same rules as skills load), and with --name renames it. Prints skill_id=ID updated=true.",
};
const struct cmd cmd_skills_delete = {
	.path = "skills delete",
	.aliases = "rm",
	.summary = "delete one of your skills",
	.usage = "<skill_id>",
	.opts = delete_opts,
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_NEEDS_AUTH,
	.check = skills_id_check,
	.exec = skills_delete,
	.doc =
	    "Asks Delete skill ID? [y/N] on standard error unless -y (without a terminal to ask on: exit 64), then deletes the skill. Prints skill_id=ID deleted=true; another user's skill, or none, is exit 66.",
};
