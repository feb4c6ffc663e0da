/*
 * Runtime-independent sandbox helpers: releasing a result and making job
 * output safe for JSON (cut at a UTF-8 boundary, invalid bytes and NULs
 * replaced by U+FFFD, never longer than the cap).
 */
#include <stdbool.h>
#include <string.h>

#include "buf.h"
#include "sandbox.h"
#include "banned.h"

void
sandbox_result_release(struct sandbox_result *res)
{
	cy_buf_release(&res->out);
	cy_buf_release(&res->err);
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 when invalid. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	size_t len, i;

	if (c >= 0x01 && c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		len = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		len = 4;
	else
		return 0;
	if (n < len)
		return 0;
	if (c == 0xE0)
		lo = 0xA0;
	else if (c == 0xED)
		hi = 0x9F;
	else if (c == 0xF0)
		lo = 0x90;
	else if (c == 0xF4)
		hi = 0x8F;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return len;
}

void
sandbox_utf8_clean(struct cy_buf *b, size_t max)
{
	static const char repl[] = "\xEF\xBF\xBD";
	const unsigned char *s = (const unsigned char *)b->buf;
	struct cy_buf out = CY_BUF_INIT;
	size_t i = 0, n = b->len, l;
	bool dirty = false;

	for (i = 0; i < n; i += l) {
		l = utf8_seq(s + i, n - i);
		if (!l) {
			dirty = true;
			break;
		}
	}
	if (!dirty && n <= max)
		return;
	for (i = 0; i < n; i += l) {
		l = utf8_seq(s + i, n - i);
		if (l) {
			if (out.len + l > max)
				break;
			cy_buf_add(&out, s + i, l);
		} else {
			size_t need = s[i] >= 0xF0 ? 4 : s[i] >= 0xE0 ? 3 : 2;

			/* A code point cut by the output cap: drop it. */
			if (s[i] >= 0xC2 && s[i] <= 0xF4 && n - i < need)
				break;
			l = 1;
			if (out.len + 3 > max)
				break;
			cy_buf_add(&out, repl, 3);
		}
	}
	cy_buf_release(b);
	*b = out;
}
