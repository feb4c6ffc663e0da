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

#endif
