/*
 * Cron expression parser and next-time search (cron.h).  Each field
 * becomes a bit set; the search walks UTC calendar time from the given
 * instant, skipping a whole month, day, hour or minute whenever that unit
 * does not match, so it takes at most a few thousand steps even for an
 * expression that matches once in years (29 February on a Monday).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "cron.h"
#include "banned.h"

/* How far cy_cron_next looks: 28 years hold every weekday of every date. */
#define SEARCH_SECONDS (28LL * 366 * 86400)
#define TIME_MAX 253402300799LL

struct field {
	const char *name;
	int lo, hi;
	const char *const *names; /* names[i] is the value lo + i, or NULL */
};

static const char *const month_names[] = { "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug",
	"sep", "oct", "nov", "dec", NULL };
static const char *const dow_names[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL };

static const struct field fields[] = {
	{ "second", 0, 59, NULL },
	{ "minute", 0, 59, NULL },
	{ "hour", 0, 23, NULL },
	{ "day-of-month", 1, 31, NULL },
	{ "month", 1, 12, month_names },
	{ "day-of-week", 0, 7, dow_names },
};

static const struct {
	const char *name, *expr;
} macros[] = {
	{ "@yearly", "0 0 1 1 *" },
	{ "@annually", "0 0 1 1 *" },
	{ "@monthly", "0 0 1 * *" },
	{ "@weekly", "0 0 * * 0" },
	{ "@daily", "0 0 * * *" },
	{ "@midnight", "0 0 * * *" },
	{ "@hourly", "0 * * * *" },
};

__attribute__((format(printf, 3, 4))) static int
fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		cy_vsnprintf_clip(why, whylen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/*
 * One value of field f at *p (a number of at most 2 digits, or a name where
 * the field has names); advances *p.  -1 when there is none.
 */
static int
value(const struct field *f, const char **p)
{
	const char *s = *p;
	int v = 0, n = 0, i;

	if (f->names && ((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z')) {
		for (i = 0; f->names[i]; i++)
			if (!strncasecmp(s, f->names[i], 3) &&
			    !((s[3] | 0x20) >= 'a' && (s[3] | 0x20) <= 'z')) {
				*p = s + 3;
				return f->lo + i;
			}
		return -1;
	}
	while (s[n] >= '0' && s[n] <= '9') {
		if (n == 2)
			return -1;
		v = v * 10 + (s[n] - '0');
		n++;
	}
	if (n == 0)
		return -1;
	*p = s + n;
	return v;
}

/* The token at p up to the next ',' or the end, for messages. */
static int
toklen(const char *p)
{
	int n = 0;

	while (p[n] && p[n] != ',' && n < 40)
		n++;
	return n;
}

/*
 * Field f of text [s, s + n) into *bits; *star when it begins with '*'.
 * -1 with why filled.
 */
static int
parse_field(const struct field *f, const char *s, size_t n, uint64_t *bits, bool *star, char *why,
    size_t whylen)
{
	char buf[CY_CRON_MAX + 1];
	const char *p = buf;

	memcpy(buf, s, n);
	buf[n] = '\0';
	*bits = 0;
	*star = buf[0] == '*';
	for (;;) {
		const char *item = p;
		int a, b, step = 1, v;
		bool range = false;

		if (*p == '*') {
			a = f->lo;
			b = f->names == dow_names ? 6 : f->hi;
			range = true;
			p++;
		} else {
			if ((a = value(f, &p)) < 0)
				return fail(why, whylen, "%s field: '%.*s' is not a number%s",
				    f->name, toklen(item), item, f->names ? " or a name" : "");
			b = a;
			if (*p == '-') {
				p++;
				if ((b = value(f, &p)) < 0)
					return fail(why, whylen,
					    "%s field: '%.*s' is not a range a-b", f->name,
					    toklen(item), item);
				range = true;
			}
			if (a < f->lo || a > f->hi || b < f->lo || b > f->hi)
				return fail(why, whylen, "%s field: '%.*s' is out of range %d-%d",
				    f->name, toklen(item), item, f->lo, f->hi);
			if (a > b)
				return fail(why, whylen,
				    "%s field: '%.*s' is a range that runs backwards", f->name,
				    toklen(item), item);
		}
		if (*p == '/') {
			const char *st = ++p;

			step = 0;
			while (*p >= '0' && *p <= '9' && step <= 99)
				step = step * 10 + (*p++ - '0');
			if (p == st || step < 1 || step > f->hi)
				return fail(why, whylen,
				    "%s field: '%.*s' needs a step from 1 to %d after '/'", f->name,
				    toklen(item), item, f->hi);
			/* "5/15" is "5-max/15" (day-of-week: up to 7, so "7/7" is Sunday). */
			if (!range)
				b = f->hi;
		}
		if (*p != ',' && *p != '\0')
			return fail(why, whylen, "%s field: unexpected '%c' in '%.*s'", f->name, *p,
			    toklen(item), item);
		for (v = a; v <= b; v += step)
			*bits |= 1ULL << (f->names == dow_names && v == 7 ? 0 : v);
		if (*p == '\0')
			return 0;
		p++;
	}
}

int
cy_cron_parse(const char *s, struct cy_cron *c, char *why, size_t whylen)
{
	const char *start[6];
	size_t len[6], i, nf = 0;
	uint64_t bits[6];
	bool star[6];
	const char *p;

	memset(c, 0, sizeof(*c));
	if (!s || !*s)
		return fail(why, whylen, "empty cron expression");
	if (strnlen(s, CY_CRON_MAX + 1) > CY_CRON_MAX)
		return fail(why, whylen, "cron expression longer than %d bytes", CY_CRON_MAX);
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '@') {
		size_t n = strcspn(s, " \t");

		for (i = 0; i < sizeof(macros) / sizeof(macros[0]); i++)
			if (strlen(macros[i].name) == n && !strncasecmp(s, macros[i].name, n) &&
			    s[n + strspn(s + n, " \t")] == '\0')
				return cy_cron_parse(macros[i].expr, c, why, whylen);
		return fail(why, whylen,
		    "unknown macro '%.*s' (@yearly, @monthly, @weekly, @daily or @hourly)",
		    (int)(n > 20 ? 20 : n), s);
	}
	for (p = s; *p;) {
		size_t n = strcspn(p, " \t");

		if (nf == 6)
			return fail(why, whylen,
			    "more than 6 fields (minute hour day-of-month month day-of-week, "
			    "optionally with seconds first)");
		start[nf] = p;
		len[nf++] = n;
		p += n;
		p += strspn(p, " \t");
	}
	for (p = s; *p; p++)
		if (((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) && *p != '\t')
			return fail(why, whylen,
			    "cron expression holds a control or non-ASCII byte");
	if (nf != 5 && nf != 6)
		return fail(why, whylen,
		    "%zu field%s: a cron expression has 5 (minute hour day-of-month month "
		    "day-of-week), or 6 with seconds first",
		    nf, nf == 1 ? "" : "s");
	for (i = 0; i < nf; i++) {
		const struct field *f = &fields[i + 6 - nf];

		if (parse_field(f, start[i], len[i], &bits[i + 6 - nf], &star[i + 6 - nf], why,
			whylen) < 0)
			return -1;
	}
	if (nf == 5)
		bits[0] = 1;
	c->seconds = nf == 6;
	c->sec = bits[0];
	c->min = bits[1];
	c->hour = (uint32_t)bits[2];
	c->dom = (uint32_t)bits[3];
	c->mon = (uint16_t)bits[4];
	c->dow = (uint8_t)bits[5];
	c->dom_star = star[3];
	c->dow_star = star[4 + 1];
	return 0;
}

/* Days since 1970-01-01 of a civil date (H. Hinnant's algorithm). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The civil date of a day number (days since 1970-01-01). */
static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* True when day number `days` (of month m, day d) matches the day fields. */
static bool
day_match(const struct cy_cron *c, int64_t days, int d)
{
	bool dm = c->dom >> d & 1;
	bool wm = c->dow >> (int)((days % 7 + 11) % 7) & 1; /* 1970-01-01 was a Thursday */

	if (c->dom_star || c->dow_star)
		return dm && wm;
	return dm || wm;
}

bool
cy_cron_match(const struct cy_cron *c, int64_t t)
{
	int64_t days, y, r;
	int m, d;

	if (t < 0 || t > TIME_MAX)
		return false;
	days = t / 86400;
	r = t % 86400;
	civil_from_days(days, &y, &m, &d);
	return (c->mon >> m & 1) && day_match(c, days, d) && (c->hour >> (r / 3600) & 1) &&
	       (c->min >> (r / 60 % 60) & 1) && (c->sec >> (r % 60) & 1);
}

int64_t
cy_cron_next(const struct cy_cron *c, int64_t after)
{
	int64_t t, end, days, y, r;
	int m, d;

	if (after < 0 || after >= TIME_MAX)
		return -1;
	t = after + 1;
	end = after + SEARCH_SECONDS;
	while (t <= end && t <= TIME_MAX) {
		days = t / 86400;
		r = t % 86400;
		civil_from_days(days, &y, &m, &d);
		if (!(c->mon >> m & 1)) {
			t = (m == 12 ? days_from_civil(y + 1, 1, 1) :
				       days_from_civil(y, m + 1, 1)) *
			    86400;
			continue;
		}
		if (!day_match(c, days, d)) {
			t = (days + 1) * 86400;
			continue;
		}
		if (!(c->hour >> (r / 3600) & 1)) {
			t = t - r % 3600 + 3600;
			continue;
		}
		if (!(c->min >> (r / 60 % 60) & 1)) {
			t = t - r % 60 + 60;
			continue;
		}
		if (!(c->sec >> (r % 60) & 1)) {
			t++;
			continue;
		}
		return t;
	}
	return -1;
}
