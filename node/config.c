/*
 * node.yaml: the key table of contract section 6 (plus the cynode
 * additions orchestrator.report_interval_seconds, sandbox.images and
 * sandbox.max_output_bytes), the checks the table cannot express, and the
 * registration secrets: the PSK (env var named by registration_psk_env, else
 * the file registration_psk_file, else env NODE_REGISTRATION_PSK), a
 * one-time enrollment token (enrollment_token_env / _file), and the node
 * credential an earlier registration saved under the state dir.  A secret
 * file must be a regular file owned by the service user and not group or
 * world accessible.  One of the three must exist.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "digest.h"
#include "id.h"
#include "buf.h"
#include "inference.h"
#include "node.h"
#include "tls.h"
#include "banned.h"

#define F(x) offsetof(struct node_config, x)

static const char *const sb_modes[] = { "allow", "sandbox_only", "disabled", NULL };
static const char *const sb_runtimes[] = { "bwrap", "podman", "docker", NULL };
static const char *const net_policies[] = { "restricted", "none", "allowlist", NULL };
static const char *const inf_modes[] = { "allow", "disabled", "require", NULL };
static const char *const inf_runtimes[] = { "process", "podman", "docker", NULL };
static const char *const worker_tls_modes[] = { "auto", "off", NULL };
static const char *const ws_quotas[] = { "auto", "tmpfs", "none", NULL };
static const char *const images_privates[] = { "warn", "require", NULL };
static const char *const log_levels[] = { "debug", "info", "warn", "error", NULL };
static const char *const log_formats[] = { "text", "json", NULL };

/* clang-format off */
const struct cy_cfg_key node_keys[] = {
	{ .path = "version", .type = CY_CFG_INT, .offset = F(version), .min = 1, .max = 1,
	  .required = true, .help = "format version of this file; must be 1" },
	{ .path = "orchestrator.url", .type = CY_CFG_STR, .offset = F(orch_url), .required = true,
	  .help = "orchestrator control-plane base URL, e.g. http://orch:12082" },
	{ .path = "orchestrator.registration_psk_env", .type = CY_CFG_STR, .offset = F(psk_env),
	  .help = "name of the environment variable holding the registration PSK" },
	{ .path = "orchestrator.registration_psk_file", .type = CY_CFG_STR, .offset = F(psk_file),
	  .help = "file holding the registration PSK (mode 0600 or stricter)" },
	{ .path = "orchestrator.tls.ca_bundle_path", .type = CY_CFG_STR, .offset = F(tls_ca),
	  .help = "CA bundle verifying an https orchestrator URL (unset: the system CAs)" },
	{ .path = "orchestrator.tls.pinned_sha256", .type = CY_CFG_STR, .offset = F(tls_pin),
	  .help = "pin of the orchestrator's public key, sha256//BASE64 as curl takes it: when set, "
	  "the control plane's key must be this one (its certificate chain is then not checked)" },
	{ .path = "orchestrator.timeouts.connect_seconds", .type = CY_CFG_INT,
	  .offset = F(connect_s), .def = "5", .min = 1, .max = 300,
	  .help = "connect timeout for orchestrator calls" },
	{ .path = "orchestrator.timeouts.request_seconds", .type = CY_CFG_INT,
	  .offset = F(request_s), .def = "30", .min = 1, .max = 3600,
	  .help = "whole-request timeout for orchestrator calls" },
	{ .path = "orchestrator.report_interval_seconds", .type = CY_CFG_INT,
	  .offset = F(report_interval_s), .def = "30", .min = 1, .max = 86400,
	  .help = "seconds between capability reports (cynode addition)" },
	{ .path = "orchestrator.heartbeat_interval_seconds", .type = CY_CFG_INT,
	  .offset = F(heartbeat_interval_s), .def = "5", .min = 1, .max = 300,
	  .help = "seconds between heartbeats (liveness, config and drain news; cynode addition)" },
	{ .path = "orchestrator.gpu_refresh_seconds", .type = CY_CFG_INT,
	  .offset = F(gpu_refresh_s), .def = "60", .min = 1, .max = 3600,
	  .help = "seconds a GPU detection (nvidia-smi) is reused by heartbeats and reports; a "
	  "card added or removed under /sys/class/drm is detected at once (cynode addition)" },
	{ .path = "orchestrator.enrollment_token_env", .type = CY_CFG_STR, .offset = F(enroll_env),
	  .help = "name of the environment variable holding a one-time enrollment token" },
	{ .path = "orchestrator.enrollment_token_file", .type = CY_CFG_STR,
	  .offset = F(enroll_file),
	  .help = "file holding a one-time enrollment token (owned by this user, mode 0600)" },
	{ .path = "node.id", .type = CY_CFG_STR, .offset = F(node_id), .required = true,
	  .help = "stable node id (= node_slug): lowercase letters, digits and '-'" },
	{ .path = "node.name", .type = CY_CFG_STR, .offset = F(node_name), .help = "display name" },
	{ .path = "node.labels", .type = CY_CFG_STRLIST, .offset = F(labels),
	  .help = "labels reported to the orchestrator (sandbox_only, trusted, ...)" },
	{ .path = "node.metadata", .type = CY_CFG_OBJECT, .offset = F(metadata),
	  .help = "free-form mapping" },
	{ .path = "worker_api.listen_host", .type = CY_CFG_STR, .offset = F(listen_host),
	  .def = "0.0.0.0", .help = "Worker API listen address" },
	{ .path = "worker_api.listen_port", .type = CY_CFG_INT, .offset = F(listen_port),
	  .def = "12090", .min = 1, .max = 65535, .help = "Worker API listen port" },
	{ .path = "worker_api.metrics_token_file", .type = CY_CFG_STR,
	  .offset = F(metrics_token_file),
	  .help = "a file (0600) holding the bearer token that GET /metrics on the Worker API "
		  "needs (a Prometheus scrape token); unset: no /metrics" },
	{ .path = "worker_api.public_base_url", .type = CY_CFG_STR, .offset = F(public_base_url),
	  .help = "URL advertised as worker_api.base_url" },
	{ .path = "worker_api.tls", .type = CY_CFG_ENUM, .offset = F(worker_tls), .def = "auto",
	  .choices = worker_tls_modes,
	  .help = "auto: serve HTTPS with tls_cert_file/tls_key_file, else with a key and "
	  "self-signed certificate made once under <state_dir>/tls (the orchestrator pins its key) "
	  "| off: plain HTTP (cynode addition)" },
	{ .path = "worker_api.tls_cert_file", .type = CY_CFG_STR, .offset = F(worker_tls_cert),
	  .help = "PEM certificate the Worker API serves (with tls_key_file; cynode addition)" },
	{ .path = "worker_api.tls_key_file", .type = CY_CFG_STR, .offset = F(worker_tls_key),
	  .help = "PEM private key of tls_cert_file, mode 0600 (cynode addition)" },
	{ .path = "worker_api.max_request_bytes", .type = CY_CFG_INT,
	  .offset = F(max_request_bytes), .def = "10485760", .min = 1024, .max = 1073741824,
	  .help = "largest accepted jobs:run body" },
	{ .path = "sandbox.mode", .type = CY_CFG_ENUM, .offset = F(sb_mode), .def = "allow",
	  .choices = sb_modes, .help = "allow | sandbox_only | disabled" },
	{ .path = "sandbox.runtime", .type = CY_CFG_ENUM, .offset = F(sb_runtime), .def = "bwrap",
	  .choices = sb_runtimes,
	  .help = "bwrap (bubblewrap, default) | podman | docker (OCI images)" },
	{ .path = "sandbox.rootless", .type = CY_CFG_BOOL, .offset = F(sb_rootless), .def = "true",
	  .help = "run sandboxes unprivileged (always true with bwrap)" },
	{ .path = "sandbox.max_concurrency", .type = CY_CFG_INT, .offset = F(max_concurrency),
	  .def = "4", .min = 1, .max = 1024, .help = "jobs run at the same time; more get 503" },
	{ .path = "sandbox.netns_pool", .type = CY_CFG_INT, .offset = F(netns_pool), .def = "0",
	  .max = 64,
	  .help = "network namespaces made ahead for jobs without network (root only; 0 = "
	  "bubblewrap makes each, the default: a pool saved a lone job 1 ms but slowed a run "
	  "of 2,000 jobs on a 2-core machine) (cynode addition)" },
	{ .path = "sandbox.default_image", .type = CY_CFG_STR, .offset = F(default_image),
	  .def = "host", .help = "image used when a job names none" },
	{ .path = "sandbox.allowed_images", .type = CY_CFG_STRLIST, .offset = F(allowed_images),
	  .help = "image allowlist; other images are refused (empty = any known image)" },
	{ .path = "sandbox.default_network_policy", .type = CY_CFG_ENUM,
	  .offset = F(default_network_policy), .def = "restricted", .choices = net_policies,
	  .help = "restricted | none | allowlist (all deny network in Phase 1)" },
	{ .path = "sandbox.allowed_egress_domains", .type = CY_CFG_STRLIST,
	  .offset = F(allowed_egress), .help = "egress allowlist (not enforced yet)" },
	{ .path = "sandbox.resources.max_cpu_cores", .type = CY_CFG_INT, .offset = F(res_cpu),
	  .def = "0", .max = 4096, .help = "CPU cores per job, cgroup quota (0 = not limited)" },
	{ .path = "sandbox.resources.max_memory_mb", .type = CY_CFG_INT, .offset = F(res_mem),
	  .def = "2048", .max = 16777216, .help = "memory per job in MB, cgroup (0 = not limited)" },
	{ .path = "sandbox.resources.max_pids", .type = CY_CFG_INT, .offset = F(res_pids),
	  .def = "1024", .max = 4194304,
	  .help = "processes and threads per job, cgroup (0 = not limited)" },
	/* Per-job limits beyond the contract's (cynode additions). */
	{ .path = "sandbox.resources.max_tmp_mb", .type = CY_CFG_INT, .offset = F(res_tmp),
	  .def = "256", .min = 1, .max = 1048576,
	  .help = "size of each job's private /tmp in MB (cynode addition)" },
	{ .path = "sandbox.resources.max_workspace_mb", .type = CY_CFG_INT,
	  .offset = F(res_workspace), .def = "1024", .min = 0, .max = 16777216,
	  .help = "size of each job's /workspace in MB, a tmpfs the node mounts (its pages count "
	  "against the job's memory); the default and the most a job may ask for; 0 = not "
	  "limited (cynode addition)" },
	{ .path = "sandbox.workspace_quota", .type = CY_CFG_ENUM, .offset = F(ws_quota),
	  .def = "auto", .choices = ws_quotas,
	  .help = "auto: limit /workspace when the node may mount (root), else report it "
	  "unlimited | tmpfs: refuse to run sandboxes when it cannot | none: never limit "
	  "(cynode addition)" },
	{ .path = "sandbox.resources.max_open_files", .type = CY_CFG_INT, .offset = F(res_nofile),
	  .def = "1024", .min = 16, .max = 1048576,
	  .help = "RLIMIT_NOFILE of each job (cynode addition)" },
	{ .path = "sandbox.resources.max_file_size_mb", .type = CY_CFG_INT, .offset = F(res_fsize),
	  .def = "4096", .min = 1, .max = 16777216,
	  .help = "RLIMIT_FSIZE of each job: largest file it may write (cynode addition)" },
	{ .path = "sandbox.timeouts.default_seconds", .type = CY_CFG_INT,
	  .offset = F(timeout_default), .def = "3600", .min = 1, .max = 31536000,
	  .help = "job timeout when the job names none" },
	{ .path = "sandbox.timeouts.max_seconds", .type = CY_CFG_INT, .offset = F(timeout_max),
	  .def = "10800", .min = 1, .max = 31536000,
	  .help = "longest job timeout (larger ones are capped)" },
	{ .path = "sandbox.mount_root", .type = CY_CFG_STR, .offset = F(mount_root),
	  .env = "CYNODE_SANDBOX_MOUNT_ROOT",
	  .help = "job directories; default <state_dir>/sandbox_mounts" },
	{ .path = "sandbox.staging_dir", .type = CY_CFG_STR, .offset = F(staging_dir),
	  .help = "what jobs mount of the node's own (the prepared /etc, inference sockets), "
		  "at a path that tells a job nothing of the node's directories; default "
		  "/run/cynode/<id> as root, else $XDG_RUNTIME_DIR/cynode/<id>, else state_dir" },
	{ .path = "sandbox.mounts.allowed_host_paths", .type = CY_CFG_STRLIST,
	  .offset = F(allowed_host_paths),
	  .help = "host device paths a job may ask for (sandbox.devices)" },
	{ .path = "sandbox.mounts.read_only_by_default", .type = CY_CFG_BOOL,
	  .offset = F(mounts_ro_default), .def = "true", .help = "extra host mounts are read-only" },
	{ .path = "sandbox.security.allow_privileged", .type = CY_CFG_BOOL,
	  .offset = F(allow_privileged), .def = "false",
	  .help = "jobs asking for privileged mode are refused unless true (bwrap: always refused)" },
	{ .path = "sandbox.security.allow_host_network", .type = CY_CFG_BOOL,
	  .offset = F(allow_host_network), .def = "false",
	  .help = "jobs asking for network_policy host are refused unless true" },
	{ .path = "sandbox.security.allow_device_mounts", .type = CY_CFG_BOOL,
	  .offset = F(allow_device_mounts), .def = "false",
	  .help = "jobs asking for devices are refused unless true (and each is allowed)" },
	{ .path = "sandbox.images", .type = CY_CFG_OBJECT, .offset = F(images),
	  .help = "image name -> root filesystem directory (cynode addition)" },
	{ .path = "sandbox.images_dir", .type = CY_CFG_STR, .offset = F(images_dir),
	  .help = "imported images (cynode-node image import); default <state_dir>/images" },
	{ .path = "sandbox.mksquashfs_path", .type = CY_CFG_STR, .offset = F(mksquashfs_path),
	  .def = "mksquashfs",
	  .help = "mksquashfs (squashfs-tools), an absolute path or a name looked up on PATH: "
	  "as root, image import builds a squashfs image the node mounts, so jobs see no host "
	  "path (cynode addition)" },
	{ .path = "sandbox.agent_runner", .type = CY_CFG_STR, .offset = F(sba_runner),
	  .help = "cynode-sba, the agent jobs' runner; default: beside cynode-node, then "
	  "<prefix>/libexec/cynode (cynode addition)" },
	{ .path = "sandbox.images_private", .type = CY_CFG_ENUM, .offset = F(images_private),
	  .def = "warn", .choices = images_privates,
	  .help = "an image directory whose host path would show in a job's mountinfo (not on "
	  "a file system of its own): warn at start | require: refuse jobs on it (cynode "
	  "addition)" },
	{ .path = "sandbox.max_output_bytes", .type = CY_CFG_INT, .offset = F(max_output_bytes),
	  .def = "262144", .min = 1024, .max = 67108864,
	  .help = "stdout and stderr cap per job in the result, each (cynode addition)" },
	{ .path = "sandbox.max_log_bytes", .type = CY_CFG_INT, .offset = F(max_log_bytes),
	  .def = "67108864", .min = 0, .max = 1LL << 40,
	  .help = "bytes of a job's stdout (and of its stderr) spooled under the job directory "
	  "and streamed to the server; the rest is counted as lost (cynode addition)" },
	{ .path = "inference.mode", .type = CY_CFG_ENUM, .offset = F(inf_mode), .def = "allow",
	  .choices = inf_modes,
	  .help = "allow | disabled | require: require makes the node fail without a backend" },
	{ .path = "inference.max_concurrency", .type = CY_CFG_INT,
	  .offset = F(inf_max_concurrency), .max = 1024, .help = "not used yet" },
	{ .path = "inference.allow_gpu", .type = CY_CFG_BOOL, .offset = F(inf_allow_gpu),
	  .def = "true", .help = "a backend the node starts may use the GPUs (false: CPU only)" },
	/* The inference backend (inference.c) and the per-job proxy. */
	{ .path = "inference.url", .type = CY_CFG_STR, .offset = F(inf_url),
	  .help = "http://HOST:PORT of the Ollama API to probe and use (an existing service), and "
	  "where a started one listens; unset: http://127.0.0.1:11434, a started one on "
	  "inference_backend.port" },
	{ .path = "inference.runtime", .type = CY_CFG_ENUM, .offset = F(inf_runtime),
	  .def = "process", .choices = inf_runtimes,
	  .help = "how the node starts a backend when the orchestrator enables one: "
	  "process (ollama serve) | podman | docker" },
	{ .path = "inference.ollama_path", .type = CY_CFG_STR, .offset = F(inf_ollama_path),
	  .def = "ollama",
	  .help = "the ollama binary for runtime process: an absolute path or a name "
	  "looked up on PATH" },
	{ .path = "inference.models", .type = CY_CFG_STRLIST, .offset = F(inf_models),
	  .help = "models pulled in the background once a backend answers (those present are "
	  "not pulled again)" },
	{ .path = "inference.startup_timeout_seconds", .type = CY_CFG_INT,
	  .offset = F(inf_startup_timeout_s), .def = "60", .min = 1, .max = 3600,
	  .help = "how long a started backend has to answer /api/version" },
	{ .path = "inference.request_timeout_seconds", .type = CY_CFG_INT,
	  .offset = F(inf_request_timeout_s), .def = "120", .min = 1, .max = 3600,
	  .help = "longest inference request a job may make through its proxy socket" },
	{ .path = "inference.max_request_bytes", .type = CY_CFG_INT,
	  .offset = F(inf_max_request_bytes), .def = "10485760", .min = 1024, .max = 1073741824,
	  .help = "largest request body a job may send through its proxy socket" },
	{ .path = "artifacts.max_count", .type = CY_CFG_INT, .offset = F(artifacts_max_count),
	  .def = "256", .min = 0, .max = 100000,
	  .help = "files a job may return as artifacts; more are dropped and reported" },
	{ .path = "artifacts.max_total_bytes", .type = CY_CFG_INT,
	  .offset = F(artifacts_max_bytes), .def = "1073741824", .min = 0, .max = 1LL << 40,
	  .help = "bytes of all the artifacts of a job; files past it are dropped and reported" },
	{ .path = "storage.state_dir", .type = CY_CFG_STR, .offset = F(state_dir),
	  .def = "/var/lib/cynode/state", .help = "node credentials and job directories" },
	{ .path = "storage.min_free_mb", .type = CY_CFG_INT, .offset = F(min_free_mb),
	  .def = "256", .min = 0, .max = 1073741824,
	  .help = "jobs are refused (HTTP 507, retried by the server) while the state dir or the "
	  "mount root has less free space in MB; 0 = no check (cynode addition)" },
	{ .path = "telemetry.max_bytes", .type = CY_CFG_INT, .offset = F(tel_max_bytes),
	  .def = "8388608", .min = 65536, .max = 1LL << 34,
	  .help = "bytes the telemetry store under <state_dir>/telemetry keeps at most (events and "
	  "job records, rotated)" },
	{ .path = "telemetry.retention", .type = CY_CFG_DURATION, .offset = F(tel_retention_s),
	  .def = "168h", .min = 60, .max = 315360000,
	  .help = "telemetry older than this is no longer served, and is pruned from the files "
	  "at start, at a write and at each heartbeat" },
	{ .path = "storage.cache_dir", .type = CY_CFG_STR, .offset = F(cache_dir),
	  .help = "not used yet" },
	{ .path = "storage.artifacts_dir", .type = CY_CFG_STR, .offset = F(artifacts_dir),
	  .help = "not used yet" },
	{ .path = "logging.level", .type = CY_CFG_ENUM, .offset = F(log_level), .def = "info",
	  .choices = log_levels, .reloadable = true, .help = "debug | info | warn | error" },
	{ .path = "logging.format", .type = CY_CFG_ENUM, .offset = F(log_format), .def = "text",
	  .choices = log_formats, .reloadable = true, .help = "text (logfmt) | json" },
	{ .path = "logging.file_path", .type = CY_CFG_STR, .offset = F(log_file),
	  .reloadable = true, .help = "append logs to this file instead of stderr" },
	{ .path = "updates.enable_dynamic_config", .type = CY_CFG_BOOL, .offset = F(upd_dynamic),
	  .def = "false", .help = "Phase 1: config is fetched at startup only" },
	{ .path = "updates.poll_interval_seconds", .type = CY_CFG_INT, .offset = F(upd_poll_s),
	  .max = 86400, .help = "Phase 1: no polling" },
	{ .path = "updates.allow_service_restart", .type = CY_CFG_BOOL, .offset = F(upd_restart),
	  .def = "false", .help = "not used yet" },
};
/* clang-format on */

const size_t node_nkeys = sizeof(node_keys) / sizeof(node_keys[0]);

/* True for a non-empty [a-z0-9-] slug that does not start or end with '-'. */
static bool
config_slug_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 128 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++) {
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
			return false;
	}
	return true;
}

/* Strips a trailing newline (and CR) from a PSK read from a file or env. */
static void
config_chomp(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
		s[--n] = '\0';
}

/*
 * Reads a secret file: a regular file owned by this (service) user that
 * group and others cannot access.  *out gets the chomped contents.
 */
static int
config_secret_file(const char *path, const char *what, char **out, struct cy_error *err)
{
	struct cy_buf b = CY_BUF_INIT;
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return cy_error_errno(err, "%s file '%s'", what, path);
	if (fstat(fd, &st) < 0) {
		close(fd);
		return cy_error_errno(err, "%s file '%s'", what, path);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return cy_error_set(err, EINVAL, "%s file '%s' is not a regular file", what, path);
	}
	if (st.st_uid != geteuid()) {
		close(fd);
		return cy_error_set(err, EPERM,
		    "%s file '%s' is owned by uid %u, not by the service user (uid %u)", what, path,
		    (unsigned)st.st_uid, (unsigned)geteuid());
	}
	if (st.st_mode & 077) {
		close(fd);
		return cy_error_set(err, EPERM,
		    "%s file '%s' has mode %04o: it must not be readable or "
		    "writable by group or others (chmod 600 '%s')",
		    what, path, (unsigned)(st.st_mode & 07777), path);
	}
	if (cy_buf_read_fd(&b, fd, 4096) < 0) {
		close(fd);
		cy_buf_release(&b);
		return cy_error_errno(err, "reading %s file '%s'", what, path);
	}
	close(fd);
	*out = cy_buf_detach(&b, NULL);
	config_chomp(*out);
	return 0;
}

/* One secret from the env var named by env_key, else from file_key's file. */
static int
config_secret(const char *env_name, const char *file, const char *what, const char *env_key,
    char **out, char **source, struct cy_error *err)
{
	const char *v;

	if (env_name && *env_name) {
		v = getenv(env_name);
		if (v && *v) {
			*out = xstrdup(v);
			*source = xasprintf("env %s", env_name);
			return 0;
		}
		if (!file)
			return cy_error_set(err, EINVAL, "%s names '%s', which is not set", env_key,
			    env_name);
	}
	if (file && *file) {
		if (config_secret_file(file, what, out, err) < 0)
			return -1;
		*source = xasprintf("file %s", file);
	}
	return 0;
}

/* The node credential saved by an earlier registration, if any. */
static int
config_credential(struct node_config *cfg, struct cy_error *err)
{
	char *path = xasprintf("%s/credentials/node.credential", cfg->state_dir);
	int rc = 0;

	if (access(path, F_OK) == 0)
		rc = config_secret_file(path, "node credential", &cfg->credential, err);
	free(path);
	return rc;
}

static int
config_psk(struct node_config *cfg, struct cy_error *err)
{
	const char *v;

	if (config_secret(cfg->psk_env, cfg->psk_file,
		"orchestrator.registration_psk_file: registration PSK",
		"orchestrator.registration_psk_env", &cfg->psk, &cfg->psk_source, err) < 0)
		return -1;
	if (!cfg->psk) {
		v = getenv("NODE_REGISTRATION_PSK");
		if (v && *v) {
			cfg->psk = xstrdup(v);
			cfg->psk_source = xstrdup("env NODE_REGISTRATION_PSK");
		}
	}
	if (config_secret(cfg->enroll_env, cfg->enroll_file,
		"orchestrator.enrollment_token_file: enrollment token",
		"orchestrator.enrollment_token_env", &cfg->enroll_token, &cfg->enroll_source,
		err) < 0)
		return -1;
	if (config_credential(cfg, err) < 0)
		return -1;
	if ((!cfg->psk || !*cfg->psk) && (!cfg->enroll_token || !*cfg->enroll_token) &&
	    !cfg->credential)
		return cy_error_set(err, EINVAL,
		    "no registration secret: set orchestrator.registration_psk_env, "
		    "orchestrator.registration_psk_file or NODE_REGISTRATION_PSK, or an "
		    "enrollment token (orchestrator.enrollment_token_env or _file)");
	return 0;
}

/* A program to run: an absolute path or a bare name looked up on PATH. */
static int
config_check_program(const char *key, const char *p, struct cy_error *err)
{
	size_t i;

	if (!*p || strlen(p) > 4096)
		return cy_error_set(err, EINVAL, "%s must be a name or an absolute path", key);
	for (i = 0; p[i]; i++)
		if ((unsigned char)p[i] < ' ' || p[i] == 0x7f)
			return cy_error_set(err, EINVAL, "%s holds a control character", key);
	if (strchr(p, '/') && p[0] != '/')
		return cy_error_set(err, EINVAL,
		    "%s '%s' must be absolute (or a bare name looked up on PATH)", key, p);
	return 0;
}

/* The inference.* checks the table cannot express. */
static int
config_check_inference(struct node_config *cfg, struct cy_error *err)
{
	char host[256];
	unsigned port;
	size_t i;

	if (cfg->inf_url &&
	    node_inference_parse_url(cfg->inf_url, host, sizeof(host), &port, err) < 0)
		return cy_error_wrap(err, "inference.url");
	if (config_check_program("inference.ollama_path", cfg->inf_ollama_path, err) < 0)
		return -1;
	if (cfg->inf_models.n > 64)
		return cy_error_set(err, EINVAL, "inference.models lists %zu models; at most 64",
		    cfg->inf_models.n);
	for (i = 0; i < cfg->inf_models.n; i++)
		if (!cy_model_name_valid(cfg->inf_models.v[i]))
			return cy_error_set(err, EINVAL,
			    "inference.models[%zu] '%.80s' is not a model "
			    "name like qwen3.5:0.8b, library/llama3.2:1b or hf.co/org/repo:Q4_K_M",
			    i, cfg->inf_models.v[i]);
	if (!strcmp(cfg->inf_mode, "require") && !strcmp(cfg->sb_mode, "sandbox_only"))
		return cy_error_set(err, EINVAL,
		    "inference.mode require contradicts sandbox.mode "
		    "sandbox_only (no inference on this node)");
	return 0;
}

/* The worker_api.tls* and orchestrator.tls.* checks the table cannot express. */
static int
config_check_tls(const struct node_config *cfg, struct cy_error *err)
{
	bool cert = cfg->worker_tls_cert && *cfg->worker_tls_cert;
	bool key = cfg->worker_tls_key && *cfg->worker_tls_key;
	bool off = !strcmp(cfg->worker_tls, "off");
	const char *u = cfg->public_base_url;

	if (cert != key)
		return cy_error_set(err, EINVAL, "worker_api.%s is set without worker_api.%s",
		    cert ? "tls_cert_file" : "tls_key_file",
		    cert ? "tls_key_file" : "tls_cert_file");
	if (off && cert)
		return cy_error_set(err, EINVAL,
		    "worker_api.tls is off but worker_api.tls_cert_file is set");
	if (u && *u && !off && !cy_tls_url_https(u))
		return cy_error_set(err, EINVAL,
		    "worker_api.public_base_url '%s' must be https:// (the Worker API serves HTTPS; "
		    "worker_api.tls: off for plain HTTP)",
		    u);
	if (u && *u && off && strncmp(u, "http://", 7))
		return cy_error_set(err, EINVAL,
		    "worker_api.public_base_url '%s' must be http:// (worker_api.tls is off)", u);
	if (cfg->tls_pin && *cfg->tls_pin && !cy_tls_pin_valid(cfg->tls_pin))
		return cy_error_set(err, EINVAL,
		    "orchestrator.tls.pinned_sha256 '%.80s' is not sha256//<44 base64 characters>",
		    cfg->tls_pin);
	if (cfg->tls_ca && *cfg->tls_ca && access(cfg->tls_ca, R_OK) < 0)
		return cy_error_set(err, errno, "orchestrator.tls.ca_bundle_path '%s': %s",
		    cfg->tls_ca, strerror(errno));
	return 0;
}

/* Checks one sandbox.images entry: name -> absolute directory. */
/*
 * Where the node stages what jobs mount of its own: a job's mountinfo
 * shows a bind's source path, so keep it away from state_dir.  /run (root)
 * or the user's runtime directory, one directory per state_dir (nodes on
 * one host never share it); state_dir when neither is usable.
 */
static char *
config_staging_default(const char *state_dir)
{
	const char *rt = getenv("XDG_RUNTIME_DIR");
	char hash[65];

	cy_sha256_hex(state_dir, strlen(state_dir), hash);
	hash[12] = '\0';
	if (geteuid() == 0 && access("/run", W_OK) == 0)
		return xasprintf("/run/cynode/%s", hash);
	if (rt && rt[0] == '/' && access(rt, W_OK) == 0)
		return xasprintf("%s/cynode/%s", rt, hash);
	return xstrdup(state_dir);
}

static int
config_check_images(struct node_config *cfg, struct cy_error *err)
{
	const char *name;
	json_t *v;
	struct stat st;

	if (!cfg->images)
		return 0;
	json_object_foreach(cfg->images, name, v) {
		const char *dir = json_string_value(v);

		if (!strcmp(name, "host"))
			return cy_error_set(err, EINVAL,
			    "sandbox.images: 'host' is built in and cannot be redefined");
		if (!dir || dir[0] != '/')
			return cy_error_set(err, EINVAL,
			    "sandbox.images.%s: wants an absolute directory path", name);
		if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
			return cy_error_set(err, ENOENT,
			    "sandbox.images.%s: '%s' is not a directory", name, dir);
	}
	return 0;
}

int
node_config_load(struct node_config *cfg, const char *path, bool need_psk, struct cy_error *err)
{
	char *p;

	memset(cfg, 0, sizeof(*cfg));
	if (cy_config_load(path, true, node_keys, node_nkeys, cfg, err) < 0)
		return -1;
	if (!config_slug_valid(cfg->node_id))
		return cy_error_set(err, EINVAL,
		    "%s: node.id '%s' must be lowercase letters, digits and '-'", path,
		    cfg->node_id);
	if (strncmp(cfg->orch_url, "http://", 7) && strncmp(cfg->orch_url, "https://", 8))
		return cy_error_set(err, EINVAL,
		    "%s: orchestrator.url '%s' must start with http:// or https://", path,
		    cfg->orch_url);
	p = cfg->orch_url + strlen(cfg->orch_url);
	while (p > cfg->orch_url && p[-1] == '/')
		*--p = '\0';
	if (cfg->state_dir[0] != '/')
		return cy_error_set(err, EINVAL, "%s: storage.state_dir must be absolute", path);
	if (config_check_tls(cfg, err) < 0)
		return cy_error_wrap(err, "%s", path);
	if (!cfg->mount_root || !*cfg->mount_root) {
		free(cfg->mount_root);
		cfg->mount_root = xasprintf("%s/sandbox_mounts", cfg->state_dir);
	}
	if (cfg->mount_root[0] != '/')
		return cy_error_set(err, EINVAL, "%s: sandbox.mount_root must be absolute", path);
	if (!cfg->staging_dir || !*cfg->staging_dir) {
		free(cfg->staging_dir);
		cfg->staging_dir = config_staging_default(cfg->state_dir);
		cfg->staging_default = strcmp(cfg->staging_dir, cfg->state_dir) != 0;
	}
	if (cfg->staging_dir[0] != '/')
		return cy_error_set(err, EINVAL, "%s: sandbox.staging_dir must be absolute", path);
	if (cfg->timeout_default > cfg->timeout_max)
		cfg->timeout_default = cfg->timeout_max;
	if (config_check_images(cfg, err) < 0)
		return cy_error_wrap(err, "%s", path);
	if (cfg->images_dir && cfg->images_dir[0] != '/')
		return cy_error_set(err, EINVAL, "%s: sandbox.images_dir must be absolute", path);
	if (config_check_program("sandbox.mksquashfs_path", cfg->mksquashfs_path, err) < 0)
		return cy_error_wrap(err, "%s", path);
	if (!strcmp(cfg->sb_runtime, "bwrap") ?
		strcmp(cfg->default_image, "host") &&
		    !node_image_rootfs_exists(cfg, cfg->default_image) :
		!node_image_ref_valid(cfg->default_image))
		return cy_error_set(err, EINVAL,
		    "%s: sandbox.default_image '%s' is neither 'host', a sandbox.images entry "
		    "nor an imported image",
		    path, cfg->default_image);
	if (config_check_inference(cfg, err) < 0)
		return cy_error_wrap(err, "%s", path);
	if (need_psk && config_psk(cfg, err) < 0)
		return cy_error_wrap(err, "%s", path);
	if (need_psk && cfg->metrics_token_file && *cfg->metrics_token_file) {
		if (config_secret_file(cfg->metrics_token_file,
			"worker_api.metrics_token_file: metrics token", &cfg->metrics_token,
			err) < 0)
			return cy_error_wrap(err, "%s", path);
		if (strlen(cfg->metrics_token) < 16)
			return cy_error_set(err, EINVAL,
			    "%s: worker_api.metrics_token_file: the token must be at least 16 "
			    "characters",
			    path);
	}
	return 0;
}

void
node_config_release(struct node_config *cfg)
{
	cy_config_release(node_keys, node_nkeys, cfg);
	free(cfg->psk);
	free(cfg->psk_source);
	free(cfg->enroll_token);
	free(cfg->enroll_source);
	free(cfg->credential);
	free(cfg->metrics_token);
	cfg->metrics_token = NULL;
	cfg->psk = NULL;
	cfg->psk_source = NULL;
	cfg->enroll_token = NULL;
	cfg->enroll_source = NULL;
	cfg->credential = NULL;
}

void
node_config_print(const struct node_config *cfg)
{
	cy_config_print(stdout, node_keys, node_nkeys, cfg);
	printf("# registration PSK: %s (from %s)\n", cfg->psk ? "<redacted>" : "(none)",
	    cfg->psk_source ? cfg->psk_source : "nowhere");
	printf("# enrollment token: %s (from %s)\n", cfg->enroll_token ? "<redacted>" : "(none)",
	    cfg->enroll_source ? cfg->enroll_source : "nowhere");
	printf("# metrics token: %s\n", cfg->metrics_token ? "<redacted>" : "(none: no /metrics)");
	printf("# node credential: %s\n",
	    cfg->credential ? "<redacted> (from <state_dir>/credentials/node.credential)" :
			      "(none yet)");
}
