/*
 * The progress of a wait: while cynork waits for a task (task create
 * --wait/--follow, task result --wait, task wait, task logs --follow), the
 * task's state changes go to standard error when it is a terminal and -q
 * was not given:
 *
 *	task hello-2: queued → running on node-01 → completed, exit 0 after 1.2 s
 *
 * one line growing as the task moves (PROGRESS_LINE), or one line per
 * change where the job's output is printed between them (PROGRESS_LINES).
 * Nothing is shown when standard error is not a terminal.  "after" is the
 * time cynork waited, from the start of the wait.  While progress shows,
 * the waits ask the server's long poll for at most PROGRESS_POLL_S at a
 * time (progress_poll_s; the first time 0, for the state the task is in)
 * so a change is seen that soon; the end still comes at once.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "cynork.h"
#include "json.h"
#include "timeutil.h"
#include "banned.h"

#define PROGRESS_POLL_S 2

/* A progress line is open on stderr (no newline yet): fail() and note() end it first. */
static bool line_open;

void
progress_break(void)
{
	if (!line_open)
		return;
	fputc('\n', stderr);
	line_open = false;
}

/* "→" where the locale's environment says UTF-8 (cynork keeps the C locale), else "->". */
static const char *
arrow(void)
{
	static const char *const vars[] = { "LC_ALL", "LC_CTYPE", "LANG" };
	const char *v;
	size_t i;

	for (i = 0; i < 3; i++) {
		v = getenv(vars[i]);
		if (v && *v)
			return strcasestr(v, "utf-8") || strcasestr(v, "utf8") ? " \xe2\x86\x92 " :
										 " -> ";
	}
	return " -> ";
}

void
progress_start(struct progress *pg, struct ctx *c, const char *ref, const char *label,
    enum progress_mode mode)
{
	memset(pg, 0, sizeof(*pg));
	pg->on = !c->quiet && isatty(STDERR_FILENO);
	pg->mode = mode;
	pg->task = xstrdup(label ? label : ref);
	pg->ref = xstrdup(ref);
	pg->t0 = cy_mono_ms();
}

long long
progress_poll_s(struct progress *pg, long long wait)
{
	if (!pg || !pg->on)
		return wait;
	/* The first answer at once: the state the task is in now. */
	if (!pg->polled++)
		return 0;
	return wait > PROGRESS_POLL_S ? PROGRESS_POLL_S : wait;
}

/* Writes one step: the task's name first, then an arrow (or a new line). */
static void progress_step(struct progress *pg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
progress_step(struct progress *pg, const char *fmt, ...)
{
	va_list ap;

	if (pg->steps == 0 || pg->mode == PROGRESS_LINES || !line_open) {
		progress_break();
		fprintf(stderr, "task %s: ", pg->task);
	} else {
		fputs(arrow(), stderr);
	}
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	pg->steps++;
	if (pg->mode == PROGRESS_LINES)
		fputc('\n', stderr);
	else
		line_open = true;
	fflush(stderr);
}

/* The node of the task's job, from GET /v1/tasks/{id}; NULL when not known. */
static char *
task_node(struct ctx *c, const char *task)
{
	char *e = url_escape(task), *path = xasprintf("/v1/tasks/%s", e), *node = NULL;
	json_t *res = NULL;

	/* Its failure is the wait's next poll's to report; no node then. */
	if (api_call(c, "GET", path, NULL, true, &res) == 0 &&
	    cy_json_str(json_object_get(res, "job"), "node"))
		node = xstrdup(cy_json_str(json_object_get(res, "job"), "node"));
	json_decref(res);
	free(path);
	free(e);
	return node;
}

void
progress_update(struct progress *pg, struct ctx *c, const char *status)
{
	if (!pg || !pg->on || !status || task_status_ended(status) ||
	    strcmp(pg->status, status) == 0)
		return;
	cy_snprintf_clip(pg->status, sizeof(pg->status), "%s", status);
	if (strcmp(status, "running") == 0) {
		char *node = task_node(c, pg->ref);

		if (node)
			progress_step(pg, "running on %s", node);
		else
			progress_step(pg, "running");
		free(node);
		return;
	}
	progress_step(pg, "%s", status);
}

void
progress_end(struct progress *pg, json_t *result)
{
	const char *st = cy_json_str(result, "status");
	json_t *job = json_array_get(json_object_get(result, "jobs"), 0);
	json_t *code = json_object_get(job, "exit_code");
	double secs;

	if (!pg || !pg->on || !st)
		return;
	secs = (double)(cy_mono_ms() - pg->t0) / 1000.0;
	if (json_is_integer(code) && json_integer_value(code) >= 0)
		progress_step(pg, "%s, exit %lld after %.1f s", st,
		    (long long)json_integer_value(code), secs);
	else
		progress_step(pg, "%s after %.1f s", st, secs);
	progress_break();
	pg->on = false;
}

void
progress_release(struct progress *pg)
{
	if (!pg)
		return;
	if (pg->on)
		progress_break();
	free(pg->task);
	free(pg->ref);
	pg->task = NULL;
	pg->ref = NULL;
}
