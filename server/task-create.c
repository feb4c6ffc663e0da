/*
 * POST /v1/tasks (contract 2.1 CreateTask and 4.2): checks the body,
 * normalises the task's name, builds its job's payload (a sandboxed
 * script or commands, or a prompt for a model the fleet serves) with its
 * placement and retry fields, and stores task and job in one transaction
 * (store-tasks.c), answering an Idempotency-Key seen before with the task
 * it made first.  The dispatcher is woken at once.
 */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "auth.h"
#include "dispatch.h"
#include "id.h"
#include "inference.h"
#include "json.h"
#include "log.h"
#include "store-tasks.h"
#include "store-util.h"
#include "task-name.h"
#include "tasks.h"
#include "banned.h"

#define ATTACHMENT_MAX 2048
#define ATTACHMENTS_MAX 256
#define TIMEOUT_DEFAULT 3600
#define TIMEOUT_MAX 10800

/* An optional string field: absent/null -> NULL; -1 when not a string. */
static int opt_str(const json_t *body, const char *key, const char **out)
{
	json_t *v = json_object_get(body, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -1;
	*out = json_string_value(v);
	return 0;
}

/* Validates the attachments array into t (borrowed strings). */
static int create_attachments(const json_t *body, struct task_new *t,
	struct cy_http_resp *resp)
{
	json_t *arr = json_object_get(body, "attachments"), *v;
	const char **list;
	size_t i;

	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr)) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "attachments must be an array of paths");
		return -1;
	}
	if (json_array_size(arr) > ATTACHMENTS_MAX) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "at most %d attachments",
			ATTACHMENTS_MAX);
		return -1;
	}
	list = xcalloc(json_array_size(arr) + 1, sizeof(*list));
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) > ATTACHMENT_MAX ||
		    strlen(json_string_value(v)) != json_string_length(v)) {
			free(list);
			cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
				"attachment %zu must be a non-empty path of at most %d bytes",
				i + 1, ATTACHMENT_MAX);
			return -1;
		}
		list[i] = json_string_value(v);
	}
	t->attachments = list;
	t->nattachments = json_array_size(arr);
	return 0;
}

/*
 * The job payload for script/commands modes; caller frees.  With
 * use_inference the sandbox gets the job's inference socket (and, when a
 * model was named, CYNODE_INFERENCE_MODEL).
 */
static char *create_payload(const char *text, const char *image, long long timeout,
	bool use_inference, const char *model)
{
	json_t *p = json_pack("{s:[s,s,s], s:{}, s:I, s:s}", "command", "/bin/sh", "-c", text,
		"env", "timeout_seconds", (json_int_t)timeout, "network_policy", "restricted");
	char *s;

	if (image)
		json_object_set_new(p, "image", json_string(image));
	if (use_inference)
		json_object_set_new(p, "use_inference", json_true());
	if (model)
		json_object_set_new(json_object_get(p, "env"), "CYNODE_INFERENCE_MODEL",
			json_string(model));
	s = cy_json_dump(p);
	json_decref(p);
	return s;
}

/* The job payload of a prompt task (answered by `model` on a node); caller frees. */
static char *create_prompt_payload(const char *text, const char *model, long long timeout)
{
	json_t *p = json_pack("{s:s, s:s, s:s, s:I}", "mode", "prompt", "model", model,
		"prompt", text, "timeout_seconds", (json_int_t)timeout);
	char *s = cy_json_dump(p);

	json_decref(p);
	return s;
}

/*
 * Inference for a new task: the model of a prompt task (the one asked for,
 * else the fleet's default) must be served by a dispatchable node, and a
 * job with use_inference needs some node with a running backend.  *model
 * (caller frees) gets the model, NULL when none applies.  -1 with resp
 * filled when refused.
 */
static int create_inference(bool prompt_mode, bool use_inference, const char *asked,
	char **model, struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	struct inf_fleet f;
	const char *m;
	int ret = -1;

	*model = NULL;
	if (!prompt_mode && !use_inference)
		return 0;
	if (inference_fleet_load(&f, &err) < 0) {
		cy_log_error("inference_fleet_failed", "error", err.msg, NULL);
		cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot read the fleet");
		return -1;
	}
	m = asked ? asked : prompt_mode ? inference_default_model(&f) : NULL;
	if (m && inference_fleet_resolve(&f, m))
		m = inference_fleet_resolve(&f, m);
	if (f.n == 0 || (prompt_mode && !m)) {
		cy_resp_problem(resp, CY_PROBLEM_UNAVAILABLE, "no inference path available: no "
			"dispatchable node has a running inference backend%s", prompt_mode ?
			" with a model (prompt text is answered by a model; use input_mode "
			"commands or script to run it as shell)" : "");
	} else if (m && !inference_fleet_has(&f, m)) {
		struct cy_buf list = CY_BUF_INIT;
		json_t *models = inference_models_json(&f), *v;
		size_t i;

		json_array_foreach(json_object_get(models, "data"), i, v) {
			if (i == 20) {
				cy_buf_addstr(&list, ", ...");
				break;
			}
			cy_buf_addf(&list, "%s%s", i ? ", " : "", cy_json_str(v, "id"));
		}
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "model '%s' is not served by any "
			"dispatchable node (served: %s)", m, list.len ? list.buf : "none");
		cy_buf_release(&list);
		json_decref(models);
	} else {
		*model = m ? xstrdup(m) : NULL;
		ret = 0;
	}
	inference_fleet_release(&f);
	return ret;
}

/* Numbers of the dispatch fields, as text for the store. */
struct create_extra {
	char priority[16], max_attempts[16], backoff[16], gpus[16];
	struct cy_buf labels;		/* text[] literal */
};

/* An optional integer field in [lo, hi] written as text into out. */
static int opt_int(const json_t *body, const char *key, long long lo, long long hi,
	char *out, size_t outlen, struct cy_http_resp *resp)
{
	json_t *v = json_object_get(body, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			"%s must be an integer between %lld and %lld", key, lo, hi);
		return -1;
	}
	snprintf(out, outlen, "%lld", (long long)json_integer_value(v));
	return 0;
}

/*
 * issue 7: priority, max_attempts, retry_backoff_seconds and requirements
 * {labels: [..], gpus: N} (the node must have every label and that many GPUs).
 */
static int create_dispatch_fields(const json_t *body, struct task_new *t,
	struct create_extra *x, struct cy_http_resp *resp)
{
	json_t *req, *labels, *v;
	size_t i;

	if (opt_int(body, "priority", -1000, 1000, x->priority, sizeof(x->priority), resp) < 0 ||
	    opt_int(body, "max_attempts", 1, 100, x->max_attempts, sizeof(x->max_attempts),
		resp) < 0 ||
	    opt_int(body, "retry_backoff_seconds", 0, 86400, x->backoff, sizeof(x->backoff),
		resp) < 0)
		return -1;
	t->priority = x->priority[0] ? x->priority : NULL;
	t->max_attempts = x->max_attempts[0] ? x->max_attempts : NULL;
	t->retry_backoff_s = x->backoff[0] ? x->backoff : NULL;
	req = json_object_get(body, "requirements");
	if (!req || json_is_null(req))
		return 0;
	if (!json_is_object(req))
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			"requirements must be an object {labels, gpus}"), -1;
	if (opt_int(req, "gpus", 0, 1024, x->gpus, sizeof(x->gpus), resp) < 0)
		return -1;
	t->req_gpus = x->gpus[0] ? x->gpus : NULL;
	labels = json_object_get(req, "labels");
	if (!labels || json_is_null(labels))
		return 0;
	if (!json_is_array(labels) || json_array_size(labels) > 32)
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			"requirements.labels must be an array of at most 32 labels"), -1;
	cy_buf_addstr(&x->labels, "{");
	json_array_foreach(labels, i, v) {
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) > 128 ||
		    strlen(json_string_value(v)) != json_string_length(v))
			return cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
				"requirements.labels[%zu] must be a non-empty string of at most "
				"128 bytes", i), -1;
		store_array_add(&x->labels, json_string_value(v));
	}
	cy_buf_addstr(&x->labels, "}");
	t->req_labels = x->labels.buf;
	return 0;
}

/* The Idempotency-Key header: 1-255 printable ASCII characters, or absent. */
static int create_idempotency(struct cy_http_req *req, struct task_new *t,
	struct cy_http_resp *resp)
{
	const char *k = cy_req_header(req, "Idempotency-Key");
	size_t i, n;

	if (!k)
		return 0;
	n = strlen(k);
	for (i = 0; i < n; i++)
		if (k[i] < 0x21 || k[i] > 0x7e)
			break;
	if (n == 0 || n > 255 || i < n)
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			"Idempotency-Key must be 1 to 255 printable ASCII characters"), -1;
	t->idempotency_key = k;
	return 0;
}

/* Reads and checks the CreateTask fields other than attachments. */
static int create_parse(const json_t *body, struct task_new *t, const char **image,
	long long *timeout, const char **model, struct cy_http_resp *resp)
{
	const char *mode;
	json_t *v;

	if (opt_str(body, "prompt", &t->prompt) < 0 || !t->prompt || !*t->prompt ||
	    strlen(t->prompt) != json_string_length(json_object_get(body, "prompt")))
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "Prompt is required"), -1;
	if (opt_str(body, "input_mode", &mode) < 0 ||
	    (mode && strcmp(mode, "prompt") && strcmp(mode, "script") && strcmp(mode, "commands")))
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			"input_mode must be one of prompt, script, commands"), -1;
	t->input_mode = mode ? mode : "prompt";
	if (opt_str(body, "task_name", &t->name) < 0)
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			"task_name must be a string"), -1;
	if (opt_str(body, "project_id", &t->project_id) < 0 ||
	    (t->project_id && !cy_uuid_valid(t->project_id)))
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			"project_id must be a UUID"), -1;
	if (opt_str(body, "image", image) < 0 || (*image && !**image))
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			"image must be a non-empty string"), -1;
	v = json_object_get(body, "use_inference");
	if (v && !json_is_null(v) && !json_is_boolean(v))
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			"use_inference must be a boolean"), -1;
	t->req_inference = json_is_true(v) || strcmp(t->input_mode, "prompt") == 0;
	if (opt_str(body, "model", model) < 0 || (*model && !cy_model_name_valid(*model)))
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			"model must be a model name (1 to %d of A-Z a-z 0-9 . _ : / -, like "
			"qwen3.5:0.8b)", CY_MODEL_NAME_MAX), -1;
	if (*model && !t->req_inference)
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			"model applies to prompt tasks and to jobs with use_inference"), -1;
	*timeout = TIMEOUT_DEFAULT;
	v = json_object_get(body, "timeout_seconds");
	if (v && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > TIMEOUT_MAX)
			return cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
				"timeout_seconds must be an integer between 1 and %d",
				TIMEOUT_MAX), -1;
		*timeout = json_integer_value(v);
	}
	return 0;
}

void h_tasks_create(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	struct cy_buf name = CY_BUF_INIT;
	struct task_new t = { 0 };
	struct create_extra x = { .labels = CY_BUF_INIT };
	const char *image = NULL, *asked_model = NULL;
	char *payload = NULL, *model = NULL;
	long long timeout;
	bool prompt_mode, replayed = false;
	PGresult *res = NULL;
	json_t *body;

	if (!(body = cy_req_json(req, resp)))
		return;
	if (create_parse(body, &t, &image, &timeout, &asked_model, resp) < 0 ||
	    create_attachments(body, &t, resp) < 0 ||
	    create_dispatch_fields(body, &t, &x, resp) < 0 ||
	    create_idempotency(req, &t, resp) < 0)
		goto out;
	t.user_id = a->user_id;
	if (t.name) {
		task_name_normalise(t.name, &name);
		t.name = name.buf;
	}
	prompt_mode = strcmp(t.input_mode, "prompt") == 0;
	if (create_inference(prompt_mode, t.req_inference, asked_model, &model, resp) < 0)
		goto out;
	if (prompt_mode) {
		payload = create_prompt_payload(t.prompt, model, timeout);
		t.req_model = model;
	} else {
		payload = create_payload(t.prompt, image, timeout, t.req_inference, asked_model);
		t.req_model = asked_model;
	}
	t.payload = payload;
	res = store_task_create(&t, &replayed, &err);
	if (!res) {
		if (err.code == ENOENT) {
			cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "%s", err.msg);
		} else {
			cy_log_error("task_create_failed", "user", a->handle, "error", err.msg, NULL);
			cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot create the task");
		}
		goto out;
	}
	if (replayed) {
		cy_log_info("task_create_replayed", "task_id", PQgetvalue(res, 0, TC_ID), "user",
			a->handle, NULL);
		cy_resp_json(resp, 200, task_json(res, 0));
		cy_resp_header(resp, "Idempotent-Replayed", "true");
		goto out;
	}
	cy_log_info("task_created", "task_id", PQgetvalue(res, 0, TC_ID), "user", a->handle,
		"input_mode", t.input_mode, NULL);
	cy_resp_json(resp, 201, task_json(res, 0));
	dispatch_wake();
out:
	free(model);
	cy_buf_release(&x.labels);
	if (res)
		PQclear(res);
	free(payload);
	free((void *)t.attachments);
	cy_buf_release(&name);
	json_decref(body);
}
