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
 * What the sandbox holds is the job's plan (sandbox-plan.c); this file
 * renders it as bwrap options and runs bwrap.  stdout and stderr come back
 * through pipes read with poll(2) and capped while reading; bwrap's
 * --json-status-fd tells a launch failure from the command's own exit
 * status.  Timeouts and cancels SIGKILL bwrap's process
 * group and everything in the job's cgroup; the sandbox's PID namespace
 * takes every child down with it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "children.h"
#include "fsutil.h"
#include "sandbox-plan.h"
#include "sandbox.h"
#include "timeutil.h"
#include "banned.h"

#define BWRAP_PATH "/usr/bin/bwrap"

/* bwrap's command line names its argument file by number. */
_Static_assert(SB_FD_ARGS == 7, "bwrap_argv passes --args 7");

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
	static const unsigned long long ns_flags[] = { CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC,
		CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP };
	static const char *const deny[] = { "mount", "umount2", "pivot_root", "swapon", "swapoff",
		"reboot", "kexec_load", "kexec_file_load", "init_module", "finit_module",
		"delete_module", "open_by_handle_at", "name_to_handle_at", "bpf", "perf_event_open",
		"userfaultfd", "unshare", "setns", "acct", "quotactl", "syslog", "iopl", "ioperm",
		"settimeofday", "clock_settime", "adjtimex", "vhangup", "keyctl", "add_key",
		"request_key", "ptrace", "process_vm_readv", "process_vm_writev", "fsopen",
		"fsmount", "fsconfig", "move_mount", "open_tree", "mount_setattr", "lookup_dcookie",
		"io_uring_setup", "io_uring_enter", "io_uring_register", "fanotify_init", "kcmp",
		"pidfd_getfd", "nfsservctl", "uselib", "create_module", "get_kernel_syms",
		"query_module", "vm86", "vm86old", "sysfs", "_sysctl", NULL };
	scmp_filter_ctx ctx;
	size_t i;
	int fd = -1, nr;

	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx) {
		xsnprintf(seccomp_error, sizeof(seccomp_error), "seccomp_init failed");
		return;
	}
	for (i = 0; deny[i]; i++) {
		nr = seccomp_syscall_resolve_name(deny[i]);
		if (nr == __NR_SCMP_ERROR)
			continue;
		if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0) < 0) {
			xsnprintf(seccomp_error, sizeof(seccomp_error),
			    "seccomp rule for %s failed", deny[i]);
			goto out;
		}
	}
	for (i = 0; i < sizeof(ns_flags) / sizeof(ns_flags[0]); i++) {
		if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
			SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i])) < 0) {
			xsnprintf(seccomp_error, sizeof(seccomp_error),
			    "seccomp clone rule failed");
			goto out;
		}
	}
	nr = seccomp_syscall_resolve_name("clone3");
	if (nr != __NR_SCMP_ERROR && seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0) < 0) {
		xsnprintf(seccomp_error, sizeof(seccomp_error), "seccomp clone3 rule failed");
		goto out;
	}
	fd = memfd_create("cynode-seccomp", MFD_CLOEXEC);
	if (fd < 0 || seccomp_export_bpf(ctx, fd) < 0 || lseek(fd, 0, SEEK_SET) < 0 ||
	    cy_buf_read_fd(&seccomp_bpf, fd, 1 << 20) < 0 || seccomp_bpf.len == 0) {
		xsnprintf(seccomp_error, sizeof(seccomp_error),
		    "exporting the seccomp filter failed");
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

/*
 * bwrap's option for the operations rendered as "OPTION [source] [dest]";
 * bwrap_render_op renders the others, or nothing.
 */
static const char *const bwrap_opt[SB_OP_N] = {
	[SB_OP_DIE_WITH_PARENT] = "--die-with-parent",
	[SB_OP_NEW_SESSION] = "--new-session",
	[SB_OP_HOSTNAME] = "--hostname",
	[SB_OP_BIND_RO_TRY] = "--ro-bind-try",
	[SB_OP_DEV_BIND] = "--dev-bind",
	[SB_OP_SYMLINK] = "--symlink",
	[SB_OP_PROC] = "--proc",
	[SB_OP_DEV] = "--dev",
	[SB_OP_DIR] = "--dir",
	[SB_OP_REMOUNT_RO] = "--remount-ro",
	[SB_OP_CHDIR] = "--chdir",
	[SB_OP_CLEARENV] = "--clearenv",
	[SB_OP_SETENV] = "--setenv",
};

/* Appends the bwrap options of one operation. */
static void
bwrap_render_op(struct sb_argv *a, const struct sb_op *op)
{
	bool ro = op->type == SB_OP_BIND_RO;

	switch (op->type) {
	case SB_OP_NAMESPACES:
		sb_argv_add(a, "--unshare-all", NULL);
		/* The host's network, or one the launcher entered (SB_NET_POOLED). */
		if (op->value == SB_NET_HOST || op->value == SB_NET_POOLED)
			sb_argv_add(a, "--share-net", NULL);
		sb_argv_add(a, "--unshare-user", "--disable-userns", NULL);
		break;
	case SB_OP_USER:
		sb_argv_add(a, "--uid", NULL);
		sb_argv_addf(a, "%u", (unsigned)op->uid);
		sb_argv_add(a, "--gid", NULL);
		sb_argv_addf(a, "%u", (unsigned)op->gid);
		break;
	case SB_OP_BIND_RO:
	case SB_OP_BIND_RW:
		if (op->fd < 0) {
			sb_argv_add(a, ro ? "--ro-bind" : "--bind", op->source, op->dest, NULL);
			break;
		}
		sb_argv_add(a, ro ? "--ro-bind-fd" : "--bind-fd", NULL);
		sb_argv_addf(a, "%d", op->fd);
		sb_argv_add(a, op->dest, NULL);
		break;
	case SB_OP_TMPFS:
		if (op->value > 0) {
			sb_argv_add(a, "--size", NULL);
			sb_argv_addf(a, "%lld", op->value * 1024 * 1024);
		}
		sb_argv_add(a, "--perms", NULL);
		sb_argv_addf(a, "%o", op->perms);
		sb_argv_add(a, "--tmpfs", op->dest, NULL);
		break;
	case SB_OP_FILE:
		sb_argv_add(a, "--perms", NULL);
		sb_argv_addf(a, "%o", op->perms);
		sb_argv_add(a, "--file", NULL);
		sb_argv_addf(a, "%d", op->fd);
		sb_argv_add(a, op->dest, NULL);
		break;
	case SB_OP_CAP_DROP_ALL:
		sb_argv_add(a, "--cap-drop", "ALL", NULL);
		break;
	case SB_OP_SECCOMP:
		sb_argv_add(a, "--seccomp", NULL);
		sb_argv_addf(a, "%d", op->fd);
		break;
	case SB_OP_NO_NEW_PRIVS: /* bwrap always sets it */
	case SB_OP_RLIMIT:       /* the node sets them on bwrap (bwrap_rlimits) */
	case SB_OP_CGROUP:       /* bwrap starts in the job's cgroup */
	case SB_OP_EXEC:         /* follows "--" on bwrap's command line */
		break;
	default:
		sb_argv_add(a, bwrap_opt[op->type], NULL);
		if (op->source)
			sb_argv_add(a, op->source, NULL);
		if (op->dest)
			sb_argv_add(a, op->dest, NULL);
		break;
	}
}

void
sb_render_bwrap(const struct sb_plan *p, struct sb_argv *args)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		bwrap_render_op(args, &p->ops[i]);
	sb_argv_add(args, "--json-status-fd", NULL);
	sb_argv_addf(args, "%d", SB_FD_STATUS);
}

/* bwrap's own argv: the options come from SB_FD_ARGS, the command follows. */
static char **
bwrap_argv(const struct sb_plan *p)
{
	char **cmd = sb_plan_find(p, SB_OP_EXEC)->argv;
	size_t n = 0, i;
	char **v;

	while (cmd[n])
		n++;
	v = xcalloc(n + 5, sizeof(*v));
	v[0] = BWRAP_PATH;
	v[1] = "--args";
	v[2] = "7";
	v[3] = "--";
	for (i = 0; i < n; i++)
		v[4 + i] = cmd[i];
	return v;
}

/* What the child needs before exec, prepared by the parent. */
struct child_setup {
	int fds[SB_FD_N]; /* by number in the child (enum sb_fd); -1: closed there */
	char **argv;      /* bwrap --args 7 -- COMMAND... */
	uid_t uid;        /* bwrap's own user when the node runs as root */
	gid_t gid;
	const struct sb_cgroup *cg;
	struct rlimit rl[RLIMIT_NLIMITS + 1];
	int rl_res[RLIMIT_NLIMITS + 1];
	int nrl;
	int netns;      /* a pooled network namespace to enter (netns-pool.c), or -1 */
	bool in_cgroup; /* started in the job's cgroup (sb_spawn): nothing to join */
};

/* Adds one rlimit for the child. */
static void
bwrap_rlimit(struct child_setup *cs, int res, long long v)
{
	if (cs->nrl >= (int)(sizeof(cs->rl) / sizeof(cs->rl[0])))
		return;
	cs->rl_res[cs->nrl] = res;
	cs->rl[cs->nrl].rlim_cur = cs->rl[cs->nrl].rlim_max = (rlim_t)v;
	cs->nrl++;
}

/* The plan's rlimits, and RLIMIT_AS where no memory cgroup holds the limit. */
static void
bwrap_rlimits(const struct sb_plan *p, const struct sb_cgroup *cg, struct child_setup *cs)
{
	struct sb_limits l;
	size_t i;

	for (i = 0; i < p->n; i++)
		if (p->ops[i].type == SB_OP_RLIMIT)
			bwrap_rlimit(cs, p->ops[i].resource, p->ops[i].value);
	sb_plan_cgroup_limits(p, &l);
	/* bwrap and its init need some room besides the job itself. */
	if (l.mem_mb > 0 && !(cg->enforced & (1u << SB_CG_MEMORY)))
		bwrap_rlimit(cs, RLIMIT_AS, (l.mem_mb + 64) * 1024 * 1024);
}

/*
 * In the child (sb_spawn): only async-signal-safe calls, none of glibc's
 * that assume its fork bookkeeping ran (it may be a raw clone3), and no
 * writes but to its own stack and errno, the suspended thread's (it may be
 * a vfork sharing the node's memory): so no close() or write(), whose
 * cancellation bookkeeping would mark the node's thread (close_range and
 * syscall(SYS_write) instead), and the uid change is raw system calls,
 * which act on this one thread, the child's only one.  Joins the job's cgroups
 * unless it started in them, moves the fds into place, sets the rlimits,
 * drops root to the sandbox uid and execs bwrap, which reads its
 * arguments from SB_FD_ARGS.
 */
static __attribute__((noreturn)) void
bwrap_child(const void *arg)
{
	const struct child_setup *cs = arg;
	static char *const envp[] = { "PATH=/usr/bin:/bin", NULL };
	sigset_t none;
	int i, tmp[SB_FD_N];

	signal(SIGPIPE, SIG_DFL);
	/* While still root: the job's own network namespace, made ahead. */
	if (cs->netns >= 0) {
		if (setns(cs->netns, CLONE_NEWNET) < 0) {
			static const char m[] = "cannot enter the job's network namespace (setns)";

			/* bwrap's stderr pipe: the launch failure's message. */
			(void)!syscall(SYS_write, cs->fds[2], m, sizeof(m) - 1);
			_exit(127);
		}
		close_range((unsigned)cs->netns, (unsigned)cs->netns, 0);
	}
	setpgid(0, 0);
	if (!cs->in_cgroup)
		sb_cgroup_enter(cs->cg);
	/* Move everything above 16 first so the dup2s below cannot clobber a source. */
	for (i = 0; i < SB_FD_N; i++) {
		tmp[i] = cs->fds[i] < 0 ? -1 : fcntl(cs->fds[i], F_DUPFD, 16);
		if (tmp[i] < 0 && cs->fds[i] >= 0)
			_exit(127);
	}
	for (i = 0; i < SB_FD_N; i++) {
		if (tmp[i] < 0)
			close_range((unsigned)i, (unsigned)i, 0);
		else if (dup2(tmp[i], i) < 0)
			_exit(127);
	}
	close_range(SB_FD_N, ~0U, 0);
	for (i = 0; i < cs->nrl; i++)
		if (setrlimit(cs->rl_res[i], &cs->rl[i]) < 0)
			_exit(127);
	if (geteuid() == 0) {
		if (syscall(SYS_setgroups, 0, NULL) < 0 ||
		    syscall(SYS_setresgid, cs->gid, cs->gid, cs->gid) < 0 ||
		    syscall(SYS_setresuid, cs->uid, cs->uid, cs->uid) < 0)
			_exit(127);
	}
	/* Last, as posix_spawn does: the node's blocked signals stay blocked until here. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(cs->argv[0], cs->argv, envp);
	_exit(127);
}

/* SIGKILLs the whole sandbox: bwrap's process group and its cgroup. */
static void
running_kill(struct sb_running *r)
{
	kill(-r->pid, SIGKILL);
	kill(r->pid, SIGKILL);
	if (r->cg)
		sb_cgroup_kill(r->cg);
}

/* sandbox_collect's callback: kill the job now. */
static void
running_kill_cb(void *arg)
{
	running_kill(arg);
}

/*
 * How the run ended: bwrap's status fd names the command's pid once it
 * started, so without it bwrap's stderr says why the launch failed.
 */
static void
bwrap_status(const struct sandbox_job *job, const struct sb_running *r, const struct sb_cgroup *cg,
    bool timed_out, int ws, const struct cy_buf *status, struct sandbox_result *res,
    bool *limit_hit)
{
	struct sb_outcome o = { .timed_out = timed_out, .killed = r->killed };

	o.oom = sb_cgroup_oom(cg);
	o.pids_hit = sb_cgroup_pids_hit(cg);
	*limit_hit = o.oom || o.pids_hit;
	o.exit_code = WIFEXITED(ws) ? WEXITSTATUS(ws) : WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : -1;
	o.launch_failed = !timed_out && !r->killed && !strstr(status->buf, "child-pid");
	if (o.launch_failed) {
		struct cy_buf m = CY_BUF_INIT;

		cy_buf_addstr(&m, "sandbox launch failed: ");
		cy_buf_add(&m, res->err.buf, res->err.len);
		if (WIFEXITED(ws) && WEXITSTATUS(ws) == 127 && !res->err.len)
			cy_buf_addstr(&m, "cannot execute " BWRAP_PATH);
		cy_buf_release(&res->err);
		res->err = m;
	}
	sandbox_finish(res, &o, job);
}

/* The NUL-separated bwrap arguments for --args. */
static int
bwrap_args_fd(const struct sb_argv *a, struct cy_error *err)
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

/* One run's plan and what the node holds for it until the run ends. */
struct bwrap_launch {
	struct sb_plan plan;
	struct child_setup cs;
	int devnull, seccomp, args; /* the child's 0, SB_FD_SECCOMP, SB_FD_ARGS */
	int outp[2], errp[2], stp[2];
	struct sb_cgroup cg;
	bool have_cg;
	bool cg_reusable;     /* the run ended cleanly: its groups may serve another job */
	struct cy_buf status; /* what bwrap wrote to --json-status-fd */
};

/* An empty launch for job (nothing open, nothing held). */
static void
bwrap_launch_init(struct bwrap_launch *l, const struct sandbox_job *job)
{
	static const struct sb_plan_opts opts = { .runtime = "bwrap",
		.binds_by_fd = true,
		.copies_files = true };
	int i;

	memset(l, 0, sizeof(*l));
	sb_plan_init(&l->plan, job, &opts);
	for (i = 0; i < SB_FD_N; i++)
		l->cs.fds[i] = -1;
	l->devnull = l->seccomp = l->args = -1;
	l->cs.netns = -1;
	l->outp[0] = l->outp[1] = l->errp[0] = l->errp[1] = l->stp[0] = l->stp[1] = -1;
	for (i = 0; i < SB_CG_N; i++)
		l->cg.procs_fd[i] = -1;
	l->cg.dir_fd = -1;
	l->status = (struct cy_buf)CY_BUF_INIT;
}

/*
 * Everything the child needs, made by the parent from the plan: the
 * plan's fds in place, stdin from /dev/null, the output and status pipes,
 * the seccomp filter and the rendered options in memfds, bwrap's command
 * line, the job's cgroup and the rlimits.
 */
static int
bwrap_prepare(struct bwrap_launch *l, struct cy_error *err)
{
	const struct sb_op *user = sb_plan_find(&l->plan, SB_OP_USER);
	struct sb_op *ns = NULL;
	size_t i;
	struct sb_argv args = SB_ARGV_INIT;
	struct sb_limits lim;
	char name[4096];

	memcpy(l->cs.fds, l->plan.fds, sizeof(l->cs.fds));
	l->devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (l->devnull < 0 || pipe2(l->outp, O_CLOEXEC) < 0 || pipe2(l->errp, O_CLOEXEC) < 0 ||
	    pipe2(l->stp, O_CLOEXEC) < 0)
		return cy_error_errno(err, "creating pipes");
	l->cs.fds[0] = l->devnull;
	l->cs.fds[1] = l->outp[1];
	l->cs.fds[2] = l->errp[1];
	l->cs.fds[SB_FD_STATUS] = l->stp[1];
	l->cs.fds[SB_FD_SECCOMP] = l->seccomp = bwrap_seccomp_fd(err);
	if (l->seccomp < 0)
		return -1;
	/*
	 * No network: a namespace from the pool when it has one (the child
	 * enters it; bwrap keeps it instead of making one).
	 */
	for (i = 0; i < l->plan.n; i++)
		if (l->plan.ops[i].type == SB_OP_NAMESPACES)
			ns = &l->plan.ops[i];
	if (ns && ns->value == 0 && (l->cs.netns = netns_pool_take()) >= 0)
		ns->value = SB_NET_POOLED;
	sb_render_bwrap(&l->plan, &args);
	l->cs.fds[SB_FD_ARGS] = l->args = bwrap_args_fd(&args, err);
	sb_argv_release(&args);
	if (l->args < 0)
		return -1;
	l->cs.argv = bwrap_argv(&l->plan);
	l->cs.uid = user->uid;
	l->cs.gid = user->gid;
	xsnprintf(name, sizeof(name), "cynode-%d-%s", (int)getpid(), l->plan.job->job_id);
	sb_plan_cgroup_limits(&l->plan, &lim);
	if (sb_cgroup_create(&l->cg, name, &lim, err) < 0)
		return -1;
	l->have_cg = true;
	l->cs.cg = &l->cg;
	bwrap_rlimits(&l->plan, &l->cg, &l->cs);
	return 0;
}

/* Closes *fd when open. */
static void
close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Releases what the launch holds: the cgroup, the node's fds, the plan. */
static void
bwrap_launch_release(struct bwrap_launch *l)
{
	int i;

	if (l->have_cg)
		sb_cgroup_done(&l->cg, l->cg_reusable);
	for (i = 0; i < 2; i++) {
		close_fd(&l->outp[i]);
		close_fd(&l->errp[i]);
		close_fd(&l->stp[i]);
	}
	close_fd(&l->devnull);
	close_fd(&l->seccomp);
	close_fd(&l->args);
	close_fd(&l->cs.netns);
	cy_buf_release(&l->status);
	free(l->cs.argv);
	sb_plan_release(&l->plan);
}

static int
bwrap_run(const struct sandbox_job *job, struct sandbox_result *res, struct cy_error *err)
{
	struct sb_running r = { .runtime = "bwrap", .job_id = job->job_id, .pid = -1 };
	struct bwrap_launch l;
	struct rusage ru;
	int ret = -1, ws = 0;
	int64_t t0;
	bool timed_out, have_ru, limit_hit;

	sandbox_result_init(res);
	sb_reap_adopt();
	bwrap_launch_init(&l, job);
	if (sb_plan_build(&l.plan, err) < 0 || bwrap_prepare(&l, err) < 0)
		goto out;
	res->started = time(NULL);
	res->fork_us = cy_real_us();
	t0 = cy_mono_ms();
	r.pid = sb_spawn(l.cg.version == 2 ? l.cg.dir_fd : -1, &l.cs.in_cgroup, bwrap_child, &l.cs);
	if (r.pid < 0) {
		cy_error_errno(err, "fork");
		goto out;
	}
	node_child_own(r.pid);
	/* The child has entered it: no other fork should inherit it. */
	close_fd(&l.cs.netns);
	close_fd(&l.outp[1]);
	close_fd(&l.errp[1]);
	close_fd(&l.stp[1]);
	if (job->on_start)
		job->on_start(job->on_start_arg, r.pid);
	r.cg = &l.cg;
	sb_running_add(&r);
	timed_out = sandbox_collect(l.outp[0], l.errp[0], l.stp[0], job->timeout_s, job->max_output,
	    job->secrets, res, &l.status, sb_running_killed, running_kill_cb, &r, job->log);
	if (timed_out || r.killed)
		running_kill(&r);
	memset(&ru, 0, sizeof(ru));
	while (!(have_ru = wait4(r.pid, &ws, 0, &ru) == r.pid) && errno == EINTR)
		;
	node_child_done(r.pid);
	sb_running_del(&r);
	/* Whatever escaped bwrap's process group is still in the cgroup. */
	sb_cgroup_kill(&l.cg);
	res->ended = time(NULL);
	res->exit_us = cy_real_us();
	res->usage.wall_ms = cy_mono_ms() - t0;
	sb_usage_collect(&res->usage, &l.cg, NULL);
	/*
	 * The sandbox's PID 1 held the setup and the command: its rusage
	 * counts where no cgroup measured them (then it is waited for).
	 */
	sb_reap_inner(sb_reap_status_pid(&l.status), have_ru ? &ru : NULL,
	    !res->usage.have_cpu || !res->usage.have_mem);
	sb_usage_collect(&res->usage, NULL, have_ru ? &ru : NULL);
	bwrap_status(job, &r, &l.cg, timed_out, ws, &l.status, res, &limit_hit);
	/* It ended by itself and hit no limit: its groups may serve another job. */
	l.cg_reusable = !limit_hit && !timed_out && !r.killed && have_ru;
	ret = 0;
out:
	if (ret < 0)
		sandbox_result_release(res);
	bwrap_launch_release(&l);
	return ret;
}

static int
bwrap_kill(const char *job_id)
{
	return sb_running_stop("bwrap", job_id, SB_KILLED_CANCEL, running_kill);
}

static void
bwrap_kill_all(void)
{
	sb_running_stop("bwrap", NULL, SB_KILLED_SHUTDOWN, running_kill);
}

/* Runs /bin/true in a throwaway job directory under mount_root. */
static int
bwrap_probe(const char *mount_root, struct cy_error *err)
{
	static char *const argv[] = { "/bin/true", NULL };
	struct sandbox_job job = { 0 };
	struct sandbox_result res;
	char dir[4096], sub[4200]; /* sub: dir and a short name */
	int ret = -1;

	if (access(BWRAP_PATH, X_OK) < 0)
		return cy_error_errno(err, "bubblewrap (%s) is not installed", BWRAP_PATH);
	if (cy_snprintf(dir, sizeof(dir), "%s/.probe-XXXXXX", mount_root) < 0)
		return cy_error_set(err, ENAMETOOLONG, "mount root path too long");
	if (!mkdtemp(dir))
		return cy_error_errno(err, "mount root '%s' is not writable", mount_root);
	chmod(dir, 0711);
	xsnprintf(sub, sizeof(sub), "%s/workspace", dir);
	mkdir(sub, 0711);
	xsnprintf(sub, sizeof(sub), "%s/job", dir);
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
	xsnprintf(sub, sizeof(sub), "%s/workspace", dir);
	rmdir(sub);
	xsnprintf(sub, sizeof(sub), "%s/job", dir);
	rmdir(sub);
	rmdir(dir);
	return ret;
}

static void
bwrap_features(json_t *f)
{
	static const char *const always[] = { "userns", "pidns", "mountns", "ipcns", "utsns",
		"netns", "seccomp", "no_new_privs", "caps_dropped", "readonly_root", "private_tmp",
		"die_with_parent", "rlimits", NULL };
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
