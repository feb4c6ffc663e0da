/*
 * Unit tests for node/sandbox-spawn.c: a child forked with a cgroup v2
 * directory starts in that cgroup (clone3 CLONE_INTO_CGROUP), one started
 * without is a vfork (it shares the caller's memory until it execs) and
 * starts where its parent is, and either can exec.  The cgroup tests need
 * root and a cgroup2 mount of their own (in a private mount namespace, so
 * the host's cgroup mounts, v1 or v2, are left alone); skipped otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "sandbox.h"
#include "tap.h"

static char root[64], grp[160];

/* In the child: its "0::" line of /proc/self/cgroup, to the pipe *arg. */
static void
report_cgroup(const void *arg)
{
	int wfd = *(const int *)arg;
	char buf[4096];
	int fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
	ssize_t got = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	char *l;

	if (got <= 0)
		_exit(2);
	buf[got] = '\0';
	l = strstr(buf, "0::");
	if (!l)
		_exit(3);
	if (write(wfd, l, strcspn(l, "\n")) < 0)
		_exit(4);
	_exit(0);
}

/* The child's "0::" line of /proc/self/cgroup, read by the child itself. */
static int
child_cgroup(int cgroup_fd, bool *placed, char *line, size_t cap)
{
	int p[2], st = 0;
	ssize_t n;
	pid_t pid;

	if (pipe(p) < 0)
		return -1;
	pid = sb_spawn(cgroup_fd, placed, report_cgroup, &p[1]);
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return -1;
	}
	n = read(p[0], line, cap - 1);
	line[n > 0 ? n : 0] = '\0';
	close(p[0]);
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
test_into_cgroup(void)
{
	char line[512], want[200];
	bool placed = false;
	int fd;

	fd = open(grp, O_PATH | O_DIRECTORY | O_CLOEXEC);
	ok(fd >= 0, "the cgroup directory opens");
	is_int(child_cgroup(fd, &placed, line, sizeof(line)), 0, "the child ran");
	ok(placed, "the child was placed by clone3");
	xsnprintf(want, sizeof(want), "0::%s", strrchr(grp, '/'));
	is_str(line, want, "the child started in the cgroup");
	close(fd);
}

static void
test_plain_fork(void)
{
	char line[512], self[512];
	bool placed = true;
	int fd = open("/proc/self/cgroup", O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, self, sizeof(self) - 1) : -1;
	char *l;

	self[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
	l = strstr(self, "0::");
	if (l)
		l[strcspn(l, "\n")] = '\0';
	is_int(child_cgroup(-1, &placed, line, sizeof(line)), 0, "the child ran");
	ok(!placed, "without a cgroup fd the child is a vfork");
	is_str(line, l ? l : "", "and starts in its parent's cgroup");
}

/*
 * In the child: sets *arg's flag to 1, then 2 after a pause, then execs
 * (the parent sees the flag only through a vfork, and 2 only if it waited
 * for the exec).
 */
static void
set_flag_exec(const void *arg)
{
	static char *const argv[] = { "true", NULL }, *const envp[] = { NULL };
	struct timespec pause = { 0, 20 * 1000 * 1000 };

	*(volatile int *)arg = 1;
	syscall(SYS_nanosleep, &pause, NULL);
	*(volatile int *)arg = 2;
	execve("/bin/true", argv, envp);
	_exit(126);
}

static void
test_vfork_shares_and_execs(void)
{
	volatile int flag = 0;
	bool placed = true;
	int st = -1;
	pid_t pid = sb_spawn(-1, &placed, set_flag_exec, (const void *)&flag);

	ok(pid > 0, "the child started");
	ok(!placed, "not placed in a cgroup");
	is_int(flag, 2,
	    "the child ran in the caller's memory (vfork); the caller waited for its exec");
	ok(pid > 0 && waitpid(pid, &st, 0) == pid, "it is the caller's child");
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "and exec'd /bin/true");
}

/* In the child: returns without exec'ing (a bug in a child function). */
static void
just_return(const void *arg)
{
	(void)arg;
}

static void
test_child_that_returns(void)
{
	volatile long before = 0x5eed, after = 0xfeed;
	bool placed = true;
	int st = -1;
	pid_t pid = sb_spawn(-1, &placed, just_return, NULL);

	ok(pid > 0 && waitpid(pid, &st, 0) == pid, "the child ran");
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 127, "a child function that returns exits 127");
	ok(before == 0x5eed && after == 0xfeed, "and the caller's frame is intact");
}

/* A second thread, so glibc takes its multi-threaded paths (cancellation, locks). */
static void *
idle_thread(void *arg)
{
	(void)arg;
	pause();
	return NULL;
}

static void
test_not_a_cgroup(void)
{
	char line[512];
	bool placed = true;
	int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);

	/* A directory that is no cgroup: refused by clone3, so a vfork. */
	is_int(child_cgroup(fd, &placed, line, sizeof(line)), 0, "the child ran");
	ok(!placed, "a non-cgroup directory gives a vfork");
	close(fd);
	/* clone3 itself still works for the next job. */
	fd = open(grp, O_PATH | O_DIRECTORY | O_CLOEXEC);
	is_int(child_cgroup(fd, &placed, line, sizeof(line)), 0, "the next child ran");
	ok(placed, "and was placed by clone3 again");
	close(fd);
}

/* A cgroup2 mount and group of this test's own; a reason to skip, or NULL. */
static const char *
cgroup_setup(void)
{
	char line[512];
	bool placed = false;
	int fd;

	if (geteuid() != 0)
		return "needs root for a cgroup2 mount";
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return "no private mount namespace";
	xsnprintf(root, sizeof(root), "/tmp/cy-spawn-XXXXXX");
	if (!mkdtemp(root))
		return "no temporary directory";
	if (mount("cgroup2", root, "cgroup2", 0, NULL) < 0) {
		rmdir(root);
		return "no cgroup2 here";
	}
	xsnprintf(grp, sizeof(grp), "%s/cynode-spawn-test-%d", root, (int)getpid());
	if (mkdir(grp, 0755) < 0) {
		umount(root);
		rmdir(root);
		return "cannot make a cgroup";
	}
	/* Linux before 5.7 (or a filter refusing clone3): nothing to test. */
	fd = open(grp, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || child_cgroup(fd, &placed, line, sizeof(line)) != 0 || !placed) {
		if (fd >= 0)
			close(fd);
		rmdir(grp);
		umount(root);
		rmdir(root);
		return "no clone3 with CLONE_INTO_CGROUP here";
	}
	close(fd);
	return NULL;
}

int
main(void)
{
	const char *skip;
	pthread_t t;

	if (pthread_create(&t, NULL, idle_thread, NULL) != 0)
		tap_skip_all("no second thread");
	RUN_TEST(test_vfork_shares_and_execs);
	RUN_TEST(test_child_that_returns);
	if ((skip = cgroup_setup()) != NULL) {
		printf("# cgroup tests skipped: %s\n", skip);
		return tap_done();
	}
	RUN_TEST(test_into_cgroup);
	RUN_TEST(test_plain_fork);
	RUN_TEST(test_not_a_cgroup);
	rmdir(grp);
	umount(root);
	rmdir(root);
	return tap_done();
}
