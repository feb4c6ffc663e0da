/*
 * Time helpers: RFC 3339 formatting (UTC, second precision, 'Z') and parsing
 * (any offset, optional fraction), durations such as "30s", "15m", "168h",
 * "1h30m" or "500ms" into whole seconds, and monotonic clocks.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "timeutil.h"

#include "banned.h"

void
cy_time_rfc3339(time_t t, char out[CY_RFC3339_LEN + 1])
{
	struct tm tm;
	long long year;
	char tmp[80]; /* room for any int fields: the compiler cannot see the ranges */

	/* Years outside 0000..9999 do not fit the fixed format. */
	if (gmtime_r(&t, &tm) == NULL || (year = (long long)tm.tm_year + 1900) < 0 || year > 9999) {
		xsnprintf(out, CY_RFC3339_LEN + 1, "%s", "1970-01-01T00:00:00Z");
		return;
	}
	/* Not strftime: glibc's %Y does not pad years below 1000 to 4 digits. */
	xsnprintf(tmp, sizeof(tmp), "%04lld-%02d-%02dT%02d:%02d:%02dZ", year, tm.tm_mon + 1,
	    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	memcpy(out, tmp, CY_RFC3339_LEN); /* exactly 20 characters for 0000..9999 */
	out[CY_RFC3339_LEN] = '\0';
}

void
cy_now_rfc3339(char out[CY_RFC3339_LEN + 1])
{
	cy_time_rfc3339(time(NULL), out);
}

/* Reads exactly n decimal digits at *p into *v, advancing *p. */
static int
time_digits(const char **p, int n, int *v)
{
	int i, r = 0;

	for (i = 0; i < n; i++) {
		char c = (*p)[i];

		if (c < '0' || c > '9')
			return -1;
		r = r * 10 + (c - '0');
	}
	*p += n;
	*v = r;
	return 0;
}

static int
time_is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int
cy_time_parse_rfc3339(const char *s, time_t *out)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int year, mon, day, hour, min, sec, oh = 0, om = 0, sign = 0, dim;
	const char *p = s;
	struct tm tm;
	time_t t;

	if (s == NULL)
		return -1;
	if (time_digits(&p, 4, &year) || *p++ != '-' || time_digits(&p, 2, &mon) || *p++ != '-' ||
	    time_digits(&p, 2, &day))
		return -1;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return -1;
	p++;
	if (time_digits(&p, 2, &hour) || *p++ != ':' || time_digits(&p, 2, &min) || *p++ != ':' ||
	    time_digits(&p, 2, &sec))
		return -1;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		while (*p >= '0' && *p <= '9')
			p++; /* second precision: the fraction is dropped */
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (time_digits(&p, 2, &oh) || *p++ != ':' || time_digits(&p, 2, &om))
			return -1;
		if (oh > 23 || om > 59)
			return -1;
	} else {
		return -1;
	}
	if (*p != '\0')
		return -1;
	if (mon < 1 || mon > 12 || hour > 23 || min > 59 || sec > 60)
		return -1;
	dim = mdays[mon - 1] + (mon == 2 && time_is_leap(year));
	if (day < 1 || day > dim)
		return -1;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec == 60 ? 59 : sec; /* a leap second maps to :59 */
	t = timegm(&tm);
	if (t == (time_t)-1 && !(year == 1969 && mon == 12 && day == 31))
		return -1;
	t -= (time_t)sign * (oh * 3600 + om * 60);
	/* The offset may move it out of the four-digit years RFC 3339 can write. */
	if (t < CY_TIME_MIN || t > CY_TIME_MAX)
		return -1;
	*out = t;
	return 0;
}

int
cy_duration_parse(const char *s, long long *seconds)
{
	const char *p = s;
	long long total = 0, n, ms = 0;
	int units = 0;

	if (s == NULL || *s == '\0')
		return -1;
	while (*p) {
		long long mult;

		if (*p < '0' || *p > '9')
			return -1;
		n = 0;
		while (*p >= '0' && *p <= '9') {
			if (n > (LLONG_MAX - (*p - '0')) / 10)
				return -1;
			n = n * 10 + (*p - '0');
			p++;
		}
		if (*p == '\0') {
			/* A bare number is seconds, but only on its own ("1h30" is wrong). */
			if (units)
				return -1;
			*seconds = n;
			return 0;
		}
		if (p[0] == 'm' && p[1] == 's') {
			if (n > LLONG_MAX - ms)
				return -1;
			ms += n;
			p += 2;
			units++;
			continue;
		}
		switch (*p) {
		case 'h':
			mult = 3600;
			break;
		case 'm':
			mult = 60;
			break;
		case 's':
			mult = 1;
			break;
		default:
			return -1;
		}
		p++;
		units++;
		if (n > LLONG_MAX / mult || n * mult > LLONG_MAX - total)
			return -1;
		total += n * mult;
	}
	/* Milliseconds round up to whole seconds. */
	n = ms / 1000 + (ms % 1000 != 0);
	if (n > LLONG_MAX - total)
		return -1;
	*seconds = total + n;
	return 0;
}

int64_t
cy_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
cy_real_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
cy_mono_ms(void)
{
	return cy_mono_ns() / 1000000;
}
