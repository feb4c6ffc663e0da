/*
 * Unit tests for lib/relpath.c: attachment names and artifact patterns.
 */
#include <string.h>

#include "relpath.h"
#include "tap.h"

static bool
name_ok(const char *s)
{
	return cy_relpath_valid(s, strlen(s), NULL);
}

static bool
glob_ok(const char *s)
{
	return cy_relglob_valid(s, strlen(s), NULL);
}

static void
test_good_names(void)
{
	static const char *const good[] = { "a", "data.csv", "dir/data.csv", "a/b/c/d.txt",
		".hidden", "a/.b", "..a", "a..", "x...y", "é/ü.txt", "with space", "a-b_c~d",
		NULL };
	size_t i;

	for (i = 0; good[i]; i++)
		ok(name_ok(good[i]), "good name '%s'", good[i]);
}

static void
test_bad_names(void)
{
	static const char *const bad[] = { "", "/etc/passwd", "/", "..", ".", "../x", "a/../b",
		"a/..", "./a", "a/./b", "a//b", "a/", "tab\there", "nl\nx", "del\x7f",
		"back\\slash", "\xff\xfe", NULL };
	char longname[1100], deep[200], comp[300];
	const char *why = NULL;
	size_t i;

	for (i = 0; bad[i]; i++)
		ok(!name_ok(bad[i]), "bad name #%zu refused", i);
	ok(!cy_relpath_valid("a\0b", 3, &why) && why && strstr(why, "NUL"), "NUL refused");
	ok(!cy_relpath_valid(NULL, 0, NULL), "NULL refused");
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ok(!cy_relpath_valid(longname, strlen(longname), &why), "over 1024 bytes refused");
	longname[1024] = '\0';
	for (i = 200; i < 1024; i += 200)
		longname[i] = '/';
	ok(name_ok(longname), "1024 bytes in short components accepted");
	for (i = 0; i < 33; i++) {
		deep[2 * i] = 'd';
		deep[2 * i + 1] = '/';
	}
	deep[65] = '\0';
	ok(!name_ok(deep), "33 components refused");
	deep[63] = '\0';
	ok(name_ok(deep), "32 components accepted");
	memset(comp, 'c', 256);
	comp[256] = '\0';
	ok(!name_ok(comp), "a component of 256 bytes refused");
	comp[255] = '\0';
	ok(name_ok(comp), "a component of 255 bytes accepted");
	ok(!cy_relpath_valid("../x", 4, &why) && why && strstr(why, ".."), "why names '..'");
	ok(!cy_relpath_valid("/x", 2, &why) && why && strstr(why, "absolute"), "why: absolute");
}

static void
test_globs(void)
{
	ok(glob_ok("out/"), "out/");
	ok(glob_ok("report-*.txt"), "report-*.txt");
	ok(glob_ok("a/[ab]?/*.log"), "brackets and ?");
	ok(glob_ok("*"), "*");
	ok(!glob_ok("out//"), "out// refused");
	ok(!glob_ok("/"), "/ refused");
	ok(!glob_ok("../*"), "../* refused");
	ok(!glob_ok("*/../x"), "*/../x refused");
	ok(!glob_ok("/tmp/*"), "absolute refused");
	ok(!glob_ok(""), "empty refused");
	ok(!name_ok("out/"), "a name may not end with '/'");
}

int
main(void)
{
	RUN_TEST(test_good_names);
	RUN_TEST(test_bad_names);
	RUN_TEST(test_globs);
	return tap_done();
}
