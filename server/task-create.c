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
#include "arrayspec.h"
#include "auth.h"
#include "buf.h"
#include "dispatch.h"
#include "events.h"
#include "id.h"
#include "inference.h"
#include "jobenv.h"
#include "json.h"
#include "log.h"
#include "nodes.h"
#include "notify-send.h"
#include "queues.h"
#include "relpath.h"
#include "sba.h"
#include "secrets.h"
#include "skills.h"
#include "server.h"
#include "store-blobs.h"
#include "blobstore.h"
#include "store-tasks.h"
#include "store-util.h"
#include "task-name.h"
#include "tasks.h"
#include "banned.h"

/* Most tasks one task may wait for. */
#define AFTER_MAX 64

#define ATTACHMENTS_MAX 4096
#define ARTIFACT_PATTERNS_MAX 64 /* the table's bound; limits.attachments_max_count is lower */
#define TIMEOUT_DEFAULT 3600
#define TIMEOUT_MAX 10800
/* task_name as given; it is normalised and cut to TASK_NAME_MAX. */
#define TASK_NAME_GIVEN_MAX 200
#define IMAGE_MAX 1024
#define LABELS_MAX 32
#define LABEL_MAX 128
/* env: variables, and the bytes of one value and of all of them. */
#define ENV_MAX 256
#define ENV_VALUE_MAX (32 * 1024)
#define ENV_TOTAL_MAX (256 * 1024)

static const char *const input_modes[] = { "prompt", "script", "commands", NULL };
/* The node refuses "host" unless its sandbox.security and the pushed policy allow it. */
static const char *const network_policies[] = { "restricted", "none", "host", NULL };

/*
 * resources: what the job's sandbox may use (the node caps cpu_cores and
 * memory_mb at its own limits, tmp_mb likewise; it refuses workspace_mb
 * above its sandbox.resources.max_workspace_mb).  Sizes in MiB.
 */
/* clang-format off */
static const struct cy_jcheck resources_members = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "cpu_cores", .type = CY_JC_INT, .null_ok = true, .min = 1, .max = 4096 },
		{ .name = "memory_mb", .type = CY_JC_INT, .null_ok = true, .min = 16,
		  .max = 16777216 },
		{ .name = "workspace_mb", .type = CY_JC_INT, .null_ok = true, .min = 1,
		  .max = 16777216 },
		{ .name = "tmp_mb", .type = CY_JC_INT, .null_ok = true, .min = 1, .max = 1048576 }),
};
/* clang-format on */

/*
 * requirements: the labels a node must have, its GPUs (how many, and of
 * which model: a part of the devices' "vendor model", any case), and the
 * nodes it may run on (their slugs; none: any).
 */
#define GPU_MODEL_MAX 128
#define NODES_MAX 64
/* clang-format off */
static const struct cy_jcheck requirements_members = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "labels", .type = CY_JC_ARRAY, .null_ok = true, .max = LABELS_MAX,
		  .item = &(const struct cy_jcheck_field){ .type = CY_JC_STRING, .min = 1,
			.max = LABEL_MAX, .printable = true } },
		{ .name = "gpus", .type = CY_JC_INT, .null_ok = true, .min = 0, .max = 1024 },
		{ .name = "gpu_model", .type = CY_JC_STRING, .null_ok = true, .min = 1,
		  .max = GPU_MODEL_MAX, .printable = true },
		{ .name = "nodes", .type = CY_JC_ARRAY, .null_ok = true, .min = 1, .max = NODES_MAX,
		  .item = &(const struct cy_jcheck_field){ .type = CY_JC_STRING,
			.valid = cy_slug_valid, .shape = NODE_SLUG_SHAPE } }),
};
/* clang-format on */

/* A variable a job may set: a valid name the node does not set itself. */
static bool
env_settable(const char *s)
{
	return cy_env_name_valid(s) && !cy_env_name_reserved(s);
}

#define ENV_SETTABLE_SHAPE \
	"a variable name (a letter or '_', then letters, digits or '_'; not CYNODE_* or " \
	"INFERENCE_PROXY_URL, which the node sets)"

/* secrets[]: {name, env?}: the secret NAME in variable env (default: NAME). */
/* clang-format off */
static const struct cy_jcheck secret_ref_members = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "name", .type = CY_JC_STRING, .required = true,
		  .valid = cy_secret_name_valid, .shape = CY_SECRET_NAME_SHAPE },
		{ .name = "env", .type = CY_JC_STRING, .null_ok = true, .valid = env_settable,
		  .shape = ENV_SETTABLE_SHAPE }),
};
/* clang-format on */

/* An optional integer of the task (null stands for absent). */
#define TASK_INT(n, lo, hi) \
	{ \
		.name = (n), .type = CY_JC_INT, .null_ok = true, .min = (lo), .max = (hi) \
	}

/* CreateTask (contract 2.1 and 4.2) with cynode's dispatch and inference fields. */
/* One dependency: {"task": id or name, "condition": ok | notok | any (default ok)}. */
static const char *const after_conds[] = { "ok", "notok", "any", NULL };
/* clang-format off */
static const struct cy_jcheck after_item = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "task", .type = CY_JC_STRING, .required = true, .min = 1, .max = 200,
		  .shape = "a task's id or name" },
		{ .name = "condition", .type = CY_JC_STRING, .null_ok = true,
		  .choices = after_conds }),
};
/* clang-format on */

/* clang-format off */
const struct cy_jcheck tasks_create_body = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "prompt", .type = CY_JC_STRING, .required = true, .min = 1 },
		{ .name = "input_mode", .type = CY_JC_STRING, .null_ok = true,
		  .choices = input_modes },
		{ .name = "task_name", .type = CY_JC_STRING, .null_ok = true,
		  .max = TASK_NAME_GIVEN_MAX },
		{ .name = "project_id", .type = CY_JC_STRING, .null_ok = true,
		  .valid = cy_uuid_valid, .shape = "a UUID" },
		{ .name = "attachments", .type = CY_JC_ARRAY, .null_ok = true,
		  .max = ATTACHMENTS_MAX,
		  .item = &(const struct cy_jcheck_field){ .type = CY_JC_ANY } },
		{ .name = "artifacts", .type = CY_JC_ARRAY, .null_ok = true,
		  .max = ARTIFACT_PATTERNS_MAX,
		  .item = &(const struct cy_jcheck_field){ .type = CY_JC_STRING, .min = 1,
			.max = CY_RELPATH_MAX } },
		{ .name = "image", .type = CY_JC_STRING, .null_ok = true, .min = 1,
		  .max = IMAGE_MAX },
		TASK_INT("timeout_seconds", 1, TIMEOUT_MAX),
		TASK_INT("priority", -1000, 1000),
		TASK_INT("max_attempts", 1, 100),
		TASK_INT("retry_backoff_seconds", 0, 86400),
		{ .name = "requirements", .type = CY_JC_OBJECT, .null_ok = true,
		  .sub = &requirements_members },
		{ .name = "network_policy", .type = CY_JC_STRING, .null_ok = true,
		  .choices = network_policies },
		{ .name = "resources", .type = CY_JC_OBJECT, .null_ok = true,
		  .sub = &resources_members },
		{ .name = "use_inference", .type = CY_JC_BOOL, .null_ok = true },
		{ .name = "use_sba", .type = CY_JC_BOOL, .null_ok = true },
		{ .name = "allow_pending", .type = CY_JC_BOOL, .null_ok = true },
		{ .name = "after", .type = CY_JC_ARRAY, .null_ok = true, .min = 1,
		  .max = AFTER_MAX,
		  .item = &(const struct cy_jcheck_field){ .type = CY_JC_OBJECT,
			.sub = &after_item } },
		{ .name = "array", .type = CY_JC_STRING, .null_ok = true, .min = 1,
		  .max = CY_ARRAY_SPEC_MAX, .shape = CY_ARRAY_SPEC_SHAPE },
		{ .name = "skills", .type = CY_JC_ARRAY, .null_ok = true, .min = 1,
		  .max = SKILLS_PER_TASK,
		  .item = &(const struct cy_jcheck_field){ .type = CY_JC_STRING, .min = 1,
			.max = SKILL_NAME_MAX, .shape = "a skill's name or id" } },
		{ .name = "job_spec_json", .type = CY_JC_ANY, .null_ok = true },
		{ .name = "env", .type = CY_JC_OBJECT, .null_ok = true },
		{ .name = "secrets", .type = CY_JC_ARRAY, .null_ok = true,
		  .max = SECRETS_PER_TASK,
		  .item = &(const struct cy_jcheck_field){ .type = CY_JC_OBJECT,
			.sub = &secret_ref_members } },
		{ .name = "model", .type = CY_JC_STRING, .null_ok = true,
		  .valid = cy_model_name_valid, .shape = INFERENCE_MODEL_SHAPE },
		{ .name = "queue", .type = CY_JC_STRING, .null_ok = true,
		  .valid = queue_name_valid, .shape = QUEUE_NAME_SHAPE }),
};
/* clang-format on */

/* One attachment: {"name": relative path, "sha256": an upload of the caller's}. */
/* clang-format off */
static const struct cy_jcheck attachment_item = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "name", .type = CY_JC_STRING, .required = true, .min = 1,
		  .max = CY_RELPATH_MAX },
		{ .name = "sha256", .type = CY_JC_STRING, .required = true, .min = 64, .max = 64,
		  .shape = "64 lower-case hex digits (the upload's sha256)" }),
};
/* clang-format on */

/* One attachment item checked; -1 with resp filled. */
static int
attachment_check(const json_t *v, size_t i, struct cy_http_resp *resp)
{
	const char *name, *sha, *why = NULL;

	if (json_is_string(v)) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "attachments[%zu] is a path string; attachments are uploaded files now: "
		    "POST the file to /v1/uploads and give {\"name\": ..., \"sha256\": ...} "
		    "(cynork task create --attach does both)",
		    i);
		return -1;
	}
	if (!json_is_object(v)) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "attachments[%zu] must be an object {\"name\", \"sha256\"}", i);
		return -1;
	}
	{
		struct cy_buf w = CY_BUF_INIT;

		if (cy_jcheck(v, &attachment_item, &w) != CY_JCHECK_OK) {
			cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "attachments[%zu]: %s", i,
			    w.buf);
			cy_buf_release(&w);
			return -1;
		}
		cy_buf_release(&w);
	}
	name = cy_json_str(v, "name");
	sha = cy_json_str(v, "sha256");
	if (!blob_sha_valid(sha)) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "attachments[%zu].sha256 must be 64 lower-case hex digits", i);
		return -1;
	}
	if (!cy_relpath_valid(name, json_string_length(json_object_get(v, "name")), &why)) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "attachments[%zu].name '%.200s': %s (names are relative paths under "
		    "/workspace)",
		    i, name, why);
		return -1;
	}
	return 0;
}

/*
 * The attachments into t (borrowed from body) and, with their sizes, into
 * *list for the job payload: each checked, named once, an upload of the
 * caller's, within limits.attachments_max_count, attachment_max_bytes and
 * attachments_max_total_bytes.  -1 with resp filled.
 */
static int
create_attachments(const json_t *body, const char *user_id, struct task_new *t, json_t **list,
    struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	json_t *arr = json_object_get(body, "attachments"), *v;
	struct task_attachment *att;
	long long total = 0, size;
	size_t i, j;
	int rc;

	*list = NULL;
	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return 0;
	if ((long long)json_array_size(arr) > srv.cfg.attach_max_count) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "%zu attachments; at most %lld per task (limits.attachments_max_count)",
		    json_array_size(arr), srv.cfg.attach_max_count);
		return -1;
	}
	json_array_foreach(arr, i, v)
		if (attachment_check(v, i, resp) < 0)
			return -1;
	att = xcalloc(json_array_size(arr), sizeof(*att));
	t->attachments = att;
	*list = json_array();
	json_array_foreach(arr, i, v) {
		att[i].name = cy_json_str(v, "name");
		att[i].sha256 = cy_json_str(v, "sha256");
		for (j = 0; j < i; j++)
			if (!strcmp(att[j].name, att[i].name)) {
				cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
				    "attachments[%zu].name '%.200s' is given twice", i,
				    att[i].name);
				return -1;
			}
		rc = store_blob_owned(user_id, att[i].sha256, &size, &err);
		if (rc < 0) {
			cy_log_error("attachment_lookup_failed", "error", err.msg, NULL);
			cy_resp_problem(resp, CY_PROBLEM_INTERNAL,
			    "cannot look up the attachments");
			return -1;
		}
		if (rc == 0) {
			cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			    "attachments[%zu] ('%.200s'): no upload %s of yours (POST /v1/uploads "
			    "first; uploads of other users cannot be attached)",
			    i, att[i].name, att[i].sha256);
			return -1;
		}
		if (size > srv.cfg.attach_max_bytes) {
			cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			    "attachments[%zu] ('%.200s') is %lld bytes; at most %lld "
			    "(limits.attachment_max_bytes)",
			    i, att[i].name, size, srv.cfg.attach_max_bytes);
			return -1;
		}
		total += size;
		json_array_append_new(*list,
		    json_pack("{s:s, s:s, s:I}", "name", att[i].name, "sha256", att[i].sha256,
			"size", (json_int_t)size));
		t->nattachments = i + 1;
	}
	if (total > srv.cfg.attach_max_total) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "the attachments total %lld bytes; at most %lld per task "
		    "(limits.attachments_max_total_bytes)",
		    total, srv.cfg.attach_max_total);
		return -1;
	}
	return 0;
}

/*
 * The artifact patterns (each a safe relative glob: cy_relglob_valid);
 * -1 with resp filled.
 */
static int
create_artifacts(const json_t *body, struct cy_http_resp *resp)
{
	json_t *arr = json_object_get(body, "artifacts"), *v;
	const char *why = NULL;
	size_t i;

	json_array_foreach(arr, i, v) {
		if (!cy_relglob_valid(json_string_value(v), json_string_length(v), &why)) {
			cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			    "artifacts[%zu] '%.200s': %s (patterns are relative to /workspace)", i,
			    json_string_value(v), why);
			return -1;
		}
	}
	return 0;
}

/*
 * The sandbox fields of the body into the payload p: network_policy
 * (default restricted) and the resources object as given (checked by
 * resources_members; the node applies and caps it).
 */
static void
create_sandbox_fields(const json_t *body, json_t *p)
{
	json_t *res = json_object_get(body, "resources");
	const char *net = cy_json_str(body, "network_policy");

	json_object_set_new(p, "network_policy", json_string(net ? net : "restricted"));
	if (json_is_object(res) && json_object_size(res) > 0)
		json_object_set(p, "resources", res);
}

/*
 * The job payload for script/commands modes; caller frees.  With
 * use_inference the sandbox gets the job's inference socket (and, when a
 * model was named, CYNODE_INFERENCE_MODEL).  env is the job's variables
 * (a new object: create_env), secrets the references to its secrets
 * ([{name, env}], names only: the dispatcher adds the values to the
 * request it sends, never to the payload at rest).
 */
static char *
create_payload(const json_t *body, const char *text, const json_t *sba, const char *image,
    long long timeout, bool use_inference, const char *model, json_t *attachments,
    const json_t *env, const json_t *secrets)
{
	json_t *p = json_pack("{s:O, s:I}", "env", env, "timeout_seconds", (json_int_t)timeout);
	char *s;

	/* An agent job runs the node's agent runner on its spec, not a command. */
	if (sba)
		json_object_set(p, "sba", (json_t *)sba);
	else
		json_object_set_new(p, "command", json_pack("[s,s,s]", "/bin/sh", "-c", text));

	create_sandbox_fields(body, p);

	if (image)
		json_object_set_new(p, "image", json_string(image));
	if (use_inference)
		json_object_set_new(p, "use_inference", json_true());
	if (model)
		json_object_set_new(json_object_get(p, "env"), "CYNODE_INFERENCE_MODEL",
		    json_string(model));
	if (attachments)
		json_object_set(p, "attachments", attachments);
	if (json_is_array(json_object_get(body, "artifacts")))
		json_object_set(p, "artifacts", json_object_get(body, "artifacts"));
	if (json_array_size(secrets))
		json_object_set(p, "secrets", (json_t *)secrets);
	s = cy_json_dump(p);
	json_decref(p);
	return s;
}

/* The job payload of a prompt task (answered by `model` on a node); caller frees. */
static char *
create_prompt_payload(const char *text, const char *system, const char *model, long long timeout)
{
	json_t *p = json_pack("{s:s, s:s, s:s, s:I}", "mode", "prompt", "model", model, "prompt",
	    text, "timeout_seconds", (json_int_t)timeout);
	char *s;

	/* The skills the task names, as the model's system prompt. */
	if (system)
		json_object_set_new(p, "system", json_string(system));
	s = cy_json_dump(p);

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
static int
create_inference(bool prompt_mode, bool use_inference, const char *asked, char **model,
    struct cy_http_resp *resp)
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
		cy_resp_problem(resp, CY_PROBLEM_UNAVAILABLE,
		    "no inference path available: no "
		    "dispatchable node has a running inference backend%s",
		    prompt_mode ?
			" with a model (prompt text is answered by a model; use input_mode "
			"commands or script to run it as shell)" :
			"");
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
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "model '%s' is not served by any "
		    "dispatchable node (served: %s)",
		    m, list.len ? list.buf : "none");
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
	char priority[24], max_attempts[24], backoff[24], gpus[24], cpus[24], memory[24];
	struct cy_buf labels, nodes;          /* text[] literals */
	struct cy_buf after_ids, after_conds; /* uuid[] and text[] literals */
	char array_cap[24];
	struct cy_buf array_idx; /* int[] literal */
};

/* The integer at key as text in out (24 bytes hold any); NULL when absent. */
static const char *
int_text(const json_t *obj, const char *key, char out[24])
{
	long long n;

	if (cy_json_int(obj, key, &n) < 0)
		return NULL;
	xsnprintf(out, 24, "%lld", n);
	return out;
}

/*
 * priority, max_attempts, retry_backoff_seconds and requirements
 * {labels: [..], gpus: N} (the node must have every label and that many
 * GPUs) into t, as text.
 */
static void
create_dispatch_fields(const json_t *body, struct task_new *t, struct create_extra *x)
{
	json_t *req = json_object_get(body, "requirements"), *labels, *v;
	size_t i;

	t->priority = int_text(body, "priority", x->priority);
	t->max_attempts = int_text(body, "max_attempts", x->max_attempts);
	t->retry_backoff_s = int_text(body, "retry_backoff_seconds", x->backoff);
	t->req_gpus = int_text(req, "gpus", x->gpus);
	t->req_cpus = int_text(json_object_get(body, "resources"), "cpu_cores", x->cpus);
	t->req_memory_mb = int_text(json_object_get(body, "resources"), "memory_mb", x->memory);
	t->queue = cy_json_str(body, "queue");
	t->req_gpu_model = cy_json_str(req, "gpu_model");
	/* A GPU model asks for one GPU at least, reserved like any other. */
	if (t->req_gpu_model && (!t->req_gpus || !strcmp(t->req_gpus, "0")))
		t->req_gpus = "1";
	if (json_is_array(json_object_get(req, "nodes"))) {
		cy_buf_addstr(&x->nodes, "{");
		json_array_foreach(json_object_get(req, "nodes"), i, v)
			store_array_add(&x->nodes, json_string_value(v));
		cy_buf_addstr(&x->nodes, "}");
		t->req_nodes = x->nodes.buf;
	}
	labels = json_object_get(req, "labels");
	if (!json_is_array(labels))
		return;
	cy_buf_addstr(&x->labels, "{");
	json_array_foreach(labels, i, v)
		store_array_add(&x->labels, json_string_value(v));
	cy_buf_addstr(&x->labels, "}");
	t->req_labels = x->labels.buf;
}

/*
 * The job's variables (body "env", an object) as a new object in *env,
 * and its secret references (body "secrets") as a new array of
 * {name, env} in *refs: the names settable, the values strings within
 * bounds, no variable set twice.  -1 with resp filled.
 */
static int
create_env(const json_t *body, bool prompt_mode, json_t **env, json_t **refs,
    struct cy_http_resp *resp)
{
	json_t *e = json_object_get(body, "env"), *sec = json_object_get(body, "secrets"), *v;
	const char *k;
	size_t i, total = 0;

	*env = json_object();
	*refs = json_array();
	if (prompt_mode && (json_object_size(e) || json_array_size(sec))) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "env and secrets go with sandbox jobs (input_mode script or commands): a prompt "
		    "task runs no command");
		return -1;
	}
	if (json_object_size(e) > ENV_MAX) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "env has more than %d variables",
		    ENV_MAX);
		return -1;
	}
	json_object_foreach((json_t *)e, k, v) {
		if (!env_settable(k)) {
			cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "env: '%.64s' is not %s", k,
			    ENV_SETTABLE_SHAPE);
			return -1;
		}
		if (!json_is_string(v) || json_string_length(v) > ENV_VALUE_MAX ||
		    strlen(json_string_value(v)) != json_string_length(v)) {
			cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			    "env.%s must be a string of at most %d bytes without NUL", k,
			    ENV_VALUE_MAX);
			return -1;
		}
		total += strlen(k) + json_string_length(v);
		json_object_set(*env, k, v);
	}
	if (total > ENV_TOTAL_MAX) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "env holds %zu bytes: at most %d are allowed", total, ENV_TOTAL_MAX);
		return -1;
	}
	json_array_foreach(sec, i, v) {
		const char *name = cy_json_str(v, "name");
		const char *var = cy_json_str(v, "env") ? cy_json_str(v, "env") : name;
		json_t *r;
		size_t j;

		if (json_object_get(*env, var)) {
			cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			    "variable '%s' is set by env and by secret '%s'", var, name);
			return -1;
		}
		json_array_foreach(*refs, j, r) {
			if (!strcmp(cy_json_str(r, "env"), var)) {
				cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
				    "variable '%s' is set by two secrets", var);
				return -1;
			}
		}
		json_array_append_new(*refs, json_pack("{s:s, s:s}", "name", name, "env", var));
	}
	return 0;
}

/*
 * Every secret the task names must exist for its creator (in its project,
 * or the creator's own): else 400 naming the first missing one, before
 * anything is stored.
 */
static int
create_secrets_check(const struct task_new *t, const json_t *refs, struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	struct cy_buf names = CY_BUF_INIT;
	json_t *missing, *r;
	size_t i;
	int ret = 0;

	if (!json_array_size(refs))
		return 0;
	cy_buf_addch(&names, '{');
	json_array_foreach(refs, i, r)
		store_array_add(&names, cy_json_str(r, "name"));
	cy_buf_addch(&names, '}');
	missing = store_secrets_missing(t->user_id, t->project_id, names.buf, &err);
	cy_buf_release(&names);
	if (!missing) {
		cy_log_error("task_create_failed", "step", "secrets", "error", err.msg, NULL);
		cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot read your secrets");
		return -1;
	}
	if (json_array_size(missing)) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "unknown secret '%s': you have no secret of that name%s ('cynork secret list' "
		    "shows yours)",
		    json_string_value(json_array_get(missing, 0)),
		    t->project_id ? " for this project" : "");
		ret = -1;
	}
	json_decref(missing);
	return ret;
}

/* The Idempotency-Key header: 1-255 printable ASCII characters, or absent. */
static int
create_idempotency(struct cy_http_req *req, struct task_new *t, struct cy_http_resp *resp)
{
	const char *k = cy_req_header(req, "Idempotency-Key");
	size_t i, n;

	if (!k)
		return 0;
	n = strlen(k);
	for (i = 0; i < n; i++)
		if (k[i] < 0x21 || k[i] > 0x7e)
			break;
	if (n == 0 || n > 255 || i < n) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "Idempotency-Key must be 1 to 255 printable ASCII characters");
		return -1;
	}
	t->idempotency_key = k;
	return 0;
}

/* True when the body has key with a value other than null. */
static bool
body_has(const json_t *body, const char *key)
{
	json_t *v = json_object_get(body, key);

	return v && !json_is_null(v);
}

/*
 * Reads the CreateTask fields other than attachments and the dispatch
 * fields (their types and ranges are checked by tasks_create_body); -1
 * with resp filled when they do not go together.
 */
static int
create_parse(const json_t *body, struct task_new *t, const char **image, long long *timeout,
    const char **model, struct cy_http_resp *resp)
{
	t->prompt = cy_json_str(body, "prompt");
	t->input_mode =
	    cy_json_str(body, "input_mode") ? cy_json_str(body, "input_mode") : "prompt";
	t->name = cy_json_str(body, "task_name");
	t->project_id = cy_json_str(body, "project_id");
	*image = cy_json_str(body, "image");
	t->req_inference =
	    cy_json_bool(body, "use_inference", false) || strcmp(t->input_mode, "prompt") == 0;
	*model = cy_json_str(body, "model");
	if (*model && !t->req_inference) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "model applies to prompt tasks and to jobs with use_inference");
		return -1;
	}
	if (strcmp(t->input_mode, "prompt") == 0 &&
	    (body_has(body, "network_policy") || body_has(body, "resources"))) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "network_policy and resources apply to script and commands tasks (a prompt "
		    "task runs no sandbox)");
		return -1;
	}
	*timeout = TIMEOUT_DEFAULT;
	(void)cy_json_int(body, "timeout_seconds", timeout);
	return 0;
}

/*
 * use_sba: an agent job (task-sba.c) on the prompt, or on job_spec_json.
 * *spec gets the job spec (new), NULL for other tasks; *model the model
 * the spec names when the body names none.  -1 with resp filled.
 */
static int
create_sba(const json_t *body, struct task_new *t, json_t **spec, const char **model,
    struct cy_http_resp *resp)
{
	const char *m;

	*spec = NULL;
	if (!cy_json_bool(body, "use_sba", false)) {
		if (body_has(body, "job_spec_json")) {
			cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			    "job_spec_json goes with use_sba: true (an agent job)");
			return -1;
		}
		return 0;
	}
	if (strcmp(t->input_mode, "prompt")) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "use_sba runs an agent on the prompt (or on job_spec_json); a %s task runs "
		    "its own command (use use_inference to give it a model)",
		    t->input_mode);
		return -1;
	}
	if (!(*spec = task_sba_spec(body, t->prompt, resp)))
		return -1;
	m = cy_json_str(*spec, "model");
	if (m && *model && strcmp(m, *model)) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "model '%s' and job_spec_json.model '%s' differ: name it once", *model, m);
		json_decref(*spec);
		*spec = NULL;
		return -1;
	}
	if (!*model)
		*model = m;
	t->req_inference = true;
	return 0;
}

/*
 * "after": the caller's tasks this one waits for, by id or name, each
 * with its condition; into t as literals.  -1 with resp filled (a task the
 * caller does not have is a 400 naming it).
 */
static int
create_after(const json_t *body, struct task_new *t, struct create_extra *x,
    struct cy_http_resp *resp)
{
	json_t *after = json_object_get(body, "after"), *v;
	struct cy_error err = CY_ERROR_INIT;
	struct cy_buf refs = CY_BUF_INIT;
	PGresult *res;
	size_t i;
	int ret = 0;

	if (!json_array_size(after))
		return 0;
	cy_buf_addch(&refs, '{');
	cy_buf_addch(&x->after_conds, '{');
	json_array_foreach(after, i, v) {
		const char *c = cy_json_str(v, "condition");

		store_array_add(&refs, cy_json_str(v, "task"));
		store_array_add(&x->after_conds, c ? c : "ok");
	}
	cy_buf_addch(&refs, '}');
	cy_buf_addch(&x->after_conds, '}');
	res = store_task_deps_resolve(t->user_id, refs.buf, &err);
	cy_buf_release(&refs);
	if (!res) {
		cy_log_error("task_create_failed", "step", "after", "error", err.msg, NULL);
		cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot read your tasks");
		return -1;
	}
	cy_buf_addch(&x->after_ids, '{');
	for (i = 0; i < (size_t)PQntuples(res); i++) {
		if (PQgetisnull(res, (int)i, 1)) {
			cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			    "after[%zu]: you have no task '%.200s'", i,
			    cy_json_str(json_array_get(after, i), "task"));
			ret = -1;
			break;
		}
		store_array_add(&x->after_ids, PQgetvalue(res, (int)i, 1));
	}
	cy_buf_addch(&x->after_ids, '}');
	PQclear(res);
	if (ret == 0) {
		t->after_ids = x->after_ids.buf;
		t->after_conds = x->after_conds.buf;
	}
	return ret;
}

/*
 * "array": a job per index of the spec (arrayspec.h), for sandbox jobs
 * (script or commands); into t.  -1 with resp filled.
 */
static int
create_array(const json_t *body, bool sandbox, struct task_new *t, struct create_extra *x,
    struct cy_http_resp *resp)
{
	const char *spec = cy_json_str(body, "array");
	struct cy_array_spec a;
	char why[256];
	size_t i;

	if (!spec)
		return 0;
	if (!sandbox) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "array goes with sandbox jobs (input_mode script or commands): a %s task "
		    "cannot be an array",
		    t->input_mode);
		return -1;
	}
	if (cy_array_spec_parse(spec, strlen(spec), &a, why, sizeof(why)) < 0) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "array: %s (expected %s; at most %d elements, indexes 0-%d)", why,
		    CY_ARRAY_SPEC_SHAPE, CY_ARRAY_ELEMENTS_MAX, CY_ARRAY_INDEX_MAX);
		return -1;
	}
	cy_buf_addch(&x->array_idx, '{');
	for (i = 0; i < a.n; i++)
		cy_buf_addf(&x->array_idx, "%s%d", i ? "," : "", a.idx[i]);
	cy_buf_addch(&x->array_idx, '}');
	t->array_spec = spec;
	t->array_idx = x->array_idx.buf;
	if (a.cap > 0) {
		xsnprintf(x->array_cap, sizeof(x->array_cap), "%d", a.cap);
		t->array_cap = x->array_cap;
	}
	cy_array_spec_release(&a);
	return 0;
}

/*
 * A job asking for GPUs, CPUs, memory or labels that no registered node
 * has can never run: refused (400 with the numbers) unless allow_pending,
 * when it waits with the pending reason NoMatchingNode.  A queue it names
 * must exist.  -1 with resp filled.
 */
static bool
nonzero(const char *n)
{
	return n && strcmp(n, "0");
}

static int
create_fit(const json_t *body, const struct task_new *t, struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	char why[512];
	int rc;

	if (t->queue && strcmp(t->queue, "default")) {
		if ((rc = store_queue_exists(t->queue, &err)) < 0) {
			cy_log_error("task_create_failed", "step", "queue", "error", err.msg, NULL);
			cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot read the queues");
			return -1;
		}
		if (rc == 0) {
			cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			    "no queue named '%s' (cynork queue list shows them)", t->queue);
			return -1;
		}
	}
	if (!nonzero(t->req_gpus) && !nonzero(t->req_cpus) && !nonzero(t->req_memory_mb) &&
	    !t->req_labels && !t->req_gpu_model && !t->req_nodes)
		return 0;
	if (cy_json_bool(body, "allow_pending", false))
		return 0;
	rc = store_task_fit_problem(t, why, sizeof(why), &err);
	if (rc < 0) {
		cy_log_error("task_create_failed", "step", "placement", "error", err.msg, NULL);
		cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot read the fleet");
		return -1;
	}
	if (rc > 0) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "no node can run this task: %s (allow_pending: true queues it anyway)", why);
		return -1;
	}
	return 0;
}

int
task_create_checked(const json_t *body, const char *user_id, const char *handle,
    const char *idempotency_key, bool dry_run, json_t **task, bool *replayed,
    struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	struct cy_buf name = CY_BUF_INIT;
	struct task_new t = { 0 };
	struct create_extra x = { .labels = CY_BUF_INIT,
		.nodes = CY_BUF_INIT,
		.after_ids = CY_BUF_INIT,
		.after_conds = CY_BUF_INIT,
		.array_idx = CY_BUF_INIT };
	const char *image = NULL, *asked_model = NULL;
	char *payload = NULL, *model = NULL, *instructions = NULL;
	json_t *env = NULL, *refs = NULL, *sba = NULL;
	long long timeout;
	bool prompt_mode;
	PGresult *res = NULL;
	json_t *attachments = NULL;
	int ret = -1;

	*replayed = false;
	if (task)
		*task = NULL;
	t.idempotency_key = idempotency_key;
	if (create_parse(body, &t, &image, &timeout, &asked_model, resp) < 0 ||
	    create_attachments(body, user_id, &t, &attachments, resp) < 0 ||
	    create_artifacts(body, resp) < 0)
		goto out;
	create_dispatch_fields(body, &t, &x);
	t.user_id = user_id;
	if (t.name) {
		task_name_normalise(t.name, &name);
		t.name = name.buf;
	}
	if (create_sba(body, &t, &sba, &asked_model, resp) < 0)
		goto out;
	prompt_mode = strcmp(t.input_mode, "prompt") == 0 && !sba;
	if (body_has(body, "skills")) {
		if (!prompt_mode && !sba) {
			cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			    "skills go with prompt tasks and agent jobs (use_sba): a %s task runs "
			    "its own command",
			    t.input_mode);
			goto out;
		}
		if (skills_instructions(user_id, json_object_get(body, "skills"), &instructions,
			resp) < 0)
			goto out;
	}
	if (prompt_mode && (attachments || json_array_size(json_object_get(body, "artifacts")))) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "attachments and artifacts go with sandbox jobs (input_mode script or "
		    "commands): a prompt task is answered by a model");
		goto out;
	}
	if (create_after(body, &t, &x, resp) < 0 || create_fit(body, &t, resp) < 0 ||
	    create_array(body, !prompt_mode && !sba, &t, &x, resp) < 0)
		goto out;
	if (create_env(body, prompt_mode, &env, &refs, resp) < 0 ||
	    create_secrets_check(&t, refs, resp) < 0)
		goto out;
	if (create_inference(prompt_mode || sba, t.req_inference, asked_model, &model, resp) < 0)
		goto out;
	if (sba) {
		if (!json_object_get(sba, "model"))
			json_object_set_new(sba, "model", json_string(model));
		if (instructions) {
			const char *had = cy_json_str(sba, "instructions");
			size_t len = strlen(instructions) + (had ? strlen(had) + 1 : 0);

			/* The spec's own instructions, then the skills, within the spec's limit. */
			if (len > CY_SBA_INSTRUCTIONS_MAX) {
				cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
				    "the agent's instructions would hold %zu bytes with the skills: "
				    "at most %d",
				    len, CY_SBA_INSTRUCTIONS_MAX);
				goto out;
			}
			json_object_set_new(sba, "instructions",
			    json_sprintf("%s%s%s", had ? had : "", had ? "\n" : "", instructions));
		}
		payload = create_payload(body, NULL, sba, image, timeout, true, model, attachments,
		    env, refs);
		t.req_model = model;
	} else if (prompt_mode) {
		payload = create_prompt_payload(t.prompt, instructions, model, timeout);
		t.req_model = model;
	} else {
		payload = create_payload(body, t.prompt, NULL, image, timeout, t.req_inference,
		    asked_model, attachments, env, refs);
		t.req_model = asked_model;
	}
	t.payload = payload;
	if (dry_run) {
		ret = 0;
		goto out;
	}
	res = store_task_create(&t, replayed, &err);
	if (!res) {
		if (err.code == ENOENT) {
			cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "%s", err.msg);
		} else if (err.code == ECONNRESET) {
			cy_log_error("task_create_failed", "user", handle, "error", err.msg, NULL);
			notify_post(NOTIFY_JOBS | NOTIFY_EVENTS);
			cy_resp_problem(resp, CY_PROBLEM_UNAVAILABLE,
			    "the database connection was lost while the task was being created, "
			    "so it may exist: retry with the same Idempotency-Key, or look with "
			    "task list");
		} else {
			cy_log_error("task_create_failed", "user", handle, "error", err.msg, NULL);
			cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot create the task");
		}
		goto out;
	}
	if (*replayed) {
		cy_log_info("task_create_replayed", "task_id", PQgetvalue(res, 0, TC_ID), "user",
		    handle, NULL);
	} else {
		cy_log_info("task_created", "task_id", PQgetvalue(res, 0, TC_ID), "user", handle,
		    "input_mode", t.input_mode, NULL);
		/* Its statement deferred these (store-tasks.c). */
		notify_post(NOTIFY_JOBS | NOTIFY_EVENTS);
		dispatch_wake();
		events_wake();
	}
	if (task)
		*task = task_json(res, 0);
	ret = 0;
out:
	json_decref(env);
	json_decref(refs);
	json_decref(sba);
	free(instructions);
	free(model);
	cy_buf_release(&x.labels);
	cy_buf_release(&x.nodes);
	cy_buf_release(&x.after_ids);
	cy_buf_release(&x.after_conds);
	cy_buf_release(&x.array_idx);
	if (res)
		PQclear(res);
	free(payload);
	free((void *)t.attachments);
	json_decref(attachments);
	cy_buf_release(&name);
	return ret;
}

void
h_tasks_create(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct task_new t = { 0 };
	bool replayed = false;
	json_t *body, *task = NULL;

	if (!(body = cy_req_json(req, resp)))
		return;
	if (create_idempotency(req, &t, resp) == 0 &&
	    task_create_checked(body, a->user_id, a->handle, t.idempotency_key, false, &task,
		&replayed, resp) == 0) {
		cy_resp_json(resp, replayed ? 200 : 201, task);
		if (replayed)
			cy_resp_header(resp, "Idempotent-Replayed", "true");
	}
	json_decref(body);
}
