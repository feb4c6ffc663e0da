/*
 * Fuzz target for the stream parsers that read bytes from the network:
 * the line splitter (lib/lines.c) and server-sent events (lib/sse.c), as
 * the gateway, the node and cynork read chat streams.  Beyond not
 * crashing, it checks a property: the events of a stream do not depend on
 * how it is cut into chunks (the first input byte picks the chunk size).
 * Replayed as a unit test by replay.c; `make fuzz` runs it under libFuzzer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "sse.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
collect(void *arg, const char *event, const char *d, size_t len)
{
	struct cy_buf *b = arg;

	cy_buf_addstr(b, event);
	cy_buf_addch(b, 0);
	cy_buf_add(b, d, len);
	cy_buf_addch(b, 0);
	return 0;
}

/* The events of data[0..n) fed `step` bytes at a time, and the feed's result. */
static int
run(const char *data, size_t n, size_t step, struct cy_buf *out)
{
	struct cy_sse p;
	size_t i;
	int rc = 0;

	cy_sse_init(&p, 512, collect, out);
	for (i = 0; i < n && rc == 0; i += step)
		rc = cy_sse_feed(&p, data + i, n - i < step ? n - i : step);
	cy_sse_release(&p);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cy_buf whole = CY_BUF_INIT, cut = CY_BUF_INIT;
	size_t step;
	int a, b;

	if (size < 1)
		return 0;
	step = (size_t)(data[0] % 17) + 1;
	a = run((const char *)data + 1, size - 1, size, &whole);
	b = run((const char *)data + 1, size - 1, step, &cut);
	/* Both fail the same way, or both deliver the same events. */
	if (a != b ||
	    (a == 0 && (whole.len != cut.len || memcmp(whole.buf, cut.buf, whole.len) != 0)))
		abort();
	cy_buf_release(&whole);
	cy_buf_release(&cut);
	return 0;
}
