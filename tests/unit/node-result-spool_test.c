/*
 * Unit tests for node/result-spool.c: results kept, read back, dropped;
 * what a reopen (a restarted daemon) finds, with the last line torn by a
 * crash and with garbage lines; one daemon a directory; the files of the
 * one-file-per-result spool taken in (and what is not taken in); the
 * journal emptied when nothing is held and compacted when it has grown; a
 * write that fails half way; puts from several threads at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "buf.h"
#include "fsutil.h"
#include "json.h"
#include "result-spool.h"
#include "tap.h"

static char dir[] = "/tmp/cy-spool-XXXXXX";

static json_t *
result(const char *id, const char *out)
{
	return json_pack("{s:s, s:s, s:i, s:s}", "job_id", id, "status", "completed", "exit_code",
	    0, "stdout", out);
}

static off_t
journal_size(void)
{
	char p[256];
	struct stat st;

	xsnprintf(p, sizeof(p), "%s/journal", dir);
	return stat(p, &st) == 0 ? st.st_size : -1;
}

static void
journal_append(const char *text)
{
	char p[256];
	int fd;

	xsnprintf(p, sizeof(p), "%s/journal", dir);
	fd = open(p, O_WRONLY | O_APPEND);
	if (fd < 0 || cy_write_all(fd, text, strlen(text)) < 0)
		printf("# cannot append to %s\n", p);
	if (fd >= 0)
		close(fd);
}

/* The stdout of id's kept result, or "" when there is none. */
static const char *
kept(struct result_spool *s, const char *id)
{
	static char out[32768];
	struct cy_buf b = CY_BUF_INIT;
	struct cy_error err = CY_ERROR_INIT;
	json_t *j;

	out[0] = '\0';
	if (result_spool_get(s, id, &b) == 0 && (j = cy_json_parse(b.buf, b.len, true, &err))) {
		xsnprintf(out, sizeof(out), "%s", json_string_value(json_object_get(j, "stdout")));
		json_decref(j);
	}
	cy_buf_release(&b);
	return out;
}

static size_t
held(struct result_spool *s)
{
	json_t *a = result_spool_ids(s, 0, NULL);
	size_t n = json_array_size(a);

	json_decref(a);
	return n;
}

static void
test_put_get_drop(void)
{
	struct result_spool s = RESULT_SPOOL_INIT;
	struct cy_error err = CY_ERROR_INIT;
	json_t *r, *ids, *old;

	ok(result_spool_open(&s, dir, &err) == 0, "opens (creating the journal): %s", err.msg);
	is_int(journal_size(), 0, "an empty journal");
	r = result("j1", "one\n\"quoted\"\ttab");
	ok(result_spool_put(&s, "j1", r) == 0, "put j1");
	json_decref(r);
	r = result("j2", "two");
	ok(result_spool_put(&s, "j2", r) == 0, "put j2");
	json_decref(r);
	is_str(kept(&s, "j1"), "one\n\"quoted\"\ttab", "j1 reads back byte for byte");
	is_str(kept(&s, "j2"), "two", "j2 reads back");
	is_str(kept(&s, "j3"), "", "an id never put has no result");
	r = result("j2", "two again");
	ok(result_spool_put(&s, "j2", r) == 0, "a second put of j2 replaces it");
	json_decref(r);
	is_str(kept(&s, "j2"), "two again", "the newer result is the one read");
	is_int(held(&s), 2, "two held");
	r = result("x", "x");
	errno = 0;
	ok(result_spool_put(&s, "../x", r) < 0 && errno == EINVAL,
	    "an id that is not a job id is refused");
	ok(result_spool_put(&s, "a\"b", r) < 0, "nor one that would need escaping");
	json_decref(r);

	old = json_array();
	ids = result_spool_ids(&s, time(NULL) - 60, old);
	is_int(json_array_size(ids), 2, "both listed");
	is_int(json_array_size(old), 0, "none older than a minute");
	json_decref(ids);
	json_decref(old);
	old = json_array();
	json_decref(result_spool_ids(&s, time(NULL) + 1, old));
	is_int(json_array_size(old), 2, "both put before the cutoff");
	json_decref(old);

	result_spool_drop(&s, "j1", time(NULL));
	is_str(kept(&s, "j1"), "", "dropped j1 is gone");
	result_spool_drop(&s, "j1", time(NULL));
	result_spool_drop(&s, "nope", time(NULL));
	is_int(held(&s), 1, "dropping twice, or an unknown id, changes nothing");
	ok(journal_size() > 0, "the journal holds j2");
	result_spool_drop(&s, "j2", time(NULL));
	is_int(held(&s), 0, "nothing held");
	is_int(journal_size(), 0, "the journal is emptied when nothing is held");
	result_spool_close(&s);
	r = result("x", "x");
	ok(result_spool_put(&s, "x", r) < 0, "a closed spool refuses a put");
	json_decref(r);
}

static void
test_reopen(void)
{
	struct result_spool s = RESULT_SPOOL_INIT, t = RESULT_SPOOL_INIT;
	struct cy_error err = CY_ERROR_INIT;
	json_t *r;
	off_t whole;
	char id[16];
	int i;

	ok(result_spool_open(&s, dir, &err) == 0, "open");
	for (i = 0; i < 5; i++) {
		xsnprintf(id, sizeof(id), "r%d", i);
		r = result(id, id);
		result_spool_put(&s, id, r);
		json_decref(r);
	}
	result_spool_drop(&s, "r1", time(NULL));
	result_spool_drop(&s, "r3", time(NULL));
	whole = journal_size();
	ok(result_spool_open(&t, dir, &err) < 0,
	    "a second daemon on the same directory is refused");
	ok(strstr(err.msg, "in use by another cynode-node") != NULL, "saying why: %s", err.msg);
	cy_error_clear(&err);
	/* A crash writes nothing more than a close: the daemon is gone, a torn line and garbage
	 * follow. */
	result_spool_close(&s);
	journal_append("this is not json\n{\"neither\":1}\n");
	journal_append("{\"put\":\"r9\",\"at\":1,\"result\":{\"stdout\":\"cut sh");
	ok(result_spool_open(&t, dir, &err) == 0, "the next daemon replays the journal: %s",
	    err.msg);
	is_int(held(&t), 3, "r0, r2, r4 held");
	is_str(kept(&t, "r0"), "r0", "r0");
	is_str(kept(&t, "r2"), "r2", "r2");
	is_str(kept(&t, "r4"), "r4", "r4");
	is_str(kept(&t, "r1"), "", "dropped r1 stays dropped");
	is_str(kept(&t, "r9"), "", "the torn put is not a result");
	is_int(journal_size(), whole + 31, "the torn line is cut off, the garbage kept");
	{
		json_t *old = json_array();

		json_decref(result_spool_ids(&t, time(NULL) - 60, old));
		is_int(json_array_size(old), 0, "when each was put survives the replay");
		json_decref(old);
	}
	r = result("r5", "r5");
	ok(result_spool_put(&t, "r5", r) == 0, "a put after the replay");
	json_decref(r);
	r = result("r0", "r0 again");
	ok(result_spool_put(&t, "r0", r) == 0, "a second put of r0 after the replay");
	json_decref(r);
	result_spool_close(&t);
	ok(result_spool_open(&t, dir, &err) == 0, "and again");
	is_str(kept(&t, "r0"), "r0 again", "the later put of r0 wins in the replay");
	is_str(kept(&t, "r5"), "r5", "the put after a torn line reads back whole");
	is_int(held(&t), 4, "four held");
	result_spool_drop(&t, "r0", time(NULL));
	result_spool_drop(&t, "r2", time(NULL));
	result_spool_drop(&t, "r4", time(NULL));
	result_spool_drop(&t, "r5", time(NULL));
	is_int(journal_size(), 0, "emptied");
	result_spool_close(&t);
}

static void
test_legacy(void)
{
	struct result_spool s = RESULT_SPOOL_INIT;
	struct cy_error err = CY_ERROR_INIT;
	char p[256];
	FILE *f;

	xsnprintf(p, sizeof(p), "%s/old-1.json", dir);
	f = fopen(p, "w");
	fputs("{\"job_id\":\"old-1\",\"stdout\":\"from before\",\"lease_id\":\"l\"}", f);
	fclose(f);
	xsnprintf(p, sizeof(p), "%s/old-2.json", dir);
	f = fopen(p, "w");
	fputs("{not json", f);
	fclose(f);
	{
		struct timeval tv[2] = { { 1000, 0 }, { 1000, 0 } };

		xsnprintf(p, sizeof(p), "%s/old-1.json", dir);
		utimes(p, tv);
	}
	xsnprintf(p, sizeof(p), "%s/.old-3.tmp", dir);
	f = fopen(p, "w");
	fputs("{\"half", f);
	fclose(f);
	xsnprintf(p, sizeof(p), "%s/bad id.json", dir);
	f = fopen(p, "w");
	fputs("{}", f);
	fclose(f);
	xsnprintf(p, sizeof(p), "%s/fifo-1.json", dir);
	ok(mkfifo(p, 0600) == 0, "a FIFO named like a result");
	ok(result_spool_open(&s, dir, &err) == 0,
	    "open with the old layout's files (the FIFO does not hang it)");
	is_str(kept(&s, "old-1"), "from before", "an old <id>.json is taken in");
	{
		json_t *old = json_array();

		json_decref(result_spool_ids(&s, 2000, old));
		is_int(json_array_size(old), 1, "put when the old file was written");
		json_decref(old);
	}
	xsnprintf(p, sizeof(p), "%s/bad id.json", dir);
	ok(access(p, F_OK) == 0, "a name that is not a job id is left alone");
	unlink(p);
	xsnprintf(p, sizeof(p), "%s/fifo-1.json", dir);
	ok(access(p, F_OK) == 0, "so is the FIFO");
	unlink(p);
	xsnprintf(p, sizeof(p), "%s/old-1.json", dir);
	ok(access(p, F_OK) < 0, "and removed");
	xsnprintf(p, sizeof(p), "%s/.old-3.tmp", dir);
	ok(access(p, F_OK) < 0, "an old temporary is removed");
	xsnprintf(p, sizeof(p), "%s/old-2.json", dir);
	ok(access(p, F_OK) == 0, "an unreadable one is left where it is");
	unlink(p);
	is_int(held(&s), 1, "one held");
	result_spool_drop(&s, "old-1", time(NULL));
	result_spool_close(&s);
}

static void
test_compaction(void)
{
	struct result_spool s = RESULT_SPOOL_INIT, t = RESULT_SPOOL_INIT;
	struct cy_error err = CY_ERROR_INIT;
	char *big = malloc(20001), id[16];
	off_t peak = 0, sz;
	json_t *r;
	int i;

	memset(big, 'b', 20000);
	big[20000] = '\0';
	ok(result_spool_open(&s, dir, &err) == 0, "open");
	r = result("first", "goes in the first compaction");
	result_spool_put(&s, "first", r);
	json_decref(r);
	r = result("keep", "kept through compactions");
	result_spool_put(&s, "keep", r);
	json_decref(r);
	/* 200 results of 20 KB come and go: 4 MB written, one held throughout, moved. */
	for (i = 0; i < 200; i++) {
		xsnprintf(id, sizeof(id), "c%d", i);
		r = result(id, big);
		result_spool_put(&s, id, r);
		json_decref(r);
		result_spool_drop(&s, i ? id : "first", time(NULL));
		if (!i)
			result_spool_drop(&s, id, time(NULL));
		sz = journal_size();
		if (sz > peak)
			peak = sz;
	}
	ok(peak < (off_t)(2 << 20), "the journal stays under 2 MiB (peak %lld)", (long long)peak);
	ok(journal_size() < (off_t)(1 << 20), "and is small after (%lld)",
	    (long long)journal_size());
	is_str(kept(&s, "keep"), "kept through compactions",
	    "the held result survives them, moved");
	r = result("late", big);
	ok(result_spool_put(&s, "late", r) == 0, "a put after the compactions");
	json_decref(r);
	ok(strlen(kept(&s, "late")) == 20000, "reads back whole (the end of the file is known)");
	result_spool_close(&s);
	ok(result_spool_open(&t, dir, &err) == 0, "a replay of the compacted journal");
	is_int(held(&t), 2, "finds both");
	is_str(kept(&t, "keep"), "kept through compactions", "keep");
	ok(strlen(kept(&t, "late")) == 20000, "late, whole");
	result_spool_drop(&t, "keep", time(NULL));
	result_spool_drop(&t, "late", time(NULL));
	result_spool_close(&t);
	free(big);
}

/* Lines another writer could have made: keys in another order, a member more. */
static void
test_foreign_lines(void)
{
	struct result_spool s = RESULT_SPOOL_INIT;
	struct cy_error err = CY_ERROR_INIT;
	json_t *r;

	journal_append("{\"at\":5,\"result\":{\"stdout\":\"reordered\"},\"put\":\"p1\"}\n");
	journal_append("{\"put\":\"p2\",\"at\":5,\"result\":{\"stdout\":\"extra\"},\"k\":1}\n");
	journal_append("{\"put\":\"p3\",\"at\":5,\"result\":{\"stdout\":\"spaced\"} }\n");
	ok(result_spool_open(&s, dir, &err) == 0, "open");
	is_str(kept(&s, "p1"), "reordered", "keys in another order");
	is_str(kept(&s, "p2"), "extra", "a member after the result");
	is_str(kept(&s, "p3"), "spaced", "other spacing");
	r = result("p4", "mine");
	result_spool_put(&s, "p4", r);
	json_decref(r);
	result_spool_drop(&s, "p4", time(NULL) - 10);
	is_str(kept(&s, "p4"), "mine", "a drop bounded before the put leaves it (a newer attempt)");
	result_spool_drop(&s, "p4", time(NULL));
	is_str(kept(&s, "p4"), "", "a drop bounded after it drops it");
	result_spool_drop(&s, "p1", 5);
	result_spool_drop(&s, "p2", 5);
	result_spool_drop(&s, "p3", 5);
	is_int(journal_size(), 0, "emptied");
	result_spool_close(&s);
	{
		struct cy_buf b = CY_BUF_INIT;

		errno = 0;
		ok(result_spool_get(&s, "p1", &b) < 0 && errno == EBADF, "a closed spool: EBADF");
		cy_buf_release(&b);
	}
}

static struct result_spool shared = RESULT_SPOOL_INIT;

static void *
putter(void *arg)
{
	int base = *(int *)arg, i;
	char id[16];

	for (i = 0; i < 200; i++) {
		json_t *r;

		xsnprintf(id, sizeof(id), "t%d-%d", base, i);
		r = result(id, id);
		result_spool_put(&shared, id, r);
		json_decref(r);
		if (i % 2)
			result_spool_drop(&shared, id, time(NULL));
	}
	return NULL;
}

static void
test_threads(void)
{
	struct result_spool t = RESULT_SPOOL_INIT;
	struct cy_error err = CY_ERROR_INIT;
	pthread_t th[4];
	int base[4] = { 0, 1, 2, 3 }, i, bad = 0;
	char id[16];

	ok(result_spool_open(&shared, dir, &err) == 0, "open");
	for (i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, putter, &base[i]);
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	is_int(held(&shared), 400, "four threads' puts and drops: 400 held");
	result_spool_close(&shared);
	ok(result_spool_open(&t, dir, &err) == 0, "replayed");
	is_int(held(&t), 400, "the replay agrees");
	for (i = 0; i < 200; i += 2) {
		xsnprintf(id, sizeof(id), "t3-%d", i);
		bad += strcmp(kept(&t, id), id) != 0;
	}
	is_int(bad, 0, "every line whole");
	for (i = 0; i < 4; i++) {
		int j;

		for (j = 0; j < 200; j += 2) {
			xsnprintf(id, sizeof(id), "t%d-%d", i, j);
			result_spool_drop(&t, id, time(NULL));
		}
	}
	is_int(journal_size(), 0, "all dropped: emptied");
	result_spool_close(&t);
}

/* A write that fails half way (the file size limit): the journal is cut back, nothing lost. */
static void
test_write_failure(void)
{
	struct result_spool s = RESULT_SPOOL_INIT;
	struct cy_error err = CY_ERROR_INIT;
	struct rlimit old_lim, lim;
	char *big = malloc(5001);
	off_t before;
	int rc, e;
	json_t *r;

	memset(big, 'w', 5000);
	big[5000] = '\0';
	ok(result_spool_open(&s, dir, &err) == 0, "open");
	r = result("w1", "first");
	result_spool_put(&s, "w1", r);
	json_decref(r);
	before = journal_size();
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old_lim);
	lim = old_lim;
	lim.rlim_cur = (rlim_t)before + 1000;
	setrlimit(RLIMIT_FSIZE, &lim);
	r = result("w2", big);
	rc = result_spool_put(&s, "w2", r);
	e = errno;
	json_decref(r);
	setrlimit(RLIMIT_FSIZE, &old_lim);
	ok(rc < 0 && e == EFBIG, "a put past the size limit fails (EFBIG)");
	is_int(journal_size(), before, "the partial line is cut back");
	is_str(kept(&s, "w2"), "", "and not held");
	r = result("w3", "third");
	ok(result_spool_put(&s, "w3", r) == 0, "the next put works");
	json_decref(r);
	result_spool_close(&s);
	ok(result_spool_open(&s, dir, &err) == 0, "replayed");
	is_str(kept(&s, "w1"), "first", "w1 intact");
	is_str(kept(&s, "w3"), "third", "w3 intact");
	is_int(held(&s), 2, "two held");
	result_spool_drop(&s, "w1", time(NULL));
	result_spool_drop(&s, "w3", time(NULL));
	result_spool_close(&s);
	free(big);
}

static void
test_unusable_dir(void)
{
	struct result_spool s = RESULT_SPOOL_INIT;
	struct cy_error err = CY_ERROR_INIT;
	char p[256];
	FILE *f;

	xsnprintf(p, sizeof(p), "%s/file", dir);
	f = fopen(p, "w");
	fclose(f);
	xsnprintf(p, sizeof(p), "%s/file/results", dir);
	ok(result_spool_open(&s, p, &err) < 0, "a directory that cannot be made is an error");
	ok(strstr(err.msg, "result spool") != NULL, "naming the spool: %s", err.msg);
}

int
main(void)
{
	if (!mkdtemp(dir))
		return 1;
	RUN_TEST(test_put_get_drop);
	RUN_TEST(test_reopen);
	RUN_TEST(test_legacy);
	RUN_TEST(test_compaction);
	RUN_TEST(test_foreign_lines);
	RUN_TEST(test_threads);
	RUN_TEST(test_write_failure);
	RUN_TEST(test_unusable_dir);
	cy_rm_rf(dir);
	return tap_done();
}
