/*
 * Fuzz target for the small parsers that see request fields, query
 * parameters and flags: integers (lib/strnum.c), durations and RFC 3339
 * times (lib/timeutil.c), UUID/ULID, slug and label checks (lib/id.c), UTF-8
 * checks (lib/json.c) and node URLs (server/node-payload.c).  Beyond not crashing, it checks
 * properties: a parsed time formats and parses back to itself, a parsed integer is in range, a
 * valid UUID/ULID has the right length.  Replayed as a unit test by replay.c; `make fuzz` runs it
 * under libFuzzer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "id.h"
#include "json.h"
#include "node-payload.h"
#include "server.h"
#include "strnum.h"
#include "timeutil.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct server srv;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xmalloc(size + 1), out[CY_RFC3339_LEN + 1];
	const char *errstr;
	long long v, secs;
	time_t t, t2;

	memcpy(s, data, size);
	s[size] = '\0';
	if (cy_strtonum(s, -1000, 1000000, &v, &errstr) == 0 && (v < -1000 || v > 1000000))
		abort();
	if (cy_duration_parse(s, &secs) == 0 && secs < 0)
		abort();
	if (cy_time_parse_rfc3339(s, &t) == 0) {
		cy_time_rfc3339(t, out);
		if (cy_time_parse_rfc3339(out, &t2) != 0 || t2 != t)
			abort();
	}
	if (cy_uuid_valid(s) && strlen(s) != CY_UUID_LEN)
		abort();
	if (cy_ulid_valid(s) && strlen(s) != CY_ULID_LEN)
		abort();
	if ((cy_slug_valid(s) || cy_label_valid(s)) && (strlen(s) == 0 || strlen(s) > 63))
		abort();
	if (cy_utf8_valid(s, size) && size > 0 && (unsigned char)s[0] >= 0xf5)
		abort();
	(void)node_url_valid(s);
	free(s);
	return 0;
}
