/*
 * The bubblewrap sandbox runtime.  A job runs as `bwrap` with every
 * namespace unshared (user, PID, mount, IPC, UTS, network: only lo), an
 * unprivileged uid (bwrap itself is started as uid 65534 when the node runs
 * as root), a read-only root made of the host's /usr, /bin, /lib... plus
 * the node's prepared copy of a few /etc entries bound at /etc from an fd
 * (image "host", sandbox-etc.c) or of an image directory's top-level
 * entries, a private size-limited /tmp, /proc and /dev, writable /workspace
 * and /job bound from already opened directory fds (so the unprivileged uid
 * needs no path to them), a cleared environment, no capabilities,
 * no_new_privs, no further user namespaces, a libseccomp filter,
 * die-with-parent and a new session.  bwrap reads its arguments from a
 * memfd (--args), so the sandbox's /proc/1/cmdline shows no host paths.
 *
 * Limits: rlimits always (open files, file size, no core dumps; address
 * space and process count only as fallbacks where no cgroup controller is
 * available), and a per-job cgroup for memory, pids and CPU where the host
 * allows (sandbox-cgroup.c); the child joins it before it execs bwrap.
 *
 * stdout and stderr come back through pipes read with poll(2) and capped
 * while reading; bwrap's --json-status-fd tells a launch failure from the
 * command's own exit status.  Timeouts and cancels SIGKILL bwrap's process
 * group and everything in the job's cgroup; the sandbox's PID namespace
 * takes every child down with it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "fsutil.h"
#include "sandbox.h"
#include "timeutil.h"
#include "banned.h"

#define BWRAP_PATH "/usr/bin/bwrap"
#define SB_UID "65534"
#define SB_UID_N 65534

/* Fixed fd numbers in the child, right before exec. */
#define FD_STATUS 3
#define FD_WS 4
#define FD_JOB 5
#define FD_SECCOMP 6
#define FD_ARGS 7
#define FD_ETC 8	/* the prepared /etc (host image), else closed */
#define FD_INF 9	/* the job's inference socket directory, else closed */
#define FD_N 10
/* Fds the child may not have (closed instead). */
#define FD_OPTIONAL(i) ((i) == FD_ETC || (i) == FD_INF)

enum { KILLED_NONE, KILLED_CANCEL, KILLED_SHUTDOWN };

struct running {
	struct running *next;
	char *job_id;
	pid_t pid;
	int killed;
	struct sb_cgroup *cg;
};

static pthread_mutex_t running_lock = PTHREAD_MUTEX_INITIALIZER;
static struct running *running_list;

/* The argv under construction. */
struct args {
	char **v;
	size_t n, alloc;
};

static void
args_add(struct args *a, const char *s)
{
	if (a->n + 2 > a->alloc) {
		a->alloc = a->alloc ? a->alloc * 2 : 64;
		a->v = xreallocarray(a->v, a->alloc, sizeof(*a->v));
	}
	a->v[a->n++] = xstrdup(s);
	a->v[a->n] = NULL;
}

static void
args_add3(struct args *a, const char *x, const char *y, const char *z)
{
	args_add(a, x);
	args_add(a, y);
	if (z)
		args_add(a, z);
}

static void
args_free(struct args *a)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
}

/* Mirrors one top-level entry of `root` at /name: symlink, directory or file. */
static void
bwrap_root_entry(struct args *a, const char *root, const char *name)
{
	char src[4096], target[4096], dst[512];
	struct stat st;
	ssize_t n;

	if (snprintf(src, sizeof(src), "%s/%s", strcmp(root, "/") ? root : "", name) >=
		    (int)sizeof(src) ||
	    snprintf(dst, sizeof(dst), "/%s", name) >= (int)sizeof(dst))
		return;
	if (lstat(src, &st) < 0)
		return;
	if (S_ISLNK(st.st_mode)) {
		n = readlink(src, target, sizeof(target) - 1);
		if (n <= 0)
			return;
		target[n] = '\0';
		args_add3(a, "--symlink", target, dst);
	} else if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) {
		args_add3(a, "--ro-bind", src, dst);
	}
}

/*
 * The host image: system directories and the few /etc entries programs
 * need, as one bind of the prepared copy (FD_ETC), or when there is none
 * (it could not be built) one bind per entry.
 */
static void
bwrap_host_root(struct args *a, bool prepared_etc)
{
	static const char *const dirs[] = { "usr", "bin", "sbin", "lib", "lib32", "lib64",
		"libx32", NULL };
	char path[256];
	size_t i;

	for (i = 0; dirs[i]; i++)
		bwrap_root_entry(a, "/", dirs[i]);
	if (prepared_etc) {
		snprintf(path, sizeof(path), "%d", FD_ETC);
		args_add3(a, "--ro-bind-fd", path, "/etc");
		return;
	}
	for (i = 0; sb_etc_names[i]; i++) {
		snprintf(path, sizeof(path), "/etc/%s", sb_etc_names[i]);
		args_add3(a, "--ro-bind-try", path, path);
	}
}

/* An image directory: every top-level entry but the ones the sandbox provides. */
static int
bwrap_image_root(struct args *a, const char *dir, struct cy_error *err)
{
	static const char *const skip[] = { ".", "..", "proc", "dev", "tmp", "workspace",
		"job", "sys", NULL };
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
			bwrap_root_entry(a, dir, de->d_name);
	}
	closedir(d);
	return 0;
}

/* The compiled seccomp program, built once. */
static pthread_once_t seccomp_once = PTHREAD_ONCE_INIT;
static struct cy_buf seccomp_bpf = CY_BUF_INIT;
static char seccomp_error[256];

/*
 * The seccomp filter: system calls a job never needs fail with EPERM;
 * clone(2) with any namespace flag fails with EPERM; clone3(2) fails with
 * ENOSYS (its flags live in memory a filter cannot read, and libc falls
 * back to clone); any foreign architecture (32-bit syscalls) kills.
 */
static void
bwrap_seccomp_build(void)
{
	static const unsigned long long ns_flags[] = { CLONE_NEWNS, CLONE_NEWUTS,
		CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP };
	static const char *const deny[] = { "mount", "umount2", "pivot_root", "swapon",
		"swapoff", "reboot", "kexec_load", "kexec_file_load", "init_module",
		"finit_module", "delete_module", "open_by_handle_at", "name_to_handle_at",
		"bpf", "perf_event_open", "userfaultfd", "unshare", "setns", "acct", "quotactl",
		"syslog", "iopl", "ioperm", "settimeofday", "clock_settime", "adjtimex",
		"vhangup", "keyctl", "add_key", "request_key", "ptrace", "process_vm_readv",
		"process_vm_writev", "fsopen", "fsmount", "fsconfig", "move_mount",
		"open_tree", "mount_setattr", "lookup_dcookie", "io_uring_setup",
		"io_uring_enter", "io_uring_register", "fanotify_init", "kcmp",
		"pidfd_getfd", "nfsservctl", "uselib", "create_module", "get_kernel_syms",
		"query_module", "vm86", "vm86old", "sysfs", "_sysctl", NULL };
	scmp_filter_ctx ctx;
	size_t i;
	int fd = -1, nr;

	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx) {
		snprintf(seccomp_error, sizeof(seccomp_error), "seccomp_init failed");
		return;
	}
	for (i = 0; deny[i]; i++) {
		nr = seccomp_syscall_resolve_name(deny[i]);
		if (nr == __NR_SCMP_ERROR)
			continue;
		if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0) < 0) {
			snprintf(seccomp_error, sizeof(seccomp_error), "seccomp rule for %s failed",
				deny[i]);
			goto out;
		}
	}
	for (i = 0; i < sizeof(ns_flags) / sizeof(ns_flags[0]); i++) {
		if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
			    SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i])) < 0) {
			snprintf(seccomp_error, sizeof(seccomp_error), "seccomp clone rule failed");
			goto out;
		}
	}
	nr = seccomp_syscall_resolve_name("clone3");
	if (nr != __NR_SCMP_ERROR &&
	    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0) < 0) {
		snprintf(seccomp_error, sizeof(seccomp_error), "seccomp clone3 rule failed");
		goto out;
	}
	fd = memfd_create("cynode-seccomp", MFD_CLOEXEC);
	if (fd < 0 || seccomp_export_bpf(ctx, fd) < 0 || lseek(fd, 0, SEEK_SET) < 0 ||
	    cy_buf_read_fd(&seccomp_bpf, fd, 1 << 20) < 0 || seccomp_bpf.len == 0) {
		snprintf(seccomp_error, sizeof(seccomp_error), "exporting the seccomp filter failed");
		cy_buf_release(&seccomp_bpf);
	}
out:
	if (fd >= 0)
		close(fd);
	seccomp_release(ctx);
}

/* A memfd holding `len` bytes of data, positioned at 0; -1 with err. */
static int
bwrap_memfd(const char *name, const void *data, size_t len, struct cy_error *err)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0)
		return cy_error_errno(err, "memfd_create");
	if (cy_write_all(fd, data, len) < 0) {
		cy_error_errno(err, "writing %s", name);
		close(fd);
		return -1;
	}
	if (lseek(fd, 0, SEEK_SET) < 0) {
		close(fd);
		return cy_error_errno(err, "lseek");
	}
	return fd;
}

/* The seccomp filter as BPF in a memfd, for bwrap --seccomp. */
static int
bwrap_seccomp_fd(struct cy_error *err)
{
	pthread_once(&seccomp_once, bwrap_seccomp_build);
	if (!seccomp_bpf.len)
		return cy_error_set(err, EINVAL, "%s", seccomp_error);
	return bwrap_memfd("cynode-seccomp", seccomp_bpf.buf, seccomp_bpf.len, err);
}

static int
bwrap_build(const struct sandbox_job *job, bool prepared_etc, struct args *a,
	struct cy_error *err)
{
	char fdbuf[32];
	size_t i;

	args_add(a, "--unshare-all");
	if (job->share_net)
		args_add(a, "--share-net");
	args_add(a, "--unshare-user");
	args_add(a, "--disable-userns");
	args_add(a, "--die-with-parent");
	args_add(a, "--new-session");
	args_add3(a, "--uid", SB_UID, NULL);
	args_add3(a, "--gid", SB_UID, NULL);
	args_add3(a, "--hostname", "sandbox", NULL);
	if (job->rootfs) {
		if (bwrap_image_root(a, job->rootfs, err) < 0)
			return -1;
	} else {
		bwrap_host_root(a, prepared_etc);
	}
	args_add3(a, "--proc", "/proc", NULL);
	args_add3(a, "--dev", "/dev", NULL);
	for (i = 0; job->devices && job->devices[i]; i++)
		args_add3(a, "--dev-bind", job->devices[i], job->devices[i]);
	if (job->limits.tmp_mb > 0) {
		snprintf(fdbuf, sizeof(fdbuf), "%lld", job->limits.tmp_mb * 1024 * 1024);
		args_add3(a, "--size", fdbuf, NULL);
	}
	args_add3(a, "--perms", "1777", NULL);
	args_add3(a, "--tmpfs", "/tmp", NULL);
	snprintf(fdbuf, sizeof(fdbuf), "%d", FD_WS);
	args_add3(a, "--bind-fd", fdbuf, "/workspace");
	snprintf(fdbuf, sizeof(fdbuf), "%d", FD_JOB);
	args_add3(a, "--bind-fd", fdbuf, "/job");
	if (job->inference_dir) {
		/* The job's inference socket and nothing else of the host's. */
		args_add3(a, "--dir", "/run", NULL);
		snprintf(fdbuf, sizeof(fdbuf), "%d", FD_INF);
		args_add3(a, "--bind-fd", fdbuf, SANDBOX_INFERENCE_DIR);
	}
	/* A private /dev/shm, then nothing outside the job's mounts stays writable. */
	if (job->limits.tmp_mb > 0) {
		snprintf(fdbuf, sizeof(fdbuf), "%lld", job->limits.tmp_mb * 1024 * 1024);
		args_add3(a, "--size", fdbuf, NULL);
	}
	args_add3(a, "--perms", "1777", NULL);
	args_add3(a, "--tmpfs", "/dev/shm", NULL);
	args_add3(a, "--remount-ro", "/dev", NULL);
	args_add3(a, "--remount-ro", "/", NULL);
	args_add3(a, "--chdir", "/workspace", NULL);
	args_add(a, "--clearenv");
	for (i = 0; job->env && job->env[i]; i++) {
		const char *eq = strchr(job->env[i], '=');
		char *k;

		if (!eq)
			continue;
		k = xstrndup(job->env[i], (size_t)(eq - job->env[i]));
		args_add3(a, "--setenv", k, eq + 1);
		free(k);
	}
	args_add3(a, "--cap-drop", "ALL", NULL);
	snprintf(fdbuf, sizeof(fdbuf), "%d", FD_SECCOMP);
	args_add3(a, "--seccomp", fdbuf, NULL);
	snprintf(fdbuf, sizeof(fdbuf), "%d", FD_STATUS);
	args_add3(a, "--json-status-fd", fdbuf, NULL);
	return 0;
}

/* bwrap's own argv: the options come from FD_ARGS, the command follows. */
static char **
bwrap_argv(const struct sandbox_job *job)
{
	size_t n = 0, i;
	char **v;

	while (job->argv[n])
		n++;
	v = xcalloc(n + 5, sizeof(*v));
	v[0] = BWRAP_PATH;
	v[1] = "--args";
	v[2] = "7";
	v[3] = "--";
	for (i = 0; i < n; i++)
		v[4 + i] = job->argv[i];
	return v;
}

/* What the child needs before exec, prepared by the parent. */
struct child_setup {
	int fds[FD_N];		/* stdin stdout stderr status ws job seccomp args etc inf */
	char **argv;		/* bwrap --args 7 -- COMMAND... */
	const struct sb_cgroup *cg;
	struct rlimit rl[4];
	int rl_res[4];
	int nrl;
};

/* rlimits: always open files, file size and core; AS/NPROC as cgroup fallbacks. */
static void
bwrap_rlimits(const struct sandbox_job *job, const struct sb_cgroup *cg,
	struct child_setup *cs)
{
	struct sb_limits l = job->limits;

#define RL(res, v) do { cs->rl_res[cs->nrl] = (res); \
	cs->rl[cs->nrl].rlim_cur = cs->rl[cs->nrl].rlim_max = (rlim_t)(v); cs->nrl++; } while (0)
	RL(RLIMIT_CORE, 0);
	if (l.nofile > 0)
		RL(RLIMIT_NOFILE, l.nofile);
	if (l.fsize_mb > 0)
		RL(RLIMIT_FSIZE, l.fsize_mb * 1024 * 1024);
	/* bwrap and its init need some room besides the job itself. */
	if (l.mem_mb > 0 && !(cg->enforced & (1u << SB_CG_MEMORY)))
		RL(RLIMIT_AS, (l.mem_mb + 64) * 1024 * 1024);
#undef RL
}

/*
 * In the forked child: only async-signal-safe calls.  Joins the job's
 * cgroups, moves the fds into place, sets the rlimits, drops root to the
 * sandbox uid and execs bwrap, which reads its arguments from FD_ARGS.
 */
static void __attribute__((noreturn))
bwrap_child(const struct child_setup *cs)
{
	static char *const envp[] = { "PATH=/usr/bin:/bin", NULL };
	sigset_t none;
	int i, tmp[FD_N];

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	setpgid(0, 0);
	sb_cgroup_enter(cs->cg);
	/* Move everything above 16 first so the dup2s below cannot clobber a source. */
	for (i = 0; i < FD_N; i++) {
		tmp[i] = FD_OPTIONAL(i) && cs->fds[i] < 0 ? -1 : fcntl(cs->fds[i], F_DUPFD, 16);
		if (tmp[i] < 0 && !FD_OPTIONAL(i))
			_exit(127);
	}
	for (i = 0; i < FD_N; i++) {
		if (tmp[i] < 0)
			close(i);
		else if (dup2(tmp[i], i) < 0)
			_exit(127);
	}
	close_range(FD_N, ~0U, 0);
	for (i = 0; i < cs->nrl; i++)
		if (setrlimit(cs->rl_res[i], &cs->rl[i]) < 0)
			_exit(127);
	if (geteuid() == 0) {
		if (setgroups(0, NULL) < 0 || setgid(SB_UID_N) < 0 || setuid(SB_UID_N) < 0)
			_exit(127);
	}
	execve(cs->argv[0], cs->argv, envp);
	_exit(127);
}

static void
running_add(struct running *r)
{
	pthread_mutex_lock(&running_lock);
	r->next = running_list;
	running_list = r;
	pthread_mutex_unlock(&running_lock);
}

static void
running_del(struct running *r)
{
	struct running **pp;

	pthread_mutex_lock(&running_lock);
	for (pp = &running_list; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	pthread_mutex_unlock(&running_lock);
}

/* SIGKILLs the whole sandbox: bwrap's process group and its cgroup. */
static void
running_kill(struct running *r)
{
	kill(-r->pid, SIGKILL);
	kill(r->pid, SIGKILL);
	if (r->cg)
		sb_cgroup_kill(r->cg);
}

/* sandbox_collect's callbacks: has the job been killed; kill it now. */
static bool
running_killed(void *arg)
{
	struct running *r = arg;
	bool k;

	pthread_mutex_lock(&running_lock);
	k = r->killed != KILLED_NONE;
	pthread_mutex_unlock(&running_lock);
	return k;
}

static void
running_kill_cb(void *arg)
{
	running_kill(arg);
}


static void
bwrap_status(const struct sandbox_job *job, struct running *r, const struct sb_cgroup *cg,
	bool timed_out, int ws, const struct cy_buf *status, struct sandbox_result *res)
{
	char msg[256];

	res->oom = sb_cgroup_oom(cg);
	res->pids_hit = sb_cgroup_pids_hit(cg);
	if (timed_out) {
		res->status = SANDBOX_TIMEOUT;
		res->exit_code = -1;
		snprintf(msg, sizeof(msg), "cynode: killed: timeout after %lld s\n",
			job->timeout_s);
		sandbox_note(res, job->max_output, msg);
	} else if (r->killed == KILLED_CANCEL) {
		res->status = SANDBOX_CANCELED;
		res->exit_code = -1;
		sandbox_note(res, job->max_output, "cynode: killed: job canceled\n");
	} else if (r->killed) {
		res->status = SANDBOX_FAILED;
		res->exit_code = -1;
		sandbox_note(res, job->max_output, "cynode: killed: the node is shutting down\n");
	} else if (!strstr(status->buf, "child-pid")) {
		struct cy_buf m = CY_BUF_INIT;

		cy_buf_addstr(&m, "sandbox launch failed: ");
		cy_buf_add(&m, res->err.buf, res->err.len);
		if (WIFEXITED(ws) && WEXITSTATUS(ws) == 127 && !res->err.len)
			cy_buf_addstr(&m, "cannot execute " BWRAP_PATH);
		cy_buf_release(&res->err);
		res->err = m;
		res->status = SANDBOX_FAILED;
		res->exit_code = -1;
	} else if (WIFEXITED(ws)) {
		res->exit_code = WEXITSTATUS(ws);
		res->status = res->exit_code ? SANDBOX_FAILED : SANDBOX_COMPLETED;
	} else {
		res->exit_code = WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : -1;
		res->status = SANDBOX_FAILED;
	}
	if (res->oom) {
		if (res->status == SANDBOX_COMPLETED)
			res->status = SANDBOX_FAILED;
		if (res->exit_code == 0)
			res->exit_code = 137;
		snprintf(msg, sizeof(msg), "cynode: killed: out of memory (memory limit %lld MB)\n",
			job->limits.mem_mb);
		sandbox_note(res, job->max_output, msg);
	}
	if (res->pids_hit) {
		snprintf(msg, sizeof(msg), "cynode: the job reached its process limit "
			"(%lld processes); further forks failed\n", job->limits.pids);
		sandbox_note(res, job->max_output, msg);
	}
}

/* The NUL-separated bwrap arguments for --args. */
static int
bwrap_args_fd(const struct args *a, struct cy_error *err)
{
	struct cy_buf b = CY_BUF_INIT;
	size_t i;
	int fd;

	for (i = 0; i < a->n; i++)
		cy_buf_add(&b, a->v[i], strlen(a->v[i]) + 1);
	fd = bwrap_memfd("cynode-bwrap-args", b.buf, b.len, err);
	cy_buf_release(&b);
	return fd;
}

static int
bwrap_run(const struct sandbox_job *job, struct sandbox_result *res, struct cy_error *err)
{
	struct args a = { NULL, 0, 0 };
	struct cy_buf status = CY_BUF_INIT;
	struct running r = { NULL, NULL, -1, 0, NULL };
	struct child_setup cs = { { -1, -1, -1, -1, -1, -1, -1, -1, -1, -1 }, NULL, NULL,
		{ { 0, 0 } }, { 0 }, 0 };
	struct sb_etc_gen *etc = NULL;
	struct sb_cgroup cg;
	char path[4096];
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, stp[2] = { -1, -1 };
	int ret = -1, ws = 0, i;
	bool timed_out, have_cg = false;
	pid_t pid;

	memset(res, 0, sizeof(*res));
	res->out = (struct cy_buf)CY_BUF_INIT;
	res->err = (struct cy_buf)CY_BUF_INIT;
	memset(&cg, 0, sizeof(cg));
	for (i = 0; i < SB_CG_N; i++)
		cg.procs_fd[i] = -1;
	/* Held until the job ends: the bind shares the generation's inodes. */
	if (!job->rootfs)
		etc = sb_etc_acquire(&cs.fds[FD_ETC]);
	if (bwrap_build(job, etc != NULL, &a, err) < 0)
		goto out;
	snprintf(path, sizeof(path), "%s/workspace", job->job_dir);
	cs.fds[FD_WS] = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	snprintf(path, sizeof(path), "%s/job", job->job_dir);
	cs.fds[FD_JOB] = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (cs.fds[FD_WS] < 0 || cs.fds[FD_JOB] < 0) {
		cy_error_errno(err, "opening the job directory '%s'", job->job_dir);
		goto out;
	}
	if (job->inference_dir) {
		cs.fds[FD_INF] = open(job->inference_dir, O_PATH | O_DIRECTORY | O_CLOEXEC |
			O_NOFOLLOW);
		if (cs.fds[FD_INF] < 0) {
			cy_error_errno(err, "opening the inference socket directory '%s'",
				job->inference_dir);
			goto out;
		}
	}
	cs.fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (cs.fds[0] < 0 || pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
	    pipe2(stp, O_CLOEXEC) < 0) {
		cy_error_errno(err, "creating pipes");
		goto out;
	}
	cs.fds[1] = outp[1];
	cs.fds[2] = errp[1];
	cs.fds[FD_STATUS] = stp[1];
	cs.fds[FD_SECCOMP] = bwrap_seccomp_fd(err);
	if (cs.fds[FD_SECCOMP] < 0)
		goto out;
	cs.fds[FD_ARGS] = bwrap_args_fd(&a, err);
	if (cs.fds[FD_ARGS] < 0)
		goto out;
	cs.argv = bwrap_argv(job);
	snprintf(path, sizeof(path), "cynode-%d-%s", (int)getpid(), job->job_id);
	if (sb_cgroup_create(&cg, path, &job->limits, err) < 0)
		goto out;
	have_cg = true;
	cs.cg = &cg;
	bwrap_rlimits(job, &cg, &cs);
	res->started = time(NULL);
	pid = fork();
	if (pid < 0) {
		cy_error_errno(err, "fork");
		goto out;
	}
	if (pid == 0)
		bwrap_child(&cs);
	close(outp[1]);
	close(errp[1]);
	close(stp[1]);
	outp[1] = errp[1] = stp[1] = -1;
	if (job->on_start)
		job->on_start(job->on_start_arg, pid);
	r.pid = pid;
	r.job_id = (char *)job->job_id;
	r.cg = &cg;
	running_add(&r);
	timed_out = sandbox_collect(outp[0], errp[0], stp[0], job->timeout_s, job->max_output,
		res, &status, running_killed, running_kill_cb, &r, job->live);
	if (timed_out || r.killed)
		running_kill(&r);
	while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
		;
	running_del(&r);
	/* Whatever escaped bwrap's process group is still in the cgroup. */
	sb_cgroup_kill(&cg);
	res->ended = time(NULL);
	bwrap_status(job, &r, &cg, timed_out, ws, &status, res);
	ret = 0;
out:
	if (ret < 0) {
		cy_buf_release(&res->out);
		cy_buf_release(&res->err);
	}
	if (have_cg)
		sb_cgroup_destroy(&cg);
	for (i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
		if (stp[i] >= 0)
			close(stp[i]);
	}
	for (i = 0; i < FD_N; i++) {
		if (i != 1 && i != 2 && i != FD_STATUS && cs.fds[i] >= 0)
			close(cs.fds[i]);
	}
	sb_etc_release(etc);
	cy_buf_release(&status);
	args_free(&a);
	free(cs.argv);
	return ret;
}

static int
bwrap_kill(const char *job_id)
{
	struct running *r;
	int found = -1;

	pthread_mutex_lock(&running_lock);
	for (r = running_list; r; r = r->next) {
		if (!strcmp(r->job_id, job_id)) {
			if (!r->killed)
				r->killed = KILLED_CANCEL;
			running_kill(r);
			found = 0;
		}
	}
	pthread_mutex_unlock(&running_lock);
	return found;
}

static void
bwrap_kill_all(void)
{
	struct running *r;

	pthread_mutex_lock(&running_lock);
	for (r = running_list; r; r = r->next) {
		if (!r->killed)
			r->killed = KILLED_SHUTDOWN;
		running_kill(r);
	}
	pthread_mutex_unlock(&running_lock);
}

/* Runs /bin/true in a throwaway job directory under mount_root. */
static int
bwrap_probe(const char *mount_root, struct cy_error *err)
{
	static char *const argv[] = { "/bin/true", NULL };
	struct sandbox_job job = { 0 };
	struct sandbox_result res;
	char dir[4096], sub[4200];
	int ret = -1;

	if (access(BWRAP_PATH, X_OK) < 0)
		return cy_error_errno(err, "bubblewrap (%s) is not installed", BWRAP_PATH);
	if (snprintf(dir, sizeof(dir), "%s/.probe-XXXXXX", mount_root) >= (int)sizeof(dir))
		return cy_error_set(err, ENAMETOOLONG, "mount root path too long");
	if (!mkdtemp(dir))
		return cy_error_errno(err, "mount root '%s' is not writable", mount_root);
	chmod(dir, 0711);
	snprintf(sub, sizeof(sub), "%s/workspace", dir);
	mkdir(sub, 0711);
	snprintf(sub, sizeof(sub), "%s/job", dir);
	mkdir(sub, 0711);
	job.task_id = "probe";
	job.job_id = strrchr(dir, '/') + 1;
	job.argv = (char **)argv;
	job.job_dir = dir;
	job.timeout_s = 20;
	job.max_output = 4096;
	job.limits.pids = 16;
	job.limits.mem_mb = 64;
	job.limits.tmp_mb = 1;
	if (bwrap_run(&job, &res, err) == 0) {
		if (res.status == SANDBOX_COMPLETED) {
			ret = 0;
		} else {
			sandbox_utf8_clean(&res.err, 300);
			cy_error_set(err, EPERM, "bubblewrap cannot run a sandbox here: %s",
				res.err.len ? res.err.buf : "exit status non-zero");
		}
		sandbox_result_release(&res);
	}
	snprintf(sub, sizeof(sub), "%s/workspace", dir);
	rmdir(sub);
	snprintf(sub, sizeof(sub), "%s/job", dir);
	rmdir(sub);
	rmdir(dir);
	return ret;
}

static void
bwrap_features(json_t *f)
{
	static const char *const always[] = { "userns", "pidns", "mountns", "ipcns", "utsns",
		"netns", "seccomp", "no_new_privs", "caps_dropped", "readonly_root",
		"private_tmp", "die_with_parent", "rlimits", NULL };
	unsigned mask;
	int version, i;

	for (i = 0; always[i]; i++)
		json_array_append_new(f, json_string(always[i]));
	mask = sb_cgroup_available(&version);
	if (version == 2)
		json_array_append_new(f, json_string("cgroups_v2"));
	else if (version == 1)
		json_array_append_new(f, json_string("cgroups_v1"));
	if (mask & (1u << SB_CG_MEMORY))
		json_array_append_new(f, json_string("memory_limit"));
	if (mask & (1u << SB_CG_PIDS))
		json_array_append_new(f, json_string("pids_limit"));
	if (mask & (1u << SB_CG_CPU))
		json_array_append_new(f, json_string("cpu_limit"));
}

const struct sandbox_runtime sandbox_bwrap = {
	.name = "bwrap",
	.probe = bwrap_probe,
	.run = bwrap_run,
	.kill = bwrap_kill,
	.kill_all = bwrap_kill_all,
	.features = bwrap_features,
};
