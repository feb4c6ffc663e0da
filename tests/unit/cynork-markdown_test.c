/*
 * Unit tests of cynork's terminal Markdown renderer (cynork/markdown.c):
 * each block and inline form with and without colour, fenced code kept
 * verbatim, control characters of the input never reaching the terminal,
 * and inputs built to make a naive renderer slow.
 */
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "markdown.h"
#include "tap.h"
#include "banned.h"

/* Renders the lines of text (separated by \n) and returns the output. */
static char *
render(const char *text, bool color, bool ascii)
{
	struct cy_buf out = CY_BUF_INIT;
	struct md m;
	const char *s = text;

	md_init(&m, color, ascii);
	for (;;) {
		size_t n = strcspn(s, "\n");

		md_line(&m, s, n, &out);
		if (!s[n])
			break;
		s += n + 1;
	}
	return cy_buf_detach(&out, NULL);
}

static void
check(const char *text, bool color, const char *want, const char *name)
{
	char *got = render(text, color, false);

	is_str(got, want, name);
	free(got);
}

static void
test_blocks(void)
{
	check("# Title", true, "\033[0;1;4mTitle\033[0m\n", "h1 is bold and underlined");
	check("### Sub #", true, "\033[0;1mSub\033[0m\n", "h3 is bold, closing hashes dropped");
	check("## Sub **x** ##", false, "## Sub x\n", "no colour: heading keeps its hashes");
	check("#hashtag", false, "#hashtag\n", "no space after #: not a heading");
	check("- one\n  - two\n    - three", false,
	    "  \xe2\x80\xa2 one\n    \xe2\x97\xa6 two\n      \xe2\x96\xaa three\n",
	    "bullets by nesting level");
	check("* a\n+ b", false, "  \xe2\x80\xa2 a\n  \xe2\x80\xa2 b\n", "* and + bullets");
	check("1. one\n12) twelve", false, "  1. one\n  12) twelve\n", "numbered items");
	check("-5 degrees", false, "-5 degrees\n", "a dash without a space is text");
	check("> quoted *x*", false, "\xe2\x94\x82 quoted x\n", "block quote");
	check("---", false,
	    "\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80"
	    "\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80"
	    "\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80"
	    "\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80"
	    "\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80"
	    "\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80"
	    "\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\n",
	    "rule");
	check("a\n\nb", false, "a\n\nb\n", "blank line kept");
	check("text\r", false, "text\n", "CR before the line end dropped");
	check("  indented text", false, "  indented text\n", "paragraph indentation kept");
}

static void
test_ascii(void)
{
	char *got = render("- a\n> q\n***", false, true);

	is_str(got, "  * a\n| q\n----------------------------------------\n", "ascii glyphs");
	free(got);
}

static void
test_fences(void)
{
	check("```sh\necho **hi**\n\tx\n```\nafter", false, "    echo **hi**\n    \tx\nafter\n",
	    "fence lines hidden, code verbatim and indented");
	check("```\nx\n```", true, "    \033[0;36mx\033[0m\n", "code block in colour");
	check("~~~~\n```\nstill code\n~~~~", false, "    ```\n    still code\n",
	    "a fence closes only with its own kind, at least as long");
	check("  ```\n  two\n   three\n  ```", false, "    two\n     three\n",
	    "the fence's indentation is removed from its lines");
	check("```\nunclosed", false, "    unclosed\n", "an unclosed fence runs to the end");
	check("``` a`b", false, "``` a`b\n", "a backtick fence's info has no backtick");
}

static void
test_inline(void)
{
	check("a **b** *c* `d`", true, "a \033[0;1mb\033[0m \033[0;3mc\033[0m \033[0;36md\033[0m\n",
	    "bold, italic, code");
	check("a **b** *c* `d`", false, "a b c `d`\n", "no colour: markers dropped, code kept");
	check("***x*** ~~y~~ __z__ _w_", true,
	    "\033[0;1;3mx\033[0m \033[0;9my\033[0m \033[0;1mz\033[0m \033[0;3mw\033[0m\n",
	    "bold italic, strike, underscores");
	check("**a *b* c**", true, "\033[0;1ma \033[0;1;3mb\033[0;1m c\033[0m\n",
	    "nested styles end cleanly");
	check("2 * 3 * 4, a *b, c", false, "2 * 3 * 4, a *b, c\n",
	    "unmatched or space-flanked delimiters are text");
	check("*b, c**", false, "b, c*\n", "a longer closing run closes with its first chars");
	check("snake_case_name and __init__", false, "snake_case_name and init\n",
	    "no intraword underscore emphasis");
	check("`a*b` and *c*", false, "`a*b` and c\n", "no emphasis inside code");
	check("*see `x*y`*", true, "\033[0;3msee \033[0;3;36mx*y\033[0m\n", "code inside emphasis");
	check("`` a`b ``", true, "\033[0;36ma`b\033[0m\n", "double backtick span");
	check("\\*not\\* \\[x\\]", false, "*not* [x]\n", "backslash escapes");
	check("see [docs](http://x/y \"t\") now", false, "see docs (http://x/y) now\n", "link");
	check("[http://a](http://a)", false, "http://a\n", "link whose text is its url");
	check("![alt](u.png)", false, "alt (u.png)\n", "image");
	check("[a] [b](", false, "[a] [b](\n", "brackets that are no link");
	check("go <https://x.y/z> or <b>", false, "go https://x.y/z or <b>\n", "autolink");
	check("[**b**](u)", true, "\033[0;1mb\033[0m (\033[0;4mu\033[0m)\n", "styled link text");
}

static void
test_controls(void)
{
	check("a\033[31mb\x07", false, "a^[[31mb^G\n", "C0 controls shown as ^X");
	check("x\x7fy", false, "x^?y\n", "DEL");
	check("c1:\xc2\x9b. bad:\xff\xc0\x80. ok:\xc3\xa9\xe2\x82\xac", false,
	    "c1:\xef\xbf\xbd. bad:\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd. ok:\xc3\xa9\xe2\x82\xac\n",
	    "C1 controls and invalid UTF-8 replaced, valid UTF-8 kept");
	check("```\n\033]0;title\a\n```", false, "    ^[]0;title^G\n", "controls inside code too");
	{
		struct cy_buf out = CY_BUF_INIT;
		struct md m;

		md_init(&m, false, false);
		md_line(&m, "a\0b", 3, &out);
		is_str(out.buf, "a^@b\n", "a NUL byte");
		cy_buf_release(&out);
	}
}

/* Inputs that are quadratic for a renderer that rescans for closers. */
static void
test_pathological(void)
{
	static const char *const units[] = { "*", "_a", "[", "[x]", "`", "``x", "<http://", "**a",
		"[a](", "~~", "\\", "![", NULL };
	size_t i, k, n = 60000;

	for (i = 0; units[i]; i++) {
		struct cy_buf in = CY_BUF_INIT, out = CY_BUF_INIT;
		struct md m;

		/* "x " first: the line is text, not a rule or a fence */
		cy_buf_addstr(&in, "x ");
		for (k = 0; in.len < n; k++)
			cy_buf_addstr(&in, units[i]);
		md_init(&m, true, false);
		md_line(&m, in.buf, in.len, &out);
		ok(out.len >= in.len / 2 && out.buf[out.len - 1] == '\n', "long line of '%s'",
		    units[i]);
		cy_buf_release(&in);
		cy_buf_release(&out);
	}
	{
		struct cy_buf in = CY_BUF_INIT, out = CY_BUF_INIT;
		struct md m;

		for (k = 0; k < MD_LINE_MAX + 10; k++)
			cy_buf_addch(&in, k % 2 ? '*' : 'a');
		md_init(&m, false, false);
		md_line(&m, in.buf, in.len, &out);
		is_int(out.len, in.len + 1, "a line over MD_LINE_MAX is plain text");
		cy_buf_release(&in);
		cy_buf_release(&out);
	}
}

int
main(void)
{
	RUN_TEST(test_blocks);
	RUN_TEST(test_ascii);
	RUN_TEST(test_fences);
	RUN_TEST(test_inline);
	RUN_TEST(test_controls);
	RUN_TEST(test_pathological);
	return tap_done();
}
