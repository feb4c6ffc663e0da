/*
 * Fuzz target for cy_utf8_sanitize (lib/json.c), which turns the bytes a
 * job wrote into the JSON text of GET /v1/tasks/{id}/logs.  Beyond not
 * crashing, it checks two properties: the output is always valid UTF-8
 * without NULs, and it does not depend on how the stream is cut into
 * windows (a follow reads it window by window, each ending before a
 * character the window splits).  The first input byte picks the window
 * size.  Replayed as a unit test by replay.c; `make fuzz` runs it under
 * libFuzzer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cy_buf whole = CY_BUF_INIT, cut = CY_BUF_INIT;
	const char *s = (const char *)data + 1;
	size_t n, step, off = 0, w, used;

	if (size < 1)
		return 0;
	n = size - 1;
	step = (size_t)(data[0] % 9) + 1;
	if (cy_utf8_sanitize(s, n, true, &whole) != n)
		abort();
	while (off < n) {
		w = n - off < step ? n - off : step;
		used = cy_utf8_sanitize(s + off, w, off + w == n, &cut);
		/* A window too short for its first character is widened. */
		if (used == 0)
			used = cy_utf8_sanitize(s + off, n - off < 4 ? n - off : 4, n - off <= 4,
			    &cut);
		if (used == 0)
			abort();
		off += used;
	}
	if (!cy_utf8_valid(whole.buf, whole.len) || memchr(whole.buf, 0, whole.len) ||
	    whole.len != cut.len || memcmp(whole.buf, cut.buf, whole.len) != 0)
		abort();
	cy_buf_release(&whole);
	cy_buf_release(&cut);
	return 0;
}
