/*
 * A line-at-a-time Markdown renderer for chat replies on a terminal (see
 * markdown.h).  A line is first classified (fence, heading, list item,
 * quote, rule, paragraph text), then its text is rendered inline.
 *
 * The inline pass follows CommonMark's main rules in a simplified form:
 * code spans bind first (found once per line, left to right, so a
 * delimiter inside code is never emphasis), an emphasis opener must be
 * followed by a non-space and its closer preceded by one, "_" never opens
 * or closes inside a word, and a link is "[text](url)" with no line break.
 * Each search for a closer remembers its failure (or the bracket it
 * found), so the whole pass stays linear however the delimiters are
 * arranged; nesting is limited to MD_DEPTH_MAX levels, deeper markers are
 * text.  Styles are a bit set; every change emits one SGR sequence that
 * resets and sets the whole set, so nested styles end cleanly.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "markdown.h"
#include "banned.h"

#define MD_DEPTH_MAX 8
#define CODE_RUN_MAX 16 /* longer backtick runs are text */
#define URL_MAX 2048

enum {
	ST_BOLD = 1,
	ST_ITALIC = 2,
	ST_UNDER = 4,
	ST_STRIKE = 8,
	ST_DIM = 16,
	ST_CODE = 32, /* a colour */
};

/* One line's inline pass. */
struct inl {
	struct md *m;
	struct cy_buf *out;
	const char *s;
	size_t n;
	uint32_t *code; /* code[i]: length of the code span starting at i, or 0 */
	unsigned cur;   /* the style last emitted */
};

/* A remembered search: from `from`, the first hit was at `at` (n: none). */
struct memo {
	size_t from, at;
	bool valid;
};

void
md_init(struct md *m, bool color, bool ascii)
{
	memset(m, 0, sizeof(*m));
	m->color = color;
	m->ascii = ascii;
}

/* Length of the well-formed UTF-8 sequence at s (1-4), or 0 when invalid. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len, i;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

void
md_text(struct cy_buf *out, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, start = 0, k;

	while (i < len) {
		if (u[i] >= 0x20 && u[i] < 0x7f) {
			i++;
			continue;
		}
		cy_buf_add(out, s + start, i - start);
		if (u[i] == '\t' || u[i] == '\n') {
			cy_buf_addch(out, u[i]);
			k = 1;
		} else if (u[i] < 0x20 || u[i] == 0x7f) {
			cy_buf_addch(out, '^');
			cy_buf_addch(out, u[i] == 0x7f ? '?' : u[i] + 64);
			k = 1;
		} else if ((k = utf8_seq(u + i, len - i)) == 0 ||
			   (u[i] == 0xc2 && u[i + 1] < 0xa0)) {
			/* invalid UTF-8, or a C1 control (U+0080..U+009F) */
			cy_buf_addstr(out, "\xef\xbf\xbd");
			k = k ? k : 1;
		} else {
			cy_buf_add(out, s + i, k);
		}
		i += k;
		start = i;
	}
	cy_buf_add(out, s + start, i - start);
}

static void
style_emit(struct inl *x, unsigned st)
{
	if (!x->m->color || st == x->cur)
		return;
	cy_buf_addstr(x->out, "\033[0");
	if (st & ST_BOLD)
		cy_buf_addstr(x->out, ";1");
	if (st & ST_DIM)
		cy_buf_addstr(x->out, ";2");
	if (st & ST_ITALIC)
		cy_buf_addstr(x->out, ";3");
	if (st & ST_UNDER)
		cy_buf_addstr(x->out, ";4");
	if (st & ST_STRIKE)
		cy_buf_addstr(x->out, ";9");
	if (st & ST_CODE)
		cy_buf_addstr(x->out, ";36");
	cy_buf_addch(x->out, 'm');
	x->cur = st;
}

/* Text s[a..b) in style st. */
static void
put(struct inl *x, size_t a, size_t b, unsigned st)
{
	if (b <= a)
		return;
	style_emit(x, st);
	md_text(x->out, x->s + a, b - a);
}

static void
put_str(struct inl *x, const char *str, unsigned st)
{
	style_emit(x, st);
	cy_buf_addstr(x->out, str);
}

/* Finds the line's code spans: a backtick run closed by the next run of the same length. */
static void
find_code_spans(struct inl *x)
{
	bool none_after[CODE_RUN_MAX + 1] = { false };
	size_t i = 0, r, j, q;

	while (i < x->n) {
		if (x->s[i] != '`') {
			/* A backslash escapes an opening backtick (not inside code). */
			i += x->s[i] == '\\' && i + 1 < x->n ? 2 : 1;
			continue;
		}
		for (r = 0; i + r < x->n && x->s[i + r] == '`'; r++)
			;
		if (r > CODE_RUN_MAX || none_after[r]) {
			i += r;
			continue;
		}
		for (j = i + r; j < x->n; j = q) {
			if (x->s[j] != '`') {
				q = j + 1;
				continue;
			}
			for (q = j; q < x->n && x->s[q] == '`'; q++)
				;
			if (q - j == r)
				break;
		}
		if (j >= x->n) {
			none_after[r] = true;
			i += r;
			continue;
		}
		x->code[i] = (uint32_t)(j + r - i);
		i = j + r;
	}
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t';
}

static bool
is_alnum(char c)
{
	return isalnum((unsigned char)c) || (unsigned char)c >= 0x80;
}

/* The length of the run of c at i (within b). */
static size_t
run_len(const struct inl *x, size_t i, size_t b, char c)
{
	size_t r = 0;

	while (i + r < b && x->s[i + r] == c)
		r++;
	return r;
}

/* A closing run of at least k c's in (from, b), preceded by a non-space; b when none. */
static size_t
find_closer(const struct inl *x, char c, size_t k, size_t from, size_t b)
{
	size_t j = from, r;

	while (j < b) {
		if (x->code[j]) {
			j += x->code[j];
			continue;
		}
		if (x->s[j] == '\\') {
			j += 2;
			continue;
		}
		if (x->s[j] != c) {
			j++;
			continue;
		}
		r = run_len(x, j, b, c);
		if (r >= k && j > from && !is_space(x->s[j - 1]) &&
		    (c != '_' || j + r >= x->n || !is_alnum(x->s[j + r])))
			return j;
		j += r;
	}
	return b;
}

/* The first position >= from in [from, b) holding c (outside code spans), or b. */
static size_t
find_char(const struct inl *x, struct memo *mm, char c, size_t from, size_t b)
{
	size_t j;

	if (mm->valid && mm->from <= from && (mm->at >= from || mm->at == b))
		return mm->at;
	for (j = from; j < b && x->s[j] != c;)
		j += x->code[j] ? x->code[j] : x->s[j] == '\\' ? 2 : 1;
	if (j > b)
		j = b;
	mm->valid = true;
	mm->from = from;
	mm->at = j;
	return j;
}

static void inline_range(struct inl *x, size_t a, size_t b, unsigned st, int depth);

/* A code span at i: its text without the backticks and one padding space each side. */
static void
put_code(struct inl *x, size_t i, unsigned st)
{
	size_t len = x->code[i], r = run_len(x, i, i + len, '`');
	size_t a = i + r, b = i + len - r;

	if (b - a >= 2 && x->s[a] == ' ' && x->s[b - 1] == ' ')
		a++, b--;
	if (x->m->color)
		put(x, a, b, st | ST_CODE);
	else
		put(x, i, i + len, st);
}

/*
 * A link or image at i ("[text](url)", "![alt](url)"): renders it and
 * returns the position after it, or i when it is not one.
 */
static size_t
try_link(struct inl *x, size_t i, size_t b, unsigned st, int depth, struct memo *rb,
    struct memo *rp)
{
	size_t t = x->s[i] == '!' ? i + 2 : i + 1, q, u, ue, p;

	q = find_char(x, rb, ']', t, b);
	if (q >= b || q + 1 >= b || x->s[q + 1] != '(')
		return i;
	p = find_char(x, rp, ')', q + 2, b);
	if (p >= b)
		return i;
	for (u = q + 2; u < p && is_space(x->s[u]); u++)
		;
	for (ue = u; ue < p && !is_space(x->s[ue]); ue++)
		;
	if (ue == u || ue - u > URL_MAX)
		return i;
	if (q > t && !(q - t == ue - u && memcmp(x->s + t, x->s + u, q - t) == 0)) {
		inline_range(x, t, q, st, depth + 1);
		put_str(x, " (", st);
		put(x, u, ue, st | ST_UNDER);
		put_str(x, ")", st);
	} else {
		put(x, u, ue, st | ST_UNDER);
	}
	return p + 1;
}

/* An autolink at i ("<https://...>"): renders it, returns the position after, or i. */
static size_t
try_autolink(struct inl *x, size_t i, size_t b, unsigned st)
{
	static const char *const schemes[] = { "http://", "https://", "mailto:", NULL };
	size_t j, k;

	for (k = 0; schemes[k]; k++)
		if (b - i > strlen(schemes[k]) + 1 &&
		    strncmp(x->s + i + 1, schemes[k], strlen(schemes[k])) == 0)
			break;
	if (!schemes[k])
		return i;
	/* Stops at the next "<" too, so the scans of successive "<" never overlap. */
	for (j = i + 1;
	     j < b && j - i <= URL_MAX && x->s[j] != '>' && x->s[j] != '<' && !is_space(x->s[j]);
	     j++)
		;
	if (j >= b || x->s[j] != '>')
		return i;
	put(x, i + 1, j, st | ST_UNDER);
	return j + 1;
}

/* Renders s[a..b) inline in style st. */
static void
inline_range(struct inl *x, size_t a, size_t b, unsigned st, int depth)
{
	static const char delims[] = "*_~";
	bool failed[3][4] = { { false } };
	struct memo rb = { 0 }, rp = { 0 };
	size_t i = a, lit = a, r, k, o, j, e;
	const char *d;

	while (i < b) {
		char c = x->s[i];

		if (x->code[i] && i + x->code[i] <= b) {
			put(x, lit, i, st);
			put_code(x, i, st);
			i += x->code[i];
			lit = i;
			continue;
		}
		if (c == '\\' && i + 1 < b && ispunct((unsigned char)x->s[i + 1])) {
			put(x, lit, i, st);
			put(x, i + 1, i + 2, st);
			i += 2;
			lit = i;
			continue;
		}
		if ((d = strchr(delims, c)) != NULL && c && depth < MD_DEPTH_MAX) {
			r = run_len(x, i, b, c);
			k = c == '~' ? 2 : r >= 3 ? 3 : r;
			o = i + r - k;
			if ((c != '~' || r == 2) && o + k < b && !is_space(x->s[o + k]) &&
			    (c != '_' || i == 0 || !is_alnum(x->s[i - 1])) &&
			    !failed[d - delims][k]) {
				j = find_closer(x, c, k, o + k, b);
				if (j < b) {
					unsigned add = c == '~' ? ST_STRIKE :
						       k == 1   ? ST_ITALIC :
						       k == 2   ? ST_BOLD :
								  ST_BOLD | ST_ITALIC;

					put(x, lit, o, st);
					inline_range(x, o + k, j, st | add, depth + 1);
					i = j + k;
					lit = i;
					continue;
				}
				failed[d - delims][k] = true;
			}
			i += r;
			continue;
		}
		if ((c == '[' || (c == '!' && i + 1 < b && x->s[i + 1] == '[')) &&
		    depth < MD_DEPTH_MAX) {
			put(x, lit, i, st);
			e = try_link(x, i, b, st, depth, &rb, &rp);
			if (e > i) {
				i = lit = e;
				continue;
			}
			lit = i;
		} else if (c == '<') {
			put(x, lit, i, st);
			e = try_autolink(x, i, b, st);
			if (e > i) {
				i = lit = e;
				continue;
			}
			lit = i;
		}
		i++;
	}
	put(x, lit, b, st);
}

/* Renders text s[0..n) inline in the base style st (the line's text part). */
static void
render_inline(struct md *m, struct cy_buf *out, const char *s, size_t n, unsigned st)
{
	struct inl x = { .m = m, .out = out, .s = s, .n = n };

	if (n > MD_LINE_MAX) {
		style_emit(&x, st);
		md_text(out, s, n);
	} else {
		x.code = xcalloc(n + 1, sizeof(*x.code));
		find_code_spans(&x);
		inline_range(&x, 0, n, st, 0);
		free(x.code);
	}
	style_emit(&x, 0);
}

/* Leading spaces (a tab counts as 4) and the bytes they take. */
static size_t
indent_of(const char *s, size_t n, size_t *cols)
{
	size_t i;

	*cols = 0;
	for (i = 0; i < n && is_space(s[i]); i++)
		*cols += s[i] == '\t' ? 4 : 1;
	return i;
}

/* A fence line: >= 3 backticks or tildes after at most 3 spaces; its char and length. */
static bool
fence_of(const char *s, size_t n, char *ch, size_t *len, size_t *ind)
{
	size_t i, cols, r;

	i = indent_of(s, n, &cols);
	if (cols > 3 || i >= n || (s[i] != '`' && s[i] != '~'))
		return false;
	for (r = 0; i + r < n && s[i + r] == s[i]; r++)
		;
	if (r < 3 || (s[i] == '`' && memchr(s + i + r, '`', n - i - r)))
		return false;
	*ch = s[i];
	*len = r;
	*ind = cols;
	return true;
}

/* A thematic break: three or more of one of - * _ and nothing else but spaces. */
static bool
is_rule(const char *s, size_t n)
{
	size_t i, count = 0;
	char c = 0;

	for (i = 0; i < n; i++) {
		if (is_space(s[i]))
			continue;
		if (!c && (s[i] == '-' || s[i] == '*' || s[i] == '_'))
			c = s[i];
		if (s[i] != c)
			return false;
		count++;
	}
	return count >= 3;
}

static void
pad(struct cy_buf *out, size_t n)
{
	while (n--)
		cy_buf_addch(out, ' ');
}

/* Inside a fence: a code line, or the closing fence (hidden). */
static void
code_line(struct md *m, const char *s, size_t n, struct cy_buf *out)
{
	char ch;
	size_t len, ind, i, cols = 0;

	if (fence_of(s, n, &ch, &len, &ind) && ch == m->fence_ch && len >= m->fence_len) {
		for (i = 0; i < n && (is_space(s[i]) || s[i] == ch); i++)
			;
		if (i == n) {
			m->in_fence = false;
			return;
		}
	}
	/* Drop up to the fence's own indentation. */
	for (i = 0; i < n && s[i] == ' ' && cols < m->fence_indent; i++)
		cols++;
	pad(out, 4);
	if (m->color)
		cy_buf_addstr(out, "\033[0;36m");
	md_text(out, s + i, n - i);
	if (m->color)
		cy_buf_addstr(out, "\033[0m");
	cy_buf_addch(out, '\n');
}

void
md_line(struct md *m, const char *line, size_t len, struct cy_buf *out)
{
	static const char *const bullets[] = { "\xe2\x80\xa2", "\xe2\x97\xa6", "\xe2\x96\xaa" };
	size_t i, cols, h, k;
	char ch;

	if (len && line[len - 1] == '\r')
		len--;
	if (m->in_fence) {
		code_line(m, line, len, out);
		return;
	}
	if (fence_of(line, len, &ch, &k, &cols)) {
		m->in_fence = true;
		m->fence_ch = ch;
		m->fence_len = k;
		m->fence_indent = cols;
		return;
	}
	i = indent_of(line, len, &cols);
	if (i == len) {
		cy_buf_addch(out, '\n');
		return;
	}
	/* ATX heading */
	for (h = 0; i + h < len && h < 7 && line[i + h] == '#'; h++)
		;
	if (cols <= 3 && h >= 1 && h <= 6 && (i + h == len || is_space(line[i + h]))) {
		size_t a = i + h, b = len;

		while (a < b && is_space(line[a]))
			a++;
		/* An optional closing run of # after a space. */
		k = b;
		while (k > a && line[k - 1] == '#')
			k--;
		if (k == a || is_space(line[k - 1]))
			b = k;
		while (b > a && is_space(line[b - 1]))
			b--;
		if (!m->color) {
			cy_buf_add(out, line + i, h);
			cy_buf_addch(out, ' ');
		}
		render_inline(m, out, line + a, b - a, h == 1 ? ST_BOLD | ST_UNDER : ST_BOLD);
		cy_buf_addch(out, '\n');
		return;
	}
	if (cols <= 3 && is_rule(line + i, len - i)) {
		for (k = 0; k < 40; k++)
			cy_buf_addstr(out, m->ascii ? "-" : "\xe2\x94\x80");
		cy_buf_addch(out, '\n');
		return;
	}
	/* bullet list item */
	if ((line[i] == '-' || line[i] == '*' || line[i] == '+') &&
	    (i + 1 == len || is_space(line[i + 1]))) {
		size_t a = i + 1 < len ? i + 2 : i + 1;

		pad(out, 2 + cols);
		cy_buf_addstr(out, m->ascii ? "*" : bullets[(cols / 2) % 3]);
		cy_buf_addch(out, ' ');
		render_inline(m, out, line + a, len - a, 0);
		cy_buf_addch(out, '\n');
		return;
	}
	/* numbered list item */
	for (k = 0; i + k < len && k < 10 && isdigit((unsigned char)line[i + k]); k++)
		;
	if (k >= 1 && k <= 9 && i + k < len && (line[i + k] == '.' || line[i + k] == ')') &&
	    (i + k + 1 == len || is_space(line[i + k + 1]))) {
		size_t a = i + k + 1 < len ? i + k + 2 : i + k + 1;

		pad(out, 2 + cols);
		cy_buf_add(out, line + i, k + 1);
		cy_buf_addch(out, ' ');
		render_inline(m, out, line + a, len - a, 0);
		cy_buf_addch(out, '\n');
		return;
	}
	/* block quote */
	if (cols <= 3 && line[i] == '>') {
		size_t a = i + 1 < len && is_space(line[i + 1]) ? i + 2 : i + 1;

		cy_buf_addstr(out, m->ascii ? "| " : "\xe2\x94\x82 ");
		render_inline(m, out, line + a, len - a, m->color ? ST_DIM : 0);
		cy_buf_addch(out, '\n');
		return;
	}
	md_text(out, line, i);
	render_inline(m, out, line + i, len - i, 0);
	cy_buf_addch(out, '\n');
}
