/*
 * Fuzz target for cron expressions (lib/cron.c), which users send in
 * POST /v1/schedules.  Beyond not crashing: a refusal always says why, an
 * accepted expression has something set in every field, and its next
 * time after a few instants is later than the instant and matches it (or
 * there is none), and matching times found by stepping from one match
 * to the next only increase.  Replayed as a unit test by replay.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cron.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int64_t from[] = { 0, 951782400 /* 2000-02-29 */, 1796083199,
		4107542399 /* 2100-02-28T23:59:59 */, 253402300000LL };
	char *s = xmalloc(size + 1), why[128];
	struct cy_cron c;
	size_t i;

	memcpy(s, data, size);
	s[size] = '\0';
	why[0] = '\0';
	if (cy_cron_parse(s, &c, why, sizeof(why)) < 0) {
		if (!why[0])
			abort();
		free(s);
		return 0;
	}
	if (!c.sec || !c.min || !c.hour || !c.dom || !c.mon || !c.dow)
		abort();
	if ((c.sec >> 60) || (c.min >> 60) || (c.hour >> 24) || (c.dom & 1) || (c.mon & 1) ||
	    (c.mon >> 13) || (c.dow >> 7))
		abort();
	for (i = 0; i < sizeof(from) / sizeof(from[0]); i++) {
		int64_t t = cy_cron_next(&c, from[i]), u;

		if (t == -1)
			continue;
		if (t <= from[i] || !cy_cron_match(&c, t))
			abort();
		u = cy_cron_next(&c, t);
		if (u != -1 && (u <= t || !cy_cron_match(&c, u)))
			abort();
	}
	free(s);
	return 0;
}
