/*
 * Unit tests for lib/cron.c: parsing (fields, lists, ranges, steps, names,
 * macros, the seconds extension, refusals) and the next-time search (month
 * ends, leap years, the day-of-month OR day-of-week rule of Vixie cron).
 */
#include <string.h>
#include <time.h>

#include "cron.h"
#include "tap.h"

/* Seconds since the epoch of a UTC "YYYY-MM-DD HH:MM:SS". */
static int64_t
at(const char *s)
{
	struct tm tm = { 0 };

	if (!strptime(s, "%Y-%m-%d %H:%M:%S", &tm))
		return -2;
	return (int64_t)timegm(&tm);
}

/* The next match of expr after `from`, both as text (UTC). */
static void
next_is(const char *expr, const char *from, const char *want)
{
	struct cy_cron c;
	char why[200] = "";
	int64_t got;

	if (cy_cron_parse(expr, &c, why, sizeof(why)) < 0) {
		ok(0, "'%s' parses (%s)", expr, why);
		return;
	}
	got = cy_cron_next(&c, at(from));
	ok(got == (want ? at(want) : -1), "'%s' after %s: %s", expr, from, want ? want : "never");
	if (want && got != at(want)) {
		time_t g = (time_t)got;
		struct tm tm;
		char buf[64];

		gmtime_r(&g, &tm);
		strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
		printf("#   got %s (%lld)\n", buf, (long long)got);
	}
}

static void
bad(const char *expr, const char *want_in_why)
{
	struct cy_cron c;
	char why[200] = "", shown[64];
	size_t i;

	/* The expression as the test's name, control bytes shown as '?'. */
	for (i = 0; expr[i] && i < sizeof(shown) - 1; i++)
		shown[i] = (unsigned char)expr[i] < 0x20 ? '?' : expr[i];
	shown[i] = '\0';
	ok(cy_cron_parse(expr, &c, why, sizeof(why)) < 0 && strstr(why, want_in_why),
	    "'%s' refused: %s", shown, why);
}

static void
test_basic(void)
{
	next_is("*/5 * * * *", "2026-01-01 00:00:00", "2026-01-01 00:05:00");
	next_is("*/5 * * * *", "2026-01-01 00:04:59", "2026-01-01 00:05:00");
	next_is("* * * * *", "2026-01-01 00:00:30", "2026-01-01 00:01:00");
	next_is("0 12 * * *", "2026-01-01 12:00:00", "2026-01-02 12:00:00");
	next_is("15,45 9-17/4 * * *", "2026-03-03 10:00:00", "2026-03-03 13:15:00");
	next_is("30 4 1,15 * *", "2026-01-15 04:30:00", "2026-02-01 04:30:00");
	next_is("  0   0 * * *  ", "2026-01-01 00:00:00", "2026-01-02 00:00:00");
	next_is("0 0 * * mon-fri", "2026-12-04 01:00:00", "2026-12-07 00:00:00");
	next_is("0 0 * JAN,jul Sun", "2026-01-05 00:00:00", "2026-01-11 00:00:00");
	next_is("0 0 * * 7", "2026-12-06 00:00:00", "2026-12-13 00:00:00");
	next_is("0 0 * * 0", "2026-12-06 00:00:00", "2026-12-13 00:00:00");
	next_is("5/20 * * * *", "2026-01-01 00:06:00", "2026-01-01 00:25:00");
	/* A start without a range runs to the field's end: day-of-week 7 is Sunday. */
	next_is("0 0 * * 7/7", "2026-12-06 00:00:00", "2026-12-13 00:00:00");
	next_is("0 0 * * 5/2", "2026-12-05 00:00:00", "2026-12-06 00:00:00");
	next_is("0 0 1 * *", "2026-12-31 23:59:59", "2027-01-01 00:00:00");
}

static void
test_macros_and_seconds(void)
{
	next_is("@hourly", "2026-01-01 00:00:00", "2026-01-01 01:00:00");
	next_is("@daily", "2026-01-01 00:00:00", "2026-01-02 00:00:00");
	next_is("@midnight", "2026-01-01 10:00:00", "2026-01-02 00:00:00");
	next_is("@weekly", "2026-12-06 00:00:00", "2026-12-13 00:00:00");
	next_is("@monthly", "2026-01-31 00:00:00", "2026-02-01 00:00:00");
	next_is("@yearly", "2026-01-01 00:00:00", "2027-01-01 00:00:00");
	next_is("@ANNUALLY", "2026-06-01 00:00:00", "2027-01-01 00:00:00");
	next_is("*/2 * * * * *", "2026-01-01 00:00:00", "2026-01-01 00:00:02");
	next_is("*/2 * * * * *", "2026-01-01 00:00:59", "2026-01-01 00:01:00");
	next_is("30 0 0 * * *", "2026-01-01 00:00:30", "2026-01-02 00:00:30");
}

static void
test_month_ends_and_leap_years(void)
{
	next_is("0 0 31 * *", "2026-01-31 00:00:00", "2026-03-31 00:00:00");
	next_is("0 0 31 * *", "2026-03-31 00:00:00", "2026-05-31 00:00:00");
	next_is("0 0 30 * *", "2026-01-30 00:00:00", "2026-03-30 00:00:00");
	next_is("0 0 29 2 *", "2026-01-01 00:00:00", "2028-02-29 00:00:00");
	/* 2100 is not a leap year, 2000 was. */
	next_is("0 0 29 2 *", "2096-03-01 00:00:00", "2104-02-29 00:00:00");
	next_is("0 0 29 2 *", "1999-01-01 00:00:00", "2000-02-29 00:00:00");
	next_is("0 0 30 2 *", "2026-01-01 00:00:00", NULL);
	next_is("0 0 31 4,6,9,11 *", "2026-01-01 00:00:00", NULL);
	next_is("59 23 28-31 2 *", "2027-02-28 23:59:00", "2028-02-28 23:59:00");
	next_is("59 23 * * *", "2026-12-31 23:59:00", "2027-01-01 23:59:00");
}

static void
test_day_rule(void)
{
	/* Both restricted: the 13th or a Friday. */
	next_is("0 0 13 * 5", "2026-12-06 00:00:00", "2026-12-11 00:00:00");
	next_is("0 0 13 * 5", "2026-12-11 00:00:00", "2026-12-13 00:00:00");
	/* A '*' day-of-week: the day of month alone. */
	next_is("0 0 13 * *", "2026-12-06 00:00:00", "2026-12-13 00:00:00");
	/* A '*' day of month (even "*\/1"): both must match, so Fridays only. */
	next_is("0 0 * * 5", "2026-12-06 00:00:00", "2026-12-11 00:00:00");
	next_is("0 0 */1 * 5", "2026-12-06 00:00:00", "2026-12-11 00:00:00");
	/* In February: the 29th or a Monday. */
	next_is("0 0 29 2 mon", "2026-12-06 00:00:00", "2027-02-01 00:00:00");
	next_is("0 0 29 2 mon", "2028-02-28 00:00:00", "2028-02-29 00:00:00");
	/* "*\/15" starts with '*': the 1st, 16th or 31st that is a Monday. */
	next_is("0 0 */15 * mon", "2026-12-06 00:00:00", "2027-02-01 00:00:00");
}

static void
test_refused(void)
{
	bad("", "empty");
	bad("* * * *", "4 fields");
	bad("* * * * * * *", "more than 6");
	bad("60 * * * *", "minute field: '60' is out of range 0-59");
	bad("* 24 * * *", "hour field");
	bad("* * 0 * *", "day-of-month field: '0' is out of range 1-31");
	bad("* * 32 * *", "day-of-month");
	bad("* * * 13 *", "month field");
	bad("* * * * 8", "day-of-week field");
	bad("*/0 * * * *", "step from 1 to 59");
	bad("*/60 * * * *", "step");
	bad("1-/2 * * * *", "range");
	bad("5-1 * * * *", "backwards");
	bad("a * * * *", "not a number");
	bad("* * * foo *", "not a number or a name");
	bad("* * * * monday", "not a number or a name");
	bad("1,,2 * * * *", "minute field");
	bad("1, * * * *", "minute field");
	bad("*-5 * * * *", "unexpected '-'");
	bad("100 * * * *", "minute field");
	bad("-1 * * * *", "minute field");
	bad("@reboot", "unknown macro");
	bad("@daily *", "unknown macro");
	bad("* * * * *\n", "control");
	bad("* * * * \xc3\xa9", "non-ASCII");
	bad("61 * * * * *", "second field");
	{
		char big[400];

		memset(big, '*', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		bad(big, "longer than 256");
	}
	{
		struct cy_cron c;

		ok(cy_cron_parse(NULL, &c, NULL, 0) < 0, "NULL refused without a message buffer");
	}
}

static void
test_bounds(void)
{
	struct cy_cron c;

	ok(cy_cron_parse("* * * * *", &c, NULL, 0) == 0, "parses");
	ok(cy_cron_next(&c, -1) == -1, "a negative time has no next");
	ok(cy_cron_next(&c, 253402300799LL) == -1, "none after 9999-12-31T23:59:59Z");
	ok(cy_cron_next(&c, 253402300740LL - 1) == 253402300740LL, "the last minute of 9999");
	ok(cy_cron_match(&c, at("2026-01-01 00:01:00")), "matches a minute");
	ok(!cy_cron_match(&c, at("2026-01-01 00:01:01")), "not a second within it");
	ok(!c.seconds, "5 fields: no seconds");
	ok(cy_cron_parse("* * * * * *", &c, NULL, 0) == 0 && c.seconds, "6 fields: seconds");
}

int
main(void)
{
	RUN_TEST(test_basic);
	RUN_TEST(test_macros_and_seconds);
	RUN_TEST(test_month_ends_and_leap_years);
	RUN_TEST(test_day_rule);
	RUN_TEST(test_refused);
	RUN_TEST(test_bounds);
	return tap_done();
}
