/*
 * The sandbox plan (sandbox-plan.h): what every job's sandbox is, whatever
 * runs it.  In order: every namespace unshared (the host network only when
 * the policy allowed it), death with the node, a session of its own, the
 * unprivileged sandbox uid, hostname "sandbox"; a read-only root (the
 * host's /usr, /bin, /lib... and the node's prepared /etc, or an image
 * directory's top-level entries; for podman and docker the OCI image), a
 * new /proc and /dev, the job's devices, a private size-limited /tmp,
 * writable /workspace and /job, the job's inference socket directory at
 * /run/cynode, a private /dev/shm, then /dev and / read-only; /workspace
 * as working directory; a cleared environment holding only a fixed PATH,
 * HOME, the job's variables and the node's own; no capabilities,
 * no_new_privs, the seccomp filter; rlimits and cgroup limits; the
 * command.  sb_plan_validate checks the whole list before a runtime
 * renders any of it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "inference-proxy.h"
#include "jobenv.h"
#include "node.h"
#include "sandbox-plan.h"
#include "banned.h"

static const char *const op_names[SB_OP_N] = {
	[SB_OP_NAMESPACES] = "namespaces",
	[SB_OP_DIE_WITH_PARENT] = "die-with-parent",
	[SB_OP_NEW_SESSION] = "new-session",
	[SB_OP_USER] = "user",
	[SB_OP_HOSTNAME] = "hostname",
	[SB_OP_BIND_RO] = "bind-ro",
	[SB_OP_BIND_RO_TRY] = "bind-ro-try",
	[SB_OP_BIND_RW] = "bind-rw",
	[SB_OP_DEV_BIND] = "dev-bind",
	[SB_OP_SYMLINK] = "symlink",
	[SB_OP_PROC] = "proc",
	[SB_OP_DEV] = "dev",
	[SB_OP_TMPFS] = "tmpfs",
	[SB_OP_DIR] = "dir",
	[SB_OP_FILE] = "file",
	[SB_OP_REMOUNT_RO] = "remount-ro",
	[SB_OP_CHDIR] = "chdir",
	[SB_OP_CLEARENV] = "clearenv",
	[SB_OP_SETENV] = "setenv",
	[SB_OP_CAP_DROP_ALL] = "cap-drop-all",
	[SB_OP_NO_NEW_PRIVS] = "no-new-privs",
	[SB_OP_SECCOMP] = "seccomp",
	[SB_OP_RLIMIT] = "rlimit",
	[SB_OP_CGROUP] = "cgroup",
	[SB_OP_EXEC] = "exec",
};

const char *
sb_op_name(enum sb_op_type t)
{
	return t < SB_OP_N ? op_names[t] : "unknown";
}

/* --- building ----------------------------------------------------------- */

void
sb_plan_init(struct sb_plan *p, const struct sandbox_job *job, const struct sb_plan_opts *o)
{
	int i;

	memset(p, 0, sizeof(*p));
	p->job = job;
	p->runtime = o->runtime;
	p->image_root = o->image_root;
	p->binds_by_fd = o->binds_by_fd;
	p->copies_files = o->copies_files;
	for (i = 0; i < SB_FD_N; i++)
		p->fds[i] = -1;
}

struct sb_op *
sb_plan_add(struct sb_plan *p, enum sb_op_type t, const char *source, const char *dest)
{
	struct sb_op *op;

	if (p->n == p->alloc) {
		p->alloc = p->alloc ? p->alloc * 2 : 64;
		p->ops = xreallocarray(p->ops, p->alloc, sizeof(*p->ops));
	}
	op = &p->ops[p->n++];
	memset(op, 0, sizeof(*op));
	op->type = t;
	op->source = source ? xstrdup(source) : NULL;
	op->dest = dest ? xstrdup(dest) : NULL;
	op->fd = -1;
	return op;
}

const struct sb_op *
sb_plan_find(const struct sb_plan *p, enum sb_op_type t)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (p->ops[i].type == t)
			return &p->ops[i];
	return NULL;
}

void
sb_plan_cgroup_limits(const struct sb_plan *p, struct sb_limits *l)
{
	size_t i;

	memset(l, 0, sizeof(*l));
	for (i = 0; i < p->n; i++) {
		const struct sb_op *op = &p->ops[i];

		if (op->type != SB_OP_CGROUP)
			continue;
		if (op->resource == SB_CG_MEMORY)
			l->mem_mb = op->value;
		else if (op->resource == SB_CG_PIDS)
			l->pids = op->value;
		else if (op->resource == SB_CG_CPU)
			l->cpu_milli = op->value;
	}
}

/* Mirrors one top-level entry of `root` at /name: symlink, directory or file. */
static void
plan_root_entry(struct sb_plan *p, const char *root, const char *name)
{
	char src[4096], target[4096], dst[512];
	struct stat st;
	ssize_t n;

	if (cy_snprintf(src, sizeof(src), "%s/%s", strcmp(root, "/") ? root : "", name) < 0 ||
	    cy_snprintf(dst, sizeof(dst), "/%s", name) < 0)
		return;
	if (lstat(src, &st) < 0)
		return;
	if (S_ISLNK(st.st_mode)) {
		n = readlink(src, target, sizeof(target) - 1);
		if (n <= 0)
			return;
		target[n] = '\0';
		sb_plan_add(p, SB_OP_SYMLINK, target, dst);
	} else if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) {
		sb_plan_add(p, SB_OP_BIND_RO, src, dst);
	}
}

/*
 * The host image: system directories and the few /etc entries programs
 * need, as one bind of the prepared copy (sandbox-etc.c, held by the plan
 * while the job runs: the bind shares the copy's inodes), or when there is
 * none (it could not be built) one bind per entry.
 */
static void
plan_host_root(struct sb_plan *p)
{
	static const char *const dirs[] = { "usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32",
		NULL };
	char path[256];
	size_t i;
	int fd;

	for (i = 0; dirs[i]; i++)
		plan_root_entry(p, "/", dirs[i]);
	p->etc = sb_etc_acquire(&fd);
	if (p->etc) {
		p->fds[SB_FD_ETC] = fd;
		sb_plan_add(p, SB_OP_BIND_RO, sb_etc_path(p->etc), "/etc")->fd = SB_FD_ETC;
		return;
	}
	for (i = 0; sb_etc_names[i]; i++) {
		xsnprintf(path, sizeof(path), "/etc/%s", sb_etc_names[i]);
		sb_plan_add(p, SB_OP_BIND_RO_TRY, path, path);
	}
}

/* An image directory: every top-level entry but the ones the sandbox provides. */
static int
plan_image_root(struct sb_plan *p, const char *dir, struct cy_error *err)
{
	static const char *const skip[] = { ".", "..", "proc", "dev", "tmp", "workspace", "job",
		"sys", NULL };
	struct dirent *de;
	DIR *d;
	size_t i;

	d = opendir(dir);
	if (!d)
		return cy_error_errno(err, "image directory '%s'", dir);
	while ((de = readdir(d))) {
		for (i = 0; skip[i]; i++)
			if (!strcmp(de->d_name, skip[i]))
				break;
		if (!skip[i])
			plan_root_entry(p, dir, de->d_name);
	}
	closedir(d);
	return 0;
}

/*
 * A writable bind of the host directory src at dst: by path, or opened
 * here (O_PATH, no symlink at the end) and handed over at launcher fd `fd`,
 * so that an unprivileged launcher needs no path to it.  `what` and `shown`
 * name it in the error.
 */
static int
plan_bind_rw(struct sb_plan *p, const char *src, const char *dst, int fd, const char *what,
    const char *shown, struct cy_error *err)
{
	if (p->binds_by_fd) {
		p->fds[fd] = open(src, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (p->fds[fd] < 0)
			return cy_error_errno(err, "opening %s '%s'", what, shown);
	} else {
		fd = -1;
	}
	sb_plan_add(p, SB_OP_BIND_RW, src, dst)->fd = fd;
	return 0;
}

/* A tmpfs of size_mb (0: no limit) at dst, writable by all, sticky. */
static void
plan_tmpfs(struct sb_plan *p, const char *dst, long long size_mb)
{
	struct sb_op *op = sb_plan_add(p, SB_OP_TMPFS, NULL, dst);

	op->value = size_mb;
	op->perms = 01777;
}

/*
 * /job: where the runtime copies files in, a tmpfs of the sandbox's own
 * with a copy of job.json (what the job writes there dies with it, and no
 * host path shows in its mountinfo); else the host's <job_dir>/job bound.
 */
static int
plan_job_dir(struct sb_plan *p, const struct sandbox_job *job, struct cy_error *err)
{
	char path[4096];
	struct sb_op *op;
	struct stat st;
	off_t need;

	if (cy_snprintf(path, sizeof(path), "%s/job", job->job_dir) < 0)
		return cy_error_set(err, ENAMETOOLONG, "the job directory path is too long");
	if (!p->copies_files)
		return plan_bind_rw(p, path, "/job", SB_FD_JOB, "the job directory", job->job_dir,
		    err);
	xsnprintf(path, sizeof(path), "%s/job/job.json", job->job_dir);
	p->fds[SB_FD_JOB_JSON] = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	/* The runtime's probe runs a job without one: an empty /job. */
	if (p->fds[SB_FD_JOB_JSON] < 0 && errno == ENOENT) {
		op = sb_plan_add(p, SB_OP_TMPFS, NULL, "/job");
		op->value = 1;
		op->perms = 0755;
		return 0;
	}
	if (p->fds[SB_FD_JOB_JSON] < 0 || fstat(p->fds[SB_FD_JOB_JSON], &st) < 0)
		return cy_error_errno(err, "opening the job's job.json in '%s'", job->job_dir);
	need = st.st_size;
	if (job->sba_runner) {
		p->fds[SB_FD_SBA] = open(job->sba_runner, O_RDONLY | O_CLOEXEC);
		if (p->fds[SB_FD_SBA] < 0 || fstat(p->fds[SB_FD_SBA], &st) < 0)
			return cy_error_errno(err, "opening the agent runner '%s'",
			    job->sba_runner);
		need += st.st_size;
	}
	/* As large as /tmp (the job's memory bounds both), and what it holds must fit. */
	op = sb_plan_add(p, SB_OP_TMPFS, NULL, "/job");
	op->value = job->limits.tmp_mb;
	if (op->value > 0 && op->value < need / (1024 * 1024) + 1)
		op->value = need / (1024 * 1024) + 1;
	op->perms = 0755;
	op = sb_plan_add(p, SB_OP_FILE, NULL, "/job/job.json");
	op->fd = SB_FD_JOB_JSON;
	op->perms = 0644;
	if (job->sba_runner) {
		op = sb_plan_add(p, SB_OP_FILE, NULL, SANDBOX_SBA_RUNNER);
		op->fd = SB_FD_SBA;
		op->perms = 0555;
	}
	return 0;
}

/*
 * The job's file system over the root: /proc, /dev and its devices, /tmp,
 * /workspace and /job, the inference socket and nothing else of the host's
 * /run, a private /dev/shm; then nothing outside the job's mounts stays
 * writable.
 */
static int
plan_job_mounts(struct sb_plan *p, const struct sandbox_job *job, struct cy_error *err)
{
	char path[4096];
	size_t i;

	sb_plan_add(p, SB_OP_PROC, NULL, "/proc");
	sb_plan_add(p, SB_OP_DEV, NULL, "/dev");
	for (i = 0; job->devices && job->devices[i]; i++)
		sb_plan_add(p, SB_OP_DEV_BIND, job->devices[i], job->devices[i]);
	plan_tmpfs(p, "/tmp", job->limits.tmp_mb);
	if (cy_snprintf(path, sizeof(path), "%s/workspace", job->job_dir) < 0)
		return cy_error_set(err, ENAMETOOLONG, "the job directory path is too long");
	if (plan_bind_rw(p, path, "/workspace", SB_FD_WORKSPACE, "the job directory", job->job_dir,
		err) < 0)
		return -1;
	if (plan_job_dir(p, job, err) < 0)
		return -1;
	if (job->inference_dir) {
		sb_plan_add(p, SB_OP_DIR, NULL, "/run");
		if (plan_bind_rw(p, job->inference_dir, SANDBOX_INFERENCE_DIR, SB_FD_INFERENCE,
			"the inference socket directory", job->inference_dir, err) < 0)
			return -1;
	}
	plan_tmpfs(p, "/dev/shm", job->limits.tmp_mb);
	sb_plan_add(p, SB_OP_REMOUNT_RO, NULL, "/dev");
	sb_plan_add(p, SB_OP_REMOUNT_RO, NULL, "/");
	return 0;
}

/*
 * The environment: cleared, then a fixed PATH, HOME, the job's variables
 * and the node's own, which a job never sets.
 */
static void
plan_env(struct sb_plan *p, const struct sandbox_job *job)
{
	static const char *const node_vars[] = { "CYNODE_TASK_ID", "CYNODE_JOB_ID",
		"CYNODE_WORKSPACE_DIR", "INFERENCE_PROXY_URL", "CYNODE_ARRAY_INDEX",
		"CYNODE_ARRAY_TASK_ID", NULL };
	char idx[24];
	size_t i, k;

	sb_plan_add(p, SB_OP_CLEARENV, NULL, NULL);
	sb_plan_add(p, SB_OP_SETENV, "PATH", "/usr/local/bin:/usr/bin:/bin");
	sb_plan_add(p, SB_OP_SETENV, "HOME", "/workspace");
	for (i = 0; job->env && job->env[i]; i++) {
		const char *eq = strchr(job->env[i], '=');
		char *name;

		if (!eq)
			continue;
		name = xstrndup(job->env[i], (size_t)(eq - job->env[i]));
		for (k = 0; node_vars[k] && strcmp(name, node_vars[k]); k++)
			;
		if (!node_vars[k])
			sb_plan_add(p, SB_OP_SETENV, name, eq + 1);
		free(name);
	}
	sb_plan_add(p, SB_OP_SETENV, "CYNODE_TASK_ID", job->task_id);
	sb_plan_add(p, SB_OP_SETENV, "CYNODE_JOB_ID", job->job_id);
	sb_plan_add(p, SB_OP_SETENV, "CYNODE_WORKSPACE_DIR", "/workspace");
	if (job->is_array) {
		xsnprintf(idx, sizeof(idx), "%lld", job->array_index);
		sb_plan_add(p, SB_OP_SETENV, "CYNODE_ARRAY_INDEX", idx);
		sb_plan_add(p, SB_OP_SETENV, "CYNODE_ARRAY_TASK_ID", job->task_id);
	}
	if (job->inference_dir)
		sb_plan_add(p, SB_OP_SETENV, "INFERENCE_PROXY_URL", INFERENCE_PROXY_URL);
}

/* Appends a limit operation of type t on resource. */
static void
plan_limit(struct sb_plan *p, enum sb_op_type t, int resource, long long value)
{
	struct sb_op *op = sb_plan_add(p, t, NULL, NULL);

	op->resource = resource;
	op->value = value;
}

/*
 * rlimits always (no core dumps; open files and file size when set) and
 * cgroup limits where set; the runtime decides what stands in for a
 * cgroup the host does not give it.
 */
static void
plan_limits(struct sb_plan *p, const struct sb_limits *l)
{
	plan_limit(p, SB_OP_RLIMIT, RLIMIT_CORE, 0);
	if (l->nofile > 0)
		plan_limit(p, SB_OP_RLIMIT, RLIMIT_NOFILE, l->nofile);
	if (l->fsize_mb > 0)
		plan_limit(p, SB_OP_RLIMIT, RLIMIT_FSIZE, l->fsize_mb * 1024 * 1024);
	if (l->mem_mb > 0)
		plan_limit(p, SB_OP_CGROUP, SB_CG_MEMORY, l->mem_mb);
	if (l->pids > 0)
		plan_limit(p, SB_OP_CGROUP, SB_CG_PIDS, l->pids);
	if (l->cpu_milli > 0)
		plan_limit(p, SB_OP_CGROUP, SB_CG_CPU, l->cpu_milli);
}

/* Copies a NULL-terminated vector. */
static char **
strv_dup(char **v)
{
	size_t n = 0, i;
	char **out;

	while (v && v[n])
		n++;
	out = xcalloc(n + 1, sizeof(*out));
	for (i = 0; i < n; i++)
		out[i] = xstrdup(v[i]);
	return out;
}

int
sb_plan_build(struct sb_plan *p, struct cy_error *err)
{
	const struct sandbox_job *job = p->job;
	struct sb_op *op;

	sb_plan_add(p, SB_OP_NAMESPACES, NULL, NULL)->value = job->share_net;
	sb_plan_add(p, SB_OP_DIE_WITH_PARENT, NULL, NULL);
	sb_plan_add(p, SB_OP_NEW_SESSION, NULL, NULL);
	op = sb_plan_add(p, SB_OP_USER, NULL, NULL);
	op->uid = NODE_SANDBOX_UID;
	op->gid = NODE_SANDBOX_UID;
	sb_plan_add(p, SB_OP_HOSTNAME, NULL, "sandbox");
	if (!p->image_root) {
		if (job->rootfs) {
			if (plan_image_root(p, job->rootfs, err) < 0)
				return -1;
		} else {
			plan_host_root(p);
		}
	}
	if (plan_job_mounts(p, job, err) < 0)
		return -1;
	sb_plan_add(p, SB_OP_CHDIR, NULL, "/workspace");
	plan_env(p, job);
	sb_plan_add(p, SB_OP_CAP_DROP_ALL, NULL, NULL);
	sb_plan_add(p, SB_OP_NO_NEW_PRIVS, NULL, NULL);
	sb_plan_add(p, SB_OP_SECCOMP, NULL, NULL)->fd = SB_FD_SECCOMP;
	plan_limits(p, &job->limits);
	sb_plan_add(p, SB_OP_EXEC, NULL, NULL)->argv = strv_dup(job->argv);
	return sb_plan_validate(p, err);
}

void
sb_plan_release(struct sb_plan *p)
{
	size_t i;
	char **v;

	for (i = 0; i < p->n; i++) {
		free(p->ops[i].source);
		free(p->ops[i].dest);
		for (v = p->ops[i].argv; v && *v; v++)
			free(*v);
		free(p->ops[i].argv);
	}
	free(p->ops);
	for (i = 0; i < SB_FD_N; i++)
		if (p->fds[i] >= 0)
			close(p->fds[i]);
	sb_etc_release(p->etc);
	memset(p, 0, sizeof(*p));
	for (i = 0; i < SB_FD_N; i++)
		p->fds[i] = -1;
}

/* --- validation --------------------------------------------------------- */

/* An absolute path without a ".." component. */
static bool
path_ok(const char *s)
{
	const char *c;

	if (!s || s[0] != '/')
		return false;
	for (c = s; (c = strstr(c, "/..")); c += 3)
		if (c[3] == '/' || c[3] == '\0')
			return false;
	return true;
}

static bool
op_mounts(enum sb_op_type t)
{
	return t == SB_OP_BIND_RO || t == SB_OP_BIND_RO_TRY || t == SB_OP_BIND_RW ||
	       t == SB_OP_DEV_BIND || t == SB_OP_SYMLINK || t == SB_OP_PROC || t == SB_OP_DEV ||
	       t == SB_OP_TMPFS || t == SB_OP_DIR || t == SB_OP_FILE;
}

/* What is wrong with op on its own, or NULL. */
static const char *
op_fault(const struct sb_op *op)
{
	if (op->type >= SB_OP_N)
		return "has no known type";
	if (op->fd < -1 || op->fd >= SB_FD_N)
		return "names a launcher fd out of range";
	if (op_mounts(op->type) || op->type == SB_OP_REMOUNT_RO || op->type == SB_OP_CHDIR) {
		if (!path_ok(op->dest))
			return "needs an absolute destination without '..'";
	}
	switch (op->type) {
	case SB_OP_BIND_RO:
	case SB_OP_BIND_RO_TRY:
	case SB_OP_BIND_RW:
		if (op->fd < 0 ? !op->source || op->source[0] != '/' : op->fd <= SB_FD_STATUS)
			return "needs an absolute source or a launcher fd";
		break;
	case SB_OP_DEV_BIND:
		if (strncmp(op->dest, "/dev/", 5) || !path_ok(op->source))
			return "needs a device under /dev/";
		break;
	case SB_OP_SYMLINK:
		if (!op->source || !*op->source)
			return "needs a target";
		break;
	case SB_OP_TMPFS:
		if (op->value < 0 || op->perms > 07777)
			return "needs a size >= 0 and a mode";
		break;
	case SB_OP_FILE:
		if (op->fd <= SB_FD_STATUS || op->perms > 07777)
			return "needs a launcher fd and a mode";
		break;
	case SB_OP_HOSTNAME:
		if (!op->dest || !*op->dest || strlen(op->dest) > 64)
			return "needs a name of 1-64 characters";
		break;
	case SB_OP_SETENV:
		if (!cy_env_name_valid(op->source) || !op->dest)
			return "needs a valid variable name and a value";
		break;
	case SB_OP_SECCOMP:
		if (op->fd <= SB_FD_STATUS)
			return "needs a launcher fd";
		break;
	case SB_OP_RLIMIT:
		if (op->resource < 0 || op->resource >= RLIMIT_NLIMITS || op->value < 0)
			return "needs a resource and a limit >= 0";
		break;
	case SB_OP_CGROUP:
		if (op->resource < 0 || op->resource >= SB_CG_N || op->value <= 0)
			return "needs a controller and a limit > 0";
		break;
	case SB_OP_EXEC:
		if (!op->argv || !op->argv[0] || !*op->argv[0])
			return "needs a command";
		break;
	default:
		break;
	}
	return NULL;
}

/* What validation has seen of the plan so far. */
struct plan_walk {
	unsigned seen[SB_OP_N]; /* operations of each type */
	bool root_ro;           /* / is read-only */
	unsigned fds;           /* 1 << launcher fds in use */
};

/* What is wrong with op where it stands (last: at the end of the plan), or NULL. */
static const char *
op_order_fault(const struct sb_op *op, bool last, const struct plan_walk *w)
{
	static const enum sb_op_type once[] = { SB_OP_NAMESPACES, SB_OP_USER, SB_OP_HOSTNAME,
		SB_OP_CHDIR, SB_OP_CLEARENV, SB_OP_SECCOMP, SB_OP_EXEC };
	size_t k;

	for (k = 0; k < sizeof(once) / sizeof(once[0]); k++)
		if (op->type == once[k] && w->seen[op->type])
			return "appears twice";
	if (op->type == SB_OP_EXEC && !last)
		return "is not the last operation";
	if (op->type == SB_OP_SETENV && !w->seen[SB_OP_CLEARENV])
		return "comes before the environment is cleared";
	if (op_mounts(op->type) && w->root_ro)
		return "mounts on the root after it became read-only";
	if (op->fd >= 0 && (w->fds & (1u << op->fd)))
		return "uses a launcher fd another operation uses";
	return NULL;
}

int
sb_plan_validate(const struct sb_plan *p, struct cy_error *err)
{
	static const enum sb_op_type needed[] = { SB_OP_NAMESPACES, SB_OP_USER, SB_OP_CLEARENV,
		SB_OP_CAP_DROP_ALL, SB_OP_NO_NEW_PRIVS, SB_OP_SECCOMP, SB_OP_EXEC };
	struct plan_walk w = { .root_ro = false };
	const struct sb_op *op;
	const char *why;
	size_t i;

	for (i = 0; i < p->n; i++) {
		op = &p->ops[i];
		why = op_fault(op);
		if (!why)
			why = op_order_fault(op, i + 1 == p->n, &w);
		if (why)
			return cy_error_set(err, EINVAL, "sandbox plan: operation %zu (%s) %s",
			    i + 1, sb_op_name(op->type), why);
		w.seen[op->type]++;
		w.root_ro |= op->type == SB_OP_REMOUNT_RO && !strcmp(op->dest, "/");
		if (op->fd >= 0)
			w.fds |= 1u << op->fd;
	}
	for (i = 0; i < sizeof(needed) / sizeof(needed[0]); i++)
		if (!w.seen[needed[i]])
			return cy_error_set(err, EINVAL, "sandbox plan: no %s operation",
			    sb_op_name(needed[i]));
	if (p->image_root && (!p->job->image || !strcmp(p->job->image, "host")))
		return cy_error_set(err, EINVAL, "the %s runtime needs an OCI image", p->runtime);
	return 0;
}

/* --- argument vectors --------------------------------------------------- */

/* Appends s (owned) to a. */
static void
argv_push(struct sb_argv *a, char *s)
{
	if (a->n + 2 > a->alloc) {
		a->alloc = a->alloc ? a->alloc * 2 : 64;
		a->v = xreallocarray(a->v, a->alloc, sizeof(*a->v));
	}
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

void
sb_argv_add(struct sb_argv *a, ...)
{
	const char *s;
	va_list ap;

	va_start(ap, a);
	while ((s = va_arg(ap, const char *)))
		argv_push(a, xstrdup(s));
	va_end(ap);
}

void
sb_argv_addf(struct sb_argv *a, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort(); /* out of memory, as xasprintf */
	va_end(ap);
	argv_push(a, s);
}

void
sb_argv_release(struct sb_argv *a)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	a->v = NULL;
	a->n = a->alloc = 0;
}
