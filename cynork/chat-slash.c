/*
 * The commands of an interactive chat session: slash commands (names are
 * case-insensitive) and !CMD shell escapes.  The session's own commands
 * are rows of slash_table; every other /WORD that names a cynork command
 * (/status, /whoami, /task ..., /nodes ...) runs through the dispatcher
 * with the session's configuration, exactly as a line of `cynork shell`.
 * A failing command prints its error and the session goes on.  The same
 * table drives /help, Tab completion and the SLASH COMMANDS section of
 * cynork-chat(1).
 */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "chat.h"
#include "json.h"
#include "lineedit.h"
#include "banned.h"

static void
sl_help(struct chat *ch, int argc, char **argv)
{
	if (argc > 1) {
		/* "/help task": the CLI's help for a command. */
		cmd_run(ch->c, argc, argv);
		return;
	}
	slash_help(stdout);
}

static void
sl_exit(struct chat *ch, int argc, char **argv)
{
	ch->quit = true;
}

static void
sl_clear(struct chat *ch, int argc, char **argv)
{
	json_array_clear(ch->messages);
	printf("conversation cleared: the next message starts a new one\n");
}

/* The sorted model ids from the gateway, or NULL (error printed). */
static json_t *
model_ids(struct chat *ch, json_t **res)
{
	json_t *r, *ids;

	if (models_get(ch->c, 0, &r) != 0)
		return NULL;
	ids = models_ids(r);
	if (res)
		*res = r;
	else
		json_decref(r);
	return ids;
}

static bool
ids_have(const json_t *ids, const char *id)
{
	json_t *v;
	size_t i;

	json_array_foreach(ids, i, v)
		if (strcmp(json_string_value(v), id) == 0)
			return true;
	return false;
}

static void
sl_models(struct chat *ch, int argc, char **argv)
{
	json_t *res = NULL, *ids, *data, *e, *v;
	const char *cur = ch->model ? ch->model : ch->answered_by;
	size_t i, k, width = 8;

	if (!(ids = model_ids(ch, &res)))
		return;
	data = json_object_get(res, "data");
	json_array_foreach(ids, i, v)
		if (strlen(json_string_value(v)) > width)
			width = strlen(json_string_value(v));
	json_array_foreach(ids, i, v) {
		const char *id = json_string_value(v);
		json_t *nodes = NULL;

		json_array_foreach(data, k, e)
			if (cy_json_str(e, "id") && strcmp(cy_json_str(e, "id"), id) == 0)
				nodes = json_object_get(e, "nodes");
		printf("%c %-*s", cur && strcmp(cur, id) == 0 ? '*' : ' ', (int)width, id);
		if (json_is_integer(nodes))
			printf("  %lld node%s", (long long)json_integer_value(nodes),
			    json_integer_value(nodes) == 1 ? "" : "s");
		putchar('\n');
	}
	if (json_array_size(ids) == 0)
		printf("no models: no node serves one yet\n");
	json_decref(ids);
	json_decref(res);
}

static void
sl_model(struct chat *ch, int argc, char **argv)
{
	struct cy_buf list = CY_BUF_INIT;
	json_t *ids, *v;
	size_t i;

	if (argc < 2) {
		if (ch->model)
			printf("model: %s\n", ch->model);
		else if (ch->answered_by)
			printf("model: the gateway's default (the last reply came from %s)\n",
			    ch->answered_by);
		else
			printf("model: the gateway's default\n");
		return;
	}
	if (argc > 2) {
		fail(EXIT_USAGE, "/model takes one model id");
		return;
	}
	if (!(ids = model_ids(ch, NULL)))
		return;
	if (ids_have(ids, argv[1])) {
		free(ch->model);
		ch->model = xstrdup(argv[1]);
		printf("model: %s\n", ch->model);
	} else if (strcmp(argv[1], "default") == 0) {
		free(ch->model);
		ch->model = NULL;
		printf("model: the gateway's default\n");
	} else {
		json_array_foreach(ids, i, v)
			cy_buf_addf(&list, "%s%s", i ? ", " : "", json_string_value(v));
		fail(EXIT_NOT_FOUND, "unknown model '%s'; the models are: %s", argv[1],
		    list.len ? list.buf : "(none)");
	}
	cy_buf_release(&list);
	json_decref(ids);
}

/* /skills: your skills (skills list); /skills WORD ...: that skills command. */
static void
sl_skills(struct chat *ch, int argc, char **argv)
{
	char word[] = "list";
	char *list[] = { argv[0], word, NULL };

	if (argc < 2)
		cmd_run(ch->c, 2, list);
	else
		cmd_run(ch->c, argc, argv);
}

/* /skill: the skill in use; /skill NAME: use it from now on; /skill off: none. */
static void
sl_skill(struct chat *ch, int argc, char **argv)
{
	if (argc < 2) {
		printf("%s\n", ch->skill ? ch->skill : "no skill in use (/skill NAME uses one)");
		return;
	}
	if (!strcmp(argv[1], "off")) {
		json_decref(ch->system);
		ch->system = NULL;
		free(ch->skill);
		ch->skill = NULL;
		printf("no skill from now on\n");
		return;
	}
	if (chat_skill_use(ch, argv[1]) == 0)
		printf("skill %s: the model gets it as its system prompt from now on\n", ch->skill);
}

/* fn NULL: the cynork command of the same name, through the dispatcher. */
/* clang-format off */
const struct slash_cmd slash_table[] = {
	{ .name = "/help", .args = "[COMMAND]",
	  .help = "list these commands; /help COMMAND shows a cynork command's help",
	  .fn = sl_help },
	{ .name = "/exit",
	  .help = "end the session (so do /quit and Ctrl-D, or Ctrl-C at an empty prompt)",
	  .fn = sl_exit },
	{ .name = "/quit", .help = "end the session", .fn = sl_exit },
	{ .name = "/clear", .help = "forget the conversation: the next message starts a new one",
	  .fn = sl_clear },
	{ .name = "/model", .args = "[ID]",
	  .help = "show the model, or ask model ID (default: the gateway's) from now on",
	  .fn = sl_model },
	{ .name = "/models", .help = "list the models, the one in use marked *", .fn = sl_models },
	{ .name = "/version", .help = "print cynork's version" },
	{ .name = "/status", .help = "check that the gateway is healthy" },
	{ .name = "/whoami", .help = "show who is logged in" },
	{ .name = "/task", .args = "...",
	  .help = "the task commands (/task list, /task get TASK, /task create and the others)" },
	{ .name = "/skill", .args = "[NAME|off]",
	  .help = "show the skill in use, use your skill NAME as the system prompt, or stop (off)",
	  .fn = sl_skill },
	{ .name = "/skills", .args = "[...]",
	  .help = "list your skills; /skills get ID and the other skills commands",
	  .fn = sl_skills },
	{ .name = "/nodes", .args = "...",
	  .help = "the node commands (/nodes list, /nodes get NODE and the others)" },
	{ NULL }
};
/* clang-format on */

/* A top-level cynork command a slash may run (not hidden, shell, help, completion or chat). */
static bool
dispatchable(const struct cmd *e)
{
	return !(e->flags & (CMD_HIDDEN | CMD_NO_SHELL | CMD_NO_CONFIG)) &&
	       strcmp(e->path, "chat") != 0 && !strchr(e->path, ' ');
}

static const struct slash_cmd *
slash_find(const char *name)
{
	size_t i;

	for (i = 0; slash_table[i].name; i++)
		if (strcmp(slash_table[i].name + 1, name) == 0)
			return &slash_table[i];
	return NULL;
}

void
slash_help(FILE *out)
{
	struct cy_buf more = CY_BUF_INIT;
	size_t i;

	fprintf(out, "chat commands (names in any case):\n");
	for (i = 0; slash_table[i].name; i++) {
		char left[40];

		xsnprintf(left, sizeof(left), "%s%s%s", slash_table[i].name,
		    slash_table[i].args ? " " : "", slash_table[i].args ? slash_table[i].args : "");
		fprintf(out, "  %-16s %s\n", left, slash_table[i].help);
	}
	fprintf(out, "  %-16s %s\n", "!COMMAND", "run COMMAND with sh -c, its output inline");
	for (i = 0; i < cmd_table_len; i++)
		if (dispatchable(cmd_table[i]) && !slash_find(cmd_table[i]->path))
			cy_buf_addf(&more, "%s/%s", more.len ? ", " : "", cmd_table[i]->path);
	if (more.len)
		fprintf(out, "and every other cynork command the same way: %s\n", more.buf);
	fprintf(out, "anything else is a message to the model.\n");
	cy_buf_release(&more);
}

/* The SLASH COMMANDS section of cynork-chat(1), from the same table as /help. */
void
slash_man(FILE *out)
{
	size_t i, k = 0;

	fputs(".SH SLASH COMMANDS\n"
	      "In a session, a line starting with\n.B /\nis a command, never sent to the model;\n"
	      "its name may be typed in any case.\n"
	      "A command that fails prints its error and the session goes on.\n"
	      "An unknown one prints\n.IR \"unknown command '/x': /help lists them\" .\n",
	    out);
	for (i = 0; slash_table[i].name; i++) {
		fputs(".TP\n.B \"", out);
		man_roff(out, slash_table[i].name);
		if (slash_table[i].args) {
			fputc(' ', out);
			man_roff(out, slash_table[i].args);
		}
		fputs("\"\n", out);
		man_roff(out, slash_table[i].help);
		fputs(".\n", out);
	}
	fputs(".TP\n.BI ! COMMAND\n"
	      "runs\n.I COMMAND\nwith\n.BR \"sh \\-c\" ,\n"
	      "its output inline; a status other than 0 is shown as\n.RI ( \"exit N\" ).\n"
	      "A line holding only \\fB!\\fR\\& prints a usage hint.\n.PP\n"
	      "Every other command of\n.BR cynork (1)\nruns the same way, through the same\n"
	      "dispatcher as a line of\n.BR \"cynork shell\" :\n",
	    out);
	for (i = 0; i < cmd_table_len; i++)
		if (dispatchable(cmd_table[i]) && !slash_find(cmd_table[i]->path))
			k = i + 1;
	for (i = 0; i < cmd_table_len; i++)
		if (dispatchable(cmd_table[i]) && !slash_find(cmd_table[i]->path)) {
			fputs(".BR /", out);
			man_roff(out, cmd_table[i]->path);
			fputs(i + 1 == k ? " .\n" : " ,\n", out);
		}
	fputs("Tab completes the command names, their words as in the shell, and the model\n"
	      "ids after\n.BR /model .\n",
	    out);
}

void
slash_run(struct chat *ch, const char *line)
{
	const struct slash_cmd *sc;
	const struct cmd *cmd;
	char **argv, *p;
	int argc;

	if (le_split(line + 1, &argc, &argv) != 0) {
		fail(EXIT_USAGE, "unterminated quote in the line");
		return;
	}
	if (argc == 0) {
		fail(EXIT_USAGE, "unknown command '/': /help lists them");
		le_argv_free(argc, argv);
		return;
	}
	for (p = argv[0]; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	sc = slash_find(argv[0]);
	cmd = cmd_find_child("", argv[0]);
	if (sc && sc->fn)
		sc->fn(ch, argc, argv);
	else if (cmd && dispatchable(cmd))
		cmd_run(ch->c, argc, argv);
	else if (cmd && strcmp(cmd->path, "chat") == 0)
		fail(EXIT_USAGE, "this is a chat already");
	else
		fail(EXIT_USAGE, "unknown command '/%s': /help lists them", argv[0]);
	fflush(stdout);
	le_argv_free(argc, argv);
}

void
bang_run(const char *line)
{
	const char *cmd = line + 1 + strspn(line + 1, " \t");
	int status;
	pid_t pid;

	if (!*cmd) {
		fprintf(stderr, "usage: !COMMAND runs COMMAND with sh -c (for example: !ls -l)\n");
		return;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		/* cynork ignores SIGPIPE; the command must not. */
		signal(SIGPIPE, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	if (pid < 0) {
		fail(EXIT_INTERNAL, "cannot run '%s': %s", cmd, strerror(errno));
		return;
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			fail(EXIT_INTERNAL, "cannot wait for '%s': %s", cmd, strerror(errno));
			return;
		}
	cynork_interrupted = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		fprintf(stderr, "(exit %d)\n", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		fprintf(stderr, "(killed by signal %d)\n", WTERMSIG(status));
}

static void
add(json_t *cands, const char *cur, const char *word, const char *desc)
{
	char *s;

	if (strncmp(word, cur, strlen(cur)) != 0)
		return;
	s = desc ? xasprintf("%s\t%s", word, desc) : xstrdup(word);
	json_array_append_new(cands, json_string(s));
	free(s);
}

enum comp_dir
slash_complete(void *arg, const char *upto, json_t *cands)
{
	struct chat *ch = arg;
	const char *s = upto + strspn(upto, " \t");
	enum comp_dir dir = COMP_DEFAULT;
	const struct cmd *cmd;
	char **words, *cur;
	size_t i;
	int n;

	if (*s == '!')
		return strpbrk(s, " \t") ? COMP_FILES : COMP_DEFAULT;
	if (*s != '/')
		return COMP_DEFAULT;
	if (le_words(s + 1, &n, &words) != 0) {
		le_argv_free(n, words);
		return COMP_DEFAULT;
	}
	if (n == 1) {
		cur = xasprintf("/%s", words[0]);
		for (i = 0; slash_table[i].name; i++)
			add(cands, cur, slash_table[i].name, slash_table[i].help);
		for (i = 0; i < cmd_table_len; i++) {
			char *w = xasprintf("/%s", cmd_table[i]->path);

			if (dispatchable(cmd_table[i]) && !slash_find(cmd_table[i]->path))
				add(cands, cur, w, cmd_table[i]->summary);
			free(w);
		}
		free(cur);
	} else if (strcasecmp(words[0], "model") == 0) {
		if (n == 2)
			complete_models(ch->c, words[1], cands);
	} else if ((cmd = cmd_find_child("", words[0])) != NULL && dispatchable(cmd)) {
		dir = complete_words(ch->c, n, words, true, cands);
	}
	le_argv_free(n, words);
	return dir;
}
