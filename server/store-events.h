/*
 * SQL of the event log (migrations/0094_events.sql): where the stream may
 * read up to (the horizon), one subscriber's next events, and retention.
 * events.h has the stream that uses them.
 */
#ifndef SERVER_STORE_EVENTS_H
#define SERVER_STORE_EVENTS_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "error.h"

/*
 * Ids are handed out in insert order but become visible in commit order, so
 * an id may show up after a higher one.  The horizon is the highest id up
 * to which every id is final: committed, or never to be (a rolled back
 * transaction's); streams read no further.  A gap is final once no
 * transaction is in flight or the event after it is older than
 * EVENTS_GAP_MS.
 */
#define EVENTS_GAP_MS 3000

/* The horizon to start from: the last event older than EVENTS_GAP_MS (0: none). */
int store_events_horizon_init(long long *h, struct cy_error *err);
/* Moves *h forward over final ids; *pending set when an unsettled gap stops it. */
int store_events_horizon_advance(long long *h, bool *pending, struct cy_error *err);

/* What one stream shows. */
struct events_filter {
	bool tasks;          /* task events ... */
	const char *user_id; /* ... of this owner's tasks (NULL: every user's) */
	const char *task_id; /* ... of this task only (NULL: any) */
	bool nodes;          /* node events */
};

/*
 * The events after `after` up to `upto` that f shows, oldest first, at
 * most `limit`: columns id, type, data (the event as a JSON object text).
 */
PGresult *store_events_read(const struct events_filter *f, long long after, long long upto,
    int limit, struct cy_error *err);
/*
 * Every event after `after` up to `upto` (at most `limit`), oldest first,
 * for the streams that are caught up: columns id, type, data as
 * store_events_read, then kind, user_id, task_id ("" when NULL).
 */
PGresult *store_events_read_all(long long after, long long upto, int limit, struct cy_error *err);
/*
 * Deletes up to `limit` of the oldest events older than age_s, and as many
 * settled webhook deliveries; how many events, or -1.
 */
long long store_events_prune(long long age_s, int limit, struct cy_error *err);

#endif
