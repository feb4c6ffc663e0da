/*
 * sba-job.c: agent (SBA) jobs on the node (README "Agent jobs", lib/sba.h).
 * A RunJobRequest whose sandbox has "sba" (the job spec) instead of a
 * command runs the agent runner, cynode-sba, in the job's sandbox: the
 * node copies the runner into the job's own /job tmpfs (no host path shows)
 * and gives the job its inference socket.  After the job the node reads
 * the runner's result from the workspace, checks it (lib/sba.c) and
 * reports it as the result's "sba_result" and "reply"; a job that exited
 * 0 without a valid one has failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "job.h"
#include "json.h"
#include "log.h"
#include "mask.h"
#include "node.h"
#include "sba.h"
#include "sandbox.h"
#include "banned.h"

char *
node_sba_runner(const struct node_config *c)
{
	static const char *const dirs[] = { "/usr/libexec/cynode", "/usr/local/libexec/cynode",
		NULL };
	char self[PATH_MAX], *slash, *p;
	ssize_t n;
	size_t i;

	if (c->sba_runner && *c->sba_runner)
		return access(c->sba_runner, R_OK) == 0 ? xstrdup(c->sba_runner) : NULL;
	/* Beside cynode-node first (a build tree, a /usr/sbin install). */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/'))) {
			*slash = '\0';
			p = xasprintf("%s/cynode-sba", self);
			if (access(p, R_OK) == 0)
				return p;
			free(p);
			/* <prefix>/sbin/cynode-node -> <prefix>/libexec/cynode/cynode-sba */
			if ((slash = strrchr(self, '/'))) {
				*slash = '\0';
				p = xasprintf("%s/libexec/cynode/cynode-sba", self);
				if (access(p, R_OK) == 0)
					return p;
				free(p);
			}
		}
	}
	for (i = 0; dirs[i]; i++) {
		p = xasprintf("%s/cynode-sba", dirs[i]);
		if (access(p, R_OK) == 0)
			return p;
		free(p);
	}
	return NULL;
}

int
sba_job_alias(json_t *sb, struct job_req *r, struct cy_buf *d)
{
	struct cy_error err = CY_ERROR_INIT;
	json_t *v = json_object_get(sb, "job_spec_json"), *spec;

	if (!v)
		return 0;
	if (json_object_get(sb, "sba"))
		return job_refuse(d, "sandbox.sba and sandbox.job_spec_json do not go together "
				     "(job_spec_json is the reference's name for the agent job "
				     "spec; give one of them)");
	if (json_is_object(v)) {
		spec = json_incref(v);
	} else if (json_is_string(v)) {
		spec = cy_json_parse(json_string_value(v), json_string_length(v), true, &err);
		if (!spec)
			return job_refuse(d, "sandbox.job_spec_json is not a JSON object: %s",
			    err.msg);
	} else {
		return job_refuse(d, "sandbox.job_spec_json must be the agent job spec: a JSON "
				     "object or its JSON text");
	}
	/* From here on it is sandbox.sba, also in the job.json the runner reads. */
	json_object_set_new(sb, "sba", spec);
	json_object_del(sb, "job_spec_json");
	r->sba_field = "job_spec_json";
	return 0;
}

int
sba_job_parse(struct node *n, const json_t *sb, struct job_req *r, struct cy_buf *d)
{
	json_t *spec = json_object_get(sb, "sba");
	struct cy_buf why = CY_BUF_INIT;
	static char *argv_runner[] = { SANDBOX_SBA_RUNNER, "/job/job.json", NULL };
	const char *f = r->sba_field ? r->sba_field : "sba";

	if (json_object_get(sb, "command"))
		return job_refuse(d,
		    "sandbox.%s and sandbox.command do not go together (an agent job runs the "
		    "agent runner)",
		    f);
	if (cy_sba_spec_check(spec, true, r->job_id, &why) < 0) {
		job_refuse(d, "sandbox.%s.%s", f, why.buf);
		cy_buf_release(&why);
		return -1;
	}
	if (!json_is_true(json_object_get(sb, "use_inference")))
		return job_refuse(d,
		    "sandbox.%s needs sandbox.use_inference: true (the agent reaches its model "
		    "through the job's inference socket)",
		    f);
	if (strcmp(n->cfg.sb_runtime, "bwrap"))
		return job_refuse(d, "agent jobs need the bwrap runtime (this node runs %s)",
		    n->cfg.sb_runtime);
	r->sba_runner = node_sba_runner(&n->cfg);
	if (!r->sba_runner)
		return job_refuse(d, "agent jobs need cynode-sba, which is not installed on this "
				     "node (sandbox.agent_runner, or beside cynode-node, or "
				     "/usr/libexec/cynode)");
	r->sba = true;
	r->argv = xcalloc(3, sizeof(char *));
	r->argv[0] = argv_runner[0];
	r->argv[1] = argv_runner[1];
	return 0;
}

/* s[0..n) with the job's secret values masked (a new string; caller frees). */
static char *
mask_text(const char *s, size_t n, const char *const *secrets, size_t *len)
{
	struct cy_buf out = CY_BUF_INIT;
	struct cy_mask *m = cy_mask_new(secrets);

	cy_mask_feed(m, s, n, &out);
	cy_mask_flush(m, &out);
	cy_mask_free(m);
	if (!out.buf)
		cy_buf_addstr(&out, "");
	return cy_buf_detach(&out, len);
}

/*
 * A copy of v with the job's secret values masked in its strings and
 * member names, as the node masks the job's output: the runner's result
 * holds step output that never went through the node's masker.  The
 * members the result's checks read (protocol_version, job_id, task_id,
 * status, type) are kept as they are: a secret that happens to occur in
 * them must not turn a good result into a bad one.
 */
static json_t *
sba_masked(const json_t *v, const char *const *secrets)
{
	static const char *const keep[] = { "protocol_version", "job_id", "task_id", "status",
		"type", NULL };
	const char *k;
	json_t *e, *o;
	size_t i, n;

	if (json_is_string(v)) {
		char *t = mask_text(json_string_value(v), json_string_length(v), secrets, &n);

		o = json_stringn(t, n);
		free(t);
		return o ? o : json_string("***");
	}
	if (json_is_array(v)) {
		o = json_array();
		json_array_foreach(v, i, e)
			json_array_append_new(o, sba_masked(e, secrets));
		return o;
	}
	if (!json_is_object(v))
		return json_deep_copy(v);
	o = json_object();
	json_object_foreach((json_t *)v, k, e) {
		char *mk = mask_text(k, strlen(k), secrets, &n);
		bool kept = false;

		for (i = 0; keep[i] && !kept; i++)
			kept = !strcmp(k, keep[i]);
		json_object_set_new(o, mk, kept ? json_deep_copy(e) : sba_masked(e, secrets));
		free(mk);
	}
	return o;
}

/* <dir>/workspace/.cynode/sba_result.json, never through a symlink; NULL and why. */
static json_t *
sba_read(const char *dir, struct cy_buf *why)
{
	struct cy_error err = CY_ERROR_INIT;
	struct cy_buf text = CY_BUF_INIT;
	char *path = xasprintf("%s/workspace", dir);
	int dfd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), sub = -1, fd = -1;
	json_t *res = NULL;

	free(path);
	if (dfd >= 0)
		sub = openat(dfd, CY_SBA_RESULT_DIR, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub >= 0)
		fd =
		    openat(sub, CY_SBA_RESULT_FILE, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		cy_buf_addf(why, "the agent left no %s/%s (%s)", CY_SBA_RESULT_DIR,
		    CY_SBA_RESULT_FILE, strerror(errno));
	} else if (cy_buf_read_fd(&text, fd, CY_SBA_RESULT_MAX) < 0) {
		cy_buf_addf(why, "cannot read the agent's result: %s",
		    errno == EFBIG ? "larger than 4 MiB" : strerror(errno));
	} else if (!(res = cy_json_parse(text.buf, text.len, true, &err))) {
		cy_buf_addf(why, "the agent's result is not a JSON object: %s", err.msg);
	}
	if (fd >= 0)
		close(fd);
	if (sub >= 0)
		close(sub);
	if (dfd >= 0)
		close(dfd);
	cy_buf_release(&text);
	return res;
}

void
sba_job_result(const struct job_req *r, const char *dir, json_t *out)
{
	struct cy_buf why = CY_BUF_INIT;
	const char *status = cy_json_str(out, "status");
	json_t *res = sba_read(dir, &why);

	if (res && cy_sba_result_check(res, r->job_id, &why) < 0) {
		json_decref(res);
		res = NULL;
	}
	if (res && r->secrets && r->secrets[0]) {
		json_t *m = sba_masked(res, r->secrets);

		json_decref(res);
		res = m;
	}
	if (res) {
		json_object_set(out, "sba_result", res);
		if (cy_json_str(res, "reply"))
			json_object_set_new(out, "reply", json_string(cy_json_str(res, "reply")));
		/* The runner's verdict stands: it exits 1 when it failed the job. */
	} else if (status && !strcmp(status, "completed")) {
		struct cy_buf err = CY_BUF_INIT;

		/* The reason may echo what the job wrote (its job_id): masked like its output. */
		if (r->secrets && r->secrets[0] && why.len) {
			size_t n;
			char *t = mask_text(why.buf, why.len, r->secrets, &n);

			cy_buf_reset(&why);
			cy_buf_add(&why, t, n);
			free(t);
		}

		cy_buf_addf(&err,
		    "%scynode-node: the agent job exited 0 without a valid sba_result: "
		    "%s\n",
		    json_string_length(json_object_get(out, "stderr")) ? "\n" : "", why.buf);
		json_object_set_new(out, "status", json_string("failed"));
		json_object_set_new(out, "stderr",
		    json_sprintf("%s%s",
			cy_json_str(out, "stderr") ? cy_json_str(out, "stderr") : "", err.buf));
		cy_log_warn("sba_result_invalid", "job_id", r->job_id, "error", why.buf, NULL);
		cy_buf_release(&err);
	}
	json_decref(res);
	cy_buf_release(&why);
}
