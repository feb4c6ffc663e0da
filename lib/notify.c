/*
 * sd_notify(3) messages for Type=notify units (lib/notify.h).  Failures are
 * not errors: a service manager that does not listen changes nothing.
 */
#include <systemd/sd-daemon.h>
#include <time.h>

#include "notify.h"

#include "banned.h"

void
cy_notify_ready(const char *status)
{
	sd_notifyf(0, "READY=1\nSTATUS=%s", status ? status : "running");
}

void
cy_notify_reloading(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000ULL);
}

void
cy_notify_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}

void
cy_notify_watchdog(void)
{
	sd_notify(0, "WATCHDOG=1");
}

int64_t
cy_notify_watchdog_ms(void)
{
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return 0;
	return (int64_t)(usec / 2000) > 0 ? (int64_t)(usec / 2000) : 1;
}
