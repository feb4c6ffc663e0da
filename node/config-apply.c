/*
 * Applying a node_configuration_payload_v1 (contract 3.4) to the running
 * node: checks the payload (version, ULID config_version not older than
 * the applied one, node_slug, worker bearer token and its expiry), checks
 * the policy against node.yaml, which may be stricter but never looser
 * (REQ-WORKER-0120..0122: refuse and report the reason), then swaps in the
 * allowed images, default network policy, job timeout cap, request size
 * limit and concurrency cap under the node lock, and hands
 * inference_backend to the inference supervisor.  The applied version is
 * kept in <state_dir>/config_version so a restart still refuses older ones.
 *
 * Lists that Worker API threads may be reading are retired, not freed,
 * until the process ends (a push is rare; the memory is small).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "id.h"
#include "inference.h"
#include "json.h"
#include "log.h"
#include "node.h"
#include "timeutil.h"
#include "banned.h"

static struct cy_strlist *retired;
static size_t nretired;

static char *
apply_version_path(const struct node *n)
{
	return xasprintf("%s/config_version", n->cfg.state_dir);
}

/* The config_version applied before (this or an earlier run), or "". */
void
node_applied_version(const struct node *n, char out[64])
{
	struct cy_buf prev = CY_BUF_INIT;
	char *vp = apply_version_path(n);

	out[0] = '\0';
	if (cy_buf_read_file(&prev, vp, 64) == 0) {
		while (prev.len && prev.buf[prev.len - 1] == '\n')
			cy_buf_setlen(&prev, prev.len - 1);
		/* A longer file is not a version this node wrote. */
		if (cy_snprintf(out, 64, "%s", prev.buf) < 0)
			out[0] = '\0';
	}
	cy_buf_release(&prev);
	free(vp);
}

static void
apply_save_version(const struct node *n, const char *cv)
{
	char *vp = apply_version_path(n), *tmp = xasprintf("%s.tmp", vp);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || write(fd, cv, strlen(cv)) < 0 || fsync(fd) < 0 || rename(tmp, vp) < 0)
		cy_log_warn("config_version_save_failed", "path", vp, NULL);
	if (fd >= 0)
		close(fd);
	free(tmp);
	free(vp);
}

/* A positive integer member, 0 when absent; -1 when present but invalid. */
static int
apply_int(const json_t *o, const char *key, long long min, long long max, long long *out,
    struct cy_error *err)
{
	json_t *v = json_object_get(o, key);

	*out = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return cy_error_set(err, EINVAL,
		    "constraints.%s must be an integer from %lld "
		    "to %lld",
		    key, min, max);
	*out = json_integer_value(v);
	return 0;
}

/* Checks policy.sandbox against node.yaml; fills images and network. */
static int
apply_policy(const struct node *n, const json_t *c, struct cy_strlist *images, const char **network,
    struct cy_error *err)
{
	json_t *sb = cy_json_path(c, "policy.sandbox"), *imgs, *v;
	const char *np;
	size_t i;

	*network = NULL;
	if (!sb || json_is_null(sb))
		return 0;
	if (!json_is_object(sb))
		return cy_error_set(err, EINVAL, "policy.sandbox must be an object");
	/* allow_* true never widens node.yaml's sandbox.security (the executor checks
	 * both); false is applied as a deny below. */
	v = json_object_get(sb, "allow_privileged");
	if (v && !json_is_boolean(v) && !json_is_null(v))
		return cy_error_set(err, EINVAL,
		    "policy.sandbox.allow_privileged must be a boolean");
	v = json_object_get(sb, "allow_host_network");
	if (v && !json_is_boolean(v) && !json_is_null(v))
		return cy_error_set(err, EINVAL,
		    "policy.sandbox.allow_host_network must be a boolean");
	np = cy_json_str(sb, "default_network_policy");
	if (np && strcmp(np, "restricted") && strcmp(np, "none") && strcmp(np, "allowlist"))
		return cy_error_set(err, EINVAL,
		    "policy.sandbox.default_network_policy '%.40s' is "
		    "not restricted, none or allowlist",
		    np);
	*network = np;
	imgs = json_object_get(sb, "allowed_images");
	if (imgs && !json_is_null(imgs) && !json_is_array(imgs))
		return cy_error_set(err, EINVAL, "policy.sandbox.allowed_images must be a list");
	json_array_foreach(imgs, i, v) {
		const char *img = json_string_value(v);

		if (!img || !*img)
			return cy_error_set(err, EINVAL,
			    "policy.sandbox.allowed_images[%zu] must be a non-empty string", i);
		if (n->cfg.allowed_images.n && !cy_strlist_has(&n->cfg.allowed_images, img))
			return cy_error_set(err, EPERM,
			    "policy.sandbox.allowed_images allows '%.200s', "
			    "which this node's sandbox.allowed_images (node.yaml) does not: the "
			    "node's own policy may only be stricter",
			    img);
		images->v = xreallocarray(images->v, images->n + 1, sizeof(char *));
		images->v[images->n++] = xstrdup(img);
	}
	return 0;
}

int
node_config_apply(struct node *n, const json_t *c, struct cy_error *err)
{
	struct cy_strlist images = { 0 };
	const char *cv, *tok, *exp, *slug, *network;
	char prev[64];
	long long ver, max_req = 0, max_to = 0, max_conc = 0;
	json_t *cons;
	time_t t = 0;

	if (cy_json_int(c, "version", &ver) < 0 || ver != 1)
		return cy_error_set(err, EPROTO, "unsupported config payload version (want 1)");
	cv = cy_json_str(c, "config_version");
	if (!cv || !cy_ulid_valid(cv))
		return cy_error_set(err, EPROTO, "config_version '%.40s' is not a ULID",
		    cv ? cv : "");
	slug = cy_json_str(c, "node_slug");
	if (slug && strcmp(slug, n->cfg.node_id))
		return cy_error_set(err, EPROTO, "config is for node '%.64s', not '%s'", slug,
		    n->cfg.node_id);
	tok = cy_json_path_str(c, "worker_api.orchestrator_bearer_token");
	if (!tok || !*tok)
		return cy_error_set(err, EPROTO,
		    "config lacks worker_api.orchestrator_bearer_token");
	exp = cy_json_path_str(c, "worker_api.orchestrator_bearer_token_expires_at");
	if (exp && *exp) {
		if (cy_time_parse_rfc3339(exp, &t) < 0)
			return cy_error_set(err, EPROTO,
			    "bad orchestrator_bearer_token_expires_at");
		if (t <= time(NULL))
			return cy_error_set(err, EPROTO, "the worker bearer token has expired");
	}
	node_applied_version(n, prev);
	if (prev[0] && strcmp(cv, prev) < 0)
		return cy_error_set(err, ESTALE,
		    "config_version %s is older than the applied %s; "
		    "refused",
		    cv, prev);
	cons = json_object_get(c, "constraints");
	if (cons && !json_is_null(cons) && !json_is_object(cons))
		return cy_error_set(err, EINVAL, "constraints must be an object");
	if (apply_int(cons, "max_request_bytes", 1024, 1073741824LL, &max_req, err) < 0 ||
	    apply_int(cons, "max_job_timeout_seconds", 1, 31536000LL, &max_to, err) < 0 ||
	    apply_int(cons, "max_concurrency", 1, 1024, &max_conc, err) < 0)
		return -1;
	if (node_inference_check(json_object_get(c, "inference_backend"), err) < 0)
		return -1;
	if (apply_policy(n, c, &images, &network, err) < 0) {
		cy_strlist_free(&images);
		return -1;
	}

	pthread_mutex_lock(&n->lock);
	n->config_applied = true;
	xsnprintf(n->applied.config_version, sizeof(n->applied.config_version), "%s", cv);
	if (n->applied.bearer_token) {
		/* Retired like the lists: a request may be comparing against it. */
		retired = xreallocarray(retired, nretired + 1, sizeof(*retired));
		retired[nretired].v = xmalloc(sizeof(char *));
		retired[nretired].v[0] = n->applied.bearer_token;
		retired[nretired++].n = 1;
	}
	n->applied.bearer_token = xstrdup(tok);
	n->applied.token_expires_at = t;
	n->applied.max_request_bytes = max_req;
	n->applied.max_job_timeout_s = max_to;
	retired = xreallocarray(retired, nretired + 1, sizeof(*retired));
	retired[nretired++] = n->applied.policy_images;
	n->applied.policy_images = images;
	free(n->applied.policy_network);
	n->applied.policy_network = network ? xstrdup(network) : NULL;
	/* The executor refuses these when the pushed policy says false. */
	n->applied.policy_deny_privileged =
	    json_is_false(cy_json_path(c, "policy.sandbox.allow_privileged"));
	n->applied.policy_deny_host_network =
	    json_is_false(cy_json_path(c, "policy.sandbox.allow_host_network"));
	n->applied.policy_deny_devices =
	    json_is_false(cy_json_path(c, "policy.sandbox.allow_device_mounts"));
	n->cfg.max_concurrency = n->yaml_max_concurrency;
	if (max_conc && max_conc < n->cfg.max_concurrency)
		n->cfg.max_concurrency = max_conc;
	n->body_limit = (size_t)n->cfg.max_request_bytes;
	if (max_req && (size_t)max_req < n->body_limit)
		n->body_limit = (size_t)max_req;
	pthread_mutex_unlock(&n->lock);
	worker_api_limits(n);
	apply_save_version(n, cv);
	/* Start or stop the backend the orchestrator enables (inference.c). */
	node_inference_configure(json_object_get(c, "inference_backend"));
	return 0;
}

void
node_config_apply_release(struct node *n)
{
	size_t i;

	for (i = 0; i < nretired; i++) {
		size_t k;

		for (k = 0; k < retired[i].n; k++)
			if (retired[i].v[k])
				explicit_bzero(retired[i].v[k], strlen(retired[i].v[k]));
		cy_strlist_free(&retired[i]);
	}
	free(retired);
	retired = NULL;
	nretired = 0;
	if (n->applied.bearer_token)
		explicit_bzero(n->applied.bearer_token, strlen(n->applied.bearer_token));
	free(n->applied.bearer_token);
	free(n->applied.policy_network);
	cy_strlist_free(&n->applied.policy_images);
	n->applied.bearer_token = NULL;
	n->applied.policy_network = NULL;
}
