/*
 * CSV output (-o csv) as RFC 4180 says: records end with CRLF, fields are
 * separated by commas, and a field holding a comma, a double quote, a CR
 * or an LF is enclosed in double quotes with each of its double quotes
 * doubled.  A field with a leading or trailing blank is quoted too, so
 * that readers that trim blanks keep them.  Empty (absent) values are
 * empty fields.
 *
 * A value a spreadsheet would take for a formula (one that begins with =,
 * +, -, @, a tab or a CR, OWASP's "CSV injection") gets a leading
 * apostrophe, so opening the file runs nothing; numbers such as -1 or
 * +2.5e3 are left as they are.
 */
#include <ctype.h>
#include <string.h>

#include "buf.h"
#include "cynork.h"
#include "banned.h"

/* A decimal number: [+-]digits[.digits][(e|E)[+-]digits], nothing else. */
static bool
csv_is_number(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	bool digits = false;

	if (*p == '+' || *p == '-')
		p++;
	for (; isdigit(*p); p++)
		digits = true;
	if (*p == '.')
		for (p++; isdigit(*p); p++)
			digits = true;
	if (!digits)
		return false;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!isdigit(*p))
			return false;
		while (isdigit(*p))
			p++;
	}
	return *p == '\0';
}

bool
csv_is_formula(const char *s)
{
	return s[0] && strchr("=+-@\t\r", s[0]) && !csv_is_number(s);
}

void
csv_field(struct cy_buf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	bool formula;

	if (!n)
		return;
	formula = csv_is_formula(s);
	if (!strpbrk(s, ",\"\r\n") && (formula || (s[0] != ' ' && s[0] != '\t')) &&
	    s[n - 1] != ' ' && s[n - 1] != '\t') {
		if (formula)
			cy_buf_addch(b, '\'');
		cy_buf_add(b, s, n);
		return;
	}
	cy_buf_addch(b, '"');
	if (formula)
		cy_buf_addch(b, '\'');
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
