/*
 * Replays a fuzz target's seed corpus without libFuzzer, as a TAP unit test.
 * Linked with one tests/fuzz/<name>_fuzz.c into build/tests/unit/
 * fuzz-<name>_test, so `make test` (and the ASan/UBSan run of CI) feeds
 * every parser that has a fuzz target its seeds, every prefix of each seed
 * and a fixed set of byte mutations of it.  A crash or a sanitizer report
 * fails the test.  `make fuzz` builds the same targets with libFuzzer for
 * real fuzzing (tests/fuzz/run).
 *
 *   fuzz-<name>_test [FILE|DIR...]   default: tests/fuzz/corpus/<name>
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "buf.h"
#include "banned.h"

#define PREFIX_MAX 4096
#define MUTATIONS 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int ntests;

/* Feeds one input in a buffer of its own size, so ASan sees overreads. */
static void
feed(const uint8_t *data, size_t len)
{
	uint8_t *copy = xmalloc(len ? len : 1);

	memcpy(copy, data, len);
	LLVMFuzzerTestOneInput(copy, len);
	free(copy);
}

/* xorshift64: a fixed, portable sequence of mutations. */
static uint64_t
next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void
replay(const char *path, const uint8_t *data, size_t len)
{
	static const uint8_t special[] = { 0, '"', '\\', '{', '}', '.', ':', '\n', 0xff, 0xc3 };
	uint64_t seed = 0x9e3779b97f4a7c15ULL ^ len;
	uint8_t *m;
	size_t i, n;

	feed(data, len);
	n = len < PREFIX_MAX ? len : PREFIX_MAX;
	for (i = 0; i < n; i++)
		feed(data, i);
	m = xmalloc(len + 1);
	for (i = 0; len && i < MUTATIONS; i++) {
		uint64_t r = next_rand(&seed);

		memcpy(m, data, len);
		if (r & 1)
			m[(r >> 8) % len] = special[(r >> 32) % sizeof(special)];
		else
			m[(r >> 8) % len] ^= (uint8_t)(1u << ((r >> 32) % 8));
		feed(m, len);
	}
	free(m);
	printf("ok %d - %s (%zu bytes, %zu prefixes, %d mutations)\n", ++ntests, path, len, n,
	    len ? MUTATIONS : 0);
}

static int
replay_file(const char *path)
{
	struct cy_buf b = CY_BUF_INIT;
	FILE *f = fopen(path, "rb");
	char chunk[4096];
	size_t n;

	if (!f) {
		printf("not ok %d - %s: cannot open\n", ++ntests, path);
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		cy_buf_add(&b, chunk, n);
	fclose(f);
	replay(path, (const uint8_t *)b.buf, b.len);
	cy_buf_release(&b);
	return 0;
}

static int
replay_path(const char *path)
{
	struct dirent **ents;
	struct stat st;
	int i, n, rc = 0;

	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return replay_file(path);
	n = scandir(path, &ents, NULL, alphasort);
	if (n < 0) {
		printf("not ok %d - %s: cannot read\n", ++ntests, path);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (ents[i]->d_name[0] != '.') {
			struct cy_buf p = CY_BUF_INIT;

			cy_buf_addf(&p, "%s/%s", path, ents[i]->d_name);
			rc |= replay_file(p.buf);
			cy_buf_release(&p);
		}
		free(ents[i]);
	}
	free(ents);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *base = strrchr(argv[0], '/');
	struct cy_buf dflt = CY_BUF_INIT;
	int i, rc = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		/* build/tests/unit/fuzz-NAME_test -> tests/fuzz/corpus/NAME */
		base = base ? base + 1 : argv[0];
		if (strncmp(base, "fuzz-", 5) == 0)
			base += 5;
		cy_buf_addf(&dflt, "tests/fuzz/corpus/%.*s", (int)strcspn(base, "_"), base);
		rc = replay_path(dflt.buf);
		cy_buf_release(&dflt);
	}
	for (i = 1; i < argc; i++)
		rc |= replay_path(argv[i]);
	if (ntests == 0) {
		printf("not ok 1 - no corpus found\n");
		ntests = 1;
		rc = 1;
	}
	printf("1..%d\n", ntests);
	return rc ? 1 : 0;
}
