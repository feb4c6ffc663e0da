/*
 * The chat reply printer (see chat.h): text goes to standard output as it
 * arrives.  Not on a terminal, the bytes are written unchanged.  On a
 * terminal with --plain, control characters are made visible first (a
 * model's reply must not drive the terminal; markdown.c's md_text).  In
 * Markdown mode a line is rendered once its newline came; until then the
 * partial line is shown as plain text and, when it completes, erased and
 * written again rendered.  Erasing moves the cursor up over the rows the
 * partial line took, counted from its display width (wcwidth, in the
 * locale's terms) and the terminal's width; a partial line taller than the
 * screen stays as it was shown.  Without cursor movement (TERM=dumb) the
 * partial line is held until its newline.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <wchar.h>

#include "chat.h"
#include "banned.h"

void
reply_begin(struct reply_out *o, enum reply_mode mode, bool color, bool ascii, bool redraw)
{
	memset(o, 0, sizeof(*o));
	o->mode = mode;
	o->redraw = redraw;
	md_init(&o->md, color, ascii);
	cy_buf_init(&o->line, 0);
	o->ended_line = true;
}

void
reply_release(struct reply_out *o)
{
	cy_buf_release(&o->line);
}

static void
put(struct reply_out *o, const char *s, size_t n)
{
	if (!n)
		return;
	fwrite(s, 1, n, stdout);
	o->ended_line = s[n - 1] == '\n';
}

/* How many leading bytes of s[0..n) end on a character boundary (a cut UTF-8 sequence waits). */
static size_t
utf8_whole(const char *s, size_t n)
{
	size_t i = n, cont = 0, need;
	unsigned char c;

	while (i > 0 && cont < 3 && ((unsigned char)s[i - 1] & 0xc0) == 0x80) {
		i--;
		cont++;
	}
	if (i == 0)
		return n;
	c = (unsigned char)s[i - 1];
	if (c < 0xc0)
		return n;
	need = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : 1;
	return cont < need ? i - 1 : n;
}

/* The display columns after text s[0..n) (valid UTF-8, no controls but tab) from col. */
static size_t
text_cols(const char *s, size_t n, size_t col)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, k;
	uint32_t cp;
	int w;

	while (i < n) {
		if (u[i] == '\t') {
			col = (col / 8 + 1) * 8;
			i++;
			continue;
		}
		if (u[i] < 0x80) {
			col++;
			i++;
			continue;
		}
		k = u[i] >= 0xf0 ? 4 : u[i] >= 0xe0 ? 3 : 2;
		cp = u[i] & (k == 4 ? 0x07 : k == 3 ? 0x0f : 0x1f);
		for (i++; --k > 0 && i < n; i++)
			cp = cp << 6 | (u[i] & 0x3f);
		w = wcwidth((wchar_t)cp);
		col += w < 0 ? 1 : (size_t)w;
	}
	return col;
}

/* Erases the partial line shown raw; false when it cannot (taller than the screen). */
static bool
erase_shown(struct reply_out *o)
{
	struct winsize ws;
	size_t width = 80, height = 24, rows;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
		width = ws.ws_col;
		height = ws.ws_row ? ws.ws_row : height;
	}
	rows = o->cols ? (o->cols - 1) / width : 0;
	if (rows + 1 >= height)
		return false;
	if (rows)
		printf("\r\033[%zuA\033[J", rows);
	else
		fputs("\r\033[J", stdout);
	return true;
}

/* Writes the complete line s[0..n) rendered, replacing what was shown of it. */
static void
md_complete(struct reply_out *o, const char *s, size_t n)
{
	struct cy_buf tmp = CY_BUF_INIT;

	if (o->shown && !erase_shown(o)) {
		/* The raw text stays: finish it raw. */
		md_text(&tmp, s + o->shown, n - o->shown);
		cy_buf_addch(&tmp, '\n');
	} else {
		md_line(&o->md, s, n, &tmp);
	}
	put(o, tmp.buf, tmp.len);
	cy_buf_release(&tmp);
	o->shown = 0;
	o->cols = 0;
}

/* Shows the new part of the partial line raw. */
static void
md_show_partial(struct reply_out *o)
{
	struct cy_buf tmp = CY_BUF_INIT;
	size_t upto = utf8_whole(o->line.buf, o->line.len);

	if (!o->redraw || upto <= o->shown)
		return;
	md_text(&tmp, o->line.buf + o->shown, upto - o->shown);
	o->cols = text_cols(tmp.buf, tmp.len, o->cols);
	put(o, tmp.buf, tmp.len);
	o->shown = upto;
	cy_buf_release(&tmp);
}

void
reply_add(struct reply_out *o, const char *s, size_t n)
{
	struct cy_buf tmp = CY_BUF_INIT;
	size_t start = 0, upto;
	const char *nl;

	switch (o->mode) {
	case REPLY_RAW:
		put(o, s, n);
		break;
	case REPLY_PLAIN:
		cy_buf_add(&o->line, s, n);
		upto = utf8_whole(o->line.buf, o->line.len);
		md_text(&tmp, o->line.buf, upto);
		put(o, tmp.buf, tmp.len);
		memmove(o->line.buf, o->line.buf + upto, o->line.len - upto);
		cy_buf_setlen(&o->line, o->line.len - upto);
		break;
	case REPLY_MARKDOWN:
		cy_buf_add(&o->line, s, n);
		while ((nl = memchr(o->line.buf + start, '\n', o->line.len - start)) != NULL) {
			md_complete(o, o->line.buf + start, (size_t)(nl - o->line.buf) - start);
			start = (size_t)(nl - o->line.buf) + 1;
		}
		if (start) {
			memmove(o->line.buf, o->line.buf + start, o->line.len - start);
			cy_buf_setlen(&o->line, o->line.len - start);
		}
		md_show_partial(o);
		break;
	}
	cy_buf_release(&tmp);
	fflush(stdout);
}

void
reply_end(struct reply_out *o)
{
	struct cy_buf tmp = CY_BUF_INIT;

	if (o->mode == REPLY_MARKDOWN && o->line.len) {
		md_complete(o, o->line.buf, o->line.len);
	} else if (o->mode == REPLY_PLAIN && o->line.len) {
		md_text(&tmp, o->line.buf, o->line.len);
		put(o, tmp.buf, tmp.len);
	}
	cy_buf_reset(&o->line);
	if (!o->ended_line)
		put(o, "\n", 1);
	cy_buf_release(&tmp);
	fflush(stdout);
}
