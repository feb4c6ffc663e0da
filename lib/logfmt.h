/*
 * logfmt quoting, shared by the log lines and cynork's record lines: a value
 * that is empty or holds a space, '=', '"', or a control character is written
 * in double quotes with \" \\ \n \t \r and \u00XX escapes; others stay bare.
 */
#ifndef CY_LOGFMT_H
#define CY_LOGFMT_H

#include "buf.h"

void cy_logfmt_value(struct cy_buf *out, const char *value);
/* Appends " key=value" (no leading space when out is empty). */
void cy_logfmt_pair(struct cy_buf *out, const char *key, const char *value);

#endif
