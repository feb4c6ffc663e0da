/*
 * The bubblewrap sandbox runtime.  A job runs as `bwrap` with every
 * namespace unshared (no network: only lo), an unprivileged uid (bwrap
 * itself is started as uid 65534 when the node runs as root), a read-only
 * root made of the host's /usr, /bin, /lib... plus a few /etc files (image
 * "host") or of an image directory's top-level entries, a private /tmp,
 * /proc and /dev, writable /workspace and /job bound from already opened
 * directory fds (so the unprivileged uid needs no path to them), a cleared
 * environment, no capabilities, a seccomp filter and die-with-parent.
 *
 * stdout and stderr come back through pipes read with poll(2) and capped
 * while reading; bwrap's --json-status-fd tells a launch failure from the
 * command's own exit status.  Timeouts SIGKILL bwrap's process group; the
 * sandbox's PID namespace takes every child down with it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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
#include "sandbox.h"
#include "timeutil.h"
#include "banned.h"

#define BWRAP_PATH "/usr/bin/bwrap"
#define SB_UID "65534"
#define SB_UID_N 65534
#define KILL_GRACE_MS 5000

/* Fixed fd numbers in the child, right before exec. */
#define FD_STATUS 3
#define FD_WS 4
#define FD_JOB 5
#define FD_SECCOMP 6

struct running {
	struct running *next;
	char *job_id;
	pid_t pid;
	int killed;
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

/* The host image: system directories and the few /etc files programs need. */
static void
bwrap_host_root(struct args *a)
{
	static const char *const dirs[] = { "usr", "bin", "sbin", "lib", "lib32", "lib64",
		"libx32", NULL };
	static const char *const etc[] = { "/etc/passwd", "/etc/group", "/etc/hosts",
		"/etc/nsswitch.conf", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
		"/etc/alternatives", "/etc/localtime", "/etc/ssl", "/etc/ca-certificates",
		"/etc/os-release", "/etc/debian_version", "/etc/profile", "/etc/bash.bashrc",
		"/etc/mime.types", NULL };
	size_t i;

	for (i = 0; dirs[i]; i++)
		bwrap_root_entry(a, "/", dirs[i]);
	for (i = 0; etc[i]; i++)
		args_add3(a, "--ro-bind-try", etc[i], etc[i]);
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

/* A seccomp filter (as BPF in a memfd) refusing system calls a job never needs. */
static int
bwrap_seccomp_fd(struct cy_error *err)
{
	static const char *const deny[] = { "mount", "umount2", "pivot_root", "swapon",
		"swapoff", "reboot", "kexec_load", "kexec_file_load", "init_module",
		"finit_module", "delete_module", "open_by_handle_at", "name_to_handle_at",
		"bpf", "perf_event_open", "userfaultfd", "unshare", "setns", "acct", "quotactl",
		"syslog", "iopl", "ioperm", "settimeofday", "clock_settime", "adjtimex",
		"vhangup", "keyctl", "add_key", "request_key", "ptrace", "process_vm_readv",
		"process_vm_writev", "fsopen", "fsmount", "fsconfig", "move_mount",
		"open_tree", "mount_setattr", "lookup_dcookie", NULL };
	scmp_filter_ctx ctx;
	size_t i;
	int fd, nr;

	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return cy_error_set(err, ENOMEM, "seccomp_init failed");
	for (i = 0; deny[i]; i++) {
		nr = seccomp_syscall_resolve_name(deny[i]);
		if (nr == __NR_SCMP_ERROR)
			continue;
		if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0) < 0) {
			seccomp_release(ctx);
			return cy_error_set(err, EINVAL, "seccomp rule for %s failed", deny[i]);
		}
	}
	fd = memfd_create("cynode-seccomp", MFD_CLOEXEC);
	if (fd < 0) {
		seccomp_release(ctx);
		return cy_error_errno(err, "memfd_create");
	}
	if (seccomp_export_bpf(ctx, fd) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
		seccomp_release(ctx);
		close(fd);
		return cy_error_set(err, EIO, "exporting the seccomp filter failed");
	}
	seccomp_release(ctx);
	return fd;
}

static int
bwrap_build(const struct sandbox_job *job, struct args *a, struct cy_error *err)
{
	char fdbuf[16];
	size_t i;

	args_add(a, BWRAP_PATH);
	args_add(a, "--unshare-all");
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
		bwrap_host_root(a);
	}
	args_add3(a, "--proc", "/proc", NULL);
	args_add3(a, "--dev", "/dev", NULL);
	args_add3(a, "--tmpfs", "/tmp", NULL);
	snprintf(fdbuf, sizeof(fdbuf), "%d", FD_WS);
	args_add3(a, "--bind-fd", fdbuf, "/workspace");
	snprintf(fdbuf, sizeof(fdbuf), "%d", FD_JOB);
	args_add3(a, "--bind-fd", fdbuf, "/job");
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
	args_add(a, "--");
	for (i = 0; job->argv[i]; i++)
		args_add(a, job->argv[i]);
	return 0;
}

/*
 * In the forked child: only async-signal-safe calls.  Moves the fds into
 * place, drops root to the sandbox uid and execs bwrap.
 */
static void __attribute__((noreturn))
bwrap_child(char **argv, int nullfd, int out_w, int err_w, int st_w, int ws_fd, int job_fd,
	int sc_fd)
{
	static char *const envp[] = { "PATH=/usr/bin:/bin", NULL };
	int src[] = { nullfd, out_w, err_w, st_w, ws_fd, job_fd, sc_fd };
	sigset_t none;
	struct rlimit rl = { 0, 0 };
	int i, tmp[7];

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	setpgid(0, 0);
	/* Move everything above 16 first so the dup2s below cannot clobber a source. */
	for (i = 0; i < 7; i++) {
		tmp[i] = fcntl(src[i], F_DUPFD, 16);
		if (tmp[i] < 0)
			_exit(127);
	}
	for (i = 0; i < 7; i++) {
		if (dup2(tmp[i], i) < 0)
			_exit(127);
	}
	close_range(7, ~0U, 0);
	setrlimit(RLIMIT_CORE, &rl);
	if (geteuid() == 0) {
		if (setgroups(0, NULL) < 0 || setgid(SB_UID_N) < 0 || setuid(SB_UID_N) < 0)
			_exit(127);
	}
	execve(argv[0], argv, envp);
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

/* Appends what fd has to b, keeping at most max bytes; 1 at EOF. */
static int
bwrap_drain(int fd, struct cy_buf *b, size_t max, bool *trunc)
{
	char tmp[65536];
	ssize_t n;
	size_t keep;

	n = read(fd, tmp, sizeof(tmp));
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : 1;
	if (n == 0)
		return 1;
	keep = b->len < max ? max - b->len : 0;
	if ((size_t)n > keep)
		*trunc = true;
	else
		keep = (size_t)n;
	if (keep)
		cy_buf_add(b, tmp, keep);
	return 0;
}

/*
 * Reads the three pipes until they all close, killing the process group
 * when the deadline passes.  Returns true when the timeout fired.
 */
static bool
bwrap_wait_output(struct running *r, int out_r, int err_r, int st_r, long long timeout_s,
	size_t max, struct sandbox_result *res, struct cy_buf *status)
{
	struct pollfd p[3] = { { out_r, POLLIN, 0 }, { err_r, POLLIN, 0 }, { st_r, POLLIN, 0 } };
	int64_t deadline = cy_mono_ms() + timeout_s * 1000, grace_end = 0;
	bool timed_out = false, st_trunc = false;
	int open_n = 3, i, ms;

	while (open_n > 0) {
		int64_t now = cy_mono_ms();

		if (!timed_out && now >= deadline) {
			timed_out = true;
			kill(-r->pid, SIGKILL);
			kill(r->pid, SIGKILL);
			grace_end = now + KILL_GRACE_MS;
		}
		if (timed_out && now >= grace_end)
			break;
		ms = (int)((timed_out ? grace_end : deadline) - now);
		if (ms > 1000)
			ms = 1000;
		if (ms < 0)
			ms = 0;
		if (poll(p, 3, ms) < 0 && errno != EINTR)
			break;
		for (i = 0; i < 3; i++) {
			int eof;

			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (i == 0)
				eof = bwrap_drain(p[i].fd, &res->out, max, &res->trunc_out);
			else if (i == 1)
				eof = bwrap_drain(p[i].fd, &res->err, max, &res->trunc_err);
			else
				eof = bwrap_drain(p[i].fd, status, 4096, &st_trunc);
			if (eof) {
				p[i].fd = -1;
				open_n--;
			}
		}
	}
	return timed_out;
}

static int
bwrap_run(const struct sandbox_job *job, struct sandbox_result *res, struct cy_error *err)
{
	struct args a = { NULL, 0, 0 };
	struct cy_buf status = CY_BUF_INIT;
	struct running r = { NULL, NULL, -1, 0 };
	char path[4096];
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, stp[2] = { -1, -1 };
	int nullfd = -1, ws_fd = -1, job_fd = -1, sc_fd = -1, ret = -1, ws;
	bool timed_out;
	pid_t pid;

	memset(res, 0, sizeof(*res));
	res->out = (struct cy_buf)CY_BUF_INIT;
	res->err = (struct cy_buf)CY_BUF_INIT;
	if (bwrap_build(job, &a, err) < 0)
		goto out;
	snprintf(path, sizeof(path), "%s/workspace", job->job_dir);
	ws_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	snprintf(path, sizeof(path), "%s/job", job->job_dir);
	job_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (ws_fd < 0 || job_fd < 0) {
		cy_error_errno(err, "opening the job directory '%s'", job->job_dir);
		goto out;
	}
	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nullfd < 0 || pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
	    pipe2(stp, O_CLOEXEC) < 0) {
		cy_error_errno(err, "creating pipes");
		goto out;
	}
	sc_fd = bwrap_seccomp_fd(err);
	if (sc_fd < 0)
		goto out;
	res->started = time(NULL);
	pid = fork();
	if (pid < 0) {
		cy_error_errno(err, "fork");
		goto out;
	}
	if (pid == 0)
		bwrap_child(a.v, nullfd, outp[1], errp[1], stp[1], ws_fd, job_fd, sc_fd);
	close(outp[1]);
	close(errp[1]);
	close(stp[1]);
	outp[1] = errp[1] = stp[1] = -1;
	r.pid = pid;
	r.job_id = (char *)job->job_id;
	running_add(&r);
	timed_out = bwrap_wait_output(&r, outp[0], errp[0], stp[0], job->timeout_s,
		job->max_output, res, &status);
	if (timed_out) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
	}
	while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
		;
	running_del(&r);
	res->ended = time(NULL);
	if (timed_out) {
		res->status = SANDBOX_TIMEOUT;
		res->exit_code = -1;
	} else if (r.killed) {
		res->status = SANDBOX_FAILED;
		res->exit_code = -1;
		cy_buf_addstr(&res->err, "\njob killed by the node\n");
	} else if (!strstr(status.buf, "child-pid")) {
		struct cy_buf msg = CY_BUF_INIT;

		cy_buf_addstr(&msg, "sandbox launch failed: ");
		cy_buf_add(&msg, res->err.buf, res->err.len);
		if (WIFEXITED(ws) && WEXITSTATUS(ws) == 127 && !res->err.len)
			cy_buf_addstr(&msg, "cannot execute " BWRAP_PATH);
		cy_buf_release(&res->err);
		res->err = msg;
		res->status = SANDBOX_FAILED;
		res->exit_code = -1;
	} else if (WIFEXITED(ws)) {
		res->exit_code = WEXITSTATUS(ws);
		res->status = res->exit_code ? SANDBOX_FAILED : SANDBOX_COMPLETED;
	} else {
		res->exit_code = WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : -1;
		res->status = SANDBOX_FAILED;
	}
	ret = 0;
out:
	if (ret < 0) {
		cy_buf_release(&res->out);
		cy_buf_release(&res->err);
	}
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
		if (stp[i] >= 0)
			close(stp[i]);
	}
	if (nullfd >= 0)
		close(nullfd);
	if (ws_fd >= 0)
		close(ws_fd);
	if (job_fd >= 0)
		close(job_fd);
	if (sc_fd >= 0)
		close(sc_fd);
	cy_buf_release(&status);
	args_free(&a);
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
			r->killed = 1;
			kill(-r->pid, SIGKILL);
			kill(r->pid, SIGKILL);
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
		r->killed = 1;
		kill(-r->pid, SIGKILL);
		kill(r->pid, SIGKILL);
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
	job.task_id = job.job_id = "probe";
	job.argv = (char **)argv;
	job.job_dir = dir;
	job.timeout_s = 20;
	job.max_output = 4096;
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

const struct sandbox_runtime sandbox_bwrap = {
	.name = "bwrap",
	.probe = bwrap_probe,
	.run = bwrap_run,
	.kill = bwrap_kill,
	.kill_all = bwrap_kill_all,
};
