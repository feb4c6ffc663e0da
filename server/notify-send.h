/*
 * The NOTIFYs the server sends itself after its own commits (migration
 * 0103).  A statement that names channels in cynode.notify_deferred makes
 * the triggers skip those; after its commit the caller posts them here,
 * and one thread sends everything posted meanwhile in one transaction of
 * its own, committed without waiting for a flush, so that the server's
 * commits do not queue behind each other's flushes on PostgreSQL's notify
 * lock.  Every replica's listener, this one's included, gets them
 * (dispatch-listen.c).  Posting never blocks on the database.
 *
 * A notification is a wake-up, not data: one lost (the server dies
 * between a commit and the send) delays a replica until its next look:
 * the dispatcher's backup poll, an event stream's next event, a long
 * poll's deadline (at most a minute).  While the database cannot be
 * reached the posts are kept (task ids up to a bound) and sent once it can.
 */
#ifndef SERVER_NOTIFY_SEND_H
#define SERVER_NOTIFY_SEND_H

#include "error.h"

/* The SQL that defers the channels NOTIFY_*_SQL name until end of transaction. */
#define NOTIFY_DEFER_SQL(channels) "set_config('cynode.notify_deferred', '" channels "', true)"
/* A task create: its job is queued, its events are written. */
#define NOTIFY_CREATE_CHANNELS "cynode_jobs,cynode_events"
/* A claim: its tasks' task.running events. */
#define NOTIFY_CLAIM_CHANNELS "cynode_events"
/*
 * A result defers cynode_task_closed and cynode_events itself
 * (cy_dispatch_finish, migration 0102).
 */

enum notify_channel {
	NOTIFY_JOBS = 1 << 0,   /* cynode_jobs: work was queued */
	NOTIFY_EVENTS = 1 << 1, /* cynode_events: rows in the event log */
};

/* Posts channels (a mask of enum notify_channel) to send. */
void notify_post(unsigned channels);
/* Posts cynode_task_closed for the task with this id. */
void notify_post_closed(const char *task_id);

/*
 * Starts and stops the sending thread.  A stop sends what is posted unless
 * the database was already failing, its connects give up 2 s into the
 * stop, and it waits 3 s at most for a send on a backend that hangs.
 */
int notify_start(struct cy_error *err);
void notify_stop(void);

#endif
