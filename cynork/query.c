/*
 * The query string of list commands with filters (audit list, accounting
 * list and summary): "?key=value&..." with escaped values, and the time
 * flags that take an RFC 3339 time or a duration meaning that long ago.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "alloc.h"
#include "buf.h"
#include "cynork.h"
#include "timeutil.h"
#include "banned.h"

char *
query_time(const char *v)
{
	char buf[CY_RFC3339_LEN + 1];
	long long secs;
	time_t t;

	if (cy_time_parse_rfc3339(v, &t) == 0)
		return xstrdup(v);
	if (cy_duration_parse(v, &secs) == 0 && secs >= 0) {
		cy_time_rfc3339(time(NULL) - (time_t)secs, buf);
		return xstrdup(buf);
	}
	return NULL;
}

int
query_time_check(const struct parsed *p, const char *const *keys)
{
	char *w;
	size_t i;

	for (i = 0; keys[i]; i++) {
		if (!opt_get(p, keys[i]))
			continue;
		if (!(w = query_time(opt_get(p, keys[i]))))
			return fail(EXIT_USAGE,
			    "invalid time '%s' for --%s: want RFC 3339 (2026-01-02T15:04:05Z) or a duration ago (1h)",
			    opt_get(p, keys[i]), keys[i]);
		free(w);
	}
	return 0;
}

void
query_add(struct cy_buf *q, const char *key, const char *value)
{
	char *e;

	if (!value)
		return;
	e = url_escape(value);
	cy_buf_addf(q, "%c%s=%s", q->len ? '&' : '?', key, e);
	free(e);
}

void
query_add_time(struct cy_buf *q, const char *key, const char *value)
{
	char *t = value ? query_time(value) : NULL;

	query_add(q, key, t);
	free(t);
}
