/*
 * cynork's lists, through libsmartcols (DESIGN.md section 3).  On a
 * terminal a list is aligned to its widest cell, COL_TRUNC columns are cut
 * to the terminal's width (not with -o wide), COL_STATE cells get a colour
 * (unless --no-color or NO_COLOR) and COL_TIME cells show how long ago
 * they were.  Piped, a list is libsmartcols' raw format with a TAB
 * between cells: every row one line, never cut, never coloured, a cell's
 * blanks, control bytes and bytes outside ASCII written as \xHH
 * (libsmartcols escapes them all in raw mode) so a cell is always one
 * field.  --no-headers leaves the header line out; COL_WIDE columns print
 * only with -o wide.  With -o csv a list is RFC 4180 CSV instead (csv.c):
 * every column, cells as they are (no "-" for absent ones, no ages).
 */
#include <libsmartcols.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "cynork.h"
#include "json.h"
#include "timeutil.h"
#include "banned.h"

struct out_table {
	struct libscols_table *tb;
	struct libscols_line *ln;
	const struct col *cols;
	size_t ncols, next;
	bool color, wide, tty;
	bool csv;           /* -o csv: rows go to out as CSV records */
	bool csv_open;      /* -o csv: a row is being filled */
	struct cy_buf out;  /* -o csv: the records so far */
	const char **cells; /* -o csv: the row being filled (ncols, owned strings) */
};

/* -o csv: the filled row as a record (absent cells empty); the row is emptied. */
static void
csv_row_end(struct out_table *t)
{
	size_t i;

	if (!t->cells)
		return;
	csv_record(&t->out, t->cells, t->ncols);
	for (i = 0; i < t->ncols; i++) {
		free((char *)t->cells[i]);
		t->cells[i] = NULL;
	}
}

/* -o csv: a table that collects CSV records, the header first unless --no-headers. */
static struct out_table *
csv_table_new(const struct parsed *p, const struct col *cols)
{
	struct out_table *t = xcalloc(1, sizeof(*t));
	size_t i;

	t->csv = true;
	t->cols = cols;
	t->out = (struct cy_buf)CY_BUF_INIT;
	for (i = 0; cols[i].name; i++)
		;
	t->ncols = i;
	t->cells = xcalloc(t->ncols, sizeof(*t->cells));
	if (!opt_set(p, "no-headers")) {
		for (i = 0; i < t->ncols; i++)
			t->cells[i] = xstrdup(cols[i].name);
		csv_row_end(t);
	}
	return t;
}

bool
out_tty(void)
{
	return isatty(STDOUT_FILENO);
}

bool
out_color(const struct ctx *c)
{
	return !c->no_color && out_tty();
}

const char *
state_color(const char *state)
{
	static const struct {
		const char *state, *color;
	} map[] = {
		{ "completed", "green" },
		{ "active", "green" },
		{ "applied", "green" },
		{ "succeeded", "green" },
		{ "ok", "green" },
		{ "running", "cyan" },
		{ "queued", "yellow" },
		{ "pending", "yellow" },
		{ "drained", "yellow" },
		{ "draining", "yellow" },
		{ "inactive", "yellow" },
		{ "disabled", "yellow" },
		{ "revoked", "yellow" },
		{ "expired", "yellow" },
		{ "superseded", "yellow" },
		{ "failed", "red" },
		{ "canceled", "red" },
		{ "denied", "red" },
		{ "failure", "red" },
	};
	size_t i;

	for (i = 0; state && i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].state, state) == 0)
			return map[i].color;
	return NULL;
}

struct out_table *
table_new(const struct ctx *c, const struct parsed *p, const struct col *cols)
{
	struct out_table *t;
	bool wide = out_wide(c), tty = out_tty();
	size_t i;

	if (out_csv(c))
		return csv_table_new(p, cols);
	t = xcalloc(1, sizeof(*t));
	t->tb = scols_new_table();
	if (!t->tb)
		BUG("scols_new_table failed");
	t->cols = cols;
	t->color = tty && out_color(c);
	t->wide = wide;
	t->tty = tty;
	scols_table_enable_noheadings(t->tb, opt_set(p, "no-headers"));
	if (tty) {
		scols_table_set_column_separator(t->tb, " ");
		scols_table_enable_colors(t->tb, t->color);
	} else {
		scols_table_enable_raw(t->tb, 1);
		scols_table_set_column_separator(t->tb, "\t");
	}
	for (i = 0; cols[i].name; i++) {
		int fl = 0;

		if ((cols[i].flags & COL_WIDE) && !wide)
			fl |= SCOLS_FL_HIDDEN;
		/* -o wide shows every cell whole, however wide the terminal. */
		if ((cols[i].flags & COL_TRUNC) && !wide)
			fl |= SCOLS_FL_TRUNC;
		if (cols[i].flags & COL_RIGHT)
			fl |= SCOLS_FL_RIGHT;
		if (!scols_table_new_column(t->tb, cols[i].name, 0, fl))
			BUG("scols_table_new_column failed");
	}
	t->ncols = i;
	return t;
}

void
table_row(struct out_table *t)
{
	if (t->csv) {
		if (t->csv_open && t->next != t->ncols)
			BUG("table row with %zu cells of %zu", t->next, t->ncols);
		if (t->csv_open)
			csv_row_end(t);
		t->csv_open = true;
		t->next = 0;
		return;
	}
	if (t->ln && t->next != t->ncols)
		BUG("table row with %zu cells of %zu", t->next, t->ncols);
	t->ln = scols_table_new_line(t->tb, NULL);
	if (!t->ln)
		BUG("scols_table_new_line failed");
	t->next = 0;
}

void
table_cell(struct out_table *t, const char *value)
{
	struct cy_buf age = CY_BUF_INIT;
	const char *color;
	time_t when;

	if (!(t->csv ? t->csv_open : t->ln != NULL) || t->next >= t->ncols)
		BUG("table cell %zu outside a row of %zu", t->next, t->ncols);
	if (t->csv) {
		t->cells[t->next++] = value && *value ? xstrdup(value) : NULL;
		return;
	}
	if (!value || !*value)
		value = "-";
	if (t->tty && (t->cols[t->next].flags & COL_TIME) &&
	    cy_time_parse_rfc3339(value, &when) == 0) {
		fmt_age((long long)(time(NULL) - when), &age);
		value = age.buf;
	}
	if (scols_line_set_data(t->ln, t->next, value) != 0)
		BUG("scols_line_set_data failed");
	cy_buf_release(&age);
	if (t->color && (t->cols[t->next].flags & COL_STATE) && (color = state_color(value)))
		scols_cell_set_color(scols_line_get_cell(t->ln, t->next), color);
	t->next++;
}

void
table_cellf(struct out_table *t, const char *fmt, ...)
{
	struct cy_buf b = CY_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	cy_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	table_cell(t, b.buf);
	cy_buf_release(&b);
}

void
table_cell_key(struct out_table *t, const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	if (json_is_integer(v))
		table_cellf(t, "%lld", (long long)json_integer_value(v));
	else if (json_is_boolean(v))
		table_cell(t, json_is_true(v) ? "true" : "false");
	else
		table_cell(t, json_string_value(v));
}

int
table_print(struct out_table *t)
{
	int rc = 0;

	if ((t->csv ? t->csv_open : t->ln != NULL) && t->next != t->ncols)
		BUG("table row with %zu cells of %zu", t->next, t->ncols);
	if (t->csv) {
		if (t->csv_open)
			csv_row_end(t);
		fwrite(t->out.buf, 1, t->out.len, stdout);
		cy_buf_release(&t->out);
		free(t->cells);
		free(t);
		return 0;
	}
	/*
	 * libsmartcols prints nothing at all for a table without rows; a
	 * list that is empty still shows its header (scripts and people see
	 * the columns), joined like the rows would be.
	 */
	if (!t->ln && !scols_table_is_noheadings(t->tb)) {
		const char *sep = scols_table_is_raw(t->tb) ? "\t" : " ";
		size_t i, n = 0;

		for (i = 0; i < t->ncols; i++) {
			if ((t->cols[i].flags & COL_WIDE) && !t->wide)
				continue;
			printf("%s%s", n++ ? sep : "", t->cols[i].name);
		}
		putchar('\n');
	} else if (scols_print_table(t->tb) != 0)
		rc = fail(EXIT_INTERNAL, "cannot print the table");
	scols_unref_table(t->tb);
	free(t);
	return rc;
}
