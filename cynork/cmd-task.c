/*
 * cynork task list|get|result|cancel|logs, and the wait loop shared with
 * `task create --wait` and `task logs -o json --follow`: long polls on
 * GET /v1/tasks/{id}/result?wait=N (no client-side sleep loop) and the
 * mapping of a finished task to an exit code (exit.c: the job's own code,
 * 124 timeout, 143 canceled, tagged EXIT_JOB).  `task logs --follow` long
 * polls the logs route for the output as it comes instead.  task wait ID... is in
 * cmd-task-wait.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "cynork.h"
#include "json.h"
#include "states.h"
#include "timeutil.h"
#include "banned.h"

#define FOLLOW_BATCH_US 200000

/* Where raw log bytes go: stdout, or a buffer; n counts them. */
struct raw_sink {
	long long n;
	struct cy_buf *buf; /* NULL: stdout */
};

static const char *const status_choices[] = { "queued", "running", "completed", "failed",
	"canceled", "superseded", NULL };
static const char *const stream_choices[] = { "stdout", "stderr", "all", NULL };

bool
task_status_ended(const char *s)
{
	int st = s ? cy_task_state_parse(s) : -1;

	return st >= 0 && cy_task_state_terminal((enum cy_task_state)st);
}

/* The first job's RunJobResponse (a JSON string in the result), or NULL. */
static json_t *
job_result(json_t *res)
{
	json_t *jobs = json_object_get(res, "jobs"), *job = json_array_get(jobs, 0);
	const char *s = cy_json_str(job, "result");
	json_t *r;

	if (!s)
		return NULL;
	r = cy_json_parse(s, strlen(s), true, NULL);
	return r;
}

/* Exit code of a job, or -1 when none is known. */
static long long
job_exit_code(json_t *res, json_t *jr)
{
	json_t *job = json_array_get(json_object_get(res, "jobs"), 0);
	json_t *v = jr ? json_object_get(jr, "exit_code") : NULL;

	if (json_is_integer(v))
		return json_integer_value(v);
	v = json_object_get(job, "exit_code");
	return json_is_integer(v) ? json_integer_value(v) : -1;
}

/* The states counted in an array's summary, in the order shown. */
static const char *const array_states[] = { "completed", "failed", "canceled", "running", "queued",
	"held", NULL };

char *
task_array_summary(const json_t *array)
{
	const json_t *counts = json_object_get(array, "counts");
	struct cy_buf b = CY_BUF_INIT;
	size_t i;

	cy_buf_addf(&b, "%s: %lld element%s",
	    cy_json_str(array, "spec") ? cy_json_str(array, "spec") : "-",
	    (long long)json_integer_value(json_object_get(array, "size")),
	    json_integer_value(json_object_get(array, "size")) == 1 ? "" : "s");
	for (i = 0; array_states[i]; i++) {
		json_int_t n = json_integer_value(json_object_get(counts, array_states[i]));

		if (n > 0)
			cy_buf_addf(&b, ", %lld %s", (long long)n, array_states[i]);
	}
	return cy_buf_detach(&b, NULL);
}

/* An element's RunJobResponse (a JSON string in its job), or NULL. */
static json_t *
elem_result(const json_t *job)
{
	const char *s = cy_json_str(job, "result");

	return s ? cy_json_parse(s, strlen(s), true, NULL) : NULL;
}

/*
 * An array task's exit code: 0 when all completed, 143 when canceled,
 * else the first failing element's (by index): its own exit code, 124
 * when it timed out, 1 without one.
 */
static int
array_exit_code(json_t *res)
{
	const char *st = cy_json_str(res, "status");
	json_t *job;
	size_t i;
	int rc = EXIT_JOB_FAILED;

	if (st && strcmp(st, "completed") == 0)
		return EXIT_OK;
	if (st && strcmp(st, "canceled") == 0) {
		fprintf(stderr, "cynork: the task was canceled\n");
		return EXIT_JOB(EXIT_CANCELED);
	}
	json_array_foreach(json_object_get(res, "jobs"), i, job) {
		json_t *jr, *v;
		const char *jst;

		if (!cy_json_str(job, "status") || strcmp(cy_json_str(job, "status"), "failed"))
			continue;
		jr = elem_result(job);
		jst = jr ? cy_json_str(jr, "status") : NULL;
		v = json_object_get(job, "exit_code");
		if (jst && strcmp(jst, "timeout") == 0)
			rc = EXIT_TIMEOUT;
		else if (json_is_integer(v) && json_integer_value(v) > 0 &&
			 json_integer_value(v) < 256)
			rc = (int)json_integer_value(v);
		fprintf(stderr, "cynork: array element %lld failed first\n",
		    (long long)json_integer_value(json_object_get(job, "array_index")));
		json_decref(jr);
		break;
	}
	return EXIT_JOB(rc);
}

int
task_exit_code(json_t *res)
{
	const char *st = cy_json_str(res, "status");
	json_t *jr = job_result(res);
	const char *jst = jr ? cy_json_str(jr, "status") : NULL;
	long long code = job_exit_code(res, jr);
	int rc;

	if (json_is_object(json_object_get(res, "array"))) {
		json_decref(jr);
		return array_exit_code(res);
	}
	if (st && strcmp(st, "completed") == 0)
		rc = EXIT_OK;
	else if (st && strcmp(st, "canceled") == 0)
		rc = EXIT_CANCELED;
	else if (jst && strcmp(jst, "timeout") == 0)
		rc = EXIT_TIMEOUT;
	else if (code > 0 && code < 256)
		rc = (int)code;
	else
		rc = EXIT_JOB_FAILED;
	if (jst && strcmp(jst, "timeout") == 0)
		fprintf(stderr, "cynork: the job timed out on the node\n");
	else if (rc == EXIT_CANCELED)
		fprintf(stderr, "cynork: the task was canceled\n");
	json_decref(jr);
	return rc ? EXIT_JOB(rc) : EXIT_OK;
}

/*
 * -o text: the job's output as it wrote it (stdout to standard output,
 * stderr to standard error), an agent job's reply after its stdout, then
 * "task NAME: STATUS, exit code N" on standard error (unless -q).
 */
static void
result_text(struct ctx *c, const json_t *res, const json_t *jr, const char *out, const char *err,
    long long code)
{
	const char *reply = cy_json_str(jr, "reply");
	const char *name = cy_json_str(res, "task_name") ? cy_json_str(res, "task_name") :
							   cy_json_str(res, "task_id");
	char *st;

	if (out)
		fputs(out, stdout);
	if (reply && *reply)
		printf("%s%s", reply, reply[strlen(reply) - 1] == '\n' ? "" : "\n");
	fflush(stdout);
	if (err)
		fputs(err, stderr);
	if (c->quiet)
		return;
	st = state_text(c, cy_json_str(res, "status"));
	if (code >= 0)
		fprintf(stderr, "task %s: %s, exit code %lld\n", name ? name : "-", st, code);
	else
		fprintf(stderr, "task %s: %s\n", name ? name : "-", st);
	free(st);
}

/*
 * An array task's result: the task's line with the array's counts, then a
 * line per element (index, status, exit_code, stdout, stderr); -o json
 * one object with "elements"; -o text each element's output as it wrote
 * it, then "task NAME[I]: STATUS, exit code N" on standard error.
 */
static void
array_print_result(struct ctx *c, json_t *res)
{
	const char *id = cy_json_str(res, "task_id"), *st = cy_json_str(res, "status");
	const char *name = cy_json_str(res, "task_name");
	const json_t *array = json_object_get(res, "array");
	json_t *job, *elems = json_array();
	struct cy_buf line = CY_BUF_INIT;
	size_t i, k;

	json_array_foreach(json_object_get(res, "jobs"), i, job) {
		json_t *jr = elem_result(job), *e;
		const char *jst = cy_json_str(job, "status");
		const char *out = jr ? cy_json_str(jr, "stdout") : NULL;
		const char *err = jr ? cy_json_str(jr, "stderr") : NULL;

		if (jr && (!err || !*err) && cy_json_str(jr, "error"))
			err = cy_json_str(jr, "error");
		e = json_pack("{s:O, s:s?}", "index", json_object_get(job, "array_index"), "status",
		    jst);
		if (json_is_integer(json_object_get(job, "exit_code")))
			json_object_set(e, "exit_code", json_object_get(job, "exit_code"));
		if (jst && task_status_ended(jst)) {
			json_object_set_new(e, "stdout", json_string(out ? out : ""));
			json_object_set_new(e, "stderr", json_string(err ? err : ""));
		}
		json_array_append_new(elems, e);
		json_decref(jr);
	}
	if (out_json(c)) {
		json_t *o = json_pack("{s:s?, s:s?, s:s?, s:O, s:o}", "task_id", id, "status", st,
		    "task_name", name, "array", array, "elements", elems);

		print_json(o);
		return;
	}
	if (out_name(c)) {
		printf("%s\n", id ? id : "");
		json_decref(elems);
		return;
	}
	if (out_text(c)) {
		json_t *e;
		char *sum = task_array_summary(array), *s;

		json_array_foreach(elems, i, e) {
			if (cy_json_str(e, "stdout"))
				fputs(cy_json_str(e, "stdout"), stdout);
			fflush(stdout);
			if (cy_json_str(e, "stderr"))
				fputs(cy_json_str(e, "stderr"), stderr);
			if (c->quiet || !cy_json_str(e, "status"))
				continue;
			s = state_text(c, cy_json_str(e, "status"));
			fprintf(stderr, "task %s[%lld]: %s", name ? name : "-",
			    (long long)json_integer_value(json_object_get(e, "index")), s);
			if (json_is_integer(json_object_get(e, "exit_code")))
				fprintf(stderr, ", exit code %lld",
				    (long long)json_integer_value(json_object_get(e, "exit_code")));
			fputc('\n', stderr);
			free(s);
		}
		if (!c->quiet) {
			s = state_text(c, st);
			fprintf(stderr, "task %s: %s (array %s)\n", name ? name : "-", s, sum);
			free(s);
		}
		free(sum);
		json_decref(elems);
		return;
	}
	rec_add(&line, "task_id", id);
	rec_add(&line, "status", st);
	if (name)
		rec_add(&line, "task_name", name);
	rec_add(&line, "array", cy_json_str(array, "spec"));
	rec_addll(&line, "size", (long long)json_integer_value(json_object_get(array, "size")));
	for (k = 0; array_states[k]; k++)
		rec_addll(&line, array_states[k],
		    (long long)json_integer_value(
			json_object_get(json_object_get(array, "counts"), array_states[k])));
	print_line(&line);
	json_array_foreach(elems, i, job) {
		rec_add(&line, "task_id", id);
		rec_addll(&line, "index",
		    (long long)json_integer_value(json_object_get(job, "index")));
		rec_add(&line, "status", cy_json_str(job, "status"));
		if (json_is_integer(json_object_get(job, "exit_code")))
			rec_addll(&line, "exit_code",
			    (long long)json_integer_value(json_object_get(job, "exit_code")));
		if (cy_json_str(job, "stdout"))
			rec_add(&line, "stdout", cy_json_str(job, "stdout"));
		if (cy_json_str(job, "stderr"))
			rec_add(&line, "stderr", cy_json_str(job, "stderr"));
		print_line(&line);
	}
	json_decref(elems);
}

int
task_print_result(struct ctx *c, json_t *res)
{
	const char *id = cy_json_str(res, "task_id"), *st = cy_json_str(res, "status");
	json_t *jr = task_status_ended(st) ? job_result(res) : NULL;
	const char *out = jr ? cy_json_str(jr, "stdout") : NULL;
	const char *err = jr ? cy_json_str(jr, "stderr") : NULL;
	long long code = task_status_ended(st) ? job_exit_code(res, jr) : -1;
	struct cy_buf line = CY_BUF_INIT;
	json_t *o;

	if (json_is_object(json_object_get(res, "array"))) {
		json_decref(jr);
		array_print_result(c, res);
		return 0;
	}
	if (jr && (!err || !*err) && cy_json_str(jr, "error"))
		err = cy_json_str(jr, "error");
	if (out_json(c)) {
		o = json_pack("{s:s?, s:s?}", "task_id", id, "status", st);
		if (cy_json_str(res, "task_name"))
			json_object_set_new(o, "task_name",
			    json_string(cy_json_str(res, "task_name")));
		if (task_status_ended(st)) {
			if (code >= 0 || (jr && json_is_integer(json_object_get(jr, "exit_code"))))
				json_object_set_new(o, "exit_code", json_integer(code));
			json_object_set_new(o, "stdout", json_string(out ? out : ""));
			json_object_set_new(o, "stderr", json_string(err ? err : ""));
			/* An agent job: its reply, and what it did. */
			if (jr && json_is_string(json_object_get(jr, "reply")))
				json_object_set(o, "reply", json_object_get(jr, "reply"));
			if (jr && json_is_object(json_object_get(jr, "sba_result")))
				json_object_set(o, "sba_result", json_object_get(jr, "sba_result"));
		}
		print_json(o);
	} else if (out_name(c)) {
		printf("%s\n", id ? id : "");
	} else if (out_text(c)) {
		result_text(c, res, jr, out, err, code);
	} else {
		rec_add(&line, "task_id", id);
		rec_add(&line, "status", st);
		if (cy_json_str(res, "task_name"))
			rec_add(&line, "task_name", cy_json_str(res, "task_name"));
		if (task_status_ended(st)) {
			if (code >= 0)
				rec_addll(&line, "exit_code", code);
			rec_add(&line, "stdout", out ? out : "");
			rec_add(&line, "stderr", err ? err : "");
			if (jr && cy_json_str(jr, "reply"))
				rec_add(&line, "reply", cy_json_str(jr, "reply"));
		}
		print_line(&line);
	}
	json_decref(jr);
	return 0;
}

long long
task_poll_seconds(int64_t deadline)
{
	long long left;

	if (!deadline)
		return POLL_MAX_S;
	left = (deadline - cy_mono_ms() + 999) / 1000;
	if (left <= 0)
		return 0;
	return left < POLL_MAX_S ? left : POLL_MAX_S;
}

/*
 * Long polls until task `id` has ended and leaves its result in *out (the
 * caller frees it).  Returns 0, cynork's own failure, or EXIT_JOB(124) when
 * the deadline passed; deadline 0 waits forever.
 */
static int
task_poll_ended(struct ctx *c, const char *id, int64_t deadline, long long timeout_s,
    struct progress *pg, json_t **out)
{
	char *eid = url_escape(id);
	json_t *res = NULL;
	int rc;

	for (;;) {
		long long wait = task_poll_seconds(deadline);
		char *path;

		if (!wait) {
			/* The wait's own limit, as timeout(1) has it: not a failure of cynork's. */
			rc = EXIT_JOB(fail(EXIT_TIMEOUT,
			    "gave up waiting for task '%s' after %llds (--timeout)", id,
			    timeout_s));
			break;
		}
		wait = progress_poll_s(pg, wait);
		path = xasprintf("/v1/tasks/%s/result?wait=%lld", eid, wait);
		json_decref(res);
		res = NULL;
		rc = api_call_h(c, "GET", path, NULL, true, NULL, (wait + 30) * 1000, &res, NULL);
		free(path);
		if (rc || task_status_ended(cy_json_str(res, "status")))
			break;
		progress_update(pg, c, cy_json_str(res, "status"));
	}
	free(eid);
	if (rc) {
		json_decref(res);
		res = NULL;
	}
	*out = res;
	return rc;
}

int
task_wait_and_print(struct ctx *c, const char *id, const char *label, long long timeout_s,
    bool exit_status)
{
	json_t *res = NULL;
	struct progress pg;
	int job_rc, rc;

	progress_start(&pg, c, id, label, PROGRESS_LINE);
	rc = task_poll_ended(c, id, timeout_s > 0 ? cy_mono_ms() + timeout_s * 1000 : 0, timeout_s,
	    &pg, &res);
	progress_end(&pg, res);
	progress_release(&pg);
	if (rc)
		return rc;
	task_print_result(c, res);
	job_rc = task_exit_code(res);
	json_decref(res);
	return exit_status ? job_rc : 0;
}

int
task_attach(struct ctx *c, const char *id, const char *label)
{
	json_t *res = NULL;
	struct progress pg;
	int rc;

	progress_start(&pg, c, id, label, PROGRESS_LINES);
	rc = task_logs_follow(c, id, "all", "", true, &pg);
	/* The logs end with the task: its result is there now. */
	if (rc == 0)
		rc = task_poll_ended(c, id, 0, 0, NULL, &res);
	if (rc == 0) {
		progress_end(&pg, res);
		rc = task_exit_code(res);
	}
	progress_release(&pg);
	json_decref(res);
	return rc;
}

/* task list -o text (a terminal's default) and -o wide: a table. */
static const struct col task_cols[] = {
	{ "TASK_ID", 0 },
	{ "NAME", COL_TRUNC },
	{ "STATUS", COL_STATE },
	{ "MODE", 0 },
	{ "CREATED", COL_TIME },
	{ "UPDATED", COL_WIDE | COL_TIME },
	{ "INPUT", COL_WIDE | COL_TRUNC },
	{ NULL, 0 },
};

/* The same with PENDING_REASON, when a listed task waits. */
static const struct col task_cols_waiting[] = {
	{ "TASK_ID", 0 },
	{ "NAME", COL_TRUNC },
	{ "STATUS", COL_STATE },
	{ "MODE", 0 },
	{ "CREATED", COL_TIME },
	{ "UPDATED", COL_WIDE | COL_TIME },
	{ "INPUT", COL_WIDE | COL_TRUNC },
	{ "PENDING_REASON", COL_TRUNC },
	{ NULL, 0 },
};

static int
task_list_table(struct ctx *c, const struct parsed *p, const json_t *tasks)
{
	const json_t *task;
	struct out_table *t;
	bool waiting = false;
	size_t i;

	json_array_foreach(tasks, i, task)
		waiting |= cy_json_str(task, "pending_reason") != NULL;
	t = table_new(c, p, waiting ? task_cols_waiting : task_cols);

	json_array_foreach(tasks, i, task) {
		struct cy_buf b = CY_BUF_INIT;
		const char *prompt = cy_json_str(task, "prompt");

		table_row(t);
		table_cell(t, cy_json_str(task, "task_id") ? cy_json_str(task, "task_id") :
							     cy_json_str(task, "id"));
		table_cell(t, cy_json_str(task, "task_name"));
		table_cell(t, cy_json_str(task, "status"));
		table_cell(t, cy_json_str(task, "input_mode"));
		table_cell(t, cy_json_str(task, "created_at"));
		table_cell(t, cy_json_str(task, "updated_at"));
		/* The first line of what it runs. */
		cy_buf_reset(&b);
		if (prompt)
			cy_buf_add(&b, prompt, strcspn(prompt, "\n"));
		table_cell(t, b.buf);
		if (waiting)
			table_cell(t, cy_json_str(task, "pending_reason"));
		cy_buf_release(&b);
	}
	return table_print(t);
}

static int
task_list(struct ctx *c, const struct parsed *p)
{
	struct cy_buf path = CY_BUF_INIT;
	json_t *res = NULL, *tasks, *t;
	size_t i;
	int rc;

	cy_buf_addf(&path, "/v1/tasks?limit=%s", opt_get(p, "limit") ? opt_get(p, "limit") : "50");
	if (opt_get(p, "status"))
		cy_buf_addf(&path, "&status=%s", opt_get(p, "status"));
	if (opt_set(p, "all"))
		cy_buf_addstr(&path, "&all=true");
	/* An empty cursor (cli.md: the default) is the first page. */
	if (opt_get(p, "cursor") && *opt_get(p, "cursor")) {
		char *e = url_escape(opt_get(p, "cursor"));

		cy_buf_addf(&path, "&cursor=%s", e);
		free(e);
	}
	rc = api_call(c, "GET", path.buf, NULL, true, &res);
	cy_buf_release(&path);
	if (rc)
		return rc;
	tasks = json_object_get(res, "tasks");
	if (!json_is_array(tasks)) {
		json_decref(res);
		return fail(EXIT_PROTOCOL, "malformed response: no 'tasks' list");
	}
	if (out_json(c)) {
		json_t *o = json_pack("{s:[]}", "tasks");

		json_array_foreach(tasks, i, t)
			json_array_append_new(json_object_get(o, "tasks"), task_json_view(t));
		if (cy_json_str(res, "next_cursor"))
			json_object_set(o, "next_cursor", json_object_get(res, "next_cursor"));
		json_decref(res);
		return print_json(o);
	}
	if (out_text(c) || out_wide(c)) {
		rc = task_list_table(c, p, tasks);
		fflush(stdout);
		if (rc == 0 && cy_json_str(res, "next_cursor"))
			note(c, "more tasks: --cursor %s", cy_json_str(res, "next_cursor"));
		json_decref(res);
		return rc;
	}
	json_array_foreach(tasks, i, t) {
		struct cy_buf line = CY_BUF_INIT;
		const char *id =
		    cy_json_str(t, "task_id") ? cy_json_str(t, "task_id") : cy_json_str(t, "id");

		if (out_name(c)) {
			printf("%s\n", id ? id : "");
			continue;
		}
		rec_add(&line, "task_id", id);
		rec_add(&line, "status", cy_json_str(t, "status"));
		if (cy_json_str(t, "task_name"))
			rec_add(&line, "task_name", cy_json_str(t, "task_name"));
		rec_add(&line, "created_at", cy_json_str(t, "created_at"));
		if (cy_json_str(t, "pending_reason"))
			rec_add(&line, "pending_reason", cy_json_str(t, "pending_reason"));
		print_line(&line);
	}
	fflush(stdout);
	if (cy_json_str(res, "next_cursor") && !out_name(c))
		note(c, "more tasks: --cursor %s", cy_json_str(res, "next_cursor"));
	json_decref(res);
	return 0;
}

/* GETs /v1/tasks/{task}SUFFIX into *res. */
static int
task_fetch(struct ctx *c, const char *task, const char *suffix, json_t **res)
{
	char *e = url_escape(task), *path = xasprintf("/v1/tasks/%s%s", e, suffix);
	int rc = api_call(c, "GET", path, NULL, true, res);

	free(path);
	free(e);
	return rc;
}

/* The JSON value v (a string, number or array of strings) as record text; NULL for null. */
static void
rec_add_json(struct cy_buf *line, const char *key, const json_t *v)
{
	struct cy_buf b = CY_BUF_INIT;
	const json_t *item;
	size_t i;

	if (json_is_string(v)) {
		rec_add(line, key, json_string_value(v));
	} else if (json_is_integer(v)) {
		rec_addll(line, key, (long long)json_integer_value(v));
	} else if (json_is_real(v)) {
		cy_buf_addf(&b, "%.3f", json_real_value(v));
		rec_add(line, key, b.buf);
	} else if (json_is_array(v) && json_array_size(v) > 0) {
		json_array_foreach(v, i, item)
			cy_buf_addf(&b, "%s%s", i ? "," : "",
			    json_string_value(item) ? json_string_value(item) : "");
		rec_add(line, key, b.buf);
	}
	cy_buf_release(&b);
}

/*
 * The task's job on its record line: how it ran (exit code, node,
 * attempts, queued/started/ended times, seconds queued and running) and
 * what it was created with; only what is set.
 */
static void
task_print_job(struct cy_buf *line, const json_t *job)
{
	static const char *const fields[][2] = {
		{ "job_status", "status" },
		{ "exit_code", "exit_code" },
		{ "node", "node" },
		{ "attempts", "attempts" },
		{ "queued_at", "queued_at" },
		{ "started_at", "started_at" },
		{ "ended_at", "ended_at" },
		{ "queued_s", "queued_seconds" },
		{ "run_s", "run_seconds" },
		{ "image", "image" },
		{ "model", "model" },
		{ "timeout_s", "timeout_seconds" },
		{ "network", "network_policy" },
		{ "priority", "priority" },
		{ "max_attempts", "max_attempts" },
		{ "backoff_s", "retry_backoff_seconds" },
		{ "queue", "queue" },
		{ "pending_reason", "pending_reason" },
	};
	const json_t *req = json_object_get(job, "requirements");
	const json_t *res = json_object_get(job, "resources");
	size_t i;

	if (!json_is_object(job))
		return;
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		rec_add_json(line, fields[i][0], json_object_get(job, fields[i][1]));
	rec_add_json(line, "labels", json_object_get(req, "labels"));
	if (json_integer_value(json_object_get(req, "gpus")) > 0)
		rec_add_json(line, "gpus", json_object_get(req, "gpus"));
	rec_add_json(line, "gpu_model", json_object_get(req, "gpu_model"));
	if (json_array_size(json_object_get(req, "nodes")))
		rec_add_json(line, "nodes", json_object_get(req, "nodes"));
	rec_add_json(line, "cpus", json_object_get(res, "cpu_cores"));
	rec_add_json(line, "memory_mb", json_object_get(res, "memory_mb"));
	rec_add_json(line, "disk_mb", json_object_get(res, "workspace_mb"));
	rec_add_json(line, "tmp_mb", json_object_get(res, "tmp_mb"));
}

static int
task_get(struct ctx *c, const struct parsed *p)
{
	struct cy_buf line = CY_BUF_INIT;
	json_t *res = NULL;
	const char *id;
	int rc = task_fetch(c, p->args[0], "", &res);

	if (rc)
		return rc;
	if (out_json(c)) {
		print_json(task_json_view(res));
		json_decref(res);
		return 0;
	}
	id = cy_json_str(res, "task_id") ? cy_json_str(res, "task_id") : cy_json_str(res, "id");
	if (out_text(c)) {
		task_get_text(c, res);
	} else if (out_name(c)) {
		printf("%s\n", id ? id : "");
	} else {
		rec_add(&line, "task_id", id);
		rec_add(&line, "status", cy_json_str(res, "status"));
		if (cy_json_str(res, "task_name"))
			rec_add(&line, "task_name", cy_json_str(res, "task_name"));
		rec_add(&line, "created_at", cy_json_str(res, "created_at"));
		rec_add(&line, "updated_at", cy_json_str(res, "updated_at"));
		if (json_is_object(json_object_get(res, "array"))) {
			const json_t *arr = json_object_get(res, "array");
			size_t k;

			rec_add(&line, "array", cy_json_str(arr, "spec"));
			rec_addll(&line, "array_size",
			    (long long)json_integer_value(json_object_get(arr, "size")));
			for (k = 0; array_states[k]; k++) {
				char key[32];

				xsnprintf(key, sizeof(key), "array_%s", array_states[k]);
				rec_addll(&line, key,
				    (long long)json_integer_value(
					json_object_get(json_object_get(arr, "counts"),
					    array_states[k])));
			}
		}
		task_print_job(&line, json_object_get(res, "job"));
		print_line(&line);
	}
	json_decref(res);
	return 0;
}

static int
task_result(struct ctx *c, const struct parsed *p)
{
	json_t *res = NULL;
	int rc;

	if (opt_set(p, "wait"))
		return task_wait_and_print(c, p->args[0], NULL, 0, false);
	rc = task_fetch(c, p->args[0], "/result", &res);
	if (rc == 0)
		task_print_result(c, res);
	json_decref(res);
	return rc;
}

static int
task_cancel(struct ctx *c, const struct parsed *p)
{
	struct cy_buf line = CY_BUF_INIT;
	json_t *res = NULL, *body;
	char *e, *path;
	int rc;

	if (!confirm(c, p, &rc, "Cancel task %s", p->args[0]))
		return rc;
	e = url_escape(p->args[0]);
	path = xasprintf("/v1/tasks/%s/cancel", e);
	body = json_object();
	rc = api_call(c, "POST", path, body, true, &res);
	json_decref(body);
	free(path);
	free(e);
	if (rc)
		return rc;
	if (out_json(c))
		return print_json(res);
	if (out_name(c)) {
		printf("%s\n", cy_json_str(res, "task_id") ? cy_json_str(res, "task_id") : "");
	} else {
		rec_add(&line, "task_id", cy_json_str(res, "task_id"));
		rec_add(&line, "canceled",
		    json_is_true(json_object_get(res, "canceled")) ? "true" : "false");
		if (cy_json_str(res, "task_name"))
			rec_add(&line, "task_name", cy_json_str(res, "task_name"));
		print_line(&line);
	}
	json_decref(res);
	return 0;
}

static void
split_lines(json_t *arr, const char *text)
{
	while (text && *text) {
		size_t n = strcspn(text, "\n");

		json_array_append_new(arr, json_stringn(text, n));
		text += n;
		if (*text == '\n')
			text++;
	}
}

/* Writes the string at key of o to f; true when it was not empty. */
static bool
put_text(const json_t *o, const char *key, FILE *f)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v) || !json_string_length(v))
		return false;
	fwrite(json_string_value(v), 1, json_string_length(v), f);
	return true;
}

/* Says on stderr what the server's log limit cut from the streams printed. */
static void
note_lost(const json_t *res, const char *stream)
{
	static const char *const names[] = { "stdout", "stderr" };
	json_t *lost = json_object_get(res, "lost_bytes");
	long long n;
	int i;

	for (i = 0; i < 2; i++) {
		if (strcmp(stream, "all") && strcmp(stream, names[i]))
			continue;
		if (cy_json_int(lost, names[i], &n) == 0 && n > 0)
			fprintf(stderr,
			    "cynork: %s truncated: %lld bytes lost to the server's log limit\n",
			    names[i], n);
	}
}

/*
 * After the raw logs: the counts (what a log limit cut), from a follow
 * answer at the offsets read (it carries them and no text); *out gets it.
 */
static int
task_logs_counts(struct ctx *c, const char *task, const char *stream, const char *extra,
    const struct raw_sink k[2], json_t **out)
{
	char *eid = url_escape(task);
	char *path = xasprintf("/v1/tasks/%s/logs?follow=true&stream=%s&stdout_offset=%lld"
			       "&stderr_offset=%lld%s",
	    eid, stream, k[0].n, k[1].n, extra);
	int rc = api_call(c, "GET", path, NULL, true, out);

	free(path);
	free(eid);
	return rc;
}

/*
 * --follow: GET /v1/tasks/{id}/logs?follow=true&wait=N from the offsets
 * reached (a server long poll: it answers as soon as new bytes are
 * stored or the task ends), printing the new text of the chosen streams;
 * after text it pauses FOLLOW_BATCH_US so fast output comes in pieces,
 * until the task has ended and nothing is left.
 */
int
task_logs_follow(struct ctx *c, const char *task, const char *stream, const char *extra, bool split,
    struct progress *pg)
{
	char *eid = url_escape(task), *path;
	long long off_out = 0, off_err = 0;
	json_t *res;
	bool ended, got;
	int rc;

	for (;;) {
		path =
		    xasprintf("/v1/tasks/%s/logs?follow=true&wait=%d&stream=%s&stdout_offset=%lld"
			      "&stderr_offset=%lld%s",
			eid, (int)progress_poll_s(pg, POLL_MAX_S), stream, off_out, off_err, extra);
		res = NULL;
		rc = api_call_h(c, "GET", path, NULL, true, NULL, (POLL_MAX_S + 30) * 1000L, &res,
		    NULL);
		free(path);
		if (rc)
			break;
		if (!json_is_boolean(json_object_get(res, "ended")) ||
		    cy_json_int(res, "stdout_offset", &off_out) < 0 ||
		    cy_json_int(res, "stderr_offset", &off_err) < 0) {
			json_decref(res);
			rc = fail(EXIT_PROTOCOL, "malformed response: no 'ended' or offsets");
			break;
		}
		got = put_text(res, "stdout", stdout);
		fflush(stdout);
		got |= put_text(res, "stderr", split ? stderr : stdout);
		fflush(split ? stderr : stdout);
		ended = json_is_true(json_object_get(res, "ended"));
		if (!ended)
			progress_update(pg, c, cy_json_str(res, "status"));
		if (ended && !got) {
			note_lost(res, stream);
			json_decref(res);
			break;
		}
		json_decref(res);
		if (!ended && got)
			usleep(FOLLOW_BATCH_US);
	}
	free(eid);
	return rc;
}

static int
put_raw(void *arg, const char *data, size_t len)
{
	struct raw_sink *k = arg;

	k->n += (long long)len;
	if (k->buf) {
		cy_buf_add(k->buf, data, len);
		return 0;
	}
	return fwrite(data, 1, len, stdout) == len ? 0 : -1;
}

/* Fetches the stored bytes of one stream to k as they arrive (format=raw). */
static int
task_logs_raw(struct ctx *c, const char *task, const char *stream, const char *extra,
    struct raw_sink *k)
{
	struct api_stream s = { .fn = put_raw, .arg = k, .max_response = (size_t)1 << 50 };
	char *eid = url_escape(task);
	char *path = xasprintf("/v1/tasks/%s/logs?stream=%s&format=raw%s", eid, stream, extra);
	int rc = api_stream(c, "GET", path, NULL, &s);

	if (rc < 0)
		rc = api_transport_fail(c, &s.err);
	free(path);
	free(eid);
	if (!k->buf)
		fflush(stdout);
	return rc;
}

/* Adds the logs' truncation counts (truncated, lost_bytes) of res to o. */
static void
copy_counts(json_t *o, const json_t *res)
{
	static const char *const keys[] = { "bytes", "stored_bytes", "truncated", "lost_bytes",
		NULL };
	int i;

	for (i = 0; keys[i]; i++)
		if (json_is_object(json_object_get(res, keys[i])))
			json_object_set(o, keys[i], json_object_get(res, keys[i]));
}

static int
task_logs(struct ctx *c, const struct parsed *p)
{
	static const char *const names[2] = { "stdout", "stderr" };
	const char *stream = opt_get(p, "stream") ? opt_get(p, "stream") : "all";
	struct cy_buf raw[2] = { CY_BUF_INIT, CY_BUF_INIT }, text[2] = { CY_BUF_INIT, CY_BUF_INIT };
	struct raw_sink k[2] = { { 0, NULL }, { 0, NULL } };
	char extra[32] = "";
	json_t *res = NULL;
	int rc = 0, i;

	/* --index N: one element of a job array (checked 0..1000000 by the parser). */
	if (opt_get(p, "index"))
		xsnprintf(extra, sizeof(extra), "&index=%s", opt_get(p, "index"));
	if (opt_set(p, "follow") && !out_json(c)) {
		struct progress pg;

		progress_start(&pg, c, p->args[0], NULL, PROGRESS_LINES);
		rc = task_logs_follow(c, p->args[0], stream, extra, false, &pg);
		/* The end with the job's exit code, from the result (only when it shows). */
		if (rc == 0 && pg.on && task_fetch(c, p->args[0], "/result", &res) == 0)
			progress_end(&pg, res);
		progress_release(&pg);
		json_decref(res);
		return rc;
	}
	/* -o json --follow: the whole output once the task has ended. */
	if (opt_set(p, "follow"))
		rc = task_poll_ended(c, p->args[0], 0, 0, NULL, &res);
	json_decref(res);
	res = NULL;
	if (rc)
		return rc;
	/*
	 * The stored bytes exactly, stdout then stderr: printed (table) or
	 * read whole for -o json (no JSON answer to outgrow the client's cap).
	 */
	for (i = 0; i < 2 && rc == 0; i++) {
		if (!strcmp(stream, "all") || !strcmp(stream, names[i])) {
			k[i].buf = out_json(c) ? &raw[i] : NULL;
			rc = task_logs_raw(c, p->args[0], names[i], extra, &k[i]);
		}
	}
	if (rc == 0)
		rc = task_logs_counts(c, p->args[0], stream, extra, k, &res);
	if (rc == 0 && !out_json(c))
		note_lost(res, stream);
	if (rc == 0 && out_json(c)) {
		json_t *lines = json_array(), *o;

		for (i = 0; i < 2; i++) {
			cy_utf8_sanitize(raw[i].buf, raw[i].len, true, &text[i]);
			split_lines(lines, text[i].len ? text[i].buf : NULL);
		}
		o = json_pack("{s:s?, s:s, s:o}", "task_id", cy_json_str(res, "task_id"), "stream",
		    stream, "lines", lines);
		/* The server's {task_id, stdout, stderr} too (cli.md 1.2): the streams asked for.
		 */
		for (i = 0; i < 2; i++)
			if (!strcmp(stream, "all") || !strcmp(stream, names[i]))
				json_object_set_new(o, names[i],
				    json_stringn(text[i].len ? text[i].buf : "", text[i].len));
		copy_counts(o, res);
		print_json(o);
	}
	for (i = 0; i < 2; i++) {
		cy_buf_release(&raw[i]);
		cy_buf_release(&text[i]);
	}
	json_decref(res);
	return rc;
}

/* clang-format off */
static const struct opt list_opts[] = {
	{ .name = "status", .kind = OPT_ENUM, .arg = "STATUS", .help = "only tasks in this status",
	  .choices = status_choices },
	{ .name = "limit", .shrt = 'l', .kind = OPT_INT, .arg = "N",
	  .help = "at most N tasks (1-200, default 50)", .min = 1, .max = 200 },
	{ .name = "cursor", .kind = OPT_STR, .arg = "CURSOR",
	  .help = "continue from a previous listing" },
	{ .name = "no-headers", .kind = OPT_BOOL,
	  .help = "omit the table's header line (-o text, -o wide)" },
	{ .name = "all", .kind = OPT_BOOL, .help = "every user's tasks (operator, admin)" },
	{ NULL }
};
/* clang-format on */
static const struct opt result_opts[] = {
	{ .name = "wait", .shrt = 'w', .kind = OPT_BOOL, .help = "wait until the task has ended" },
	{ NULL }
};
static const struct opt cancel_opts[] = {
	{ .name = "yes", .shrt = 'y', .kind = OPT_BOOL, .help = "do not ask for confirmation" },
	{ NULL }
};
/* clang-format off */
static const struct opt logs_opts[] = {
	{ .name = "stream", .kind = OPT_ENUM, .arg = "STREAM",
	  .help = "stdout, stderr or all (default all)", .choices = stream_choices },
	{ .name = "follow", .shrt = 'F', .kind = OPT_BOOL,
	  .help = "print the output as the job writes it, until the task ends" },
	{ .name = "index", .kind = OPT_INT, .arg = "N",
	  .help = "a job array's element N only (with --follow: until it ends)", .min = 0,
	  .max = 1000000 },
	{ NULL }
};
/* clang-format on */

const struct cmd cmd_task_list = {
	.path = "task list",
	.aliases = "ls",
	.summary = "list your tasks, newest first",
	.opts = list_opts,
	.flags = CMD_NEEDS_AUTH,
	.exec = task_list,
	.doc =
	    "Lists your tasks, newest first: one record line per task with task_id, status, task_name and created_at, and pending_reason for a task whose job waits (-o name: only the ids). With -o text (the default on a terminal) or -o wide, a table instead: TASK_ID, NAME, STATUS, MODE, CREATED (how long ago on a terminal), and PENDING_REASON when a listed task waits (why its queued job waits: Dependency, Priority, Resources, QueueLimit, NoMatchingNode ..., as Slurm's squeue shows it); -o wide adds UPDATED and INPUT (the first line of the prompt, script or commands). When more tasks exist, a --cursor CURSOR hint goes to standard error; -o json prints {\"tasks\": [...], \"next_cursor\": ...}, next_cursor present whenever more tasks exist. --cursor CURSOR continues after the last task shown (tasks created meanwhile do not shift the pages; an empty CURSOR is the first page); a garbage cursor is the server's 400 (exit 65).",
};
const struct cmd cmd_task_get = {
	.path = "task get",
	.summary = "show a task",
	.usage = "<task>",
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_NEEDS_AUTH,
	.exec = task_get,
	.doc =
	    "Shows a task (by id or task name) on one line with task_id, status, task_name, created_at and updated_at, then its job: job_status, exit_code, node, attempts, queued_at, started_at, ended_at, queued_s (seconds from creation to the last start, or until now while queued), run_s (seconds from the start to the end, or until now while running), and what it was created with: image or model, timeout_s, network, priority, max_attempts, backoff_s, labels, gpus, cpus, memory_mb, disk_mb, tmp_mb (only those set). -o text (the default on a terminal) shows the same as labelled fields with durations in human units and how long ago each time was. -o json prints task_id, task_name, status, input_mode, the input under the name of its mode (prompt, script, or commands as an array), created_at, updated_at, attachments, how the job ran (exit_code, node, attempts, queued_at, started_at, ended_at, queued_seconds, run_seconds) and what it asked for under \"job\" (see JSON OUTPUT in cynork(1)). A job array (task create --array) adds array=SPEC, array_size and its elements per state (array_completed, array_failed, array_canceled, array_running, array_queued, array_held: waiting for the cap or a dependency); -o text an Array: line; -o json an \"array\" object {spec, cap, size, counts}; the job fields are then its last element's. An unknown task exits 66.",
};
const struct cmd cmd_task_result = {
	.path = "task result",
	.summary = "show a task's status and output",
	.usage = "<task>",
	.opts = result_opts,
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_NEEDS_AUTH,
	.exec = task_result,
	.doc =
	    "Shows a task's status on exactly one line and, once the task has ended, exit_code, stdout and stderr (logfmt-quoted, so multi-line output stays on the line). With -o text (the default on a terminal), prints the job's stdout and stderr raw as it wrote them (to standard output and standard error), then \"task NAME: STATUS, exit code N\" on standard error (not with -q). -o json prints task_id, status, task_name and, when ended, exit_code, stdout and stderr.\n\nA job array prints the task's line (task_id, status, task_name, array, size and the elements per state: completed, failed, canceled, running, queued, held), then a line per element in index order: task_id, index, status, exit_code, and, once it ended, stdout and stderr; -o text each element's output as it wrote it and \"task NAME[INDEX]: STATUS, exit code N\" on standard error; -o json {task_id, status, task_name, array, elements: [{index, status, exit_code, stdout, stderr}]}.\n\nWith --wait, waits until the task has ended (server long poll) and exits 0 whatever the job's code; task wait exits with the job's code instead.",
};
const struct cmd cmd_task_cancel = {
	.path = "task cancel",
	.summary = "cancel a task",
	.usage = "<task>",
	.opts = cancel_opts,
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_NEEDS_AUTH,
	.exec = task_cancel,
	.doc =
	    "Cancels a queued or running task. Without -y, asks \"Cancel task TASK? [y/N]\" on standard error; any answer but y or Y exits 0 and sends nothing; when standard input is not a terminal, it exits 64 and sends nothing. Prints task_id=ID canceled=true [task_name=NAME]. A task that has already ended is a conflict (exit 73).",
};
const struct cmd cmd_task_logs = {
	.path = "task logs",
	.summary = "print a task's output",
	.usage = "<task>",
	.opts = logs_opts,
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_NEEDS_AUTH,
	.exec = task_logs,
	.doc =
	    "Prints a task's whole stored output byte for byte (GET /v1/tasks/{id}/logs?format=raw: standard output first, then standard error), then says on standard error how many bytes a log limit cut, if any. The node streams a job's output to the server while it runs, and the server keeps up to logs.max_bytes_per_stream (default 64 MiB) of each stream; task result shows only the result's first 256 KiB. -o json prints {\"task_id\", \"stream\", \"lines\", \"stdout\", \"stderr\", \"bytes\", \"stored_bytes\", \"truncated\", \"lost_bytes\"}: lines are the chosen streams' lines (standard output's, then standard error's), stdout and stderr each stream's whole text as the server's GET /v1/tasks/{id}/logs gives it (only the streams --stream chose; invalid UTF-8 shows as U+FFFD), and the last four are keyed by stream (what a log limit cut is counted there, never silently dropped). An unknown task exits 66. With --index N, only element N of a job array (an index the array does not have exits 66).\n\n"
	    "With --follow (-F), prints the output while the job writes it: cynork asks the server "
	    "(GET /v1/tasks/{id}/logs?follow=true&wait=30 with the offsets reached: a long poll the "
	    "server answers as soon as new output is stored) and prints only the new text of the chosen "
	    "streams (both go to standard output, each piece of standard output before the piece of "
	    "standard error that came with it; invalid UTF-8 shows as U+FFFD). Once the task has "
	    "ended and everything is printed, cynork says on standard error how many bytes a log "
	    "limit cut, if any, and exits 0 whatever the job's code. A queued task prints nothing "
	    "until it runs. With -o json, --follow waits until the task has ended (server long poll) "
	    "and prints the JSON once.\n\n"
	    "When standard error is a terminal and -q is not given, the task's state changes show there as they happen, a line each (task T: queued, task T: running on NODE, task T: completed, exit 0 after 1.2 s, the time waited); the long polls are then at most 2 s each. Nothing of it when standard error is not a terminal.",
};
