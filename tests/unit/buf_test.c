/*
 * Unit tests for lib/buf.c: the owned string buffer's invariants, growth,
 * detach, formatting and the capped readers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "tap.h"

static void
test_empty(void)
{
	struct cy_buf b = CY_BUF_INIT;

	ok(b.buf != NULL && b.buf[0] == '\0', "an empty buffer is a printable empty string");
	is_int(b.len, 0, "empty length");
	cy_buf_release(&b);
	ok(b.buf != NULL && b.len == 0, "released buffer is empty again");
}

static void
test_add(void)
{
	struct cy_buf b = CY_BUF_INIT;
	char *s;
	size_t len;
	int i;

	cy_buf_addstr(&b, "hello");
	cy_buf_addch(&b, ' ');
	cy_buf_addf(&b, "%s-%d", "world", 42);
	is_str(b.buf, "hello world-42", "addstr, addch, addf");
	is_int(b.len, 14, "length tracks content");
	for (i = 0; i < 10000; i++)
		cy_buf_addch(&b, 'x');
	is_int(b.len, 10014, "grows past many reallocations");
	ok(b.buf[b.len] == '\0', "always NUL-terminated");
	cy_buf_add(&b, "a\0b", 3);
	is_int(b.len, 10017, "binary-safe add");
	cy_buf_setlen(&b, 5);
	is_str(b.buf, "hello", "setlen truncates");
	cy_buf_reset(&b);
	is_str(b.buf, "", "reset empties");
	cy_buf_addstr(&b, "owned");
	s = cy_buf_detach(&b, &len);
	is_str(s, "owned", "detach hands over the string");
	is_int(len, 5, "detach reports the length");
	ok(b.buf != NULL && b.len == 0, "detached buffer is empty");
	free(s);
	s = cy_buf_detach(&b, NULL);
	ok(s != NULL && s[0] == '\0', "detaching an empty buffer gives an owned empty string");
	free(s);
	cy_buf_release(&b);
}

static void
test_read(void)
{
	struct cy_buf b = CY_BUF_INIT;
	char path[] = "/tmp/cy-buf-test-XXXXXX";
	int fd = mkstemp(path), rc;
	char data[5000];

	memset(data, 'z', sizeof(data));
	ok(fd >= 0 && write(fd, data, sizeof(data)) == (ssize_t)sizeof(data), "temp file");
	close(fd);
	rc = cy_buf_read_file(&b, path, 10000);
	is_int(rc, 0, "read_file within the cap");
	is_int(b.len, 5000, "read it all");
	cy_buf_reset(&b);
	errno = 0;
	rc = cy_buf_read_file(&b, path, 100);
	ok(rc == -1 && errno == EFBIG, "read_file over the cap fails with EFBIG");
	ok(b.len <= 100, "never holds more than the cap");
	cy_buf_reset(&b);
	errno = 0;
	ok(cy_buf_read_file(&b, "/nonexistent/x", 100) == -1 && errno == ENOENT,
		"missing file: ENOENT");
	unlink(path);
	cy_buf_release(&b);
}

int
main(void)
{
	RUN_TEST(test_empty);
	RUN_TEST(test_add);
	RUN_TEST(test_read);
	return tap_done();
}
