/*
 * The result spool (result-spool.h): an append-only journal of JSON lines,
 * indexed in memory by a tsearch(3) tree (lookups) and a list in the order
 * of the lines (listing, compaction).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "fsutil.h"
#include "job.h"
#include "json.h"
#include "log.h"
#include "result-spool.h"

#include "banned.h"

#define JOURNAL "journal"
#define JOURNAL_TMP "journal.tmp"
#define LOCK "lock"
#define COMPACT_MIN ((off_t)1 << 20)
#define COMPACT_RATIO 4
#define COPY_CHUNK (64 * 1024)
#define LEGACY_MAX (64 * 1024 * 1024) /* what the old redelivery read of a file */
#define LINE_HEAD_MAX 200             /* {"put":"<128-byte id>","at":<20 digits>,"result": */
#define DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER)

struct spool_entry {
	struct spool_entry *prev, *next;
	char *id;       /* stored after the struct */
	off_t off;      /* its line in the journal */
	size_t len;     /* the line's length, with its newline */
	size_t res_off; /* where the result's text starts in the line; 0: parse the line */
	time_t at;
};

static int
entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct spool_entry *)a)->id, ((const struct spool_entry *)b)->id);
}

static struct spool_entry *
find(struct result_spool *s, const char *id)
{
	struct spool_entry key = { .id = (char *)id };
	void *p = tfind(&key, &s->tree, entry_cmp);

	return p ? *(struct spool_entry **)p : NULL;
}

static void
forget(struct result_spool *s, struct spool_entry *e)
{
	tdelete(e, &s->tree, entry_cmp);
	if (e->prev)
		e->prev->next = e->next;
	else
		s->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		s->tail = e->prev;
	s->live -= (off_t)e->len;
	s->count--;
	free(e);
}

/* Indexes id's line (replacing an older one). */
static void
remember(struct result_spool *s, const char *id, off_t off, size_t len, size_t res_off, time_t at)
{
	struct spool_entry *e = find(s, id);
	size_t n = strlen(id);

	if (e)
		forget(s, e);
	e = xcalloc(1, sizeof(*e) + n + 1);
	e->id = (char *)(e + 1);
	memcpy(e->id, id, n + 1);
	e->off = off;
	e->len = len;
	e->res_off = res_off;
	e->at = at;
	if (!tsearch(e, &s->tree, entry_cmp)) {
		cy_log_error("out_of_memory", "where", "result spool index", NULL);
		abort();
	}
	e->prev = s->tail;
	if (s->tail)
		s->tail->next = e;
	else
		s->head = e;
	s->tail = e;
	s->live += (off_t)len;
	s->count++;
}

static int
buf_sink(const char *data, size_t len, void *arg)
{
	cy_buf_add(arg, data, len);
	return 0;
}

/*
 * The head of a put line, up to where the result's text starts; its
 * length.  id is a valid job id: nothing in it needs escaping.
 */
static size_t
put_head(char head[LINE_HEAD_MAX], const char *id, time_t at)
{
	xsnprintf(head, LINE_HEAD_MAX, "{\"put\":\"%s\",\"at\":%lld,\"result\":", id,
	    (long long)at);
	return strlen(head);
}

/*
 * A put line into line: its head, the result as compact JSON, "}\n".
 * Returns the head's length (where the result starts), or 0 when the
 * result cannot be serialised.
 */
static size_t
put_line(struct cy_buf *line, const char *id, time_t at, const json_t *result)
{
	char head[LINE_HEAD_MAX];
	size_t hl = put_head(head, id, at);

	cy_buf_reset(line);
	cy_buf_add(line, head, hl);
	if (json_dump_callback(result, buf_sink, line, DUMP_FLAGS) < 0)
		return 0;
	cy_buf_add(line, "}\n", 2);
	return hl;
}

/* Appends one line.  On a failed or short write the file is cut back (or the cut line ended). */
static int
append(struct result_spool *s, const void *data, size_t len)
{
	struct stat st;
	int e;

	if (cy_write_all(s->fd, data, len) == 0) {
		s->size += (off_t)len;
		return 0;
	}
	e = errno;
	if (ftruncate(s->fd, s->size) < 0) {
		cy_log_error("result_spool_cut_back_failed", "path", s->path, "error",
		    strerror(errno), NULL);
		/* The partial line stays: end it, so the next line is whole. */
		if (fstat(s->fd, &st) == 0 && cy_write_all(s->fd, "\n", 1) == 0) {
			s->size = st.st_size + 1;
		} else {
			close(s->fd); /* where lines go is unknown: refuse puts from now on */
			s->fd = -1;
		}
	}
	errno = e;
	return -1;
}

static int
pread_all(int fd, char *buf, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t r = pread(fd, buf, len, off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;
			return -1;
		}
		buf += r;
		off += r;
		len -= (size_t)r;
	}
	return 0;
}

static int
pwrite_all(int fd, const char *buf, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t w = pwrite(fd, buf, len, off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		buf += w;
		off += w;
		len -= (size_t)w;
	}
	return 0;
}

/* len bytes at off of the journal into out; `tail` must follow them there. */
static int
read_checked(struct result_spool *s, off_t off, size_t len, const char *tail, struct cy_buf *out)
{
	size_t tl = strlen(tail);

	cy_buf_reset(out);
	cy_buf_grow(out, len + tl);
	if (pread_all(s->fd, out->buf, len + tl, off) < 0)
		return -1;
	if (memcmp(out->buf + len, tail, tl)) {
		errno = EBADMSG;
		return -1;
	}
	cy_buf_setlen(out, len);
	return 0;
}

/* The result of a put line not in the form put_line writes: the line parsed. */
static int
read_parsed(struct result_spool *s, const struct spool_entry *e, struct cy_buf *out)
{
	struct cy_error err = CY_ERROR_INIT;
	struct cy_buf line = CY_BUF_INIT;
	json_t *rec = NULL;
	int rc = -1;

	if (read_checked(s, e->off, e->len - 1, "\n", &line) < 0)
		goto out;
	rec = cy_json_parse(line.buf, line.len, true, &err);
	cy_buf_reset(out);
	if (rec &&
	    json_dump_callback(json_object_get(rec, "result"), buf_sink, out, DUMP_FLAGS) == 0)
		rc = 0;
	else
		errno = EBADMSG;
out:
	json_decref(rec);
	cy_buf_release(&line);
	return rc;
}

/* Copies len bytes at off of `from` to `at` of `to`, a chunk at a time. */
static int
copy_range(int from, off_t off, int to, off_t at, size_t len, char *chunk)
{
	while (len > 0) {
		size_t n = len < COPY_CHUNK ? len : COPY_CHUNK;

		if (pread_all(from, chunk, n, off) < 0 || pwrite_all(to, chunk, n, at) < 0)
			return -1;
		off += (off_t)n;
		at += (off_t)n;
		len -= n;
	}
	return 0;
}

/* Rewrites the journal with only the held lines: journal.tmp, renamed over it. */
static void
compact(struct result_spool *s)
{
	char *chunk = xmalloc(COPY_CHUNK);
	struct spool_entry *e;
	off_t size = 0;
	int fd = openat(s->dir_fd, JOURNAL_TMP, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0600);

	if (fd < 0)
		goto fail;
	for (e = s->head; e; e = e->next) {
		if (copy_range(s->fd, e->off, fd, size, e->len, chunk) < 0)
			goto fail;
		size += (off_t)e->len;
	}
	/* The data before the name: a power loss must not leave an empty journal behind. */
	if (fdatasync(fd) < 0 || fcntl(fd, F_SETFL, O_APPEND) < 0 ||
	    renameat(s->dir_fd, JOURNAL_TMP, s->dir_fd, JOURNAL) < 0)
		goto fail;
	size = 0;
	for (e = s->head; e; e = e->next) {
		e->off = size;
		size += (off_t)e->len;
	}
	close(s->fd);
	s->fd = fd;
	s->size = size;
	free(chunk);
	return;
fail:
	cy_log_warn("result_spool_compact_failed", "path", s->path, "error", strerror(errno), NULL);
	if (fd >= 0) {
		close(fd);
		unlinkat(s->dir_fd, JOURNAL_TMP, 0);
	}
	free(chunk);
}

/*
 * Empties the journal when nothing is held; compacts it once it is
 * COMPACT_RATIO times the held lines.  A failure leaves it as it was (it
 * only stays larger).
 */
static void
maybe_compact(struct result_spool *s)
{
	if (s->count == 0) {
		if (s->size == 0)
			return;
		if (ftruncate(s->fd, 0) == 0)
			s->size = 0;
		else
			cy_log_warn("result_spool_truncate_failed", "path", s->path, "error",
			    strerror(errno), NULL);
		return;
	}
	if (s->size >= COMPACT_MIN && s->size >= COMPACT_RATIO * s->live)
		compact(s);
}

/* Where the result's text starts in a put line, when the line is as put_line writes it. */
static size_t
result_offset(const char *line, size_t len, const char *id, time_t at)
{
	char head[LINE_HEAD_MAX];
	size_t hl = put_head(head, id, at);

	if (len < hl + 3 || memcmp(line, head, hl) || memcmp(line + len - 2, "}\n", 2))
		return 0;
	return hl;
}

/* One whole line of the journal, at off, into the index. */
static void
replay_line(struct result_spool *s, const char *line, size_t len, off_t off)
{
	struct cy_error err = CY_ERROR_INIT;
	json_t *rec = cy_json_parse(line, len - 1, true, &err), *at_v;
	const char *id;
	struct spool_entry *e;
	time_t at;

	if (rec && (id = json_string_value(json_object_get(rec, "put"))) && job_id_valid(id) &&
	    json_is_object(json_object_get(rec, "result"))) {
		at_v = json_object_get(rec, "at");
		at = json_is_integer(at_v) ? (time_t)json_integer_value(at_v) : 0;
		/* Anything beyond put, at, result: the text is not ours, parse it when read. */
		remember(s, id, off, len,
		    json_object_size(rec) == 3 ? result_offset(line, len, id, at) : 0, at);
	} else if (rec && (id = json_string_value(json_object_get(rec, "drop")))) {
		if ((e = find(s, id)))
			forget(s, e);
	} else {
		char where[24];

		xsnprintf(where, sizeof(where), "%lld", (long long)off);
		cy_log_warn("result_spool_line_skipped", "path", s->path, "offset", where, "error",
		    rec ? "not a record" : err.msg, NULL);
	}
	json_decref(rec);
}

/* Reads the journal from its start into the index; a last line without its newline is cut off. */
static int
replay(struct result_spool *s, struct cy_error *err)
{
	char *line = NULL, cut[24];
	size_t cap = 0;
	ssize_t n = 0;
	off_t off = 0;
	int fd = fcntl(s->fd, F_DUPFD_CLOEXEC, 0), e;
	FILE *f = fd >= 0 ? fdopen(fd, "re") : NULL;

	if (!f) {
		e = errno;
		if (fd >= 0)
			close(fd);
		errno = e;
		return cy_error_errno(err, "cannot read the result spool '%s'", s->path);
	}
	errno = 0;
	while ((n = getline(&line, &cap, f)) > 0 && line[n - 1] == '\n') {
		replay_line(s, line, (size_t)n, off);
		off += n;
	}
	e = errno;
	/* A read error, even after part of a line, is not a torn line: nothing is cut. */
	if (ferror(f) || (n < 0 && !feof(f))) {
		free(line);
		fclose(f);
		errno = e ? e : EIO;
		return cy_error_errno(err, "cannot read the result spool '%s'", s->path);
	}
	if (n > 0) {
		/* Cut short by a crash: that result's jobs:run was never answered. */
		xsnprintf(cut, sizeof(cut), "%zd", n);
		cy_log_warn("result_spool_cut", "path", s->path, "bytes", cut, NULL);
	}
	free(line);
	fclose(f);
	s->size = off;
	if (n > 0 && ftruncate(s->fd, off) < 0)
		return cy_error_errno(err, "cannot cut the result spool '%s'", s->path);
	return 0;
}

/* One <id>.json of the one-file-per-result spool: appended as a put, then removed. */
static void
take_legacy_file(struct result_spool *s, const char *name, size_t nlen)
{
	struct cy_error err = CY_ERROR_INIT;
	struct cy_buf b = CY_BUF_INIT;
	char *id = xstrndup(name, nlen - 5);
	json_t *res = NULL;
	struct stat st;
	size_t head;
	off_t off;
	int fd = -1;

	if (!job_id_valid(id)) {
		cy_log_warn("result_spool_legacy_skipped", "file", name, "error", "not a job id",
		    NULL);
		goto out;
	}
	/* Non-blocking and not followed: a FIFO or a link planted here must not hang or lead out.
	 */
	fd = openat(s->dir_fd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 && fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
		cy_log_warn("result_spool_legacy_skipped", "file", name, "error",
		    "not a regular file", NULL);
		goto out;
	}
	if (fd < 0 || fstat(fd, &st) < 0 || cy_buf_read_fd(&b, fd, LEGACY_MAX) < 0) {
		cy_log_warn("result_spool_legacy_skipped", "file", name, "error", strerror(errno),
		    NULL);
		goto out;
	}
	if (!(res = cy_json_parse(b.buf, b.len, true, &err))) {
		cy_log_warn("result_spool_legacy_skipped", "file", name, "error", err.msg, NULL);
		goto out;
	}
	if ((head = put_line(&b, id, st.st_mtime, res)) == 0)
		goto out;
	off = s->size;
	if (append(s, b.buf, b.len) == 0) {
		remember(s, id, off, b.len, head, st.st_mtime);
		unlinkat(s->dir_fd, name, 0);
		cy_log_info("result_spool_taken_in", "job_id", id, NULL);
	}
out:
	if (fd >= 0)
		close(fd);
	json_decref(res);
	cy_buf_release(&b);
	free(id);
}

/* Takes in the <id>.json files of the one-file-per-result spool; drops its temporaries. */
static void
take_legacy(struct result_spool *s)
{
	int fd = openat(s->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while (s->fd >= 0 && (de = readdir(d))) {
		size_t l = strlen(de->d_name);

		if (de->d_name[0] == '.' && l > 4 && !strcmp(de->d_name + l - 4, ".tmp"))
			unlinkat(s->dir_fd, de->d_name, 0);
		else if (de->d_name[0] != '.' && l > 5 && !strcmp(de->d_name + l - 5, ".json"))
			take_legacy_file(s, de->d_name, l);
	}
	closedir(d);
}

static void
reset(struct result_spool *s)
{
	while (s->head)
		forget(s, s->head);
	if (s->fd >= 0)
		close(s->fd);
	if (s->dir_fd >= 0)
		close(s->dir_fd);
	if (s->lock_fd >= 0)
		close(s->lock_fd); /* and the lock with it */
	s->fd = s->dir_fd = s->lock_fd = -1;
	s->size = 0;
	FREE_AND_NULL(s->path);
}

int
result_spool_open(struct result_spool *s, const char *dir, struct cy_error *err)
{
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	if (s->fd >= 0)
		goto out;
	s->path = xasprintf("%s/%s", dir, JOURNAL);
	if (cy_mkdir_p(dir, 0700, 0700) < 0 ||
	    (s->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		rc = cy_error_errno(err, "cannot create the result spool directory '%s'", dir);
		goto fail;
	}
	/* A regular file opened for writing: flock on NFS is a POSIX lock, which needs one. */
	s->lock_fd = openat(s->dir_fd, LOCK, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->lock_fd < 0 || flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		rc = errno == EWOULDBLOCK ?
			 cy_error_set(err, EBUSY,
			     "the result spool '%s' is in use by another cynode-node (two nodes "
			     "with one storage.state_dir?)",
			     s->path) :
			 cy_error_errno(err, "cannot lock the result spool '%s'", s->path);
		goto fail;
	}
	s->fd =
	    openat(s->dir_fd, JOURNAL, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->fd < 0) {
		rc = cy_error_errno(err, "cannot open the result spool '%s'", s->path);
		goto fail;
	}
	if ((rc = replay(s, err)) < 0)
		goto fail;
	take_legacy(s);
	if (s->fd < 0) {
		rc = cy_error_set(err, EIO, "cannot write the result spool '%s'", s->path);
		goto fail;
	}
	unlinkat(s->dir_fd, JOURNAL_TMP, 0); /* a compaction cut short */
	maybe_compact(s);
	goto out;
fail:
	reset(s);
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void
result_spool_close(struct result_spool *s)
{
	pthread_mutex_lock(&s->lock);
	reset(s);
	pthread_mutex_unlock(&s->lock);
}

int
result_spool_put(struct result_spool *s, const char *id, const json_t *result)
{
	struct cy_buf line = CY_BUF_INIT;
	time_t now = time(NULL);
	size_t head;
	int rc = -1;
	off_t off;

	if (!job_id_valid(id) || !json_is_object(result)) {
		errno = EINVAL;
		return -1;
	}
	if ((head = put_line(&line, id, now, result)) == 0) {
		cy_buf_release(&line);
		errno = ENOMEM;
		return -1;
	}
	pthread_mutex_lock(&s->lock);
	if (s->fd < 0) {
		errno = EBADF;
	} else {
		off = s->size;
		if (append(s, line.buf, line.len) == 0) {
			remember(s, id, off, line.len, head, now);
			rc = 0;
		}
	}
	pthread_mutex_unlock(&s->lock);
	cy_buf_release(&line);
	return rc;
}

int
result_spool_get(struct result_spool *s, const char *id, struct cy_buf *out)
{
	struct spool_entry *e;
	int rc = -1, saved;

	pthread_mutex_lock(&s->lock);
	e = s->fd >= 0 ? find(s, id) : NULL;
	if (s->fd < 0)
		errno = EBADF;
	else if (!e)
		errno = ENOENT;
	else if (e->res_off)
		rc = read_checked(s, e->off + (off_t)e->res_off, e->len - e->res_off - 2, "}\n",
		    out);
	else
		rc = read_parsed(s, e, out);
	saved = errno;
	pthread_mutex_unlock(&s->lock);
	errno = saved;
	return rc;
}

void
result_spool_drop(struct result_spool *s, const char *id, time_t put_by)
{
	char line[LINE_HEAD_MAX];
	struct spool_entry *e;

	pthread_mutex_lock(&s->lock);
	if (s->fd >= 0 && (e = find(s, id)) && e->at <= put_by) {
		forget(s, e);
		/* Emptied: cut to nothing below, no drop line needed. */
		if (s->count > 0) {
			xsnprintf(line, sizeof(line), "{\"drop\":\"%s\"}\n", id);
			if (append(s, line, strlen(line)) < 0)
				cy_log_warn("result_spool_drop_failed", "job_id", id, "error",
				    strerror(errno), NULL);
		}
		if (s->fd >= 0)
			maybe_compact(s);
	}
	pthread_mutex_unlock(&s->lock);
}

json_t *
result_spool_ids(struct result_spool *s, time_t cutoff, json_t *old)
{
	json_t *a = json_array();
	struct spool_entry *e;

	pthread_mutex_lock(&s->lock);
	for (e = s->head; e; e = e->next) {
		json_array_append_new(a, json_string(e->id));
		if (old && e->at <= cutoff)
			json_array_append_new(old, json_string(e->id));
	}
	pthread_mutex_unlock(&s->lock);
	return a;
}
