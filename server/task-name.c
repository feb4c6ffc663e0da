/*
 * Task name normalisation and collision suffixes (contract 4.2): names are
 * lowercase [a-z0-9] words joined by single dashes, unique per user.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "task-name.h"
#include "banned.h"

void
task_name_normalise(const char *in, struct cy_buf *out)
{
	bool dash = false;

	cy_buf_reset(out);
	for (; *in && out->len < TASK_NAME_MAX; in++) {
		unsigned char c = (unsigned char)*in;

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
			if (dash && out->len > 0)
				cy_buf_addch(out, '-');
			dash = false;
			cy_buf_addch(out, c);
		} else {
			dash = true;
		}
	}
	while (out->len > 0 && out->buf[out->len - 1] == '-')
		cy_buf_setlen(out, out->len - 1);
}

/* True when `name` is one of the taken names. */
static bool
name_taken(const char *name, const char *const *taken, size_t ntaken)
{
	size_t i;

	for (i = 0; i < ntaken; i++)
		if (strcmp(taken[i], name) == 0)
			return true;
	return false;
}

char *
task_name_pick(const char *base, const char *const *taken, size_t ntaken)
{
	char *name;
	size_t n;

	if (!name_taken(base, taken, ntaken))
		return xstrdup(base);
	for (n = 2;; n++) {
		name = xasprintf("%s-%zu", base, n);
		if (!name_taken(name, taken, ntaken))
			return name;
		free(name);
	}
}
