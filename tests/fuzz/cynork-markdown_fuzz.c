/*
 * Fuzz target for cynork's terminal Markdown renderer (cynork/markdown.c),
 * which renders text a model wrote straight to the user's terminal.
 * Beyond not crashing, it checks what the renderer promises: the output is
 * valid UTF-8 and, apart from the renderer's own SGR sequences, holds no
 * control character but tab and newline, so a reply can never drive the
 * terminal.  The first input byte picks colour and ASCII mode.  Replayed
 * as a unit test by replay.c; `make fuzz` runs it under libFuzzer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "markdown.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts unless out is valid UTF-8 whose only controls are \t, \n and ESC [ digits ; m. */
static void
check(const struct cy_buf *out)
{
	size_t i = 0;

	if (!cy_utf8_valid(out->buf, out->len))
		abort();
	while (i < out->len) {
		unsigned char c = (unsigned char)out->buf[i];

		if (c == 0x1b) {
			if (i + 1 >= out->len || out->buf[i + 1] != '[')
				abort();
			for (i += 2; i < out->len && ((out->buf[i] >= '0' && out->buf[i] <= '9') ||
							 out->buf[i] == ';');
			     i++)
				;
			if (i >= out->len || out->buf[i] != 'm')
				abort();
			i++;
			continue;
		}
		if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
			abort();
		i++;
	}
	if (out->len && out->buf[out->len - 1] != '\n')
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cy_buf out = CY_BUF_INIT;
	const char *s, *end;
	struct md m;

	if (size < 1)
		return 0;
	md_init(&m, data[0] & 1, data[0] & 2);
	s = (const char *)data + 1;
	end = (const char *)data + size;
	while (s <= end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);

		md_line(&m, s, n, &out);
		check(&out);
		cy_buf_reset(&out);
		s += n + 1;
	}
	cy_buf_release(&out);
	return 0;
}
