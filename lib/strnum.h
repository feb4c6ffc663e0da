/*
 * Bounded number parsing (OpenBSD strtonum): the whole string must be a
 * decimal integer within [min, max].
 */
#ifndef CY_STRNUM_H
#define CY_STRNUM_H

/* 0 and *out set on success; -1 with *errstr "invalid", "too small" or "too large". */
int cy_strtonum(const char *s, long long min, long long max, long long *out, const char **errstr);

#endif
