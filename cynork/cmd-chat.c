/*
 * cynork chat: talk to the fleet's models through the gateway's
 * OpenAI-compatible POST /v1/chat/completions (spec/cli.md section 1.3).
 *
 * One-shot with -m TEXT, or with the whole of standard input when it is
 * not a terminal: one request, the reply on standard output.  Otherwise an
 * interactive session: libedit line editing (lineedit.c, shared with the
 * shell), the conversation kept in memory and sent with every turn, slash
 * commands and !CMD (chat-slash.c), and no line ever written to a history
 * file.  Replies are streamed (server-sent events parsed with lib/sse.h as
 * lib/httpc hands the bytes over) and printed as they arrive, rendered as
 * Markdown on a terminal (chat-out.c, markdown.c).
 */
#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <editline/readline.h>

#include "alloc.h"
#include "chat.h"
#include "id.h"
#include "json.h"
#include "lineedit.h"
#include "sse.h"
#include "banned.h"

#define INPUT_MAX (1024 * 1024)            /* one message */
#define EVENT_MAX (1024 * 1024)            /* one server-sent event */
#define BODY_MAX (16 * 1024 * 1024)        /* a whole reply */
#define REPLY_TIMEOUT_MS (10L * 60 * 1000) /* a reply not streamed */
#define STREAM_IDLE_S 300                  /* a streamed reply that stays silent */

/* The message read from standard input by chat_check (before the login check). */
static struct cy_buf stdin_msg = CY_BUF_INIT;
static bool stdin_read;

/* A message must be non-blank UTF-8 without NUL bytes (JSON carries it). */
static int
text_check(const char *what, const char *s, size_t n)
{
	if (memchr(s, '\0', n))
		return fail(EXIT_USAGE, "%s contains a NUL byte", what);
	if (!cy_utf8_valid(s, n))
		return fail(EXIT_USAGE, "%s is not valid UTF-8", what);
	if (s[strspn(s, " \t\r\n")] == '\0')
		return fail(EXIT_USAGE, "%s is empty", what);
	return 0;
}

static int
chat_check(const struct parsed *p)
{
	const char *m = opt_get(p, "message");

	stdin_read = false;
	if (opt_get(p, "project-id") && !cy_uuid_valid(opt_get(p, "project-id")))
		return fail(EXIT_USAGE, "invalid value '%s' for --project-id: want a UUID",
		    opt_get(p, "project-id"));
	if (m)
		return text_check("the message (-m)", m, strlen(m));
	if (isatty(STDIN_FILENO))
		return 0;
	cy_buf_reset(&stdin_msg);
	if (cy_buf_read_fd(&stdin_msg, STDIN_FILENO, INPUT_MAX) < 0)
		return errno == EFBIG ?
			   fail(EXIT_USAGE,
			       "standard input holds more than %d bytes; a message is at most that",
			       INPUT_MAX) :
			   fail(EXIT_USAGE, "cannot read standard input: %s", strerror(errno));
	stdin_read = true;
	while (stdin_msg.len && (stdin_msg.buf[stdin_msg.len - 1] == '\n' ||
				    stdin_msg.buf[stdin_msg.len - 1] == '\r'))
		cy_buf_setlen(&stdin_msg, stdin_msg.len - 1);
	return text_check("the message on standard input", stdin_msg.buf, stdin_msg.len);
}

/* The state of one streamed reply. */
struct stream {
	struct chat *ch;
	struct api_stream as;
	struct reply_out out;
	struct cy_sse sse;
	struct cy_buf text; /* the reply so far */
	struct cy_buf body; /* the whole body, when it came as JSON after all */
	bool decided, is_sse, done, malformed;
	char *error;  /* an error event's message */
	char *finish; /* finish_reason */
};

static void
note_model(struct chat *ch, const json_t *o)
{
	const char *m = cy_json_str(o, "model");

	if (m && *m && (!ch->answered_by || strcmp(ch->answered_by, m) != 0)) {
		free(ch->answered_by);
		ch->answered_by = xstrdup(m);
	}
}

/* One event of the stream: a chunk, an error, or [DONE]. */
static int
on_event(void *arg, const char *event, const char *data, size_t len)
{
	struct stream *st = arg;
	json_t *j, *choice, *content, *err;
	const char *fr;

	/* Chunks come as unnamed events; other names (a ping, say) are not ours. */
	if (st->done || (strcmp(event, "message") != 0 && strcmp(event, "error") != 0))
		return 0;
	if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
		st->done = true;
		return 0;
	}
	j = json_loadb(data, len, 0, NULL);
	if (!json_is_object(j) && strcmp(event, "error") == 0) {
		/* An error event with a plain-text message. */
		json_decref(j);
		st->error = xstrndup(data, len < 200 ? len : 200);
		return 1;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		st->malformed = true;
		return 1;
	}
	if ((err = json_object_get(j, "error")) != NULL || strcmp(event, "error") == 0) {
		const char *m = json_is_object(err) ? cy_json_str(err, "message") :
				err                 ? json_string_value(err) :
						      cy_json_str(j, "message");

		st->error = xstrdup(m && *m ? m : "an error event");
		json_decref(j);
		return 1;
	}
	note_model(st->ch, j);
	choice = json_array_get(json_object_get(j, "choices"), 0);
	content = json_object_get(json_object_get(choice, "delta"), "content");
	if (json_is_string(content)) {
		reply_add(&st->out, json_string_value(content), json_string_length(content));
		cy_buf_add(&st->text, json_string_value(content), json_string_length(content));
	}
	if ((fr = cy_json_str(choice, "finish_reason")) != NULL) {
		free(st->finish);
		st->finish = xstrdup(fr);
	}
	json_decref(j);
	return 0;
}

static int
on_data(void *arg, const char *data, size_t len)
{
	struct stream *st = arg;

	if (!st->decided) {
		st->decided = true;
		st->is_sse = strncmp(st->as.content_type, "text/event-stream", 17) == 0;
	}
	if (!st->is_sse) {
		if (len > BODY_MAX - st->body.len) {
			st->error = xasprintf("a reply of more than %d bytes", BODY_MAX);
			return -1;
		}
		cy_buf_add(&st->body, data, len);
		return 0;
	}
	if (cy_sse_feed(&st->sse, data, len) != 0) {
		if (!st->error)
			st->malformed = true;
		return -1;
	}
	return 0;
}

/* A whole completion object: prints its reply text into st (not streamed). */
static int
print_completion(struct chat *ch, json_t *res, struct stream *st)
{
	json_t *choice = json_array_get(json_object_get(res, "choices"), 0);
	json_t *content = json_object_get(json_object_get(choice, "message"), "content");
	const char *fr = cy_json_str(choice, "finish_reason");

	if (!json_is_string(content) && !json_is_null(content))
		return fail(EXIT_PROTOCOL,
		    "malformed response from the gateway: no choices[0].message.content");
	note_model(ch, res);
	if (json_is_string(content)) {
		reply_add(&st->out, json_string_value(content), json_string_length(content));
		cy_buf_add(&st->text, json_string_value(content), json_string_length(content));
	}
	if (fr) {
		free(st->finish);
		st->finish = xstrdup(fr);
	}
	return 0;
}

/* The streamed request: 0, or the exit code with the error printed. */
static int
turn_stream(struct chat *ch, json_t *req, struct stream *st)
{
	json_t *res;
	int rc;

	st->as.fn = on_data;
	st->as.arg = st;
	st->as.idle_timeout_s = STREAM_IDLE_S;
	st->as.abort_flag = &cynork_interrupted;
	rc = api_stream(ch->c, "POST", "/v1/chat/completions", req, &st->as);
	if (rc > 0)
		return rc;
	if (rc < 0) {
		reply_end(&st->out);
		if (st->as.err.code == EINTR && ch->interactive) {
			fprintf(stderr,
			    "cynork: reply canceled; it is not kept in the conversation\n");
			return EXIT_INTERRUPTED;
		}
		if (st->as.err.code == EINTR)
			return fail(EXIT_INTERRUPTED, "interrupted");
		if (st->error)
			return fail(EXIT_GATEWAY, "the reply was cut off: %s%s%s",
			    st->decided && !st->is_sse ? "" : "the gateway reported '", st->error,
			    st->decided && !st->is_sse ? "" : "'");
		if (st->malformed)
			return fail(EXIT_GATEWAY,
			    "the reply was cut off: a malformed event in the stream");
		if (st->as.started)
			return fail(EXIT_GATEWAY, "the reply was cut off: %s", st->as.err.msg);
		return api_transport_fail(ch->c, &st->as.err);
	}
	if (st->decided && !st->is_sse) {
		/* The gateway answered with one JSON object after all. */
		res = cy_json_parse(st->body.buf, st->body.len, true, NULL);
		rc = res ? print_completion(ch, res, st) :
			   fail(EXIT_PROTOCOL, "malformed response from the gateway (%s)",
			       st->as.content_type[0] ? st->as.content_type : "no content type");
		json_decref(res);
		reply_end(&st->out);
		return rc;
	}
	reply_end(&st->out);
	if (!st->done)
		return fail(EXIT_GATEWAY,
		    "the reply was cut off: the stream ended before its end mark ([DONE])");
	return 0;
}

/* The request not streamed (--no-stream, -o json). */
static int
turn_whole(struct chat *ch, json_t *req, const char *const *hdrs, struct stream *st)
{
	json_t *res = NULL;
	int rc;

	rc = api_call_h(ch->c, "POST", "/v1/chat/completions", req, true, hdrs, REPLY_TIMEOUT_MS,
	    &res, &st->as.status);
	if (rc == 0 && !json_is_object(res))
		rc = fail(EXIT_PROTOCOL,
		    "malformed response from the gateway: not a completion object");
	if (rc == 0 && out_json(ch->c)) {
		note_model(ch, res);
		print_json(json_incref(res));
	} else if (rc == 0) {
		rc = print_completion(ch, res, st);
		reply_end(&st->out);
	}
	json_decref(res);
	return rc;
}

int
chat_skill_use(struct chat *ch, const char *ref)
{
	json_t *res = NULL, *s, *found = NULL;
	char *path;
	size_t i;
	int rc;

	if (!ref || !*ref || strlen(ref) > 128)
		return fail(EXIT_USAGE, "a skill's name or id, please ('cynork skills list')");
	if (cy_uuid_valid(ref)) {
		path = xasprintf("/v1/skills/%s", ref);
		rc = api_call(ch->c, "GET", path, NULL, true, &found);
		free(path);
		if (rc)
			return rc;
	} else {
		/* By name: the first page of the list holds at most 200; ask for the rest by id. */
		rc = api_call(ch->c, "GET", "/v1/skills?limit=200", NULL, true, &res);
		if (rc)
			return rc;
		json_array_foreach(json_object_get(res, "skills"), i, s) {
			if (cy_json_str(s, "name") && !strcmp(cy_json_str(s, "name"), ref)) {
				path = xasprintf("/v1/skills/%s", cy_json_str(s, "skill_id"));
				rc = api_call(ch->c, "GET", path, NULL, true, &found);
				free(path);
				break;
			}
		}
		json_decref(res);
		if (rc)
			return rc;
		if (!found)
			return fail(EXIT_NOT_FOUND,
			    "you have no skill named '%s' ('cynork skills list' shows yours)", ref);
	}
	if (!cy_json_str(found, "content_md")) {
		json_decref(found);
		return fail(EXIT_GATEWAY, "malformed response: the skill has no content_md");
	}
	json_decref(ch->system);
	ch->system =
	    json_pack("{s:s, s:s}", "role", "system", "content", cy_json_str(found, "content_md"));
	free(ch->skill);
	ch->skill = xstrdup(cy_json_str(found, "name") ? cy_json_str(found, "name") : ref);
	json_decref(found);
	return 0;
}

int
chat_turn(struct chat *ch, const char *text)
{
	struct stream st;
	const char *hdrs[3] = { NULL, NULL, NULL };
	char *project = NULL;
	json_t *req;
	size_t n = 0;
	int rc;

	memset(&st, 0, sizeof(st));
	st.ch = ch;
	cy_buf_init(&st.text, 0);
	cy_buf_init(&st.body, 0);
	cy_sse_init(&st.sse, EVENT_MAX, on_event, &st);
	reply_begin(&st.out, ch->mode, ch->color, ch->ascii, ch->redraw);
	json_array_append_new(ch->messages,
	    json_pack("{s:s, s:s}", "role", "user", "content", text));
	/* The skill in use goes first, never into the kept conversation (a copy). */
	req = json_pack("{s:o, s:b}", "messages", json_copy(ch->messages), "stream", ch->stream);
	if (ch->system)
		json_array_insert(json_object_get(req, "messages"), 0, ch->system);
	if (ch->model)
		json_object_set_new(req, "model", json_string(ch->model));
	hdrs[n++] = ch->stream ? "Accept: text/event-stream" : "Accept: application/json";
	if (ch->project)
		hdrs[n++] = project = xasprintf("OpenAI-Project: %s", ch->project);
	st.as.headers = hdrs;
	cynork_interrupted = 0;
	rc = ch->stream ? turn_stream(ch, req, &st) : turn_whole(ch, req, hdrs, &st);
	if (rc == EXIT_VALIDATION && st.as.status == 413 && ch->interactive)
		note(ch->c,
		    "cynork: the conversation is too large for the gateway; /clear starts a new one");
	if (rc == 0 && st.finish && strcmp(st.finish, "length") == 0)
		note(ch->c, "cynork: the reply stopped at the model's token limit");
	if (rc == 0) {
		json_array_append_new(ch->messages, json_pack("{s:s, s:s%}", "role", "assistant",
							"content", st.text.buf, st.text.len));
	} else {
		/* A turn without its whole reply is not part of the conversation. */
		json_array_remove(ch->messages, json_array_size(ch->messages) - 1);
	}
	cynork_interrupted = 0;
	json_decref(req);
	free(project);
	free(st.error);
	free(st.finish);
	cy_sse_release(&st.sse);
	cy_buf_release(&st.text);
	cy_buf_release(&st.body);
	reply_release(&st.out);
	return rc;
}

/* The prompt: "chat MODEL> " (the gateway's choice until a reply names it). */
static char *
chat_prompt(const struct chat *ch)
{
	return xasprintf("chat %s> ", ch->model       ? ch->model :
				      ch->answered_by ? ch->answered_by :
							"default");
}

static int
chat_interactive(struct chat *ch)
{
	struct le_saved saved;
	struct le_hist hist;
	enum le_event ev;
	char *line, *prompt;
	const char *s;

	ch->interactive = true;
	/* Slash commands run through the dispatcher as shell lines do. */
	ch->c->in_shell = true;
	/* The shell's history (when started from it) is set aside, then put back. */
	le_hist_stash(&hist);
	le_begin(slash_complete, ch, &saved);
	note(ch->c,
	    "cynork chat with %s: type a message; /help lists the commands, !CMD runs a shell command, /exit or Ctrl-D ends",
	    ch->model ? ch->model : "the gateway's default model");
	while (!ch->quit) {
		prompt = chat_prompt(ch);
		line = le_readline(prompt, &ev);
		free(prompt);
		if (!line) {
			fputc('\n', stderr);
			if (ev == LE_INTR_LINE)
				continue;
			break;
		}
		s = line + strspn(line, " \t");
		if (*s) {
			/* In memory only (Up recalls it); never written to a file. */
			add_history(line);
			if (*s == '/')
				slash_run(ch, s);
			else if (*s == '!')
				bang_run(s);
			else if (text_check("the message", line, strlen(line)) == 0)
				chat_turn(ch, line);
		}
		free(line);
	}
	le_end(&saved);
	le_hist_restore(&hist);
	return 0;
}

/* True when the locale's character set is UTF-8 (glyphs for bullets and rules). */
static bool
locale_utf8(void)
{
	const char *cs = nl_langinfo(CODESET);

	return cs && (strcasecmp(cs, "UTF-8") == 0 || strcasecmp(cs, "utf8") == 0);
}

static int
chat_exec(struct ctx *c, const struct parsed *p)
{
	struct chat ch;
	const char *term = getenv("TERM");
	bool tty_out = isatty(STDOUT_FILENO);
	bool dumb = !term || !*term || strcmp(term, "dumb") == 0;
	int rc;

	memset(&ch, 0, sizeof(ch));
	ch.c = c;
	ch.model = opt_get(p, "model") ? xstrdup(opt_get(p, "model")) : NULL;
	ch.project = opt_get(p, "project-id");
	ch.stream = !opt_set(p, "no-stream") && !out_json(c);
	ch.messages = json_array();
	if (opt_get(p, "skill") && (rc = chat_skill_use(&ch, opt_get(p, "skill"))) != 0) {
		json_decref(ch.messages);
		free(ch.model);
		return rc;
	}
	if (tty_out)
		setlocale(LC_CTYPE, "");
	ch.ascii = !locale_utf8();
	ch.color = tty_out && !c->no_color && !dumb;
	ch.redraw = tty_out && !dumb;
	ch.mode = !tty_out ? REPLY_RAW : opt_set(p, "plain") ? REPLY_PLAIN : REPLY_MARKDOWN;
	if (opt_get(p, "message") || stdin_read) {
		if (!c->in_shell)
			le_sigint_install();
		rc = chat_turn(&ch, opt_get(p, "message") ? opt_get(p, "message") : stdin_msg.buf);
	} else if (out_json(c)) {
		rc = fail(EXIT_USAGE,
		    "-o json needs one message: -m TEXT or the message on standard input");
	} else {
		rc = chat_interactive(&ch);
	}
	cy_buf_release(&stdin_msg);
	stdin_read = false;
	json_decref(ch.messages);
	json_decref(ch.system);
	free(ch.skill);
	free(ch.model);
	free(ch.answered_by);
	return rc;
}

/* clang-format off */
static const struct opt chat_opts[] = {
	{ .name = "model", .kind = OPT_STR, .arg = "MODEL",
	  .help = "the model to ask (default: the gateway's default model)" },
	{ .name = "skill", .kind = OPT_STR, .arg = "NAME",
	  .help = "give the model your skill NAME (or id) as its system prompt (/skill changes it)" },
	{ .name = "message", .shrt = 'm', .kind = OPT_STR, .arg = "TEXT",
	  .help = "send this one message, print the reply and exit" },
	{ .name = "plain", .kind = OPT_BOOL,
	  .help = "print replies as plain text, without Markdown rendering" },
	{ .name = "no-stream", .kind = OPT_BOOL,
	  .help = "ask for the whole reply at once instead of streaming it" },
	{ .name = "project-id", .kind = OPT_STR, .arg = "ID",
	  .help = "send the project (a UUID) as the OpenAI-Project header" },
	{ NULL }
};
/* clang-format on */

const struct cmd cmd_chat = {
	.path = "chat",
	.summary = "chat with a model",
	.opts = chat_opts,
	.flags = CMD_NEEDS_AUTH | CMD_OWN_PAGE,
	.check = chat_check,
	.exec = chat_exec,
	.doc =
	    "Talks to a model through the gateway's OpenAI-compatible POST /v1/chat/completions. "
	    "With -m TEXT, or when standard input is not a terminal (its whole content, at most "
	    "1 MiB, is the message), chat sends one message, prints the reply on standard output "
	    "and exits; -o json prints the completion object instead. Otherwise it starts an "
	    "interactive session: the conversation is kept in memory and sent with every message, "
	    "so the model sees what was said before. See cynork-chat(1) for the slash commands, "
	    "Markdown rendering and exit status.",
};
