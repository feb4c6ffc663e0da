/*
 * The executor: turns one RunJobRequest (contract 2.3) into a sandbox run
 * and a RunJobResponse.  It validates the whole request first (version,
 * path-safe ids, argv, env names, network policy, timeout, image against
 * the node's allowlists and known images), enforces sandbox.max_concurrency,
 * prepares <mount_root>/<job_id>/{workspace,job} with job/job.json, runs the
 * job through the sandbox runtime and builds the bounded response.  Used by
 * the Worker API and by `cynode-node --run-job`.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "json.h"
#include "log.h"
#include "inference-proxy.h"
#include "node.h"
#include "prompt-job.h"
#include "sandbox-plan.h"
#include "sandbox.h"
#include "timeutil.h"
#include "fsutil.h"
#include "banned.h"

#define MAX_ARGS 4096
#define MAX_ENV 1024

static const struct sandbox_runtime *runtime = &sandbox_bwrap;

/* Picks the runtime sandbox.runtime names (set once, before any job). */
static void
node_runtime_select(const struct node_config *c)
{
	if (!strcmp(c->sb_runtime, "podman"))
		runtime = &sandbox_podman;
	else if (!strcmp(c->sb_runtime, "docker"))
		runtime = &sandbox_docker;
	else
		runtime = &sandbox_bwrap;
}

const struct sandbox_runtime *
node_runtime(void)
{
	return runtime;
}

/*
 * Job ids running now (under node->lock), so a duplicate is refused, with
 * their output as it is read (node_job_output).
 */
struct active {
	struct active *next;
	char id[136];
	struct sandbox_live live;
	bool prompt; /* a prompt job: canceled through `cancel` */
	volatile sig_atomic_t cancel;
};
static struct active *active_jobs;

struct job_req {
	const char *task_id, *job_id, *image, *network;
	char **argv;
	char **env;
	size_t nenv;
	char *rootfs; /* owned; NULL = host */
	long long timeout_s;
	struct sb_limits limits;
	bool share_net;
	char **devices;     /* borrowed strings, NULL-terminated */
	bool use_inference; /* the job gets an inference socket */
};

int
job_refuse(struct cy_buf *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cy_buf_vaddf(d, fmt, ap);
	va_end(ap);
	return -1;
}

static void
job_req_release(struct job_req *r)
{
	size_t i;

	free(r->argv);
	free(r->devices);
	free(r->rootfs);
	for (i = 0; i < r->nenv; i++)
		free(r->env[i]);
	free(r->env);
}

/* uuid or [A-Za-z0-9_-]{1,128}: safe as one path component. */
static bool
id_valid(const char *s)
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

/* Per-job resource requests (sandbox.resources), capped by the node's limits. */
static int
job_parse_resources(struct node *n, const json_t *sb, struct job_req *r, enum cy_problem *prob,
    struct cy_buf *d)
{
	const struct node_config *c = &n->cfg;
	double mem = 0, pids = 0, cpu = 0, tmp = 0;
	json_t *res = json_object_get(sb, "resources");
	const char *k;
	json_t *v;

	if (res && !json_is_null(res)) {
		if (!json_is_object(res))
			return job_refuse(d, "sandbox.resources must be an object");
		json_object_foreach(res, k, v) {
			if (strcmp(k, "memory_mb") && strcmp(k, "pids") && strcmp(k, "cpu_cores") &&
			    strcmp(k, "tmp_mb"))
				return job_refuse(d,
				    "sandbox.resources: unknown key '%.64s' (known: "
				    "memory_mb, pids, cpu_cores, tmp_mb)",
				    k);
		}
		if (json_num_field(res, "memory_mb", &mem) < 0 ||
		    json_num_field(res, "pids", &pids) < 0 ||
		    json_num_field(res, "cpu_cores", &cpu) < 0 ||
		    json_num_field(res, "tmp_mb", &tmp) < 0)
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
	return 0;
}

/*
 * The effective timeout of a job asking for t seconds (0: the node's
 * default): capped by sandbox.timeouts.max_seconds and the orchestrator's
 * constraints.max_job_timeout_seconds.
 */
static long long
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

		if (!sb_env_name_valid(k))
			return job_refuse(d, "sandbox.env: '%.64s' is not a valid variable name",
			    k);
		if (!s)
			return job_refuse(d, "sandbox.env.%s must be a string", k);
		env_add(r, k, s);
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
	if (runtime != &sandbox_bwrap) {
		if (!strcmp(r->image, "host") || !node_image_name_valid(r->image))
			return job_refuse(d,
			    "image '%.200s' is not an OCI image reference (the "
			    "%s runtime runs OCI images; \"host\" needs bwrap)",
			    r->image, runtime->name);
	} else if (strcmp(r->image, "host")) {
		r->rootfs = node_image_rootfs(c, r->image);
		if (!r->rootfs)
			return job_refuse(d,
			    "image '%.200s' is not available on this node "
			    "(known: host, the sandbox.images entries and imported images)",
			    r->image);
	}
	return 0;
}

/* The sandbox object of a RunJobRequest, field by field in this order. */
static int
job_parse_sandbox(struct node *n, const json_t *sb, struct job_req *r, enum cy_problem *prob,
    struct cy_buf *d)
{
	*prob = CY_PROBLEM_VALIDATION;
	if (job_parse_command(sb, r, d) < 0 || job_parse_env(sb, r, d) < 0 ||
	    job_parse_inference(n, sb, r, prob, d) < 0 || job_parse_network(sb, r, d) < 0 ||
	    job_parse_policy(n, sb, r, prob, d) < 0 || job_parse_resources(n, sb, r, prob, d) < 0 ||
	    job_parse_timeout(n, sb, r, d) < 0)
		return -1;
	return job_parse_image(n, sb, r, d);
}

/* The version and the ids of a RunJobRequest (sandbox or prompt). */
static int
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
	r->task_id = json_plain_str(json_object_get(req, "task_id"));
	r->job_id = json_plain_str(json_object_get(req, "job_id"));
	if (!r->task_id || !id_valid(r->task_id))
		return job_refuse(d, "task_id is required: a uuid or 1-128 of [A-Za-z0-9_-]");
	if (!r->job_id || !id_valid(r->job_id))
		return job_refuse(d, "job_id is required: a uuid or 1-128 of [A-Za-z0-9_-]");
	return 0;
}

static int
job_parse(struct node *n, const json_t *req, struct job_req *r, enum cy_problem *prob,
    struct cy_buf *d)
{
	json_t *sb;

	if (job_parse_ids(req, r, prob, d) < 0)
		return -1;
	sb = json_object_get(req, "sandbox");
	if (!json_is_object(sb))
		return job_refuse(d, "sandbox must be an object");
	return job_parse_sandbox(n, sb, r, prob, d);
}

/* Creates <mount_root>/<job_id>/{workspace,job} and job/job.json. */
static int
job_prepare_dir(struct node *n, const struct job_req *r, const json_t *req, char **dirp,
    struct cy_error *err)
{
	char *dir, *ws, *jd, *jf, *body;
	bool root = geteuid() == 0;
	int fd, ret = -1;
	size_t len;

	if (cy_mkdir_p(n->cfg.mount_root, 0755, 0711) < 0)
		return cy_error_errno(err, "creating mount root '%s'", n->cfg.mount_root);
	dir = xasprintf("%s/%s", n->cfg.mount_root, r->job_id);
	ws = xasprintf("%s/workspace", dir);
	jd = xasprintf("%s/job", dir);
	jf = xasprintf("%s/job/job.json", dir);
	cy_rm_rf(dir);
	if (mkdir(dir, 0711) < 0 || mkdir(ws, 0700) < 0 || mkdir(jd, 0700) < 0) {
		cy_error_errno(err, "creating job directory '%s'", dir);
		goto out;
	}
	body = cy_json_dump(req);
	len = strlen(body);
	fd = open(jf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, body, len) != (ssize_t)len) {
		cy_error_errno(err, "writing '%s'", jf);
		if (fd >= 0)
			close(fd);
		free(body);
		goto out;
	}
	close(fd);
	free(body);
	if (root && (chown(ws, NODE_SANDBOX_UID, NODE_SANDBOX_UID) < 0 ||
			chown(jd, NODE_SANDBOX_UID, NODE_SANDBOX_UID) < 0 ||
			chown(jf, NODE_SANDBOX_UID, NODE_SANDBOX_UID) < 0)) {
		cy_error_errno(err, "chown of job directory '%s'", dir);
		goto out;
	}
	*dirp = dir;
	dir = NULL;
	ret = 0;
out:
	free(dir);
	free(ws);
	free(jd);
	free(jf);
	return ret;
}

/* Takes a concurrency slot for job_id; -1 with *prob set when refused. */
static int
job_admit(struct node *n, const char *job_id, struct active *slot, enum cy_problem *prob,
    struct cy_buf *d)
{
	struct active *a;
	int ret = 0;

	pthread_mutex_lock(&n->lock);
	for (a = active_jobs; a; a = a->next) {
		if (!strcmp(a->id, job_id)) {
			*prob = CY_PROBLEM_CONFLICT;
			cy_buf_addf(d, "job '%s' is already running on this node", job_id);
			ret = -1;
			goto out;
		}
	}
	if (n->running >= (unsigned)n->cfg.max_concurrency) {
		*prob = CY_PROBLEM_UNAVAILABLE;
		cy_buf_addf(d, "node busy: %u jobs running (sandbox.max_concurrency %lld)",
		    n->running, n->cfg.max_concurrency);
		ret = -1;
		goto out;
	}
	n->running++;
	xsnprintf(slot->id, sizeof(slot->id), "%s", job_id); /* validated: 128 at most */
	slot->prompt = false;
	slot->cancel = 0;
	pthread_mutex_init(&slot->live.lock, NULL);
	slot->live.res = NULL;
	slot->next = active_jobs;
	active_jobs = slot;
out:
	pthread_mutex_unlock(&n->lock);
	return ret;
}

static void
job_release_slot(struct node *n, struct active *slot)
{
	struct active **pp;

	pthread_mutex_lock(&n->lock);
	for (pp = &active_jobs; *pp; pp = &(*pp)->next) {
		if (*pp == slot) {
			*pp = slot->next;
			break;
		}
	}
	n->running--;
	/* Readers take live.lock only under n->lock: nobody holds it now. */
	pthread_mutex_destroy(&slot->live.lock);
	pthread_mutex_unlock(&n->lock);
}

int
node_job_output(struct node *n, const char *job_id, struct cy_buf *out, struct cy_buf *err,
    bool *trunc_out, bool *trunc_err)
{
	struct active *a;
	int ret = -1;

	*trunc_out = *trunc_err = false;
	pthread_mutex_lock(&n->lock);
	for (a = active_jobs; a; a = a->next) {
		if (strcmp(a->id, job_id))
			continue;
		pthread_mutex_lock(&a->live.lock);
		if (a->live.res) {
			cy_buf_add(out, a->live.res->out.buf, a->live.res->out.len);
			cy_buf_add(err, a->live.res->err.buf, a->live.res->err.len);
			*trunc_out = a->live.res->trunc_out;
			*trunc_err = a->live.res->trunc_err;
		}
		pthread_mutex_unlock(&a->live.lock);
		ret = 0;
		break;
	}
	pthread_mutex_unlock(&n->lock);
	return ret;
}

static json_t *
job_response(const struct job_req *r, struct sandbox_result *res, size_t max)
{
	static const char *const st[] = { "completed", "failed", "timeout", "canceled" };
	char t0[CY_RFC3339_LEN + 1], t1[CY_RFC3339_LEN + 1];

	sandbox_utf8_clean(&res->out, max);
	sandbox_utf8_clean(&res->err, max);
	cy_time_rfc3339(res->started, t0);
	cy_time_rfc3339(res->ended, t1);
	return json_pack("{s:i, s:s, s:s, s:s, s:i, s:s%, s:s%, s:s, s:s, s:{s:b, s:b}}", "version",
	    1, "task_id", r->task_id, "job_id", r->job_id, "status", st[res->status], "exit_code",
	    res->exit_code, "stdout", res->out.buf, res->out.len, "stderr", res->err.buf,
	    res->err.len, "started_at", t0, "ended_at", t1, "truncated", "stdout", res->trunc_out,
	    "stderr", res->trunc_err);
}

/*
 * A prompt job (prompt-job.c): admitted like any job (it takes a slot of
 * sandbox.max_concurrency), answered by the backend.
 */
static int
run_prompt(struct node *n, const json_t *req, json_t **out, enum cy_problem *prob,
    struct cy_buf *detail)
{
	struct cy_error err = CY_ERROR_INIT;
	struct job_req r = { 0 };
	struct prompt_job p = { 0 };
	struct sandbox_result res;
	struct active slot;
	json_t *info = NULL;
	char tmo[32], code[16];

	if (job_parse_ids(req, &r, prob, detail) < 0 ||
	    prompt_job_parse(json_object_get(req, "inference"), &p, detail) < 0)
		return -1;
	if (!strcmp(n->cfg.inf_mode, "disabled")) {
		*prob = CY_PROBLEM_UNAVAILABLE;
		cy_buf_addstr(detail, "inference is disabled on this node (inference.mode)");
		return -1;
	}
	p.timeout_s = job_timeout(n, p.timeout_s);
	p.max_output = (size_t)n->cfg.max_output_bytes;
	if (job_admit(n, r.job_id, &slot, prob, detail) < 0)
		return -1;
	pthread_mutex_lock(&n->lock);
	slot.prompt = true;
	pthread_mutex_unlock(&n->lock);
	p.live = &slot.live;
	p.cancel = &slot.cancel;
	xsnprintf(tmo, sizeof(tmo), "%lld", p.timeout_s);
	cy_log_info("job_started", "task_id", r.task_id, "job_id", r.job_id, "model", p.model,
	    "kind", "prompt", "timeout_s", tmo, NULL);
	if (prompt_job_run(n, &p, &res, &info, &err) < 0) {
		job_release_slot(n, &slot);
		*prob = CY_PROBLEM_UNAVAILABLE;
		cy_buf_addf(detail, "%s", err.msg);
		cy_log_warn("job_refused", "job_id", r.job_id, "error", err.msg, NULL);
		return -1;
	}
	job_release_slot(n, &slot);
	*out = job_response(&r, &res, p.max_output);
	json_object_set_new(*out, "inference", info);
	json_object_set_new(*out, "inference_usage",
	    json_pack("[{s:s, s:i, s:O, s:O}]", "model", p.model, "requests", 1, "prompt_tokens",
		json_object_get(info, "prompt_tokens"), "completion_tokens",
		json_object_get(info, "completion_tokens")));
	xsnprintf(code, sizeof(code), "%d", res.exit_code);
	cy_log_info("job_finished", "task_id", r.task_id, "job_id", r.job_id, "status",
	    json_string_value(json_object_get(*out, "status")), "exit_code", code, NULL);
	sandbox_result_release(&res);
	return 0;
}

/* The sandbox runtime's view of a parsed job running from dir. */
static void
job_fill(struct node *n, const struct job_req *r, const char *dir, struct active *slot,
    struct sandbox_job *job)
{
	job->task_id = r->task_id;
	job->job_id = r->job_id;
	job->argv = r->argv;
	job->env = r->env;
	job->image = r->image;
	job->rootfs = r->rootfs;
	job->job_dir = dir;
	job->timeout_s = r->timeout_s;
	job->max_output = (size_t)n->cfg.max_output_bytes;
	job->limits = r->limits;
	job->share_net = r->share_net;
	job->devices = r->devices;
	job->live = &slot->live;
}

/* A job that failed on the node's side: 500 with the reason, logged. */
static void
job_node_error(const char *job_id, const char *event, const char *what, const char *msg,
    enum cy_problem *prob, struct cy_buf *detail)
{
	*prob = CY_PROBLEM_INTERNAL;
	cy_buf_addf(detail, "%s%s", what, msg);
	cy_log_error(event, "job_id", job_id, "error", msg, NULL);
}

/*
 * Runs an admitted sandbox job from its prepared directory (with its
 * inference socket when it asked for one) and builds the response.
 * -1 (the slot released) on a node error.
 */
static int
run_sandbox(struct node *n, const struct job_req *r, const char *dir, struct active *slot,
    json_t **out, enum cy_problem *prob, struct cy_buf *detail)
{
	struct cy_error err = CY_ERROR_INIT;
	struct sandbox_job job = { 0 };
	struct inference_proxy *proxy = NULL;
	struct sandbox_result res;
	char tmo[32], code[16];
	json_t *usage;

	job_fill(n, r, dir, slot, &job);
	if (r->use_inference) {
		if (!(proxy = inference_proxy_start(n, r->job_id, dir, &err))) {
			job_release_slot(n, slot);
			job_node_error(r->job_id, "job_prepare_failed",
			    "inference socket: ", err.msg, prob, detail);
			return -1;
		}
		job.inference_dir = inference_proxy_dir(proxy);
		job.on_start = inference_proxy_started;
		job.on_start_arg = proxy;
	}
	xsnprintf(tmo, sizeof(tmo), "%lld", r->timeout_s);
	cy_log_info("job_started", "task_id", r->task_id, "job_id", r->job_id, "image", r->image,
	    "timeout_s", tmo, NULL);
	if (runtime->run(&job, &res, &err) < 0) {
		if (proxy)
			json_decref(inference_proxy_stop(proxy));
		job_release_slot(n, slot);
		job_node_error(r->job_id, "job_error", "sandbox: ", err.msg, prob, detail);
		return -1;
	}
	usage = proxy ? inference_proxy_stop(proxy) : NULL;
	job_release_slot(n, slot);
	*out = job_response(r, &res, job.max_output);
	if (usage && json_array_size(usage))
		json_object_set(*out, "inference_usage", usage);
	json_decref(usage);
	xsnprintf(code, sizeof(code), "%d", res.exit_code);
	cy_log_info("job_finished", "task_id", r->task_id, "job_id", r->job_id, "status",
	    json_string_value(json_object_get(*out, "status")), "exit_code", code, NULL);
	sandbox_result_release(&res);
	return 0;
}

int
worker_run_job(struct node *n, const char *body, size_t len, json_t **out, enum cy_problem *prob,
    struct cy_buf *detail)
{
	struct cy_error err = CY_ERROR_INIT;
	struct job_req r = { 0 };
	struct active slot;
	char *dir = NULL;
	json_t *req;
	int ret = -1;

	*out = NULL;
	req = cy_json_parse(body, len, true, &err);
	if (!req) {
		*prob = CY_PROBLEM_VALIDATION;
		cy_buf_addf(detail, "%s", err.msg);
		return -1;
	}
	if (json_object_get(req, "inference") && !json_object_get(req, "sandbox")) {
		ret = run_prompt(n, req, out, prob, detail);
		goto out;
	}
	if (job_parse(n, req, &r, prob, detail) < 0)
		goto out;
	if (!strcmp(n->cfg.sb_mode, "disabled")) {
		*prob = CY_PROBLEM_UNAVAILABLE;
		cy_buf_addstr(detail,
		    "sandboxes are disabled on this node (sandbox.mode: disabled)");
		goto out;
	}
	if (job_admit(n, r.job_id, &slot, prob, detail) < 0)
		goto out;
	if (job_prepare_dir(n, &r, req, &dir, &err) < 0) {
		job_release_slot(n, &slot);
		job_node_error(r.job_id, "job_prepare_failed", "", err.msg, prob, detail);
		goto out;
	}
	ret = run_sandbox(n, &r, dir, &slot, out, prob, detail);
out:
	free(dir);
	job_req_release(&r);
	json_decref(req);
	return ret;
}

/* True when a job with this id is running now. */
static bool
job_active(struct node *n, const char *id)
{
	struct active *a;
	bool found = false;

	pthread_mutex_lock(&n->lock);
	for (a = active_jobs; a; a = a->next)
		if (!strcmp(a->id, id))
			found = true;
	pthread_mutex_unlock(&n->lock);
	return found;
}

void
node_cleanup_jobs(struct node *n, long long max_age_s)
{
	time_t cutoff = time(NULL) - (time_t)max_age_s;
	struct dirent *de;
	struct stat st;
	DIR *d;
	char *p;

	d = opendir(n->cfg.mount_root);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		p = xasprintf("%s/%s", n->cfg.mount_root, de->d_name);
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode) && st.st_mtime < cutoff &&
		    !job_active(n, de->d_name))
			cy_rm_rf(p);
		free(p);
	}
	closedir(d);
}

/*
 * bwrap runs as the sandbox uid and resolves its bind sources by path, so
 * when the node runs as root every directory above the mount root, and the
 * state dir that holds the prepared /etc, must be searchable (o+x, not
 * listable) by that uid: add the bit where missing.
 */
static int
node_path_traversable(const char *root, const char *reason, struct cy_error *err)
{
	char *p = xstrdup(root), *s = p;
	struct stat st;
	int ret = 0;

	if (geteuid() != 0)
		goto out;
	for (;;) {
		char save;

		s = strchr(s + 1, '/');
		save = s ? *s : '\0';
		if (s)
			*s = '\0';
		if (stat(*p ? p : "/", &st) == 0 && S_ISDIR(st.st_mode) &&
		    !(st.st_mode & S_IXOTH)) {
			if (chmod(p, (st.st_mode & 07777) | S_IXOTH) < 0) {
				ret = cy_error_errno(err,
				    "cannot make '%s' searchable for the "
				    "sandbox uid",
				    p);
				goto out;
			}
			cy_log_warn("made_searchable", "path", p, "reason", reason, NULL);
		}
		if (!s)
			break;
		*s = save;
	}
out:
	free(p);
	return ret;
}

int
node_sandbox_probe(const struct node *n, struct cy_error *err)
{
	node_runtime_select(&n->cfg);
	if (runtime == &sandbox_bwrap) {
		struct cy_error eerr = CY_ERROR_INIT;

		/* Without the prepared /etc, jobs bind its entries one by one. */
		if (node_path_traversable(n->cfg.state_dir,
			"sandbox uid must reach the prepared /etc", &eerr) < 0 ||
		    sb_etc_start(n->cfg.state_dir, "/etc", &eerr) < 0)
			cy_log_error("sandbox_etc_failed", "error", eerr.msg, "fallback",
			    "one bind per /etc entry", NULL);
	}
	if (cy_mkdir_p(n->cfg.mount_root, 0755, 0711) < 0)
		return cy_error_errno(err, "cannot create mount root '%s'", n->cfg.mount_root);
	if (node_path_traversable(n->cfg.mount_root, "sandbox uid must reach the mount root", err) <
	    0)
		return -1;
	{
		char *images = node_images_dir(&n->cfg);
		struct stat st;
		int rc = 0;

		/* Imported images are bound by path by the unprivileged bwrap too. */
		if (stat(images, &st) == 0)
			rc =
			    node_path_traversable(images, "sandbox uid must reach the images", err);
		free(images);
		if (rc < 0)
			return -1;
	}
	return runtime->probe(n->cfg.mount_root, err);
}

void
node_sandbox_kill_all(void)
{
	runtime->kill_all();
}

/* Cancels a prompt job running here; 0 when there was one. */
static int
prompt_cancel(struct node *n, const char *job_id)
{
	struct active *a;
	int rc = -1;

	pthread_mutex_lock(&n->lock);
	for (a = active_jobs; a; a = a->next) {
		if (a->prompt && !strcmp(a->id, job_id)) {
			a->cancel = 1;
			rc = 0;
		}
	}
	pthread_mutex_unlock(&n->lock);
	return rc;
}

int
node_job_cancel(struct node *n, const char *job_id)
{
	int rc = prompt_cancel(n, job_id) == 0 ? 0 : runtime->kill(job_id);

	if (rc == 0)
		cy_log_info("job_cancel", "job_id", job_id, NULL);
	return rc;
}

json_t *
node_sandbox_features(void)
{
	json_t *f = json_array();

	runtime->features(f);
	return f;
}
