/*
 * File-system helpers shared by the programs (see fsutil.h).
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "fsutil.h"
#include "banned.h"

int
cy_mkdir_p(const char *path, mode_t parent_mode, mode_t mode)
{
	char *p = xstrdup(path), *s;
	int ret = 0, saved = 0;

	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, parent_mode) < 0 && errno != EEXIST && !ret) {
			ret = -1;
			saved = errno;
		}
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST && !ret) {
		ret = -1;
		saved = errno;
	}
	free(p);
	if (ret)
		errno = saved;
	return ret;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

void
cy_rm_rf(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

int
cy_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
