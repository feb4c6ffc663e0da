/*
 * cynode-server configuration: one table row per server.yaml key (redis
 * static_configs[]), read by the lib/config.c loader, plus the secrets.
 * Secrets (JWT secret, node registration PSK, secrets key, workflow runner token, bootstrap
 * admin password) never
 * come from YAML values: they come from the environment, or from a file
 * named by a *_file key or a *_FILE variable that only its owner can read.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "config.h"
#include "core.h"
#include "digest.h"
#include "id.h"
#include "seal.h"
#include "strnum.h"
#include "tls.h"
#include "banned.h"

#define OFF(f) offsetof(struct server_config, f)
#define SECRET_MAX 4096
#define DEFAULT_PUBLIC_URL "http://localhost:12082"

static const char *const log_levels[] = { "debug", "info", "warn", "error", NULL };
static const char *const log_formats[] = { "text", "json", NULL };

/* clang-format off */
static const struct cy_cfg_key server_keys[] = {
	{ .path = "version", .type = CY_CFG_INT, .offset = OFF(version), .def = "1", .min = 1,
	  .max = 1, .help = "config file format version" },
	{ .path = "database_url", .type = CY_CFG_STR, .offset = OFF(database_url),
	  .def = "postgresql://postgres:postgres@localhost:5432/cynodeai?sslmode=disable",
	  .env = "DATABASE_URL", .secret = true, .help = "PostgreSQL connection URI (libpq)" },
	{ .path = "gateway.listen", .type = CY_CFG_STR, .offset = OFF(gateway_listen),
	  .def = "0.0.0.0:12080", .env = "USER_GATEWAY_LISTEN_ADDR",
	  .help = "user API gateway listen address host:port" },
	{ .path = "control_plane.listen", .type = CY_CFG_STR, .offset = OFF(control_listen),
	  .def = "0.0.0.0:12082", .env = "CONTROL_PLANE_LISTEN_ADDR",
	  .help = "control plane listen address host:port" },
	{ .path = "public_url", .type = CY_CFG_STR, .offset = OFF(public_url),
	  .def = DEFAULT_PUBLIC_URL, .env = "ORCHESTRATOR_PUBLIC_URL",
	  .help = "control plane URL the nodes use (base of the bootstrap URLs)" },
	{ .path = "jwt.secret_file", .type = CY_CFG_STR, .offset = OFF(jwt_secret_file),
	  .env = "JWT_SECRET_FILE",
	  .help = "file (mode 0600) holding the HS256 secret; env JWT_SECRET wins" },
	{ .path = "jwt.access_ttl", .type = CY_CFG_DURATION, .offset = OFF(jwt_access_s),
	  .def = "15m", .min = 1, .max = 86400LL * 30, .env = "JWT_ACCESS_DURATION",
	  .help = "access token lifetime" },
	{ .path = "jwt.refresh_ttl", .type = CY_CFG_DURATION, .offset = OFF(jwt_refresh_s),
	  .def = "168h", .min = 1, .max = 86400LL * 366, .env = "JWT_REFRESH_DURATION",
	  .help = "refresh token lifetime" },
	{ .path = "jwt.node_ttl", .type = CY_CFG_DURATION, .offset = OFF(jwt_node_s), .def = "24h",
	  .min = 1, .max = 86400LL * 366, .env = "JWT_NODE_DURATION",
	  .help = "node token lifetime" },
	{ .path = "node_registration.psk_file", .type = CY_CFG_STR, .offset = OFF(node_psk_file),
	  .env = "NODE_REGISTRATION_PSK_FILE",
	  .help = "file (mode 0600) holding the node registration PSK; env NODE_REGISTRATION_PSK wins" },
	{ .path = "secrets.key_file", .type = CY_CFG_STR, .offset = OFF(secrets_key_file),
	  .env = "SECRETS_KEY_FILE",
	  .help = "file (mode 0600) holding the key of user secrets at rest: 64 hex digits "
	  "(openssl rand -hex 32); env SECRETS_KEY wins; unset: derived from the JWT secret" },
	{ .path = "workflow.runner_token_file", .type = CY_CFG_STR,
	  .offset = OFF(workflow_token_file), .env = "WORKFLOW_RUNNER_BEARER_TOKEN_FILE",
	  .help = "file (mode 0600) holding the workflow runner's bearer token (>= 16 bytes); "
	  "env WORKFLOW_RUNNER_BEARER_TOKEN wins; unset: /v1/workflow/* answer 503" },
	{ .path = "workflow.runner_token_sha256", .type = CY_CFG_STR,
	  .offset = OFF(workflow_token_sha256), .env = "WORKFLOW_RUNNER_TOKEN_SHA256",
	  .help = "the workflow runner's token as its SHA-256 (64 hex digits, sha256sum), "
	  "instead of the token: the server never holds the plaintext; not with a token" },
	{ .path = "workflow.lease_ttl", .type = CY_CFG_DURATION, .offset = OFF(workflow_lease_s),
	  .def = "5m", .min = 1, .max = 86400, .env = "WORKFLOW_LEASE_DURATION",
	  .help = "workflow lease when a start or resume names no lease_seconds" },
	{ .path = "worker_api_target_url", .type = CY_CFG_STR,
	  .offset = OFF(worker_api_target_url), .env = "WORKER_API_TARGET_URL",
	  .help = "override of every node's Worker API URL (same-host development)" },
	{ .path = "gateway.max_request_body_mb", .type = CY_CFG_INT, .offset = OFF(max_body_bytes),
	  .def = "10", .min = 1, .max = 1024, .env = "MAX_REQUEST_BODY_MB",
	  .help = "request body cap in MiB" },
	{ .path = "http.threads", .type = CY_CFG_INT, .offset = OFF(http_threads), .def = "16",
	  .min = 1, .max = 256, .env = "HTTP_THREADS", .help = "HTTP worker threads per listener" },
	{ .path = "dispatch.workers", .type = CY_CFG_INT, .offset = OFF(dispatch_workers),
	  .def = "64", .min = 1, .max = 4096, .env = "DISPATCH_WORKERS",
	  .help = "jobs in flight at once (one dispatcher thread)" },
	{ .path = "dispatch.poll_interval_ms", .type = CY_CFG_INT, .offset = OFF(dispatch_poll_ms),
	  .def = "1000", .min = 10, .max = 600000, .env = "DISPATCH_POLL_INTERVAL_MS",
	  .help = "backup poll interval of the dispatcher (a new task in this process wakes it at once)" },
	{ .path = "dispatch.http_timeout", .type = CY_CFG_DURATION,
	  .offset = OFF(dispatch_http_timeout_s), .def = "300s", .min = 1, .max = 86400,
	  .env = "DISPATCH_HTTP_TIMEOUT", .help = "timeout of one call to a node's Worker API" },
	/* Node fleet. */
	{ .path = "nodes.liveness_ttl", .type = CY_CFG_DURATION,
	  .offset = OFF(node_liveness_ttl_s), .def = "30s", .min = 1, .max = 3600,
	  .env = "NODE_LIVENESS_TTL",
	  .help = "a node without a heartbeat for this long is marked inactive (no new jobs)" },
	{ .path = "nodes.enrollment_token_max_ttl", .type = CY_CFG_DURATION,
	  .offset = OFF(enroll_max_ttl_s), .def = "168h", .min = 60, .max = 86400LL * 366,
	  .env = "NODE_ENROLLMENT_TOKEN_MAX_TTL",
	  .help = "longest lifetime an enrollment token may be given" },
	{ .path = "dispatch.lease", .type = CY_CFG_DURATION, .offset = OFF(dispatch_lease_s),
	  .def = "30s", .min = 2, .max = 3600, .env = "DISPATCH_LEASE",
	  .help = "lease of a running job; the node's sync renews it, expiry requeues the job" },
	{ .path = "retention.finished_tasks", .type = CY_CFG_DURATION, .offset = OFF(retention_s),
	  .def = "720h", .max = 86400LL * 3650, .env = "RETENTION_FINISHED_TASKS",
	  .help = "delete finished tasks older than this (0 keeps them)" },
	{ .path = "events.retention", .type = CY_CFG_DURATION, .offset = OFF(events_retention_s),
	  .def = "168h", .min = 60, .max = 86400LL * 3650, .env = "EVENTS_RETENTION",
	  .help = "delete events (GET /v1/events) older than this; a stream resumed from an older id misses them" },
	{ .path = "webhooks.allow_private_destinations", .type = CY_CFG_BOOL,
	  .offset = OFF(webhooks_allow_private), .def = "false", .env = "WEBHOOKS_ALLOW_PRIVATE",
	  .help = "deliver webhooks to loopback, private and link-local addresses too (false: only "
		  "public ones, so a user cannot reach the server's own networks)" },
	{ .path = "retention.interval", .type = CY_CFG_DURATION,
	  .offset = OFF(retention_interval_s), .def = "60s", .min = 1, .max = 86400,
	  .env = "RETENTION_INTERVAL",
	  .help = "how often the chores leader looks for finished tasks to delete" },
	/* Attachments (uploads) and the blob store. */
	{ .path = "limits.attachment_max_bytes", .type = CY_CFG_INT,
	  .offset = OFF(attach_max_bytes), .def = "1073741824", .min = 1,
	  .max = 1LL << 40, .env = "ATTACHMENT_MAX_BYTES",
	  .help = "largest upload (POST /v1/uploads) and attachment, in bytes" },
	{ .path = "limits.attachments_max_count", .type = CY_CFG_INT,
	  .offset = OFF(attach_max_count), .def = "64", .min = 0, .max = 4096,
	  .env = "ATTACHMENTS_MAX_COUNT", .help = "attachments per task" },
	{ .path = "limits.attachments_max_total_bytes", .type = CY_CFG_INT,
	  .offset = OFF(attach_max_total), .def = "4294967296", .min = 1, .max = 1LL << 42,
	  .env = "ATTACHMENTS_MAX_TOTAL_BYTES", .help = "bytes of all attachments of a task" },
	{ .path = "limits.artifact_max_bytes", .type = CY_CFG_INT,
	  .offset = OFF(artifact_max_bytes), .def = "1073741824", .min = 1, .max = 1LL << 40,
	  .env = "ARTIFACT_MAX_BYTES",
	  .help = "largest artifact a node may upload, in bytes (413 beyond)" },
	{ .path = "limits.skill_max_bytes", .type = CY_CFG_INT, .offset = OFF(skill_max_bytes),
	  .def = "262144", .min = 1, .max = 4194304, .env = "SKILL_MAX_BYTES",
	  .help = "largest skill (content_md of POST /v1/skills/load, PUT /v1/skills/{id}), in bytes" },
	{ .path = "artifacts.retention", .type = CY_CFG_DURATION,
	  .offset = OFF(artifacts_retention_s), .def = "168h", .min = 1, .max = 86400LL * 3650,
	  .env = "ARTIFACTS_RETENTION",
	  .help = "an artifact is deleted this long after the job uploaded it" },
	{ .path = "uploads.retention", .type = CY_CFG_DURATION, .offset = OFF(uploads_ttl_s),
	  .def = "24h", .min = 60, .max = 86400LL * 366, .env = "UPLOADS_RETENTION",
	  .help = "an upload no open task attaches is deleted this long after it was made" },
	{ .path = "logs.max_bytes_per_stream", .type = CY_CFG_INT, .offset = OFF(logs_max_bytes),
	  .def = "67108864", .min = 0, .max = 1LL << 40, .env = "LOGS_MAX_BYTES_PER_STREAM",
	  .help = "bytes of a job's stdout (and of its stderr) kept in the database; the rest is "
	  "counted as lost and the logs say truncated" },
	{ .path = "auth.rate_limit_per_minute", .type = CY_CFG_INT,
	  .offset = OFF(rate_limit_per_minute), .def = "60", .min = 1, .max = 1000000,
	  .env = "RATE_LIMIT_PER_MINUTE", .help = "login attempts per client IP" },
	{ .path = "auth.lockout_threshold", .type = CY_CFG_INT, .offset = OFF(lockout_threshold),
	  .def = "5", .min = 1, .max = 1000, .env = "LOGIN_LOCKOUT_THRESHOLD",
	  .help = "consecutive failed logins of one handle before it is locked out" },
	{ .path = "auth.lockout_ip_threshold", .type = CY_CFG_INT,
	  .offset = OFF(lockout_ip_threshold), .def = "20", .min = 1, .max = 100000,
	  .env = "LOGIN_LOCKOUT_IP_THRESHOLD",
	  .help = "failed logins from one client address before it is locked out" },
	{ .path = "auth.lockout_base", .type = CY_CFG_DURATION, .offset = OFF(lockout_base_s),
	  .def = "30s", .min = 1, .max = 86400, .env = "LOGIN_LOCKOUT_BASE",
	  .help = "first lockout; each further failure doubles it" },
	{ .path = "auth.lockout_max", .type = CY_CFG_DURATION, .offset = OFF(lockout_max_s),
	  .def = "15m", .min = 1, .max = 86400, .env = "LOGIN_LOCKOUT_MAX",
	  .help = "longest lockout; failures older than this are forgotten" },
	{ .path = "auth.cache_ttl", .type = CY_CFG_DURATION, .offset = OFF(auth_cache_ttl_s),
	  .def = "30s", .max = 3600, .env = "AUTH_CACHE_TTL",
	  .help = "how long a token check is cached (changes invalidate it at once); 0 = never" },
	/* Inference. */
	{ .path = "inference.default_model", .type = CY_CFG_STR, .offset = OFF(inference_model),
	  .env = "INFERENCE_MODEL",
	  .help = "model for prompt tasks and chat requests that name none; unset = chosen from the "
	  "fleet (the best model the largest node has)" },
	{ .path = "inference.request_timeout", .type = CY_CFG_DURATION,
	  .offset = OFF(inference_timeout_s), .def = "300s", .min = 1, .max = 86400,
	  .env = "INFERENCE_REQUEST_TIMEOUT", .help = "longest chat completion relayed to a node" },
	{ .path = "inference.max_concurrent_requests", .type = CY_CFG_INT,
	  .offset = OFF(inference_max_requests), .def = "256", .min = 1, .max = 100000,
	  .env = "INFERENCE_MAX_REQUESTS",
	  .help = "chat completions relayed at once by this server; more get 429" },
	{ .path = "readiness.require_inference", .type = CY_CFG_BOOL,
	  .offset = OFF(ready_needs_inference), .def = "true",
	  .env = "READINESS_REQUIRE_INFERENCE",
	  .help = "/readyz is 503 until a dispatchable node serves a model (false: a dispatchable "
	  "node suffices, for batch-only sites)" },
	/* TLS. */
	{ .path = "tls.cert_file", .type = CY_CFG_STR, .offset = OFF(tls_cert_file),
	  .env = "TLS_CERT_FILE",
	  .help = "PEM certificate (then its chain) the gateway and control plane serve HTTPS with; "
	  "with tls.key_file; unset: plain HTTP" },
	{ .path = "tls.key_file", .type = CY_CFG_STR, .offset = OFF(tls_key_file),
	  .env = "TLS_KEY_FILE",
	  .help = "PEM private key of tls.cert_file (mode 0600 or 0400)" },
	{ .path = "nodes.ca_file", .type = CY_CFG_STR, .offset = OFF(nodes_ca_file),
	  .env = "NODES_CA_FILE",
	  .help = "CA bundle verifying the Worker API certificate of an https node that registered "
	  "no key pin; unset: such a node is refused at registration" },
	{ .path = "migrations_dir", .type = CY_CFG_STR, .offset = OFF(migrations_dir),
	  .env = "CYNODE_MIGRATIONS_DIR", .help = "directory of the NNNN_name.sql migrations" },
	{ .path = "logging.level", .type = CY_CFG_ENUM, .offset = OFF(log_level), .def = "info",
	  .choices = log_levels, .env = "LOG_LEVEL", .reloadable = true,
	  .help = "debug, info, warn or error" },
	{ .path = "logging.format", .type = CY_CFG_ENUM, .offset = OFF(log_format), .def = "text",
	  .choices = log_formats, .env = "LOG_FORMAT", .reloadable = true,
	  .help = "text (logfmt) or json" },
};
/* clang-format on */

#define NKEYS (sizeof(server_keys) / sizeof(server_keys[0]))

/*
 * Reads a secret file: it must be a regular file that neither group nor
 * others can access.  One trailing newline is dropped.
 */
static char *
secret_read_file(const char *path, const char *what, struct cy_error *err)
{
	struct cy_buf b = CY_BUF_INIT;
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		cy_error_errno(err, "%s file '%s'", what, path);
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		cy_error_errno(err, "%s file '%s'", what, path);
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		cy_error_set(err, EINVAL, "%s file '%s' is not a regular file", what, path);
		close(fd);
		return NULL;
	}
	if (st.st_mode & 077) {
		cy_error_set(err, EPERM,
		    "%s file '%s' has mode %04o: it must be readable by its owner only (0600 or 0400)",
		    what, path, (unsigned)(st.st_mode & 07777));
		close(fd);
		return NULL;
	}
	if (cy_buf_read_fd(&b, fd, SECRET_MAX) < 0) {
		cy_error_errno(err, "%s file '%s'", what, path);
		close(fd);
		cy_buf_release(&b);
		return NULL;
	}
	close(fd);
	if (b.len && b.buf[b.len - 1] == '\n')
		cy_buf_setlen(&b, b.len - 1);
	if (b.len && b.buf[b.len - 1] == '\r')
		cy_buf_setlen(&b, b.len - 1);
	if (strlen(b.buf) != b.len) {
		cy_buf_release(&b);
		cy_error_set(err, EINVAL, "%s file '%s' holds a NUL byte", what, path);
		return NULL;
	}
	return cy_buf_detach(&b, NULL);
}

/* env wins over the file; *out stays NULL when neither is set. */
static int
secret_load(char **out, const char *env, const char *file, const char *what, struct cy_error *err)
{
	const char *v = getenv(env);

	*out = NULL;
	if (v && *v) {
		*out = xstrdup(v);
		return 0;
	}
	if (file && *file) {
		*out = secret_read_file(file, what, err);
		return *out ? 0 : -1;
	}
	return 0;
}

/* tls.cert_file and tls.key_file: both or neither; loaded and checked here. */
static int
tls_load(struct server_config *cfg, struct cy_error *err)
{
	bool cert = cfg->tls_cert_file && *cfg->tls_cert_file;
	bool key = cfg->tls_key_file && *cfg->tls_key_file;

	if (cfg->nodes_ca_file && *cfg->nodes_ca_file && access(cfg->nodes_ca_file, R_OK) < 0)
		return cy_error_set(err, errno, "nodes.ca_file (NODES_CA_FILE): '%s': %s",
		    cfg->nodes_ca_file, strerror(errno));
	if (!cert && !key)
		return 0;
	if (!cert)
		return cy_error_set(err, EINVAL,
		    "tls.key_file (TLS_KEY_FILE) is set without tls.cert_file (TLS_CERT_FILE)");
	if (!key)
		return cy_error_set(err, EINVAL,
		    "tls.cert_file (TLS_CERT_FILE) is set without tls.key_file (TLS_KEY_FILE)");
	if (cy_tls_load(cfg->tls_cert_file, cfg->tls_key_file, "tls.cert_file", "tls.key_file",
		&cfg->tls_cert_pem, &cfg->tls_key_pem, err) < 0)
		return -1;
	/* The built-in public_url follows the scheme; one the operator set is checked. */
	if (cfg->public_url && !strcmp(cfg->public_url, DEFAULT_PUBLIC_URL)) {
		free(cfg->public_url);
		cfg->public_url = xstrdup("https://localhost:12082");
	}
	return 0;
}

static void secret_free(char **s);

/*
 * The workflow runner's token, kept only as its SHA-256 (hex) in
 * workflow_token_hash: given as workflow.runner_token_sha256, or hashed from
 * the token (env or file), whose plaintext is then wiped.  Both is an error.
 */
static int
workflow_token_load(struct server_config *cfg, struct cy_error *err)
{
	const char *hex = cfg->workflow_token_sha256;
	size_t i;

	cfg->workflow_token_hash[0] = '\0';
	if (secret_load(&cfg->workflow_token, "WORKFLOW_RUNNER_BEARER_TOKEN",
		cfg->workflow_token_file, "workflow runner token", err) < 0)
		return -1;
	if (hex && *hex) {
		if (cfg->workflow_token) {
			secret_free(&cfg->workflow_token);
			return cy_error_set(err, EINVAL,
			    "workflow.runner_token_sha256 (WORKFLOW_RUNNER_TOKEN_SHA256) and the "
			    "workflow runner token (WORKFLOW_RUNNER_BEARER_TOKEN or "
			    "workflow.runner_token_file) do not go together: give one");
		}
		for (i = 0; hex[i] && isxdigit((unsigned char)hex[i]); i++)
			;
		if (i != 64 || hex[i])
			return cy_error_set(err, EINVAL,
			    "workflow.runner_token_sha256 (WORKFLOW_RUNNER_TOKEN_SHA256) must be "
			    "64 hex digits, the token's SHA-256 (printf %%s TOKEN | sha256sum)");
		for (i = 0; i < 64; i++)
			cfg->workflow_token_hash[i] = (char)tolower((unsigned char)hex[i]);
		cfg->workflow_token_hash[64] = '\0';
		return 0;
	}
	if (!cfg->workflow_token)
		return 0;
	/* Never open when unset (auth.c); never a guessable token when set. */
	if (strlen(cfg->workflow_token) < 16) {
		i = strlen(cfg->workflow_token);
		secret_free(&cfg->workflow_token);
		return cy_error_set(err, EINVAL,
		    "the workflow runner token (WORKFLOW_RUNNER_BEARER_TOKEN or "
		    "workflow.runner_token_file) is %zu bytes long: at least 16 are required",
		    i);
	}
	cy_sha256_hex(cfg->workflow_token, strlen(cfg->workflow_token), cfg->workflow_token_hash);
	secret_free(&cfg->workflow_token);
	return 0;
}

int
server_config_load(struct server_config *cfg, const char *path, bool must_exist,
    struct cy_error *err)
{
	const char *admin_file;

	if (cy_config_load(path, must_exist, server_keys, NKEYS, cfg, err) < 0)
		return -1;
	cfg->max_body_bytes *= 1024 * 1024;
	if (secret_load(&cfg->jwt_secret, "JWT_SECRET", cfg->jwt_secret_file, "JWT secret", err) <
	    0)
		return -1;
	if (secret_load(&cfg->node_psk, "NODE_REGISTRATION_PSK", cfg->node_psk_file,
		"node registration PSK", err) < 0)
		return -1;
	if (secret_load(&cfg->secrets_key, "SECRETS_KEY", cfg->secrets_key_file, "secrets key",
		err) < 0)
		return -1;
	if (workflow_token_load(cfg, err) < 0)
		return -1;
	if (tls_load(cfg, err) < 0)
		return -1;
	admin_file = getenv("BOOTSTRAP_ADMIN_PASSWORD_FILE");
	if (secret_load(&cfg->bootstrap_admin_password, "BOOTSTRAP_ADMIN_PASSWORD", admin_file,
		"bootstrap admin password", err) < 0)
		return -1;
	return 0;
}

/* Checks a "host:port" value naming the key it came from. */
static int
check_listen(const char *addr, const char *key, struct cy_error *err)
{
	char host[256];
	unsigned port;

	if (server_split_listen(addr, host, sizeof(host), &port, err) < 0)
		return cy_error_wrap(err, "%s", key);
	return 0;
}

int
server_config_check(const struct server_config *cfg, struct cy_error *err)
{
	if (check_listen(cfg->gateway_listen, "gateway.listen", err) < 0 ||
	    check_listen(cfg->control_listen, "control_plane.listen", err) < 0)
		return -1;
	if (!cfg->database_url || !*cfg->database_url)
		return cy_error_set(err, EINVAL, "database_url (DATABASE_URL) is empty");
	if (!cfg->public_url || (strncmp(cfg->public_url, "http://", 7) != 0 &&
				    strncmp(cfg->public_url, "https://", 8) != 0))
		return cy_error_set(err, EINVAL,
		    "public_url (ORCHESTRATOR_PUBLIC_URL) must be an http:// or https:// URL");
	if (cfg->tls_cert_pem && !cy_tls_url_https(cfg->public_url))
		return cy_error_set(err, EINVAL,
		    "public_url (ORCHESTRATOR_PUBLIC_URL) is '%s' but the control plane serves "
		    "HTTPS (tls.cert_file): use an https:// URL",
		    cfg->public_url);
	/* The login body takes passwords of at most 4096 bytes. */
	if (cfg->bootstrap_admin_password && strlen(cfg->bootstrap_admin_password) > 4096)
		return cy_error_set(err, EINVAL,
		    "BOOTSTRAP_ADMIN_PASSWORD is longer than 4096 "
		    "bytes: admin could never log in with it");
	if (cfg->secrets_key) {
		unsigned char k[32];

		if (strlen(cfg->secrets_key) != 64 ||
		    cy_hex_decode(cfg->secrets_key, k, sizeof(k)) != 32)
			return cy_error_set(err, EINVAL,
			    "the secrets key (SECRETS_KEY or secrets.key_file) must be 64 hex digits "
			    "(32 bytes: openssl rand -hex 32)");
		explicit_bzero(k, sizeof(k));
	}
	if (cfg->dev_mode)
		return 0;
	if (!cfg->jwt_secret)
		return cy_error_set(err, EINVAL,
		    "no JWT secret: set JWT_SECRET or JWT_SECRET_FILE (or use --dev)");
	if (strcmp(cfg->jwt_secret, "change-me-in-production") == 0)
		return cy_error_set(err, EINVAL,
		    "the JWT secret is the known default 'change-me-in-production': set a random one");
	if (strlen(cfg->jwt_secret) < 32)
		return cy_error_set(err, EINVAL,
		    "the JWT secret is %zu bytes long: at least 32 are required",
		    strlen(cfg->jwt_secret));
	if (!cfg->node_psk)
		return cy_error_set(err, EINVAL,
		    "no node registration PSK: set NODE_REGISTRATION_PSK or NODE_REGISTRATION_PSK_FILE (or use --dev)");
	if (strcmp(cfg->node_psk, "default-psk-change-me") == 0)
		return cy_error_set(err, EINVAL,
		    "the node registration PSK is the known default 'default-psk-change-me': set a random one");
	return 0;
}

void
server_config_print(FILE *out, const struct server_config *cfg)
{
	struct server_config shown = *cfg;

	/* The table holds MiB; show what the file would say. */
	shown.max_body_bytes = cfg->max_body_bytes / (1024 * 1024);
	cy_config_print(out, server_keys, NKEYS, &shown);
	fprintf(out, "# jwt secret: %s\n", cfg->jwt_secret ? "<redacted>" : "(unset)");
	fprintf(out, "# node registration psk: %s\n", cfg->node_psk ? "<redacted>" : "(unset)");
	fprintf(out, "# secrets key: %s\n",
	    cfg->secrets_key ? "<redacted>" : "(unset: derived from the jwt secret)");
	fprintf(out, "# workflow runner token: %s\n",
	    cfg->workflow_token_sha256 && *cfg->workflow_token_sha256 ?
		"(its sha256 only: workflow.runner_token_sha256)" :
	    cfg->workflow_token_hash[0] ? "<redacted>" :
					  "(unset: /v1/workflow/* answer 503)");
	fprintf(out, "# bootstrap admin password: %s\n",
	    cfg->bootstrap_admin_password ? "<redacted>" : "(unset)");
}

/* Overwrites a secret before freeing it. */
static void
secret_free(char **s)
{
	if (*s) {
		explicit_bzero(*s, strlen(*s));
		FREE_AND_NULL(*s);
	}
}

void
server_config_release(struct server_config *cfg)
{
	secret_free(&cfg->jwt_secret);
	secret_free(&cfg->node_psk);
	secret_free(&cfg->bootstrap_admin_password);
	cy_tls_free_key(&cfg->tls_key_pem);
	FREE_AND_NULL(cfg->tls_cert_pem);
	secret_free(&cfg->secrets_key);
	secret_free(&cfg->workflow_token);
	cy_config_release(server_keys, NKEYS, cfg);
}

size_t
server_config_diff(const struct server_config *a, const struct server_config *b, bool reloadable,
    struct cy_buf *out)
{
	return cy_config_diff(server_keys, NKEYS, a, b, reloadable, out);
}

int
server_split_listen(const char *addr, char *host, size_t hostsz, unsigned *port,
    struct cy_error *err)
{
	const char *colon, *h = addr;
	size_t hl;
	long long p;
	const char *es;

	if (!addr || !*addr)
		return cy_error_set(err, EINVAL, "empty listen address");
	colon = strrchr(addr, ':');
	if (!colon)
		return cy_error_set(err, EINVAL, "listen address '%s' is not host:port", addr);
	hl = (size_t)(colon - addr);
	if (hl >= 2 && addr[0] == '[' && addr[hl - 1] == ']') {
		h = addr + 1;
		hl -= 2;
	}
	if (hl >= hostsz)
		return cy_error_set(err, EINVAL, "listen address '%s': host too long", addr);
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (cy_strtonum(colon + 1, 0, 65535, &p, &es) < 0)
		return cy_error_set(err, EINVAL, "listen address '%s': port is %s", addr, es);
	*port = (unsigned)p;
	return 0;
}
