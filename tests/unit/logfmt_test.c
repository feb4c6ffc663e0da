/*
 * Unit tests for lib/logfmt.c: quoting of record-line values.
 */
#include "buf.h"
#include "logfmt.h"
#include "tap.h"

static const char *
q(struct cy_buf *b, const char *v)
{
	cy_buf_reset(b);
	cy_logfmt_value(b, v);
	return b->buf;
}

static void
test_values(void)
{
	struct cy_buf b = CY_BUF_INIT;

	is_str(q(&b, "plain"), "plain", "bare value stays bare");
	is_str(q(&b, ""), "\"\"", "empty value is quoted");
	is_str(q(&b, "a b"), "\"a b\"", "space forces quotes");
	is_str(q(&b, "k=v"), "\"k=v\"", "equals forces quotes");
	is_str(q(&b, "say \"hi\""), "\"say \\\"hi\\\"\"", "quotes are escaped");
	is_str(q(&b, "a\nb"), "\"a\\nb\"", "newline is escaped");
	is_str(q(&b, "t\tb"), "\"t\\tb\"", "tab is escaped");
	is_str(q(&b, "back\\slash x"), "\"back\\\\slash x\"", "backslash is escaped inside quotes");
	cy_buf_release(&b);
}

static void
test_pairs(void)
{
	struct cy_buf b = CY_BUF_INIT;

	cy_logfmt_pair(&b, "task_id", "abc");
	cy_logfmt_pair(&b, "stdout", "hello\n");
	is_str(b.buf, "task_id=abc stdout=\"hello\\n\"", "pairs are space-separated");
	cy_buf_release(&b);
}

int
main(void)
{
	RUN_TEST(test_values);
	RUN_TEST(test_pairs);
	return tap_done();
}
