/*
 * cynode-node: the node daemon's shared declarations.  One process holds
 * the node manager (registration, config, capability reports), the Worker
 * API and the executor; this header carries the startup configuration
 * (node.yaml, contract section 6), the configuration applied from the
 * orchestrator, and the entry points of each module.
 */
#ifndef CY_NODE_H
#define CY_NODE_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "buf.h"
#include "config.h"
#include "error.h"
#include "states.h"
#include "tls.h"

#define NODE_DEFAULT_CONFIG "/etc/cynode/node.yaml"
#define NODE_DEFAULT_MAX_REQUEST 10485760LL
#define NODE_DEFAULT_MAX_OUTPUT 262144LL
#define NODE_SANDBOX_UID 65534

/* node.yaml, one field per key of node_keys[]. */
struct node_config {
	long long version;

	char *orch_url;
	char *psk_env;
	char *psk_file;
	char *metrics_token_file;
	char *tls_ca;
	char *tls_pin;
	long long connect_s;
	long long request_s;
	long long report_interval_s;
	/* Heartbeats and enrollment tokens. */
	long long heartbeat_interval_s;
	long long gpu_refresh_s; /* GPU detection reused this long */
	char *enroll_env;
	char *enroll_file;

	char *node_id;
	char *node_name;
	struct cy_strlist labels;
	json_t *metadata;

	char *listen_host;
	long long listen_port;
	char *public_base_url;
	char *worker_tls;      /* worker_api.tls: auto | off */
	char *worker_tls_cert; /* worker_api.tls_cert_file */
	char *worker_tls_key;  /* worker_api.tls_key_file */
	long long max_request_bytes;

	char *sb_mode;
	char *sb_runtime;
	bool sb_rootless;
	long long max_concurrency;
	long long netns_pool; /* sandbox.netns_pool */
	char *default_image;
	struct cy_strlist allowed_images;
	char *default_network_policy;
	struct cy_strlist allowed_egress;
	long long res_cpu;
	long long res_mem;
	long long res_pids;
	long long res_tmp;
	long long res_nofile;
	long long res_fsize;
	long long res_workspace; /* MB of each job's /workspace tmpfs; 0: not limited */
	char *ws_quota;          /* sandbox.workspace_quota: auto | tmpfs | none */
	char *images_dir;        /* imported images (cynode-node image import) */
	char *images_private;    /* sandbox.images_private: warn | require */
	char *mksquashfs_path;   /* sandbox.mksquashfs_path: builds squashfs images */
	char *sba_runner;        /* sandbox.agent_runner: cynode-sba's path, or found */
	long long timeout_default;
	long long timeout_max;
	char *mount_root;
	char *staging_dir;    /* sandbox.staging_dir: the prepared /etc, inference sockets */
	bool staging_default; /* staging_dir is the default one under /run (not configured) */
	struct cy_strlist allowed_host_paths;
	bool mounts_ro_default;
	bool allow_privileged;
	bool allow_host_network;
	bool allow_device_mounts;
	json_t *images;
	long long max_output_bytes;
	long long max_log_bytes;       /* spooled and streamed per job stream */
	long long artifacts_max_count; /* artifacts.max_count */
	long long artifacts_max_bytes; /* artifacts.max_total_bytes */

	char *inf_mode;
	long long inf_max_concurrency;
	bool inf_allow_gpu;
	/* The inference backend (inference.c) and the per-job proxy. */
	char *inf_url;     /* NULL: http://127.0.0.1:11434 */
	char *inf_runtime; /* process | podman | docker */
	char *inf_ollama_path;
	struct cy_strlist inf_models;
	long long inf_startup_timeout_s;
	long long inf_request_timeout_s;
	long long inf_max_request_bytes;

	char *state_dir;
	long long min_free_mb;     /* jobs are refused below this much free space */
	long long tel_max_bytes;   /* telemetry.max_bytes */
	long long tel_retention_s; /* telemetry.retention */
	char *cache_dir;
	char *artifacts_dir;

	char *log_level;
	char *log_format;
	char *log_file;

	bool upd_dynamic;
	long long upd_poll_s;
	bool upd_restart;

	/* Resolved after loading; not table keys. */
	char *psk;           /* secret, never printed */
	char *metrics_token; /* worker_api.metrics_token_file's token, never printed */
	char *psk_source;    /* "env NAME" or "file PATH" */
	char *enroll_token;  /* secret, never printed */
	char *enroll_source;
	char *credential; /* node credential from <state_dir>/credentials, secret */
};

/* What the orchestrator's config payload set (section 3.4). */
struct node_applied {
	char config_version[64];
	char *bearer_token;          /* secret */
	long long token_expires_at;  /* 0 = none */
	long long max_request_bytes; /* 0 = no cap */
	long long max_job_timeout_s; /* 0 = no cap */
	struct cy_strlist policy_images;
	char *policy_network; /* default_network_policy, or NULL */
	/* The pushed policy.sandbox.allow_* set to false: such jobs are refused. */
	bool policy_deny_privileged;
	bool policy_deny_host_network;
	bool policy_deny_devices;
};

/* The process state shared by the manager and the Worker API. */
struct node {
	struct node_config cfg;
	struct node_applied applied;
	bool registered;
	bool config_applied;
	bool sandbox_ok;
	char sandbox_reason[256];
	size_t body_limit;
	char *base_url;          /* advertised worker_api.base_url */
	const char *config_path; /* node.yaml, read again on SIGHUP */
	/* The Worker API's TLS (worker-tls.c); NULL cert = plain HTTP. */
	char *tls_cert_pem;
	char *tls_key_pem;             /* secret */
	char tls_pin[CY_TLS_PIN_SIZE]; /* its key's pin, reported as worker_api.tls_pubkey_sha256 */
	pthread_mutex_t lock;
	unsigned running; /* jobs running now */
	/* node.yaml's sandbox.max_concurrency; cfg.max_concurrency is
	 * the effective cap (capped further by a pushed constraint). */
	long long yaml_max_concurrency;
};

/* config.c */
extern const struct cy_cfg_key node_keys[];
extern const size_t node_nkeys;
/*
 * Loads and validates node.yaml; with need_psk also resolves the PSK.  -1
 * with err on any problem.
 */
int node_config_load(struct node_config *cfg, const char *path, bool need_psk,
    struct cy_error *err);
void node_config_release(struct node_config *cfg);
/* Prints the effective configuration (secrets redacted). */
void node_config_print(const struct node_config *cfg);

/*
 * malloc-tune.c: the daemon execs itself once with glibc's per-thread
 * block cache and thread-stack cache off (GLIBC_TUNABLES), then restores
 * the environment; node_malloc_tuned() says what the allocator runs with
 * (those settings, the operator's GLIBC_TUNABLES, or glibc's defaults).
 */
void node_malloc_tune(char **argv);
const char *node_malloc_tuned(void);

/*
 * reload.c: logging.level, .format and .file_path applied (-1 with err);
 * node_reload() is SIGHUP: node.yaml read again, its reloadable keys
 * applied, the others that changed since node_reload_init() logged.
 */
int node_logging_setup(const struct node_config *c, struct cy_error *err);
void node_reload_init(const char *path);
int node_reload(const char *path);
void node_reload_release(void);

/* capability.c: a new node_capability_report_v1 object. */
json_t *node_capability_report(const struct node *n);
/* Frees the cached GPU detection. */
void node_capability_release(void);

/*
 * config-apply.c: validates a node_configuration_payload_v1 against the
 * applied version and node.yaml, then applies it (-1 with err: refused,
 * nothing changed).
 */
int node_config_apply(struct node *n, const json_t *c, struct cy_error *err);
/* The config_version applied last (kept under the state dir), or "". */
void node_applied_version(const struct node *n, char out[64]);
/* Frees the applied configuration (exit). */
void node_config_apply_release(struct node *n);

/*
 * worker-tls.c: the Worker API's certificate and key (node.yaml files, or
 * made once under <state_dir>/tls with worker_api.tls auto) and their pin,
 * before the first registration; warns about plain HTTP off loopback (the
 * Worker API's and the orchestrator's).
 */
int node_worker_tls(struct node *n, struct cy_error *err);
void node_worker_tls_release(struct node *n);

/* worker-api.c */
struct cy_httpd;
struct cy_httpd *worker_api_start(struct node *n, struct cy_error *err);
/* inference-relay.c: POST /v1/worker/inference/chat/completions. */
struct cy_http_req;
struct cy_http_resp;
void worker_inference_chat(struct cy_http_req *req, struct cy_http_resp *resp);
/* Re-reads n->body_limit after a config change. */
void worker_api_limits(struct node *n);
/*
 * cynode-node --routes: the Worker API's routes, one a line, TAB-separated
 * after a header: listener, method, path pattern, auth (worker_bearer or
 * metrics_token).  /healthz, /readyz and /openapi.json are lib/httpd.c's.
 */
void worker_routes_print(FILE *f);
/* api/openapi-worker.json, embedded at build time (scripts/embed). */
extern const char cy_openapi_worker[];
extern const size_t cy_openapi_worker_len;
/*
 * Validates one RunJobRequest body and runs it.  Returns 0 with *out set to
 * the RunJobResponse, or -1 with *prob and detail set (bad request, busy,
 * node error).
 */
int worker_run_job(struct node *n, const char *body, size_t len, json_t **out,
    enum cy_problem *prob, struct cy_buf *detail);
/* Appends why a job request is refused to d; returns -1 (return job_refuse(...)). */
int job_refuse(struct cy_buf *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* manager.c: runs the startup sequence and the report loop until a signal. */
int manager_run(struct node *n, struct cy_error *err);

/* Housekeeping: remove job directories under mount_root older than max_age_s. */
void node_cleanup_jobs(struct node *n, long long max_age_s);
/* Readiness probe of the sandbox runtime (mount root writable, a sandbox runs). */
int node_sandbox_probe(const struct node *n, struct cy_error *err);
/* Kills every running sandbox (shutdown). */
void node_sandbox_kill_all(void);
/*
 * Kills the running job job_id with everything it started; its
 * result says "canceled".  0 when it was running, -1 when not.
 */
int node_job_cancel(struct node *n, const char *job_id);
/*
 * results.c: finished results kept in <state_dir>/results until the
 * server confirms them, the jobs running here, and the sync thread that
 * renews their leases, redelivers results and kills canceled jobs.
 */
int node_result_save(struct node *n, const char *job_id, const char *lease_id, const json_t *out);
void node_job_begin(const char *job_id);
/* The node JWT the manager saved (caller wipes and frees), or NULL. */
char *node_orch_jwt(const struct node *n);
/* <orchestrator.url><path>; caller frees. */
char *node_orch_url(const struct node *n, const char *path);
void node_job_end(const char *job_id);
int node_results_start(struct node *n, struct cy_error *err);
void node_results_stop(void);
/* The isolation and limit features the sandbox runtime enforces here (new array). */
json_t *node_sandbox_features(void);

/* The sandbox runtime sandbox.runtime selected (set by node_sandbox_probe). */
struct sandbox_runtime;
const struct sandbox_runtime *node_runtime(void);

/*
 * workspace-quota.c: each job's /workspace as a size-limited tmpfs on the
 * host (when the node may mount), and the free space the node keeps.
 */
/*
 * Decides how workspaces are limited here; -1 with err only when
 * sandbox.workspace_quota is tmpfs and the node cannot mount.  Not
 * enforced otherwise: logged and reported.
 */
int node_ws_quota_probe(const struct node_config *c, struct cy_error *err);
/*
 * At the daemon's start (no job runs yet; never from --run-job, which may
 * run beside a daemon): unmounts the workspace tmpfs mounts a node that
 * died left under mount_root.
 */
void node_ws_quota_sweep(const char *mount_root);
bool node_ws_quota_enforced(void);
/* Why workspaces are not limited ("" when they are). */
const char *node_ws_quota_reason(void);
/* Mounts the workspace tmpfs of mb MiB on ws (owned by the sandbox uid when root). */
int node_ws_quota_mount(const char *ws, long long mb, struct cy_error *err);
/* Unmounts what node_ws_quota_mount mounted on ws (nothing mounted: nothing done). */
void node_ws_quota_unmount(const char *ws);
/* The capability report's sandbox.workspace_quota object. */
json_t *node_ws_quota_json(const struct node_config *c);
/*
 * Before a job: 0, or -1 with the reason in d when the state dir or the
 * mount root has less than storage.min_free_mb free.
 */
int node_disk_check(const struct node_config *c, struct cy_buf *d);
/* The node's conditions for the capability report: [{type, message}]. */
json_t *node_conditions(const struct node_config *c);

/* mountinfo.c: this process's mounts. */
typedef int node_mount_fn(const char *root, const char *mount_point, const char *fstype, void *arg);
/* Calls fn for each line of /proc/self/mountinfo (fields unescaped); -1 unreadable. */
int node_mountinfo_each(node_mount_fn *fn, void *arg);
/*
 * The path dir would show in a job's mountinfo when bound into it: its path
 * relative to the root of the file system holding it (caller frees); NULL
 * when it cannot be told.
 */
char *node_mount_shown_path(const char *dir);

/* sba-job.c: cynode-sba's path on this host (caller frees), or NULL when none. */
char *node_sba_runner(const struct node_config *c);

/* bench.c: --bench-sandbox N; returns the exit code. */
int node_bench_sandbox(struct node *n, int count);
int node_bench_sandbox_rate(struct node *n, int count, int parallel);

/* image.c: image directories and `cynode-node image ...`. */
/* A docker-like image reference ([A-Za-z0-9._:@/-], 1-200, no ".."). */
bool node_image_ref_valid(const char *s);
/* The suffix the images directory uses itself that s ends in (.sqfs, ...), or NULL. */
const char *node_image_name_reserved(const char *s);
/* A name an image of this node may have: a reference not ending in a reserved suffix. */
bool node_image_name_valid(const char *s);
/* sandbox.images_dir or <state_dir>/images (caller frees). */
char *node_images_dir(const struct node_config *c);
/*
 * Every image a job may name: "host", node.yaml's sandbox.images and the
 * imported ones, as a new object {name: directory}.
 */
json_t *node_image_table(const struct node_config *c);
/*
 * 0 when a bind of the image directory rootfs shows nothing of the host's
 * layout in a job's mountinfo (it is a file system's root, or a directory
 * right under one).  Else -1 with the reason in err: with
 * sandbox.images_private "require" the job is refused, with "warn" the
 * node logs it at start.
 */
int node_image_path_check(const char *name, const char *rootfs, struct cy_error *err);
/* At the daemon's start: logs each image whose directory's path would show. */
void node_image_warn_shown(const struct node_config *c);
/*
 * Where image `name` is (caller frees): a root filesystem directory or a
 * squashfs image file (node_image_is_sqfs); NULL when there is none.
 */
char *node_image_rootfs(const struct node_config *c, const char *name);
bool node_image_rootfs_exists(const struct node_config *c, const char *name);
/* `image import|list|rm ...` (argv after "image"); returns the exit code. */
int node_image_main(const struct node_config *c, int argc, char **argv);

/*
 * image-mount.c: imported images as squashfs files (<name>.sqfs), mounted
 * read-only from a loop device for the jobs on them, so a job's mountinfo
 * shows no host path.
 */
#define NODE_IMAGE_SQFS_EXT ".sqfs"
struct node_image_mount;
/* Is path named like a squashfs image file (*.sqfs)? */
bool node_image_sqfs_named(const char *path);
/* Is path a squashfs image file (a regular file named *.sqfs)? */
bool node_image_is_sqfs(const char *path);
/*
 * `image import`: builds the squashfs image out from the directory tree and
 * checks that it mounts: 0, or -1 with err (ENOTSUP: this process cannot
 * make or mount one; the caller imports a directory).
 */
int node_image_sqfs_make(const struct node_config *c, const char *tree, const char *out,
    struct cy_error *err);
/* Where this process mounts images: <staging_dir>/images/<pid>. */
void node_image_mount_init(const char *staging_dir);
/*
 * The daemon's start: can this node make and mount squashfs images?  0 when
 * it can; else -1, logged once (image_squashfs_unavailable) and reported.
 */
int node_image_mount_probe(const struct node_config *c);
/* What the probe found; *reason (when not NULL) says why not. */
bool node_image_mount_enforced(const char **reason);
/* The capability report's sandbox.images_private object. */
json_t *node_image_mount_json(void);
/*
 * Mounts the squashfs image file (once; jobs share it) and returns the
 * mount point (caller frees) with a hold on it in *h, or NULL with err.
 */
char *node_image_mount_acquire(const char *file, struct node_image_mount **h, struct cy_error *err);
/* Ends a hold (NULL: none); an unused mount of a replaced file is unmounted. */
void node_image_mount_release(struct node_image_mount *h);
/* The manager's tick: unmounts the unused mounts of removed or replaced files. */
void node_image_mount_prune(void);
/* Unmounts every image this process mounted (the end of a run). */
void node_image_mount_stop(void);
/*
 * At the daemon's start (like node_ws_quota_sweep): unmounts the images
 * node processes that no longer run left under <staging_dir>/images, and
 * what a probe that did not finish left in .probe-<pid>.
 */
void node_image_mount_sweep(const char *staging_dir);

/* metrics.c: the node's metrics families and scrape-time gauges. */
void node_metrics_init(struct node *n);
/* Counts a finished job: kind "sandbox" or "prompt", its result status. */
void node_metrics_job_finished(const char *kind, const char *status);

#endif
