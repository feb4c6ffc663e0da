/*
 * The node manager: the startup order of contract 3.1 and the heartbeat
 * loop.  Register with a secret (the node credential saved by an earlier
 * registration, else a one-time enrollment token, else the PSK) and the
 * capability report (retrying while the orchestrator is unreachable;
 * 400/401/403 are fatal), validate the bootstrap, fetch the config from the
 * bootstrap's node_config_url with the node JWT, apply it (config-apply.c),
 * start the Worker API, start or find the inference backend (inference.c;
 * with inference.mode require, a node without one acks failed and exits),
 * acknowledge the config.  Then heartbeat every
 * orchestrator.heartbeat_interval_seconds: the answer names the config
 * version to apply (a new one is fetched, applied or refused, and acked
 * within one interval) and the hash of the stored capability report (a
 * changed capability is reported at once; a full report also goes out every
 * orchestrator.report_interval_seconds).  A refused JWT (expired, node
 * removed) means registering again.  The node JWT and the node credential
 * are kept in <state_dir>/credentials/ (0600) and never logged.
 *
 * Sleeps wait for SIGINT/SIGTERM (blocked in every thread) with
 * sigtimedwait, so a signal ends the loop promptly.
 */
#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "caphash.h"
#include "children.h"
#include "httpc.h"
#include "httpd.h"
#include "id.h"
#include "inference.h"
#include "json.h"
#include "log.h"
#include "node.h"
#include "notify.h"
#include "sandbox.h"
#include "telemetry.h"
#include "timeutil.h"
#include "banned.h"

/* The telemetry store's record of a configuration applied or refused (why). */
static void
mgr_tel_config(const char *version, const char *why)
{
	char *msg = why ? xasprintf("config %s refused: %s", version, why) :
			  xasprintf("config %s applied", version);

	node_telemetry_event("node", why ? "error" : "info",
	    why ? "config_refused" : "config_applied", msg, NULL, NULL);
	free(msg);
}

#define CLEANUP_AGE_S 3600

struct session {
	char *jwt; /* secret */
	char *config_url;
	char *report_url;
	char *heartbeat_url;
	char *refused;     /* last config_version refused, not fetched again */
	char cap_hash[80]; /* capability_hash of the last report sent */
};

static struct session sess;
static struct cy_httpd *worker_httpd;
static volatile sig_atomic_t mgr_stop;
/* node.yaml's path, read again on SIGHUP (manager_run sets it). */
static const char *mgr_config_path;
/* Set when the orchestrator refused this node for good (removed, revoked). */
static char mgr_fatal[512];

/*
 * Waits `seconds` for a termination signal.  Returns 1 when one arrived
 * (and from then on), else 0.  A SIGHUP meanwhile reloads (reload.c); under
 * a systemd watchdog it wakes to send WATCHDOG=1.
 */
static int
mgr_sleep(long long seconds)
{
	struct timespec ts = { .tv_sec = (time_t)seconds };
	int64_t wd_ms = cy_notify_watchdog_ms();
	sigset_t set;
	int64_t end = cy_mono_ms() + seconds * 1000;

	if (mgr_stop)
		return 1;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	for (;;) {
		int sig;
		int64_t left;

		if (wd_ms > 0 && (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 > wd_ms) {
			ts.tv_sec = (time_t)(wd_ms / 1000);
			ts.tv_nsec = (long)(wd_ms % 1000) * 1000000;
		}
		sig = sigtimedwait(&set, NULL, &ts);
		if (sig == SIGINT || sig == SIGTERM) {
			mgr_stop = 1;
			return 1;
		}
		if (sig == SIGHUP)
			node_reload(mgr_config_path);
		if (wd_ms > 0)
			cy_notify_watchdog();
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
	o.pinned_pubkey = n->cfg.tls_pin;
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

	xsnprintf(out, len, "%.200s", d ? d : resp->body.buf); /* len is 256 */
	json_decref(j);
}

/* Writes a secret to <state_dir>/credentials/NAME (0600, atomically). */
static void
mgr_save_secret(struct node *n, const char *name, const char *secret)
{
	char *dir = xasprintf("%s/credentials", n->cfg.state_dir);
	char *tmp = xasprintf("%s/%s.tmp", dir, name), *dst = xasprintf("%s/%s", dir, name);
	size_t len = strlen(secret);
	bool ok;
	int fd;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		cy_log_warn("credentials_dir_failed", "path", dir, "error", strerror(errno), NULL);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	ok = fd >= 0 && fchmod(fd, 0600) == 0 && write(fd, secret, len) == (ssize_t)len &&
	     fsync(fd) == 0;
	/* Closed once, whatever close() says: a second close could hit another
	 * thread's descriptor of the same number. */
	if (fd >= 0 && close(fd) < 0)
		ok = false;
	if (ok) {
		if (rename(tmp, dst) < 0)
			cy_log_warn("credentials_save_failed", "path", dst, NULL);
	} else {
		cy_log_warn("credentials_save_failed", "path", tmp, "error", strerror(errno), NULL);
		unlink(tmp);
	}
	free(dir);
	free(tmp);
	free(dst);
}

static void
mgr_forget(char **secret)
{
	if (*secret)
		explicit_bzero(*secret, strlen(*secret));
	free(*secret);
	*secret = NULL;
}

/* Validates the bootstrap payload (3.3) and keeps the JWT and URLs. */
static int
mgr_bootstrap(struct node *n, const struct cy_httpc_resp *resp, struct cy_error *err)
{
	const char *jwt, *cu, *ru, *hu, *cred;
	long long v;
	json_t *b;

	b = cy_json_parse(resp->body.buf, resp->body.len, true, err);
	if (!b)
		return cy_error_wrap(err, "bootstrap payload");
	jwt = cy_json_path_str(b, "auth.node_jwt");
	cred = cy_json_path_str(b, "auth.node_credential");
	cu = cy_json_path_str(b, "orchestrator.endpoints.node_config_url");
	ru = cy_json_path_str(b, "orchestrator.endpoints.node_report_url");
	hu = cy_json_path_str(b, "orchestrator.endpoints.node_heartbeat_url");
	if (cy_json_int(b, "version", &v) < 0 || v != 1) {
		json_decref(b);
		return cy_error_set(err, EPROTO, "bootstrap payload version is not 1");
	}
	if (!jwt || !*jwt || !cu || !*cu || !ru || !*ru) {
		json_decref(b);
		return cy_error_set(err, EPROTO,
		    "bootstrap payload lacks auth.node_jwt, "
		    "node_config_url or node_report_url");
	}
	mgr_forget(&sess.jwt);
	free(sess.config_url);
	free(sess.report_url);
	free(sess.heartbeat_url);
	sess.jwt = xstrdup(jwt);
	sess.config_url = xstrdup(cu);
	sess.report_url = xstrdup(ru);
	sess.heartbeat_url =
	    hu && *hu ? xstrdup(hu) : xasprintf("%s/v1/nodes/heartbeat", n->cfg.orch_url);
	if (cred && *cred) {
		/* Issued for re-registration; the one-time token is spent now. */
		mgr_forget(&n->cfg.credential);
		n->cfg.credential = xstrdup(cred);
		mgr_save_secret(n, "node.credential", cred);
		mgr_forget(&n->cfg.enroll_token);
	}
	json_decref(b);
	mgr_save_secret(n, "node.jwt", sess.jwt);
	return 0;
}

/*
 * A node re-registering while it runs an applied config (its JWT expired)
 * names that version: the server then keeps its worker token, desired
 * version and last ack, so a refused push does not make it undispatchable.
 * A starting node sends none and fetches its config as usual.
 */
static void
mgr_running_version(struct node *n, json_t *body)
{
	char cv[sizeof(n->applied.config_version)] = "";

	pthread_mutex_lock(&n->lock);
	if (n->config_applied)
		xsnprintf(cv, sizeof(cv), "%s", n->applied.config_version);
	pthread_mutex_unlock(&n->lock);
	if (cv[0])
		json_object_set_new(body, "running_config_version", json_string(cv));
}

/*
 * Registers (3.2).  Retries while the orchestrator is unreachable or
 * answers 5xx; returns -1 on a refusal (400/401/...) or a signal.
 */
static int
mgr_register(struct node *n, struct cy_error *err)
{
	long long delay = 1;
	char detail[512];

	for (;;) {
		struct cy_httpc_resp resp = CY_HTTPC_RESP_INIT;
		char *url = xasprintf("%s/v1/nodes/register", n->cfg.orch_url);
		json_t *body = json_pack("{s:o}", "capability", node_capability_report(n));
		const char *how = "psk";
		int rc;

		if (n->cfg.credential) {
			json_object_set_new(body, "node_credential",
			    json_string(n->cfg.credential));
			how = "node_credential";
		} else if (n->cfg.enroll_token) {
			json_object_set_new(body, "enrollment_token",
			    json_string(n->cfg.enroll_token));
			how = "enrollment_token";
		} else if (n->cfg.psk) {
			json_object_set_new(body, "psk", json_string(n->cfg.psk));
		}
		mgr_running_version(n, body);
		rc = mgr_call(n, "POST", url, body, NULL, &resp, err);
		json_decref(body);
		free(url);
		if (rc == 0 && (resp.status == 200 || resp.status == 201)) {
			rc = mgr_bootstrap(n, &resp, err);
			cy_httpc_resp_release(&resp);
			if (rc == 0) {
				n->registered = true;
				cy_log_info("node_registered", "node_slug", n->cfg.node_id, NULL);
				node_telemetry_event("node", "info", "node_registered",
				    "registered with the orchestrator", NULL, NULL);
			}
			return rc;
		}
		if (rc == 0 && resp.status == 401 && n->cfg.credential &&
		    (n->cfg.enroll_token || n->cfg.psk)) {
			/* Credential revoked (node removed, or a new database): try the
			 * configured secret; the server refuses a removed slug's PSK. */
			cy_httpc_resp_release(&resp);
			cy_log_warn("node_credential_refused", "action",
			    "register with the "
			    "configured enrollment token or PSK",
			    NULL);
			mgr_forget(&n->cfg.credential);
			{
				char *p =
				    xasprintf("%s/credentials/node.credential", n->cfg.state_dir);

				unlink(p);
				free(p);
			}
			continue;
		}
		if (rc == 0 && (resp.status == 401 || resp.status == 403)) {
			mgr_detail(&resp, detail, sizeof(detail));
			rc = (int)resp.status;
			cy_httpc_resp_release(&resp);
			return cy_error_set(err, EACCES,
			    "registration refused (%d, %s): %s; check "
			    "the secret configured for this node",
			    rc, how, detail);
		}
		if (rc == 0 && resp.status >= 400 && resp.status < 500) {
			mgr_detail(&resp, detail, sizeof(detail));
			rc = (int)resp.status;
			cy_httpc_resp_release(&resp);
			return cy_error_set(err, EINVAL, "registration refused (%d): %s", rc,
			    detail);
		}
		if (rc == 0) {
			char st[24];

			xsnprintf(st, sizeof(st), "%ld", resp.status);
			cy_log_warn("register_retry", "status", st, NULL);
		} else {
			cy_log_warn("register_retry", "url", n->cfg.orch_url, "error", err->msg,
			    NULL);
		}
		cy_httpc_resp_release(&resp);
		if (mgr_sleep(delay))
			return cy_error_set(err, EINTR, "interrupted");
		delay = delay * 2 > 30 ? 30 : delay * 2;
	}
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
			json_object_set_new(ack, "error",
			    json_pack("{s:s, s:s}", "type", "apply_failed", "message", failure));
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

/*
 * Contract 3.1 step 8: waits until the inference supervisor has carried
 * out the orchestrator's inference_backend (a started backend answers, or
 * its start failed).  -1 with err when inference.mode is require and no
 * backend can be had, or on a signal.
 */
static int
mgr_inference(struct cy_error *err)
{
	int rc;

	while ((rc = node_inference_await(200, err)) == 1)
		if (mgr_sleep(0))
			return cy_error_set(err, EINTR, "interrupted");
	return rc;
}

/* Registers again after a refused JWT; a definitive refusal ends the node. */
static void
mgr_reregister(struct node *n)
{
	struct cy_error err = CY_ERROR_INIT;

	if (mgr_register(n, &err) == 0 || mgr_stop)
		return;
	cy_log_error("reregister_failed", "error", err.msg, NULL);
	if (err.code == EACCES)
		xsnprintf(mgr_fatal, sizeof(mgr_fatal), "%s", err.msg);
}

/* One capability report (cap is stolen); re-registers when the JWT is refused. */
static void
mgr_report(struct node *n, json_t *cap)
{
	struct cy_error err = CY_ERROR_INIT;
	struct cy_httpc_resp resp = CY_HTTPC_RESP_INIT;
	char hash[CY_CAPHASH_LEN + 1];
	int rc;

	if (!cap)
		cap = node_capability_report(n);
	cy_capability_hash(cap, hash);
	rc = mgr_call(n, "POST", sess.report_url, cap, sess.jwt, &resp, &err);
	json_decref(cap);
	if (rc < 0) {
		cy_log_warn("report_failed", "error", err.msg, NULL);
	} else if (resp.status == 401 || resp.status == 404) {
		cy_log_info("node_jwt_refused", "action", "re-register", NULL);
		mgr_reregister(n);
	} else if (resp.status >= 300) {
		char st[24];

		xsnprintf(st, sizeof(st), "%ld", resp.status);
		cy_log_warn("report_failed", "status", st, NULL);
	} else {
		xsnprintf(sess.cap_hash, sizeof(sess.cap_hash), "%s", hash);
		cy_log_debug("capability_reported", "capability_hash", hash, NULL);
	}
	cy_httpc_resp_release(&resp);
}

/*
 * Fetches, applies and acknowledges the config.  *failure gets the reason
 * when it was refused (the ack says failed).  -1 only when the fetch or ack
 * could not be done at all.
 */
static int
mgr_sync_config(struct node *n, char *failure, size_t flen, struct cy_error *err)
{
	struct cy_error perr = CY_ERROR_INIT;
	json_t *conf = NULL;
	const char *cv;
	char *ver;
	int rc;

	failure[0] = '\0';
	if (mgr_fetch_config(n, &conf, err) < 0)
		return -1;
	cv = cy_json_str(conf, "config_version");
	ver = xstrdup(cv ? cv : "");
	if (node_config_apply(n, conf, &perr) < 0) {
		cy_snprintf_clip(failure, flen, "%s", perr.msg);
		free(sess.refused);
		sess.refused = xstrdup(ver);
		cy_log_error("config_rejected", "config_version", ver, "error", perr.msg, NULL);
		mgr_tel_config(ver, perr.msg);
	} else {
		cy_log_info("config_applied", "config_version", ver, NULL);
		mgr_tel_config(ver, NULL);
	}
	json_decref(conf);
	rc = mgr_ack(n, ver, failure[0] ? failure : NULL, err);
	free(ver);
	return rc;
}

/*
 * One heartbeat.  The answer may ask for a config fetch (a
 * config_version other than the applied one and not refused already) or a
 * capability report (a stored capability_hash other than ours).
 */
static void
mgr_heartbeat(struct node *n, json_t *cap, const char *hash)
{
	struct cy_error err = CY_ERROR_INIT;
	struct cy_httpc_resp resp = CY_HTTPC_RESP_INIT;
	char applied[64], failure[600];
	const char *want, *stored;
	unsigned running;
	json_t *body, *ans;
	int rc;

	node_applied_version(n, applied);
	pthread_mutex_lock(&n->lock);
	running = n->running;
	pthread_mutex_unlock(&n->lock);
	body = json_pack("{s:i, s:s, s:s, s:I, s:s}", "version", 1, "node_slug", n->cfg.node_id,
	    "config_version", applied, "running_jobs", (json_int_t)running, "capability_hash",
	    hash);
	rc = mgr_call(n, "POST", sess.heartbeat_url, body, sess.jwt, &resp, &err);
	json_decref(body);
	if (rc < 0) {
		cy_log_warn("heartbeat_failed", "error", err.msg, NULL);
		goto out;
	}
	if (resp.status == 401 || resp.status == 404) {
		cy_log_info("node_jwt_refused", "action", "re-register", NULL);
		mgr_reregister(n);
		goto out; /* the next heartbeat brings the new config version */
	}
	if (resp.status != 200) {
		char st[24];

		xsnprintf(st, sizeof(st), "%ld", resp.status);
		cy_log_warn("heartbeat_failed", "status", st, NULL);
		goto out;
	}
	ans = cy_json_parse(resp.body.buf, resp.body.len, true, &err);
	if (!ans) {
		cy_log_warn("heartbeat_failed", "error", err.msg, NULL);
		goto out;
	}
	want = cy_json_str(ans, "config_version");
	if (want && *want && strcmp(want, applied) &&
	    (!sess.refused || strcmp(want, sess.refused))) {
		cy_log_info("config_changed", "config_version", want, "applied", applied, NULL);
		if (mgr_sync_config(n, failure, sizeof(failure), &err) < 0 && !mgr_stop)
			cy_log_error("config_sync_failed", "error", err.msg, NULL);
	}
	stored = cy_json_str(ans, "capability_hash");
	if (stored && strcmp(stored, hash)) {
		cy_log_info("capability_changed", "capability_hash", hash, NULL);
		mgr_report(n, json_incref(cap));
	}
	json_decref(ans);
out:
	cy_httpc_resp_release(&resp);
}

/* Step 3 (contract 3.9 startup checks): old job dirs and cgroups, the sandbox. */
static void
mgr_startup_checks(struct node *n)
{
	struct cy_error perr = CY_ERROR_INIT;

	node_ws_quota_sweep(n->cfg.mount_root);
	node_image_mount_sweep(n->cfg.staging_dir);
	node_cleanup_jobs(n, CLEANUP_AGE_S);
	sb_cgroup_sweep();
	if (node_sandbox_probe(n, &perr) == 0) {
		n->sandbox_ok = true;
		if (!strcmp(n->cfg.sb_runtime, "bwrap")) {
			(void)node_image_mount_probe(&n->cfg);
			node_image_warn_shown(&n->cfg);
		}
	} else {
		cy_snprintf_clip(n->sandbox_reason, sizeof(n->sandbox_reason), "%s", perr.msg);
		cy_log_error("sandbox_unavailable", "error", perr.msg, NULL);
	}
}

/*
 * Steps 6-9 of contract 3.1: fetch the config, apply it, start the Worker
 * API, inference, then the ack (with the reason when something failed).
 * -1 with err when the node cannot go on: the ack could not be sent, no
 * Worker API runs, inference is required and missing, or a signal came.
 */
static int
mgr_configure(struct node *n, struct cy_error *err)
{
	struct cy_error perr = CY_ERROR_INIT;
	char failure[1400] = "";
	bool inf_fatal = false;
	json_t *conf = NULL;
	const char *cv;
	int rc = -1;

	if (mgr_fetch_config(n, &conf, err) < 0)
		return -1;
	cv = cy_json_str(conf, "config_version");
	if (node_config_apply(n, conf, &perr) < 0) {
		xsnprintf(failure, sizeof(failure), "%s", perr.msg);
		cy_log_error("config_rejected", "error", perr.msg, NULL);
	} else {
		worker_httpd = worker_api_start(n, &perr);
		if (!worker_httpd) {
			xsnprintf(failure, sizeof(failure), "worker API: %s", perr.msg);
			n->config_applied = false; /* no Worker API thread runs */
		} else if (!n->sandbox_ok && strcmp(n->cfg.sb_mode, "disabled")) {
			xsnprintf(failure, sizeof(failure), "sandbox runtime unavailable: %s",
			    n->sandbox_reason);
		}
		if (worker_httpd && mgr_inference(&perr) < 0) {
			if (perr.code == EINTR) {
				*err = perr;
				goto out;
			}
			xsnprintf(failure, sizeof(failure), "inference: %s", perr.msg);
			inf_fatal = true;
		}
	}
	mgr_tel_config(cv ? cv : "", failure[0] ? failure : NULL);
	if (mgr_ack(n, cv ? cv : "", failure[0] ? failure : NULL, err) < 0)
		goto out;
	if (failure[0] && !worker_httpd)
		cy_error_set(err, EPROTO, "config not applied: %s", failure);
	else if (inf_fatal)
		cy_error_set(err, ENOENT, "%s", failure);
	else
		rc = 0;
out:
	json_decref(conf);
	return rc;
}

/*
 * With no job running, the heap the jobs' threads left goes back to the
 * system: glibc keeps what a thread freed in its arena, so a node that ran
 * a burst of jobs would otherwise keep that memory resident while idle.
 */
static void
mgr_trim_if_idle(struct node *n)
{
	bool idle;

	pthread_mutex_lock(&n->lock);
	idle = n->running == 0;
	pthread_mutex_unlock(&n->lock);
	if (idle)
		malloc_trim(0);
}

/*
 * The steady state: a heartbeat every interval (capability changes are
 * reported at once, a full report every report interval), housekeeping.
 * Returns when a signal came or the orchestrator refused the node.
 */
static void
mgr_loop(struct node *n)
{
	struct cy_error perr = CY_ERROR_INIT;
	int64_t last_report = cy_mono_ms();

	while (!mgr_fatal[0] && !mgr_sleep(n->cfg.heartbeat_interval_s)) {
		char hash[CY_CAPHASH_LEN + 1];
		json_t *cap;

		/* A model pulled or removed changes the report (and its hash) now. */
		node_inference_refresh();
		cap = node_capability_report(n);
		cy_capability_hash(cap, hash);
		if (cy_mono_ms() - last_report >= n->cfg.report_interval_s * 1000) {
			mgr_report(n, json_incref(cap));
			last_report = cy_mono_ms();
			node_cleanup_jobs(n, CLEANUP_AGE_S);
		}
		/* Sandboxes that ended while no job followed, and other orphans. */
		sb_reap_pending();
		node_children_sweep();
		if (!mgr_fatal[0])
			mgr_heartbeat(n, cap, hash);
		json_decref(cap);
		if (sb_etc_refresh(&perr) < 0) {
			cy_log_error("sandbox_etc_failed", "error", perr.msg, "fallback",
			    "the previous copy stays", NULL);
			cy_error_clear(&perr);
		}
		/* A quiet node writes nothing: its expired telemetry goes here. */
		node_telemetry_prune();
		/* A removed or re-imported image no job uses holds no loop device. */
		node_image_mount_prune();
		mgr_trim_if_idle(n);
	}
}

/* The end: sandboxes killed, inference and the Worker API stopped, secrets wiped. */
static void
mgr_shutdown(struct node *n)
{
	cy_notify_stopping();
	cy_log_info("node_stopping", "node_slug", n->cfg.node_id, NULL);
	node_telemetry_event("node", "info", "node_stopping", "node manager shutting down", NULL,
	    NULL);
	node_sandbox_kill_all();
	node_inference_stop();
	if (worker_httpd)
		cy_httpd_stop(worker_httpd);
	worker_httpd = NULL;
	mgr_forget(&sess.jwt);
	free(sess.config_url);
	free(sess.report_url);
	free(sess.heartbeat_url);
	free(sess.refused);
	memset(&sess, 0, sizeof(sess));
}

int
manager_run(struct node *n, struct cy_error *err)
{
	int ret = -1;

	mgr_config_path = n->config_path;
	mgr_startup_checks(n);
	/* Probed before registering, so the first report says what answers. */
	if (node_inference_start(n, err) < 0 || mgr_register(n, err) < 0 ||
	    mgr_configure(n, err) < 0)
		goto out;
	if (worker_httpd) {
		char port[16];

		xsnprintf(port, sizeof(port), "%u", cy_httpd_port(worker_httpd));
		cy_log_info("worker_api_started", "listen", n->cfg.listen_host, "port", port,
		    "base_url", n->base_url, NULL);
	}
	cy_notify_ready("registered");
	mgr_loop(n);
	if (mgr_fatal[0]) {
		cy_error_set(err, EACCES, "%s", mgr_fatal);
		goto out;
	}
	ret = 0;
out:
	if (mgr_stop && ret < 0 && err->code == EINTR)
		ret = 0;
	mgr_shutdown(n);
	return ret;
}
