/*
 * An incremental parser of server-sent events (the text/event-stream
 * format of the HTML standard), as OpenAI-compatible chat streams use it:
 * "data:" lines are joined with "\n", "event:" names the event, a line
 * starting with ":" is a comment, and an empty line dispatches the event
 * (none when it carried no data).  "id:" sets the last event id (kept
 * across events, as the standard's "last event ID buffer": a resuming
 * client sends it back as Last-Event-ID); "retry:" is accepted and
 * ignored.  Events larger than the parser's maximum are an error.
 */
#ifndef CY_SSE_H
#define CY_SSE_H

#include <stddef.h>

#include "buf.h"
#include "lines.h"

/* One event: its type ("message" unless named) and its data; non-zero stops. */
typedef int (*cy_sse_fn)(void *arg, const char *event, const char *data, size_t len);

struct cy_sse {
	struct cy_lines lines;
	struct cy_buf data;
	char event[64];
	char last_id[64]; /* the last "id:" value seen ("" before any); an over-long one is cut */
	size_t max;
	cy_sse_fn fn;
	void *arg;
};

void cy_sse_init(struct cy_sse *p, size_t max, cy_sse_fn fn, void *arg);
/* Feeds bytes: 0, -1 (errno EFBIG: a line or event over the maximum), or the callback's return. */
int cy_sse_feed(struct cy_sse *p, const char *data, size_t len);
/* End of stream: a pending event without its blank line is dropped (as browsers do). */
void cy_sse_release(struct cy_sse *p);

#endif
