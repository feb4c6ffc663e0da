/*
 * lineedit.c: libedit line editing shared by `cynork shell` and `cynork
 * chat` (prompt, Ctrl-C handling, completion glue, sh-like splitting of a
 * line into words, setting the in-memory history aside).
 */
#ifndef CYNORK_LINEEDIT_H
#define CYNORK_LINEEDIT_H

#include <jansson.h>
#include <stddef.h>

#include "cynork.h"

enum le_event {
	LE_LINE,       /* a line was entered */
	LE_EOF,        /* Ctrl-D at an empty line, or end of input */
	LE_INTR_EMPTY, /* Ctrl-C at an empty line */
	LE_INTR_LINE,  /* Ctrl-C with text typed: the text is dropped */
};

/*
 * A session's completion: fills cands (a JSON array of "word" or
 * "word<TAB>description" strings) for the line up to the cursor; returns
 * COMP_FILES to have file names completed instead.
 */
typedef enum comp_dir (*le_complete_fn)(void *arg, const char *upto, json_t *cands);

struct le_saved {
	le_complete_fn fn;
	void *arg;
};

/*
 * Starts a session's line editing (initialising libedit and the SIGINT
 * handler once per process); le_end() puts the previous session's
 * completion back.
 */
void le_begin(le_complete_fn fn, void *arg, struct le_saved *saved);
void le_end(const struct le_saved *saved);
/* Reads one line with the prompt; NULL with *ev saying why.  Caller frees. */
char *le_readline(const char *prompt, enum le_event *ev);
/* SIGINT sets cynork_interrupted (no SA_RESTART). */
void le_sigint_install(void);

/*
 * Splits a line into words like sh does (quotes, backslashes).  Returns 0
 * with a NULL-terminated argv (free with le_argv_free), or -1 for an
 * unterminated quote.
 */
int le_split(const char *line, int *argc, char ***argv);
void le_argv_free(int argc, char **argv);
/*
 * The words of a line up to the cursor for completion: the last one is the
 * partial word ("" after a space).  -1 (and no words) for an open quote.
 */
int le_words(const char *upto, int *n, char ***words);

/* The in-memory history, set aside while another session edits lines. */
struct le_hist {
	char **lines;
	size_t n;
};
void le_hist_stash(struct le_hist *h);
void le_hist_restore(struct le_hist *h);

#endif
