/*
 * Cron expressions (lib/cron.c): the standard 5 fields "minute hour
 * day-of-month month day-of-week", each '*', a number, a range "a-b", a
 * list "a,b-c" and a step "x/n" ("*" or a range or a start, every n); names
 * jan..dec and sun..sat (any case) in the month and day-of-week fields,
 * day-of-week 7 meaning Sunday as 0 does; the macros @yearly (@annually),
 * @monthly, @weekly, @daily (@midnight) and @hourly.  As an extension a
 * 6-field form puts seconds first ("*\/2 * * * * *": every 2 s).  As in
 * Vixie cron, when both day fields are restricted (neither starts with
 * '*') a day matches either of them; otherwise both must match.  Times are
 * UTC seconds since the epoch.
 */
#ifndef CY_CRON_H
#define CY_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest expression accepted. */
#define CY_CRON_MAX 256

struct cy_cron {
	uint64_t sec;            /* bit s: second s (0-59) */
	uint64_t min;            /* bit m: minute m (0-59) */
	uint32_t hour;           /* bit h: hour h (0-23) */
	uint32_t dom;            /* bit d: day of month d (1-31) */
	uint16_t mon;            /* bit m: month m (1-12) */
	uint8_t dow;             /* bit d: day of week d (0-6, Sunday 0) */
	bool dom_star, dow_star; /* the field began with '*' */
	bool seconds;            /* written with the seconds field */
};

/*
 * Parses s into c.  0, or -1 with why (a lower-case reason naming the
 * field, at most whylen bytes with its NUL) filled.
 */
int cy_cron_parse(const char *s, struct cy_cron *c, char *why, size_t whylen);

/*
 * The first time matching c strictly after `after` (UTC seconds, 0 to
 * CY_TIME_MAX), or -1 when none comes within 28 years (e.g. "0 0 30 2 *")
 * or after is out of range.
 */
int64_t cy_cron_next(const struct cy_cron *c, int64_t after);

/* True when time t (UTC seconds) matches c. */
bool cy_cron_match(const struct cy_cron *c, int64_t t);

#endif
