/*
 * Unit tests for node/sandbox-etc.c, against a fake /etc in a temp dir:
 * what is copied (world-readable files, world-searchable directories,
 * symlinks as symlinks) and what is not (unreadable files, private
 * directories, a fifo, an oversized file, entries not in the list); modes;
 * the refresh on a changed, added, re-permissioned or re-pointed source;
 * old generations kept while a job holds them, then removed; the total
 * limit; a generation left for the next process; the sweep of stale ones.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fsutil.h"
#include "sandbox.h"
#include "tap.h"

static char base[] = "/tmp/cy-sbetc-XXXXXX";
static char src[256], state[256];
static time_t stamp = 1700000000;

/* Writes src/rel with mode, and a fresh mtime so every change is seen. */
static void
put(const char *rel, const char *text, mode_t mode)
{
	struct timespec ts[2];
	char path[512];
	FILE *f;

	xsnprintf(path, sizeof(path), "%s/%s", src, rel);
	f = fopen(path, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
	if (chmod(path, mode) != 0)
		abort();
	ts[0].tv_sec = ts[1].tv_sec = ++stamp;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	utimensat(AT_FDCWD, path, ts, 0);
}

static void
dir(const char *rel, mode_t mode)
{
	char path[512];

	xsnprintf(path, sizeof(path), "%s/%s", src, rel);
	if (mkdir(path, 0755) != 0 || chmod(path, mode) != 0)
		abort();
}

static void
link_to(const char *target, const char *rel)
{
	char path[512];

	xsnprintf(path, sizeof(path), "%s/%s", src, rel);
	unlink(path);
	if (symlink(target, path) != 0)
		abort();
}

/* The names in directory p, sorted, space-separated, into out. */
static const char *
names(const char *p, char *out, size_t size)
{
	struct dirent **list;
	int n, i;

	out[0] = '\0';
	n = scandir(p, &list, NULL, alphasort);
	for (i = 0; i < n; i++) {
		if (strcmp(list[i]->d_name, ".") && strcmp(list[i]->d_name, "..")) {
			if (out[0])
				strncat(out, " ", size - strlen(out) - 1);
			strncat(out, list[i]->d_name, size - strlen(out) - 1);
		}
		free(list[i]);
	}
	free(n >= 0 ? list : NULL);
	return out;
}

static const char *
file_text(const char *dirpath, const char *rel, struct cy_buf *b)
{
	char path[512];

	xsnprintf(path, sizeof(path), "%s/%s", dirpath, rel);
	cy_buf_setlen(b, 0);
	if (cy_buf_read_file(b, path, 1 << 20) < 0)
		return "(unreadable)";
	return b->buf ? b->buf : "";
}

static long
mode_of(const char *dirpath, const char *rel)
{
	char path[512];
	struct stat st;

	xsnprintf(path, sizeof(path), "%s/%s", dirpath, rel);
	return lstat(path, &st) == 0 ? (long)(st.st_mode & 07777) : -1;
}

static bool
exists(const char *dirpath, const char *rel)
{
	char path[512];
	struct stat st;

	xsnprintf(path, sizeof(path), "%s/%s", dirpath, rel);
	return lstat(path, &st) == 0;
}

/* The current generation's path (a copy), held and released at once. */
static char *
current(void)
{
	struct sb_etc_gen *g;
	char *p;
	int fd = -1;

	g = sb_etc_acquire(&fd);
	if (!g)
		return strdup("(none)");
	p = strdup(sb_etc_path(g));
	close(fd);
	sb_etc_release(g);
	return p;
}

static void
make_tree(void)
{
	char path[512];
	int fd;

	ok(mkdtemp(base) != NULL, "temp dir");
	xsnprintf(src, sizeof(src), "%s/etc", base);
	xsnprintf(state, sizeof(state), "%s/state", base);
	mkdir(src, 0755);
	put("passwd", "root:x:0:0:root:/root:/bin/sh\n", 0644);
	put("group", "root:x:0:\n", 0644);
	put("hosts", "127.0.0.1 secret-host\n", 0600); /* not world-readable */
	put("bash.bashrc", "# rc\n", 04755);           /* setuid dropped */
	put("shadow", "root:*:1::::::\n", 0644);       /* not in the list */
	link_to("/usr/share/nss.conf", "nsswitch.conf");
	xsnprintf(path, sizeof(path), "%s/profile", src);
	ok(mkfifo(path, 0644) == 0, "a fifo");
	xsnprintf(path, sizeof(path), "%s/mime.types", src);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	ok(fd >= 0 && ftruncate(fd, SB_ETC_FILE_MAX + 1) == 0, "an oversized file");
	close(fd);
	dir("ssl", 0755);
	dir("ssl/certs", 0755);
	put("ssl/certs/a.pem", "CERT A\n", 0644);
	link_to("a.pem", "ssl/certs/b.0");
	dir("ssl/private", 0700);
	put("ssl/private/key.pem", "KEY\n", 0644); /* readable, its directory is not */
	dir("ld.so.conf.d", 0711);                 /* searchable, not listable */
	put("ld.so.conf.d/x.conf", "/opt/lib\n", 0644);
	dir("alternatives", 0750); /* not world-searchable */
	put("alternatives/README", "x\n", 0644);
}

static void
test_copy(void)
{
	struct cy_error err = CY_ERROR_INIT;
	struct cy_buf b = CY_BUF_INIT;
	char list[1024], target[256], link[512], *g;
	ssize_t n;

	ok(sb_etc_start(state, src, &err) == 0, "builds: %s", err.msg);
	g = current();
	ok(strstr(g, "/state/sandbox-etc.") != NULL, "a generation under the state dir");
	is_str(names(g, list, sizeof(list)),
	    "bash.bashrc group ld.so.conf.d nsswitch.conf passwd ssl",
	    "only the listed, world-visible entries");
	is_str(file_text(g, "passwd", &b), "root:x:0:0:root:/root:/bin/sh\n", "passwd content");
	is_int(mode_of(g, "passwd"), 0644, "passwd mode");
	is_int(mode_of(g, "bash.bashrc"), 0755, "setuid bit dropped");
	is_int(mode_of(g, ""), 0755, "the generation is world-searchable");
	n = readlink(strcat(strcpy(link, g), "/nsswitch.conf"), target, sizeof(target) - 1);
	target[n > 0 ? n : 0] = '\0';
	is_str(target, "/usr/share/nss.conf", "a symlink stays a symlink");
	is_str(names(strcat(strcpy(link, g), "/ssl"), list, sizeof(list)), "certs",
	    "ssl/private is left out");
	is_str(file_text(g, "ssl/certs/b.0", &b), "CERT A\n", "a relative link inside");
	is_int(mode_of(g, "ld.so.conf.d"), 0711, "a searchable directory keeps its mode");
	is_str(file_text(g, "ld.so.conf.d/x.conf", &b), "/opt/lib\n", "and its files");
	ok(!exists(g, "hosts") && !exists(g, "profile") && !exists(g, "mime.types") &&
		!exists(g, "alternatives") && !exists(g, "shadow"),
	    "no unreadable file, fifo, oversized file, private directory or unlisted entry");
	n = readlink(strcat(strcpy(link, state), "/sandbox-etc"), target, sizeof(target) - 1);
	target[n > 0 ? n : 0] = '\0';
	is_str(target, strrchr(g, '/') + 1, "state/sandbox-etc names it");
	ok(sb_etc_refresh(&err) == 0, "unchanged sources: no rebuild");
	free(g);
	cy_buf_release(&b);
}

static void
test_refresh(void)
{
	struct cy_error err = CY_ERROR_INIT;
	struct cy_buf b = CY_BUF_INIT;
	struct sb_etc_gen *held;
	char *g1, *g2, list[1024];
	int fd = -1;

	held = sb_etc_acquire(&fd);
	ok(held && fd >= 0, "a job holds the generation");
	g1 = strdup(held ? sb_etc_path(held) : "");
	put("passwd", "root:x:0:0:root:/root:/bin/sh\nbob:x:1000:1000::/home/bob:/bin/sh\n", 0644);
	ok(sb_etc_refresh(&err) == 1, "a changed file: rebuilt");
	g2 = current();
	ok(strcmp(g1, g2) != 0, "a new generation");
	ok(strstr(file_text(g2, "passwd", &b), "bob:") != NULL, "new jobs see the change");
	ok(strstr(file_text(g1, "passwd", &b), "bob:") == NULL, "the running job keeps its copy");
	close(fd);
	sb_etc_release(held);
	ok(!exists(g1, ""), "the old generation goes with its last job");
	free(g1);
	free(g2);

	put("ssl/certs/c.pem", "CERT C\n", 0644);
	ok(sb_etc_refresh(&err) == 1, "an added file in a subdirectory: rebuilt");
	g1 = current();
	is_str(file_text(g1, "ssl/certs/c.pem", &b), "CERT C\n", "it is there");
	free(g1);

	put("hosts", "127.0.0.1 localhost\n", 0644);
	ok(sb_etc_refresh(&err) == 1, "a file made world-readable: rebuilt");
	g1 = current();
	is_str(file_text(g1, "hosts", &b), "127.0.0.1 localhost\n", "it is there");
	free(g1);

	link_to("c.pem", "ssl/certs/b.0");
	ok(sb_etc_refresh(&err) == 1, "a re-pointed symlink: rebuilt");
	g1 = current();
	is_str(file_text(g1, "ssl/certs/b.0", &b), "CERT C\n", "it points to the new target");
	free(g1);

	put("hosts", "127.0.0.1 localhost\n", 0640);
	ok(sb_etc_refresh(&err) == 1, "a file made private: rebuilt");
	g1 = current();
	ok(!exists(g1, "hosts"), "it is gone");
	ok(strcmp(names(g1, list, sizeof(list)), "") != 0, "the rest is there");
	free(g1);
	cy_buf_release(&b);
}

static void
test_limits(void)
{
	struct cy_error err = CY_ERROR_INIT;
	char *before, *after;

	before = current();
	sb_etc_set_limits(SB_ETC_FILE_MAX, 64);
	put("group", "root:x:0:\nusers:x:100:\n", 0644);
	ok(sb_etc_refresh(&err) == -1, "over the total limit: refused");
	ok(strstr(err.msg, "more than 64 bytes") != NULL, "with a reason: %s", err.msg);
	after = current();
	is_str(after, before, "the previous generation stays");
	free(after);
	cy_error_clear(&err);
	ok(sb_etc_refresh(&err) == 0, "not retried until the sources change");
	sb_etc_set_limits(SB_ETC_FILE_MAX, SB_ETC_TOTAL_MAX);
	put("group", "root:x:0:\nusers:x:100:\nstaff:x:50:\n", 0644);
	ok(sb_etc_refresh(&err) == 1, "within the limit again: rebuilt");
	after = current();
	ok(strcmp(after, before) != 0, "a new generation");
	free(after);
	free(before);
}

static void
test_reuse_and_sweep(void)
{
	struct cy_error err = CY_ERROR_INIT;
	char *g1, *g2, stale[512], tmp[512], locked[512];
	int lfd;

	g1 = current();
	sb_etc_stop();
	ok(exists(g1, "passwd"), "a stopped node leaves its generation");
	xsnprintf(stale, sizeof(stale), "%s/sandbox-etc.0123456789abcdef", state);
	xsnprintf(tmp, sizeof(tmp), "%s/sandbox-etc.tmp.999999999.1", state);
	xsnprintf(locked, sizeof(locked), "%s/sandbox-etc.fedcba9876543210", state);
	mkdir(stale, 0755);
	mkdir(tmp, 0700);
	mkdir(locked, 0755);
	lfd = open(locked, O_RDONLY | O_DIRECTORY);
	ok(lfd >= 0 && flock(lfd, LOCK_SH) == 0, "another process holds a generation");
	ok(sb_etc_start(state, src, &err) == 0, "the next start: %s", err.msg);
	g2 = current();
	is_str(g2, g1, "takes the same generation without building");
	free(g2);
	put("passwd", "root:x:0:0:root:/root:/bin/bash\n", 0644);
	ok(sb_etc_refresh(&err) == 1, "rebuilt");
	ok(!exists(g1, "") && !exists(stale, "") && !exists(tmp, ""),
	    "unused generations and a dead process's temp dir are swept");
	ok(exists(locked, ""), "a generation another process holds stays");
	close(lfd);
	free(g1);

	sb_etc_stop();
	xsnprintf(tmp, sizeof(tmp), "%s/missing", base);
	ok(sb_etc_start(state, tmp, &err) == -1, "a missing source root fails");
	ok(strstr(err.msg, "missing") != NULL, "with a reason: %s", err.msg);
	g1 = current();
	is_str(g1, "(none)", "no generation then: jobs bind the entries one by one");
	free(g1);
	sb_etc_stop();
}

int
main(void)
{
	make_tree();
	RUN_TEST(test_copy);
	RUN_TEST(test_refresh);
	RUN_TEST(test_limits);
	RUN_TEST(test_reuse_and_sweep);
	cy_rm_rf(base);
	ok(access(base, F_OK) < 0, "cleanup");
	return tap_done();
}
