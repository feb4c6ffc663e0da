/*
 * A few network namespaces made ahead of the jobs that will use them.
 *
 * A job without network gets a network namespace of its own; making one
 * (the kernel registers its loopback device, sysctl tables and per-netns
 * state) is, in a profile, an eighth of bubblewrap's work per job.  On a node
 * running as root, a thread keeps `sandbox.netns_pool` fresh namespaces
 * ready, each with its loopback up as bubblewrap would leave it, and a
 * launch takes one: the sandbox's child process enters it with setns(2)
 * before it drops root and starts bwrap, and bwrap keeps it
 * (--share-net) instead of making one.  Each namespace serves one job and
 * goes with it: nothing in it is shared with another job or the host (not
 * even abstract Unix sockets, which belong to a network namespace), and it
 * is owned by the host's user namespace, so the job, in a user namespace
 * of its own, has no capability over it.  An empty pool, a node that is
 * not root, or a pool that failed (logged once) leaves bwrap to make the
 * namespace.  The pool is opt-in (sandbox.netns_pool defaults to 0): on a
 * 2-core machine a pool of 2 saved a lone job about 1 ms of its sandbox
 * but made a run of 2,000 jobs slower and cost more CPU per job.
 *
 * The thread makes them in itself: a thread's network namespace is its
 * own (unshare(CLONE_NEWNET) moves only the caller), so it unshares,
 * keeps an fd of /proc/thread-self/ns/net, brings lo up, and goes back to
 * the node's namespace with setns(2).
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"
#include "banned.h"

#define NETNS_POOL_MAX 64

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cond = PTHREAD_COND_INITIALIZER;
static pthread_t pool_thread;
static int pool_fds[NETNS_POOL_MAX];
static int pool_n, pool_size;
static bool pool_running, pool_stopping, pool_joinable;
static long long pool_taken, pool_missed;

/* Brings the loopback device of the calling thread's namespace up. */
static int
netns_lo_up(void)
{
	struct ifreq ifr;
	int s, rc = -1;

	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "lo", 3);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		rc = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	close(s);
	return rc;
}

/* A new namespace's fd, this thread back in `home` afterwards; -1 with errno. */
static int
netns_make(int home)
{
	int fd, e;

	if (unshare(CLONE_NEWNET) < 0)
		return -1;
	fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	e = errno;
	if (fd >= 0 && netns_lo_up() < 0) {
		e = errno;
		close(fd);
		fd = -1;
	}
	if (setns(home, CLONE_NEWNET) < 0) {
		e = errno;
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	errno = e;
	return fd;
}

static void *
netns_pool_main(void *arg)
{
	int home, fd, e;

	(void)arg;
	home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (home < 0)
		cy_log_warn("netns_pool_failed", "error", strerror(errno), "fallback",
		    "bubblewrap makes each job's network namespace", NULL);
	pthread_mutex_lock(&pool_lock);
	while (!pool_stopping && home >= 0) {
		if (pool_n >= pool_size) {
			pthread_cond_wait(&pool_cond, &pool_lock);
			continue;
		}
		pthread_mutex_unlock(&pool_lock);
		fd = netns_make(home);
		e = errno;
		pthread_mutex_lock(&pool_lock);
		if (fd < 0) {
			cy_log_warn("netns_pool_failed", "error", strerror(e), "fallback",
			    "bubblewrap makes each job's network namespace", NULL);
			break;
		}
		if (pool_stopping || pool_n >= NETNS_POOL_MAX) {
			close(fd);
			continue;
		}
		pool_fds[pool_n++] = fd;
	}
	pool_running = false;
	/* A pool that failed is off: launches no longer count it as empty. */
	if (!pool_stopping)
		pool_size = 0;
	pthread_mutex_unlock(&pool_lock);
	if (home >= 0)
		close(home);
	return NULL;
}

void
netns_pool_start(int size)
{
	sigset_t all, old;
	int rc;

	if (size <= 0 || geteuid() != 0)
		return;
	pthread_mutex_lock(&pool_lock);
	if (pool_running || pool_joinable) {
		/* Started once: a pool that failed stays off (it said why). */
		pthread_mutex_unlock(&pool_lock);
		return;
	}
	pool_size = size < NETNS_POOL_MAX ? size : NETNS_POOL_MAX;
	pool_stopping = false;
	/*
	 * Every signal blocked in the thread from its first instruction (it
	 * inherits this mask): SIGTERM and SIGHUP are for the threads that wait
	 * for them, and one delivered here would end the process.
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pool_running = true;
	rc = pthread_create(&pool_thread, NULL, netns_pool_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pool_running = pool_joinable = rc == 0;
	pthread_mutex_unlock(&pool_lock);
	if (rc != 0)
		cy_log_warn("netns_pool_failed", "error", strerror(rc), NULL);
}

int
netns_pool_take(void)
{
	int fd = -1;

	pthread_mutex_lock(&pool_lock);
	if (pool_n > 0) {
		fd = pool_fds[--pool_n];
		pool_taken++;
		pthread_cond_signal(&pool_cond);
	} else if (pool_size > 0) {
		pool_missed++;
	}
	pthread_mutex_unlock(&pool_lock);
	return fd;
}

void
netns_pool_counts(long long *taken, long long *missed)
{
	pthread_mutex_lock(&pool_lock);
	*taken = pool_taken;
	*missed = pool_missed;
	pthread_mutex_unlock(&pool_lock);
}

void
netns_pool_stop(void)
{
	bool join;

	pthread_mutex_lock(&pool_lock);
	pool_stopping = true;
	join = pool_joinable;
	pool_joinable = false;
	pthread_cond_broadcast(&pool_cond);
	pthread_mutex_unlock(&pool_lock);
	if (join)
		pthread_join(pool_thread, NULL);
	pthread_mutex_lock(&pool_lock);
	while (pool_n > 0)
		close(pool_fds[--pool_n]);
	pool_size = 0;
	pthread_mutex_unlock(&pool_lock);
}
