/*
 * Unit tests for lib/fsutil.c: mkdir -p with separate parent and leaf modes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "tap.h"

static void
test_mkdir_p(void)
{
	char base[] = "/tmp/cy-fsutil-XXXXXX", path[256], file[256];
	struct stat st;
	mode_t old = umask(0);

	ok(mkdtemp(base) != NULL, "temp dir");
	snprintf(path, sizeof(path), "%s/a/b/c", base);
	ok(cy_mkdir_p(path, 0755, 0700) == 0, "creates a deep path");
	ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0700, "leaf gets its mode");
	snprintf(path, sizeof(path), "%s/a/b", base);
	ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0755, "parents get theirs");
	snprintf(path, sizeof(path), "%s/a/b/c", base);
	ok(cy_mkdir_p(path, 0755, 0700) == 0, "existing path is fine");
	snprintf(file, sizeof(file), "%s/f", base);
	fclose(fopen(file, "w"));
	snprintf(path, sizeof(path), "%s/f/x", base);
	errno = 0;
	ok(cy_mkdir_p(path, 0755, 0700) == -1 && errno == ENOTDIR, "a file in the way: ENOTDIR");
	umask(old);
	snprintf(path, sizeof(path), "rm -rf '%s'", base);
	ok(system(path) == 0, "cleanup");
}

int
main(void)
{
	RUN_TEST(test_mkdir_p);
	return tap_done();
}
