/*
 * cynork shell: the whole command surface in one session, with libedit
 * line editing (its readline interface), history and tab completion from
 * the shared engine (complete.c).  Config and token are resolved once and
 * reused; each line is parsed afresh by cmd_run(), so no flag state leaks
 * from one line to the next.  `shell -c LINE` runs one line and exits with
 * its code; `exit [N]`, `quit` and EOF end the session.
 *
 * History lives in the config directory (file "history", mode 0600); lines
 * that look like they hold a secret are never recorded, and what is typed
 * at a password prompt never reaches the line editor at all.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <editline/readline.h>

#include "alloc.h"
#include "cynork.h"
#include "fsutil.h"
#include "json.h"
#include "lineedit.h"
#include "strnum.h"
#include "banned.h"

#define HISTORY_MAX 1000

/* Completion: the words up to the cursor through the shared engine. */
static enum comp_dir
shell_complete(void *arg, const char *upto, json_t *cands)
{
	struct ctx *sess = arg;
	enum comp_dir dir = COMP_DEFAULT;
	char **words;
	int n;

	if (le_words(upto, &n, &words) == 0) {
		char **w = words;
		int k = n;

		if (k > 1 && strcmp(w[0], "cynork") == 0) {
			w++;
			k--;
		}
		dir = complete_words(sess, k, w, true, cands);
	}
	le_argv_free(n, words);
	return dir;
}

/* True when a line must not go into the history file. */
static bool
line_has_secret(const char *line)
{
	static const char *const words[] = { "password", "passwd", "secret", "token=", "bearer",
		"cynork_token", NULL };
	size_t i, run = 0;
	const char *s;

	for (i = 0; words[i]; i++)
		if (strcasestr(line, words[i]))
			return true;
	/* A long unbroken run of token characters looks like a key or a JWT. */
	for (s = line; *s; s++) {
		if (isalnum((unsigned char)*s) || *s == '.' || *s == '_' || *s == '-' ||
		    *s == '+' || *s == '/' || *s == '=')
			run++;
		else
			run = 0;
		if (run >= 40)
			return true;
	}
	return false;
}

static char *
history_path(struct ctx *c)
{
	char *dir = cfg_dir(c), *path;

	if (!dir)
		return NULL;
	path = xasprintf("%s/history", dir);
	free(dir);
	return path;
}

/* Writes the history file, creating it (and its directory) private. */
static void
history_save(struct ctx *c, const char *path)
{
	char *dir = cfg_dir(c);
	int fd;

	if (!dir)
		return;
	if (cy_mkdir_p(dir, 0700, 0700) == 0) {
		fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd >= 0) {
			fchmod(fd, 0600);
			close(fd);
			if (write_history(path) != 0)
				note(c, "cynork: cannot write the history file %s", path);
		}
	}
	free(dir);
}

/*
 * The prompt: "cynork USER@HOST:PORT> " (the gateway without its scheme),
 * "cynork (CONTEXT) USER@HOST:PORT> " in a named context.
 */
static char *
make_prompt(struct ctx *c)
{
	const char *gw = c->gateway ? c->gateway : "", *s = strstr(gw, "://");
	const char *cx =
	    c->cfg.context && strcmp(c->cfg.context, CFG_DEFAULT_CONTEXT) ? c->cfg.context : NULL;

	s = s ? s + 3 : gw;
	return xasprintf("cynork %s%s%s%s%s%s> ", cx ? "(" : "", cx ? cx : "", cx ? ") " : "",
	    c->user ? c->user : "", c->user ? "@" : "", s);
}

/* Asks the server who is logged in (quietly); keeps it for the prompt. */
static char *
whoami(struct ctx *c)
{
	json_t *res = NULL;
	char *user = NULL;
	int saved, null;

	if (!c->token)
		return NULL;
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (saved >= 0 && null >= 0)
		dup2(null, STDERR_FILENO);
	if (api_call_h(c, "GET", "/v1/users/me", NULL, true, NULL, 3000, &res, NULL) == 0 &&
	    cy_json_str(res, "handle"))
		user = xstrdup(cy_json_str(res, "handle"));
	if (saved >= 0) {
		dup2(saved, STDERR_FILENO);
		close(saved);
	}
	if (null >= 0)
		close(null);
	json_decref(res);
	return user;
}

/*
 * Runs one shell line.  Returns the command's exit code; *quit is set by
 * exit/quit.
 */
static int
run_line(struct ctx *sess, const char *line, bool *quit, int last)
{
	char **argv;
	int ac = 0, rc, i;
	long long code;
	const char *errstr;

	if (le_split(line, &ac, &argv) != 0)
		return fail(EXIT_USAGE, "unterminated quote in the line");
	if (ac == 0) {
		le_argv_free(ac, argv);
		return last;
	}
	if (strcmp(argv[0], "exit") == 0 || strcmp(argv[0], "quit") == 0) {
		*quit = true;
		rc = last;
		if (ac > 1)
			rc = cy_strtonum(argv[1], 0, 255, &code, &errstr) < 0 ?
				 fail(EXIT_USAGE, "%s: want a number from 0 to 255", argv[0]) :
				 (int)code;
		le_argv_free(ac, argv);
		return rc;
	}
	i = strcmp(argv[0], "cynork") == 0 && ac > 1 ? 1 : 0;
	rc = cmd_run(sess, ac - i, argv + i);
	le_argv_free(ac, argv);
	fflush(stdout);
	return rc;
}

static int
shell_exec(struct ctx *c, const struct parsed *p)
{
	struct ctx sess = *c;
	struct le_saved saved;
	bool tty = isatty(STDIN_FILENO) && isatty(STDERR_FILENO), quit = false;
	char *hist = NULL, *prompt = NULL, *line;
	const char *old_token;
	enum le_event ev;
	int rc = 0;

	/* The session owns the configuration from here on. */
	memset(&c->cfg, 0, sizeof(c->cfg));
	c->cfg_ready = false;
	sess.in_shell = true;
	/* Global flags given before `shell` are the session's defaults. */
	sess.output = c->output_given ? c->output : NULL;
	if (opt_get(p, "command")) {
		rc = run_line(&sess, opt_get(p, "command"), &quit, 0);
		goto out;
	}
	sess.user = whoami(&sess);
	old_token = sess.token;
	if (tty) {
		le_begin(shell_complete, &sess, &saved);
		hist = history_path(&sess);
		stifle_history(HISTORY_MAX);
		if (hist)
			read_history(hist);
		note(c,
		    "cynork shell: type a command ('help' lists them), Tab completes, 'exit' ends");
	}
	for (;;) {
		if (tty) {
			free(prompt);
			prompt = make_prompt(&sess);
			line = le_readline(prompt, &ev);
			if (!line && ev != LE_EOF) {
				/* Ctrl-C drops the line, never the shell. */
				fputc('\n', stderr);
				continue;
			}
		} else {
			size_t cap = 0;

			line = NULL;
			if (getline(&line, &cap, stdin) < 0) {
				free(line);
				line = NULL;
			} else {
				line[strcspn(line, "\n")] = '\0';
			}
		}
		if (!line) {
			if (tty)
				fputc('\n', stderr);
			break;
		}
		if (tty && line[strspn(line, " \t")] && !line_has_secret(line)) {
			add_history(line);
			if (hist)
				history_save(&sess, hist);
		}
		cynork_interrupted = 0;
		rc = run_line(&sess, line, &quit, rc);
		free(line);
		if (quit)
			break;
		/* context use|add|remove: the file again, for the prompt and the next line. */
		if (!sess.cfg_ready) {
			cfg_load(&sess);
			sess.cfg_ready = true;
		}
		if (sess.token != old_token) {
			free((char *)sess.user);
			sess.user = whoami(&sess);
			old_token = sess.token;
		}
	}
	if (tty)
		le_end(&saved);
out:
	free(prompt);
	free(hist);
	free((char *)sess.user);
	ctx_release(&sess);
	return rc;
}

/* clang-format off */
static const struct opt shell_opts[] = {
	{ .name = "command", .shrt = 'c', .kind = OPT_STR, .arg = "LINE",
	  .help = "run this one command line and exit with its code" },
	{ NULL }
};
/* clang-format on */

const struct cmd cmd_shell = {
	.path = "shell",
	.summary = "interactive shell with completion and history",
	.opts = shell_opts,
	.flags = CMD_NO_SHELL,
	.exec = shell_exec,
	.doc =
	    "Reads command lines (the same commands, flags, output formats and exit codes as on the "
	    "command line, without the leading cynork) with line editing, and runs each one. The "
	    "configuration and the token are resolved once for the session; flags given on one line "
	    "never carry over to the next. Global flags given before shell (-o, -q, --no-color) are "
	    "the session's defaults; --config cannot change inside the shell.\n\n"
	    "The prompt shows the logged-in user and the gateway. Tab completes commands, "
	    "subcommands, flags, enum values, file names and task names fetched from the server. "
	    "History is kept in the file history next to the configuration file (mode 0600); lines "
	    "that look like they hold a password, secret or token are never recorded, and nothing "
	    "typed at a password prompt is.\n\n"
	    "Ctrl-C drops the line being typed; while a command runs it stops the command "
	    "(which then exits 130) and returns to the prompt.\n\n"
	    "exit [N], quit or end of input (Ctrl-D) leave the shell, with N or the last command's "
	    "exit code. With -c LINE, shell runs that one line and exits with its code. When "
	    "standard input is not a terminal, lines are read without prompt or editing.",
};
