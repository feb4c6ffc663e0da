/*
 * cynork auth login|logout|whoami|refresh (and the top-level shortcuts).
 * Passwords never come from the command line: a prompt with echo off, or
 * --password-stdin.  Tokens are stored in the config file (0600) and never
 * printed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "alloc.h"
#include "cynork.h"
#include "json.h"
#include "banned.h"

#define SECRET_MAX 4096

/* Reads one line from stdin into a new string without its newline; NULL at EOF. */
static char *
read_line(void)
{
	struct cy_buf b = CY_BUF_INIT;
	int ch;

	while ((ch = getchar()) != EOF && ch != '\n') {
		if (b.len >= SECRET_MAX) {
			explicit_bzero(b.buf, b.len);
			cy_buf_release(&b);
			return NULL;
		}
		cy_buf_addch(&b, ch);
	}
	if (ch == EOF && b.len == 0) {
		cy_buf_release(&b);
		return NULL;
	}
	return cy_buf_detach(&b, NULL);
}

/* Prompts on stderr and reads a line, with echo off when stdin is a terminal. */
char *
prompt(const char *label, bool secret)
{
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO) && secret && tcgetattr(STDIN_FILENO, &old) == 0;
	char *line;

	fputs(label, stderr);
	fflush(stderr);
	if (tty) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	line = read_line();
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	return line;
}

/* Reads all of stdin as the password, stripping exactly one trailing newline. */
char *
password_from_stdin(void)
{
	struct cy_buf b = CY_BUF_INIT;

	if (cy_buf_read_fd(&b, STDIN_FILENO, SECRET_MAX) < 0) {
		explicit_bzero(b.buf, b.len);
		cy_buf_release(&b);
		return NULL;
	}
	if (b.len && b.buf[b.len - 1] == '\n')
		cy_buf_setlen(&b, b.len - 1);
	if (b.len && b.buf[b.len - 1] == '\r')
		cy_buf_setlen(&b, b.len - 1);
	return cy_buf_detach(&b, NULL);
}

static int
auth_login_check(const struct parsed *p)
{
	const char *why;

	if (opt_set(p, "password-stdin") && !opt_set(p, "user"))
		return fail(EXIT_USAGE, "--password-stdin needs --user");
	if (opt_get(p, "server") && (why = cfg_url_problem(opt_get(p, "server"))))
		return fail(EXIT_USAGE, "invalid value '%s' for --server: %s", opt_get(p, "server"),
		    why);
	return 0;
}

static int
auth_login(struct ctx *c, const struct parsed *p)
{
	char *user = opt_get(p, "user") ? xstrdup(opt_get(p, "user")) : NULL, *pass;
	const char *at, *rt;
	json_t *req, *res = NULL;
	struct cy_buf line = CY_BUF_INIT;
	int rc;

	if (!c->cfg.path) {
		free(user);
		return fail(EXIT_CONFIG,
		    "no config file to store the session: HOME is not set; use --config PATH");
	}
	if (c->cfg.context_unknown && !opt_get(p, "server")) {
		free(user);
		return fail(EXIT_NOT_FOUND,
		    "unknown context '%s'; give --server URL to make it, or see 'cynork context list'",
		    c->cfg.context);
	}
	/* --server: log in there, and keep it as the context's gateway_url. */
	if (opt_get(p, "server")) {
		free(c->cfg.gateway_url);
		c->cfg.gateway_url = xstrdup(opt_get(p, "server"));
		c->gateway = c->cfg.gateway_url;
	}
	if (!user && !(user = prompt("User: ", false)))
		return fail(EXIT_USAGE, "no user name given");
	pass = opt_set(p, "password-stdin") ? password_from_stdin() : prompt("Password: ", true);
	if (!pass || !*pass) {
		free(user);
		free(pass);
		return fail(EXIT_USAGE, "no password given");
	}
	req = json_pack("{s:s, s:s}", "handle", user, "password", pass);
	explicit_bzero(pass, strlen(pass));
	free(pass);
	rc = api_call(c, "POST", "/v1/auth/login", req, false, &res);
	json_object_clear(req);
	json_decref(req);
	if (rc)
		goto out;
	at = cy_json_str(res, "access_token");
	rt = cy_json_str(res, "refresh_token");
	if (!at) {
		rc = fail(EXIT_PROTOCOL, "malformed login response: no access_token");
		goto out;
	}
	free(c->cfg.token);
	free(c->cfg.refresh_token);
	c->cfg.token = xstrdup(at);
	c->cfg.refresh_token = rt ? xstrdup(rt) : NULL;
	if (c->cfg.context_unknown)
		cfg_context_create(&c->cfg);
	if ((rc = cfg_save(c)) != 0)
		goto out;
	if (out_json(c)) {
		print_json(json_pack("{s:b, s:s}", "logged_in", 1, "user", user));
	} else {
		rec_add(&line, "logged_in", "true");
		rec_add(&line, "user", user);
		print_line(&line);
	}
out:
	json_decref(res);
	free(user);
	return rc;
}

static int
auth_logout(struct ctx *c, const struct parsed *p)
{
	struct cy_buf line = CY_BUF_INIT;
	int rc;

	/* Nowhere to forget a session in: say so rather than claim it is gone (cli.md 2). */
	if (!c->cfg.path)
		return fail(EXIT_CONFIG,
		    "no config file to remove the session from: HOME is not set; use --config PATH");
	/* Best effort: end the session on the server too. */
	if (c->cfg.token && c->cfg.refresh_token) {
		json_t *req = json_pack("{s:s}", "refresh_token", c->cfg.refresh_token);
		const char *saved = c->token;

		c->token = c->cfg.token;
		if (api_call(c, "POST", "/v1/auth/logout", req, true, NULL) != 0)
			note(c,
			    "note: the server session could not be ended; the local tokens are removed anyway");
		c->token = saved;
		json_decref(req);
	}
	if (c->cfg.loaded || c->cfg.token || c->cfg.refresh_token) {
		FREE_AND_NULL(c->cfg.token);
		FREE_AND_NULL(c->cfg.refresh_token);
		if ((rc = cfg_save(c)) != 0)
			return rc;
	}
	if (out_json(c))
		return print_json(json_pack("{s:b}", "logged_out", 1));
	/* A person (a terminal, or -o text) is told in words; scripts keep the record line. */
	if (out_text(c)) {
		if (c->gateway && *c->gateway)
			printf("logged out of %s\n", c->gateway);
		else
			printf("logged out\n");
		return 0;
	}
	rec_add(&line, "logged_out", "true");
	return print_line(&line);
}

static int
auth_whoami(struct ctx *c, const struct parsed *p)
{
	struct cy_buf line = CY_BUF_INIT;
	json_t *res = NULL;
	int rc = api_call(c, "GET", "/v1/users/me", NULL, true, &res);

	if (rc)
		return rc;
	if (out_json(c)) {
		print_json(json_pack("{s:s?, s:s?}", "id", cy_json_str(res, "id"), "user",
		    cy_json_str(res, "handle")));
	} else if (out_name(c)) {
		printf("%s\n", cy_json_str(res, "handle") ? cy_json_str(res, "handle") : "");
	} else {
		rec_add(&line, "id", cy_json_str(res, "id"));
		rec_add(&line, "user", cy_json_str(res, "handle"));
		print_line(&line);
	}
	json_decref(res);
	return 0;
}

static int
auth_refresh(struct ctx *c, const struct parsed *p)
{
	struct cy_buf line = CY_BUF_INIT;
	json_t *req, *res = NULL;
	const char *at, *rt;
	int rc;

	if (!c->cfg.refresh_token)
		return fail(EXIT_AUTH, "no refresh token stored: run 'cynork login'");
	req = json_pack("{s:s}", "refresh_token", c->cfg.refresh_token);
	rc = api_call(c, "POST", "/v1/auth/refresh", req, false, &res);
	json_decref(req);
	if (rc)
		return rc;
	at = cy_json_str(res, "access_token");
	rt = cy_json_str(res, "refresh_token");
	if (!at || !rt) {
		json_decref(res);
		return fail(EXIT_PROTOCOL, "malformed refresh response");
	}
	free(c->cfg.token);
	free(c->cfg.refresh_token);
	c->cfg.token = xstrdup(at);
	c->cfg.refresh_token = xstrdup(rt);
	json_decref(res);
	if ((rc = cfg_save(c)) != 0)
		return rc;
	if (out_json(c))
		return print_json(json_pack("{s:b}", "refreshed", 1));
	rec_add(&line, "refreshed", "true");
	return print_line(&line);
}

/* clang-format off */
static const struct opt login_opts[] = {
	{ .name = "user", .shrt = 'u', .kind = OPT_STR, .arg = "USER",
	  .help = "user handle (prompted for when absent)", .alias = "handle" },
	{ .name = "password-stdin", .kind = OPT_BOOL,
	  .help = "read the password from standard input (needs --user)" },
	{ .name = "server", .kind = OPT_STR, .arg = "URL",
	  .help = "the gateway to log in to, kept as the context's gateway_url" },
	{ NULL }
};
/* clang-format on */

#define LOGIN_SUMMARY "log in and store the session in the config file"

const struct cmd cmd_auth_login = {
	.path = "auth login",
	.summary = LOGIN_SUMMARY,
	.opts = login_opts,
	.flags = CMD_ANY_CONTEXT,
	.check = auth_login_check,
	.exec = auth_login,
	.doc =
	    "Logs in and stores the session (access and refresh token) in the configuration file, or the token through the credential helper when one is configured. Without -u, User: is prompted for on standard error; without --password-stdin, Password: is read with echo off. There is no password flag. The session goes into the active context (--context, CYNORK_CONTEXT, the file's current_context, else default) and no other: each context keeps its own tokens. With --server URL, logs in to that gateway and keeps URL as the context's gateway_url; with --context NAME and --server, a context NAME not in the file yet is made. Prints logged_in=true user=USER; the token is never printed. A wrong password exits 77, an unknown context without --server 66, a bad --server URL 64.",
};
const struct cmd cmd_login = {
	.path = "login",
	.summary = LOGIN_SUMMARY " (= auth login)",
	.opts = login_opts,
	.flags = CMD_ANY_CONTEXT,
	.check = auth_login_check,
	.exec = auth_login,
	.doc =
	    "Logs in and stores the session (access and refresh token) in the configuration file, or the token through the credential helper when one is configured. Without -u, User: is prompted for on standard error; without --password-stdin, Password: is read with echo off. There is no password flag. The session goes into the active context (--context, CYNORK_CONTEXT, the file's current_context, else default) and no other: each context keeps its own tokens. With --server URL, logs in to that gateway and keeps URL as the context's gateway_url; with --context NAME and --server, a context NAME not in the file yet is made. Prints logged_in=true user=USER; the token is never printed. A wrong password exits 77, an unknown context without --server 66, a bad --server URL 64.",
};
const struct cmd cmd_auth_logout = {
	.path = "auth logout",
	.summary = "end the session and forget the stored tokens",
	.exec = auth_logout,
	.doc =
	    "Ends the session on the server (best effort) and removes the stored tokens (with a credential helper: sends it erase); other keys in the configuration file are kept. Prints \"logged out of URL\" on a terminal or with -o text, else logged_out=true on standard output (-o json: {\"logged_out\": true}; -q keeps it), also when no session was stored, and exits 0; a session the server could not end is noted on standard error. With neither HOME nor --config there is no configuration file to remove the session from: exit 78, nothing printed on standard output.",
};
const struct cmd cmd_logout = {
	.path = "logout",
	.summary = "end the session (= auth logout)",
	.exec = auth_logout,
	.doc =
	    "Ends the session on the server (best effort) and removes the stored tokens (with a credential helper: sends it erase); other keys in the configuration file are kept. Prints \"logged out of URL\" on a terminal or with -o text, else logged_out=true on standard output (-o json: {\"logged_out\": true}; -q keeps it), also when no session was stored, and exits 0; a session the server could not end is noted on standard error. With neither HOME nor --config there is no configuration file to remove the session from: exit 78, nothing printed on standard output.",
};
const struct cmd cmd_auth_whoami = {
	.path = "auth whoami",
	.summary = "show the logged-in user",
	.flags = CMD_NEEDS_AUTH,
	.exec = auth_whoami,
	.doc =
	    "Shows the logged-in user: id=ID user=HANDLE (-o json: {\"id\", \"user\"}). Exits 77 when not logged in.",
};
const struct cmd cmd_whoami = {
	.path = "whoami",
	.summary = "show the logged-in user (= auth whoami)",
	.flags = CMD_NEEDS_AUTH,
	.exec = auth_whoami,
	.doc =
	    "Shows the logged-in user: id=ID user=HANDLE (-o json: {\"id\", \"user\"}). Exits 77 when not logged in.",
};
const struct cmd cmd_auth_refresh = {
	.path = "auth refresh",
	.summary = "renew the session with the stored refresh token",
	.exec = auth_refresh,
	.doc =
	    "Renews the session with the stored refresh token and stores the new pair (the old refresh token stops working). Prints refreshed=true; exits 77 when no refresh token is stored. Commands also refresh by themselves once when the gateway answers 401 and a refresh token is held.",
};
