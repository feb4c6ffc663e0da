/*
 * Unit tests for node/sandbox-spawn.c: a child forked with a cgroup v2
 * directory starts in that cgroup (clone3 CLONE_INTO_CGROUP), one forked
 * without starts where its parent is, and either can exec.  Needs root
 * and a cgroup2 mount of its own (in a private mount namespace, so the
 * host's cgroup mounts, v1 or v2, are left alone); skipped otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "sandbox.h"
#include "tap.h"

static char root[64], grp[160];

/* The child's "0::" line of /proc/self/cgroup, read by the child itself. */
static int
child_cgroup(int cgroup_fd, bool *placed, char *line, size_t cap)
{
	int p[2], st = 0;
	ssize_t n;
	pid_t pid;

	if (pipe(p) < 0)
		return -1;
	pid = sb_fork_into(cgroup_fd, placed);
	if (pid == 0) {
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
		if (write(p[1], l, strcspn(l, "\n")) < 0)
			_exit(4);
		_exit(0);
	}
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
	ok(!placed, "without a cgroup fd the child is forked");
	is_str(line, l ? l : "", "and starts in its parent's cgroup");
}

static void
test_not_a_cgroup(void)
{
	char line[512];
	bool placed = true;
	int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);

	/* A directory that is no cgroup: refused by clone3, so a plain fork. */
	is_int(child_cgroup(fd, &placed, line, sizeof(line)), 0, "the child ran");
	ok(!placed, "a non-cgroup directory gives a plain fork");
	close(fd);
	/* clone3 itself still works for the next job. */
	fd = open(grp, O_PATH | O_DIRECTORY | O_CLOEXEC);
	is_int(child_cgroup(fd, &placed, line, sizeof(line)), 0, "the next child ran");
	ok(placed, "and was placed by clone3 again");
	close(fd);
}

int
main(void)
{
	if (geteuid() != 0)
		tap_skip_all("needs root for a cgroup2 mount");
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		tap_skip_all("no private mount namespace");
	xsnprintf(root, sizeof(root), "/tmp/cy-spawn-XXXXXX");
	if (!mkdtemp(root))
		tap_skip_all("no temporary directory");
	if (mount("cgroup2", root, "cgroup2", 0, NULL) < 0) {
		rmdir(root);
		tap_skip_all("no cgroup2 here");
	}
	xsnprintf(grp, sizeof(grp), "%s/cynode-spawn-test-%d", root, (int)getpid());
	if (mkdir(grp, 0755) < 0) {
		umount(root);
		rmdir(root);
		tap_skip_all("cannot make a cgroup");
	}
	{
		/* Linux before 5.7 (or a filter refusing clone3): nothing to test. */
		char line[512];
		bool placed = false;
		int fd = open(grp, O_PATH | O_DIRECTORY | O_CLOEXEC);

		if (fd < 0 || child_cgroup(fd, &placed, line, sizeof(line)) != 0 || !placed) {
			rmdir(grp);
			umount(root);
			rmdir(root);
			tap_skip_all("no clone3 with CLONE_INTO_CGROUP here");
		}
		close(fd);
	}
	RUN_TEST(test_into_cgroup);
	RUN_TEST(test_plain_fork);
	RUN_TEST(test_not_a_cgroup);
	rmdir(grp);
	umount(root);
	rmdir(root);
	return tap_done();
}
