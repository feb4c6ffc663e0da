/*
 * Bounded integer parsing (OpenBSD strtonum): the whole string must be a
 * decimal integer, optionally signed, within [min, max].  No leading
 * whitespace, no trailing garbage, no empty string.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strnum.h"

#include "banned.h"

int
cy_strtonum(const char *s, long long min, long long max, long long *out, const char **errstr)
{
	const char *dummy;
	const char *p;
	char *end;
	long long v;

	if (errstr == NULL)
		errstr = &dummy;
	*errstr = "invalid";
	if (s == NULL || min > max)
		return -1;
	p = s;
	if (*p == '+' || *p == '-')
		p++;
	if (!isdigit((unsigned char)*p))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0')
		return -1;
	if ((errno == ERANGE && v == LLONG_MIN) || v < min) {
		*errstr = "too small";
		return -1;
	}
	if ((errno == ERANGE && v == LLONG_MAX) || v > max) {
		*errstr = "too large";
		return -1;
	}
	*errstr = NULL;
	if (out)
		*out = v;
	return 0;
}

int
cy_size_parse(const char *s, long long max, long long *bytes)
{
	static const char units[] = "KMGT";
	const char *p = s, *u;
	long long n = 0, mult = 1;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	while (isdigit((unsigned char)*p)) {
		if (n > (LLONG_MAX - (*p - '0')) / 10)
			return -1;
		n = n * 10 + (*p - '0');
		p++;
	}
	if (*p) {
		if (!(u = strchr(units, toupper((unsigned char)*p))))
			return -1;
		mult = 1LL << (10 * (u - units + 1));
		p++;
		if (*p && strcasecmp(p, "B") && strcasecmp(p, "iB") && strcasecmp(p, "i"))
			return -1;
	}
	if (n > LLONG_MAX / mult || n * mult > max)
		return -1;
	*bytes = n * mult;
	return 0;
}
