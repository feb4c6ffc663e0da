/*
 * Unit tests for lib/json.c: parsing with readable errors and typed access.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "tap.h"

static void
test_parse(void)
{
	struct cy_error err = CY_ERROR_INIT;
	const char *good = "{\"a\":{\"b\":\"c\"},\"n\":5,\"t\":true,\"s\":\"x\"}";
	json_t *v = cy_json_parse(good, strlen(good), true, &err);
	long long n = 0;

	ok(v != NULL, "valid object parses");
	is_str(cy_json_str(v, "s"), "x", "string field");
	ok(cy_json_str(v, "n") == NULL, "a number is not a string");
	ok(cy_json_str(v, "missing") == NULL, "absent key");
	is_str(cy_json_path_str(v, "a.b"), "c", "dotted path");
	ok(cy_json_path_str(v, "a.x") == NULL, "absent dotted path");
	ok(cy_json_path_str(v, "s.x") == NULL, "path through a scalar");
	ok(cy_json_int(v, "n", &n) == 0 && n == 5, "integer field");
	ok(cy_json_int(v, "s", &n) == -1, "string is not an integer");
	ok(cy_json_bool(v, "t", false), "boolean field");
	ok(cy_json_bool(v, "missing", true), "boolean default");
	json_decref(v);

	v = cy_json_parse("{\"a\":", 5, true, &err);
	ok(v == NULL, "truncated JSON rejected");
	ok(strstr(err.msg, "invalid JSON") != NULL, "error names the problem: %s", err.msg);
	v = cy_json_parse("[1,2]", 5, true, &err);
	ok(v == NULL, "array rejected where an object is wanted");
	v = cy_json_parse("[1,2]", 5, false, &err);
	ok(v != NULL && json_is_array(v), "array accepted otherwise");
	json_decref(v);
	ok(cy_json_parse("", 0, false, &err) == NULL, "empty input rejected");
	ok(cy_json_parse("{} {}", 5, true, &err) == NULL, "two values rejected");
	ok(cy_json_parse("{\"a\":1}\0junk", 12, true, &err) == NULL, "embedded NUL rejected");
}

static void
test_dump(void)
{
	json_t *v = json_pack("{s:s, s:i}", "b", "x", "a", 1);
	char *c = cy_json_dump(v), *p = cy_json_dump_pretty(v);

	is_str(c, "{\"b\":\"x\",\"a\":1}", "compact dump keeps insertion order");
	ok(p[strlen(p) - 1] == '\n' && strstr(p, "\n  \"b\"") != NULL,
	    "pretty dump: two-space indent and trailing newline");
	free(c);
	free(p);
	json_decref(v);
}

static void
test_utf8_window(void)
{
	/* "a" U+00E9 (2 bytes) U+20AC (3 bytes) "z" */
	const char *s = "a\xC3\xA9\xE2\x82\xACz";
	size_t n = strlen(s), a, b;

	cy_utf8_window(s, n, 0, 100, &a, &b);
	ok(a == 0 && b == n, "whole text");
	cy_utf8_window(s, n, 0, 2, &a, &b);
	ok(a == 0 && b == 1, "end moves back to a boundary: %zu %zu", a, b);
	cy_utf8_window(s, n, 2, 100, &a, &b);
	ok(a == 3 && b == n, "start moves forward past a continuation byte: %zu", a);
	cy_utf8_window(s, n, 3, 1, &a, &b);
	ok(a == 3 && b == 6, "at least one whole character: %zu %zu", a, b);
	cy_utf8_window(s, n, 99, 10, &a, &b);
	ok(a == n && b == n, "offset past the end is empty at the end");
	cy_utf8_window(s, n, n, 10, &a, &b);
	ok(a == n && b == n, "offset at the end is empty");
}

static void
test_utf8_valid(void)
{
	ok(cy_utf8_valid("", 0), "empty text");
	ok(cy_utf8_valid("plain", 5), "ASCII");
	ok(cy_utf8_valid("\xc3\xa9t\xc3\xa9", 6), "two-byte characters");
	ok(cy_utf8_valid("\xe2\x82\xac", 3), "three-byte character");
	ok(cy_utf8_valid("\xf0\x9f\x98\x80", 4), "four-byte character");
	ok(!cy_utf8_valid("\xff\xfe", 2), "bytes never in UTF-8");
	ok(!cy_utf8_valid("\x80", 1), "lone continuation byte");
	ok(!cy_utf8_valid("\xc3", 1), "truncated sequence");
	ok(!cy_utf8_valid("\xc3(", 2), "bad continuation byte");
	ok(!cy_utf8_valid("\xc0\xaf", 2), "overlong two-byte form");
	ok(!cy_utf8_valid("\xe0\x80\xaf", 3), "overlong three-byte form");
	ok(!cy_utf8_valid("\xf0\x80\x80\xaf", 4), "overlong four-byte form");
	ok(!cy_utf8_valid("\xed\xa0\x80", 3), "UTF-16 surrogate");
	ok(!cy_utf8_valid("\xf4\x90\x80\x80", 4), "past U+10FFFF");
	ok(cy_utf8_valid("a\0b", 3), "NUL is UTF-8 (callers refuse it separately)");
}

/* sanitize(s, n, final) into b; returns the bytes used. */
static size_t
sanitize(struct cy_buf *b, const char *s, size_t n, bool final)
{
	cy_buf_reset(b);
	return cy_utf8_sanitize(s, n, final, b);
}

static void
test_utf8_sanitize(void)
{
	struct cy_buf b = CY_BUF_INIT;
	size_t used;

	used = sanitize(&b, "plain \xc3\xa9", 8, false);
	ok(used == 8 && b.len == 8 && !memcmp(b.buf, "plain \xc3\xa9", 8), "valid text unchanged");
	used = sanitize(&b,
	    "a\xff"
	    "b",
	    3, false);
	ok(used == 3 && b.len == 5 &&
		!memcmp(b.buf,
		    "a\xef\xbf\xbd"
		    "b",
		    5),
	    "an invalid byte becomes U+FFFD");
	used = sanitize(&b, "a\0b", 3, true);
	ok(used == 3 &&
		!memcmp(b.buf,
		    "a\xef\xbf\xbd"
		    "b",
		    5) &&
		b.len == 5,
	    "NUL becomes U+FFFD");
	used = sanitize(&b, "ab\xe2\x82", 4, false);
	ok(used == 2 && b.len == 2, "a character cut at the end waits for the rest");
	used = sanitize(&b, "ab\xe2\x82", 4, true);
	ok(used == 4 && b.len == 2 + 6, "at the end of the stream the cut bytes are U+FFFD each");
	used = sanitize(&b, "\xe2\x28\xa1", 3, false);
	ok(used == 3 && b.len == 3 + 1 + 3, "a bad continuation is not waited for");
	used = sanitize(&b, "\xed\xa0\x80", 3, false);
	ok(used == 3 && b.len == 9, "a surrogate is three U+FFFD, not waited for");
	ok(cy_utf8_valid(b.buf, b.len), "the output is valid UTF-8");
	used = sanitize(&b, "\xf4\x90", 2, false);
	ok(used == 2 && b.len == 6, "a start past U+10FFFF is not waited for");
	used = sanitize(&b, "\xe0\x80", 2, false);
	ok(used == 2 && b.len == 6, "an overlong start is not waited for");
	used = sanitize(&b, "", 0, true);
	ok(used == 0 && b.len == 0, "empty");
	cy_buf_release(&b);
}

static void
test_wipe(void)
{
	json_t *v = json_pack("{s:s, s:[s, {s:s}], s:i}", "a", "secret-1", "b", "secret-2", "c",
	    "secret-3", "n", 5);
	const char *p1 = json_string_value(json_object_get(v, "a"));
	const char *p3 =
	    json_string_value(json_object_get(json_array_get(json_object_get(v, "b"), 1), "c"));

	cy_json_wipe(v);
	ok(p1[0] == '\0' && memcmp(p1, "\0\0\0\0\0\0\0\0", 8) == 0, "a top-level string is zeroed");
	ok(memcmp(p3, "\0\0\0\0\0\0\0\0", 8) == 0, "a nested string is zeroed");
	ok(json_integer_value(json_object_get(v, "n")) == 5, "numbers are left alone");
	cy_json_wipe(NULL);
	json_decref(v);
}

int
main(void)
{
	RUN_TEST(test_parse);
	RUN_TEST(test_utf8_valid);
	RUN_TEST(test_dump);
	RUN_TEST(test_utf8_window);
	RUN_TEST(test_utf8_sanitize);
	RUN_TEST(test_wipe);
	return tap_done();
}
