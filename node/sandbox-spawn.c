/*
 * Forking a sandbox's launcher straight into the job's cgroup.
 *
 * Moving a process into a cgroup (a pid written to cgroup.procs) takes
 * the kernel's global threadgroup lock for writing, which waits for an RCU
 * grace period: 6-25 ms a job on the development VM, most of a sandbox's
 * start when the machine is quiet.  On cgroup v2, clone3(2) with
 * CLONE_INTO_CGROUP (Linux 5.7) starts the child in the cgroup instead,
 * with no move.  (On v1 the child joins through each hierarchy's `tasks`
 * file, which moves only itself and skips that lock: sandbox-cgroup.c.)
 *
 * glibc has no clone3 wrapper, so the call is raw and without CLONE_VM:
 * the child is a copy like fork(2)'s, but glibc's own fork bookkeeping
 * (atfork handlers, its thread list) did not run, so the child must keep
 * to plain system calls until it execs; bwrap_child does (its uid change
 * goes through syscall(2), not glibc's all-threads setuid).
 *
 * Without clone3 into a cgroup (cgroup v1, no cgroup) the child is a
 * vfork(2): it borrows the node's memory until it execs instead of
 * copying it.  A fork would copy the page tables of the whole daemon (a
 * few hundred mappings: thread stacks, some forty libraries) for the exec
 * to throw away, and the daemon's next writes would take copy-on-write
 * faults: 9% of the machine's CPU in a profile of the end-to-end bench,
 * about 1 ms a job.  The child writes only its own stack frames below the
 * suspended caller's, and errno (sandbox.h; bwrap_child makes raw system
 * calls where glibc's would keep state), the node installs no signal handlers
 * (its signals are blocked and taken with sigtimedwait), so none can run
 * in the child, and the child's signal(SIGPIPE) acts on its own copy of
 * the dispositions (no CLONE_SIGHAND).  vfork is called here and the
 * child never returns from this function: a child returning from the
 * caller of vfork would overwrite the frame the parent resumes in.
 */
#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox.h"
#include "banned.h"

/* Set once the kernel or a seccomp filter has refused clone3 itself. */
static int clone3_off;

pid_t
sb_spawn(int cgroup_fd, bool *placed, sb_child_fn child, const void *arg)
{
	pid_t pid;

#ifdef SYS_clone3
	if (cgroup_fd >= 0 && !__atomic_load_n(&clone3_off, __ATOMIC_RELAXED)) {
		struct clone_args a;

		memset(&a, 0, sizeof(a));
		a.flags = CLONE_INTO_CGROUP;
		a.exit_signal = SIGCHLD;
		a.cgroup = (uint64_t)cgroup_fd;
		pid = syscall(SYS_clone3, &a, sizeof(a));
		if (pid >= 0) {
			*placed = true;
			if (pid == 0) {
				child(arg);
				_exit(127);
			}
			return (pid_t)pid;
		}
		/*
		 * No clone3 (before Linux 5.3, or a container's seccomp profile
		 * answering EPERM): not tried again.  Any refusal falls back to
		 * a fork whose child joins the group by pid, which reports a
		 * group it cannot join as the launch's failure.
		 */
		if (errno == ENOSYS || errno == EPERM || errno == E2BIG)
			__atomic_store_n(&clone3_off, 1, __ATOMIC_RELAXED);
	}
#endif
	*placed = false;
	pid = vfork();
	if (pid == 0) {
		child(arg);
		_exit(127);
	}
	return pid;
}
