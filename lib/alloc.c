/*
 * Allocation wrappers (tmux xmalloc.c).  Every function aborts the process
 * with a message on out-of-memory or size overflow, so callers never check
 * for NULL.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

#include "banned.h"

/* Prints a fatal allocation error and aborts. */
static __attribute__((noreturn)) void
alloc_die(const char *what, size_t size)
{
	fprintf(stderr, "fatal: %s: cannot allocate %zu bytes\n", what, size);
	abort();
}

void *
xmalloc(size_t size)
{
	void *p;

	if (size == 0)
		size = 1;
	p = malloc(size);
	if (p == NULL)
		alloc_die("xmalloc", size);
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void *p;

	if (nmemb == 0 || size == 0)
		nmemb = size = 1;
	if (SIZE_MAX / nmemb < size)
		alloc_die("xcalloc: size overflow", SIZE_MAX);
	p = calloc(nmemb, size);
	if (p == NULL)
		alloc_die("xcalloc", nmemb * size);
	return p;
}

void *
xrealloc(void *ptr, size_t size)
{
	return xreallocarray(ptr, 1, size);
}

void *
xreallocarray(void *ptr, size_t nmemb, size_t size)
{
	void *p;
	size_t total;

	if (nmemb == 0 || size == 0)
		nmemb = size = 1;
	if (SIZE_MAX / nmemb < size)
		alloc_die("xreallocarray: size overflow", SIZE_MAX);
	total = nmemb * size;
	p = realloc(ptr, total);
	if (p == NULL)
		alloc_die("xreallocarray", total);
	return p;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p;

	if (len == SIZE_MAX)
		alloc_die("xstrndup: size overflow", SIZE_MAX);
	p = xmalloc(len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		alloc_die("xasprintf", 0);
	return s;
}
