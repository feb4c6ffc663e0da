/*
 * Unit tests for lib/arrayspec.c: job array specs.
 */
#include <stdio.h>
#include <string.h>

#include "arrayspec.h"
#include "tap.h"

static int
parse(const char *s, struct cy_array_spec *a, char *why)
{
	return cy_array_spec_parse(s, strlen(s), a, why, 256);
}

static void
test_good(void)
{
	struct cy_array_spec a;
	char why[256];

	ok(parse("0-99%10", &a, why) == 0, "0-99%%10");
	is_int(a.n, 100, "100 elements");
	is_int(a.idx[0], 0, "first 0");
	is_int(a.idx[99], 99, "last 99");
	is_int(a.cap, 10, "cap 10");
	cy_array_spec_release(&a);

	ok(parse("9,1,3,5-7", &a, why) == 0, "a list");
	is_int(a.n, 6, "6 elements");
	is_int(a.idx[0], 1, "sorted: 1 first");
	is_int(a.idx[5], 9, "sorted: 9 last");
	is_int(a.cap, 0, "no cap");
	cy_array_spec_release(&a);

	ok(parse("0-20:5", &a, why) == 0, "a step");
	is_int(a.n, 5, "0,5,10,15,20");
	is_int(a.idx[4], 20, "20 last");
	cy_array_spec_release(&a);

	ok(parse("1000000", &a, why) == 0, "the largest index");
	is_int(a.idx[0], 1000000, "1000000");
	cy_array_spec_release(&a);

	ok(parse("0-9999%10000", &a, why) == 0, "10000 elements, cap 10000");
	is_int(a.n, 10000, "10000");
	cy_array_spec_release(&a);

	ok(parse("7", &a, why) == 0, "one element");
	cy_array_spec_release(&a);
}

static void
test_bad(void)
{
	static const char *const bad[] = { "", "-1", "1-", "a", "1,,2", "1,", ",1", "5-3",
		"0-10000", "1000001", "99999999999999999999", "1%0", "1%", "1%10001", "1 ,2", " 1",
		"1-5:0", "1-5:", "1,1", "0-5,3", "1%2%3", "1-2-3", "%3", "1.5", "0x10", "1;2",
		"\xff", NULL };
	struct cy_array_spec a;
	char why[256];
	size_t i;

	for (i = 0; bad[i]; i++) {
		why[0] = '\0';
		ok(parse(bad[i], &a, why) < 0 && why[0] != '\0' && a.idx == NULL,
		    "'%s' refused: %s", bad[i], why);
	}
	parse("0-10000", &a, why);
	ok(strstr(why, "more than 10000") != NULL, "too many names the bound: %s", why);
	parse("5-3", &a, why);
	ok(strstr(why, "5-3") != NULL, "a reversed range is named: %s", why);
	parse("1,2,2", &a, why);
	ok(strstr(why, "index 2") != NULL, "a duplicate is named: %s", why);
}

int
main(void)
{
	RUN_TEST(test_good);
	RUN_TEST(test_bad);
	return tap_done();
}
