/*
 * Unit tests for lib/strnum.c: bounded integer parsing.
 */
#include "strnum.h"
#include "tap.h"

static void
test_strnum(void)
{
	const char *e = NULL;
	long long v = 0;

	ok(cy_strtonum("42", 0, 100, &v, &e) == 0 && v == 42, "plain number");
	ok(cy_strtonum("-5", -10, 10, &v, &e) == 0 && v == -5, "negative within range");
	ok(cy_strtonum("101", 0, 100, &v, &e) == -1, "above max rejected");
	is_str(e, "too large", "above max reason");
	ok(cy_strtonum("-1", 0, 100, &v, &e) == -1, "below min rejected");
	is_str(e, "too small", "below min reason");
	ok(cy_strtonum("12abc", 0, 100, &v, &e) == -1, "trailing garbage rejected");
	is_str(e, "invalid", "garbage reason");
	ok(cy_strtonum("", 0, 100, &v, &e) == -1, "empty string rejected");
	ok(cy_strtonum(" 7", 0, 100, &v, &e) == -1 || v == 7, "leading space is not silently odd");
	ok(cy_strtonum("99999999999999999999999", 0, 100, &v, &e) == -1, "overflow rejected");
	ok(cy_strtonum(NULL, 0, 100, &v, &e) == -1, "NULL rejected");
}

int
main(void)
{
	RUN_TEST(test_strnum);
	return tap_done();
}
