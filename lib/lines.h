/*
 * An incremental line splitter for streamed bodies (NDJSON, server-sent
 * events): bytes go in as they arrive, whole lines come out through a
 * callback.  A line ends at "\n", "\r\n" or a lone "\r" (the rule of the
 * event-stream format; for NDJSON a "\r" only ever precedes "\n").  Lines
 * longer than the splitter's maximum are an error, so a peer cannot make it
 * hold unbounded memory.
 */
#ifndef CY_LINES_H
#define CY_LINES_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Called once per complete line, without its terminator; non-zero stops. */
typedef int (*cy_line_fn)(void *arg, const char *line, size_t len);

struct cy_lines {
	struct cy_buf cur; /* the partial line */
	size_t max;        /* longest line accepted */
	bool cr;           /* the last byte was "\r": a "\n" next belongs to it */
	cy_line_fn fn;
	void *arg;
};

void cy_lines_init(struct cy_lines *l, size_t max, cy_line_fn fn, void *arg);
/*
 * Feeds len bytes.  Returns 0, -1 when a line is longer than the maximum
 * (errno EFBIG), or the callback's non-zero return.
 */
int cy_lines_feed(struct cy_lines *l, const char *data, size_t len);
/* Ends the stream: a last line without terminator is delivered.  0 or as feed. */
int cy_lines_finish(struct cy_lines *l);
void cy_lines_release(struct cy_lines *l);

#endif
