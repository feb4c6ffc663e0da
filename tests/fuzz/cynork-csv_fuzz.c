/*
 * Fuzz target for cynork's CSV writer (cynork/csv.c, -o csv): the input,
 * cut into fields at each 0x1f byte, is written as one record and read
 * back by a strict RFC 4180 reader written here; the fields must come back
 * byte for byte, whatever commas, quotes, CR, LF and blanks they hold (an
 * empty field stays empty), except that one a spreadsheet would run as a
 * formula comes back behind an apostrophe.  And whatever comes back never
 * begins with =, +, -, @, a tab or a CR unless all of it is number
 * characters.  Replayed as a unit test by replay.c; `make
 * fuzz` runs it under libFuzzer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "cynork.h"
#include "banned.h"

#define MAX_FIELDS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Reads one field of rec at *pos into out; aborts on anything RFC 4180
 * does not allow.  Returns the byte after it: ',' or '\r' (then "\r\n" ends
 * the record).
 */
static char
read_field(const struct cy_buf *rec, size_t *pos, struct cy_buf *out)
{
	size_t i = *pos;

	if (i < rec->len && rec->buf[i] == '"') {
		for (i++;; i++) {
			if (i >= rec->len)
				abort(); /* an unterminated quoted field */
			if (rec->buf[i] == '"') {
				if (i + 1 < rec->len && rec->buf[i + 1] == '"') {
					cy_buf_addch(out, '"');
					i++;
					continue;
				}
				i++;
				break;
			}
			cy_buf_addch(out, rec->buf[i]);
		}
	} else {
		for (; i < rec->len && rec->buf[i] != ',' && rec->buf[i] != '\r'; i++) {
			if (rec->buf[i] == '"' || rec->buf[i] == '\n')
				abort(); /* a bare field holds neither */
			cy_buf_addch(out, rec->buf[i]);
		}
	}
	if (i >= rec->len || (rec->buf[i] != ',' && rec->buf[i] != '\r'))
		abort();
	*pos = i + 1;
	return rec->buf[i];
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xmalloc(size + 1);
	const char *fields[MAX_FIELDS];
	struct cy_buf rec = CY_BUF_INIT;
	size_t n = 0, i, pos = 0;
	char *p, *e;

	memcpy(s, data, size);
	s[size] = '\0';
	/* A NUL ends the text (fields are C strings); 0x1f separates fields. */
	for (p = s; n < MAX_FIELDS; p = e + 1) {
		e = strchr(p, 0x1f);
		fields[n++] = p;
		if (!e)
			break;
		*e = '\0';
	}
	csv_record(&rec, fields, n);
	if (rec.len < 2 || memcmp(rec.buf + rec.len - 2, "\r\n", 2))
		abort();
	for (i = 0; i < n; i++) {
		struct cy_buf f = CY_BUF_INIT;
		char end = read_field(&rec, &pos, &f);

		if (csv_is_formula(fields[i]) ?
			(f.buf[0] != '\'' || strcmp(f.buf + 1, fields[i]) != 0) :
			strcmp(f.buf, fields[i]) != 0)
			abort();
		if (f.len && strchr("=+-@\t\r", f.buf[0]) &&
		    strspn(f.buf, "0123456789.eE+-") != f.len)
			abort(); /* a formula got through */
		if ((i + 1 < n) != (end == ','))
			abort();
		cy_buf_release(&f);
	}
	if (pos != rec.len - 1 || rec.buf[pos] != '\n')
		abort();
	cy_buf_release(&rec);
	free(s);
	return 0;
}
