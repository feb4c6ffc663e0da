/*
 * Unit tests for lib/timeutil.c: RFC 3339 timestamps and durations.
 */
#include <string.h>

#include "tap.h"
#include "timeutil.h"

static void
test_rfc3339(void)
{
	char out[CY_RFC3339_LEN + 1];
	time_t t = 0;

	cy_time_rfc3339(1771243200, out);
	is_str(out, "2026-02-16T12:00:00Z", "format");
	ok(cy_time_parse_rfc3339("2026-02-16T12:00:00Z", &t) == 0 && t == 1771243200, "parse Z");
	/* Found by fuzz-parse: years below 1000 must keep four digits. */
	ok(cy_time_parse_rfc3339("0026-02-16T12:00:00Z", &t) == 0, "parse year 0026");
	cy_time_rfc3339(t, out);
	is_str(out, "0026-02-16T12:00:00Z", "format year 0026 with four digits");
	ok(cy_time_parse_rfc3339("9999-12-31T23:59:59Z", &t) == 0 && t == CY_TIME_MAX,
		"the last time RFC 3339 can write");
	ok(cy_time_parse_rfc3339("9999-12-31T23:59:59-22:59", &t) == -1,
		"an offset that moves it into year 10000 is refused (found by the parse fuzzer)");
	ok(cy_time_parse_rfc3339("0000-01-01T00:00:00+00:01", &t) == -1,
		"and one that moves it before year 0");
	ok(cy_time_parse_rfc3339("2026-02-16T13:30:00+01:30", &t) == 0 && t == 1771243200,
		"parse a positive offset");
	ok(cy_time_parse_rfc3339("2026-02-16T07:00:00-05:00", &t) == 0 && t == 1771243200,
		"parse a negative offset");
	ok(cy_time_parse_rfc3339("2026-02-16T12:00:00.123456Z", &t) == 0 && t == 1771243200,
		"parse a fraction");
	ok(cy_time_parse_rfc3339("2026-02-16 12:00:00Z", &t) == 0 && t == 1771243200,
		"space separator accepted (RFC 3339 5.6 note)");
	ok(cy_time_parse_rfc3339("2026-02-30T12:00:00Z", &t) == -1, "February 30 rejected");
	ok(cy_time_parse_rfc3339("2026-13-16T12:00:00Z", &t) == -1, "month 13 rejected");
	ok(cy_time_parse_rfc3339("2026-02-16T12:00:00", &t) == -1, "missing offset rejected");
	ok(cy_time_parse_rfc3339("yesterday", &t) == -1, "garbage rejected");
	ok(cy_time_parse_rfc3339("", &t) == -1, "empty rejected");
	cy_now_rfc3339(out);
	ok(strlen(out) == CY_RFC3339_LEN && out[19] == 'Z', "now is formatted");
}

static void
test_duration(void)
{
	long long s = 0;

	ok(cy_duration_parse("30s", &s) == 0 && s == 30, "30s");
	ok(cy_duration_parse("15m", &s) == 0 && s == 900, "15m");
	ok(cy_duration_parse("168h", &s) == 0 && s == 604800, "168h");
	ok(cy_duration_parse("1h30m", &s) == 0 && s == 5400, "1h30m");
	ok(cy_duration_parse("45", &s) == 0 && s == 45, "bare number is seconds");
	ok(cy_duration_parse("-5s", &s) == -1, "negative rejected");
	ok(cy_duration_parse("5x", &s) == -1, "unknown unit rejected");
	ok(cy_duration_parse("", &s) == -1, "empty rejected");
	ok(cy_duration_parse("h", &s) == -1, "unit without number rejected");
	ok(cy_duration_parse("99999999999999999999h", &s) == -1, "overflow rejected");
	ok(cy_mono_ms() > 0 && cy_mono_ns() > 0, "monotonic clock runs");
}

int
main(void)
{
	RUN_TEST(test_rfc3339);
	RUN_TEST(test_duration);
	return tap_done();
}
