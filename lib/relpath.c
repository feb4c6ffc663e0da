/*
 * Safe relative names and artifact patterns (relpath.h): one pass over the
 * bytes, component by component.
 */
#include <string.h>

#include "json.h"
#include "relpath.h"
#include "banned.h"

#define COMPONENT_MAX 255

/* The shared checks; glob allows glob characters and one trailing '/'. */
static bool
relpath_check(const char *s, size_t len, bool glob, const char **why)
{
	const char *dummy;
	size_t i, start = 0, depth = 0;

	if (!why)
		why = &dummy;
	if (len == 0)
		return *why = "the name is empty", false;
	if (len > CY_RELPATH_MAX)
		return *why = "the name is longer than 1024 bytes", false;
	if (!cy_utf8_valid(s, len))
		return *why = "the name is not valid UTF-8", false;
	if (s[0] == '/')
		return *why = "the name is absolute (starts with '/')", false;
	if (glob && len > 1 && s[len - 1] == '/')
		len--;
	for (i = 0; i <= len; i++) {
		unsigned char c = i < len ? (unsigned char)s[i] : '/';
		size_t n;

		if (c < 0x20 || c == 0x7f)
			return *why = "the name holds a control character", false;
		if (c == '\\')
			return *why = "the name holds a backslash", false;
		if (c != '/')
			continue;
		n = i - start;
		if (n == 0)
			return *why = i == len ? "the name ends with '/'" :
						 "the name has an empty component ('//')",
			       false;
		if ((n == 1 && s[start] == '.') ||
		    (n == 2 && s[start] == '.' && s[start + 1] == '.'))
			return *why = "the name has a '.' or '..' component", false;
		if (n > COMPONENT_MAX)
			return *why = "a component of the name is longer than 255 bytes", false;
		if (++depth > CY_RELPATH_DEPTH)
			return *why = "the name has more than 32 components", false;
		start = i + 1;
	}
	(void)glob;
	return true;
}

bool
cy_relpath_valid(const char *name, size_t len, const char **why)
{
	if (name && memchr(name, '\0', len)) {
		if (why)
			*why = "the name holds a NUL byte";
		return false;
	}
	return name && relpath_check(name, len, false, why);
}

bool
cy_relglob_valid(const char *pattern, size_t len, const char **why)
{
	if (pattern && memchr(pattern, '\0', len)) {
		if (why)
			*why = "the pattern holds a NUL byte";
		return false;
	}
	return pattern && relpath_check(pattern, len, true, why);
}
