/*
 * The incremental line splitter (see lines.h).  The partial line is kept
 * in one owned buffer; complete lines inside a chunk are handed out without
 * copying.
 */
#include <errno.h>
#include <string.h>

#include "lines.h"
#include "banned.h"

void
cy_lines_init(struct cy_lines *l, size_t max, cy_line_fn fn, void *arg)
{
	cy_buf_init(&l->cur, 0);
	l->max = max;
	l->cr = false;
	l->fn = fn;
	l->arg = arg;
}

void
cy_lines_release(struct cy_lines *l)
{
	cy_buf_release(&l->cur);
}

/* Delivers the line made of the kept part and data[0..n). */
static int
lines_emit(struct cy_lines *l, const char *data, size_t n)
{
	int rc;

	if (l->cur.len == 0)
		return l->fn(l->arg, data, n);
	if (n > l->max - l->cur.len) {
		errno = EFBIG;
		return -1;
	}
	cy_buf_add(&l->cur, data, n);
	rc = l->fn(l->arg, l->cur.buf, l->cur.len);
	cy_buf_reset(&l->cur);
	return rc;
}

int
cy_lines_feed(struct cy_lines *l, const char *data, size_t len)
{
	size_t i = 0;
	int rc;

	if (len > 0 && l->cr && data[0] == '\n')
		i = 1;
	l->cr = false;
	while (i < len) {
		size_t start = i;

		while (i < len && data[i] != '\n' && data[i] != '\r')
			i++;
		if (i - start > l->max || (l->cur.len && i - start > l->max - l->cur.len)) {
			errno = EFBIG;
			return -1;
		}
		if (i == len) {
			cy_buf_add(&l->cur, data + start, i - start);
			break;
		}
		if ((rc = lines_emit(l, data + start, i - start)) != 0)
			return rc;
		if (data[i] == '\r') {
			if (i + 1 == len)
				l->cr = true;
			else if (data[i + 1] == '\n')
				i++;
		}
		i++;
	}
	return 0;
}

int
cy_lines_finish(struct cy_lines *l)
{
	int rc = 0;

	if (l->cur.len)
		rc = l->fn(l->arg, l->cur.buf, l->cur.len);
	cy_buf_reset(&l->cur);
	l->cr = false;
	return rc;
}
