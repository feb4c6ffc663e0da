/*
 * sba.c: the agent job spec and result rules (sba.h), on lib/jcheck.c's
 * tables plus what a table cannot say (the protocol's major version, the
 * members each step type takes).
 */
#include <stdlib.h>
#include <string.h>

#include "id.h"
#include "jcheck.h"
#include "json.h"
#include "relpath.h"
#include "sba.h"
#include "banned.h"

static const char *const step_types[] = { "run", "write_file", "inference", NULL };
static const char *const result_states[] = { "completed", "failed", NULL };

/* "MAJOR.MINOR": digits, one dot, digits (at most 9 each). */
static bool
version_valid(const char *s)
{
	size_t a = strspn(s, "0123456789"), b;

	if (a == 0 || a > 9 || s[a] != '.')
		return false;
	b = strspn(s + a + 1, "0123456789");
	return b > 0 && b <= 9 && s[a + 1 + b] == '\0';
}

static bool
job_id_valid(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 128 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789-_.") == n;
}

static bool
relpath_ok(const char *s)
{
	return cy_relpath_valid(s, strlen(s), NULL);
}

#define VERSION_ROW \
	{ \
		.name = "protocol_version", .type = CY_JC_STRING, .required = true, \
		.valid = version_valid, \
		.shape = "a version \"MAJOR.MINOR\" (this side speaks 1.x)" \
	}
#define JOB_ID_ROW(req) \
	{ \
		.name = "job_id", .type = CY_JC_STRING, .required = (req), .valid = job_id_valid, \
		.shape = "a job id (1 to 128 letters, digits, '-', '_', '.')" \
	}

/* clang-format off */
static const struct cy_jcheck step_spec = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "id", .type = CY_JC_STRING, .min = 1, .max = 64, .printable = true },
		{ .name = "type", .type = CY_JC_STRING, .required = true, .choices = step_types },
		{ .name = "argv", .type = CY_JC_ARRAY, .min = 1, .max = 256,
		  .item = &(const struct cy_jcheck_field){ .type = CY_JC_STRING, .max = 65536 } },
		{ .name = "timeout_seconds", .type = CY_JC_INT, .min = 1, .max = 86400 },
		{ .name = "continue_on_error", .type = CY_JC_BOOL },
		{ .name = "path", .type = CY_JC_STRING, .valid = relpath_ok,
		  .shape = "a relative path under /workspace" },
		{ .name = "content", .type = CY_JC_STRING, .max = CY_SBA_CONTENT_MAX },
		{ .name = "prompt", .type = CY_JC_STRING, .min = 1, .max = CY_SBA_GOAL_MAX },
		{ .name = "save_as", .type = CY_JC_STRING, .valid = relpath_ok,
		  .shape = "a relative path under /workspace" }),
};

/* job_id is optional here: the server checks specs before the job exists. */
static const struct cy_jcheck spec_rows = {
	.fields = CY_JCHECK_ROWS(VERSION_ROW, JOB_ID_ROW(false),
		{ .name = "task_id", .type = CY_JC_STRING, .min = 1, .max = 128 },
		{ .name = "goal", .type = CY_JC_STRING, .min = 1, .max = CY_SBA_GOAL_MAX },
		{ .name = "instructions", .type = CY_JC_STRING, .max = CY_SBA_INSTRUCTIONS_MAX },
		{ .name = "model", .type = CY_JC_STRING, .valid = cy_model_name_valid,
		  .shape = "a model name" },
		{ .name = "max_steps", .type = CY_JC_INT, .min = 1, .max = CY_SBA_STEPS_MAX },
		{ .name = "steps", .type = CY_JC_ARRAY, .max = CY_SBA_STEPS_MAX,
		  .item = &(const struct cy_jcheck_field){ .type = CY_JC_OBJECT,
			.sub = &step_spec } }),
};

static const struct cy_jcheck result_step = {
	.open = true,
	.fields = CY_JCHECK_ROWS(
		{ .name = "type", .type = CY_JC_STRING, .required = true, .min = 1, .max = 64 },
		{ .name = "status", .type = CY_JC_STRING, .required = true, .min = 1, .max = 64 }),
};

/* Open: a later 1.x may add members, which this side keeps and ignores. */
static const struct cy_jcheck result_rows = {
	.open = true,
	.fields = CY_JCHECK_ROWS(VERSION_ROW, JOB_ID_ROW(true),
		{ .name = "status", .type = CY_JC_STRING, .required = true,
		  .choices = result_states },
		{ .name = "steps", .type = CY_JC_ARRAY, .required = true, .max = 4096,
		  .item = &(const struct cy_jcheck_field){ .type = CY_JC_OBJECT,
			.sub = &result_step } },
		{ .name = "artifacts", .type = CY_JC_ARRAY, .required = true, .max = 100000,
		  .item = &(const struct cy_jcheck_field){ .type = CY_JC_STRING, .min = 1,
			.max = 4096 } },
		{ .name = "reply", .type = CY_JC_STRING, .null_ok = true },
		{ .name = "error", .type = CY_JC_STRING, .null_ok = true }),
};
/* clang-format on */

/* The major version is 1; -1 with the reason in why. */
static int
major_check(const json_t *obj, struct cy_buf *why)
{
	const char *v = cy_json_str(obj, "protocol_version");
	size_t n = v ? strcspn(v, ".") : 0;

	/* version_valid passed: digits, a dot, digits. */
	if (v && (n != 1 || v[0] != '1')) {
		cy_buf_addf(why,
		    "protocol_version '%s': major version %.*s is not supported (this side "
		    "speaks 1.x)",
		    v, (int)n, v);
		return -1;
	}
	return 0;
}

/* The members each step type takes; the table allowed them all. */
static int
step_check(const json_t *st, size_t i, struct cy_buf *why)
{
	static const char *const takes[][6] = {
		{ "run", "argv", "timeout_seconds", "continue_on_error", NULL },
		{ "write_file", "path", "content", "continue_on_error", NULL },
		{ "inference", "prompt", "save_as", "continue_on_error", NULL },
	};
	static const char *const needs[][3] = {
		{ "run", "argv", NULL },
		{ "write_file", "path", "content" },
		{ "inference", "prompt", NULL },
	};
	const char *type = cy_json_str(st, "type"), *k;
	json_t *v;
	size_t t, j;

	for (t = 0; t < 3 && strcmp(takes[t][0], type); t++)
		;
	json_object_foreach((json_t *)st, k, v) {
		bool ok = !strcmp(k, "id") || !strcmp(k, "type");

		for (j = 1; !ok && takes[t][j]; j++)
			ok = !strcmp(k, takes[t][j]);
		if (!ok) {
			cy_buf_addf(why, "steps[%zu].%s does not go with a step of type %s", i, k,
			    type);
			return -1;
		}
	}
	for (j = 1; j < 3 && needs[t][j]; j++) {
		if (!json_object_get(st, needs[t][j])) {
			cy_buf_addf(why, "steps[%zu].%s is required for a step of type %s", i,
			    needs[t][j], type);
			return -1;
		}
	}
	return 0;
}

int
cy_sba_spec_check(const json_t *spec, bool need_job_id, const char *job_id, struct cy_buf *why)
{
	json_t *steps, *st;
	size_t i;

	if (!json_is_object(spec)) {
		cy_buf_addstr(why, "the job spec must be a JSON object");
		return -1;
	}
	if (cy_jcheck(spec, &spec_rows, why) != CY_JCHECK_OK)
		return -1;
	if (need_job_id && !json_object_get(spec, "job_id")) {
		cy_buf_addstr(why, "job_id is required");
		return -1;
	}
	if (major_check(spec, why) < 0)
		return -1;
	if (job_id && need_job_id && strcmp(cy_json_str(spec, "job_id"), job_id)) {
		cy_buf_addf(why, "job_id '%s' is not this job's ('%s')",
		    cy_json_str(spec, "job_id"), job_id);
		return -1;
	}
	steps = json_object_get(spec, "steps");
	json_array_foreach(steps, i, st) {
		if (step_check(st, i, why) < 0)
			return -1;
	}
	if (!json_array_size(steps) && !json_object_get(spec, "goal")) {
		cy_buf_addstr(why, "goal or steps is required (what is the agent to do?)");
		return -1;
	}
	return 0;
}

int
cy_sba_result_check(const json_t *res, const char *job_id, struct cy_buf *why)
{
	if (!json_is_object(res)) {
		cy_buf_addstr(why, "sba_result must be a JSON object");
		return -1;
	}
	if (cy_jcheck(res, &result_rows, why) != CY_JCHECK_OK || major_check(res, why) < 0)
		return -1;
	if (job_id && strcmp(cy_json_str(res, "job_id"), job_id)) {
		cy_buf_addf(why, "job_id '%.128s' is not this job's ('%s')",
		    cy_json_str(res, "job_id"), job_id);
		return -1;
	}
	return 0;
}
