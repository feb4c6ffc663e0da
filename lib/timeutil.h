/*
 * Time helpers: RFC 3339 UTC timestamps (second precision, 'Z' suffix, as the
 * wire contract uses), durations ("30s", "15m", "168h", "1h30m") and a
 * monotonic clock.
 */
#ifndef CY_TIMEUTIL_H
#define CY_TIMEUTIL_H

#include <stdint.h>
#include <time.h>

#define CY_RFC3339_LEN 20

/* Formats t as "2026-02-16T12:00:00Z"; out must hold CY_RFC3339_LEN + 1 bytes. */
void cy_time_rfc3339(time_t t, char out[CY_RFC3339_LEN + 1]);
void cy_now_rfc3339(char out[CY_RFC3339_LEN + 1]);
/* 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the times RFC 3339 can write. */
#define CY_TIME_MIN (-62167219200LL)
#define CY_TIME_MAX 253402300799LL
/* Parses RFC 3339 (any offset, optional fraction); 0 on success, -1 otherwise. */
int cy_time_parse_rfc3339(const char *s, time_t *out);
/* Parses a duration into seconds; a bare number means seconds. -1 on error. */
int cy_duration_parse(const char *s, long long *seconds);
/* Wall-clock microseconds since the epoch (timestamps compared across processes). */
int64_t cy_real_us(void);
/* Monotonic milliseconds and nanoseconds. */
int64_t cy_mono_ms(void);
int64_t cy_mono_ns(void);

#endif
