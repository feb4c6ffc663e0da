/*
 * The per-user counter behind generated task names ("task-N"), its updates
 * combined: concurrent creates of one user in this process queue, and
 * whichever finds no update of that user running takes every waiting
 * request into one `seq = seq + k` and hands the numbers out in arrival
 * order.  The counter row's lock is then taken once per batch instead of
 * once per create, so creates of one user do not queue behind each other's
 * row lock (held until commit: a backend preempted or flushing WAL with it
 * held stalled them all).  Numbers stay dense and increasing within a
 * process; several replicas each take their own batches.
 */
#ifndef SERVER_TASK_COUNTER_H
#define SERVER_TASK_COUNTER_H

#include "error.h"

/* The next number of user_id's counter; 0 with err set on a database error. */
long long task_counter_next(const char *user_id, struct cy_error *err);

#endif
