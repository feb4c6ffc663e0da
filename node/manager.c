/*
 * The node manager: the startup order of contract 3.1 and the report loop.
 * Register with the PSK and the capability report (retrying while the
 * orchestrator is unreachable; 400/401 are fatal), validate the bootstrap,
 * fetch the config from the bootstrap's node_config_url with the node JWT,
 * validate and apply it, start the Worker API, acknowledge the config, then
 * send a capability report every orchestrator.report_interval_seconds,
 * re-registering when the JWT is refused.  The node JWT is kept in
 * <state_dir>/credentials/node.jwt (0600) and never logged.
 *
 * Sleeps wait for SIGINT/SIGTERM (blocked in every thread) with
 * sigtimedwait, so a signal ends the loop promptly.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "httpc.h"
#include "httpd.h"
#include "id.h"
#include "json.h"
#include "log.h"
#include "node.h"
#include "timeutil.h"
#include "banned.h"

#define CLEANUP_AGE_S 3600

struct session {
	char *jwt;		/* secret */
	char *config_url;
	char *report_url;
};

static struct session sess;
static struct cy_httpd *worker_httpd;
static volatile sig_atomic_t mgr_stop;

/*
 * Waits `seconds` for a termination signal.  Returns 1 when one arrived
 * (and from then on), else 0.
 */
static int
mgr_sleep(long long seconds)
{
	struct timespec ts = { (time_t)seconds, 0 };
	sigset_t set;
	int64_t end = cy_mono_ms() + seconds * 1000;

	if (mgr_stop)
		return 1;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	for (;;) {
		int sig = sigtimedwait(&set, NULL, &ts);
		int64_t left;

		if (sig == SIGINT || sig == SIGTERM) {
			mgr_stop = 1;
			return 1;
		}
		left = end - cy_mono_ms();
		if (left <= 0)
			return 0;
		ts.tv_sec = (time_t)(left / 1000);
		ts.tv_nsec = (long)(left % 1000) * 1000000;
	}
}

static int
mgr_call(struct node *n, const char *method, const char *url, const json_t *body,
	const char *bearer, struct cy_httpc_resp *resp, struct cy_error *err)
{
	struct cy_httpc_opts o = { 0 };
	char *data = body ? cy_json_dump(body) : NULL;
	int ret;

	o.timeout_ms = n->cfg.request_s * 1000;
	o.connect_timeout_ms = n->cfg.connect_s * 1000;
	o.max_response = 4 * 1024 * 1024;
	o.bearer = bearer;
	o.ca_file = n->cfg.tls_ca;
	ret = cy_httpc_request(method, url, data, data ? strlen(data) : 0, &o, resp, err);
	if (data) {
		/* The registration body holds the PSK: wipe it. */
		explicit_bzero(data, strlen(data));
		free(data);
	}
	return ret;
}

/* The "detail" (or the start of the body) of an error answer, for messages. */
static void
mgr_detail(const struct cy_httpc_resp *resp, char *out, size_t len)
{
	struct cy_error e = CY_ERROR_INIT;
	json_t *j = cy_json_parse(resp->body.buf, resp->body.len, true, &e);
	const char *d = j ? cy_json_str(j, "detail") : NULL;

	snprintf(out, len, "%.200s", d ? d : resp->body.buf);
	json_decref(j);
}

static void
mgr_save_jwt(struct node *n)
{
	char *dir = xasprintf("%s/credentials", n->cfg.state_dir);
	char *tmp = xasprintf("%s/node.jwt.tmp", dir), *dst = xasprintf("%s/node.jwt", dir);
	size_t len = strlen(sess.jwt);
	int fd;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		cy_log_warn("credentials_dir_failed", "path", dir, "error", strerror(errno), NULL);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0 && fchmod(fd, 0600) == 0 && write(fd, sess.jwt, len) == (ssize_t)len &&
	    fsync(fd) == 0 && close(fd) == 0) {
		if (rename(tmp, dst) < 0)
			cy_log_warn("credentials_save_failed", "path", dst, NULL);
	} else {
		if (fd >= 0)
			close(fd);
		cy_log_warn("credentials_save_failed", "path", tmp, "error", strerror(errno), NULL);
		unlink(tmp);
	}
	free(dir);
	free(tmp);
	free(dst);
}

/* Validates the bootstrap payload (3.3) and keeps the JWT and URLs. */
static int
mgr_bootstrap(struct node *n, const struct cy_httpc_resp *resp, struct cy_error *err)
{
	const char *jwt, *cu, *ru;
	long long v;
	json_t *b;

	b = cy_json_parse(resp->body.buf, resp->body.len, true, err);
	if (!b)
		return cy_error_wrap(err, "bootstrap payload");
	jwt = cy_json_path_str(b, "auth.node_jwt");
	cu = cy_json_path_str(b, "orchestrator.endpoints.node_config_url");
	ru = cy_json_path_str(b, "orchestrator.endpoints.node_report_url");
	if (cy_json_int(b, "version", &v) < 0 || v != 1) {
		json_decref(b);
		return cy_error_set(err, EPROTO, "bootstrap payload version is not 1");
	}
	if (!jwt || !*jwt || !cu || !*cu || !ru || !*ru) {
		json_decref(b);
		return cy_error_set(err, EPROTO, "bootstrap payload lacks auth.node_jwt, "
			"node_config_url or node_report_url");
	}
	if (sess.jwt)
		explicit_bzero(sess.jwt, strlen(sess.jwt));
	free(sess.jwt);
	free(sess.config_url);
	free(sess.report_url);
	sess.jwt = xstrdup(jwt);
	sess.config_url = xstrdup(cu);
	sess.report_url = xstrdup(ru);
	json_decref(b);
	mgr_save_jwt(n);
	return 0;
}

/*
 * Registers (3.2).  Retries while the orchestrator is unreachable or
 * answers 5xx; returns -1 on a refusal (400/401/...) or a signal.
 */
static int
mgr_register(struct node *n, struct cy_error *err)
{
	long long delay = 1;
	char detail[256];

	for (;;) {
		struct cy_httpc_resp resp = CY_HTTPC_RESP_INIT;
		char *url = xasprintf("%s/v1/nodes/register", n->cfg.orch_url);
		json_t *body = json_pack("{s:s, s:o}", "psk", n->cfg.psk, "capability",
			node_capability_report(n));
		int rc = mgr_call(n, "POST", url, body, NULL, &resp, err);

		json_decref(body);
		free(url);
		if (rc == 0 && (resp.status == 200 || resp.status == 201)) {
			rc = mgr_bootstrap(n, &resp, err);
			cy_httpc_resp_release(&resp);
			if (rc == 0) {
				n->registered = true;
				cy_log_info("node_registered", "node_slug", n->cfg.node_id, NULL);
			}
			return rc;
		}
		if (rc == 0 && resp.status == 401) {
			cy_httpc_resp_release(&resp);
			return cy_error_set(err, EACCES, "registration refused: the orchestrator "
				"rejected the registration PSK (401); check the PSK configured for "
				"this node");
		}
		if (rc == 0 && resp.status >= 400 && resp.status < 500) {
			mgr_detail(&resp, detail, sizeof(detail));
			rc = (int)resp.status;
			cy_httpc_resp_release(&resp);
			return cy_error_set(err, EINVAL, "registration refused (%d): %s", rc, detail);
		}
		if (rc == 0) {
			char st[24];

			snprintf(st, sizeof(st), "%ld", resp.status);
			cy_log_warn("register_retry", "status", st, NULL);
		} else {
			cy_log_warn("register_retry", "url", n->cfg.orch_url, "error", err->msg, NULL);
		}
		cy_httpc_resp_release(&resp);
		if (mgr_sleep(delay))
			return cy_error_set(err, EINTR, "interrupted");
		delay = delay * 2 > 30 ? 30 : delay * 2;
	}
}

static char *
mgr_version_path(const struct node *n)
{
	return xasprintf("%s/config_version", n->cfg.state_dir);
}

/* Validates a config payload (3.4) and applies it to n->applied. */
static int
mgr_apply(struct node *n, json_t *c, struct cy_error *err)
{
	struct cy_buf prev = CY_BUF_INIT;
	const char *cv, *tok, *exp, *slug, *np;
	json_t *imgs, *v;
	long long ver, x;
	time_t t = 0;
	char *vp;
	size_t i;

	if (cy_json_int(c, "version", &ver) < 0 || ver != 1)
		return cy_error_set(err, EPROTO, "unsupported config payload version (want 1)");
	cv = cy_json_str(c, "config_version");
	if (!cv || !cy_ulid_valid(cv))
		return cy_error_set(err, EPROTO, "config_version '%s' is not a ULID",
			cv ? cv : "");
	slug = cy_json_str(c, "node_slug");
	if (slug && strcmp(slug, n->cfg.node_id))
		return cy_error_set(err, EPROTO, "config is for node '%s', not '%s'", slug,
			n->cfg.node_id);
	tok = cy_json_path_str(c, "worker_api.orchestrator_bearer_token");
	if (!tok || !*tok)
		return cy_error_set(err, EPROTO,
			"config lacks worker_api.orchestrator_bearer_token");
	exp = cy_json_path_str(c, "worker_api.orchestrator_bearer_token_expires_at");
	if (exp && *exp) {
		if (cy_time_parse_rfc3339(exp, &t) < 0)
			return cy_error_set(err, EPROTO, "bad orchestrator_bearer_token_expires_at");
		if (t <= time(NULL))
			return cy_error_set(err, EPROTO, "the worker bearer token has expired");
	}
	vp = mgr_version_path(n);
	if (cy_buf_read_file(&prev, vp, 64) == 0) {
		while (prev.len && (prev.buf[prev.len - 1] == '\n'))
			cy_buf_setlen(&prev, prev.len - 1);
		if (prev.len && strcmp(cv, prev.buf) < 0) {
			cy_error_set(err, EPROTO, "config_version %s is older than the applied %s",
				cv, prev.buf);
			cy_buf_release(&prev);
			free(vp);
			return -1;
		}
	}
	cy_buf_release(&prev);

	snprintf(n->applied.config_version, sizeof(n->applied.config_version), "%s", cv);
	free(n->applied.bearer_token);
	n->applied.bearer_token = xstrdup(tok);
	n->applied.token_expires_at = t;
	v = cy_json_path(c, "constraints");
	n->applied.max_request_bytes = 0;
	n->applied.max_job_timeout_s = 0;
	if (json_is_object(v)) {
		if (cy_json_int(v, "max_request_bytes", &x) == 0 && x > 0)
			n->applied.max_request_bytes = x;
		if (cy_json_int(v, "max_job_timeout_seconds", &x) == 0 && x > 0)
			n->applied.max_job_timeout_s = x;
	}
	cy_strlist_free(&n->applied.policy_images);
	imgs = cy_json_path(c, "policy.sandbox.allowed_images");
	json_array_foreach(imgs, i, v) {
		if (!json_is_string(v))
			continue;
		n->applied.policy_images.v = xreallocarray(n->applied.policy_images.v,
			n->applied.policy_images.n + 1, sizeof(char *));
		n->applied.policy_images.v[n->applied.policy_images.n++] =
			xstrdup(json_string_value(v));
	}
	n->applied.policy_deny_privileged =
		json_is_false(cy_json_path(c, "policy.sandbox.allow_privileged"));
	n->applied.policy_deny_host_network =
		json_is_false(cy_json_path(c, "policy.sandbox.allow_host_network"));
	n->applied.policy_deny_devices =
		json_is_false(cy_json_path(c, "policy.sandbox.allow_device_mounts"));
	np = cy_json_path_str(c, "policy.sandbox.default_network_policy");
	free(n->applied.policy_network);
	n->applied.policy_network = np ? xstrdup(np) : NULL;

	n->body_limit = (size_t)n->cfg.max_request_bytes;
	if (n->applied.max_request_bytes && (size_t)n->applied.max_request_bytes < n->body_limit)
		n->body_limit = (size_t)n->applied.max_request_bytes;
	{
		int fd = open(vp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		if (fd < 0 || write(fd, cv, strlen(cv)) < 0)
			cy_log_warn("config_version_save_failed", "path", vp, NULL);
		if (fd >= 0)
			close(fd);
	}
	free(vp);
	return 0;
}

/* GET the config; on 401/404 re-register once.  Retries transport errors. */
static int
mgr_fetch_config(struct node *n, json_t **out, struct cy_error *err)
{
	long long delay = 1;
	int reregistered = 0;
	char detail[256];

	for (;;) {
		struct cy_httpc_resp resp = CY_HTTPC_RESP_INIT;
		int rc = mgr_call(n, "GET", sess.config_url, NULL, sess.jwt, &resp, err);

		if (rc == 0 && resp.status == 200) {
			*out = cy_json_parse(resp.body.buf, resp.body.len, true, err);
			cy_httpc_resp_release(&resp);
			return *out ? 0 : cy_error_wrap(err, "config payload");
		}
		if (rc == 0 && (resp.status == 401 || resp.status == 404) && !reregistered) {
			cy_httpc_resp_release(&resp);
			reregistered = 1;
			if (mgr_register(n, err) < 0)
				return -1;
			continue;
		}
		if (rc == 0 && resp.status >= 400 && resp.status < 500) {
			mgr_detail(&resp, detail, sizeof(detail));
			rc = (int)resp.status;
			cy_httpc_resp_release(&resp);
			return cy_error_set(err, EINVAL, "config fetch refused (%d): %s", rc,
				detail);
		}
		cy_log_warn("config_fetch_retry", "error", rc ? err->msg : "server error", NULL);
		cy_httpc_resp_release(&resp);
		if (mgr_sleep(delay))
			return cy_error_set(err, EINTR, "interrupted");
		delay = delay * 2 > 30 ? 30 : delay * 2;
	}
}

/* POSTs the config ack (3.5), retrying until the orchestrator takes it. */
static int
mgr_ack(struct node *n, const char *cv, const char *failure, struct cy_error *err)
{
	char now[CY_RFC3339_LEN + 1];
	long long delay = 1;
	json_t *ack;

	for (;;) {
		struct cy_httpc_resp resp = CY_HTTPC_RESP_INIT;
		int rc;

		cy_now_rfc3339(now);
		ack = json_pack("{s:i, s:s, s:s, s:s, s:s}", "version", 1, "node_slug",
			n->cfg.node_id, "config_version", cv, "ack_at", now, "status",
			failure ? "failed" : "applied");
		if (failure)
			json_object_set_new(ack, "error", json_pack("{s:s, s:s}", "type",
				"apply_failed", "message", failure));
		rc = mgr_call(n, "POST", sess.config_url, ack, sess.jwt, &resp, err);
		json_decref(ack);
		if (rc == 0 && resp.status >= 200 && resp.status < 300) {
			cy_httpc_resp_release(&resp);
			cy_log_info("config_acked", "config_version", cv, "status",
				failure ? "failed" : "applied", NULL);
			return 0;
		}
		if (rc == 0 && resp.status == 401) {
			cy_httpc_resp_release(&resp);
			if (mgr_register(n, err) < 0)
				return -1;
			continue;
		}
		if (rc == 0 && resp.status >= 400 && resp.status < 500) {
			char detail[256];

			mgr_detail(&resp, detail, sizeof(detail));
			rc = (int)resp.status;
			cy_httpc_resp_release(&resp);
			return cy_error_set(err, EINVAL, "config ack refused (%d): %s", rc, detail);
		}
		cy_log_warn("config_ack_retry", "error", rc ? err->msg : "server error", NULL);
		cy_httpc_resp_release(&resp);
		if (mgr_sleep(delay))
			return cy_error_set(err, EINTR, "interrupted");
		delay = delay * 2 > 30 ? 30 : delay * 2;
	}
}

/* One capability report; re-registers when the JWT is refused. */
static void
mgr_report(struct node *n)
{
	struct cy_error err = CY_ERROR_INIT;
	struct cy_httpc_resp resp = CY_HTTPC_RESP_INIT;
	json_t *cap = node_capability_report(n);
	int rc = mgr_call(n, "POST", sess.report_url, cap, sess.jwt, &resp, &err);

	json_decref(cap);
	if (rc < 0) {
		cy_log_warn("report_failed", "error", err.msg, NULL);
	} else if (resp.status == 401 || resp.status == 404) {
		cy_log_info("node_jwt_refused", "action", "re-register", NULL);
		if (mgr_register(n, &err) < 0 && !mgr_stop)
			cy_log_error("reregister_failed", "error", err.msg, NULL);
	} else if (resp.status >= 300) {
		char st[24];

		snprintf(st, sizeof(st), "%ld", resp.status);
		cy_log_warn("report_failed", "status", st, NULL);
	}
	cy_httpc_resp_release(&resp);
}

int
manager_run(struct node *n, struct cy_error *err)
{
	struct cy_error perr = CY_ERROR_INIT;
	json_t *conf = NULL;
	char failure[600] = "";
	const char *cv;
	int ret = -1;

	node_cleanup_jobs(n, CLEANUP_AGE_S);
	if (node_sandbox_probe(n, &perr) == 0) {
		n->sandbox_ok = true;
	} else {
		snprintf(n->sandbox_reason, sizeof(n->sandbox_reason), "%s", perr.msg);
		cy_log_error("sandbox_unavailable", "error", perr.msg, NULL);
	}
	if (mgr_register(n, err) < 0)
		goto out;
	if (mgr_fetch_config(n, &conf, err) < 0)
		goto out;
	cv = cy_json_str(conf, "config_version");
	if (mgr_apply(n, conf, &perr) < 0) {
		snprintf(failure, sizeof(failure), "%s", perr.msg);
		cy_log_error("config_rejected", "error", perr.msg, NULL);
	} else {
		n->config_applied = true;
		worker_httpd = worker_api_start(n, &perr);
		if (!worker_httpd) {
			snprintf(failure, sizeof(failure), "worker API: %s", perr.msg);
			n->config_applied = false;
		} else if (!n->sandbox_ok && strcmp(n->cfg.sb_mode, "disabled")) {
			snprintf(failure, sizeof(failure), "sandbox runtime unavailable: %s",
				n->sandbox_reason);
		}
	}
	if (mgr_ack(n, cv ? cv : "", failure[0] ? failure : NULL, err) < 0)
		goto out;
	if (failure[0] && !worker_httpd) {
		cy_error_set(err, EPROTO, "config not applied: %s", failure);
		goto out;
	}
	if (worker_httpd) {
		char port[16];

		snprintf(port, sizeof(port), "%u", cy_httpd_port(worker_httpd));
		cy_log_info("worker_api_started", "listen", n->cfg.listen_host, "port", port,
			"base_url", n->base_url, NULL);
	}
	while (!mgr_sleep(n->cfg.report_interval_s)) {
		mgr_report(n);
		node_cleanup_jobs(n, CLEANUP_AGE_S);
	}
	ret = 0;
out:
	if (mgr_stop && ret < 0 && err->code == EINTR)
		ret = 0;
	json_decref(conf);
	cy_log_info("node_stopping", "node_slug", n->cfg.node_id, NULL);
	node_sandbox_kill_all();
	if (worker_httpd)
		cy_httpd_stop(worker_httpd);
	worker_httpd = NULL;
	if (sess.jwt)
		explicit_bzero(sess.jwt, strlen(sess.jwt));
	free(sess.jwt);
	free(sess.config_url);
	free(sess.report_url);
	memset(&sess, 0, sizeof(sess));
	return ret;
}
