/*
 * Unit tests for lib/mask.c (streaming secret masking): fixed cases (split
 * across reads, overlapping and adjacent secrets, short values left
 * alone, a held-back prefix that turns out not to be a secret), then
 * random streams over a two-letter alphabet compared with a plain
 * reference (flag every byte any occurrence covers, one "***" per run),
 * fed in chunks of every size.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mask.h"
#include "tap.h"

/* The masked form of s fed `step` bytes at a time (0: all at once). */
static char *
masked(const char *const *values, const char *s, size_t step)
{
	struct cy_mask *m = cy_mask_new(values);
	struct cy_buf out = CY_BUF_INIT;
	size_t n = strlen(s), i;

	if (step == 0)
		step = n ? n : 1;
	for (i = 0; i < n; i += step)
		cy_mask_feed(m, s + i, n - i < step ? n - i : step, &out);
	cy_mask_flush(m, &out);
	cy_mask_free(m);
	return cy_buf_detach(&out, NULL);
}

/* The reference: the quadratic definition of the same thing. */
static char *
reference(const char *const *values, const char *s)
{
	size_t n = strlen(s), i, j, k;
	bool *flag = calloc(n + 1, sizeof(*flag));
	struct cy_buf out = CY_BUF_INIT;

	for (k = 0; values[k]; k++) {
		size_t len = strlen(values[k]);

		if (len < CY_MASK_MIN)
			continue;
		for (i = 0; i + len <= n; i++)
			if (!memcmp(s + i, values[k], len))
				for (j = i; j < i + len; j++)
					flag[j] = true;
	}
	for (i = 0; i < n; i++) {
		if (!flag[i])
			cy_buf_addch(&out, s[i]);
		else if (i == 0 || !flag[i - 1])
			cy_buf_addstr(&out, CY_MASK_TEXT);
	}
	free(flag);
	return cy_buf_detach(&out, NULL);
}

static void
check(const char *const *values, const char *s, const char *want, const char *name)
{
	size_t step, n = strlen(s);
	bool same = true;
	char *got = masked(values, s, 0);

	is_str(got, want, name);
	free(got);
	for (step = 1; step <= n; step++) {
		got = masked(values, s, step);
		if (strcmp(got, want) != 0)
			same = false;
		free(got);
	}
	ok(same, "%s: the same in chunks of every size", name);
}

static void
test_fixed(void)
{
	const char *const one[] = { "hunter22", NULL };
	const char *const two[] = { "abcdef", "cdxy", NULL };
	const char *const rep[] = { "abab", NULL };
	const char *const shortv[] = { "abc", "", NULL };
	const char *const none[] = { NULL };

	check(one, "password: hunter22\n", "password: ***\n", "one secret");
	check(one, "hunter22hunter22", "***", "back to back is one run");
	check(one, "hunter22 hunter22", "*** ***", "twice");
	check(one, "hunter2 hunter2", "hunter2 hunter2", "a prefix is not the secret");
	check(one, "hunthunter22", "hunt***", "a false start then the secret");
	check(one, "", "", "empty stream");
	check(two, "abcdef", "***", "a secret containing the start of another");
	check(two, "abcdxy", "ab***", "overlapping: the other one");
	check(two, "abcdefcdxyz", "***z", "two adjacent secrets");
	check(rep, "abababa", "***a", "overlapping occurrences of one secret");
	check(rep, "aba", "aba", "held back, then flushed as it was");
	check(shortv, "abc abc", "abc abc", "values under 4 bytes are not masked");
	ok(cy_mask_new(shortv) == NULL, "nothing to mask: no masker");
	ok(cy_mask_new(none) == NULL, "no values: no masker");
	ok(cy_mask_new(NULL) == NULL, "NULL: no masker");
}

static void
test_pass_through(void)
{
	struct cy_buf out = CY_BUF_INIT;

	cy_mask_feed(NULL, "abc", 3, &out);
	cy_mask_flush(NULL, &out);
	is_str(out.buf, "abc", "a NULL masker passes bytes through");
	cy_mask_free(NULL);
	cy_buf_release(&out);
}

static void
test_random(void)
{
	const char *const sets[][4] = {
		{ "abab", NULL },
		{ "aaaa", "abaa", NULL },
		{ "aabba", "bbaab", "abb", NULL },
		{ "abaab", "baaba", "aaaaaaab", NULL },
	};
	char s[200];
	size_t t, i, k, bad = 0;

	srand(14);
	for (t = 0; t < 400; t++) {
		size_t n = (size_t)(rand() % 120);
		const char *const *v = sets[t % 4];
		char *want, *got;

		for (i = 0; i < n; i++)
			s[i] = rand() % 2 ? 'a' : 'b';
		s[n] = '\0';
		want = reference(v, s);
		for (k = 0; k <= 9; k++) {
			got = masked(v, s, k);
			if (strcmp(got, want) != 0) {
				if (!bad)
					printf("# '%s' in chunks of %zu: got '%s', want '%s'\n", s,
					    k, got, want);
				bad++;
			}
			free(got);
		}
		free(want);
	}
	ok(bad == 0, "400 random streams match the reference in chunks of 1 to 9");
}

int
main(void)
{
	RUN_TEST(test_fixed);
	RUN_TEST(test_pass_through);
	RUN_TEST(test_random);
	return tap_done();
}
