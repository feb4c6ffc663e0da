/*
 * Unit tests for lib/buf.c: the owned string buffer's invariants, growth,
 * detach, formatting, the capped readers and the checked snprintf forms.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <signal.h>
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

static void
test_snprintf(void)
{
	char b[8];
	pid_t pid;
	int st;

	is_int(cy_snprintf(b, sizeof(b), "%d", 1234567), 0, "cy_snprintf: 7 characters fit in 8");
	is_str(b, "1234567", "cy_snprintf: the whole text");
	is_int(cy_snprintf(b, sizeof(b), "%d", 12345678), -1, "cy_snprintf: 8 characters are cut");
	is_str(b, "1234567", "cy_snprintf: a cut text is NUL-terminated");
	is_int(cy_snprintf(b, 0, "x"), -1, "cy_snprintf: size 0 is a failure");
	cy_snprintf_clip(b, sizeof(b), "%s", "short");
	is_str(b, "short", "clip: a text that fits is unchanged");
	cy_snprintf_clip(b, sizeof(b), "%s", "a longer text");
	is_str(b, "a lo...", "clip: a cut text ends in ...");
	cy_snprintf_clip(b, sizeof(b), "%s", "abc\xc3\xa9xyz");
	is_str(b, "abc...", "clip: the mark steps back over a split UTF-8 character");
	cy_snprintf_clip(b, sizeof(b), "%s", "ab\xc3\xa9\xc3\xa9\xc3\xa9");
	is_str(b, "ab\xc3\xa9...", "clip: a character that ends before the mark stays");
	xsnprintf(b, sizeof(b), "%s", "fits");
	is_str(b, "fits", "xsnprintf: a text that fits");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		dup2(devnull, 2);
		xsnprintf(b, sizeof(b), "%s", "does not fit");
		_exit(0);
	}
	ok(pid > 0 && waitpid(pid, &st, 0) == pid && WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT,
	    "xsnprintf: a cut aborts");
}

int
main(void)
{
	RUN_TEST(test_empty);
	RUN_TEST(test_add);
	RUN_TEST(test_read);
	RUN_TEST(test_snprintf);
	return tap_done();
}
