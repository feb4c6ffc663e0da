/*
 * Helpers shared by the identity routes (see identity.h).
 */
#include <stdlib.h>
#include <string.h>

#include "identity.h"
#include "log.h"
#include "strnum.h"
#include "banned.h"

void
identity_internal(struct cy_http_resp *resp, const char *what, const struct cy_error *err)
{
	cy_log_error("identity_internal", "step", what, "error", err->msg, NULL);
	cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "Internal server error");
}

long long
identity_duration(const json_t *v)
{
	static const struct {
		char unit;
		long long mul;
	} units[] = { { .unit = 's', .mul = 1 }, { .unit = 'm', .mul = 60 },
		{ .unit = 'h', .mul = 3600 }, { .unit = 'd', .mul = 86400 } };
	char num[32];
	const char *s, *es;
	long long n;
	size_t len, i;

	if (json_is_integer(v))
		return json_integer_value(v) >= 0 ? (long long)json_integer_value(v) : -1;
	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	len = strlen(s);
	if (len < 2 || len >= sizeof(num))
		return -1;
	memcpy(num, s, len - 1);
	num[len - 1] = '\0';
	if (cy_strtonum(num, 0, 1000000000LL, &n, &es) < 0)
		return -1;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (s[len - 1] == units[i].unit)
			return n * units[i].mul;
	return -1;
}

bool
identity_name_ok(const char *s)
{
	size_t i, n = s ? strlen(s) : 0;

	if (n == 0 || n > 64)
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			(i > 0 && (c == '.' || c == '_' || c == '-'))))
			return false;
	}
	return true;
}

void
identity_secret_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}
