/*
 * File-system helpers shared by the programs (see fsutil.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

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
