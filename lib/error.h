/*
 * Error values (crun libcrun_error_t): library code returns 0 or -1 and fills
 * a struct cy_error that callers wrap with context; only the top level prints.
 * A message longer than msg is cut and ends in "..." (cy_snprintf_clip).
 */
#ifndef CY_ERROR_H
#define CY_ERROR_H

struct cy_error {
	int code;      /* errno value, or 0 when not from the system */
	char msg[512]; /* human-readable, lower-case, no final period */
};

/* clang-format off */
#define CY_ERROR_INIT { .code = 0, .msg = "" }
/* clang-format on */

/* Sets the error and returns -1. */
int cy_error_set(struct cy_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Sets the error with strerror(errno) appended and returns -1. */
int cy_error_errno(struct cy_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prefixes the message with "context: " and returns -1. */
int cy_error_wrap(struct cy_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cy_error_clear(struct cy_error *err);

#endif
