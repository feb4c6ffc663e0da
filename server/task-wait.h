/*
 * The process-wide "some task changed" signal behind the result long poll:
 * the dispatcher and cancel broadcast it after they commit a terminal state;
 * waiters re-read the database when woken (or every second, for changes made
 * by other replicas).
 */
#ifndef SERVER_TASK_WAIT_H
#define SERVER_TASK_WAIT_H

/* Wakes every waiter. */
void task_wait_broadcast(void);
/* The current change generation. */
unsigned long task_wait_generation(void);
/* Waits until the generation differs from `gen` or `ms` milliseconds pass. */
void task_wait_for(unsigned long gen, long ms);

#endif
