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
#include <histedit.h>

#include "alloc.h"
#include "cynork.h"
#include "fsutil.h"
#include "json.h"
#include "strnum.h"
#include "banned.h"

#define HISTORY_MAX 1000

volatile sig_atomic_t cynork_interrupted;

static struct ctx *shell_sess;		/* for the completion callback */
static json_t *comp_cands;		/* candidates of the current completion */
static size_t comp_next;

/*
 * Ctrl-C: at the prompt it drops the line; while a command runs it stops
 * the command's request (exit 130), never the shell.  No SA_RESTART, so a
 * blocked read returns.
 */
static void
on_sigint(int sig)
{
	cynork_interrupted = 1;
}

/* The tokenizer of libedit splits a line like sh does (quotes, backslash). */
static int
split_line(Tokenizer *tok, const char *line, int *argc, const char ***argv)
{
	tok_reset(tok);
	return tok_str(tok, line, argc, argv);
}

static char *
comp_entry(const char *text, int state)
{
	const char *s;
	size_t n;

	if (state == 0)
		comp_next = 0;
	while (comp_next < json_array_size(comp_cands)) {
		s = json_string_value(json_array_get(comp_cands, comp_next++));
		n = strcspn(s, "\t");
		if (strncmp(s, text, strlen(text)) == 0)
			return xstrndup(s, n);
	}
	return NULL;
}

static char **
shell_complete(const char *text, int start, int end)
{
	Tokenizer *tok = tok_init(NULL);
	char *upto = xstrndup(rl_line_buffer, (size_t)rl_point);
	const char **av = NULL;
	char **words;
	int ac = 0, i, n;
	enum comp_dir dir;
	char **matches = NULL;

	rl_attempted_completion_over = 1;
	if (split_line(tok, upto, &ac, &av) != 0)
		ac = 0;
	n = ac;
	words = xcalloc((size_t)n + 2, sizeof(*words));
	for (i = 0; i < ac; i++)
		words[i] = (char *)av[i];
	/* The partial word is empty when the cursor follows a space. */
	if (ac == 0 || (rl_point > 0 && isspace((unsigned char)rl_line_buffer[rl_point - 1])))
		words[n++] = (char *)"";
	if (n > 0 && strcmp(words[0], "cynork") == 0 && n > 1) {
		memmove(words, words + 1, (size_t)(n - 1) * sizeof(*words));
		n--;
	}
	json_decref(comp_cands);
	comp_cands = json_array();
	dir = complete_words(shell_sess, n, words, true, comp_cands);
	if (dir == COMP_FILES) {
		rl_attempted_completion_over = 0;
		matches = rl_completion_matches(text, rl_filename_completion_function);
	} else if (json_array_size(comp_cands) > 0) {
		matches = rl_completion_matches(text, comp_entry);
	}
	free(words);
	free(upto);
	tok_end(tok);
	return matches;
}

/* True when a line must not go into the history file. */
static bool
line_has_secret(const char *line)
{
	static const char *const words[] = { "password", "passwd", "secret", "token=",
		"bearer", "cynork_token", NULL };
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

/* The prompt: "cynork USER@HOST:PORT> " (the gateway without its scheme). */
static char *
make_prompt(struct ctx *c)
{
	const char *gw = c->gateway ? c->gateway : "", *s = strstr(gw, "://");

	s = s ? s + 3 : gw;
	return xasprintf("cynork %s%s%s> ", c->user ? c->user : "", c->user ? "@" : "", s);
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
run_line(struct ctx *sess, Tokenizer *tok, const char *line, bool *quit, int last)
{
	const char **av = NULL;
	char **argv;
	int ac = 0, rc, i;
	long long code;
	const char *errstr;

	rc = split_line(tok, line, &ac, &av);
	if (rc != 0)
		return fail(EXIT_USAGE, "unterminated quote in the line");
	if (ac == 0)
		return last;
	if (strcmp(av[0], "exit") == 0 || strcmp(av[0], "quit") == 0) {
		*quit = true;
		if (ac > 1) {
			if (cy_strtonum(av[1], 0, 255, &code, &errstr) < 0)
				return fail(EXIT_USAGE, "%s: want a number from 0 to 255", av[0]);
			return (int)code;
		}
		return last;
	}
	argv = xcalloc((size_t)ac + 1, sizeof(*argv));
	for (i = 0; i < ac; i++)
		argv[i] = xstrdup(av[i]);
	i = strcmp(argv[0], "cynork") == 0 && ac > 1 ? 1 : 0;
	rc = cmd_run(sess, ac - i, argv + i);
	for (i = 0; i < ac; i++)
		free(argv[i]);
	free(argv);
	fflush(stdout);
	return rc;
}

static int
shell_exec(struct ctx *c, const struct parsed *p)
{
	struct ctx sess = *c;
	Tokenizer *tok = tok_init(NULL);
	bool tty = isatty(STDIN_FILENO) && isatty(STDERR_FILENO), quit = false;
	char *hist = NULL, *prompt = NULL, *line;
	const char *old_token;
	int rc = 0;

	/* The session owns the configuration from here on. */
	memset(&c->cfg, 0, sizeof(c->cfg));
	c->cfg_ready = false;
	sess.in_shell = true;
	/* Global flags given before `shell` are the session's defaults. */
	sess.output = strcmp(c->output, "table") ? c->output : NULL;
	if (opt_get(p, "command")) {
		rc = run_line(&sess, tok, opt_get(p, "command"), &quit, 0);
		goto out;
	}
	sess.user = whoami(&sess);
	old_token = sess.token;
	if (tty) {
		rl_readline_name = "cynork";
		rl_attempted_completion_function = shell_complete;
		rl_completer_word_break_characters = (char *)" \t\n";
		shell_sess = &sess;
		rl_catch_signals = 0;
		{
			struct sigaction sa;

			memset(&sa, 0, sizeof(sa));
			sa.sa_handler = on_sigint;
			sigemptyset(&sa.sa_mask);
			sigaction(SIGINT, &sa, NULL);
		}
		hist = history_path(&sess);
		stifle_history(HISTORY_MAX);
		if (hist)
			read_history(hist);
		note(c, "cynork shell: type a command ('help' lists them), Tab completes, 'exit' ends");
	}
	for (;;) {
		cynork_interrupted = 0;
		if (tty) {
			free(prompt);
			prompt = make_prompt(&sess);
			line = readline(prompt);
			if (!line && cynork_interrupted) {
				fputc('\n', stdout);
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
		rc = run_line(&sess, tok, line, &quit, rc);
		free(line);
		if (quit)
			break;
		if (sess.token != old_token) {
			free((char *)sess.user);
			sess.user = whoami(&sess);
			old_token = sess.token;
		}
	}
out:
	free(prompt);
	free(hist);
	free((char *)sess.user);
	tok_end(tok);
	json_decref(comp_cands);
	comp_cands = NULL;
	shell_sess = NULL;
	ctx_release(&sess);
	return rc;
}

static const struct opt shell_opts[] = {
	{ "command", 'c', OPT_STR, "LINE", "run this one command line and exit with its code" },
	{ NULL }
};

const struct cmd cmd_shell = { "shell", NULL, "interactive shell with completion and history",
	NULL, shell_opts, 0, 0, CMD_NO_SHELL, NULL, shell_exec,
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
	"standard input is not a terminal, lines are read without prompt or editing." };
