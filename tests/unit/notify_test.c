/*
 * Unit tests for lib/notify.c: the service manager's datagrams, received on
 * real AF_UNIX sockets the way systemd's manager receives them (SOCK_DGRAM,
 * SO_PASSCRED for NotifyAccess=main), and the watchdog's environment.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "notify.h"
#include "tap.h"

/* A datagram socket bound at path (abstract when it starts with '@'), passing credentials. */
static int
listener(const char *name)
{
	struct sockaddr_un sa;
	socklen_t len;
	size_t n = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0 || n > sizeof(sa.sun_path) - (name[0] != '@'))
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, name, n);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (name[0] != '@'));
	if (bind(fd, (struct sockaddr *)&sa, len) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The next datagram, without waiting; "" when none; the sender's pid in *pid. */
static const char *
receive(int fd, pid_t *pid)
{
	static char buf[1024];
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(struct ucred))];
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
	struct msghdr mh = { .msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = &ctl,
		.msg_controllen = sizeof(ctl) };
	struct cmsghdr *c;
	ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);

	*pid = 0;
	if (n < 0)
		return "";
	buf[n] = '\0';
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
			struct ucred uc;

			memcpy(&uc, CMSG_DATA(c), sizeof(uc));
			*pid = uc.pid;
		}
	return buf;
}

static void
test_path_socket(void)
{
	char dir[] = "/tmp/cy-notify-XXXXXX", path[128];
	pid_t pid;
	int fd;

	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return;
	}
	xsnprintf(path, sizeof(path), "%s/notify", dir);
	fd = listener(path);
	ok(fd >= 0, "listener bound at a path");
	setenv("NOTIFY_SOCKET", path, 1);

	cy_notify_ready("serving");
	is_str(receive(fd, &pid), "READY=1\nSTATUS=serving", "READY with STATUS");
	is_int(pid, getpid(), "the kernel names this process as the sender (NotifyAccess=main)");
	cy_notify_ready(NULL);
	is_str(receive(fd, &pid), "READY=1\nSTATUS=running", "READY without a status says running");
	cy_notify_stopping();
	is_str(receive(fd, &pid), "STOPPING=1", "STOPPING");
	cy_notify_watchdog();
	is_str(receive(fd, &pid), "WATCHDOG=1", "WATCHDOG");
	{
		struct timespec t0, t1;
		unsigned long long us = 0, lo, hi;
		const char *m;
		char tail = 0;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		cy_notify_reloading();
		clock_gettime(CLOCK_MONOTONIC, &t1);
		lo = (unsigned long long)t0.tv_sec * 1000000ULL +
		     (unsigned long long)t0.tv_nsec / 1000;
		hi = (unsigned long long)t1.tv_sec * 1000000ULL +
		     (unsigned long long)t1.tv_nsec / 1000;
		m = receive(fd, &pid);
		ok(sscanf(m, "RELOADING=1\nMONOTONIC_USEC=%llu%c", &us, &tail) == 1,
		    "RELOADING=1 and MONOTONIC_USEC, nothing after");
		ok(us >= lo && us <= hi, "MONOTONIC_USEC is CLOCK_MONOTONIC in microseconds");
		if (us < lo || us > hi)
			printf("#   got %llu, want %llu..%llu\n", us, lo, hi);
	}
	errno = EBADF;
	is_int(cy_notify_send("X=1"), 1, "send says it was sent");
	is_int(errno, EBADF, "errno is left as it was after a send");
	(void)receive(fd, &pid);
	{
		char status[700];
		const char *m;
		size_t len;

		memset(status, 's', sizeof(status) - 1);
		status[sizeof(status) - 1] = '\0';
		cy_notify_ready(status);
		m = receive(fd, &pid);
		len = strlen(m);
		ok(!strncmp(m, "READY=1\nSTATUS=sss", 18) && len == 511 &&
			!strcmp(m + len - 3, "..."),
		    "an over-long STATUS is cut, visibly, into one 512-byte message");
	}

	close(fd);
	unlink(path);
	errno = EBADF;
	is_int(cy_notify_send("READY=1"), -1, "a socket nobody listens on fails the send");
	is_int(errno, EBADF, "errno is left as it was");
	rmdir(dir);
}

static void
test_abstract_socket(void)
{
	char name[64];
	pid_t pid;
	int fd;

	xsnprintf(name, sizeof(name), "@cy-notify-test-%ld", (long)getpid());
	fd = listener(name);
	ok(fd >= 0, "listener bound at an abstract name");
	setenv("NOTIFY_SOCKET", name, 1);
	cy_notify_ready("registered");
	is_str(receive(fd, &pid), "READY=1\nSTATUS=registered",
	    "abstract '@' names reach the listener");
	close(fd);
}

/* The longest names that fit, bound for real: the address must be exact to arrive. */
static void
test_longest_names(void)
{
	char dir[] = "/tmp/cy-notify-XXXXXX", name[128];
	size_t n;
	pid_t pid;
	int fd;

	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return;
	}
	/* A path of 107 bytes: with its NUL, all of sun_path. */
	n = strlen(dir);
	memcpy(name, dir, n);
	name[n] = '/';
	memset(name + n + 1, 'p', 107 - n - 1);
	name[107] = '\0';
	fd = listener(name);
	ok(fd >= 0, "listener at a 107-byte path");
	setenv("NOTIFY_SOCKET", name, 1);
	is_int(cy_notify_send("READY=1"), 1, "sent to the 107-byte path");
	is_str(receive(fd, &pid), "READY=1", "and it arrived");
	close(fd);
	unlink(name);
	rmdir(dir);

	/* An abstract name of 108 bytes: '@' (the leading NUL) and 107 more, no NUL after. */
	memset(name, 'a', 108);
	name[0] = '@';
	xsnprintf(name + 1, 20, "%ld-", (long)getpid());
	name[strlen(name)] = 'a';
	name[108] = '\0';
	fd = listener(name);
	ok(fd >= 0, "listener at a 108-byte abstract name");
	setenv("NOTIFY_SOCKET", name, 1);
	is_int(cy_notify_send("STOPPING=1"), 1, "sent to the 108-byte abstract name");
	is_str(receive(fd, &pid), "STOPPING=1", "and it arrived");
	close(fd);
	unsetenv("NOTIFY_SOCKET");
}

static void
test_unusable_names(void)
{
	char longname[200];

	unsetenv("NOTIFY_SOCKET");
	is_int(cy_notify_send("READY=1"), 0, "unset: nothing to do");
	setenv("NOTIFY_SOCKET", "", 1);
	is_int(cy_notify_send("READY=1"), 0, "empty: nothing to do");
	setenv("NOTIFY_SOCKET", "run/notify", 1);
	is_int(cy_notify_send("READY=1"), 0, "relative path refused");
	setenv("NOTIFY_SOCKET", "@", 1);
	is_int(cy_notify_send("READY=1"), 0, "'@' alone refused");
	setenv("NOTIFY_SOCKET", "/", 1);
	is_int(cy_notify_send("READY=1"), 0, "'/' alone refused");
	setenv("NOTIFY_SOCKET", "vsock:2:1234", 1);
	is_int(cy_notify_send("READY=1"), 0, "a vsock address is not spoken");

	/* sun_path holds 108 bytes: a path of 107 and its NUL fit, 108 does not. */
	memset(longname, 'a', sizeof(longname));
	longname[0] = '/';
	longname[107] = '\0';
	setenv("NOTIFY_SOCKET", longname, 1);
	is_int(cy_notify_send("READY=1"), -1, "a 107-byte path is tried (and is not there)");
	longname[107] = 'a';
	longname[108] = '\0';
	setenv("NOTIFY_SOCKET", longname, 1);
	is_int(cy_notify_send("READY=1"), 0, "a 108-byte path does not fit");
	/* An abstract name needs no NUL: '@' plus 107 fits, plus 108 does not. */
	longname[0] = '@';
	setenv("NOTIFY_SOCKET", longname, 1);
	is_int(cy_notify_send("READY=1"), -1, "a 108-byte abstract name is tried");
	longname[108] = 'a';
	longname[109] = '\0';
	setenv("NOTIFY_SOCKET", longname, 1);
	is_int(cy_notify_send("READY=1"), 0, "a 109-byte abstract name does not fit");
	unsetenv("NOTIFY_SOCKET");
}

static void
test_watchdog(void)
{
	char pid[24];

	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	is_int(cy_notify_watchdog_ms(), 0, "no WATCHDOG_USEC: no watchdog");
	setenv("WATCHDOG_USEC", "30000000", 1);
	is_int(cy_notify_watchdog_ms(), 15000, "half of WatchdogSec=30s");
	setenv("WATCHDOG_USEC", "1000", 1);
	is_int(cy_notify_watchdog_ms(), 1, "a sub-millisecond half rounds up to 1 ms");
	xsnprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	setenv("WATCHDOG_USEC", "20000000", 1);
	is_int(cy_notify_watchdog_ms(), 10000, "WATCHDOG_PID naming this process");
	xsnprintf(pid, sizeof(pid), "%ld", (long)getpid() + 1);
	setenv("WATCHDOG_PID", pid, 1);
	is_int(cy_notify_watchdog_ms(), 0,
	    "WATCHDOG_PID naming another process (an inherited environment)");
	setenv("WATCHDOG_PID", "self", 1);
	is_int(cy_notify_watchdog_ms(), 0, "garbage WATCHDOG_PID");
	unsetenv("WATCHDOG_PID");
	setenv("WATCHDOG_USEC", "0", 1);
	is_int(cy_notify_watchdog_ms(), 0, "zero");
	setenv("WATCHDOG_USEC", "-5", 1);
	is_int(cy_notify_watchdog_ms(), 0, "negative");
	setenv("WATCHDOG_USEC", "10s", 1);
	is_int(cy_notify_watchdog_ms(), 0, "trailing garbage");
	setenv("WATCHDOG_USEC", "99999999999999999999999", 1);
	is_int(cy_notify_watchdog_ms(), 0, "overflow");
	unsetenv("WATCHDOG_USEC");
}

int
main(void)
{
	RUN_TEST(test_path_socket);
	RUN_TEST(test_abstract_socket);
	RUN_TEST(test_longest_names);
	RUN_TEST(test_unusable_names);
	RUN_TEST(test_watchdog);
	return tap_done();
}
