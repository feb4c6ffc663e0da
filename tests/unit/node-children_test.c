/*
 * Unit tests for node/children.c: the node's own children (registered
 * until their starter waits) are never swept; an adopted orphan that is a
 * zombie is reaped at its second sighting; a live child is left alone; and
 * sb_reap_inner leaves a pid that is an owned child to its starter.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "children.h"
#include "sandbox.h"
#include "tap.h"

static void
nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* A child of a child that exits first: adopted by us, the subreaper. */
static pid_t
orphan(long life_ms)
{
	int p[2], ws;
	pid_t mid, g = -1;

	if (pipe(p) < 0)
		exit(1);
	mid = fork();
	if (mid == 0) {
		g = fork();
		if (g == 0) {
			/* A name that would fool a parser reading up to the first ')'. */
			prctl(PR_SET_NAME, "x) Z 1 (", 0, 0, 0);
			nap_ms(life_ms);
			_exit(0);
		}
		(void)!write(p[1], &g, sizeof(g));
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &g, sizeof(g)) != (ssize_t)sizeof(g))
		exit(1);
	close(p[0]);
	waitpid(mid, &ws, 0);
	return g;
}

/* Whether pid is our zombie, without reaping it. */
static int
zombie(pid_t pid)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid;
}

static void
test_owned(void)
{
	pid_t fake[100];
	int i, all = 1;

	for (i = 0; i < 100; i++) {
		fake[i] = 4000000 + i;
		node_child_own(fake[i]);
	}
	for (i = 0; i < 100; i++)
		all &= node_child_owned(fake[i]);
	ok(all, "a hundred owned pids are all known");
	for (i = 0; i < 100; i += 2)
		node_child_done(fake[i]);
	ok(!node_child_owned(fake[0]) && node_child_owned(fake[1]) && !node_child_owned(fake[98]) &&
		node_child_owned(fake[99]),
	    "done forgets just those");
	for (i = 1; i < 100; i += 2)
		node_child_done(fake[i]);
	ok(!node_child_owned(fake[99]), "and all once done");
	node_child_own(0);
	node_child_own(-1);
	ok(!node_child_owned(0) && !node_child_owned(-1), "no pid 0 or -1");
}

static void
test_sweep(void)
{
	pid_t g, mine;
	int ws, n1, n2, i;

	sb_reap_adopt();
	/* Ours, exited: its starter waits for it, the sweep must not. */
	mine = fork();
	if (mine == 0)
		_exit(7);
	node_child_own(mine);
	g = orphan(10);
	for (i = 0; i < 500 && !zombie(g); i++)
		nap_ms(10);
	ok(zombie(g), "the orphan (named \"x) Z 1 (\") is our zombie");
	n1 = node_children_sweep();
	ok(n1 == 0 && zombie(g), "first sighting: left");
	n2 = node_children_sweep();
	ok(n2 == 1, "second sighting: reaped (%d)", n2);
	ok(waitpid(g, &ws, WNOHANG) < 0, "the orphan is gone");
	ok(node_children_sweep() == 0, "nothing more to reap");
	ok(waitpid(mine, &ws, 0) == mine && WIFEXITED(ws) && WEXITSTATUS(ws) == 7,
	    "the owned child's status is still its starter's");
	node_child_done(mine);
}

static void
test_inner_owned(void)
{
	struct rusage ru;
	pid_t pid;
	int ws;

	pid = fork();
	if (pid == 0)
		_exit(3);
	node_child_own(pid);
	nap_ms(50);
	memset(&ru, 0, sizeof(ru));
	sb_reap_inner(pid, &ru, true);
	ok(waitpid(pid, &ws, 0) == pid && WEXITSTATUS(ws) == 3,
	    "sb_reap_inner leaves an owned child to its starter");
	node_child_done(pid);
}

int
main(void)
{
	signal(SIGCHLD, SIG_DFL);
	test_owned();
	test_sweep();
	test_inner_owned();
	return tap_done();
}
