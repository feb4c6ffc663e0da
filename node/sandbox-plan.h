/*
 * The sandbox plan: one job's sandbox as an ordered list of typed
 * operations (namespaces, user, mounts, environment, limits, seccomp and
 * the command), built from a struct sandbox_job and validated as a whole
 * before anything runs, like bubblewrap's SetupOp list.  A runtime only
 * renders the plan: bwrap into its argument list (sandbox-bwrap.c), podman
 * and docker into `run` flags (sandbox-oci.c).  Where a runtime renders an
 * operation as nothing (the engine does it itself, or cannot), its renderer
 * says so.
 */
#ifndef CY_NODE_SANDBOX_PLAN_H
#define CY_NODE_SANDBOX_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"
#include "sandbox.h"

/*
 * The launcher's fd layout: where the runtime puts the status pipe, the
 * seccomp filter, its argument file and the sources of the plan's fd binds
 * before it execs the launcher.  Operations name these numbers.
 */
enum sb_fd {
	SB_FD_STATUS = 3,
	SB_FD_WORKSPACE,
	SB_FD_JOB,
	SB_FD_SECCOMP,
	SB_FD_ARGS,
	SB_FD_ETC,
	SB_FD_INFERENCE,
	SB_FD_JOB_JSON,
	SB_FD_SBA,
	SB_FD_N
};

/* SB_OP_NAMESPACES's value: what network the sandbox has. */
enum {
	SB_NET_OWN = 0,   /* a new, empty namespace (the runtime makes it) */
	SB_NET_HOST = 1,  /* the host's (network: host) */
	SB_NET_POOLED = 2 /* a new, empty one made ahead, entered by the launcher */
};

/* The operations, in the words of the fields of struct sb_op they use. */
enum sb_op_type {
	SB_OP_NAMESPACES,      /* new user, pid, mount, ipc, uts, net ns; value: SB_NET_* */
	SB_OP_DIE_WITH_PARENT, /* the sandbox dies with the node */
	SB_OP_NEW_SESSION,     /* a session of its own (no terminal to push input into) */
	SB_OP_USER,            /* uid, gid */
	SB_OP_HOSTNAME,        /* dest */
	SB_OP_BIND_RO,         /* source (at fd when >= 0) bound read-only at dest */
	SB_OP_BIND_RO_TRY,     /* the same, skipped when source is missing */
	SB_OP_BIND_RW,         /* source (at fd when >= 0) bound writable at dest */
	SB_OP_DEV_BIND,        /* the host device source at dest */
	SB_OP_SYMLINK,         /* dest, a symlink to source */
	SB_OP_PROC,            /* a new /proc at dest */
	SB_OP_DEV,             /* a minimal /dev at dest */
	SB_OP_TMPFS,           /* a tmpfs at dest: value MB (0: no limit), perms */
	SB_OP_DIR,             /* an empty directory at dest */
	SB_OP_FILE,            /* a new file at dest holding what fd reads, mode perms */
	SB_OP_REMOUNT_RO,      /* the mount at dest becomes read-only */
	SB_OP_CHDIR,           /* the command starts in dest */
	SB_OP_CLEARENV,        /* the environment starts empty */
	SB_OP_SETENV,          /* the variable source gets the value dest */
	SB_OP_CAP_DROP_ALL,    /* no capabilities */
	SB_OP_NO_NEW_PRIVS,    /* no_new_privs */
	SB_OP_SECCOMP,         /* the node's seccomp filter, at fd */
	SB_OP_RLIMIT,          /* resource (RLIMIT_*) set to value */
	SB_OP_CGROUP,          /* resource (SB_CG_*) limited to value: MB, tasks, core/1000 */
	SB_OP_EXEC,            /* argv */
	SB_OP_N
};

struct sb_op {
	enum sb_op_type type;
	char *source; /* bind source, symlink target, variable name (owned) */
	char *dest;   /* path in the sandbox, hostname, variable value (owned) */
	int fd;       /* binds: the launcher fd of the source, else -1; seccomp */
	int resource; /* RLIMIT_* or SB_CG_* */
	long long value;
	unsigned perms;
	uid_t uid;
	gid_t gid;
	char **argv; /* NULL-terminated (owned) */
};

struct sb_plan {
	struct sb_op *ops;
	size_t n, alloc;
	const struct sandbox_job *job; /* ids, image, timeout and output cap (borrowed) */
	const char *runtime;           /* names the runtime in errors */
	bool image_root;               /* the root comes from job->image */
	bool binds_by_fd;              /* bind sources are opened and passed as fds */
	bool copies_files;             /* SB_OP_FILE: the runtime copies a file in (bwrap) */
	int fds[SB_FD_N];              /* what the plan opened, by launcher fd; -1: nothing */
	struct sb_etc_gen *etc;        /* the prepared /etc, held until released */
};

/* How a runtime takes the plan. */
struct sb_plan_opts {
	const char *runtime; /* its name, for errors */
	bool image_root;     /* the engine makes the root from job->image (podman, docker) */
	bool binds_by_fd;    /* bind sources are opened here and handed over as fds (bwrap) */
	/*
	 * The runtime can copy a file into the sandbox (bwrap --file): /job is
	 * then a tmpfs of the sandbox's own holding a copy of job.json, so no
	 * host path shows in the job's /proc/self/mountinfo.
	 */
	bool copies_files;
};

/* An empty plan for job, for a runtime taking it as o says; released by sb_plan_release. */
void sb_plan_init(struct sb_plan *p, const struct sandbox_job *job, const struct sb_plan_opts *o);
/* Appends the job's operations to the empty plan p and validates them: 0, or -1 with err. */
int sb_plan_build(struct sb_plan *p, struct cy_error *err);
/* Checks every operation and their order: 0, or -1 with err naming the first fault. */
int sb_plan_validate(const struct sb_plan *p, struct cy_error *err);
/* Closes what the plan opened, drops its /etc and frees its operations. */
void sb_plan_release(struct sb_plan *p);
/*
 * Appends an operation of type t with copies of source and dest (either may
 * be NULL) and fd -1; returns it, valid until the next append, for the
 * other fields.
 */
struct sb_op *sb_plan_add(struct sb_plan *p, enum sb_op_type t, const char *source,
    const char *dest);
/* The first operation of type t, or NULL. */
const struct sb_op *sb_plan_find(const struct sb_plan *p, enum sb_op_type t);
/* The cgroup limits of the plan, for sb_cgroup_create (other fields 0). */
void sb_plan_cgroup_limits(const struct sb_plan *p, struct sb_limits *l);
/* The operation's name in messages ("bind-rw"). */
const char *sb_op_name(enum sb_op_type t);

/* An argument vector under construction: v NULL-terminated once anything is added. */
struct sb_argv {
	char **v;
	size_t n, alloc;
};
/* clang-format off */
#define SB_ARGV_INIT { .v = NULL, .n = 0, .alloc = 0 }
/* clang-format on */
/* Appends copies of the strings up to NULL. */
void sb_argv_add(struct sb_argv *a, ...) __attribute__((sentinel));
/* Appends one formatted string. */
void sb_argv_addf(struct sb_argv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_argv_release(struct sb_argv *a);

/* bwrap's options for --args, NUL-separated strings in this order (sandbox-bwrap.c). */
void sb_render_bwrap(const struct sb_plan *p, struct sb_argv *args);
/*
 * `bin run ...` for podman or docker with the environment the client gets
 * (sandbox-oci.c); nproc_max > 0 caps the engine's default process limit.
 */
void sb_render_oci(const struct sb_plan *p, const char *bin, long long nproc_max,
    struct sb_argv *argv, struct sb_argv *envp);

#endif
