/*
 * Unit tests for lib/fsutil.c: mkdir -p with separate parent and leaf modes,
 * rm -rf that does not follow symlinks, writing a whole buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "fsutil.h"
#include "tap.h"

static void
test_mkdir_p(void)
{
	char base[] = "/tmp/cy-fsutil-XXXXXX", path[256], file[256];
	struct stat st;
	mode_t old = umask(0);

	ok(mkdtemp(base) != NULL, "temp dir");
	xsnprintf(path, sizeof(path), "%s/a/b/c", base);
	ok(cy_mkdir_p(path, 0755, 0700) == 0, "creates a deep path");
	ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0700, "leaf gets its mode");
	xsnprintf(path, sizeof(path), "%s/a/b", base);
	ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0755, "parents get theirs");
	xsnprintf(path, sizeof(path), "%s/a/b/c", base);
	ok(cy_mkdir_p(path, 0755, 0700) == 0, "existing path is fine");
	xsnprintf(file, sizeof(file), "%s/f", base);
	fclose(fopen(file, "w"));
	xsnprintf(path, sizeof(path), "%s/f/x", base);
	errno = 0;
	ok(cy_mkdir_p(path, 0755, 0700) == -1 && errno == ENOTDIR, "a file in the way: ENOTDIR");
	umask(old);
	xsnprintf(path, sizeof(path), "rm -rf '%s'", base);
	ok(system(path) == 0, "cleanup");
}

static void
test_rm_rf_and_write_all(void)
{
	char base[] = "/tmp/cy-fsutil-XXXXXX", keep[] = "/tmp/cy-fsutil-keep-XXXXXX";
	char path[256], buf[16] = "";
	struct stat st;
	int fd;

	ok(mkdtemp(base) != NULL && mkdtemp(keep) != NULL, "temp dirs");
	xsnprintf(path, sizeof(path), "%s/a/b", base);
	ok(cy_mkdir_p(path, 0755, 0555) == 0, "a tree with a read-only directory");
	xsnprintf(path, sizeof(path), "%s/file", keep);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ok(fd >= 0 && cy_write_all(fd, "hello", 5) == 0, "cy_write_all writes");
	close(fd);
	fd = open(path, O_RDONLY);
	ok(fd >= 0 && read(fd, buf, sizeof(buf)) == 5 && !strcmp(buf, "hello"), "all of it");
	close(fd);
	xsnprintf(path, sizeof(path), "%s/a/link", base);
	ok(symlink(keep, path) == 0, "a symlink to a directory outside");
	cy_rm_rf(base);
	ok(stat(base, &st) < 0 && errno == ENOENT, "cy_rm_rf removes the tree");
	xsnprintf(path, sizeof(path), "%s/file", keep);
	ok(stat(path, &st) == 0, "but not what a symlink points to");
	cy_rm_rf(keep);
	ok(stat(keep, &st) < 0, "cleanup");
	fd = open("/dev/full", O_WRONLY);
	ok(fd < 0 || (cy_write_all(fd, "x", 1) == -1 && errno == ENOSPC), "a write error: -1");
	if (fd >= 0)
		close(fd);
}

int
main(void)
{
	RUN_TEST(test_mkdir_p);
	RUN_TEST(test_rm_rf_and_write_all);
	return tap_done();
}
