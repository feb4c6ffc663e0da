/*
 * Server-sent events over the line splitter (see sse.h).  Field handling
 * follows the HTML standard's "interpret an event stream": the value starts
 * after the first ":" and one optional space; unknown fields are ignored.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "sse.h"
#include "banned.h"

static int
sse_dispatch(struct cy_sse *p)
{
	int rc = 0;

	if (p->data.len) {
		/* The last data line's "\n" is not part of the data. */
		cy_buf_setlen(&p->data, p->data.len - 1);
		rc = p->fn(p->arg, p->event[0] ? p->event : "message", p->data.buf, p->data.len);
	}
	cy_buf_reset(&p->data);
	p->event[0] = '\0';
	return rc;
}

static int
sse_line(void *arg, const char *line, size_t len)
{
	struct cy_sse *p = arg;
	const char *colon, *val;
	size_t flen, vlen;

	if (len == 0)
		return sse_dispatch(p);
	if (line[0] == ':')
		return 0;
	colon = memchr(line, ':', len);
	flen = colon ? (size_t)(colon - line) : len;
	val = colon ? colon + 1 : line + len;
	vlen = (size_t)(line + len - val);
	if (vlen && *val == ' ') {
		val++;
		vlen--;
	}
	if (flen == 4 && memcmp(line, "data", 4) == 0) {
		if (vlen + 1 > p->max - p->data.len) {
			errno = EFBIG;
			return -1;
		}
		cy_buf_add(&p->data, val, vlen);
		cy_buf_addch(&p->data, '\n');
	} else if (flen == 2 && memcmp(line, "id", 2) == 0) {
		/* The standard ignores an id containing NUL; so do we. */
		if (!memchr(val, '\0', vlen))
			xsnprintf(p->last_id, sizeof(p->last_id), "%.*s",
			    (int)(vlen < sizeof(p->last_id) ? vlen : sizeof(p->last_id) - 1), val);
	} else if (flen == 5 && memcmp(line, "event", 5) == 0) {
		/*
		 * An event type longer than the field is cut (no type the
		 * readers know is that long); one with a NUL byte is cut there.
		 */
		xsnprintf(p->event, sizeof(p->event), "%.*s",
		    (int)(vlen < sizeof(p->event) ? vlen : sizeof(p->event) - 1), val);
	}
	return 0;
}

void
cy_sse_init(struct cy_sse *p, size_t max, cy_sse_fn fn, void *arg)
{
	cy_lines_init(&p->lines, max, sse_line, p);
	cy_buf_init(&p->data, 0);
	p->event[0] = '\0';
	p->last_id[0] = '\0';
	p->max = max;
	p->fn = fn;
	p->arg = arg;
}

int
cy_sse_feed(struct cy_sse *p, const char *data, size_t len)
{
	return cy_lines_feed(&p->lines, data, len);
}

void
cy_sse_release(struct cy_sse *p)
{
	cy_lines_release(&p->lines);
	cy_buf_release(&p->data);
}
