/*
 * The result spool (result-spool.h): an append-only journal of JSON lines
 * with an index in memory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "fsutil.h"
#include "json.h"
#include "log.h"
#include "result-spool.h"

#include "banned.h"

#define COMPACT_MIN ((off_t)1 << 20)
#define COMPACT_RATIO 4
#define LEGACY_MAX (64 * 1024 * 1024) /* what the old redelivery read of a file */

struct spool_entry {
	struct spool_entry *next;
	off_t off;  /* its line in the journal */
	size_t len; /* with the newline */
	time_t at;
	char id[];
};

static struct spool_entry **
find(struct result_spool *s, const char *id)
{
	struct spool_entry **pp;

	for (pp = &s->head; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->id, id))
			return pp;
	return NULL;
}

static void
forget(struct result_spool *s, struct spool_entry **pp)
{
	struct spool_entry *e = *pp;

	*pp = e->next;
	s->live -= (off_t)e->len;
	s->count--;
	free(e);
}

/* Indexes id's line at off (replacing an older one). */
static void
remember(struct result_spool *s, const char *id, off_t off, size_t len, time_t at)
{
	struct spool_entry **pp = find(s, id), *e;
	size_t n = strlen(id);

	if (pp)
		forget(s, pp);
	e = xmalloc(sizeof(*e) + n + 1);
	memcpy(e->id, id, n + 1);
	e->off = off;
	e->len = len;
	e->at = at;
	e->next = s->head;
	s->head = e;
	s->live += (off_t)len;
	s->count++;
}

/* Appends one line; on a failed or short write the file is cut back. */
static int
append(struct result_spool *s, const char *line, size_t len)
{
	int e;

	if (cy_write_all(s->fd, line, len) == 0) {
		s->size += (off_t)len;
		return 0;
	}
	e = errno;
	if (ftruncate(s->fd, s->size) < 0)
		cy_log_error("result_spool_truncate_failed", "path", s->path, "error",
		    strerror(errno), NULL);
	errno = e;
	return -1;
}

/* Reads the line of e into b (without its newline). */
static int
read_line(struct result_spool *s, const struct spool_entry *e, struct cy_buf *b)
{
	ssize_t r;

	cy_buf_reset(b);
	cy_buf_grow(b, e->len);
	r = pread(s->fd, b->buf, e->len, e->off);
	if (r != (ssize_t)e->len || b->buf[e->len - 1] != '\n') {
		if (r >= 0)
			errno = EIO;
		return -1;
	}
	cy_buf_setlen(b, e->len - 1);
	return 0;
}

/*
 * Empties the journal when nothing is held; rewrites it with only the held
 * lines once it is COMPACT_RATIO times their size.  A failure leaves it as
 * it was (it only stays larger).
 */
static void
maybe_compact(struct result_spool *s)
{
	struct cy_buf line = CY_BUF_INIT;
	struct spool_entry *e;
	char *tmp;
	off_t size = 0;
	int fd;

	if (s->count == 0) {
		if (s->size > 0 && ftruncate(s->fd, 0) == 0)
			s->size = 0;
		return;
	}
	if (s->size < COMPACT_MIN || s->size < COMPACT_RATIO * s->live)
		return;
	tmp = xasprintf("%s.tmp", s->path);
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		goto fail;
	for (e = s->head; e; e = e->next) {
		if (read_line(s, e, &line) < 0)
			goto fail;
		cy_buf_addch(&line, '\n');
		if (cy_write_all(fd, line.buf, line.len) < 0)
			goto fail;
		size += (off_t)line.len;
	}
	if (rename(tmp, s->path) < 0)
		goto fail;
	/* The same order as written: the new offsets follow the list. */
	size = 0;
	for (e = s->head; e; e = e->next) {
		e->off = size;
		size += (off_t)e->len;
	}
	close(s->fd);
	s->fd = fd;
	s->size = size;
	cy_buf_release(&line);
	free(tmp);
	return;
fail:
	cy_log_warn("result_spool_compact_failed", "path", s->path, "error", strerror(errno), NULL);
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	cy_buf_release(&line);
	free(tmp);
}

/* A put line: the record as compact JSON and a newline. */
static char *
put_line(const char *id, time_t at, const json_t *result, size_t *len)
{
	json_t *rec =
	    json_pack("{s:s, s:I, s:O}", "put", id, "at", (json_int_t)at, "result", result);
	char *text, *line;

	if (!rec)
		return NULL;
	text = cy_json_dump(rec);
	json_decref(rec);
	line = xasprintf("%s\n", text);
	free(text);
	*len = strlen(line);
	return line;
}

/* One line of the journal at off, during the replay. */
static void
replay_line(struct result_spool *s, const char *line, size_t len, off_t off)
{
	struct cy_error err = CY_ERROR_INIT;
	json_t *rec = cy_json_parse(line, len - 1, true, &err), *v;
	const char *id;

	if (rec && (id = json_string_value(json_object_get(rec, "put"))) &&
	    json_is_object(json_object_get(rec, "result")) && *id) {
		v = json_object_get(rec, "at");
		remember(s, id, off, len, json_is_integer(v) ? (time_t)json_integer_value(v) : 0);
	} else if (rec && (id = json_string_value(json_object_get(rec, "drop")))) {
		struct spool_entry **pp = find(s, id);

		if (pp)
			forget(s, pp);
	} else {
		char at[24];

		xsnprintf(at, sizeof(at), "%lld", (long long)off);
		cy_log_warn("result_spool_line_skipped", "path", s->path, "offset", at, "error",
		    rec ? "not a record" : err.msg, NULL);
	}
	json_decref(rec);
}

static int
replay(struct result_spool *s, struct cy_error *err)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	off_t off = 0;
	int fd = dup(s->fd);
	FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;

	if (!f) {
		if (fd >= 0)
			close(fd);
		return cy_error_errno(err, "cannot read the result spool '%s'", s->path);
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] != '\n') {
			char cut[24];

			/* Cut short by a crash: that result was never answered. */
			xsnprintf(cut, sizeof(cut), "%zd", n);
			cy_log_warn("result_spool_cut", "path", s->path, "bytes", cut, NULL);
			break;
		}
		replay_line(s, line, (size_t)n, off);
		off += n;
	}
	free(line);
	fclose(f);
	s->size = off;
	if (ftruncate(s->fd, off) < 0)
		return cy_error_errno(err, "cannot cut the result spool '%s'", s->path);
	return 0;
}

/* Takes in the <id>.json files of the one-file-per-result spool and drops its temporaries. */
static void
take_legacy(struct result_spool *s, const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		struct cy_buf b = CY_BUF_INIT;
		struct cy_error err = CY_ERROR_INIT;
		size_t l = strlen(de->d_name), len;
		char *p, *id, *line;
		struct stat st;
		json_t *res;
		int fd;

		if (de->d_name[0] == '.' && l > 4 && !strcmp(de->d_name + l - 4, ".tmp")) {
			if (unlinkat(dirfd(d), de->d_name, 0) == 0)
				continue;
		}
		if (de->d_name[0] == '.' || l < 6 || strcmp(de->d_name + l - 5, ".json"))
			continue;
		p = xasprintf("%s/%s", dir, de->d_name);
		id = xstrndup(de->d_name, l - 5);
		fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		res = NULL;
		if (fd >= 0 && fstat(fd, &st) == 0 && cy_buf_read_fd(&b, fd, LEGACY_MAX) == 0)
			res = cy_json_parse(b.buf, b.len, true, &err);
		if (res && (line = put_line(id, st.st_mtime, res, &len))) {
			off_t off = s->size;

			if (append(s, line, len) == 0) {
				remember(s, id, off, len, st.st_mtime);
				unlink(p);
				cy_log_info("result_spool_taken_in", "job_id", id, NULL);
			}
			free(line);
		} else if (fd >= 0) {
			cy_log_warn("result_spool_legacy_unreadable", "path", p, "error",
			    err.msg[0] ? err.msg : strerror(errno), NULL);
		}
		if (fd >= 0)
			close(fd);
		json_decref(res);
		cy_buf_release(&b);
		free(id);
		free(p);
	}
	closedir(d);
}

int
result_spool_open(struct result_spool *s, const char *dir, struct cy_error *err)
{
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	if (s->fd >= 0)
		goto out;
	if (cy_mkdir_p(dir, 0700, 0700) < 0) {
		rc = cy_error_errno(err, "cannot create the result spool directory '%s'", dir);
		goto out;
	}
	free(s->path);
	s->path = xasprintf("%s/journal", dir);
	s->fd = open(s->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->fd < 0) {
		rc = cy_error_errno(err, "cannot open the result spool '%s'", s->path);
		goto out;
	}
	if ((rc = replay(s, err)) < 0) {
		close(s->fd);
		s->fd = -1;
		goto out;
	}
	take_legacy(s, dir);
	maybe_compact(s);
	{
		char *tmp = xasprintf("%s.tmp", s->path); /* a compaction cut short */

		unlink(tmp);
		free(tmp);
	}
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void
result_spool_close(struct result_spool *s)
{
	pthread_mutex_lock(&s->lock);
	while (s->head)
		forget(s, &s->head);
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->size = 0;
	free(s->path);
	s->path = NULL;
	pthread_mutex_unlock(&s->lock);
}

int
result_spool_put(struct result_spool *s, const char *id, const json_t *result)
{
	time_t now = time(NULL);
	size_t len = 0;
	char *line = put_line(id, now, result, &len);
	int rc = -1;
	off_t off;

	if (!line) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&s->lock);
	if (s->fd < 0) {
		errno = EBADF;
		goto out;
	}
	off = s->size;
	if (append(s, line, len) == 0) {
		remember(s, id, off, len, now);
		maybe_compact(s);
		rc = 0;
	}
out:
	pthread_mutex_unlock(&s->lock);
	free(line);
	return rc;
}

int
result_spool_get(struct result_spool *s, const char *id, struct cy_buf *out)
{
	struct cy_buf line = CY_BUF_INIT;
	struct cy_error err = CY_ERROR_INIT;
	struct spool_entry **pp;
	json_t *rec = NULL;
	char *text;
	int rc = -1;

	pthread_mutex_lock(&s->lock);
	pp = s->fd >= 0 ? find(s, id) : NULL;
	rc = pp ? read_line(s, *pp, &line) : -1;
	pthread_mutex_unlock(&s->lock);
	if (rc == 0 && (rec = cy_json_parse(line.buf, line.len, true, &err)) &&
	    json_is_object(json_object_get(rec, "result"))) {
		text = cy_json_dump(json_object_get(rec, "result"));
		cy_buf_reset(out);
		cy_buf_addstr(out, text);
		free(text);
	} else {
		rc = -1;
	}
	json_decref(rec);
	cy_buf_release(&line);
	return rc;
}

void
result_spool_drop(struct result_spool *s, const char *id)
{
	struct spool_entry **pp;
	json_t *rec;
	char *text, *line;

	pthread_mutex_lock(&s->lock);
	if (s->fd < 0 || !(pp = find(s, id)))
		goto out;
	forget(s, pp);
	/* Emptied: cut to nothing, no drop line needed. */
	if (s->count > 0) {
		rec = json_pack("{s:s}", "drop", id);
		text = cy_json_dump(rec);
		line = xasprintf("%s\n", text);
		if (append(s, line, strlen(line)) < 0)
			cy_log_warn("result_spool_drop_failed", "job_id", id, "error",
			    strerror(errno), NULL);
		json_decref(rec);
		free(text);
		free(line);
	}
	maybe_compact(s);
out:
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
