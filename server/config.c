/*
 * cynode-server configuration: one table row per server.yaml key (redis
 * static_configs[]), read by the lib/config.c loader, plus the secrets.
 * Secrets (JWT secret, node registration PSK, bootstrap admin password) never
 * come from YAML values: they come from the environment, or from a file
 * named by a *_file key or a *_FILE variable that only its owner can read.
 */
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
#include "strnum.h"
#include "banned.h"

#define OFF(f) offsetof(struct server_config, f)
#define SECRET_MAX 4096

static const char *const log_levels[] = { "debug", "info", "warn", "error", NULL };
static const char *const log_formats[] = { "text", "json", NULL };

static const struct cy_cfg_key server_keys[] = {
	{ "version", CY_CFG_INT, OFF(version), "1", 1, 1, NULL, NULL, false, false,
	  "config file format version" },
	{ "database_url", CY_CFG_STR, OFF(database_url),
	  "postgresql://postgres:postgres@localhost:5432/cynodeai?sslmode=disable", 0, 0, NULL,
	  "DATABASE_URL", false, true, "PostgreSQL connection URI (libpq)" },
	{ "gateway.listen", CY_CFG_STR, OFF(gateway_listen), "0.0.0.0:12080", 0, 0, NULL,
	  "USER_GATEWAY_LISTEN_ADDR", false, false, "user API gateway listen address host:port" },
	{ "control_plane.listen", CY_CFG_STR, OFF(control_listen), "0.0.0.0:12082", 0, 0, NULL,
	  "CONTROL_PLANE_LISTEN_ADDR", false, false, "control plane listen address host:port" },
	{ "public_url", CY_CFG_STR, OFF(public_url), "http://localhost:12082", 0, 0, NULL,
	  "ORCHESTRATOR_PUBLIC_URL", false, false,
	  "control plane URL the nodes use (base of the bootstrap URLs)" },
	{ "jwt.secret_file", CY_CFG_STR, OFF(jwt_secret_file), NULL, 0, 0, NULL,
	  "JWT_SECRET_FILE", false, false,
	  "file (mode 0600) holding the HS256 secret; env JWT_SECRET wins" },
	{ "jwt.access_ttl", CY_CFG_DURATION, OFF(jwt_access_s), "15m", 1, 86400LL * 30, NULL,
	  "JWT_ACCESS_DURATION", false, false, "access token lifetime" },
	{ "jwt.refresh_ttl", CY_CFG_DURATION, OFF(jwt_refresh_s), "168h", 1, 86400LL * 366, NULL,
	  "JWT_REFRESH_DURATION", false, false, "refresh token lifetime" },
	{ "jwt.node_ttl", CY_CFG_DURATION, OFF(jwt_node_s), "24h", 1, 86400LL * 366, NULL,
	  "JWT_NODE_DURATION", false, false, "node token lifetime" },
	{ "node_registration.psk_file", CY_CFG_STR, OFF(node_psk_file), NULL, 0, 0, NULL,
	  "NODE_REGISTRATION_PSK_FILE", false, false,
	  "file (mode 0600) holding the node registration PSK; env NODE_REGISTRATION_PSK wins" },
	{ "worker_api_target_url", CY_CFG_STR, OFF(worker_api_target_url), NULL, 0, 0, NULL,
	  "WORKER_API_TARGET_URL", false, false,
	  "override of every node's Worker API URL (same-host development)" },
	{ "gateway.max_request_body_mb", CY_CFG_INT, OFF(max_body_bytes), "10", 1, 1024, NULL,
	  "MAX_REQUEST_BODY_MB", false, false, "request body cap in MiB" },
	{ "http.threads", CY_CFG_INT, OFF(http_threads), "16", 1, 256, NULL,
	  "HTTP_THREADS", false, false, "HTTP worker threads per listener" },
	{ "dispatch.workers", CY_CFG_INT, OFF(dispatch_workers), "64", 1, 4096, NULL,
	  "DISPATCH_WORKERS", false, false, "jobs in flight at once (one dispatcher thread)" },
	{ "dispatch.poll_interval_ms", CY_CFG_INT, OFF(dispatch_poll_ms), "1000", 10, 600000,
	  NULL, "DISPATCH_POLL_INTERVAL_MS", false, false,
	  "backup poll interval of the dispatcher (a new task in this process wakes it at once)" },
	{ "dispatch.http_timeout", CY_CFG_DURATION, OFF(dispatch_http_timeout_s), "300s", 1,
	  86400, NULL, "DISPATCH_HTTP_TIMEOUT", false, false,
	  "timeout of one call to a node's Worker API" },
	/* Node fleet. */
	{ "nodes.liveness_ttl", CY_CFG_DURATION, OFF(node_liveness_ttl_s), "30s", 1, 3600, NULL,
	  "NODE_LIVENESS_TTL", false, false,
	  "a node without a heartbeat for this long is marked inactive (no new jobs)" },
	{ "nodes.enrollment_token_max_ttl", CY_CFG_DURATION, OFF(enroll_max_ttl_s), "168h", 60,
	  86400LL * 366, NULL, "NODE_ENROLLMENT_TOKEN_MAX_TTL", false, false,
	  "longest lifetime an enrollment token may be given" },
	{ "dispatch.lease", CY_CFG_DURATION, OFF(dispatch_lease_s), "30s", 2, 3600, NULL,
	  "DISPATCH_LEASE", false, false,
	  "lease of a running job; the node's sync renews it, expiry requeues the job" },
	{ "retention.finished_tasks", CY_CFG_DURATION, OFF(retention_s), "720h", 0,
	  86400LL * 3650, NULL, "RETENTION_FINISHED_TASKS", false, false,
	  "delete finished tasks older than this (0 keeps them)" },
	{ "retention.interval", CY_CFG_DURATION, OFF(retention_interval_s), "60s", 1, 86400,
	  NULL, "RETENTION_INTERVAL", false, false,
	  "how often the chores leader looks for finished tasks to delete" },
	{ "auth.rate_limit_per_minute", CY_CFG_INT, OFF(rate_limit_per_minute), "60", 1,
	  1000000, NULL, "RATE_LIMIT_PER_MINUTE", false, false, "login attempts per client IP" },
	{ "auth.lockout_threshold", CY_CFG_INT, OFF(lockout_threshold), "5", 1, 1000, NULL,
	  "LOGIN_LOCKOUT_THRESHOLD", false, false,
	  "consecutive failed logins of one handle before it is locked out" },
	{ "auth.lockout_ip_threshold", CY_CFG_INT, OFF(lockout_ip_threshold), "20", 1, 100000,
	  NULL, "LOGIN_LOCKOUT_IP_THRESHOLD", false, false,
	  "failed logins from one client address before it is locked out" },
	{ "auth.lockout_base", CY_CFG_DURATION, OFF(lockout_base_s), "30s", 1, 86400, NULL,
	  "LOGIN_LOCKOUT_BASE", false, false,
	  "first lockout; each further failure doubles it" },
	{ "auth.lockout_max", CY_CFG_DURATION, OFF(lockout_max_s), "15m", 1, 86400, NULL,
	  "LOGIN_LOCKOUT_MAX", false, false,
	  "longest lockout; failures older than this are forgotten" },
	{ "auth.cache_ttl", CY_CFG_DURATION, OFF(auth_cache_ttl_s), "30s", 0, 3600, NULL,
	  "AUTH_CACHE_TTL", false, false,
	  "how long a token check is cached (changes invalidate it at once); 0 = never" },
	/* Inference. */
	{ "inference.default_model", CY_CFG_STR, OFF(inference_model), NULL, 0, 0, NULL,
	  "INFERENCE_MODEL", false, false,
	  "model for prompt tasks and chat requests that name none; unset = chosen from the "
	  "fleet (the best model the largest node has)" },
	{ "inference.request_timeout", CY_CFG_DURATION, OFF(inference_timeout_s), "300s", 1,
	  86400, NULL, "INFERENCE_REQUEST_TIMEOUT", false, false,
	  "longest chat completion relayed to a node" },
	{ "inference.max_concurrent_requests", CY_CFG_INT, OFF(inference_max_requests), "256", 1,
	  100000, NULL, "INFERENCE_MAX_REQUESTS", false, false,
	  "chat completions relayed at once by this server; more get 429" },
	{ "readiness.require_inference", CY_CFG_BOOL, OFF(ready_needs_inference), "true", 0, 0,
	  NULL, "READINESS_REQUIRE_INFERENCE", false, false,
	  "/readyz is 503 until a dispatchable node serves a model (false: a dispatchable "
	  "node suffices, for batch-only sites)" },
	{ "migrations_dir", CY_CFG_STR, OFF(migrations_dir), NULL, 0, 0, NULL,
	  "CYNODE_MIGRATIONS_DIR", false, false, "directory of the NNNN_name.sql migrations" },
	{ "logging.level", CY_CFG_ENUM, OFF(log_level), "info", 0, 0, log_levels, "LOG_LEVEL",
	  false, false, "debug, info, warn or error" },
	{ "logging.format", CY_CFG_ENUM, OFF(log_format), "text", 0, 0, log_formats,
	  "LOG_FORMAT", false, false, "text (logfmt) or json" },
};

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
secret_load(char **out, const char *env, const char *file, const char *what,
	struct cy_error *err)
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

int
server_config_load(struct server_config *cfg, const char *path, bool must_exist,
	struct cy_error *err)
{
	const char *admin_file;

	if (cy_config_load(path, must_exist, server_keys, NKEYS, cfg, err) < 0)
		return -1;
	cfg->max_body_bytes *= 1024 * 1024;
	if (secret_load(&cfg->jwt_secret, "JWT_SECRET", cfg->jwt_secret_file, "JWT secret",
		err) < 0)
		return -1;
	if (secret_load(&cfg->node_psk, "NODE_REGISTRATION_PSK", cfg->node_psk_file,
		"node registration PSK", err) < 0)
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
	/* The login body takes passwords of at most 4096 bytes. */
	if (cfg->bootstrap_admin_password && strlen(cfg->bootstrap_admin_password) > 4096)
		return cy_error_set(err, EINVAL, "BOOTSTRAP_ADMIN_PASSWORD is longer than 4096 "
			"bytes: admin could never log in with it");
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
	cy_config_release(server_keys, NKEYS, cfg);
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
