/*
 * The service manager's notification protocol (lib/notify.h), spoken
 * directly: one datagram of newline-separated KEY=VALUE assignments to the
 * AF_UNIX socket named by $NOTIFY_SOCKET, an absolute path or, with a
 * leading '@', an abstract name.  systemd documents this socket as an
 * interface to be reimplemented ("Interface Portability and Stability";
 * sd_notify(3) of systemd 256 and later carries a standalone sender for
 * daemons that should not link libsystemd), so the daemons do without
 * libsystemd and the compression and crypto libraries it loads.
 *
 * Failures are not errors: a service manager that does not listen changes
 * nothing.  The calls are cheap and rare (readiness, reloads, a keep-alive
 * every half watchdog period), so each opens and closes its own socket; no
 * state is shared between threads.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "notify.h"
#include "strnum.h"

#include "banned.h"

/* The address NOTIFY_SOCKET names, or -1 for none this protocol speaks. */
static int
notify_addr(const char *name, struct sockaddr_un *sa, socklen_t *len)
{
	size_t n;

	if (!name || (name[0] != '/' && name[0] != '@') || name[1] == '\0')
		return -1;
	n = strlen(name);
	/* A path needs its terminating NUL inside sun_path; an abstract name does not. */
	if (n > sizeof(sa->sun_path) - (name[0] == '/'))
		return -1;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, name, n);
	if (name[0] == '@')
		sa->sun_path[0] = '\0';
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (name[0] == '/'));
	return 0;
}

int
cy_notify_send(const char *msg)
{
	struct sockaddr_un sa;
	socklen_t len;
	size_t n = strlen(msg);
	ssize_t sent;
	int fd, saved = errno;

	if (notify_addr(getenv("NOTIFY_SOCKET"), &sa, &len) < 0)
		return 0;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		errno = saved;
		return -1;
	}
	do
		sent = sendto(fd, msg, n, MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
	while (sent < 0 && errno == EINTR);
	close(fd);
	errno = saved;
	return sent == (ssize_t)n ? 1 : -1;
}

void
cy_notify_ready(const char *status)
{
	char msg[512];

	cy_snprintf_clip(msg, sizeof(msg), "READY=1\nSTATUS=%s", status ? status : "running");
	(void)cy_notify_send(msg);
}

void
cy_notify_reloading(void)
{
	struct timespec ts;
	char msg[64];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	xsnprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000ULL);
	(void)cy_notify_send(msg);
}

void
cy_notify_stopping(void)
{
	(void)cy_notify_send("STOPPING=1");
}

void
cy_notify_watchdog(void)
{
	(void)cy_notify_send("WATCHDOG=1");
}

int64_t
cy_notify_watchdog_ms(void)
{
	const char *usec_s = getenv("WATCHDOG_USEC"), *pid_s = getenv("WATCHDOG_PID");
	long long usec, pid;

	if (cy_strtonum(usec_s, 1, LLONG_MAX, &usec, NULL) < 0)
		return 0;
	/* WATCHDOG_PID names the process the manager watches; a child that inherited it is not. */
	if (pid_s && (cy_strtonum(pid_s, 1, INT_MAX, &pid, NULL) < 0 || pid != (long long)getpid()))
		return 0;
	return usec / 2000 > 0 ? usec / 2000 : 1;
}
