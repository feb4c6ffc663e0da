/*
 * struct cy_buf, the owned growable string buffer (git strbuf).  See buf.h
 * for the invariants: buf is never NULL and always NUL-terminated, and an
 * empty buffer points at the shared cy_buf_slopbuf until the first append.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"

#include "banned.h"

char cy_buf_slopbuf[1];

void
cy_buf_init(struct cy_buf *sb, size_t hint)
{
	sb->buf = cy_buf_slopbuf;
	sb->len = 0;
	sb->alloc = 0;
	if (hint)
		cy_buf_grow(sb, hint);
}

void
cy_buf_release(struct cy_buf *sb)
{
	if (sb->alloc)
		free(sb->buf);
	cy_buf_init(sb, 0);
}

void
cy_buf_reset(struct cy_buf *sb)
{
	cy_buf_setlen(sb, 0);
}

char *
cy_buf_detach(struct cy_buf *sb, size_t *len)
{
	char *res;

	if (sb->alloc == 0)
		cy_buf_grow(sb, 0);
	res = sb->buf;
	if (len)
		*len = sb->len;
	cy_buf_init(sb, 0);
	return res;
}

void
cy_buf_grow(struct cy_buf *sb, size_t extra)
{
	int fresh = sb->alloc == 0;
	size_t need, nalloc;

	if (SIZE_MAX - 1 - sb->len < extra) {
		fprintf(stderr, "fatal: cy_buf_grow: size overflow\n");
		abort();
	}
	need = sb->len + extra + 1;
	if (need <= sb->alloc)
		return;
	nalloc = sb->alloc ? sb->alloc : 16;
	while (nalloc < need) {
		if (nalloc > SIZE_MAX / 2) {
			nalloc = need;
			break;
		}
		nalloc = nalloc * 3 / 2 + 16;
	}
	if (fresh) {
		sb->buf = xmalloc(nalloc);
		sb->buf[0] = '\0';
	} else {
		sb->buf = xrealloc(sb->buf, nalloc);
	}
	sb->alloc = nalloc;
}

void
cy_buf_add(struct cy_buf *sb, const void *data, size_t len)
{
	if (len == 0)
		return;
	cy_buf_grow(sb, len);
	memcpy(sb->buf + sb->len, data, len);
	sb->len += len;
	sb->buf[sb->len] = '\0';
}

void
cy_buf_addstr(struct cy_buf *sb, const char *s)
{
	cy_buf_add(sb, s, strlen(s));
}

void
cy_buf_addch(struct cy_buf *sb, int c)
{
	cy_buf_grow(sb, 1);
	sb->buf[sb->len++] = (char)c;
	sb->buf[sb->len] = '\0';
}

void
cy_buf_addf(struct cy_buf *sb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cy_buf_vaddf(sb, fmt, ap);
	va_end(ap);
}

void
cy_buf_vaddf(struct cy_buf *sb, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	if (sb->alloc - sb->len < 64 || sb->alloc == 0)
		cy_buf_grow(sb, 64);
	va_copy(cp, ap);
	n = vsnprintf(sb->buf + sb->len, sb->alloc - sb->len, fmt, cp);
	va_end(cp);
	if (n < 0) {
		fprintf(stderr, "fatal: cy_buf_vaddf: bad format\n");
		abort();
	}
	if ((size_t)n >= sb->alloc - sb->len) {
		cy_buf_grow(sb, (size_t)n);
		va_copy(cp, ap);
		n = vsnprintf(sb->buf + sb->len, sb->alloc - sb->len, fmt, cp);
		va_end(cp);
		if (n < 0) {
			fprintf(stderr, "fatal: cy_buf_vaddf: bad format\n");
			abort();
		}
	}
	sb->len += (size_t)n;
	sb->buf[sb->len] = '\0';
}

void
cy_buf_setlen(struct cy_buf *sb, size_t len)
{
	if (sb->alloc == 0) {
		if (len != 0) {
			fprintf(stderr, "BUG: cy_buf_setlen beyond an empty buffer\n");
			abort();
		}
		return;
	}
	if (len >= sb->alloc) {
		fprintf(stderr, "BUG: cy_buf_setlen beyond the allocation\n");
		abort();
	}
	sb->len = len;
	sb->buf[len] = '\0';
}

int
cy_buf_read_fd(struct cy_buf *sb, int fd, size_t max)
{
	size_t start = sb->len;

	for (;;) {
		size_t total = sb->len - start;
		size_t want;
		ssize_t n;

		if (total >= max) {
			/* At the limit: one more byte means the input is too big. */
			char c;

			do {
				n = read(fd, &c, 1);
			} while (n < 0 && errno == EINTR);
			if (n < 0)
				return -1;
			if (n == 0)
				return 0;
			errno = EFBIG;
			return -1;
		}
		want = max - total;
		if (want > 65536)
			want = 65536;
		cy_buf_grow(sb, want);
		do {
			n = read(fd, sb->buf + sb->len, want);
		} while (n < 0 && errno == EINTR);
		if (n < 0) {
			sb->buf[sb->len] = '\0';
			return -1;
		}
		if (n == 0)
			break;
		sb->len += (size_t)n;
		sb->buf[sb->len] = '\0';
	}
	return 0;
}

int
cy_buf_read_file(struct cy_buf *sb, const char *path, size_t max)
{
	int fd, ret, saved;

	do {
		fd = open(path, O_RDONLY | O_CLOEXEC);
	} while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return -1;
	ret = cy_buf_read_fd(sb, fd, max);
	saved = errno;
	close(fd);
	errno = saved;
	return ret;
}

int
cy_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	int n;

	if (size == 0)
		return -1;
	n = vsnprintf(buf, size, fmt, ap);
	if (n < 0) {
		buf[0] = '\0';
		return -1;
	}
	return (size_t)n < size ? 0 : -1;
}

int
cy_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = cy_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return rc;
}

/*
 * Ends a text cut to fill buf (size bytes) with "...", stepping back over a
 * UTF-8 character the cut split, so the result is valid text again.
 */
static void
clip_mark(char *buf, size_t size)
{
	size_t end;

	if (size < 4 || strlen(buf) != size - 1)
		return;
	end = size - 4;
	while (end > 0 && ((unsigned char)buf[end] & 0xc0) == 0x80)
		end--;
	memcpy(buf + end, "...", 4);
}

void
cy_vsnprintf_clip(char *buf, size_t size, const char *fmt, va_list ap)
{
	if (cy_vsnprintf(buf, size, fmt, ap) < 0 && size > 0)
		clip_mark(buf, size);
}

void
cy_snprintf_clip(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cy_vsnprintf_clip(buf, size, fmt, ap);
	va_end(ap);
}

void
cy_snprintf_fits(const char *file, int line, char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = cy_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (rc < 0) {
		fprintf(stderr, "BUG: %s:%d: formatted text does not fit in %zu bytes\n", file,
		    line, size);
		abort();
	}
}
