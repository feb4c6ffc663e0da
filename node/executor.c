/*
 * The executor: turns one RunJobRequest (contract 2.3) into a sandbox run
 * (or a prompt job) and a RunJobResponse.  The request is checked whole
 * first (job-parse.c); then the executor enforces sandbox.max_concurrency,
 * prepares <mount_root>/<job_id>/{workspace,job} with job/job.json, runs the
 * job through the sandbox runtime (with its inference socket when it asked
 * for one) and builds the bounded response.  Used by the Worker API and by
 * `cynode-node --run-job`.
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
#include "job.h"
#include "joblog.h"
#include "node.h"
#include "prompt-job.h"
#include "sandbox-plan.h"
#include "sandbox.h"
#include "timeutil.h"
#include "fsutil.h"
#include "banned.h"

/* How long the end of a job waits for its logs while the server takes none. */
#define LOG_FLUSH_IDLE_MS 10000

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

/* Job ids running now (under node->lock), so a duplicate is refused. */
struct active {
	struct active *next;
	char id[136];
	bool prompt; /* a prompt job: canceled through `cancel` */
	volatile sig_atomic_t cancel;
};
static struct active *active_jobs;

/* The request as job.json holds it: without the secret values (never on disk). */
static char *
job_json_text(const json_t *req)
{
	json_t *copy, *sb;
	char *s;

	if (!json_object_get(json_object_get(req, "sandbox"), "secret_env"))
		return cy_json_dump(req);
	copy = json_deep_copy(req);
	sb = json_object_get(copy, "sandbox");
	json_object_del(sb, "secret_env");
	s = cy_json_dump(copy);
	json_decref(copy);
	return s;
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
	node_ws_quota_unmount(ws); /* a workspace left by a run that died */
	cy_rm_rf(dir);
	if (mkdir(dir, 0711) < 0 || mkdir(ws, 0700) < 0 || mkdir(jd, 0700) < 0) {
		cy_error_errno(err, "creating job directory '%s'", dir);
		goto out;
	}
	if (r->limits.workspace_mb > 0 && node_ws_quota_mount(ws, r->limits.workspace_mb, err) < 0)
		goto out;
	body = job_json_text(req);
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
	if (dir) {
		/* Nothing half-made stays (a full disk, a failed mount). */
		node_ws_quota_unmount(ws);
		cy_rm_rf(dir);
	}
	free(dir);
	free(ws);
	free(jd);
	free(jf);
	return ret;
}

/* Unmounts the job's workspace tmpfs (its files go with it), if one is mounted. */
static void
job_workspace_release(struct node *n, const char *job_id)
{
	char *ws = xasprintf("%s/%s/workspace", n->cfg.mount_root, job_id);

	node_ws_quota_unmount(ws);
	free(ws);
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
	pthread_mutex_unlock(&n->lock);
}

static json_t *
job_response(const struct job_req *r, struct sandbox_result *res, size_t max)
{
	static const char *const st[] = { "completed", "failed", "timeout", "canceled" };
	char t0[CY_RFC3339_LEN + 1], t1[CY_RFC3339_LEN + 1];
	json_t *o, *usage;

	sandbox_utf8_clean(&res->out, max);
	sandbox_utf8_clean(&res->err, max);
	cy_time_rfc3339(res->started, t0);
	cy_time_rfc3339(res->ended, t1);
	o = json_pack("{s:i, s:s, s:s, s:s, s:i, s:s%, s:s%, s:s, s:s, s:{s:b, s:b}}", "version", 1,
	    "task_id", r->task_id, "job_id", r->job_id, "status", st[res->status], "exit_code",
	    res->exit_code, "stdout", res->out.buf, res->out.len, "stderr", res->err.buf,
	    res->err.len, "started_at", t0, "ended_at", t1, "truncated", "stdout", res->trunc_out,
	    "stderr", res->trunc_err);
	/* What the job used, for accounting (absent: not measured). */
	if ((usage = sb_usage_json(&res->usage)) != NULL)
		json_object_set_new(o, "usage", usage);
	/* Where the node's share of the job's time went (make bench's breakdown). */
	if (r->received_us > 0) {
		json_t *t = json_pack("{s:I}", "received_us", (json_int_t)r->received_us);

		if (res->fork_us > 0 && res->exit_us >= res->fork_us) {
			json_object_set_new(t, "sandbox_fork_us", json_integer(res->fork_us));
			json_object_set_new(t, "sandbox_exit_us", json_integer(res->exit_us));
		}
		json_object_set_new(o, "timing", t);
	}
	return o;
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
	struct job_req r = { .received_us = cy_real_us() };
	struct prompt_job p = { 0 };
	struct sandbox_result res;
	struct active slot;
	json_t *info = NULL;
	char tmo[32], code[16], *dir;

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
	p.cancel = &slot.cancel;
	dir = xasprintf("%s/%s", n->cfg.mount_root, r.job_id);
	p.log = job_log_open(n, dir, r.job_id, r.lease_id);
	free(dir);
	xsnprintf(tmo, sizeof(tmo), "%lld", p.timeout_s);
	cy_log_info("job_started", "task_id", r.task_id, "job_id", r.job_id, "model", p.model,
	    "kind", "prompt", "timeout_s", tmo, NULL);
	if (prompt_job_run(n, &p, &res, &info, &err) < 0) {
		job_log_release(p.log);
		job_release_slot(n, &slot);
		*prob = CY_PROBLEM_UNAVAILABLE;
		cy_buf_addf(detail, "%s", err.msg);
		cy_log_warn("job_refused", "job_id", r.job_id, "error", err.msg, NULL);
		return -1;
	}
	job_release_slot(n, &slot);
	job_log_finish(p.log, LOG_FLUSH_IDLE_MS);
	job_log_release(p.log);
	*out = job_response(&r, &res, p.max_output);
	json_object_set_new(*out, "inference", info);
	json_object_set_new(*out, "inference_usage",
	    json_pack("[{s:s, s:i, s:O, s:O}]", "model", p.model, "requests", 1, "prompt_tokens",
		json_object_get(info, "prompt_tokens"), "completion_tokens",
		json_object_get(info, "completion_tokens")));
	xsnprintf(code, sizeof(code), "%d", res.exit_code);
	cy_log_info("job_finished", "task_id", r.task_id, "job_id", r.job_id, "status",
	    json_string_value(json_object_get(*out, "status")), "exit_code", code, NULL);
	node_metrics_job_finished("prompt", json_string_value(json_object_get(*out, "status")));
	sandbox_result_release(&res);
	return 0;
}

/*
 * A squashfs image: mounted (or the mount shared), rootfs its mount point.
 * A *.sqfs rootfs that is no longer a file (a re-import as a directory
 * since the job was parsed) fails here with a node error, retried.
 */
static int
job_image_mount(struct job_req *r, struct cy_error *err)
{
	struct stat st;
	char *dir;

	if (!r->rootfs || !node_image_sqfs_named(r->rootfs) ||
	    (stat(r->rootfs, &st) == 0 && S_ISDIR(st.st_mode)))
		return 0;
	dir = node_image_mount_acquire(r->rootfs, &r->image_mount, err);
	if (!dir)
		return -1;
	free(r->rootfs);
	r->rootfs = dir;
	return 0;
}

/* The sandbox runtime's view of a parsed job running from dir. */
static void
job_fill(struct node *n, const struct job_req *r, const char *dir, struct sandbox_job *job)
{
	job->task_id = r->task_id;
	job->job_id = r->job_id;
	job->is_array = r->array_index >= 0;
	job->array_index = r->array_index;
	job->argv = r->argv;
	job->env = r->env;
	job->secrets = r->secrets;
	job->image = r->image;
	job->rootfs = r->rootfs;
	job->job_dir = dir;
	job->timeout_s = r->timeout_s;
	job->max_output = (size_t)n->cfg.max_output_bytes;
	job->limits = r->limits;
	job->share_net = r->share_net;
	job->devices = r->devices;
	job->sba_runner = r->sba_runner;
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
	char *sock = NULL;

	job_fill(n, r, dir, &job);
	job.log = job_log_open(n, dir, r->job_id, r->lease_id);
	if (r->use_inference) {
		/* Staged like /etc: the job sees where its socket's directory lives. */
		sock = xasprintf("%s/jobs/%s", n->cfg.staging_dir, r->job_id);
		cy_rm_rf(sock);
		if ((cy_mkdir_p(sock, 0711, 0711) < 0 &&
			cy_error_errno(&err, "creating '%s'", sock) < 0) ||
		    !(proxy = inference_proxy_start(n, r->job_id, sock, &err))) {
			cy_rm_rf(sock);
			free(sock);
			job_log_release(job.log);
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
		if (sock)
			cy_rm_rf(sock);
		free(sock);
		job_log_release(job.log);
		job_release_slot(n, slot);
		job_node_error(r->job_id, "job_error", "sandbox: ", err.msg, prob, detail);
		return -1;
	}
	usage = proxy ? inference_proxy_stop(proxy) : NULL;
	if (sock)
		cy_rm_rf(sock);
	free(sock);
	job_release_slot(n, slot);
	/* The whole log reaches the server before the result does. */
	job_log_finish(job.log, LOG_FLUSH_IDLE_MS);
	job_log_release(job.log);
	*out = job_response(r, &res, job.max_output);
	if (r->sba)
		sba_job_result(r, dir, *out);
	json_object_set_new(*out, "artifacts", job_artifacts_collect(n, r, dir));
	if (usage && json_array_size(usage))
		json_object_set(*out, "inference_usage", usage);
	json_decref(usage);
	xsnprintf(code, sizeof(code), "%d", res.exit_code);
	cy_log_info("job_finished", "task_id", r->task_id, "job_id", r->job_id, "status",
	    json_string_value(json_object_get(*out, "status")), "exit_code", code, NULL);
	node_metrics_job_finished("sandbox", json_string_value(json_object_get(*out, "status")));
	sandbox_result_release(&res);
	return 0;
}

int
worker_run_job(struct node *n, const char *body, size_t len, json_t **out, enum cy_problem *prob,
    struct cy_buf *detail)
{
	struct cy_error err = CY_ERROR_INIT;
	struct job_req r = { .received_us = cy_real_us() };
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
	if (node_disk_check(&n->cfg, detail) < 0) {
		*prob = CY_PROBLEM_INSUFFICIENT_STORAGE;
		goto out;
	}
	if (job_admit(n, r.job_id, &slot, prob, detail) < 0)
		goto out;
	if (job_image_mount(&r, &err) < 0 || job_prepare_dir(n, &r, req, &dir, &err) < 0 ||
	    job_attachments_fetch(n, &r, dir, &err) < 0) {
		bool full = err.code == ENOSPC || err.code == EDQUOT;

		job_release_slot(n, &slot);
		if (dir)
			job_workspace_release(n, r.job_id);
		if (full && dir && r.limits.workspace_mb > 0) {
			/* The job's own workspace is too small for its attachments. */
			*prob = CY_PROBLEM_VALIDATION;
			cy_buf_addf(detail,
			    "the attachments do not fit in the job's %lld MiB workspace: %s",
			    (long long)r.limits.workspace_mb, err.msg);
			goto out;
		}
		job_node_error(r.job_id, "job_prepare_failed", full ? "node disk full: " : "",
		    err.msg, prob, detail);
		/* A disk that filled up meanwhile: retried like the check above. */
		if (full)
			*prob = CY_PROBLEM_INSUFFICIENT_STORAGE;
		goto out;
	}
	ret = run_sandbox(n, &r, dir, &slot, out, prob, detail);
	/* Last: attachments went in before the job, artifacts came out in run_sandbox. */
	job_workspace_release(n, r.job_id);
	if (ret == 0)
		json_object_set_new(json_object_get(*out, "timing"), "responded_us",
		    json_integer(cy_real_us()));
out:
	free(dir);
	job_req_release(&r);
	cy_json_wipe(json_object_get(json_object_get(req, "sandbox"), "secret_env"));
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
		    !job_active(n, de->d_name)) {
			job_workspace_release(n, de->d_name);
			cy_rm_rf(p);
		}
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

		/*
		 * Without the prepared /etc, jobs bind its entries one by one.  It
		 * is staged away from state_dir: a job sees a bind's source path.
		 */
		if ((cy_mkdir_p(n->cfg.staging_dir, 0755, 0711) < 0 &&
			cy_error_errno(&eerr, "cannot create '%s'", n->cfg.staging_dir) < 0) ||
		    node_path_traversable(n->cfg.staging_dir,
			"sandbox uid must reach the prepared /etc", &eerr) < 0 ||
		    sb_etc_start(n->cfg.staging_dir, "/etc", &eerr) < 0)
			cy_log_error("sandbox_etc_failed", "error", eerr.msg, "fallback",
			    "one bind per /etc entry", NULL);
		node_image_mount_init(n->cfg.staging_dir);
		netns_pool_start((int)n->cfg.netns_pool);
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
	if (node_ws_quota_probe(&n->cfg, err) < 0)
		return -1;
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
