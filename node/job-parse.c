/*
 * Parsing and checking a RunJobRequest (contract 2.3) before anything runs:
 * version and path-safe ids, then the sandbox object field by field (argv,
 * environment, the inference socket, network policy, what the node's
 * security flags and the orchestrator's policy allow, resource requests
 * capped by the node's limits, timeout, image against the allowlists and
 * the images the node knows).  Every refusal names the field.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "buf.h"
#include "inference-proxy.h"
#include "id.h"
#include "job.h"
#include "arrayspec.h"
#include "jobenv.h"
#include "json.h"
#include "node.h"
#include "relpath.h"
#include "sandbox-plan.h"
#include "sandbox.h"
#include "banned.h"

#define MAX_ARGS 4096
#define MAX_ENV 1024
#define MAX_ATTACHMENTS 4096
#define MAX_ARTIFACT_PATTERNS 64

int
job_refuse(struct cy_buf *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cy_buf_vaddf(d, fmt, ap);
	va_end(ap);
	return -1;
}

void
job_req_release(struct job_req *r)
{
	size_t i;

	free(r->argv);
	free(r->sba_runner);
	free(r->devices);
	free(r->rootfs);
	node_image_mount_release(r->image_mount);
	for (i = 0; i < r->nenv; i++) {
		/* Secret values are among them: wiped before the memory goes back. */
		explicit_bzero(r->env[i], strlen(r->env[i]));
		free(r->env[i]);
	}
	free(r->env);
	free(r->secrets);
}

bool
job_id_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 128)
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

/* A JSON string without NUL bytes, or NULL. */
static const char *
json_plain_str(const json_t *v)
{
	const char *s = json_string_value(v);

	if (!s || strlen(s) != json_string_length(v))
		return NULL;
	return s;
}

static void
env_add(struct job_req *r, const char *k, const char *v)
{
	r->env = xreallocarray(r->env, r->nenv + 2, sizeof(*r->env));
	r->env[r->nenv++] = xasprintf("%s=%s", k, v);
	r->env[r->nenv] = NULL;
}

/*
 * Contract 5 "must refuse": privileged mode, host network and device mounts
 * each need their sandbox.security flag (and the orchestrator's pushed
 * policy must not forbid them); refused with 403 and the reason.
 */
/* A field of the applied (pushed) configuration, read under the node lock. */
static bool
applied_flag(struct node *n, const bool *field)
{
	bool v;

	pthread_mutex_lock(&n->lock);
	v = *field;
	pthread_mutex_unlock(&n->lock);
	return v;
}

static int
job_parse_policy(struct node *n, const json_t *sb, struct job_req *r, enum cy_problem *prob,
    struct cy_buf *d)
{
	const struct node_config *c = &n->cfg;
	json_t *v, *dev;
	size_t i;

	v = json_object_get(sb, "privileged");
	if (v && !json_is_null(v) && !json_is_boolean(v))
		return job_refuse(d, "sandbox.privileged must be a boolean");
	if (json_is_true(v)) {
		*prob = CY_PROBLEM_AUTHORIZATION;
		if (!c->allow_privileged)
			return job_refuse(d, "refused: privileged sandboxes are not allowed on "
					     "this node (sandbox.security.allow_privileged)");
		if (applied_flag(n, &n->applied.policy_deny_privileged))
			return job_refuse(d,
			    "refused: privileged sandboxes are forbidden by the "
			    "orchestrator's policy (policy.sandbox.allow_privileged)");
		return job_refuse(d, "refused: the %s runtime never runs privileged sandboxes",
		    c->sb_runtime);
	}
	if (!strcmp(r->network, "host")) {
		*prob = CY_PROBLEM_AUTHORIZATION;
		if (!c->allow_host_network)
			return job_refuse(d, "refused: host network is not allowed on this node "
					     "(sandbox.security.allow_host_network)");
		if (applied_flag(n, &n->applied.policy_deny_host_network))
			return job_refuse(d,
			    "refused: host network is forbidden by the "
			    "orchestrator's policy (policy.sandbox.allow_host_network)");
		*prob = CY_PROBLEM_VALIDATION;
		r->share_net = true;
	}
	dev = json_object_get(sb, "devices");
	if (!dev || json_is_null(dev))
		return 0;
	if (!json_is_array(dev) || json_array_size(dev) > 64)
		return job_refuse(d, "sandbox.devices must be an array of at most 64 paths");
	if (json_array_size(dev) && !c->allow_device_mounts) {
		*prob = CY_PROBLEM_AUTHORIZATION;
		return job_refuse(d, "refused: device mounts are not allowed on this node "
				     "(sandbox.security.allow_device_mounts)");
	}
	if (json_array_size(dev) && applied_flag(n, &n->applied.policy_deny_devices)) {
		*prob = CY_PROBLEM_AUTHORIZATION;
		return job_refuse(d, "refused: device mounts are forbidden by the "
				     "orchestrator's policy (policy.sandbox.allow_device_mounts)");
	}
	r->devices = xcalloc(json_array_size(dev) + 1, sizeof(char *));
	json_array_foreach(dev, i, v) {
		const char *p = json_plain_str(v);
		struct stat st;

		if (!p || strncmp(p, "/dev/", 5) || strstr(p, "/.."))
			return job_refuse(d, "sandbox.devices[%zu] must be a path under /dev/", i);
		if (!cy_strlist_has(&c->allowed_host_paths, p)) {
			*prob = CY_PROBLEM_AUTHORIZATION;
			return job_refuse(d,
			    "refused: device '%.200s' is not in "
			    "sandbox.mounts.allowed_host_paths",
			    p);
		}
		if (stat(p, &st) < 0 || !(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)))
			return job_refuse(d,
			    "sandbox.devices[%zu]: '%.200s' is not a device on "
			    "this node",
			    i, p);
		r->devices[i] = (char *)p;
	}
	return 0;
}

/* A non-negative JSON number field of o as a double; 1 when absent, -1 when bad. */
static int
json_num_field(const json_t *o, const char *k, double *out)
{
	json_t *v = json_object_get(o, k);

	if (!v || json_is_null(v))
		return 1;
	if (!json_is_number(v) || json_number_value(v) < 0)
		return -1;
	*out = json_number_value(v);
	return 0;
}

/* min(request, node max), where 0 means "not limited". */
static long long
cap_limit(long long node_max, double req)
{
	if (req <= 0)
		return node_max;
	if (node_max > 0 && req > (double)node_max)
		return node_max;
	return (long long)req;
}

/*
 * sandbox.resources.workspace_mb: the size of the job's /workspace, at
 * most sandbox.resources.max_workspace_mb (a request above it is refused,
 * not cut: a job planning on the space would fail later and less clearly);
 * none asked: that maximum.  A node that cannot limit workspaces refuses a
 * job asking for a size (workspace-quota.c says why).
 */
static int
job_parse_workspace(const struct node_config *c, double ws, enum cy_problem *prob,
    struct job_req *r, struct cy_buf *d)
{
	if (!node_ws_quota_enforced()) {
		r->limits.workspace_mb = 0;
		if (ws <= 0)
			return 0;
		*prob = CY_PROBLEM_AUTHORIZATION;
		return job_refuse(d,
		    "refused: this node cannot limit a job's workspace (%s); "
		    "sandbox.resources.workspace_mb cannot be honoured",
		    node_ws_quota_reason());
	}
	if (ws > (double)c->res_workspace)
		return job_refuse(d,
		    "sandbox.resources.workspace_mb %.0f is above this node's "
		    "sandbox.resources.max_workspace_mb (%lld)",
		    ws, c->res_workspace);
	/* At most max_workspace_mb here: the cast is safe. */
	if (ws > 0 && ws != (double)(long long)ws)
		return job_refuse(d, "sandbox.resources.workspace_mb must be a whole number");
	r->limits.workspace_mb = ws > 0 ? (long long)ws : c->res_workspace;
	return 0;
}

/* Per-job resource requests (sandbox.resources), capped by the node's limits. */
static int
job_parse_resources(struct node *n, const json_t *sb, struct job_req *r, enum cy_problem *prob,
    struct cy_buf *d)
{
	const struct node_config *c = &n->cfg;
	double mem = 0, pids = 0, cpu = 0, tmp = 0, ws = 0;
	json_t *res = json_object_get(sb, "resources");
	const char *k;
	json_t *v;

	if (res && !json_is_null(res)) {
		if (!json_is_object(res))
			return job_refuse(d, "sandbox.resources must be an object");
		json_object_foreach(res, k, v) {
			if (strcmp(k, "memory_mb") && strcmp(k, "pids") && strcmp(k, "cpu_cores") &&
			    strcmp(k, "tmp_mb") && strcmp(k, "workspace_mb"))
				return job_refuse(d,
				    "sandbox.resources: unknown key '%.64s' (known: "
				    "memory_mb, pids, cpu_cores, tmp_mb, workspace_mb)",
				    k);
		}
		if (json_num_field(res, "memory_mb", &mem) < 0 ||
		    json_num_field(res, "pids", &pids) < 0 ||
		    json_num_field(res, "cpu_cores", &cpu) < 0 ||
		    json_num_field(res, "tmp_mb", &tmp) < 0 ||
		    json_num_field(res, "workspace_mb", &ws) < 0)
			return job_refuse(d,
			    "sandbox.resources values must be non-negative numbers");
		if ((mem > 0 && mem < 16) || (pids > 0 && pids < 8))
			return job_refuse(d, "sandbox.resources: memory_mb must be >= 16 and "
					     "pids >= 8");
	}
	r->limits.mem_mb = cap_limit(c->res_mem, mem);
	r->limits.pids = cap_limit(c->res_pids, pids);
	r->limits.cpu_milli = cap_limit(c->res_cpu * 1000, cpu * 1000);
	r->limits.tmp_mb = cap_limit(c->res_tmp, tmp);
	r->limits.nofile = c->res_nofile;
	r->limits.fsize_mb = c->res_fsize;
	return job_parse_workspace(c, ws, prob, r, d);
}

/*
 * The effective timeout of a job asking for t seconds (0: the node's
 * default): capped by sandbox.timeouts.max_seconds and the orchestrator's
 * constraints.max_job_timeout_seconds.
 */
long long
job_timeout(struct node *n, long long t)
{
	const struct node_config *c = &n->cfg;

	if (t == 0)
		t = c->timeout_default;
	if (t > c->timeout_max)
		t = c->timeout_max;
	pthread_mutex_lock(&n->lock);
	if (n->applied.max_job_timeout_s > 0 && t > n->applied.max_job_timeout_s)
		t = n->applied.max_job_timeout_s;
	pthread_mutex_unlock(&n->lock);
	return t;
}

/* sandbox.command: a non-empty argv of strings, borrowed from the request. */
static int
job_parse_command(const json_t *sb, struct job_req *r, struct cy_buf *d)
{
	json_t *cmd = json_object_get(sb, "command"), *v;
	size_t i;

	if (!json_is_array(cmd) || json_array_size(cmd) == 0)
		return job_refuse(d, "sandbox.command must be a non-empty array of strings");
	if (json_array_size(cmd) > MAX_ARGS)
		return job_refuse(d, "sandbox.command has more than %d elements", MAX_ARGS);
	r->argv = xcalloc(json_array_size(cmd) + 1, sizeof(char *));
	json_array_foreach(cmd, i, v) {
		r->argv[i] = (char *)json_plain_str(v);
		if (!r->argv[i])
			return job_refuse(d, "sandbox.command[%zu] must be a string", i);
	}
	if (!*r->argv[0])
		return job_refuse(d, "sandbox.command[0] must not be empty");
	return 0;
}

/* sandbox.env: the request's variables (the sandbox plan adds the node's own). */
static int
job_parse_env(const json_t *sb, struct job_req *r, struct cy_buf *d)
{
	json_t *env = json_object_get(sb, "env"), *v;
	const char *k;

	if (!env || json_is_null(env))
		return 0;
	if (!json_is_object(env))
		return job_refuse(d, "sandbox.env must be an object of strings");
	if (json_object_size(env) > MAX_ENV)
		return job_refuse(d, "sandbox.env has more than %d entries", MAX_ENV);
	json_object_foreach(env, k, v) {
		const char *s = json_plain_str(v);

		if (!cy_env_name_valid(k))
			return job_refuse(d, "sandbox.env: '%.64s' is not a valid variable name",
			    k);
		if (!s)
			return job_refuse(d, "sandbox.env.%s must be a string", k);
		env_add(r, k, s);
	}
	return 0;
}

/*
 * sandbox.secret_env: the values of the job's secrets, which the server
 * adds only to the request it sends.  They go into the sandbox's
 * environment (after sandbox.env, so they win) and into r->secrets, which
 * the output masker reads; never into a message, a log line or a file.
 */
static int
job_parse_secret_env(const json_t *sb, struct job_req *r, struct cy_buf *d)
{
	json_t *env = json_object_get(sb, "secret_env"), *v;
	const char *k;
	size_t n = 0;

	if (!env || json_is_null(env))
		return 0;
	if (!json_is_object(env))
		return job_refuse(d, "sandbox.secret_env must be an object of strings");
	if (json_object_size(env) > MAX_ENV)
		return job_refuse(d, "sandbox.secret_env has more than %d entries", MAX_ENV);
	r->secrets = xcalloc(json_object_size(env) + 1, sizeof(*r->secrets));
	json_object_foreach(env, k, v) {
		const char *s = json_plain_str(v);

		if (!cy_env_name_valid(k) || cy_env_name_reserved(k))
			return job_refuse(d,
			    "sandbox.secret_env: '%.64s' is not a variable name a job may set", k);
		if (!s)
			return job_refuse(d, "sandbox.secret_env.%s must be a string", k);
		env_add(r, k, s);
		r->secrets[n++] = s;
	}
	return 0;
}

/* sandbox.use_inference: the node's model through a Unix socket, never TCP. */
static int
job_parse_inference(struct node *n, const json_t *sb, struct job_req *r, enum cy_problem *prob,
    struct cy_buf *d)
{
	json_t *v = json_object_get(sb, "use_inference");

	if (v && !json_is_null(v) && !json_is_boolean(v))
		return job_refuse(d, "sandbox.use_inference must be a boolean");
	r->use_inference = json_is_true(v);
	if (r->use_inference && !strcmp(n->cfg.inf_mode, "disabled")) {
		*prob = CY_PROBLEM_AUTHORIZATION;
		return job_refuse(d, "refused: inference is disabled on this node "
				     "(inference.mode)");
	}
	return 0;
}

/* sandbox.network_policy: "restricted" (the default), "none" or "host". */
static int
job_parse_network(const json_t *sb, struct job_req *r, struct cy_buf *d)
{
	json_t *v = json_object_get(sb, "network_policy");

	r->network = "restricted";
	if (!v || json_is_null(v))
		return 0;
	r->network = json_string_value(v);
	if (!r->network || (strcmp(r->network, "restricted") && strcmp(r->network, "none") &&
			       strcmp(r->network, "host")))
		return job_refuse(d, "sandbox.network_policy must be \"restricted\", "
				     "\"none\" or \"host\"");
	return 0;
}

/* sandbox.timeout_seconds, capped by the node and the orchestrator (job_timeout). */
static int
job_parse_timeout(struct node *n, const json_t *sb, struct job_req *r, struct cy_buf *d)
{
	json_t *v = json_object_get(sb, "timeout_seconds");
	long long t = 0;

	if (v && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return job_refuse(d, "sandbox.timeout_seconds must be an integer >= 0");
		t = json_integer_value(v);
	}
	r->timeout_s = job_timeout(n, t);
	return 0;
}

/*
 * sandbox.image (default sandbox.default_image): allowed by the node and
 * the orchestrator's policy, and one the runtime can run: an OCI reference
 * for podman and docker, "host" or a known image directory for bwrap.
 */
static int
job_parse_image(struct node *n, const json_t *sb, struct job_req *r, struct cy_buf *d)
{
	const struct node_config *c = &n->cfg;
	json_t *v = json_object_get(sb, "image");
	bool allowed;

	if (v && !json_is_null(v) && !json_is_string(v))
		return job_refuse(d, "sandbox.image must be a string");
	r->image = json_string_value(v);
	if (!r->image || !*r->image)
		r->image = c->default_image;
	if (c->allowed_images.n && !cy_strlist_has(&c->allowed_images, r->image))
		return job_refuse(d, "image '%.200s' is not in this node's sandbox.allowed_images",
		    r->image);
	pthread_mutex_lock(&n->lock);
	allowed =
	    !n->applied.policy_images.n || cy_strlist_has(&n->applied.policy_images, r->image);
	pthread_mutex_unlock(&n->lock);
	if (!allowed)
		return job_refuse(d, "image '%.200s' is not allowed by the orchestrator policy",
		    r->image);
	if (node_runtime() != &sandbox_bwrap) {
		if (!strcmp(r->image, "host") || !node_image_ref_valid(r->image))
			return job_refuse(d,
			    "image '%.200s' is not an OCI image reference (the "
			    "%s runtime runs OCI images; \"host\" needs bwrap)",
			    r->image, node_runtime()->name);
	} else if (strcmp(r->image, "host")) {
		r->rootfs = node_image_rootfs(c, r->image);
		if (!r->rootfs)
			return job_refuse(d,
			    "image '%.200s' is not available on this node "
			    "(known: host, the sandbox.images entries and imported images)",
			    r->image);
		/* A squashfs image is mounted privately when the job runs. */
		if (!strcmp(c->images_private, "require") && !node_image_is_sqfs(r->rootfs)) {
			struct cy_error ierr = CY_ERROR_INIT;

			if (node_image_path_check(r->image, r->rootfs, &ierr) < 0)
				return job_refuse(d, "%s (sandbox.images_private: require)",
				    ierr.msg);
		}
	}
	return 0;
}

/*
 * sandbox.attachments: [{name, sha256, size}], each name a safe relative
 * path (checked again here: the node never trusts the server's check),
 * each name once.
 */
static int
job_parse_attachments(const json_t *sb, struct job_req *r, struct cy_buf *d)
{
	json_t *list = json_object_get(sb, "attachments"), *v;
	size_t i, j;

	if (!list || json_is_null(list))
		return 0;
	if (!json_is_array(list) || json_array_size(list) > MAX_ATTACHMENTS)
		return job_refuse(d, "sandbox.attachments must be an array of at most %d objects",
		    MAX_ATTACHMENTS);
	json_array_foreach(list, i, v) {
		const char *name = json_plain_str(json_object_get(v, "name"));
		const char *sha = json_plain_str(json_object_get(v, "sha256"));
		json_t *size = json_object_get(v, "size");
		const char *why = "the name is missing";

		if (!name || !cy_relpath_valid(name, strlen(name), &why))
			return job_refuse(d, "sandbox.attachments[%zu].name '%.200s': %s", i,
			    name ? name : "", why);
		if (!sha || strlen(sha) != 64 || strspn(sha, "0123456789abcdef") != 64)
			return job_refuse(d,
			    "sandbox.attachments[%zu].sha256 must be 64 hex digits", i);
		if (!json_is_integer(size) || json_integer_value(size) < 0)
			return job_refuse(d,
			    "sandbox.attachments[%zu].size must be an integer >= 0", i);
		for (j = 0; j < i; j++)
			if (!strcmp(name, json_string_value(
					      json_object_get(json_array_get(list, j), "name"))))
				return job_refuse(d,
				    "sandbox.attachments[%zu].name '%.200s' is given twice", i,
				    name);
	}
	r->attachments = list;
	return 0;
}

/* sandbox.artifacts: at most MAX_ARTIFACT_PATTERNS safe patterns (cy_relglob_valid). */
static int
job_parse_artifacts(const json_t *sb, struct job_req *r, struct cy_buf *d)
{
	json_t *list = json_object_get(sb, "artifacts"), *v;
	size_t i;

	if (!list || json_is_null(list))
		return 0;
	if (!json_is_array(list) || json_array_size(list) > MAX_ARTIFACT_PATTERNS)
		return job_refuse(d, "sandbox.artifacts must be an array of at most %d patterns",
		    MAX_ARTIFACT_PATTERNS);
	json_array_foreach(list, i, v) {
		const char *p = json_plain_str(v), *why = "not a string";

		if (!p || !cy_relglob_valid(p, strlen(p), &why))
			return job_refuse(d, "sandbox.artifacts[%zu] '%.200s': %s", i, p ? p : "",
			    why);
	}
	r->artifacts = list;
	return 0;
}

/*
 * sandbox.array_index: the job's index in its job array (the server adds
 * it; the sandbox sets CYNODE_ARRAY_INDEX from it).  -1 when absent.
 */
static int
job_parse_array_index(const json_t *sb, struct job_req *r, struct cy_buf *d)
{
	json_t *v = json_object_get(sb, "array_index");

	r->array_index = -1;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > CY_ARRAY_INDEX_MAX)
		return job_refuse(d, "sandbox.array_index must be an integer 0-%d",
		    CY_ARRAY_INDEX_MAX);
	r->array_index = (long long)json_integer_value(v);
	return 0;
}

/* The sandbox object of a RunJobRequest, field by field in this order. */
static int
job_parse_sandbox(struct node *n, const json_t *sb, struct job_req *r, enum cy_problem *prob,
    struct cy_buf *d)
{
	*prob = CY_PROBLEM_VALIDATION;
	if ((json_object_get(sb, "sba") ? sba_job_parse(n, sb, r, d) :
					  job_parse_command(sb, r, d)) < 0 ||
	    job_parse_env(sb, r, d) < 0 || job_parse_secret_env(sb, r, d) < 0 ||
	    job_parse_inference(n, sb, r, prob, d) < 0 || job_parse_network(sb, r, d) < 0 ||
	    job_parse_policy(n, sb, r, prob, d) < 0 || job_parse_resources(n, sb, r, prob, d) < 0 ||
	    job_parse_timeout(n, sb, r, d) < 0 || job_parse_attachments(sb, r, d) < 0 ||
	    job_parse_artifacts(sb, r, d) < 0 || job_parse_array_index(sb, r, d) < 0)
		return -1;
	if (job_parse_image(n, sb, r, d) < 0)
		return -1;
	if (r->sba && r->rootfs)
		return job_refuse(d,
		    "agent jobs run on the host image (cynode-sba needs the "
		    "host's libraries), not '%.200s'",
		    r->image);
	return 0;
}

/* The version and the ids of a RunJobRequest (sandbox or prompt). */
int
job_parse_ids(const json_t *req, struct job_req *r, enum cy_problem *prob, struct cy_buf *d)
{
	json_t *v;

	*prob = CY_PROBLEM_VALIDATION;
	v = json_object_get(req, "version");
	if (!v)
		return job_refuse(d, "version is required (supported: 1)");
	if (!json_is_integer(v) || json_integer_value(v) != 1) {
		*prob = CY_PROBLEM_UNSUPPORTED_PAYLOAD_VERSION;
		if (json_is_integer(v))
			cy_buf_addf(d, "payload version %lld is not supported (supported: 1)",
			    (long long)json_integer_value(v));
		else
			cy_buf_addstr(d, "payload version must be the integer 1 (supported: 1)");
		return -1;
	}
	r->array_index = -1;
	r->task_id = json_plain_str(json_object_get(req, "task_id"));
	r->job_id = json_plain_str(json_object_get(req, "job_id"));
	if (!r->task_id || !job_id_valid(r->task_id))
		return job_refuse(d, "task_id is required: a uuid or 1-128 of [A-Za-z0-9_-]");
	if (!r->job_id || !job_id_valid(r->job_id))
		return job_refuse(d, "job_id is required: a uuid or 1-128 of [A-Za-z0-9_-]");
	/* The attempt's lease: the job's logs are streamed under it (joblog.h). */
	v = json_object_get(req, "lease_id");
	r->lease_id = json_plain_str(v);
	if (v && !json_is_null(v) && (!r->lease_id || !cy_uuid_valid(r->lease_id)))
		return job_refuse(d, "lease_id must be a uuid");
	return 0;
}

int
job_parse(struct node *n, const json_t *req, struct job_req *r, enum cy_problem *prob,
    struct cy_buf *d)
{
	json_t *sb;

	if (job_parse_ids(req, r, prob, d) < 0)
		return -1;
	sb = json_object_get(req, "sandbox");
	if (!json_is_object(sb))
		return job_refuse(d, "sandbox must be an object");
	if (sba_job_alias(sb, r, d) < 0)
		return -1;
	return job_parse_sandbox(n, sb, r, prob, d);
}
