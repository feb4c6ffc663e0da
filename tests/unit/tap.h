/*
 * Minimal TAP producer for the C unit tests, run by prove(1).
 *
 *   static void test_x(void) { ok(1 + 1 == 2, "adds"); }
 *   int main(void) { RUN_TEST(test_x); return tap_done(); }
 */
#ifndef CY_TAP_H
#define CY_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_count, tap_failed;

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_str(got, want, name) \
	do { \
		const char *g_ = (got), *w_ = (want); \
		int eq_ = (g_ && w_) ? strcmp(g_, w_) == 0 : g_ == w_; \
		ok(eq_, "%s", name); \
		if (!eq_) \
			printf("#   got: '%s'\n#  want: '%s'\n", g_ ? g_ : "(null)", \
			    w_ ? w_ : "(null)"); \
	} while (0)
#define is_int(got, want, name) \
	do { \
		long long g_ = (long long)(got), w_ = (long long)(want); \
		ok(g_ == w_, "%s", name); \
		if (g_ != w_) \
			printf("#   got: %lld\n#  want: %lld\n", g_, w_); \
	} while (0)
#define RUN_TEST(fn) \
	do { \
		printf("# %s\n", #fn); \
		fn(); \
	} while (0)

__attribute__((format(printf, 4, 5))) static inline void
tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	tap_count++;
	if (!cond)
		tap_failed++;
	printf("%s %d - ", cond ? "ok" : "not ok", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond)
		printf("#   failed at %s:%d\n", file, line);
}

static inline int
tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed ? 1 : 0;
}

/* Skips the whole file (prove counts it as skipped). */
#define tap_skip_all(reason) \
	do { \
		printf("1..0 # SKIP %s\n", reason); \
		exit(0); \
	} while (0)

#endif
