/*
 * The event stream (GET /v1/events): task and node state changes as
 * server-sent events, read from the event log (store-events.h) that the
 * database triggers of migration 0094 fill.
 *
 * One hub thread per replica serves every open stream: the NOTIFY listener
 * wakes it (cynode_events), it settles the horizon once per wake-up and
 * sends each stream the events after its last id that its filter shows.
 * A stream costs no thread and no query while nothing happens but a
 * keep-alive comment every EVENTS_KEEPALIVE_MS; a client that stops reading
 * is skipped while its queue is full and dropped after EVENTS_STALL_MS.
 */
#ifndef SERVER_EVENTS_H
#define SERVER_EVENTS_H

#include <stdbool.h>

#include "error.h"
#include "httpd.h"
#include "store-events.h"

#define EVENTS_KEEPALIVE_MS 15000
#define EVENTS_STALL_MS 60000
/*
 * A follow stream ends after this long (the client resumes with
 * Last-Event-ID), so a credential revoked or a user disabled meanwhile
 * stops seeing events within it: the request was authorized only once.
 */
#define EVENTS_MAX_AGE_MS (10 * 60 * 1000)
/* Open streams per replica; more are answered 503. */
#define EVENTS_MAX_STREAMS 1024

int events_start(struct cy_error *err);
/* Ends every stream (before the listeners stop) and the hub. */
void events_stop(void);
/* New events may be there (NOTIFY cynode_events, or notifications were lost). */
void events_wake(void);

/*
 * Makes resp a text/event-stream that the hub feeds: the events f shows
 * after `after` (-1: from now on), then, with follow, every new one until
 * the client goes; without follow the stream ends once caught up.  Copies
 * f.  -1 when EVENTS_MAX_STREAMS are open (resp then left alone).
 */
int events_subscribe(struct cy_http_resp *resp, const struct events_filter *f, long long after,
    bool follow);

/* GET /v1/events (route-events.c). */
void h_events(struct cy_http_req *req, struct cy_http_resp *resp);

#endif
