/*
 * Error values (crun libcrun_error_t): functions return 0 or -1 and fill a
 * struct cy_error; callers add context with cy_error_wrap() and only the top
 * level prints the message.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
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
	cy_vsnprintf_clip(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
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
	cy_vsnprintf_clip(head, sizeof(head), fmt, ap);
	va_end(ap);
	err->code = saved;
	cy_snprintf_clip(err->msg, sizeof(err->msg), "%s: %s", head, strerror(saved));
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
	cy_vsnprintf_clip(head, sizeof(head), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	old[sizeof(old) - 1] = '\0';
	if (old[0] == '\0')
		xsnprintf(err->msg, sizeof(err->msg), "%s", head);
	else
		cy_snprintf_clip(err->msg, sizeof(err->msg), "%s: %s", head, old);
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
