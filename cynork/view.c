/*
 * What cynork shows of a task and a node besides record lines: the task
 * object of -o json/-o yaml (one name per thing: the server's id, summary
 * and prompt become task_id, task_name and the job's input under the name
 * of its mode; how the job ran at the top, what it asked for under "job"),
 * and the person-oriented views of -o text (the default on a terminal):
 * labelled fields, durations in human units ("1.2s", "3m 12s"), times with
 * how long ago they were, states in colour.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "buf.h"
#include "cynork.h"
#include "json.h"
#include "timeutil.h"
#include "banned.h"

#define LABEL_WIDTH 12

void
fmt_duration(double s, struct cy_buf *out)
{
	long long n;

	if (!(s >= 0)) /* also NaN */
		s = 0;
	if (s < 1 && s != 0) {
		cy_buf_addf(out, "%lldms", (long long)llround(s * 1000));
		return;
	}
	if (s < 10 && fabs(s - round(s)) >= 0.05) {
		cy_buf_addf(out, "%.1fs", s);
		return;
	}
	n = llround(s);
	if (n < 60)
		cy_buf_addf(out, "%llds", n);
	else if (n < 3600)
		cy_buf_addf(out, n % 60 ? "%lldm %llds" : "%lldm", n / 60, n % 60);
	else if (n < 86400)
		cy_buf_addf(out, n % 3600 / 60 ? "%lldh %lldm" : "%lldh", n / 3600, n % 3600 / 60);
	else
		cy_buf_addf(out, n % 86400 / 3600 ? "%lldd %lldh" : "%lldd", n / 86400,
		    n % 86400 / 3600);
}

void
fmt_age(long long s, struct cy_buf *out)
{
	bool future = s < 0;

	if (future)
		s = -s;
	if (s < 1) {
		cy_buf_addstr(out, "just now");
		return;
	}
	if (future)
		cy_buf_addstr(out, "in ");
	if (s < 60)
		cy_buf_addf(out, "%llds", s);
	else if (s < 3600)
		cy_buf_addf(out, "%lldm", s / 60);
	else if (s < 86400)
		cy_buf_addf(out, "%lldh", s / 3600);
	else
		cy_buf_addf(out, "%lldd", s / 86400);
	if (!future)
		cy_buf_addstr(out, " ago");
}

void
fmt_when(const char *ts, struct cy_buf *out)
{
	time_t t;
	char when[CY_RFC3339_LEN + 1];

	if (!ts || cy_time_parse_rfc3339(ts, &t) < 0) {
		cy_buf_addstr(out, ts && *ts ? ts : "-");
		return;
	}
	cy_time_rfc3339(t, when);
	/* "2026-12-06 20:17:51 UTC (3m ago)" */
	when[10] = ' ';
	when[19] = '\0';
	cy_buf_addf(out, "%s UTC (", when);
	fmt_age((long long)(time(NULL) - t), out);
	cy_buf_addstr(out, ")");
}

/* One labelled line: "Label:      value". */
static void
field(const char *label, const char *value)
{
	if (!value || !*value)
		return;
	printf("%-*s %s\n", LABEL_WIDTH, label, value);
}

static void
field_when(const char *label, const char *ts)
{
	struct cy_buf b = CY_BUF_INIT;

	if (!ts || !*ts)
		return;
	fmt_when(ts, &b);
	field(label, b.buf);
	cy_buf_release(&b);
}

/* A field holding a multi-line value: the first line after the label, the rest indented. */
static void
field_text(const char *label, const char *text)
{
	size_t n;

	if (!text || !*text)
		return;
	printf("%-*s ", LABEL_WIDTH, label);
	while (*text) {
		n = strcspn(text, "\n");
		fwrite(text, 1, n, stdout);
		fputc('\n', stdout);
		text += n;
		if (*text == '\n')
			text++;
		if (*text)
			printf("%-*s ", LABEL_WIDTH, "");
	}
}

static const char *const job_ran[] = { "exit_code", "node", "attempts", "queued_at", "started_at",
	"ended_at", "queued_seconds", "run_seconds", NULL };

/*
 * The task's input under the name of its mode: commands (an array, one
 * per line of text), script, or prompt (no mode: the default, prompt).
 */
static void
task_input_view(json_t *o, const char *mode, const char *text)
{
	if (mode && strcmp(mode, "commands") == 0) {
		json_t *arr = json_array();

		while (text && *text) {
			size_t n = strcspn(text, "\n");

			if (n)
				json_array_append_new(arr, json_stringn(text, n));
			text += n + (text[n] == '\n');
		}
		json_object_set_new(o, "commands", arr);
	} else if (mode && strcmp(mode, "script") == 0) {
		json_object_set_new(o, "script", json_string(text ? text : ""));
	} else {
		json_object_set_new(o, "prompt", json_string(text ? text : ""));
	}
}

json_t *
task_body_view(const json_t *body)
{
	const char *mode = cy_json_str(body, "input_mode"), *key;
	json_t *o = json_object(), *v;

	/* The input first, as task get has it; then the rest as sent. */
	if (mode)
		json_object_set_new(o, "input_mode", json_string(mode));
	task_input_view(o, mode, cy_json_str(body, "prompt"));
	json_object_foreach((json_t *)body, key, v) {
		if (strcmp(key, "prompt") != 0 && strcmp(key, "input_mode") != 0)
			json_object_set(o, key, v);
	}
	return o;
}

json_t *
task_json_view(const json_t *srv)
{
	const char *mode = cy_json_str(srv, "input_mode");
	const char *text = cy_json_str(srv, "prompt");
	const json_t *job = json_object_get(srv, "job");
	json_t *o = json_object(), *v, *item;
	const char *key;
	size_t i;

	json_object_set_new(o, "task_id",
	    json_string(cy_json_str(srv, "task_id") ? cy_json_str(srv, "task_id") :
						      cy_json_str(srv, "id")));
	json_object_set(o, "task_name", json_object_get(srv, "task_name"));
	json_object_set(o, "status", json_object_get(srv, "status"));
	if (mode)
		json_object_set_new(o, "input_mode", json_string(mode));
	task_input_view(o, mode, text);
	json_object_set(o, "created_at", json_object_get(srv, "created_at"));
	json_object_set(o, "updated_at", json_object_get(srv, "updated_at"));
	if (json_object_get(srv, "attachments"))
		json_object_set(o, "attachments", json_object_get(srv, "attachments"));
	/* The list's pending reason (task get has it in job). */
	if (json_object_get(srv, "pending_reason"))
		json_object_set(o, "pending_reason", json_object_get(srv, "pending_reason"));
	if (json_is_object(json_object_get(srv, "array")))
		json_object_set(o, "array", json_object_get(srv, "array"));
	if (!json_is_object(job))
		return o;
	/* How the job ran: at the top, null while not known. */
	for (i = 0; job_ran[i]; i++) {
		v = json_object_get(job, job_ran[i]);
		json_object_set(o, job_ran[i], v ? v : json_null());
	}
	/* What it asked for, under job. */
	v = json_object();
	json_object_foreach((json_t *)job, key, item) {
		size_t k;

		for (k = 0; job_ran[k] && strcmp(job_ran[k], key); k++)
			;
		if (job_ran[k])
			continue;
		json_object_set(v, strcmp(key, "id") == 0 ? "job_id" : key, item);
	}
	json_object_set_new(o, "job", v);
	return o;
}

/* "completed (exit code 0)" with the state in colour. */
static void
field_status(const struct ctx *c, const char *label, const char *status, const json_t *code)
{
	char *st = state_text(c, status);
	struct cy_buf b = CY_BUF_INIT;

	cy_buf_addstr(&b, st);
	if (json_is_integer(code))
		cy_buf_addf(&b, " (exit code %lld)", (long long)json_integer_value(code));
	field(label, b.buf);
	cy_buf_release(&b);
	free(st);
}

static void
field_seconds(const char *label, const json_t *v, const char *suffix)
{
	struct cy_buf b = CY_BUF_INIT;

	if (!json_is_number(v))
		return;
	fmt_duration(json_number_value(v), &b);
	cy_buf_addstr(&b, suffix);
	field(label, b.buf);
	cy_buf_release(&b);
}

static void
field_int(const char *label, const json_t *v, const char *suffix)
{
	char num[64];

	if (!json_is_integer(v))
		return;
	xsnprintf(num, sizeof(num), "%lld%s", (long long)json_integer_value(v), suffix);
	field(label, num);
}

/* The strings of a JSON array joined by ", " (empty when none); caller frees. */
static char *
joined(const json_t *arr)
{
	struct cy_buf b = CY_BUF_INIT;
	const json_t *v;
	size_t i;

	json_array_foreach(arr, i, v) {
		const char *s = json_is_string(v) ? json_string_value(v) : cy_json_str(v, "name");

		if (s)
			cy_buf_addf(&b, "%s%s", b.len ? ", " : "", s);
	}
	return cy_buf_detach(&b, NULL);
}

int
task_get_text(const struct ctx *c, const json_t *srv)
{
	json_t *o = task_json_view(srv);
	const json_t *job = json_object_get(o, "job");
	const json_t *res = json_object_get(job, "resources");
	struct cy_buf b = CY_BUF_INIT;
	char *s;

	cy_buf_addf(&b, "%s (%s)", cy_json_str(o, "task_name") ? cy_json_str(o, "task_name") : "-",
	    cy_json_str(o, "task_id") ? cy_json_str(o, "task_id") : "-");
	field("Task:", b.buf);
	field_status(c, "Status:", cy_json_str(o, "status"), json_object_get(o, "exit_code"));
	field("Mode:", cy_json_str(o, "input_mode"));
	if (json_is_object(json_object_get(o, "array"))) {
		char *sum = task_array_summary(json_object_get(o, "array"));

		field("Array:", sum);
		free(sum);
	}
	if (json_is_array(json_object_get(o, "commands"))) {
		const json_t *v;
		size_t i;

		cy_buf_reset(&b);
		json_array_foreach(json_object_get(o, "commands"), i, v)
			cy_buf_addf(&b, "%s%s", i ? "\n" : "", json_string_value(v));
		field_text("Commands:", b.buf);
	}
	field_text("Script:", cy_json_str(o, "script"));
	field_text("Prompt:", cy_json_str(o, "prompt"));
	field_when("Created:", cy_json_str(o, "created_at"));
	field("Node:", cy_json_str(o, "node"));
	if (json_is_integer(json_object_get(o, "attempts"))) {
		cy_buf_reset(&b);
		cy_buf_addf(&b, "%lld",
		    (long long)json_integer_value(json_object_get(o, "attempts")));
		if (json_is_integer(json_object_get(job, "max_attempts")))
			cy_buf_addf(&b, " of %lld",
			    (long long)json_integer_value(json_object_get(job, "max_attempts")));
		field("Attempts:", b.buf);
	}
	field_seconds("Queued:", json_object_get(o, "queued_seconds"), "");
	field_when("Started:", cy_json_str(o, "started_at"));
	field_when("Ended:", cy_json_str(o, "ended_at"));
	if (cy_json_str(o, "started_at"))
		field_seconds("Ran:", json_object_get(o, "run_seconds"),
		    cy_json_str(o, "ended_at") ? "" : " so far");
	field("Image:", cy_json_str(job, "image"));
	field("Model:", cy_json_str(job, "model"));
	if (json_is_integer(json_object_get(job, "timeout_seconds")))
		field_seconds("Timeout:", json_object_get(job, "timeout_seconds"), "");
	field("Network:", cy_json_str(job, "network_policy"));
	field("Waiting:", cy_json_str(job, "pending_reason"));
	field("Queue:", cy_json_str(job, "queue"));
	field_int("Priority:", json_object_get(job, "priority"), "");
	field_seconds("Backoff:", json_object_get(job, "retry_backoff_seconds"), "");
	s = joined(json_object_get(json_object_get(job, "requirements"), "labels"));
	field("Labels:", s);
	free(s);
	if (json_integer_value(json_object_get(json_object_get(job, "requirements"), "gpus")) > 0)
		field_int("GPUs:", json_object_get(json_object_get(job, "requirements"), "gpus"),
		    "");
	field("GPU model:", cy_json_str(json_object_get(job, "requirements"), "gpu_model"));
	s = joined(json_object_get(json_object_get(job, "requirements"), "nodes"));
	field("Nodes:", s);
	free(s);
	field_int("CPUs:", json_object_get(res, "cpu_cores"), "");
	field_int("Memory:", json_object_get(res, "memory_mb"), " MB");
	field_int("Disk:", json_object_get(res, "workspace_mb"), " MB");
	field_int("Tmp:", json_object_get(res, "tmp_mb"), " MB");
	s = joined(json_object_get(o, "attachments"));
	field("Attachments:", s);
	free(s);
	cy_buf_release(&b);
	json_decref(o);
	return 0;
}

int
nodes_get_text(const struct ctx *c, const json_t *n)
{
	const json_t *caps = json_object_get(n, "capabilities");
	const json_t *comp = json_object_get(caps, "compute"),
		     *inf = json_object_get(caps, "inference");
	struct cy_buf b = CY_BUF_INIT;
	const json_t *v;
	char *s;
	size_t i;

	cy_buf_addf(&b, "%s (%s)", cy_json_str(n, "node_slug") ? cy_json_str(n, "node_slug") : "-",
	    cy_json_str(n, "node_id") ? cy_json_str(n, "node_id") : "-");
	field("Node:", b.buf);
	s = state_text(c, cy_json_str(n, "status"));
	cy_buf_reset(&b);
	cy_buf_addf(&b, "%s, %s", s,
	    json_is_false(json_object_get(n, "enabled")) ? "disabled" : "enabled");
	free(s);
	field("Status:", b.buf);
	field("Drained:", cy_json_str(n, "drain_reason"));
	field_when("Last seen:", cy_json_str(n, "last_seen_at"));
	cy_buf_reset(&b);
	cy_buf_addf(&b, "%lld running of %lld",
	    (long long)json_integer_value(json_object_get(n, "running_jobs")),
	    (long long)json_integer_value(json_object_get(n, "max_concurrency")));
	field("Jobs:", b.buf);
	s = joined(json_object_get(n, "labels"));
	field("Labels:", s);
	free(s);
	field("Worker API:", cy_json_str(n, "worker_api_url"));
	if (cy_json_str(n, "config_version") || cy_json_str(n, "config_ack_version")) {
		cy_buf_reset(&b);
		s = state_text(c, cy_json_str(n, "config_ack_status"));
		cy_buf_addf(&b, "%s (desired %s, applied %s)", s,
		    cy_json_str(n, "config_version") ? cy_json_str(n, "config_version") : "-",
		    cy_json_str(n, "config_ack_version") ? cy_json_str(n, "config_ack_version") :
							   "-");
		free(s);
		field("Config:", b.buf);
	}
	field("Config error:", cy_json_str(n, "config_ack_error"));
	json_array_foreach(json_object_get(n, "conditions"), i, v) {
		cy_buf_reset(&b);
		cy_buf_addf(&b, "%s%s%s", cy_json_str(v, "type") ? cy_json_str(v, "type") : "-",
		    cy_json_str(v, "message") ? ": " : "",
		    cy_json_str(v, "message") ? cy_json_str(v, "message") : "");
		field(i ? "" : "Conditions:", b.buf);
	}
	if (json_is_object(caps)) {
		cy_buf_reset(&b);
		if (json_is_integer(json_object_get(comp, "cpu_cores")))
			cy_buf_addf(&b, "%lld CPUs",
			    (long long)json_integer_value(json_object_get(comp, "cpu_cores")));
		if (json_is_integer(json_object_get(comp, "ram_mb")))
			cy_buf_addf(&b, "%s%lld MB RAM", b.len ? ", " : "",
			    (long long)json_integer_value(json_object_get(comp, "ram_mb")));
		cy_buf_addf(&b, "%s%zu GPUs", b.len ? ", " : "",
		    json_array_size(json_object_get(json_object_get(caps, "gpu"), "devices")));
		field("Compute:", b.buf);
		field("Inference:", json_is_true(json_object_get(inf, "running")) ? "running" :
				    json_is_true(json_object_get(inf, "supported")) ?
										    "supported" :
										    "unsupported");
		s = joined(json_object_get(inf, "available_models"));
		field("Models:", s);
		free(s);
	}
	field_when("Created:", cy_json_str(n, "created_at"));
	cy_buf_release(&b);
	return 0;
}
