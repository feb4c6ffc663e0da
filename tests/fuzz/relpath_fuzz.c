/*
 * Fuzz target for the safe-name checks of attachment names and artifact
 * patterns (lib/relpath.c).  Beyond not crashing, it checks the property
 * that matters: a name accepted never leaves the directory it is placed
 * under (no absolute path, no '.' or '..' component, no empty component,
 * no byte below 0x20, no backslash), and every accepted name is also an
 * accepted pattern.  Replayed as a unit test by replay.c; `make fuzz`
 * runs it under libFuzzer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "relpath.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The property of an accepted name, checked the slow way. */
static void
check_name(const char *s, size_t n)
{
	size_t i, start = 0, depth = 0;

	if (n == 0 || n > CY_RELPATH_MAX || s[0] == '/' || s[n - 1] == '/')
		abort();
	for (i = 0; i <= n; i++) {
		if (i < n && ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '\\'))
			abort();
		if (i < n && s[i] != '/')
			continue;
		if (i == start || (i - start == 1 && s[start] == '.') ||
		    (i - start == 2 && s[start] == '.' && s[start + 1] == '.') || i - start > 255)
			abort();
		depth++;
		start = i + 1;
	}
	if (depth > CY_RELPATH_DEPTH)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xmalloc(size + 1);
	const char *why = NULL;

	memcpy(s, data, size);
	s[size] = '\0';
	if (cy_relpath_valid(s, size, &why)) {
		check_name(s, size);
		if (!cy_relglob_valid(s, size, NULL))
			abort();
	} else if (!why) {
		abort();
	}
	why = NULL;
	if (cy_relglob_valid(s, size, &why)) {
		size_t n = size > 1 && s[size - 1] == '/' ? size - 1 : size;

		check_name(s, n);
	} else if (!why) {
		abort();
	}
	free(s);
	return 0;
}
