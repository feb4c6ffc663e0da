/*
 * Long-poll waits on tasks without holding an HTTP thread: a handler that
 * finds its tasks still open parks its request here (suspended in
 * lib/httpd.c) and is run again when one of them closes (or, for the
 * follow of its logs, gets new log bytes) or its deadline passes.  Task closures come from this
 * process (dispatcher, cancel) and, for the other replicas, from the cynode_task_closed NOTIFY
 * channel.
 *
 * Use: seq = task_wait_seq(); read the tasks; if they are open,
 * task_wait_park(req, ids, n, seq, deadline) and return without a response.
 * A closure between the read and the park is not lost (the seq says so).
 */
#ifndef SERVER_TASK_WAIT_H
#define SERVER_TASK_WAIT_H

#include <stddef.h>
#include <stdint.h>

#include "httpd.h"

/* Starts the deadline thread; 0 or -1. */
int task_wait_start(void);
/* Wakes every parked request for good (before the listeners stop). */
void task_wait_stop(void);
/* True once task_wait_stop() ran: handlers answer at once. */
int task_wait_stopping(void);

/* The closure sequence number, read before checking the tasks. */
uint64_t task_wait_seq(void);
/* Task `task_id` closed: wakes the requests waiting on it. */
void task_wait_closed(const char *task_id);
/*
 * Task `task_id` has new log bytes: wakes the requests waiting on it too
 * (a follow long poll answers them; the others look and park again).
 */
void task_wait_logs(const char *task_id);
/*
 * Suspends req until one of the n task ids closes after `seq`, or
 * `deadline_ms` (cy_mono_ms clock) passes; then the handler runs again.
 */
void task_wait_park(struct cy_http_req *req, const char *const *ids, size_t n, uint64_t seq,
    int64_t deadline_ms);
/* Wakes every parked request once (closures may have been missed). */
void task_wait_kick_all(void);
/* Parked requests now (for tests and metrics). */
size_t task_wait_parked(void);

#endif
