/*
 * Job array specs (Slurm's --array): "0-99", "1,3,5-9", "0-20:5" (a range
 * with a step), each optionally followed by "%N", the most elements queued
 * or running at once.  Indexes 0..CY_ARRAY_INDEX_MAX, at most
 * CY_ARRAY_ELEMENTS_MAX of them, each once.
 */
#ifndef CY_ARRAYSPEC_H
#define CY_ARRAYSPEC_H

#include <stddef.h>

#define CY_ARRAY_ELEMENTS_MAX 10000
#define CY_ARRAY_INDEX_MAX 1000000
#define CY_ARRAY_SPEC_MAX 65536 /* bytes of a spec */
#define CY_ARRAY_SPEC_SHAPE \
	"indexes and ranges such as \"0-99\", \"1,3,5-9\" or \"0-20:5\", optionally " \
	"followed by \"%N\" (at most N elements at once)"

struct cy_array_spec {
	int *idx; /* ascending, distinct; owned */
	size_t n;
	int cap; /* 0: no cap; else 1..CY_ARRAY_ELEMENTS_MAX */
};

/*
 * Parses s (len bytes, no NUL needed) into *out: 0, or -1 with why (a
 * sentence, at most whylen bytes) and *out empty.
 */
int cy_array_spec_parse(const char *s, size_t len, struct cy_array_spec *out, char *why,
    size_t whylen);
/* Frees what *a owns. */
void cy_array_spec_release(struct cy_array_spec *a);

#endif
