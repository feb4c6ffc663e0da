/*
 * Unit tests for lib/strnum.c: bounded integer parsing.
 */
#include <limits.h>

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

static void
test_size(void)
{
	long long max = 1LL << 50, v = 0;

	ok(cy_size_parse("1048576", max, &v) == 0 && v == 1048576, "bare bytes");
	ok(cy_size_parse("512M", max, &v) == 0 && v == 512LL << 20, "512M");
	ok(cy_size_parse("2G", max, &v) == 0 && v == 2LL << 30, "2G");
	ok(cy_size_parse("2g", max, &v) == 0 && v == 2LL << 30, "lower-case unit");
	ok(cy_size_parse("3GiB", max, &v) == 0 && v == 3LL << 30, "GiB");
	ok(cy_size_parse("4Mi", max, &v) == 0 && v == 4LL << 20, "Mi");
	ok(cy_size_parse("5kb", max, &v) == 0 && v == 5LL << 10, "kb");
	ok(cy_size_parse("1T", max, &v) == 0 && v == 1LL << 40, "1T");
	ok(cy_size_parse("0", max, &v) == 0 && v == 0, "zero parses (callers bound it)");
	ok(cy_size_parse("", max, &v) == -1, "empty refused");
	ok(cy_size_parse(NULL, max, &v) == -1, "NULL refused");
	ok(cy_size_parse("M", max, &v) == -1, "unit alone refused");
	ok(cy_size_parse("-1M", max, &v) == -1, "negative refused");
	ok(cy_size_parse(" 1M", max, &v) == -1, "leading space refused");
	ok(cy_size_parse("1.5G", max, &v) == -1, "fraction refused");
	ok(cy_size_parse("1X", max, &v) == -1, "unknown unit refused");
	ok(cy_size_parse("1MBs", max, &v) == -1, "trailing garbage refused");
	ok(cy_size_parse("2P", max, &v) == -1, "P is not a unit");
	ok(cy_size_parse("2048T", max, &v) == -1, "above max refused");
	ok(cy_size_parse("99999999999999999999", max, &v) == -1, "overflow refused");
	ok(cy_size_parse("9999999999T", LLONG_MAX, &v) == -1, "overflow by the unit refused");
}

int
main(void)
{
	RUN_TEST(test_strnum);
	RUN_TEST(test_size);
	return tap_done();
}
