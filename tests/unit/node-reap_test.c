/*
 * Unit tests for node/sandbox-reap.c: the pid in bwrap's first status line
 * (good lines, garbage, a forged second line), and reaping an orphaned
 * grandchild with its CPU time added to the caller's rusage, one that
 * outlives the wait or is not waited for reaped by a later call.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "sandbox.h"
#include "tap.h"

static pid_t
status_pid(const char *text)
{
	struct cy_buf b = CY_BUF_INIT;
	pid_t pid;

	cy_buf_addstr(&b, text);
	pid = sb_reap_status_pid(&b);
	cy_buf_release(&b);
	return pid;
}

static void
test_status_pid(void)
{
	ok(status_pid("{ \"child-pid\": 4242 }\n{ \"exit-code\": 0 }\n") == 4242,
	    "first line's pid");
	ok(status_pid("{ \"child-pid\": 4242, \"cgroup-namespace\": 4026531835 }\n") == 4242,
	    "with the namespace ids bwrap adds");
	ok(status_pid("{ \"child-pid\": 4242 }") == 4242, "without a newline yet");
	ok(status_pid("") == -1, "empty: none");
	ok(status_pid("\n{ \"child-pid\": 4242 }\n") == -1, "an empty first line: none");
	ok(status_pid("{ \"exit-code\": 1 }\n{ \"child-pid\": 4242 }\n") == -1,
	    "a pid on a later line (the job's own writing) is not taken");
	ok(status_pid("{ \"child-pid\": \"4242\" }\n") == -1, "a string: none");
	ok(status_pid("{ \"child-pid\": 1 }\n") == -1, "pid 1: none");
	ok(status_pid("{ \"child-pid\": 0 }\n") == -1, "pid 0: none");
	ok(status_pid("{ \"child-pid\": -5 }\n") == -1, "negative: none");
	ok(status_pid("{ \"child-pid\": 99999999999 }\n") == -1, "too large: none");
	ok(status_pid("{ \"child-pid\": 4242.5 }\n") == -1, "a fraction: none");
	ok(status_pid("[4242]\n") == -1, "not an object: none");
	ok(status_pid("{ \"child-pid\": 4242 \n") == -1, "cut short: none");
	ok(status_pid("\xff\xfe{}\n") == -1, "binary: none");
}

/* A child that runs until *hold (the write end it returns) is closed. */
static pid_t
held_child(int *hold)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe(p) < 0)
		exit(1);
	pid = fork();
	if (pid == 0) {
		close(p[1]);
		(void)!read(p[0], &c, 1);
		_exit(0);
	}
	close(p[0]);
	*hold = p[1];
	return pid;
}

/* Calls sb_reap_pending until pid is gone (5 s at most). */
static void
reap_until_gone(pid_t pid)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int i;

	for (i = 0; i < 500 && kill(pid, 0) == 0; i++) {
		nanosleep(&ts, NULL);
		sb_reap_pending();
	}
}

/* Burns about ms of CPU time. */
static void
burn(long ms)
{
	struct timespec a, b;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
	do
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
	while ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < ms);
}

/*
 * What bwrap does: a child whose own child (the sandbox's PID 1) outlives
 * it.  The grandchild burns CPU, so it shows in the usage only when it is
 * reaped by us.
 */
static void
test_reap_orphan(void)
{
	struct rusage ru;
	int p[2], ws;
	pid_t mid, inner = -1;

	sb_reap_adopt();
	if (pipe(p) < 0)
		exit(1);
	mid = fork();
	if (mid == 0) {
		int q[2];
		pid_t g;
		char c;

		if (pipe(q) < 0)
			_exit(1);
		g = fork();
		if (g == 0) {
			struct timespec ts = { 0, 20 * 1000 * 1000 };

			/* The command's work, its status to the outer, then its exit. */
			burn(150);
			(void)!write(q[1], "x", 1);
			nanosleep(&ts, NULL);
			_exit(0);
		}
		(void)!write(p[1], &g, sizeof(g));
		(void)!read(q[0], &c, 1);
		_exit(0);
	}
	close(p[1]);
	ok(read(p[0], &inner, sizeof(inner)) == (ssize_t)sizeof(inner), "the inner pid");
	close(p[0]);
	memset(&ru, 0, sizeof(ru));
	ok(wait4(mid, &ws, 0, &ru) == mid, "the outer exits first");
	ok(ru.ru_utime.tv_sec * 1000 + ru.ru_utime.tv_usec / 1000 < 100,
	    "its own usage lacks the inner's");
	sb_reap_inner(inner, &ru, true);
	ok(ru.ru_utime.tv_sec * 1000 + ru.ru_utime.tv_usec / 1000 + ru.ru_stime.tv_sec * 1000 +
		    ru.ru_stime.tv_usec / 1000 >=
		100,
	    "the inner's CPU is added once it is reaped");
	ok(waitpid(inner, &ws, WNOHANG) < 0, "and it is gone (no zombie left)");
}

/* One that outlives the wait is reaped by a later call. */
static void
test_reap_later(void)
{
	struct rusage ru;
	int p[2], hold[2], ws;
	pid_t mid, inner = -1;

	if (pipe(p) < 0 || pipe(hold) < 0)
		exit(1);
	mid = fork();
	if (mid == 0) {
		pid_t g = fork();
		char c;

		if (g == 0) {
			/* Runs until the test closes hold[1]. */
			close(hold[1]);
			(void)!read(hold[0], &c, 1);
			_exit(0);
		}
		(void)!write(p[1], &g, sizeof(g));
		_exit(0);
	}
	close(p[1]);
	close(hold[0]);
	ok(read(p[0], &inner, sizeof(inner)) == (ssize_t)sizeof(inner), "the slow inner pid");
	close(p[0]);
	waitpid(mid, &ws, 0);
	memset(&ru, 0, sizeof(ru));
	sb_reap_inner(inner, &ru, true);
	ok(kill(inner, 0) == 0 && waitpid(inner, &ws, WNOHANG) == 0,
	    "still running after the wait: left pending");
	close(hold[1]);
	reap_until_gone(inner);
	ok(waitpid(inner, &ws, WNOHANG) < 0 && kill(inner, 0) < 0, "a later call reaped it");
	{
		struct rusage before = ru;

		sb_reap_inner(getppid(), &ru, true); /* alive, not ours: nothing happens */
		ok(!memcmp(&before, &ru, sizeof(ru)) && kill(getppid(), 0) == 0,
		    "a pid that is not a child is left alone at once");
	}
}

/* Without wait, one still running is not waited for, and the heartbeat's call reaps it. */
static void
test_no_wait(void)
{
	struct rusage ru, before;
	int hold, ws;
	pid_t pid = held_child(&hold);

	memset(&ru, 0, sizeof(ru));
	before = ru;
	sb_reap_inner(pid, &ru, false);
	ok(!memcmp(&before, &ru, sizeof(ru)) && kill(pid, 0) == 0,
	    "not waited for: left running, usage untouched");
	sb_reap_pending();
	ok(kill(pid, 0) == 0, "the sweep leaves it while it runs");
	close(hold);
	reap_until_gone(pid);
	ok(waitpid(pid, &ws, WNOHANG) < 0 && kill(pid, 0) < 0, "and reaps it once it has exited");
}

int
main(void)
{
	signal(SIGCHLD, SIG_DFL);
	test_status_pid();
	test_reap_orphan();
	test_reap_later();
	test_no_wait();
	return tap_done();
}
