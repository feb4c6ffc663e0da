/*
 * agent.c: the model drives the job toward its goal.  It is offered three
 * tools (OpenAI function calling, which Ollama, llama.cpp and vLLM serve
 * on /v1/chat/completions): run_command, write_file and read_file, all
 * confined to the sandbox and its /workspace.  Each call is a step of the
 * result; the model's first answer without tool calls is the reply.  At
 * most max_steps tool calls (spec, default 8): a model that keeps calling
 * fails the job rather than running on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "json.h"
#include "runner.h"
#include "banned.h"

#define TOOL_ANSWER_MAX (16 * 1024)

static const char system_prompt[] =
    "You are an agent running a job inside a sandbox: no network, the working directory "
    "is /workspace, and files the user should get go under /workspace/out/. Use the tools "
    "to do the task. When it is done, answer with a short reply for the user and call no "
    "more tools.";

static json_t *
tools_json(void)
{
	json_error_t e;

	return json_loads(
	    "[{\"type\":\"function\",\"function\":{\"name\":\"run_command\","
	    "\"description\":\"Run a shell command (/bin/sh -c) in /workspace; returns its exit "
	    "code and output.\",\"parameters\":{\"type\":\"object\",\"properties\":{"
	    "\"command\":{\"type\":\"string\"}},\"required\":[\"command\"]}}},"
	    "{\"type\":\"function\",\"function\":{\"name\":\"write_file\","
	    "\"description\":\"Write a file under /workspace (path relative to it).\","
	    "\"parameters\":{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"},"
	    "\"content\":{\"type\":\"string\"}},\"required\":[\"path\",\"content\"]}}},"
	    "{\"type\":\"function\",\"function\":{\"name\":\"read_file\","
	    "\"description\":\"Read a file under /workspace (path relative to it).\","
	    "\"parameters\":{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"}},"
	    "\"required\":[\"path\"]}}}]",
	    0, &e);
}

/* The text the model gets back for a step: its outcome and (capped) output. */
static char *
tool_answer(const json_t *rec, const struct cy_buf *data)
{
	struct cy_buf b = CY_BUF_INIT;
	const char *out = data ? data->buf : cy_json_str(rec, "output");
	long long code;

	cy_buf_addf(&b, "status: %s", cy_json_str(rec, "status"));
	if (cy_json_int(rec, "exit_code", &code) == 0)
		cy_buf_addf(&b, "\nexit_code: %lld", code);
	if (cy_json_str(rec, "error"))
		cy_buf_addf(&b, "\nerror: %s", cy_json_str(rec, "error"));
	if (out && *out) {
		size_t n = strlen(out);

		cy_buf_addstr(&b, "\n");
		cy_buf_add(&b, out, n < TOOL_ANSWER_MAX ? n : TOOL_ANSWER_MAX);
	}
	return cy_buf_detach(&b, NULL);
}

/* A message {role, content}; content made valid UTF-8 (never a NULL to drop). */
static json_t *
message(const char *role, const char *content)
{
	json_t *m = json_pack("{s:s}", "role", role);

	json_object_set_new(m, "content", sba_json_text(content, strlen(content)));
	return m;
}

/* One tool call: its step's record appended; the answer for the model. */
static char *
tool_call(struct sba_run *r, const json_t *call)
{
	const char *name = cy_json_path_str(call, "function.name");
	const char *args_text = cy_json_path_str(call, "function.arguments");
	struct cy_error err = CY_ERROR_INIT;
	struct cy_buf data = CY_BUF_INIT;
	json_t *args = NULL, *rec;
	char *answer;

	if (args_text)
		args = cy_json_parse(args_text, strlen(args_text), true, &err);
	else if (json_is_object(cy_json_path(call, "function.arguments")))
		args = json_incref(cy_json_path(call, "function.arguments"));
	printf("==> step %d (agent): %s %s\n", r->nstep + 1, name ? name : "?",
	    args_text ? args_text : "");
	fflush(stdout);
	if (!args) {
		rec = json_pack("{s:s, s:s, s:s, s:s}", "type", name ? name : "unknown", "origin",
		    "agent", "status", "failed", "error", "arguments are not a JSON object");
		r->nstep++;
	} else if (name && !strcmp(name, "run_command") && cy_json_str(args, "command")) {
		const char *argv[] = { "/bin/sh", "-c", cy_json_str(args, "command"), NULL };

		rec = sba_step_run(r, "agent", argv, SBA_STEP_TIMEOUT_DEFAULT);
	} else if (name && !strcmp(name, "write_file") && cy_json_str(args, "content")) {
		const char *c = cy_json_str(args, "content");

		rec = sba_step_write(r, "agent", cy_json_str(args, "path"), c, strlen(c));
	} else if (name && !strcmp(name, "read_file")) {
		rec = sba_step_read(r, "agent", cy_json_str(args, "path"), &data);
	} else {
		rec = json_pack("{s:s, s:s, s:s, s:s}", "type", name ? name : "unknown", "origin",
		    "agent", "status", "failed", "error",
		    "no such tool, or its arguments are missing (run_command {command}, write_file "
		    "{path, content}, read_file {path})");
		r->nstep++;
	}
	json_object_set_new(rec, "id", json_sprintf("agent-%d", r->nstep));
	answer = tool_answer(rec, data.len ? &data : NULL);
	json_array_append_new(r->steps, rec);
	json_decref(args);
	cy_buf_release(&data);
	return answer;
}

int
sba_agent(struct sba_run *r, const char *goal, const char *context, char **reply,
    struct cy_buf *why)
{
	json_t *tools = tools_json(), *msgs = json_array(), *msg = NULL;
	long long max = CY_SBA_AGENT_STEPS_DEFAULT;
	int calls = 0, rc = -1;

	(void)cy_json_int(r->spec, "max_steps", &max);
	json_array_append_new(msgs,
	    json_pack("{s:s, s:s}", "role", "system", "content", system_prompt));
	if (cy_json_str(r->spec, "instructions"))
		json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "system", "content",
						cy_json_str(r->spec, "instructions")));
	if (context && *context)
		json_array_append_new(msgs, message("user", context));
	json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "user", "content", goal));
	for (;;) {
		json_t *tc, *call;
		size_t i;

		json_decref(msg);
		if (!(msg = sba_chat(r, msgs, tools, why)))
			break;
		tc = json_object_get(msg, "tool_calls");
		if (!json_array_size(tc)) {
			const char *c = cy_json_str(msg, "content");

			*reply = xstrdup(c ? c : "");
			rc = 0;
			break;
		}
		if (calls + (int)json_array_size(tc) > max) {
			cy_buf_addf(why,
			    "the model asked for more than max_steps (%lld) tool calls without "
			    "giving an answer",
			    max);
			break;
		}
		json_array_append(msgs, msg);
		json_array_foreach(tc, i, call) {
			char *answer = tool_call(r, call);
			const char *id = cy_json_str(call, "id");

			json_t *m = message("tool", answer);

			json_object_set_new(m, "tool_call_id", json_string(id ? id : ""));
			json_array_append_new(msgs, m);
			free(answer);
			calls++;
		}
	}
	json_decref(msg);
	json_decref(msgs);
	json_decref(tools);
	return rc;
}
