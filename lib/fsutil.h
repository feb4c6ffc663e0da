/*
 * File-system helpers shared by the programs.
 */
#ifndef CY_FSUTIL_H
#define CY_FSUTIL_H

#include <sys/types.h>

/*
 * Creates directory `path` with `mode`, and any missing parents with
 * `parent_mode` (mkdir -p).  Existing directories are left as they are.
 * Returns 0, or -1 with errno set by the first mkdir(2) that failed.
 */
int cy_mkdir_p(const char *path, mode_t parent_mode, mode_t mode);

/*
 * Removes `path` and everything below it (rm -rf) without following
 * symlinks or crossing mount points; best effort, errors are ignored.
 */
void cy_rm_rf(const char *path);

/* Writes all `len` bytes (retrying short writes and EINTR); 0, or -1 with errno. */
int cy_write_all(int fd, const void *data, size_t len);

#endif
