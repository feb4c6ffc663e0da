/*
 * CSV output (-o csv) as RFC 4180 says: records end with CRLF, fields are
 * separated by commas, and a field holding a comma, a double quote, a CR
 * or an LF is enclosed in double quotes with each of its double quotes
 * doubled.  A field with a leading or trailing blank is quoted too, so
 * that readers that trim blanks keep them.  Empty (absent) values are
 * empty fields.
 */
#include <string.h>

#include "buf.h"
#include "cynork.h"
#include "banned.h"

void
csv_field(struct cy_buf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (!n)
		return;
	if (!strpbrk(s, ",\"\r\n") && s[0] != ' ' && s[0] != '\t' && s[n - 1] != ' ' &&
	    s[n - 1] != '\t') {
		cy_buf_add(b, s, n);
		return;
	}
	cy_buf_addch(b, '"');
	for (; *s; s++) {
		if (*s == '"')
			cy_buf_addch(b, '"');
		cy_buf_addch(b, *s);
	}
	cy_buf_addch(b, '"');
}

void
csv_record(struct cy_buf *b, const char *const *fields, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (i)
			cy_buf_addch(b, ',');
		csv_field(b, fields[i]);
	}
	cy_buf_addstr(b, "\r\n");
}
