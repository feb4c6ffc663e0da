/*
 * The node-facing control plane (contract 2.2, 3.2-3.8): registration with
 * the PSK (bootstrap payload and node JWT out), configuration delivery
 * (with the node's own Worker API token, decrypted), config ack, capability
 * reports, and the server's readiness: ready once a dispatchable node exists.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "audit.h"
#include "auth.h"
#include "config-doc.h"
#include "dispatch.h"
#include "inference.h"
#include "digest.h"
#include "id.h"
#include "json.h"
#include "log.h"
#include "node-payload.h"
#include "node-token.h"
#include "nodes.h"
#include "server.h"
#include "store-fleet.h"
#include "store-nodes.h"
#include "store-util.h"
#include "timeutil.h"
#include "tls.h"
#include "banned.h"

#define MAX_REQUEST_BYTES 10485760
#define MAX_JOB_TIMEOUT 10800
/* Node credentials and enrollment tokens the server issued: "cyc_"/"cye_" + 64 hex. */
#define SECRET_MAX 256

/* srv.cfg.public_url without trailing slashes; caller frees. */
static char *
public_base(void)
{
	const char *u = srv.cfg.public_url && *srv.cfg.public_url ? srv.cfg.public_url :
								    "http://localhost:12082";
	size_t n = strlen(u);

	while (n > 0 && u[n - 1] == '/')
		n--;
	return xstrndup(u, n);
}

/* The Worker API URL the server will dispatch to: override or reported. */
static const char *
register_target(const json_t *cap)
{
	if (srv.cfg.worker_api_target_url && *srv.cfg.worker_api_target_url)
		return srv.cfg.worker_api_target_url;
	return cy_json_path_str(cap, "worker_api.base_url");
}

/* node_bootstrap_payload_v1 (contract 3.3). */
static json_t *
bootstrap_payload(const char *jwt, time_t exp, const char *config_version)
{
	char now[CY_RFC3339_LEN + 1], expires[CY_RFC3339_LEN + 1];
	char *base = public_base(), *reg, *cfg, *rep, *hb;
	json_t *o;

	cy_now_rfc3339(now);
	cy_time_rfc3339(exp, expires);
	reg = xasprintf("%s/v1/nodes/register", base);
	cfg = xasprintf("%s/v1/nodes/config", base);
	rep = xasprintf("%s/v1/nodes/capability", base);
	hb = xasprintf("%s/v1/nodes/heartbeat", base);
	o = json_pack("{s:i, s:s, s:{s:s, s:{s:s, s:s, s:s, s:s}}, s:{s:s, s:s}, s:s}", "version",
	    1, "issued_at", now, "orchestrator", "base_url", base, "endpoints",
	    "worker_registration_url", reg, "node_config_url", cfg, "node_report_url", rep,
	    "node_heartbeat_url", hb, "auth", "node_jwt", jwt, "expires_at", expires,
	    "initial_config_version", config_version);
	free(reg);
	free(cfg);
	free(rep);
	free(hb);
	free(base);
	return o;
}

/*
 * POST /v1/nodes/register {capability, psk | node_credential |
 * enrollment_token, running_config_version?}: open, as node payloads are.
 * The capability is checked on its own (node_capability_report) so that
 * messages name paths inside the report.
 */
/* clang-format off */
const struct cy_jcheck nodes_register_body = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "capability", .type = CY_JC_OBJECT, .required = true },
		{ .name = "psk", .type = CY_JC_STRING, .null_ok = true },
		{ .name = "node_credential", .type = CY_JC_STRING, .null_ok = true,
		  .max = SECRET_MAX },
		{ .name = "enrollment_token", .type = CY_JC_STRING, .null_ok = true,
		  .max = SECRET_MAX },
		{ .name = "running_config_version", .type = CY_JC_STRING, .null_ok = true,
		  .valid = cy_ulid_valid, .shape = "a ULID" }),
	.open = true,
};
/* clang-format on */

/* Checks the registration's capability; returns it (borrowed) or NULL answered. */
static json_t *
register_check(const json_t *body, struct cy_http_resp *resp)
{
	const char *slug, *target;
	json_t *cap = json_object_get(body, "capability");

	if (cy_resp_jcheck(resp, cap, &node_capability_report) < 0)
		return NULL;
	slug = cy_json_path_str(cap, "node.node_slug");
	if (!slug || !*slug) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "node.node_slug is required");
		return NULL;
	}
	if (!cy_slug_valid(slug)) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "node.node_slug must be 1-63 characters of [a-z0-9-]");
		return NULL;
	}
	target = register_target(cap);
	if (!target || !node_url_valid(target)) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "worker_api.base_url must be an http:// or https:// URL");
		return NULL;
	}
	if (cy_tls_url_https(target) && !cy_json_path_str(cap, "worker_api.tls_pubkey_sha256") &&
	    !(srv.cfg.nodes_ca_file && *srv.cfg.nodes_ca_file)) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "worker_api.base_url is https:// but the report has no "
		    "worker_api.tls_pubkey_sha256 and this server has no nodes.ca_file: its "
		    "certificate could not be verified");
		return NULL;
	}
	return cap;
}

/* SHA-256 hex of a secret string. */
static void
secret_hash(const char *s, char hex[65])
{
	cy_sha256_hex(s, strlen(s), hex);
}

/*
 * Authenticates a registration: a node credential issued earlier, else an
 * enrollment token (checked and consumed by the store), else the PSK (not
 * for removed slugs).  0 to go on (*by says how), -1 answered.
 */
enum reg_auth {
	REG_PSK,
	REG_TOKEN,
	REG_CREDENTIAL
};

static int
register_auth(const json_t *body, const char *slug, enum reg_auth *by, char hash[65],
    struct cy_http_resp *resp)
{
	const char *cred = cy_json_str(body, "node_credential");
	const char *tok = cy_json_str(body, "enrollment_token");
	const char *psk = cy_json_str(body, "psk");
	struct cy_error err = CY_ERROR_INIT;
	int rc;

	if (cred && *cred) {
		secret_hash(cred, hash);
		rc = store_node_credential_ok(slug, hash, &err);
		if (rc == 1) {
			*by = REG_CREDENTIAL;
			return 0;
		}
		if (rc < 0)
			goto internal;
		cy_resp_problem(resp, CY_PROBLEM_AUTHENTICATION,
		    "Invalid node credential (the node was removed or re-enrolled)");
		return -1;
	}
	if (tok && *tok) {
		secret_hash(tok, hash);
		*by = REG_TOKEN;
		return 0;
	}
	if (!psk || !srv.cfg.node_psk || !*srv.cfg.node_psk ||
	    !cy_streq_ct(psk, srv.cfg.node_psk)) {
		cy_resp_problem(resp, CY_PROBLEM_AUTHENTICATION, "Invalid registration PSK");
		return -1;
	}
	rc = store_node_removed(slug, &err);
	if (rc < 0)
		goto internal;
	if (rc == 1) {
		cy_resp_problem(resp, CY_PROBLEM_AUTHORIZATION,
		    "node '%s' was removed by an operator; enroll it again with an enrollment "
		    "token (cynork nodes enroll --name %s)",
		    slug, slug);
		return -1;
	}
	*by = REG_PSK;
	return 0;
internal:
	cy_log_error("node_register_failed", "node", slug, "error", err.msg, NULL);
	cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot register the node");
	return -1;
}

/*
 * body.running_config_version (cynode addition; checked: a ULID): the
 * config_version a node re-registering while it runs is still applying.
 * Only a node proving its identity with its node credential may keep its
 * config state with it; for the PSK and enrollment tokens it is ignored.
 */
static const char *
register_running(const json_t *body, enum reg_auth by)
{
	return by == REG_CREDENTIAL ? cy_json_str(body, "running_config_version") : NULL;
}

void
h_nodes_register(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	char hash[72], version[CY_ULID_LEN + 1], node_id[37], ahash[65], chash[65];
	struct node_reg r = { 0 };
	char *text = NULL, *token, *sealed = NULL, *jwt = NULL, *cred = NULL;
	enum reg_auth by = REG_PSK;
	bool created = false;
	json_t *body, *cap, *boot;
	time_t exp = 0;
	int rc;

	if (!(body = cy_req_json(req, resp)))
		return;
	if (!(cap = register_check(body, resp)))
		goto out;
	r.slug = cy_json_path_str(cap, "node.node_slug");
	if (register_auth(body, r.slug, &by, ahash, resp) < 0)
		goto out;
	r.running_version = register_running(body, by);
	node_capability_canon(cap, &text, hash);
	token = cy_random_token("cyw_", 32);
	sealed = node_token_seal(token);
	free(token);
	cy_ulid_new(version);
	r.target_url = register_target(cap);
	r.tls_pin = cy_json_path_str(cap, "worker_api.tls_pubkey_sha256");
	r.token_sealed = sealed;
	r.config_version = version;
	r.capability = text;
	r.capability_hash = hash;
	if (by != REG_CREDENTIAL) {
		/* A new node credential for re-registration; only its hash is kept. */
		cred = cy_random_token("cyc_", 32);
		secret_hash(cred, chash);
		r.credential_hash = chash;
	}
	if (by == REG_TOKEN)
		r.enroll_hash = ahash;
	r.by_psk = by == REG_PSK;
	rc = store_node_register(&r, node_id, &created, &err);
	if (rc < 0) {
		cy_log_error("node_register_failed", "node", r.slug, "error", err.msg, NULL);
		cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot register the node");
		goto out;
	}
	if (rc == 0 && r.conflict) {
		/* Someone with the fleet's secret tried to become an existing node. */
		cy_log_warn("node_register_refused", "node", r.slug, "auth",
		    by == REG_PSK ? "psk" : "enrollment_token", "reason", "slug taken", NULL);
		audit_auth(req, "node_register_refused", NULL, r.slug, false,
		    by == REG_PSK ? "slug taken (psk)" : "slug taken (enrollment token)");
		cy_resp_problem(resp, CY_PROBLEM_CONFLICT, "node '%s': %s", r.slug, r.why);
		goto out;
	}
	if (rc == 0) {
		cy_log_warn("node_enroll_refused", "node", r.slug, "reason", r.why, NULL);
		cy_resp_problem(resp, CY_PROBLEM_AUTHENTICATION, "%s", r.why);
		goto out;
	}
	if (!(jwt = jwt_issue_node(node_id, r.slug, &exp))) {
		cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot issue the node token");
		goto out;
	}
	cy_log_info("node_registered", "node", r.slug, "node_id", node_id, "new",
	    created ? "true" : "false", "auth",
	    by == REG_PSK   ? "psk" :
	    by == REG_TOKEN ? "enrollment_token" :
			      "node_credential",
	    "worker_api", r.target_url, "config_version", r.version, "config_kept",
	    r.kept ? "true" : "false", NULL);
	if (!cy_tls_url_https(r.target_url) && !cy_tls_url_loopback(r.target_url))
		cy_log_warn("plain_http_worker_api", "node", r.slug, "worker_api", r.target_url,
		    "warning",
		    "WARNING: this node's Worker API is plain HTTP on another host: job payloads, "
		    "results and its bearer token cross the network in clear text",
		    NULL);
	boot = bootstrap_payload(jwt, exp, r.version);
	if (cred)
		json_object_set_new(json_object_get(boot, "auth"), "node_credential",
		    json_string(cred));
	cy_resp_json(resp, created ? 201 : 200, boot);
out:
	if (cred)
		explicit_bzero(cred, strlen(cred));
	free(cred);
	free(jwt);
	free(sealed);
	free(text);
	json_decref(body);
}

/* node_configuration_payload_v1 (contract 3.4) from the node's row. */
static json_t *
config_payload(const PGresult *res, const char *token)
{
	const char *snap = store_val(res, 0, NCC_CAPABILITY);
	const char *target = store_val(res, 0, NCC_TARGET_URL);
	const char *text = store_val(res, 0, NCC_DOCUMENT);
	char now[CY_RFC3339_LEN + 1], *base = public_base(), *rep;
	json_t *cap = snap ? json_loads(snap, 0, NULL) : NULL, *o;
	json_t *doc = text ? json_loads(text, 0, NULL) : NULL;

	cy_now_rfc3339(now);
	rep = xasprintf("%s/v1/nodes/capability", base);
	o = json_pack("{s:i, s:s, s:s, s:s, s:{s:s, s:{s:s, s:s}}, s:[], s:b, s:{s:s},"
		      " s:{s:{s:s, s:b, s:b}, s:{s:b, s:i, s:b}}, s:{s:s}, s:{s:i, s:i}}",
	    "version", 1, "config_version", PQgetvalue(res, 0, NCC_CONFIG_VERSION), "issued_at",
	    now, "node_slug", PQgetvalue(res, 0, NCC_SLUG), "orchestrator", "base_url", base,
	    "endpoints", "worker_api_target_url", target ? target : "", "node_report_url", rep,
	    "sandbox_registries", "require_digest_pinning", 0, "model_cache", "cache_url", "",
	    "policy", "sandbox", "default_network_policy", "restricted", "allow_privileged", 0,
	    "allow_host_network", 0, "updates", "enable_dynamic_config", 0, "poll_interval_seconds",
	    0, "allow_service_restart", 0, "worker_api", "orchestrator_bearer_token", token,
	    "constraints", "max_request_bytes", MAX_REQUEST_BYTES, "max_job_timeout_seconds",
	    MAX_JOB_TIMEOUT);
	/* The pushed document over these defaults, and inference_backend. */
	config_doc_apply(o, doc, cap);
	json_decref(doc);
	json_decref(cap);
	free(rep);
	free(base);
	return o;
}

void
h_nodes_config_get(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	char *token = NULL;
	PGresult *res;

	if (!(res = store_node_config(a->node_id, &err))) {
		cy_log_error("node_config_failed", "node", a->node_slug, "error", err.msg, NULL);
		return cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot read the node");
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		return cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND,
		    "node not found; register again");
	}
	token = node_token_open(store_val(res, 0, NCC_TOKEN), &err);
	if (!token) {
		PQclear(res);
		cy_log_error("node_config_failed", "node", a->node_slug, "error", err.msg, NULL);
		return cy_resp_problem(resp, CY_PROBLEM_INTERNAL,
		    "the node's worker token is unusable; register the node again");
	}
	cy_resp_json(resp, 200, config_payload(res, token));
	free(token);
	PQclear(res);
}

static const char *const ack_statuses[] = { "applied", "failed", NULL };

/*
 * POST /v1/nodes/config: node_config_ack_v1 (contract 3.5).  node_slug
 * comes first (a slug of the wrong type is named before what is missing)
 * and is then checked against the authenticated node; an ack_at that is
 * not RFC 3339 is ignored (the server's time is used).
 */
/* clang-format off */
const struct cy_jcheck nodes_config_ack_body = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "node_slug", .type = CY_JC_STRING },
		{ .name = "status", .type = CY_JC_STRING, .required = true,
		  .choices = ack_statuses },
		{ .name = "config_version", .type = CY_JC_STRING, .required = true,
		  .valid = cy_ulid_valid, .shape = "a ULID" },
		{ .name = "ack_at", .type = CY_JC_STRING, .null_ok = true },
		{ .name = "error", .type = CY_JC_OBJECT, .null_ok = true,
		  .sub = &(const struct cy_jcheck){
			.fields = CY_JCHECK_ROWS(
				{ .name = "message", .type = CY_JC_STRING, .null_ok = true }),
			.open = true } }),
	.open = true,
	.version = 1,
	.what = "config ack",
};
/* clang-format on */

void
h_nodes_config_ack(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	const char *status, *version, *ack_at;
	time_t t;
	json_t *body;
	int rc;

	if (!(body = cy_req_json(req, resp)))
		return;
	if (node_slug_matches(body, "node_slug", a->node_slug, resp) < 0)
		goto out;
	status = cy_json_str(body, "status");
	version = cy_json_str(body, "config_version");
	ack_at = cy_json_str(body, "ack_at");
	if (ack_at && cy_time_parse_rfc3339(ack_at, &t) < 0)
		ack_at = NULL;
	rc = store_node_ack(a->node_id, status, cy_json_path_str(body, "error.message"), version,
	    ack_at, &err);
	if (rc < 0) {
		cy_log_error("node_ack_failed", "node", a->node_slug, "error", err.msg, NULL);
		cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot store the ack");
	} else if (rc == 0) {
		cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "node not found; register again");
	} else {
		cy_log_info("node_config_acked", "node", a->node_slug, "status", status,
		    "config_version", version, NULL);
		cy_resp_empty(resp, 204);
		if (strcmp(status, "applied") == 0)
			dispatch_wake();
	}
out:
	json_decref(body);
}

void
h_nodes_capability(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	char hash[72], *text = NULL;
	json_t *body;
	int rc;

	if (!(body = cy_req_json(req, resp)))
		return;
	if (node_slug_matches(body, "node.node_slug", a->node_slug, resp) < 0)
		goto out;
	node_capability_canon(body, &text, hash);
	rc = store_node_capability(a->node_id, text, hash, &err);
	if (rc < 0) {
		cy_log_error("node_capability_failed", "node", a->node_slug, "error", err.msg,
		    NULL);
		cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot store the capability report");
	} else if (rc == 0) {
		cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "node not found; register again");
	} else {
		cy_resp_empty(resp, 204);
		dispatch_wake();
	}
out:
	free(text);
	json_decref(body);
}

int
server_ready(void *app, struct cy_buf *reason)
{
	return inference_ready(reason);
}
