/*
 * Allocation wrappers.  Each aborts the process with a message on
 * out-of-memory and rejects size overflow, so call sites never check for NULL
 * (tmux xmalloc.c, bubblewrap die_oom).
 */
#ifndef CY_ALLOC_H
#define CY_ALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Formats into a freshly allocated string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Frees *p and sets it to NULL. */
#define FREE_AND_NULL(p) \
	do { \
		free(p); \
		(p) = NULL; \
	} while (0)

#endif
