/*
 * cynork user create|list|get|disable|enable|reset-password|set-role|
 * revoke-sessions (admin).  A user is named by handle or id.
 * Passwords never come from the command line: a prompt with echo off, or
 * --password-stdin.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cynork.h"
#include "json.h"
#include "banned.h"

static const char *const role_choices[] = { "admin", "operator", "user", NULL };

/*
 * Prints one user as a record line, its handle (-o name) or JSON (the
 * server's id as user_id, as the record line and the table call it);
 * steals u.
 */
static int
print_user(struct ctx *c, json_t *u)
{
	struct cy_buf line = CY_BUF_INIT;

	if (out_json(c)) {
		print_json(out_id_view(u, "user_id"));
		json_decref(u);
		return 0;
	}
	if (out_name(c)) {
		printf("%s\n", out_dash(u, "handle"));
	} else {
		rec_add(&line, "user_id", cy_json_str(u, "id"));
		rec_add(&line, "handle", cy_json_str(u, "handle"));
		rec_add(&line, "role", cy_json_str(u, "role"));
		rec_add(&line, "is_active",
		    json_is_true(json_object_get(u, "is_active")) ? "true" : "false");
		if (cy_json_str(u, "email"))
			rec_add(&line, "email", cy_json_str(u, "email"));
		rec_add(&line, "created_at", cy_json_str(u, "created_at"));
		print_line(&line);
	}
	json_decref(u);
	return 0;
}

/* "/v1/users/<escaped ref><suffix>" (caller frees). */
static char *
user_path(const char *ref, const char *suffix)
{
	char *e = url_escape(ref), *path;

	path = xasprintf("/v1/users/%s%s", e, suffix);
	free(e);
	return path;
}

/* Overwrites and frees a secret string (NULL is fine). */
static void
id_wipe(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* Reads the new password: --password-stdin, or a prompt. */
static char *
read_new_password(const struct parsed *p)
{
	return opt_set(p, "password-stdin") ? password_from_stdin() :
					      prompt("New password: ", true);
}

static int
user_create(struct ctx *c, const struct parsed *p)
{
	json_t *req, *res = NULL;
	char *pw;
	int rc;

	if (!(pw = read_new_password(p)) || !*pw) {
		free(pw);
		return fail(EXIT_USAGE, "no password given");
	}
	req = json_pack("{s:s, s:s}", "handle", p->args[0], "password", pw);
	explicit_bzero(pw, strlen(pw));
	free(pw);
	if (opt_get(p, "role"))
		json_object_set_new(req, "role", json_string(opt_get(p, "role")));
	if (opt_get(p, "email"))
		json_object_set_new(req, "email", json_string(opt_get(p, "email")));
	rc = api_call(c, "POST", "/v1/users", req, true, &res);
	json_object_clear(req);
	json_decref(req);
	return rc ? rc : print_user(c, res);
}

/* user list: the columns (-o wide adds updated_at). */
static const struct col user_cols[] = {
	{ "USER_ID", 0 },
	{ "HANDLE", 0 },
	{ "ROLE", 0 },
	{ "ACTIVE", 0 },
	{ "EMAIL", COL_TRUNC },
	{ "CREATED_AT", COL_TIME },
	{ "UPDATED_AT", COL_WIDE | COL_TIME },
	{ NULL, 0 },
};

static int
user_list(struct ctx *c, const struct parsed *p)
{
	struct out_table *t;
	json_t *res = NULL, *list, *u;
	size_t i;
	int rc = api_call(c, "GET", "/v1/users", NULL, true, &res);

	if (rc)
		return rc;
	list = json_object_get(res, "users");
	if (!json_is_array(list)) {
		json_decref(res);
		return fail(EXIT_PROTOCOL, "malformed response: no 'users' list");
	}
	if (out_json(c)) {
		json_t *o = json_pack("{s:o}", "users", out_ids_view(list, "user_id"));

		json_decref(res);
		return print_json(o);
	}
	t = out_name(c) ? NULL : table_new(c, p, user_cols);
	json_array_foreach(list, i, u) {
		if (!t) {
			printf("%s\n", out_dash(u, "handle"));
			continue;
		}
		table_row(t);
		table_cell(t, cy_json_str(u, "id"));
		table_cell(t, cy_json_str(u, "handle"));
		table_cell(t, cy_json_str(u, "role"));
		table_cell(t, json_is_true(json_object_get(u, "is_active")) ? "true" : "false");
		table_cell(t, cy_json_str(u, "email"));
		table_cell(t, cy_json_str(u, "created_at"));
		table_cell(t, cy_json_str(u, "updated_at"));
	}
	json_decref(res);
	return t ? table_print(t) : 0;
}

/* GET or POST (with body) on /v1/users/<ref><suffix>, printing the user. */
static int
user_call(struct ctx *c, const char *method, const char *ref, const char *suffix, json_t *body)
{
	char *path = user_path(ref, suffix);
	json_t *res = NULL;
	int rc = api_call(c, method, path, body, true, &res);

	free(path);
	return rc ? rc : print_user(c, res);
}

static int
user_get(struct ctx *c, const struct parsed *p)
{
	return user_call(c, "GET", p->args[0], "", NULL);
}

static int
user_disable(struct ctx *c, const struct parsed *p)
{
	int rc = 0;

	if (!confirm(c, p, &rc, "disable user '%s' (its sessions end, its tokens stop working)",
		p->args[0]))
		return rc;
	return user_call(c, "POST", p->args[0], "/disable", NULL);
}

static int
user_enable(struct ctx *c, const struct parsed *p)
{
	return user_call(c, "POST", p->args[0], "/enable", NULL);
}

static int
user_set_role(struct ctx *c, const struct parsed *p)
{
	json_t *req = json_pack("{s:s}", "role", p->args[1]);
	int rc = user_call(c, "POST", p->args[0], "/role", req);

	json_decref(req);
	return rc;
}

static int
user_set_role_check(const struct parsed *p)
{
	size_t i;

	if (p->nargs < 2)
		return 0;
	for (i = 0; role_choices[i]; i++)
		if (!strcmp(p->args[1], role_choices[i]))
			return 0;
	return fail(EXIT_USAGE, "invalid role '%s': want admin, operator or user", p->args[1]);
}

/* Prints "user=<ref> <key>=true" or its JSON. */
static int
print_done(struct ctx *c, const char *ref, const char *key)
{
	struct cy_buf line = CY_BUF_INIT;

	if (out_json(c))
		return print_json(json_pack("{s:s, s:b}", "user", ref, key, 1));
	if (out_name(c)) {
		printf("%s\n", ref);
		return 0;
	}
	rec_add(&line, "user", ref);
	rec_add(&line, key, "true");
	return print_line(&line);
}

static int
user_reset_password(struct ctx *c, const struct parsed *p)
{
	char *pw, *path;
	json_t *req;
	int rc = 0;

	/* Asked before the password, which --password-stdin reads from standard input. */
	if (!confirm(c, p, &rc, "set a new password for user '%s' and end its sessions",
		p->args[0]))
		return rc;
	if (!(pw = read_new_password(p)) || !*pw) {
		free(pw);
		return fail(EXIT_USAGE, "no password given");
	}
	req = json_pack("{s:s}", "password", pw);
	explicit_bzero(pw, strlen(pw));
	free(pw);
	path = user_path(p->args[0], "/reset_password");
	rc = api_call(c, "POST", path, req, true, NULL);
	free(path);
	json_object_clear(req);
	json_decref(req);
	return rc ? rc : print_done(c, p->args[0], "password_reset");
}

static int
user_revoke_sessions(struct ctx *c, const struct parsed *p)
{
	json_t *u = NULL;
	char *path;
	const char *id;
	int rc = 0;

	if (!confirm(c, p, &rc, "end every login session of user '%s'", p->args[0]))
		return rc;
	/* The endpoint takes the id; a handle is looked up first. */
	path = user_path(p->args[0], "");
	rc = api_call(c, "GET", path, NULL, true, &u);
	free(path);
	if (rc)
		return rc;
	if (!(id = cy_json_str(u, "id"))) {
		json_decref(u);
		return fail(EXIT_PROTOCOL, "malformed response: no user id");
	}
	path = user_path(id, "/revoke_sessions");
	json_decref(u);
	rc = api_call(c, "POST", path, NULL, true, NULL);
	free(path);
	return rc ? rc : print_done(c, p->args[0], "sessions_revoked");
}

/* Changes the caller's own password (no admin needed). */
static int
user_passwd(struct ctx *c, const struct parsed *p)
{
	char *cur = NULL, *pw = NULL;
	json_t *req;
	int rc;

	if (opt_set(p, "password-stdin")) {
		/* Two lines: the current password, then the new one. */
		cur = prompt("", false);
		pw = prompt("", false);
	} else {
		cur = prompt("Current password: ", true);
		if (cur)
			pw = prompt("New password: ", true);
	}
	if (!cur || !*cur || !pw || !*pw) {
		id_wipe(cur);
		id_wipe(pw);
		return fail(EXIT_USAGE, "the current and the new password are both needed");
	}
	req = json_pack("{s:s, s:s}", "current_password", cur, "new_password", pw);
	id_wipe(cur);
	id_wipe(pw);
	rc = api_call(c, "POST", "/v1/users/me/password", req, true, NULL);
	json_object_clear(req);
	json_decref(req);
	return rc ? rc : print_done(c, "me", "password_changed");
}

/* clang-format off */
static const struct opt create_opts[] = {
	{ .name = "role", .shrt = 'r', .kind = OPT_ENUM, .arg = "ROLE",
	  .help = "admin, operator or user (default user)", .choices = role_choices },
	{ .name = "email", .kind = OPT_STR, .arg = "EMAIL", .help = "e-mail address" },
	{ .name = "password-stdin", .kind = OPT_BOOL,
	  .help = "read the password from standard input" },
	{ NULL }
};

static const struct opt reset_opts[] = {
	{ .name = "password-stdin", .kind = OPT_BOOL,
	  .help = "read the new password from standard input" },
	{ .name = "yes", .shrt = 'y', .kind = OPT_BOOL, .help = "do not ask for confirmation" },
	{ NULL }
};

static const struct opt yes_opts[] = {
	{ .name = "yes", .shrt = 'y', .kind = OPT_BOOL, .help = "do not ask for confirmation" },
	{ NULL }
};

static const struct opt passwd_opts[] = {
	{ .name = "password-stdin", .kind = OPT_BOOL,
	  .help = "read two lines from standard input: the current password, then the new one" },
	{ NULL }
};

static const struct opt list_opts[] = {
	{ .name = "no-headers", .kind = OPT_BOOL, .help = "omit the header line" },
	{ NULL }
};
/* clang-format on */

const struct cmd cmd_user_create = {
	.path = "user create",
	.summary = "create a user (admin)",
	.usage = "<handle>",
	.opts = create_opts,
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_NEEDS_AUTH,
	.exec = user_create,
	.doc =
	    "The password (8 to 4096 bytes) is prompted for with echo off, or read from standard input. Roles: admin (everything), operator (sees every task, manages nodes, reads metrics), user (its own tasks; the default). The handle system (any case) is reserved. Prints the user as a record line.",
};
const struct cmd cmd_user_list = {
	.path = "user list",
	.aliases = "ls",
	.summary = "list users (admin)",
	.opts = list_opts,
	.flags = CMD_NEEDS_AUTH,
	.exec = user_list,
};
const struct cmd cmd_user_get = {
	.path = "user get",
	.summary = "show one user (admin)",
	.usage = "<user>",
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_NEEDS_AUTH,
	.exec = user_get,
};
const struct cmd cmd_user_disable = {
	.path = "user disable",
	.summary = "disable a user: no login, refresh or token works any more (admin)",
	.usage = "<user>",
	.opts = yes_opts,
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_NEEDS_AUTH,
	.exec = user_disable,
	.doc =
	    "Its login sessions end at once and its API tokens stop working (they work again after enable). Users are never deleted. You cannot disable yourself. Asks for confirmation on a terminal unless -y; without -y and without a terminal it does nothing and exits 64.",
};
const struct cmd cmd_user_enable = {
	.path = "user enable",
	.summary = "enable a disabled user (admin)",
	.usage = "<user>",
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_NEEDS_AUTH,
	.exec = user_enable,
};
const struct cmd cmd_user_reset_password = {
	.path = "user reset-password",
	.summary = "set a user's password and end its sessions (admin)",
	.usage = "<user>",
	.opts = reset_opts,
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_NEEDS_AUTH,
	.exec = user_reset_password,
	.doc =
	    "The new password (8 to 4096 bytes) is prompted for with echo off, or read from standard input with --password-stdin; every login session of the user ends. Asks for confirmation on a terminal unless -y; without -y and without a terminal it does nothing and exits 64. With --password-stdin standard input is not a terminal, so give -y too.",
};
const struct cmd cmd_user_set_role = {
	.path = "user set-role",
	.summary = "set a user's role: admin, operator or user (admin)",
	.usage = "<user> <role>",
	.min_args = 2,
	.max_args = 2,
	.flags = CMD_NEEDS_AUTH,
	.check = user_set_role_check,
	.exec = user_set_role,
};
const struct cmd cmd_user_revoke_sessions = {
	.path = "user revoke-sessions",
	.summary = "end every login session of a user at once (admin)",
	.usage = "<user>",
	.opts = yes_opts,
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_NEEDS_AUTH,
	.exec = user_revoke_sessions,
	.doc =
	    "Every login session of the user ends: its refresh tokens are revoked and their access tokens fail on the next request. API tokens are not sessions and keep working (token revoke ends one). Asks for confirmation on a terminal unless -y; without -y and without a terminal it does nothing and exits 64.",
};
const struct cmd cmd_user_passwd = {
	.path = "user passwd",
	.summary = "change your own password",
	.opts = passwd_opts,
	.flags = CMD_NEEDS_AUTH,
	.exec = user_passwd,
	.doc =
	    "Asks for the current and the new password (echo off), or reads them as two lines with "
	    "--password-stdin. Your other login sessions end; this one stays. Repeated wrong current "
	    "passwords count towards the login lockout.",
};
