/*
 * The service manager's notifications (the sd_notify(3) protocol): ready
 * once the listeners answer, reloading and ready again around a SIGHUP,
 * stopping on the way out, and the watchdog's keep-alive.  Without
 * NOTIFY_SOCKET (not under systemd) every call does nothing.
 */
#ifndef CY_NOTIFY_H
#define CY_NOTIFY_H

#include <stdint.h>

/*
 * One message ("READY=1\nSTATUS=...") to $NOTIFY_SOCKET: 1 when sent, 0 when
 * no usable socket is named (unset, empty, relative, too long), -1 when the
 * send failed.  errno is left as it was.
 */
int cy_notify_send(const char *msg);

/* READY=1 with a STATUS= line naming what runs. */
void cy_notify_ready(const char *status);
/* RELOADING=1 (with MONOTONIC_USEC, as Type=notify-reload wants). */
void cy_notify_reloading(void);
/* STOPPING=1. */
void cy_notify_stopping(void);
/* WATCHDOG=1. */
void cy_notify_watchdog(void);
/*
 * How often to send WATCHDOG=1 in ms (half of WATCHDOG_USEC, WatchdogSec=),
 * or 0 when no watchdog runs: WATCHDOG_USEC unset, not a positive number, or
 * WATCHDOG_PID naming another process.
 */
int64_t cy_notify_watchdog_ms(void);

#endif
