/*
 * The sandbox runtime interface: a job spec in, a bounded result out, and a
 * small table of functions (probe, run, kill) so other runtimes (podman,
 * docker) can stand in for bubblewrap.
 */
#ifndef CY_NODE_SANDBOX_H
#define CY_NODE_SANDBOX_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>

#include "buf.h"
#include "error.h"

enum sandbox_status {
	SANDBOX_COMPLETED,
	SANDBOX_FAILED,
	SANDBOX_TIMEOUT,
	SANDBOX_CANCELED
};

/* Resource limits of one job; 0 = not limited. */
struct sb_limits {
	long long mem_mb;       /* cgroup memory (RLIMIT_AS when no memory cgroup) */
	long long pids;         /* cgroup pids (RLIMIT_NPROC when no pids cgroup) */
	long long cpu_milli;    /* cgroup CPU quota, in thousandths of a core */
	long long tmp_mb;       /* size of the private /tmp */
	long long workspace_mb; /* size of the /workspace tmpfs the node mounts (0: none) */
	long long nofile;       /* RLIMIT_NOFILE */
	long long fsize_mb;     /* RLIMIT_FSIZE */
};

struct sandbox_result;
struct job_log;

struct sandbox_job {
	const char *task_id;
	const char *job_id;
	long long array_index; /* its index in a job array, or -1 (0 is index 0 only when set) */
	bool is_array;         /* array_index is set */
	char **argv;           /* NULL-terminated */
	char **env;            /* the request's "KEY=VALUE", NULL-terminated, or NULL */
	/*
	 * The values of the job's secrets (in env too), NULL-terminated or
	 * NULL: masked in its output as it is read (lib/mask.c).
	 */
	const char *const *secrets;
	const char *image;   /* the image name (podman/docker pull it) */
	const char *rootfs;  /* bwrap: image directory, NULL = the host's /usr etc. */
	const char *job_dir; /* <mount_root>/<job_id>, with workspace/ and job/ */
	long long timeout_s;
	size_t max_output; /* per stream */
	struct sb_limits limits;
	bool share_net;      /* host network (only when policy allows it) */
	char **devices;      /* host device paths to bind, NULL-terminated, or NULL */
	struct job_log *log; /* the streamed logs (joblog.h), or NULL */
	/*
	 * The host directory holding the job's inference socket,
	 * bound at SANDBOX_INFERENCE_DIR (NULL: none), and a hook told the
	 * pid of the process the runtime started (the proxy's identity check).
	 */
	const char *inference_dir;
	/* An agent job: the host's cynode-sba, copied to SANDBOX_SBA_RUNNER (NULL: none). */
	const char *sba_runner;
	void (*on_start)(void *arg, pid_t pid);
	void *on_start_arg;
};

/* Where a job finds its inference socket (INFERENCE_PROXY_URL). */
#define SANDBOX_INFERENCE_DIR "/run/cynode"
/* Where an agent job's runner is (a copy in the job's own /job tmpfs). */
#define SANDBOX_SBA_RUNNER "/job/cynode-sba"
#define SANDBOX_INFERENCE_SOCK SANDBOX_INFERENCE_DIR "/inference.sock"

/*
 * What a job used (sandbox-usage.c): CPU time and peak memory from its
 * cgroup where the node has one, else from the launcher's rusage (which
 * counts the processes it reaped), and the wall time of the run.
 */
struct sb_usage {
	bool have_cpu, have_mem;
	long long user_usec, system_usec; /* CPU time, user and system */
	long long cpu_usec;               /* their sum, or cgroup's usage_usec */
	long long peak_bytes;             /* peak memory of the whole job */
	const char *cpu_src, *mem_src;    /* "cgroup_v2", "cgroup_v1" or "rusage" */
	long long wall_ms;
};
struct rusage;
struct sb_cgroup;
/* Fills what the job's cgroup c (may be NULL) says it used; then ru for the rest. */
void sb_usage_collect(struct sb_usage *u, const struct sb_cgroup *c, const struct rusage *ru);

/*
 * sandbox-reap.c: the node is the subreaper of bwrap's inside process (the
 * sandbox's PID 1, which outlives the outside one) and reaps it.
 */
void sb_reap_adopt(void);
/* The "child-pid" of bwrap's first --json-status-fd line, or -1. */
pid_t sb_reap_status_pid(const struct cy_buf *status);
/*
 * Reaps pid and adds its usage to *ru when not NULL: when wait, after up to
 * 100 ms if it is still exiting, else later (sb_reap_pending).
 */
void sb_reap_inner(pid_t pid, struct rusage *ru, bool wait);
/* Reaps the pids sb_reap_inner left that have exited since. */
void sb_reap_pending(void);
/* The result's "usage" object (Worker API), or NULL when nothing was measured. */
json_t *sb_usage_json(const struct sb_usage *u);

struct sandbox_result {
	enum sandbox_status status;
	int exit_code; /* -1 on timeout or launch failure */
	struct cy_buf out, err;
	bool trunc_out, trunc_err;
	bool oom;      /* killed by the memory limit */
	bool pids_hit; /* a fork failed at the pids limit */
	time_t started, ended;
	/* Wall-clock µs: the runtime's process forked, and reaped (0: unknown). */
	int64_t fork_us, exit_us;
	struct sb_usage usage; /* zero: not measured (other runtimes) */
};

struct sandbox_runtime {
	const char *name;
	/* 0 when sandboxes can run here, else -1 with the reason. */
	int (*probe)(const char *mount_root, struct cy_error *err);
	/* Runs the job to the end; -1 only for node errors (result then unset). */
	int (*run)(const struct sandbox_job *job, struct sandbox_result *res, struct cy_error *err);
	/* Kills a running job (cancel): result canceled; 0 when it was running. */
	int (*kill)(const char *job_id);
	/* Kills every running job (shutdown). */
	void (*kill_all)(void);
	/* Appends the isolation and limit features this runtime enforces here. */
	void (*features)(json_t *arr);
};

extern const struct sandbox_runtime sandbox_bwrap;
extern const struct sandbox_runtime sandbox_podman; /* sandbox-oci.c */
extern const struct sandbox_runtime sandbox_docker;

/* sandbox-cgroup.c: per-job cgroups (v2, else v1) for memory, pids and CPU. */
enum {
	SB_CG_MEMORY,
	SB_CG_PIDS,
	SB_CG_CPU,
	SB_CG_CPUACCT, /* v1 only, no limit: the job's CPU time (sandbox-usage.c) */
	SB_CG_N
};
struct sb_cgroup {
	int version;            /* 0 none, 1, 2 */
	char *dir[SB_CG_N];     /* v2: dir[0] only */
	int procs_fd[SB_CG_N];  /* v1 tasks, v2 cgroup.procs: written by the child */
	int dir_fd;             /* v2: the group's directory (O_PATH), for CLONE_INTO_CGROUP */
	unsigned enforced;      /* 1 << SB_CG_* limits set */
	long long lim[SB_CG_N]; /* v1: the limits written (bytes, pids, quota us); 0 none */
	unsigned slot;          /* v1: its number in the node's pool of idle groups */
};
/* Bitmask of 1 << SB_CG_* controllers the node can use; *version 0, 1 or 2. */
unsigned sb_cgroup_available(int *version);
/* Makes the job's cgroup(s) `name` with the limits; version 0 when none. */
int sb_cgroup_create(struct sb_cgroup *c, const char *name, const struct sb_limits *l,
    struct cy_error *err);
/* In the spawned child (sb_spawn's rules): joins the job's cgroups. */
void sb_cgroup_enter(const struct sb_cgroup *c);
/*
 * Starts a process that runs child(arg), which must exec or _exit: in the
 * cgroup whose directory is cgroup_fd (cgroup v2; clone3
 * CLONE_INTO_CGROUP) when cgroup_fd >= 0 and the kernel can, with *placed
 * true in both processes; otherwise (any refusal) with vfork(2), *placed
 * false, the caller's thread suspended until the child execs or exits.
 * The child may make only plain system calls, and shares the caller's
 * memory in the vfork case: it writes nothing but its own stack
 * (sandbox-spawn.c).  The child's pid, or -1.
 */
typedef void (*sb_child_fn)(const void *arg);
pid_t sb_spawn(int cgroup_fd, bool *placed, sb_child_fn child, const void *arg);
/* SIGKILLs everything in the job's cgroups. */
void sb_cgroup_kill(const struct sb_cgroup *c);
bool sb_cgroup_oom(const struct sb_cgroup *c);
bool sb_cgroup_pids_hit(const struct sb_cgroup *c);
/* Kills what is left, removes the cgroups and frees c's fields. */
void sb_cgroup_destroy(struct sb_cgroup *c);
/*
 * After the job: keeps the groups for another job when `reusable` (the job
 * ended by itself and hit no limit), the node keeps idle groups (cgroup
 * v1) and they empty within 100 ms, else sb_cgroup_destroy.  Frees c's
 * fields.
 */
void sb_cgroup_done(struct sb_cgroup *c, bool reusable);
/* Removes the idle groups sb_cgroup_done kept (the node stops). */
void sb_cgroup_pool_drain(void);
/* Removes the empty job groups of node processes that died; how many. */
int sb_cgroup_sweep(void);

/*
 * sandbox-etc.c: the host image's /etc, copied once into
 * <state_dir>/sandbox-etc.<pid>.<n> and bound with one mount per job.
 */
#define SB_ETC_FILE_MAX (4LL << 20)      /* larger files are skipped */
#define SB_ETC_TOTAL_MAX (32LL << 20)    /* a larger copy fails */
extern const char *const sb_etc_names[]; /* the entries, NULL-terminated */
struct sb_etc_gen;
/* Builds the first generation from src_root ("/etc"); -1 with err (no copy then). */
int sb_etc_start(const char *state_dir, const char *src_root, struct cy_error *err);
/* Rebuilds when the sources changed: 1 rebuilt, 0 unchanged, -1 with err (old kept). */
int sb_etc_refresh(struct cy_error *err);
/* The current generation with an O_PATH fd on it, held until released; NULL: none. */
struct sb_etc_gen *sb_etc_acquire(int *fd);
void sb_etc_release(struct sb_etc_gen *g);
const char *sb_etc_path(const struct sb_etc_gen *g);
/* Drops the current generation (removed once no job holds it). */
void sb_etc_stop(void);
/* For the unit test: the per-file and total byte limits. */
void sb_etc_set_limits(long long file_max, long long total_max);

/* An empty result: no output yet, status completed, exit code 0. */
void sandbox_result_init(struct sandbox_result *res);
void sandbox_result_release(struct sandbox_result *res);

/* Why the node stopped a sandbox. */
enum sb_killed {
	SB_KILLED_NONE,
	SB_KILLED_CANCEL,
	SB_KILLED_SHUTDOWN
};

/* A sandbox running now, listed so that cancel and shutdown find it. */
struct sb_running {
	struct sb_running *next;
	const char *runtime; /* the runtime's name */
	const char *job_id;
	pid_t pid;             /* the launcher, leader of its process group */
	struct sb_cgroup *cg;  /* the job's cgroup, or NULL */
	enum sb_killed killed; /* under the list's lock */
};
void sb_running_add(struct sb_running *r);
void sb_running_del(struct sb_running *r);
/* sandbox_collect's `killed` callback: has the node stopped r (a struct sb_running). */
bool sb_running_killed(void *r);
/*
 * Marks the runtime's runs of job_id (NULL: all of them) as stopped for
 * `how` (a first reason stays) and calls stop on each, all under the
 * list's lock; 0 when there was one.
 */
int sb_running_stop(const char *runtime, const char *job_id, enum sb_killed how,
    void (*stop)(struct sb_running *r));

/* How a run ended, as its runtime saw it. */
struct sb_outcome {
	bool timed_out;
	enum sb_killed killed;
	bool launch_failed; /* the command never ran (the runtime says why on stderr) */
	int exit_code;      /* the command's: 0-255, 128+N after signal N, -1 unknown */
	bool oom;           /* the memory cgroup killed it */
	bool pids_hit;      /* a fork failed at the pids cgroup limit */
	bool timeout_bare;  /* the timeout note without the seconds (podman, docker) */
};
/*
 * The result of a run that ended as o says: timeout, canceled or the node
 * shutting down (exit code -1 and a note on stderr), a launch failure
 * (failed, -1), else the command's exit code (failed unless 0); then out
 * of memory (failed, 137 instead of 0, a note) and the pids limit (a note).
 */
void sandbox_finish(struct sandbox_result *res, const struct sb_outcome *o,
    const struct sandbox_job *job);
/*
 * Reads the job's stdout and stderr (each masked of the `secrets` values,
 * NULL-terminated or NULL, then capped at max while reading in the result,
 * and whole to `log` when not NULL) and a status pipe (st_r, or -1) until
 * all close.  Calls kill_now(arg) at the timeout; once killed(arg) or the
 * timeout, waits at most 5 s more.  Returns true when the timeout fired.
 */
bool sandbox_collect(int out_r, int err_r, int st_r, long long timeout_s, size_t max,
    const char *const *secrets, struct sandbox_result *res, struct cy_buf *status,
    bool (*killed)(void *), void (*kill_now)(void *), void *arg, struct job_log *log);
/*
 * Appends the node's note (why it stopped the job) to stderr, kept within
 * job->max_output, and to the job's streamed stderr.
 */
void sandbox_note(struct sandbox_result *res, const struct sandbox_job *job, const char *msg);
/* Cuts b to at most max bytes at a UTF-8 boundary and replaces invalid bytes with U+FFFD. */
void sandbox_utf8_clean(struct cy_buf *b, size_t max);

/*
 * netns-pool.c: network namespaces made ahead for jobs without network
 * (root only; `size` of them ready).  take: an fd to setns(2) into and
 * close, or -1 (bwrap then makes one).  counts: taken from the pool, and
 * launches that found it empty.
 */
void netns_pool_start(int size);
int netns_pool_take(void);
void netns_pool_counts(long long *taken, long long *missed);
void netns_pool_stop(void);

#endif
