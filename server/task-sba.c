/*
 * task-sba.c: agent (SBA) tasks on the server (README "Agent jobs",
 * lib/sba.h).  POST /v1/tasks with use_sba turns the prompt (or the
 * caller's job_spec_json) into the job spec the node's agent runner
 * executes; the dispatcher adds the job's id when it sends the job.  A
 * result reporting "completed" must carry a valid sba_result, checked here
 * again (the node checked it too); else the job failed.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "json.h"
#include "log.h"
#include "sba.h"
#include "tasks.h"
#include "banned.h"

json_t *
task_sba_spec(const json_t *body, const char *prompt, struct cy_http_resp *resp)
{
	json_t *given = json_object_get(body, "job_spec_json"), *spec;
	struct cy_error err = CY_ERROR_INIT;
	struct cy_buf why = CY_BUF_INIT;

	if (json_is_string(given)) {
		/* The reference sends the spec as JSON text; cynode takes either. */
		spec =
		    cy_json_parse(json_string_value(given), json_string_length(given), true, &err);
		if (!spec) {
			cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			    "job_spec_json is not a JSON object: %s", err.msg);
			return NULL;
		}
	} else if (json_is_object(given)) {
		spec = json_deep_copy(given);
	} else if (!given || json_is_null(given)) {
		/* A prompt alone: the agent works toward it. */
		spec = json_pack("{s:s, s:s}", "protocol_version", CY_SBA_PROTOCOL, "goal", prompt);
	} else {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "job_spec_json must be an object (or its JSON text)");
		return NULL;
	}
	if (json_object_get(spec, "job_id") || json_object_get(spec, "task_id")) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "job_spec_json.%s is set by the server when it dispatches the job; leave it out",
		    json_object_get(spec, "job_id") ? "job_id" : "task_id");
		json_decref(spec);
		return NULL;
	}
	if (cy_sba_spec_check(spec, false, NULL, &why) < 0) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "job_spec_json: %s", why.buf);
		cy_buf_release(&why);
		json_decref(spec);
		return NULL;
	}
	return spec;
}

bool
task_sba_verdict(json_t *result, const char *job_id, bool required)
{
	json_t *sr = json_object_get(result, "sba_result");
	const char *st = cy_json_str(result, "status");
	struct cy_buf why = CY_BUF_INIT;

	/* Checked only when the job completed: a failed agent may leave none. */
	if (!st || strcmp(st, "completed") || (!sr && !required))
		return true;
	if (!sr)
		cy_buf_addstr(&why, "the agent job completed without an sba_result");
	else if (cy_sba_result_check(sr, job_id, &why) == 0)
		return true;
	cy_log_warn("sba_result_invalid", "job_id", job_id, "error", why.buf, NULL);
	json_object_set_new(result, "status", json_string("failed"));
	json_object_set_new(result, "error", json_sprintf("sba_result: %s", why.buf));
	json_object_del(result, "sba_result");
	cy_buf_release(&why);
	return false;
}
