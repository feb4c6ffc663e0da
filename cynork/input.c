/*
 * File flags of cynork commands (--task-file, --script, config push -f, ...):
 * the path checks made before any request, and reading the content, where
 * "-" means standard input.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cynork.h"
#include "banned.h"

/* Checks a file flag's path: regular, not a symlink, readable, within max. */
int
check_file(const char *flag, const char *path, long long max)
{
	struct stat st;

	if (strcmp(path, "-") == 0)
		return 0;
	if (lstat(path, &st) < 0)
		return fail(EXIT_USAGE, "--%s '%s': %s", flag, path, strerror(errno));
	if (S_ISLNK(st.st_mode))
		return fail(EXIT_USAGE, "--%s '%s': is a symbolic link; give the file itself", flag,
		    path);
	if (!S_ISREG(st.st_mode))
		return fail(EXIT_USAGE, "--%s '%s': not a regular file", flag, path);
	if (access(path, R_OK) < 0)
		return fail(EXIT_USAGE, "--%s '%s': %s", flag, path, strerror(errno));
	if (st.st_size > max)
		return fail(EXIT_USAGE, "--%s '%s': larger than %lld bytes", flag, path, max);
	return 0;
}

/* Reads a file flag's content ("-" = stdin) within max bytes. */
int
read_input(const char *flag, const char *path, size_t max, struct cy_buf *out)
{
	int rc = strcmp(path, "-") == 0 ? cy_buf_read_fd(out, STDIN_FILENO, max) :
					  cy_buf_read_file(out, path, max);

	if (rc < 0)
		return fail(EXIT_USAGE, "--%s '%s': %s", flag, path,
		    errno == EFBIG ? "too large" : strerror(errno));
	if (memchr(out->buf, '\0', out->len))
		return fail(EXIT_USAGE, "--%s '%s': contains a NUL byte", flag, path);
	return 0;
}
