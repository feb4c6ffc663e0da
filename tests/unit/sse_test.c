/*
 * Tests for lib/lines.c and lib/sse.c: line endings split across chunks,
 * the line cap, and the event-stream rules (data joining, comments, event
 * names, dispatch on the blank line, events without data).
 */
#include <errno.h>
#include <string.h>

#include "lines.h"
#include "sse.h"
#include "tap.h"
#include "banned.h"

struct got {
	struct cy_buf all; /* "[line]" or "<event|data>" per item */
	int n;
	int stop_at; /* > 0: the callback returns 7 at this item */
};

static int
on_line(void *arg, const char *line, size_t len)
{
	struct got *g = arg;

	g->n++;
	cy_buf_addch(&g->all, '[');
	cy_buf_add(&g->all, line, len);
	cy_buf_addch(&g->all, ']');
	return g->stop_at && g->n == g->stop_at ? 7 : 0;
}

static int
on_event(void *arg, const char *event, const char *data, size_t len)
{
	struct got *g = arg;

	g->n++;
	cy_buf_addf(&g->all, "<%s|", event);
	cy_buf_add(&g->all, data, len);
	cy_buf_addch(&g->all, '>');
	return g->stop_at && g->n == g->stop_at ? 7 : 0;
}

/* Feeds s in pieces of `step` bytes. */
static int
feed_lines(struct cy_lines *l, const char *s, size_t step)
{
	size_t n = strlen(s), i;
	int rc;

	for (i = 0; i < n; i += step)
		if ((rc = cy_lines_feed(l, s + i, n - i < step ? n - i : step)) != 0)
			return rc;
	return 0;
}

static void
test_lines(void)
{
	static const char *const input = "a\nbb\r\nccc\rd\r\r\ne";
	static const char *const want = "[a][bb][ccc][d][][e]";
	size_t step;

	for (step = 1; step <= 16; step++) {
		struct got g = { .all = CY_BUF_INIT };
		struct cy_lines l;

		cy_lines_init(&l, 100, on_line, &g);
		ok(feed_lines(&l, input, step) == 0, "feed in steps of %zu", step);
		ok(cy_lines_finish(&l) == 0, "finish");
		is_str(g.all.buf, want, "lines whatever the chunking");
		cy_lines_release(&l);
		cy_buf_release(&g.all);
	}
	{
		struct got g = { .all = CY_BUF_INIT };
		struct cy_lines l;

		cy_lines_init(&l, 4, on_line, &g);
		ok(feed_lines(&l, "abcd\nabcde\n", 3) == -1, "line over the cap fails");
		is_int(errno, EFBIG, "EFBIG");
		is_str(g.all.buf, "[abcd]", "lines before it delivered");
		cy_lines_release(&l);
		cy_buf_release(&g.all);
	}
	{
		struct got g = { .all = CY_BUF_INIT, .stop_at = 2 };
		struct cy_lines l;

		cy_lines_init(&l, 100, on_line, &g);
		is_int(feed_lines(&l, "x\ny\nz\n", 100), 7, "callback's return stops the feed");
		is_str(g.all.buf, "[x][y]", "nothing after the stop");
		cy_lines_release(&l);
		cy_buf_release(&g.all);
	}
}

static void
test_sse(void)
{
	static const char *const input = ": comment\n"
					 "data: {\"a\":1}\n\n"
					 "event: ping\ndata:x\ndata:  y\n\n"
					 "id: 4\nretry: 10\n\n"
					 "data\n\n"
					 "unknown: 1\ndata: last\r\n\r\n"
					 "data: [DONE]\n\n"
					 "data: never dispatched";
	static const char *const want =
	    "<message|{\"a\":1}><ping|x\n y><message|><message|last><message|[DONE]>";
	size_t step;

	for (step = 1; step <= 9; step++) {
		struct got g = { .all = CY_BUF_INIT };
		struct cy_sse p;
		size_t n = strlen(input), i;
		int rc = 0;

		cy_sse_init(&p, 1024, on_event, &g);
		for (i = 0; i < n && rc == 0; i += step)
			rc = cy_sse_feed(&p, input + i, n - i < step ? n - i : step);
		ok(rc == 0, "events fed in steps of %zu", step);
		is_str(g.all.buf, want, "events whatever the chunking");
		is_str(p.last_id, "4", "the last id is kept across events");
		cy_sse_release(&p);
		cy_buf_release(&g.all);
	}
	{
		struct got g = { .all = CY_BUF_INIT };
		struct cy_sse p;
		const char *big = "data: 0123456789\ndata: 0123456789\n\n";

		cy_sse_init(&p, 20, on_event, &g);
		ok(cy_sse_feed(&p, big, strlen(big)) == -1, "event over the cap fails");
		is_int(errno, EFBIG, "EFBIG");
		is_int(g.n, 0, "no event delivered");
		cy_sse_release(&p);
		cy_buf_release(&g.all);
	}
	{
		struct got g = { .all = CY_BUF_INIT, .stop_at = 1 };
		struct cy_sse p;
		const char *two = "data: a\n\ndata: b\n\n";

		cy_sse_init(&p, 100, on_event, &g);
		is_int(cy_sse_feed(&p, two, strlen(two)), 7, "callback's return stops");
		is_int(g.n, 1, "one event");
		cy_sse_release(&p);
		cy_buf_release(&g.all);
	}
}

/* The last event id: what a resuming client sends back as Last-Event-ID. */
static void
test_sse_id(void)
{
	struct got g = { .all = CY_BUF_INIT };
	struct cy_sse p;
	const char *s1 = "id: 41\ndata: a\n\n";
	const char *s2 = "id\ndata: b\n\nid: 0123456789012345678901234567890123456789"
			 "012345678901234567890123456789\n\n";
	const char *s3 = "id: 5\0x\n\n";

	cy_sse_init(&p, 1024, on_event, &g);
	is_str(p.last_id, "", "no id before any");
	ok(cy_sse_feed(&p, s1, strlen(s1)) == 0, "an event with an id");
	is_str(p.last_id, "41", "id 41");
	ok(cy_sse_feed(&p, s2, 10) == 0, "an empty id field");
	is_str(p.last_id, "", "an empty id resets it (the standard's rule)");
	ok(cy_sse_feed(&p, s2 + 10, strlen(s2) - 10) == 0, "an over-long id");
	is_int((long long)strlen(p.last_id), 63, "an over-long id is cut");
	ok(cy_sse_feed(&p, s3, 10) == 0, "an id with a NUL byte");
	is_int((long long)strlen(p.last_id), 63, "an id with a NUL byte is ignored");
	cy_sse_release(&p);
	cy_buf_release(&g.all);
}

int
main(void)
{
	RUN_TEST(test_lines);
	RUN_TEST(test_sse);
	RUN_TEST(test_sse_id);
	return tap_done();
}
