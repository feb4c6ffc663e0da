/*
 * Line editing shared by `cynork shell` and `cynork chat`: libedit through
 * its readline interface, initialised once per process.  While a line is
 * edited the terminal's ISIG is off and Ctrl-C is a key bound to
 * le_on_ctrl_c(), so the caller learns whether the line was empty (chat
 * ends on Ctrl-C at an empty prompt, the shell only drops the line); the
 * rest of the time Ctrl-C is SIGINT, which sets cynork_interrupted and so
 * stops the running request (lib/httpc's abort flag).
 *
 * Each session (shell, chat) sets its completion callback with le_begin()
 * and puts the previous one back with le_end(), so a chat started from the
 * shell leaves the shell as it found it.  The in-memory history can be set
 * aside and restored (le_hist_stash/le_hist_restore): chat lines never mix
 * with the shell's, which the shell writes to its history file.
 */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <editline/readline.h>
#include <histedit.h>

#include "alloc.h"
#include "cynork.h"
#include "lineedit.h"
#include "banned.h"

volatile sig_atomic_t cynork_interrupted;

static bool le_ready;
static le_complete_fn le_fn; /* the session's completion callback */
static void *le_arg;
static json_t *comp_cands; /* candidates of the current completion */
static size_t comp_next;
static enum le_event ctrl_c; /* set by le_on_ctrl_c during readline() */

/* SIGINT outside the prompt: no SA_RESTART, so a blocked read returns. */
static void
on_sigint(int sig)
{
	cynork_interrupted = 1;
}

void
le_sigint_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
}

/* Ctrl-C while editing: note whether the line was empty, end readline(). */
static int
le_on_ctrl_c(int count, int key)
{
	ctrl_c = rl_end > 0 ? LE_INTR_LINE : LE_INTR_EMPTY;
	rl_done = 1;
	return 0;
}

/*
 * Runs after readline() has reset the terminal settings and key bindings
 * to its defaults, before the first key is read: ISIG off, Ctrl-C ours.
 */
static int
le_pre_input(void)
{
	rl_parse_and_bind("setty -d -isig");
	rl_parse_and_bind("bind ^C cynork-ctrl-c");
	return 0;
}

static char *
comp_entry(const char *text, int state)
{
	const char *s;

	if (state == 0)
		comp_next = 0;
	while (comp_next < json_array_size(comp_cands)) {
		s = json_string_value(json_array_get(comp_cands, comp_next++));
		if (strncmp(s, text, strlen(text)) == 0)
			return xstrndup(s, strcspn(s, "\t"));
	}
	return NULL;
}

static char **
le_complete(const char *text, int start, int end)
{
	char *upto = xstrndup(rl_line_buffer, (size_t)rl_point);
	char **matches = NULL;
	enum comp_dir dir;

	rl_attempted_completion_over = 1;
	json_decref(comp_cands);
	comp_cands = json_array();
	dir = le_fn ? le_fn(le_arg, upto, comp_cands) : COMP_DEFAULT;
	if (dir == COMP_FILES) {
		rl_attempted_completion_over = 0;
		matches = rl_completion_matches(text, rl_filename_completion_function);
	} else if (json_array_size(comp_cands) > 0) {
		matches = rl_completion_matches(text, comp_entry);
	}
	free(upto);
	return matches;
}

void
le_begin(le_complete_fn fn, void *arg, struct le_saved *saved)
{
	saved->fn = le_fn;
	saved->arg = le_arg;
	le_fn = fn;
	le_arg = arg;
	if (le_ready)
		return;
	le_ready = true;
	rl_readline_name = "cynork";
	/* Prompts and editing go to stderr: stdout carries only data. */
	rl_outstream = stderr;
	rl_catch_signals = 0;
	rl_completer_word_break_characters = (char *)" \t\n";
	rl_attempted_completion_function = le_complete;
	rl_initialize();
	rl_add_defun("cynork-ctrl-c", le_on_ctrl_c, 3);
	rl_pre_input_hook = le_pre_input;
	le_sigint_install();
}

void
le_end(const struct le_saved *saved)
{
	le_fn = saved->fn;
	le_arg = saved->arg;
	json_decref(comp_cands);
	comp_cands = NULL;
}

char *
le_readline(const char *prompt, enum le_event *ev)
{
	char *line;

	ctrl_c = LE_LINE;
	cynork_interrupted = 0;
	line = readline(prompt);
	if (line) {
		*ev = LE_LINE;
		return line;
	}
	/* A SIGINT from elsewhere (kill -INT) while editing drops the line too. */
	*ev = ctrl_c != LE_LINE ? ctrl_c : cynork_interrupted ? LE_INTR_LINE : LE_EOF;
	cynork_interrupted = 0;
	return NULL;
}

int
le_split(const char *line, int *argc, char ***argv)
{
	Tokenizer *tok = tok_init(NULL);
	const char **av = NULL;
	int ac = 0, i, rc;

	rc = tok_str(tok, line, &ac, &av);
	*argc = 0;
	*argv = NULL;
	if (rc == 0) {
		*argv = xcalloc((size_t)ac + 1, sizeof(**argv));
		for (i = 0; i < ac; i++)
			(*argv)[i] = xstrdup(av[i]);
		*argc = ac;
	}
	tok_end(tok);
	return rc == 0 ? 0 : -1;
}

void
le_argv_free(int argc, char **argv)
{
	int i;

	for (i = 0; i < argc; i++)
		free(argv[i]);
	free(argv);
}

int
le_words(const char *upto, int *n, char ***words)
{
	size_t len = strlen(upto);

	if (le_split(upto, n, words) < 0) {
		/* An open quote: complete nothing rather than guess. */
		*words = xcalloc(2, sizeof(**words));
		*n = 0;
		return -1;
	}
	/* The partial word is empty when the cursor follows a space. */
	if (*n == 0 || (len > 0 && isspace((unsigned char)upto[len - 1]))) {
		*words = xreallocarray(*words, (size_t)*n + 2, sizeof(**words));
		(*words)[(*n)++] = xstrdup("");
		(*words)[*n] = NULL;
	}
	return 0;
}

void
le_hist_stash(struct le_hist *h)
{
	int i;

	h->n = 0;
	h->lines = NULL;
	if (!le_ready)
		return;
	h->lines = xcalloc((size_t)history_length + 1, sizeof(*h->lines));
	for (i = 0; i < history_length; i++) {
		HIST_ENTRY *e = history_get(history_base + i);

		if (e && e->line)
			h->lines[h->n++] = xstrdup(e->line);
	}
	clear_history();
}

void
le_hist_restore(struct le_hist *h)
{
	size_t i;

	if (le_ready) {
		clear_history();
		for (i = 0; i < h->n; i++)
			add_history(h->lines[i]);
	}
	for (i = 0; i < h->n; i++)
		free(h->lines[i]);
	free(h->lines);
	h->lines = NULL;
	h->n = 0;
}
