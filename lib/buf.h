/*
 * struct cy_buf: the one owned string buffer (git strbuf, curl dynbuf).
 *
 * Invariants:
 *  - `buf` is never NULL: an empty buffer points at a shared "" slot until the
 *    first append, so `buf` can always be printed or passed to strlen();
 *  - `buf[len]` is always '\0';
 *  - `alloc` is the allocated size (0 while `buf` is the shared slot);
 *  - the buffer owns `buf`: hand it over with cy_buf_detach(), release it
 *    with cy_buf_release().
 * Used by value; initialise with CY_BUF_INIT or cy_buf_init().
 * Buffers filled from sockets or files take a mandatory maximum size.
 */
#ifndef CY_BUF_H
#define CY_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct cy_buf {
	char *buf;
	size_t len;
	size_t alloc;
};

extern char cy_buf_slopbuf[];
/* clang-format off */
#define CY_BUF_INIT { .buf = cy_buf_slopbuf, .len = 0, .alloc = 0 }
/* clang-format on */

void cy_buf_init(struct cy_buf *sb, size_t hint);
/* Frees the memory and re-initialises the buffer to empty. */
void cy_buf_release(struct cy_buf *sb);
/* Empties the buffer, keeping its memory. */
void cy_buf_reset(struct cy_buf *sb);
/* Returns the string (caller frees) and re-initialises the buffer. */
char *cy_buf_detach(struct cy_buf *sb, size_t *len);
void cy_buf_grow(struct cy_buf *sb, size_t extra);
void cy_buf_add(struct cy_buf *sb, const void *data, size_t len);
void cy_buf_addstr(struct cy_buf *sb, const char *s);
void cy_buf_addch(struct cy_buf *sb, int c);
void cy_buf_addf(struct cy_buf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cy_buf_vaddf(struct cy_buf *sb, const char *fmt, va_list ap);
void cy_buf_setlen(struct cy_buf *sb, size_t len);
/*
 * Appends what can be read from fd until EOF.  Returns 0, -1 with errno set on
 * a read error, or -1 with errno=EFBIG when more than `max` bytes in total
 * would be held (the buffer then holds the first `max` bytes).
 */
int cy_buf_read_fd(struct cy_buf *sb, int fd, size_t max);
/* Reads a whole file, at most `max` bytes; -1 with errno set on failure. */
int cy_buf_read_file(struct cy_buf *sb, const char *path, size_t max);

/*
 * Checked formatting into a fixed array (OpenBSD style: no truncation goes
 * unseen).  Nothing outside buf.c calls snprintf itself (scripts/lint); each
 * call site says which of three cases it is:
 *
 *  - cy_snprintf(): the text may not fit (it comes from input or can be
 *    long).  Returns 0 when the whole text fit, -1 when it was cut or the
 *    formatting failed; the caller handles -1 (an error value, a refusal, a
 *    log line saying what was cut) and cannot ignore it.
 *  - xsnprintf(): the text fits by construction (a number into 24 bytes, a
 *    UUID into 37).  A cut means the construction is wrong: it aborts with
 *    "BUG: file:line" (git xsnprintf).
 *  - cy_snprintf_clip(): a message into a fixed field, where a cut is
 *    acceptable (an error or status line).  A cut text ends in "..." at a
 *    UTF-8 character boundary, so it stays valid text and the cut shows.
 *
 * With size > 0, buf is always NUL-terminated (empty when formatting
 * failed); with size 0 nothing is written and cy_snprintf returns -1.
 */
int cy_snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), warn_unused_result));
int cy_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0), warn_unused_result));
void cy_snprintf_clip(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void cy_vsnprintf_clip(char *buf, size_t size, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
#define xsnprintf(buf, size, ...) cy_snprintf_fits(__FILE__, __LINE__, (buf), (size), __VA_ARGS__)
void cy_snprintf_fits(const char *file, int line, char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
