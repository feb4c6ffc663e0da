/*
 * Fuzz target for the streaming secret masker (lib/mask.c), which the node
 * runs over every byte a job prints.  The input is split: its first byte
 * picks a chunk size, the next ones up to a NUL byte are up to three
 * secrets separated by '\n', the rest is the job's output.  Beyond not
 * crashing it checks two properties: the output does not depend on how the
 * stream is cut into chunks, and no secret of CY_MASK_MIN bytes or more
 * survives in it.  Replayed as a unit test by replay.c; `make fuzz` runs it
 * under libFuzzer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "mask.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The masked stream fed `step` bytes at a time. */
static void
run(const char *const *values, const char *p, size_t n, size_t step, struct cy_buf *out)
{
	struct cy_mask *m = cy_mask_new(values);
	size_t i;

	for (i = 0; i < n; i += step)
		cy_mask_feed(m, p + i, n - i < step ? n - i : step, out);
	cy_mask_flush(m, out);
	cy_mask_free(m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cy_buf whole = CY_BUF_INIT, cut = CY_BUF_INIT;
	const char *end, *s, *p;
	char *values[4] = { NULL };
	size_t step, nv = 0, n, i;

	if (size < 2)
		return 0;
	step = (size_t)(data[0] % 23) + 1;
	s = (const char *)data + 1;
	end = memchr(s, '\0', size - 1);
	if (!end)
		return 0;
	while (nv < 3 && s < end) {
		size_t len = strcspn(s, "\n");

		if (s + len > end)
			len = (size_t)(end - s);
		values[nv++] = xstrndup(s, len);
		s += len + (s + len < end);
	}
	p = end + 1;
	n = size - (size_t)(p - (const char *)data);
	run((const char *const *)values, p, n, n ? n : 1, &whole);
	run((const char *const *)values, p, n, step, &cut);
	if (whole.len != cut.len || memcmp(whole.buf, cut.buf, whole.len) != 0)
		abort();
	for (i = 0; i < nv; i++) {
		size_t len = strlen(values[i]);

		if (len >= CY_MASK_MIN && memmem(whole.buf, whole.len, values[i], len))
			abort();
		free(values[i]);
	}
	cy_buf_release(&whole);
	cy_buf_release(&cut);
	return 0;
}
