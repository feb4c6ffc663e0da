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
#include "id.h"
#include "buf.h"
#include "inference.h"
#include "node.h"
#include "banned.h"

#define F(x) offsetof(struct node_config, x)

static const char *const sb_modes[] = { "allow", "sandbox_only", "disabled", NULL };
static const char *const sb_runtimes[] = { "bwrap", "podman", "docker", NULL };
static const char *const net_policies[] = { "restricted", "none", "allowlist", NULL };
static const char *const inf_modes[] = { "allow", "disabled", "require", NULL };
static const char *const inf_runtimes[] = { "process", "podman", "docker", NULL };
static const char *const log_levels[] = { "debug", "info", "warn", "error", NULL };
static const char *const log_formats[] = { "text", "json", NULL };

const struct cy_cfg_key node_keys[] = {
	{ "version", CY_CFG_INT, F(version), NULL, 1, 1, NULL, NULL, true, false,
		"format version of this file; must be 1" },
	{ "orchestrator.url", CY_CFG_STR, F(orch_url), NULL, 0, 0, NULL, NULL, true, false,
		"orchestrator control-plane base URL, e.g. http://orch:12082" },
	{ "orchestrator.registration_psk_env", CY_CFG_STR, F(psk_env), NULL, 0, 0, NULL, NULL,
		false, false, "name of the environment variable holding the registration PSK" },
	{ "orchestrator.registration_psk_file", CY_CFG_STR, F(psk_file), NULL, 0, 0, NULL,
		NULL, false, false, "file holding the registration PSK (mode 0600 or stricter)" },
	{ "orchestrator.tls.ca_bundle_path", CY_CFG_STR, F(tls_ca), NULL, 0, 0, NULL, NULL,
		false, false, "CA bundle for an https orchestrator URL" },
	{ "orchestrator.tls.pinned_sha256", CY_CFG_STR, F(tls_pin), NULL, 0, 0, NULL, NULL,
		false, false, "SHA-256 pin of the orchestrator key (not enforced yet)" },
	{ "orchestrator.timeouts.connect_seconds", CY_CFG_INT, F(connect_s), "5", 1, 300,
		NULL, NULL, false, false, "connect timeout for orchestrator calls" },
	{ "orchestrator.timeouts.request_seconds", CY_CFG_INT, F(request_s), "30", 1, 3600,
		NULL, NULL, false, false, "whole-request timeout for orchestrator calls" },
	{ "orchestrator.report_interval_seconds", CY_CFG_INT, F(report_interval_s), "30", 1,
		86400, NULL, NULL, false, false,
		"seconds between capability reports (cynode addition)" },
	{ "orchestrator.heartbeat_interval_seconds", CY_CFG_INT, F(heartbeat_interval_s), "5",
		1, 300, NULL, NULL, false, false,
		"seconds between heartbeats (liveness, config and drain news; cynode addition)" },
	{ "orchestrator.gpu_refresh_seconds", CY_CFG_INT, F(gpu_refresh_s), "60", 1, 3600,
		NULL, NULL, false, false,
		"seconds a GPU detection (nvidia-smi) is reused by heartbeats and reports; a "
		"card added or removed under /sys/class/drm is detected at once (cynode addition)" },
	{ "orchestrator.enrollment_token_env", CY_CFG_STR, F(enroll_env), NULL, 0, 0, NULL,
		NULL, false, false,
		"name of the environment variable holding a one-time enrollment token" },
	{ "orchestrator.enrollment_token_file", CY_CFG_STR, F(enroll_file), NULL, 0, 0, NULL,
		NULL, false, false,
		"file holding a one-time enrollment token (owned by this user, mode 0600)" },
	{ "node.id", CY_CFG_STR, F(node_id), NULL, 0, 0, NULL, NULL, true, false,
		"stable node id (= node_slug): lowercase letters, digits and '-'" },
	{ "node.name", CY_CFG_STR, F(node_name), NULL, 0, 0, NULL, NULL, false, false,
		"display name" },
	{ "node.labels", CY_CFG_STRLIST, F(labels), NULL, 0, 0, NULL, NULL, false, false,
		"labels reported to the orchestrator (sandbox_only, trusted, ...)" },
	{ "node.metadata", CY_CFG_OBJECT, F(metadata), NULL, 0, 0, NULL, NULL, false, false,
		"free-form mapping" },
	{ "worker_api.listen_host", CY_CFG_STR, F(listen_host), "0.0.0.0", 0, 0, NULL, NULL,
		false, false, "Worker API listen address" },
	{ "worker_api.listen_port", CY_CFG_INT, F(listen_port), "12090", 1, 65535, NULL, NULL,
		false, false, "Worker API listen port" },
	{ "worker_api.public_base_url", CY_CFG_STR, F(public_base_url), NULL, 0, 0, NULL, NULL,
		false, false, "URL advertised as worker_api.base_url" },
	{ "worker_api.max_request_bytes", CY_CFG_INT, F(max_request_bytes), "10485760", 1024,
		1073741824, NULL, NULL, false, false, "largest accepted jobs:run body" },
	{ "sandbox.mode", CY_CFG_ENUM, F(sb_mode), "allow", 0, 0, sb_modes, NULL, false, false,
		"allow | sandbox_only | disabled" },
	{ "sandbox.runtime", CY_CFG_ENUM, F(sb_runtime), "bwrap", 0, 0, sb_runtimes, NULL,
		false, false, "bwrap (bubblewrap, default) | podman | docker (OCI images)" },
	{ "sandbox.rootless", CY_CFG_BOOL, F(sb_rootless), "true", 0, 0, NULL, NULL, false,
		false, "run sandboxes unprivileged (always true with bwrap)" },
	{ "sandbox.max_concurrency", CY_CFG_INT, F(max_concurrency), "4", 1, 1024, NULL, NULL,
		false, false, "jobs run at the same time; more get 503" },
	{ "sandbox.default_image", CY_CFG_STR, F(default_image), "host", 0, 0, NULL, NULL,
		false, false, "image used when a job names none" },
	{ "sandbox.allowed_images", CY_CFG_STRLIST, F(allowed_images), NULL, 0, 0, NULL, NULL,
		false, false, "image allowlist; other images are refused (empty = any known image)" },
	{ "sandbox.default_network_policy", CY_CFG_ENUM, F(default_network_policy),
		"restricted", 0, 0, net_policies, NULL, false, false,
		"restricted | none | allowlist (all deny network in Phase 1)" },
	{ "sandbox.allowed_egress_domains", CY_CFG_STRLIST, F(allowed_egress), NULL, 0, 0,
		NULL, NULL, false, false, "egress allowlist (not enforced yet)" },
	{ "sandbox.resources.max_cpu_cores", CY_CFG_INT, F(res_cpu), "0", 0, 4096, NULL, NULL,
		false, false, "CPU cores per job, cgroup quota (0 = not limited)" },
	{ "sandbox.resources.max_memory_mb", CY_CFG_INT, F(res_mem), "2048", 0, 16777216, NULL,
		NULL, false, false, "memory per job in MB, cgroup (0 = not limited)" },
	{ "sandbox.resources.max_pids", CY_CFG_INT, F(res_pids), "1024", 0, 4194304, NULL, NULL,
		false, false, "processes and threads per job, cgroup (0 = not limited)" },
	/* Per-job limits beyond the contract's (cynode additions). */
	{ "sandbox.resources.max_tmp_mb", CY_CFG_INT, F(res_tmp), "256", 1, 1048576, NULL, NULL,
		false, false, "size of each job's private /tmp in MB (cynode addition)" },
	{ "sandbox.resources.max_open_files", CY_CFG_INT, F(res_nofile), "1024", 16, 1048576,
		NULL, NULL, false, false, "RLIMIT_NOFILE of each job (cynode addition)" },
	{ "sandbox.resources.max_file_size_mb", CY_CFG_INT, F(res_fsize), "4096", 1, 16777216,
		NULL, NULL, false, false,
		"RLIMIT_FSIZE of each job: largest file it may write (cynode addition)" },
	{ "sandbox.timeouts.default_seconds", CY_CFG_INT, F(timeout_default), "3600", 1,
		31536000, NULL, NULL, false, false, "job timeout when the job names none" },
	{ "sandbox.timeouts.max_seconds", CY_CFG_INT, F(timeout_max), "10800", 1, 31536000,
		NULL, NULL, false, false, "longest job timeout (larger ones are capped)" },
	{ "sandbox.mount_root", CY_CFG_STR, F(mount_root), NULL, 0, 0, NULL,
		"CYNODE_SANDBOX_MOUNT_ROOT", false, false,
		"job directories; default <state_dir>/sandbox_mounts" },
	{ "sandbox.mounts.allowed_host_paths", CY_CFG_STRLIST, F(allowed_host_paths), NULL, 0,
		0, NULL, NULL, false, false, "host device paths a job may ask for (sandbox.devices)" },
	{ "sandbox.mounts.read_only_by_default", CY_CFG_BOOL, F(mounts_ro_default), "true", 0,
		0, NULL, NULL, false, false, "extra host mounts are read-only" },
	{ "sandbox.security.allow_privileged", CY_CFG_BOOL, F(allow_privileged), "false", 0, 0,
		NULL, NULL, false, false,
		"jobs asking for privileged mode are refused unless true (bwrap: always refused)" },
	{ "sandbox.security.allow_host_network", CY_CFG_BOOL, F(allow_host_network), "false",
		0, 0, NULL, NULL, false, false,
		"jobs asking for network_policy host are refused unless true" },
	{ "sandbox.security.allow_device_mounts", CY_CFG_BOOL, F(allow_device_mounts), "false",
		0, 0, NULL, NULL, false, false,
		"jobs asking for devices are refused unless true (and each is allowed)" },
	{ "sandbox.images", CY_CFG_OBJECT, F(images), NULL, 0, 0, NULL, NULL, false, false,
		"image name -> root filesystem directory (cynode addition)" },
	{ "sandbox.images_dir", CY_CFG_STR, F(images_dir), NULL, 0, 0, NULL, NULL, false, false,
		"imported images (cynode-node image import); default <state_dir>/images" },
	{ "sandbox.max_output_bytes", CY_CFG_INT, F(max_output_bytes), "262144", 1024,
		67108864, NULL, NULL, false, false,
		"stdout and stderr cap per job, each (cynode addition)" },
	{ "inference.mode", CY_CFG_ENUM, F(inf_mode), "allow", 0, 0, inf_modes, NULL, false,
		false, "allow | disabled | require: require makes the node fail without a backend" },
	{ "inference.max_concurrency", CY_CFG_INT, F(inf_max_concurrency), NULL, 0, 1024, NULL,
		NULL, false, false, "not used yet" },
	{ "inference.allow_gpu", CY_CFG_BOOL, F(inf_allow_gpu), "true", 0, 0, NULL, NULL, false,
		false, "a backend the node starts may use the GPUs (false: CPU only)" },
	/* The inference backend (inference.c) and the per-job proxy. */
	{ "inference.url", CY_CFG_STR, F(inf_url), NULL, 0, 0, NULL, NULL, false, false,
		"http://HOST:PORT of the Ollama API to probe and use (an existing service), and "
		"where a started one listens; unset: http://127.0.0.1:11434, a started one on "
		"inference_backend.port" },
	{ "inference.runtime", CY_CFG_ENUM, F(inf_runtime), "process", 0, 0, inf_runtimes, NULL,
		false, false, "how the node starts a backend when the orchestrator enables one: "
		"process (ollama serve) | podman | docker" },
	{ "inference.ollama_path", CY_CFG_STR, F(inf_ollama_path), "ollama", 0, 0, NULL, NULL,
		false, false, "the ollama binary for runtime process: an absolute path or a name "
		"looked up on PATH" },
	{ "inference.models", CY_CFG_STRLIST, F(inf_models), NULL, 0, 0, NULL, NULL, false,
		false, "models pulled in the background once a backend answers (those present are "
		"not pulled again)" },
	{ "inference.startup_timeout_seconds", CY_CFG_INT, F(inf_startup_timeout_s), "60", 1,
		3600, NULL, NULL, false, false,
		"how long a started backend has to answer /api/version" },
	{ "inference.request_timeout_seconds", CY_CFG_INT, F(inf_request_timeout_s), "120", 1,
		3600, NULL, NULL, false, false,
		"longest inference request a job may make through its proxy socket" },
	{ "inference.max_request_bytes", CY_CFG_INT, F(inf_max_request_bytes), "10485760", 1024,
		1073741824, NULL, NULL, false, false,
		"largest request body a job may send through its proxy socket" },
	{ "storage.state_dir", CY_CFG_STR, F(state_dir), "/var/lib/cynode/state", 0, 0, NULL,
		NULL, false, false, "node credentials and job directories" },
	{ "storage.cache_dir", CY_CFG_STR, F(cache_dir), NULL, 0, 0, NULL, NULL, false, false,
		"not used yet" },
	{ "storage.artifacts_dir", CY_CFG_STR, F(artifacts_dir), NULL, 0, 0, NULL, NULL, false,
		false, "not used yet" },
	{ "logging.level", CY_CFG_ENUM, F(log_level), "info", 0, 0, log_levels, NULL, false,
		false, "debug | info | warn | error" },
	{ "logging.format", CY_CFG_ENUM, F(log_format), "text", 0, 0, log_formats, NULL, false,
		false, "text (logfmt) | json" },
	{ "logging.file_path", CY_CFG_STR, F(log_file), NULL, 0, 0, NULL, NULL, false, false,
		"append logs to this file instead of stderr" },
	{ "updates.enable_dynamic_config", CY_CFG_BOOL, F(upd_dynamic), "false", 0, 0, NULL,
		NULL, false, false, "Phase 1: config is fetched at startup only" },
	{ "updates.poll_interval_seconds", CY_CFG_INT, F(upd_poll_s), NULL, 0, 86400, NULL,
		NULL, false, false, "Phase 1: no polling" },
	{ "updates.allow_service_restart", CY_CFG_BOOL, F(upd_restart), "false", 0, 0, NULL,
		NULL, false, false, "not used yet" },
};

const size_t node_nkeys = sizeof(node_keys) / sizeof(node_keys[0]);

/* True for a non-empty [a-z0-9-] slug that does not start or end with '-'. */
static bool
config_slug_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 128 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++) {
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) ||
			    s[i] == '-'))
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
			"%s file '%s' is owned by uid %u, not by the service user (uid %u)", what,
			path, (unsigned)st.st_uid, (unsigned)geteuid());
	}
	if (st.st_mode & 077) {
		close(fd);
		return cy_error_set(err, EPERM,
			"%s file '%s' has mode %04o: it must not be readable or "
			"writable by group or others (chmod 600 '%s')", what, path,
			(unsigned)(st.st_mode & 07777), path);
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

/* The inference.* checks the table cannot express. */
static int
config_check_inference(struct node_config *cfg, struct cy_error *err)
{
	char host[256];
	unsigned port;
	const char *p;
	size_t i;

	if (cfg->inf_url && node_inference_parse_url(cfg->inf_url, host, sizeof(host), &port,
		    err) < 0)
		return cy_error_wrap(err, "inference.url");
	p = cfg->inf_ollama_path;
	if (!*p || strlen(p) > 4096)
		return cy_error_set(err, EINVAL, "inference.ollama_path must be a name or an "
			"absolute path");
	for (i = 0; p[i]; i++)
		if ((unsigned char)p[i] < ' ' || p[i] == 0x7f)
			return cy_error_set(err, EINVAL, "inference.ollama_path holds a control "
				"character");
	if (strchr(p, '/') && p[0] != '/')
		return cy_error_set(err, EINVAL, "inference.ollama_path '%s' must be absolute (or "
			"a bare name looked up on PATH)", p);
	if (cfg->inf_models.n > 64)
		return cy_error_set(err, EINVAL, "inference.models lists %zu models; at most 64",
			cfg->inf_models.n);
	for (i = 0; i < cfg->inf_models.n; i++)
		if (!cy_model_name_valid(cfg->inf_models.v[i]))
			return cy_error_set(err, EINVAL, "inference.models[%zu] '%.80s' is not a model "
				"name like qwen3.5:0.8b, library/llama3.2:1b or hf.co/org/repo:Q4_K_M",
				i, cfg->inf_models.v[i]);
	if (!strcmp(cfg->inf_mode, "require") && !strcmp(cfg->sb_mode, "sandbox_only"))
		return cy_error_set(err, EINVAL, "inference.mode require contradicts sandbox.mode "
			"sandbox_only (no inference on this node)");
	return 0;
}

/* Checks one sandbox.images entry: name -> absolute directory. */
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
node_config_load(struct node_config *cfg, const char *path, bool need_psk,
	struct cy_error *err)
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
	if (!cfg->mount_root || !*cfg->mount_root) {
		free(cfg->mount_root);
		cfg->mount_root = xasprintf("%s/sandbox_mounts", cfg->state_dir);
	}
	if (cfg->mount_root[0] != '/')
		return cy_error_set(err, EINVAL, "%s: sandbox.mount_root must be absolute", path);
	if (cfg->timeout_default > cfg->timeout_max)
		cfg->timeout_default = cfg->timeout_max;
	if (config_check_images(cfg, err) < 0)
		return cy_error_wrap(err, "%s", path);
	if (cfg->images_dir && cfg->images_dir[0] != '/')
		return cy_error_set(err, EINVAL, "%s: sandbox.images_dir must be absolute", path);
	if (!strcmp(cfg->sb_runtime, "bwrap") ? strcmp(cfg->default_image, "host") &&
	    !node_image_rootfs_exists(cfg, cfg->default_image) :
	    !node_image_name_valid(cfg->default_image))
		return cy_error_set(err, EINVAL,
			"%s: sandbox.default_image '%s' is neither 'host', a sandbox.images entry "
			"nor an imported image", path, cfg->default_image);
	if (config_check_inference(cfg, err) < 0)
		return cy_error_wrap(err, "%s", path);
	if (need_psk && config_psk(cfg, err) < 0)
		return cy_error_wrap(err, "%s", path);
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
	printf("# node credential: %s\n", cfg->credential ?
		"<redacted> (from <state_dir>/credentials/node.credential)" : "(none yet)");
}
