/*
 * JSON helpers over jansson: parsing with readable errors, typed field
 * access that tolerates absent keys, and compact/pretty serialisation.
 */
#ifndef CY_JSON_H
#define CY_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"

struct cy_buf;

/*
 * Parses `len` bytes that must hold exactly one JSON value.  With
 * `want_object`, anything but an object is an error.  Returns a new
 * reference, or NULL with err set ("invalid JSON at line L column C: ...").
 */
json_t *cy_json_parse(const char *data, size_t len, bool want_object, struct cy_error *err);

/* The string at key, or NULL when absent or not a string. */
const char *cy_json_str(const json_t *obj, const char *key);
/* The string at a dotted path ("node.node_slug"), or NULL. */
const char *cy_json_path_str(const json_t *obj, const char *path);
/* The value at a dotted path, or NULL (borrowed). */
json_t *cy_json_path(const json_t *obj, const char *path);
/* Integer at key into *out; 0 when present and integral, -1 otherwise. */
int cy_json_int(const json_t *obj, const char *key, long long *out);
/* Boolean at key, or `def` when absent or not a boolean. */
bool cy_json_bool(const json_t *obj, const char *key, bool def);

/* True when s[0..n) is well-formed UTF-8 (no overlongs, surrogates or bytes past U+10FFFF). */
bool cy_utf8_valid(const char *s, size_t n);

/*
 * Appends s[0..n) to out as valid UTF-8: invalid bytes and NULs become
 * U+FFFD each.  Returns the bytes of s used: all of them when final, else
 * those before a character that n cuts short (left for the next call).
 */
size_t cy_utf8_sanitize(const char *s, size_t n, bool final, struct cy_buf *out);

/*
 * The window of the valid UTF-8 text s[0..n) that starts at byte `off` and
 * holds at most `max` bytes, with both ends on character boundaries: the
 * start moves forward past continuation bytes, the end back (yet at least
 * one character when any is left).  An offset past n gives [n, n).
 */
void cy_utf8_window(const char *s, size_t n, size_t off, size_t max, size_t *start, size_t *end);

/* Compact serialisation, caller frees. */
char *cy_json_dump(const json_t *v);
/*
 * Overwrites every string value inside v (objects and arrays, deeply) with
 * zero bytes in place, before v is freed: for values that held secrets.
 * v's strings read as empty afterwards.  NULL is fine.
 */
void cy_json_wipe(json_t *v);
/* Two-space indented serialisation with a trailing newline, caller frees. */
char *cy_json_dump_pretty(const json_t *v);

#endif
