/*
 * Bounded number parsing (OpenBSD strtonum): the whole string must be a
 * decimal integer within [min, max].
 */
#ifndef CY_STRNUM_H
#define CY_STRNUM_H

/* 0 and *out set on success; -1 with *errstr "invalid", "too small" or "too large". */
int cy_strtonum(const char *s, long long min, long long max, long long *out, const char **errstr);

/*
 * A size: a decimal integer of bytes, or with a binary unit K, M, G or T
 * (also KB/KiB, MB/MiB, ...; any case): "512M", "2G", "1048576".  0 and
 * *bytes set, or -1 (garbage, overflow, a value above max).
 */
int cy_size_parse(const char *s, long long max, long long *bytes);

#endif
