/*
 * Relative file names that cross a trust boundary: attachment names
 * (cynork -> server -> node, placed under /workspace) and artifact names
 * (node -> server -> cynork, placed under a download directory).  Every
 * side checks them with the same function, so a name the server stored is
 * a name the node and cynork accept, and none of them can leave the
 * directory it is placed under.
 */
#ifndef CY_RELPATH_H
#define CY_RELPATH_H

#include <stdbool.h>
#include <stddef.h>

#define CY_RELPATH_MAX 1024 /* bytes of a whole name */
#define CY_RELPATH_DEPTH 32 /* components of a name */

/*
 * True when name (len bytes) is a safe relative path: 1 to
 * CY_RELPATH_MAX bytes of UTF-8 without NUL or control characters (nor
 * DEL, nor a backslash), components separated by single '/', none of them
 * empty, "." or "..", no leading or trailing '/', at most
 * CY_RELPATH_DEPTH components of at most 255 bytes each.  When false and
 * why is not NULL, *why names the rule broken (a static string).
 */
bool cy_relpath_valid(const char *name, size_t len, const char **why);

/*
 * True when pattern is a safe artifact pattern: a relative path as above,
 * except that its components may hold the glob characters '*', '?' and
 * '[...]' (fnmatch(3) without FNM_PERIOD), and it may end with one '/'
 * (a directory: everything below it).  A component made of '.' or '..'
 * is refused whatever it matches.
 */
bool cy_relglob_valid(const char *pattern, size_t len, const char **why);

#endif
