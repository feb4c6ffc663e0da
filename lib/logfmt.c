/*
 * logfmt quoting, shared by the log lines and cynork's record lines.  A value
 * that is empty or holds a space, '=', '"', a backslash or a control character
 * is written in double quotes with \" \\ \n \t \r and \u00XX escapes; other
 * values stay bare.
 */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "logfmt.h"

#include "banned.h"

/* True when the value must be quoted. */
static int
logfmt_needs_quote(const char *v)
{
	const unsigned char *p;

	if (*v == '\0')
		return 1;
	for (p = (const unsigned char *)v; *p; p++) {
		if (*p <= ' ' || *p == '=' || *p == '"' || *p == '\\' || *p == 0x7f)
			return 1;
	}
	return 0;
}

void
cy_logfmt_value(struct cy_buf *out, const char *value)
{
	const unsigned char *p;

	if (value == NULL)
		value = "";
	if (!logfmt_needs_quote(value)) {
		cy_buf_addstr(out, value);
		return;
	}
	cy_buf_addch(out, '"');
	for (p = (const unsigned char *)value; *p; p++) {
		switch (*p) {
		case '"':
			cy_buf_addstr(out, "\\\"");
			break;
		case '\\':
			cy_buf_addstr(out, "\\\\");
			break;
		case '\n':
			cy_buf_addstr(out, "\\n");
			break;
		case '\t':
			cy_buf_addstr(out, "\\t");
			break;
		case '\r':
			cy_buf_addstr(out, "\\r");
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				cy_buf_addf(out, "\\u%04x", *p);
			else
				cy_buf_addch(out, *p);
		}
	}
	cy_buf_addch(out, '"');
}

void
cy_logfmt_pair(struct cy_buf *out, const char *key, const char *value)
{
	if (out->len)
		cy_buf_addch(out, ' ');
	cy_buf_addstr(out, key);
	cy_buf_addch(out, '=');
	cy_logfmt_value(out, value);
}
