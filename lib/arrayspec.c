/*
 * Job array specs (arrayspec.h): items separated by ',' (a number, or
 * LO-HI with an optional :STEP), then an optional %CAP.  Every byte is
 * checked; numbers are bounded as they are read, so no input overflows.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "arrayspec.h"
#include "buf.h"
#include "banned.h"

struct cursor {
	const char *s;
	size_t len, pos;
};

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A decimal number at the cursor within 0..max: 0, or -1 with why. */
static int
read_num(struct cursor *c, long long max, const char *what, long long *out, char *why,
    size_t whylen)
{
	long long v = 0;
	size_t start = c->pos;

	while (c->pos < c->len && is_digit(c->s[c->pos])) {
		v = v * 10 + (c->s[c->pos] - '0');
		c->pos++;
		if (v > max) {
			cy_snprintf_clip(why, whylen, "%s at byte %zu is above %lld", what,
			    start + 1, max);
			return -1;
		}
	}
	if (c->pos == start) {
		if (c->pos < c->len)
			cy_snprintf_clip(why, whylen, "expected %s at byte %zu, found '%c'", what,
			    start + 1,
			    (unsigned char)c->s[c->pos] >= 0x20 &&
				    (unsigned char)c->s[c->pos] < 0x7f ?
				c->s[c->pos] :
				'?');
		else
			cy_snprintf_clip(why, whylen, "expected %s at the end", what);
		return -1;
	}
	*out = v;
	return 0;
}

static int
cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* One item (N, or LO-HI[:STEP]) appended to out. */
static int
read_item(struct cursor *c, struct cy_array_spec *out, char *why, size_t whylen)
{
	long long lo, hi, step = 1, i;

	if (read_num(c, CY_ARRAY_INDEX_MAX, "an index", &lo, why, whylen) < 0)
		return -1;
	hi = lo;
	if (c->pos < c->len && c->s[c->pos] == '-') {
		c->pos++;
		if (read_num(c, CY_ARRAY_INDEX_MAX, "an index", &hi, why, whylen) < 0)
			return -1;
		if (hi < lo) {
			cy_snprintf_clip(why, whylen, "range %lld-%lld ends before it starts", lo,
			    hi);
			return -1;
		}
		if (c->pos < c->len && c->s[c->pos] == ':') {
			c->pos++;
			if (read_num(c, CY_ARRAY_INDEX_MAX, "a step", &step, why, whylen) < 0)
				return -1;
			if (step == 0) {
				cy_snprintf_clip(why, whylen, "a step must be at least 1");
				return -1;
			}
		}
	}
	for (i = lo; i <= hi; i += step) {
		if (out->n >= CY_ARRAY_ELEMENTS_MAX) {
			cy_snprintf_clip(why, whylen, "more than %d elements",
			    CY_ARRAY_ELEMENTS_MAX);
			return -1;
		}
		out->idx[out->n++] = (int)i;
	}
	return 0;
}

static int
parse(struct cursor *c, struct cy_array_spec *out, char *why, size_t whylen)
{
	long long cap;
	size_t i;

	if (c->len == 0) {
		cy_snprintf_clip(why, whylen, "the spec is empty");
		return -1;
	}
	if (c->len > CY_ARRAY_SPEC_MAX) {
		cy_snprintf_clip(why, whylen, "the spec is longer than %d bytes",
		    CY_ARRAY_SPEC_MAX);
		return -1;
	}
	for (;;) {
		if (read_item(c, out, why, whylen) < 0)
			return -1;
		if (c->pos < c->len && c->s[c->pos] == ',') {
			c->pos++;
			continue;
		}
		break;
	}
	if (c->pos < c->len && c->s[c->pos] == '%') {
		c->pos++;
		if (read_num(c, CY_ARRAY_ELEMENTS_MAX, "a limit", &cap, why, whylen) < 0)
			return -1;
		if (cap == 0) {
			cy_snprintf_clip(why, whylen, "the limit after %% must be at least 1");
			return -1;
		}
		out->cap = (int)cap;
	}
	if (c->pos < c->len) {
		unsigned char ch = (unsigned char)c->s[c->pos];

		cy_snprintf_clip(why, whylen, "unexpected '%c' at byte %zu",
		    ch >= 0x20 && ch < 0x7f ? ch : '?', c->pos + 1);
		return -1;
	}
	qsort(out->idx, out->n, sizeof(*out->idx), cmp_int);
	for (i = 1; i < out->n; i++)
		if (out->idx[i] == out->idx[i - 1]) {
			cy_snprintf_clip(why, whylen, "index %d is given more than once",
			    out->idx[i]);
			return -1;
		}
	return 0;
}

int
cy_array_spec_parse(const char *s, size_t len, struct cy_array_spec *out, char *why, size_t whylen)
{
	struct cursor c = { s, len, 0 };

	memset(out, 0, sizeof(*out));
	if (whylen)
		why[0] = '\0';
	out->idx = xcalloc(CY_ARRAY_ELEMENTS_MAX, sizeof(*out->idx));
	if (parse(&c, out, why, whylen) < 0) {
		cy_array_spec_release(out);
		return -1;
	}
	return 0;
}

void
cy_array_spec_release(struct cy_array_spec *a)
{
	free(a->idx);
	memset(a, 0, sizeof(*a));
}
