/*
 * Error values (crun libcrun_error_t): functions return 0 or -1 and fill a
 * struct cy_error; callers add context with cy_error_wrap() and only the top
 * level prints the message.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

#include "banned.h"

int
cy_error_set(struct cy_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * Writes "a: b" into dst (size n), truncating b and then a as needed; the
 * message is always NUL-terminated.  (snprintf would do, but its possible
 * truncation is what we want here, and writing it out keeps -Wformat-truncation
 * quiet without hiding real cases elsewhere.)
 */
static void
error_join(char *dst, size_t n, const char *a, const char *b)
{
	size_t la = strnlen(a, n - 1), lb, off = la;

	memmove(dst, a, la);
	if (off + 2 < n) {
		dst[off++] = ':';
		dst[off++] = ' ';
		lb = strnlen(b, n - 1 - off);
		memmove(dst + off, b, lb);
		off += lb;
	}
	dst[off] = '\0';
}

int
cy_error_errno(struct cy_error *err, const char *fmt, ...)
{
	int saved = errno;
	char head[sizeof(err->msg)];
	va_list ap;

	if (err == NULL) {
		errno = saved;
		return -1;
	}
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	err->code = saved;
	error_join(err->msg, sizeof(err->msg), head, strerror(saved));
	errno = saved;
	return -1;
}

int
cy_error_wrap(struct cy_error *err, const char *fmt, ...)
{
	char head[sizeof(err->msg)];
	char old[sizeof(err->msg)];
	va_list ap;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	old[sizeof(old) - 1] = '\0';
	if (old[0] == '\0')
		snprintf(err->msg, sizeof(err->msg), "%s", head);
	else
		error_join(err->msg, sizeof(err->msg), head, old);
	return -1;
}

void
cy_error_clear(struct cy_error *err)
{
	if (err == NULL)
		return;
	err->code = 0;
	err->msg[0] = '\0';
}
