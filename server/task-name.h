/*
 * Task names: the lowercase-dash normalisation of contract 4.2 and the
 * choice of a free name among the names a user already has.
 */
#ifndef SERVER_TASK_NAME_H
#define SERVER_TASK_NAME_H

#include <stddef.h>

#include "buf.h"

/* Longest stored name, before a "-N" suffix. */
#define TASK_NAME_MAX 100

/*
 * Normalises `in` into `out` (reset first): lowercase, every run of
 * characters other than [a-z0-9] becomes one '-', leading and trailing '-'
 * trimmed, cut at TASK_NAME_MAX.  `out` may end up empty.
 */
void task_name_normalise(const char *in, struct cy_buf *out);

/*
 * Picks the first of `base`, `base-2`, `base-3`, ... that is not among the
 * `ntaken` names in `taken`; caller frees.
 */
char *task_name_pick(const char *base, const char *const *taken, size_t ntaken);

#endif
