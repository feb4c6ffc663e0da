/*
 * cynork chat: declarations shared by the command (cmd-chat.c), its slash
 * commands (chat-slash.c) and the reply printer (chat-out.c).
 */
#ifndef CYNORK_CHAT_H
#define CYNORK_CHAT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "buf.h"
#include "cynork.h"
#include "markdown.h"

/* How a reply reaches standard output. */
enum reply_mode {
	REPLY_RAW,      /* not a terminal: the bytes as they come */
	REPLY_PLAIN,    /* a terminal, --plain: text with controls made visible */
	REPLY_MARKDOWN, /* a terminal: rendered line by line */
};

/*
 * The reply printer.  Text is added as it arrives; in Markdown mode a line
 * is rendered once its newline came, and until then the partial line is
 * shown as plain text and redrawn (with redraw; without it, held).
 */
struct reply_out {
	enum reply_mode mode;
	bool redraw; /* the terminal can move the cursor up and clear */
	struct md md;
	struct cy_buf line; /* Markdown: the partial line; else held bytes (a cut UTF-8 char) */
	size_t shown;       /* bytes of line already shown raw */
	size_t cols;        /* display columns they take */
	bool ended_line;    /* the last byte written was a newline (or nothing was) */
};

void reply_begin(struct reply_out *o, enum reply_mode mode, bool color, bool ascii, bool redraw);
void reply_add(struct reply_out *o, const char *s, size_t n);
/* Prints what is pending and ends the last line. */
void reply_end(struct reply_out *o);
void reply_release(struct reply_out *o);

/* One chat session (one-shot or interactive). */
struct chat {
	struct ctx *c;
	char *model;         /* sent as "model"; NULL: the gateway's default */
	char *answered_by;   /* the model named by the last reply */
	const char *project; /* OpenAI-Project header, or NULL */
	json_t *messages;    /* the conversation so far */
	json_t *system;      /* the skill in use as a system message, or NULL */
	char *skill;         /* its name */
	bool stream;
	enum reply_mode mode;
	bool color, ascii, redraw;
	bool interactive;
	bool quit;
};

/*
 * Sends the conversation plus the user message text and prints the reply.
 * On success both messages join the conversation.  Returns EXIT_OK or an
 * exit code (the error already printed).
 */
int chat_turn(struct chat *ch, const char *text);
/* Uses the caller's skill ref (name or id) as the system prompt from now on; 0 or an exit code. */
int chat_skill_use(struct chat *ch, const char *ref);

/* chat-slash.c */
/* Runs a line starting with "/" (a slash command); errors are printed, never fatal. */
void slash_run(struct chat *ch, const char *line);
/* Runs "!CMD" with sh -c; prints the exit status when it is not 0. */
void bang_run(const char *line);
/* Tab completion in a chat session (le_complete_fn). */
enum comp_dir slash_complete(void *arg, const char *upto, json_t *cands);
/* The slash commands and their help, for /help and the man page. */
struct slash_cmd {
	const char *name; /* "/model" */
	const char *args; /* "[ID]", or NULL */
	const char *help;
	void (*fn)(struct chat *ch, int argc, char **argv);
};
extern const struct slash_cmd slash_table[];
void slash_help(FILE *out);
void slash_man(FILE *out);

#endif
