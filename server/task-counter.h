/*
 * The per-user counter behind generated task names ("task-N"), its updates
 * combined: concurrent creates of one user in this process queue, and
 * whichever finds no update of that user running takes every waiting
 * request into one `seq = seq + k` and hands the numbers out in arrival
 * order.  The counter row's lock is then taken once per batch instead of
 * once per create, so creates of one user do not queue behind each other's
 * row lock (held until commit: a backend preempted or flushing WAL with it
 * held stalled them all).  No number is handed out twice; a batch whose
 * update failed leaves its followers to take a number each on their own
 * connection, and a gap where its numbers were reserved.  Several replicas
 * each take their own batches.
 *
 * A caller must not be inside a transaction (a follower that held the
 * counter row would deadlock with its leader where PostgreSQL cannot see
 * it): inside one, the number is taken on the caller's connection alone.
 */
#ifndef SERVER_TASK_COUNTER_H
#define SERVER_TASK_COUNTER_H

#include <stdbool.h>

#include "error.h"

/* The next number of user_id's counter; 0 with err set on a database error. */
long long task_counter_next(const char *user_id, struct cy_error *err);

/*
 * Tests: what adds k to a counter (default store_task_counter_add, which
 * returns the new value or 0 with err set), and whether this thread is in
 * a transaction (default db_in_tx).
 */
void task_counter_set_backend(long long (*add)(const char *user_id, long long k,
				  struct cy_error *err),
    bool (*in_tx)(void));

#endif
