/*
 * The dotenv files of `task create --env-file`: KEY=VALUE lines, blank
 * lines and # comments, an optional `export ` before the key, values bare
 * (trimmed; " #" starts a comment), in single quotes (taken as they are)
 * or in double quotes (\n, \t, \", \\ and \$ escapes).  Keys are variable
 * names a job may set (lib/jobenv.h).
 */
#ifndef CYNORK_DOTENV_H
#define CYNORK_DOTENV_H

#include <jansson.h>
#include <stddef.h>

#include "buf.h"

/*
 * Adds the variables of text (len bytes, named `file` in messages) to the
 * object env, a later line winning.  0, or -1 with "FILE:LINE: what is
 * wrong" in why (appended).
 */
int dotenv_parse(const char *text, size_t len, const char *file, json_t *env, struct cy_buf *why);

#endif
