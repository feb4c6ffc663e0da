/*
 * Fuzz target for job array specs (lib/arrayspec.c), which come from
 * POST /v1/tasks bodies.  Beyond not crashing: a refused spec says why and
 * owns nothing; an accepted one has 1..CY_ARRAY_ELEMENTS_MAX indexes,
 * ascending and distinct, each within 0..CY_ARRAY_INDEX_MAX, and a cap
 * within 0..CY_ARRAY_ELEMENTS_MAX.  Replayed as a unit test by replay.c;
 * `make fuzz` runs it under libFuzzer.
 */
#include <stdint.h>
#include <stdlib.h>

#include "arrayspec.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cy_array_spec a;
	char why[256];
	size_t i;

	if (cy_array_spec_parse((const char *)data, size, &a, why, sizeof(why)) < 0) {
		if (!why[0] || a.idx || a.n)
			abort();
		return 0;
	}
	if (a.n < 1 || a.n > CY_ARRAY_ELEMENTS_MAX || a.cap < 0 || a.cap > CY_ARRAY_ELEMENTS_MAX)
		abort();
	for (i = 0; i < a.n; i++)
		if (a.idx[i] < 0 || a.idx[i] > CY_ARRAY_INDEX_MAX ||
		    (i > 0 && a.idx[i] <= a.idx[i - 1]))
			abort();
	cy_array_spec_release(&a);
	return 0;
}
