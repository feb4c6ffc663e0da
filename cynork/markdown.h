/*
 * markdown.c: renders Markdown for a terminal, one complete line at a time
 * (so a streamed reply is rendered as its lines arrive).  Block level:
 * ATX headings, bullet and numbered lists, block quotes, rules, fenced code
 * blocks (indented, fence lines hidden); inline: `code`, **bold**,
 * *italic*, ~~strike~~, [text](url) shown as "text (url)", <autolinks>,
 * backslash escapes.  Colours (SGR sequences) only when asked for; without
 * them the structure is kept and emphasis markers are dropped.
 *
 * Total on any input: every byte sequence renders, in time linear in the
 * line's length (lines longer than MD_LINE_MAX are shown as plain text),
 * and the output holds no control character of the input: C0 and DEL are
 * shown as ^X, C1 controls and invalid UTF-8 as U+FFFD.
 */
#ifndef CYNORK_MARKDOWN_H
#define CYNORK_MARKDOWN_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

#define MD_LINE_MAX (64 * 1024)

struct md {
	bool color; /* SGR sequences for styles */
	bool ascii; /* no Unicode glyphs (bullets, rules, quote bars) */
	/* block state carried from line to line */
	bool in_fence;
	char fence_ch;
	size_t fence_len;
	size_t fence_indent;
};

void md_init(struct md *m, bool color, bool ascii);
/*
 * Appends the rendering of one complete line (without its line end; a
 * trailing "\r" is dropped) to out, ending with "\n" and with all styles
 * reset.
 */
void md_line(struct md *m, const char *line, size_t len, struct cy_buf *out);
/*
 * Appends text for a terminal: tab and newline kept, other C0 controls and
 * DEL as ^X, C1 controls and invalid UTF-8 as U+FFFD.
 */
void md_text(struct cy_buf *out, const char *s, size_t len);

#endif
