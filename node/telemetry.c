/*
 * The node's telemetry store (contract 2.3 /v1/worker/telemetry/...): its
 * own directory <state_dir>/telemetry/, apart from the credentials.  Two
 * append-only JSON-lines files: events.jsonl (the node manager's lifecycle
 * and each job's start and finish: ts, source node|job, level, kind,
 * message, task_id, job_id) and jobs.jsonl (a job's record, appended at its
 * start and again at its end; the last line of a job wins).  A file that
 * would pass a quarter of telemetry.max_bytes is renamed to <name>.1 (the
 * older .1 goes), so the store stays under max_bytes.  Lines older than
 * telemetry.retention are skipped when read, and pruned from the files at
 * start, at a write and at each heartbeat (node_telemetry_prune): a quiet
 * node keeps no expired line for long.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "fsutil.h"
#include "log.h"
#include "node.h"
#include "telemetry.h"
#include "timeutil.h"
#include "banned.h"

static pthread_mutex_t tel_lock = PTHREAD_MUTEX_INITIALIZER;
static char *tel_dir;
static long long tel_max_bytes;
static long long tel_retention_s;
static int64_t tel_pruned_ms; /* monotonic time of the last prune check, 0: never */

static void tel_prune_locked(void);

int
node_telemetry_open(const struct node_config *c, struct cy_error *err)
{
	char *dir = xasprintf("%s/telemetry", c->state_dir);

	if (cy_mkdir_p(dir, 0755, 0700) < 0) {
		cy_error_set(err, errno, "telemetry store '%s': %s", dir, strerror(errno));
		free(dir);
		return -1;
	}
	pthread_mutex_lock(&tel_lock);
	free(tel_dir);
	tel_dir = dir;
	tel_max_bytes = c->tel_max_bytes;
	tel_retention_s = c->tel_retention_s;
	tel_prune_locked();
	pthread_mutex_unlock(&tel_lock);
	return 0;
}

void
node_telemetry_close(void)
{
	pthread_mutex_lock(&tel_lock);
	free(tel_dir);
	tel_dir = NULL;
	pthread_mutex_unlock(&tel_lock);
}

/* Appends one line to <dir>/<name>, rotating first when it would pass its share. */
static void
tel_append(const char *name, json_t *rec)
{
	char *line, *path, *old;
	struct stat st;
	size_t len;
	int fd;

	line = json_dumps(rec, JSON_COMPACT);
	json_decref(rec);
	if (!line)
		return;
	len = strlen(line);
	line[len] = '\n'; /* json_dumps' NUL becomes the newline: written by length */
	pthread_mutex_lock(&tel_lock);
	if (!tel_dir) {
		pthread_mutex_unlock(&tel_lock);
		free(line);
		return;
	}
	/* At most once a second: a burst of events costs one check. */
	if (cy_mono_ms() - tel_pruned_ms >= 1000)
		tel_prune_locked();
	path = xasprintf("%s/%s", tel_dir, name);
	if (stat(path, &st) == 0 && st.st_size + (long long)len + 1 > tel_max_bytes / 4) {
		old = xasprintf("%s.1", path);
		if (rename(path, old) < 0)
			cy_log_warn("telemetry_rotate_failed", "path", path, "error",
			    strerror(errno), NULL);
		free(old);
	}
	/* A line bigger than its share is not kept. */
	if ((long long)len + 1 <= tel_max_bytes / 4) {
		fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd < 0 || cy_write_all(fd, line, len + 1) < 0)
			cy_log_warn("telemetry_write_failed", "path", path, "error",
			    strerror(errno), NULL);
		if (fd >= 0)
			close(fd);
	}
	pthread_mutex_unlock(&tel_lock);
	free(path);
	free(line);
}

/* The length of s clipped to at most max bytes, not inside a UTF-8 sequence. */
static size_t
tel_clip(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

void
node_telemetry_event(const char *source, const char *level, const char *kind, const char *message,
    const char *task_id, const char *job_id)
{
	char ts[CY_RFC3339_LEN + 1];
	json_t *e;

	cy_now_rfc3339(ts);
	e = json_pack("{s:s, s:s, s:s, s:s, s:s}", "ts", ts, "source", source, "level", level,
	    "kind", kind, "message", message ? message : kind);
	if (!e)
		return;
	if (task_id)
		json_object_set_new(e, "task_id", json_string(task_id));
	if (job_id)
		json_object_set_new(e, "job_id", json_string(job_id));
	tel_append("events.jsonl", e);
}

void
node_telemetry_job(const char *job_id, const char *task_id, const char *status, time_t started,
    time_t ended, const json_t *exit_code, const char *detail)
{
	char s[CY_RFC3339_LEN + 1], e[CY_RFC3339_LEN + 1];
	json_t *r;

	cy_time_rfc3339(started, s);
	r = json_pack("{s:s, s:s, s:s, s:s}", "id", job_id, "job_id", job_id, "status", status,
	    "started_at", s);
	if (!r)
		return;
	json_object_set_new(r, "task_id", task_id ? json_string(task_id) : json_null());
	if (ended) {
		cy_time_rfc3339(ended, e);
		json_object_set_new(r, "ended_at", json_string(e));
	} else {
		json_object_set_new(r, "ended_at", json_null());
	}
	json_object_set_new(r, "exit_code", exit_code ? json_deep_copy(exit_code) : json_null());
	/* Clipped, so 1000 records stay well under the contract's 2 MiB. */
	if (detail)
		json_object_set_new(r, "detail", json_stringn(detail, tel_clip(detail, 512)));
	tel_append("jobs.jsonl", r);
}

/* The time of a store line (ts, or a job record's started_at); -1 when it has none. */
static int
tel_line_time(const char *line, size_t n, time_t *t)
{
	json_t *rec = json_loadb(line, n, 0, NULL);
	int rc = -1;

	if (json_is_object(rec))
		rc = cy_time_parse_rfc3339(json_string_value(json_object_get(rec,
					       json_object_get(rec, "ts") ? "ts" : "started_at")),
		    t);
	json_decref(rec);
	return rc;
}

/*
 * Drops the lines of path older than horizon (and those without a time,
 * which are never served).  The files are appended in time order, so a
 * first line within retention means there is nothing to drop: the common
 * case reads one line.  Else the kept lines are written to a temporary file
 * renamed over path; a file left empty is removed.  Under tel_lock.
 */
static void
tel_prune_file(const char *path, time_t horizon)
{
	char *tmp = NULL, *line = NULL, count[24];
	size_t cap = 0, kept = 0, dropped = 0;
	FILE *in = fopen(path, "re"), *out = NULL;
	ssize_t n;
	time_t t;
	int fd;

	if (!in)
		return;
	n = getline(&line, &cap, in);
	if (n <= 0 || (tel_line_time(line, (size_t)n, &t) == 0 && t >= horizon))
		goto out;
	tmp = xasprintf("%s.prune", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || !(out = fdopen(fd, "we"))) {
		if (fd >= 0)
			close(fd);
		cy_log_warn("telemetry_prune_failed", "path", tmp, "error", strerror(errno), NULL);
		goto out;
	}
	do {
		if (tel_line_time(line, (size_t)n, &t) == 0 && t >= horizon) {
			fwrite(line, 1, (size_t)n, out);
			kept++;
		} else {
			dropped++;
		}
	} while ((n = getline(&line, &cap, in)) > 0);
	if (fclose(out) != 0 || (kept ? rename(tmp, path) : unlink(path)) < 0) {
		cy_log_warn("telemetry_prune_failed", "path", path, "error", strerror(errno), NULL);
		unlink(tmp);
		goto out;
	}
	if (!kept)
		unlink(tmp);
	xsnprintf(count, sizeof(count), "%zu", dropped);
	cy_log_debug("telemetry_pruned", "path", path, "dropped", count, NULL);
out:
	fclose(in);
	free(tmp);
	free(line);
}

/* Both files and their rotated copies, under tel_lock. */
static void
tel_prune_locked(void)
{
	static const char *const names[] = { "events.jsonl.1", "events.jsonl", "jobs.jsonl.1",
		"jobs.jsonl", NULL };
	time_t horizon;

	tel_pruned_ms = cy_mono_ms();
	if (!tel_dir || tel_retention_s <= 0)
		return;
	horizon = time(NULL) - (time_t)tel_retention_s;
	for (size_t i = 0; names[i]; i++) {
		char *path = xasprintf("%s/%s", tel_dir, names[i]);

		tel_prune_file(path, horizon);
		free(path);
	}
}

void
node_telemetry_prune(void)
{
	pthread_mutex_lock(&tel_lock);
	tel_prune_locked();
	pthread_mutex_unlock(&tel_lock);
}

/* Calls fn for each line of <name>.1 then <name> that parses and is within retention. */
static void
tel_scan(const char *name, void (*fn)(json_t *rec, void *arg), void *arg)
{
	char *paths[2], *line = NULL;
	size_t cap = 0;
	ssize_t n;
	time_t horizon = 0;

	pthread_mutex_lock(&tel_lock);
	if (!tel_dir) {
		pthread_mutex_unlock(&tel_lock);
		return;
	}
	paths[0] = xasprintf("%s/%s.1", tel_dir, name);
	paths[1] = xasprintf("%s/%s", tel_dir, name);
	if (tel_retention_s > 0)
		horizon = time(NULL) - (time_t)tel_retention_s;
	for (int i = 0; i < 2; i++) {
		FILE *f = fopen(paths[i], "re");

		while (f && (n = getline(&line, &cap, f)) > 0) {
			json_t *rec = json_loadb(line, (size_t)n, 0, NULL);
			time_t t;

			if (json_is_object(rec) &&
			    cy_time_parse_rfc3339(json_string_value(json_object_get(rec,
						      json_object_get(rec, "ts") ? "ts" :
										   "started_at")),
				&t) == 0 &&
			    t >= horizon)
				fn(rec, arg);
			json_decref(rec);
		}
		if (f)
			fclose(f);
		free(paths[i]);
	}
	pthread_mutex_unlock(&tel_lock);
	free(line);
}

struct ev_filter {
	const char *source;
	time_t since, until; /* 0: open */
	json_t *out;
};

static void
ev_take(json_t *rec, void *arg)
{
	struct ev_filter *f = arg;
	time_t t;
	const char *src = json_string_value(json_object_get(rec, "source"));

	if (f->source && (!src || strcmp(src, f->source) != 0))
		return;
	if (cy_time_parse_rfc3339(json_string_value(json_object_get(rec, "ts")), &t) < 0)
		return;
	if ((f->since && t < f->since) || (f->until && t > f->until))
		return;
	json_array_append(f->out, rec);
}

json_t *
node_telemetry_events(const char *source, time_t since, time_t until, size_t limit,
    size_t max_bytes, bool *truncated)
{
	struct ev_filter f = { source, since, until, json_array() };
	size_t bytes = 0, keep = 0, n;

	tel_scan("events.jsonl", ev_take, &f);
	n = json_array_size(f.out);
	*truncated = false;
	/* The newest `limit` events within max_bytes, oldest first. */
	while (keep < n && keep < limit) {
		char *s = json_dumps(json_array_get(f.out, n - 1 - keep), JSON_COMPACT);
		size_t len = s ? strlen(s) + 1 : 0;

		free(s);
		if (bytes + len > max_bytes) {
			*truncated = true;
			break;
		}
		bytes += len;
		keep++;
	}
	if (keep < n && keep == limit)
		*truncated = true;
	while (json_array_size(f.out) > keep)
		json_array_remove(f.out, 0);
	return f.out;
}

static void
job_take(json_t *rec, void *arg)
{
	json_t *by_id = arg;
	const char *id = json_string_value(json_object_get(rec, "job_id"));

	if (!id)
		return;
	/* Re-inserted so the object's order is the order of the last record. */
	json_object_del(by_id, id);
	json_object_set(by_id, id, rec);
}

json_t *
node_telemetry_jobs(const char *only_id, size_t limit)
{
	json_t *by_id = json_object(), *out = json_array(), *v;
	const char *k;

	tel_scan("jobs.jsonl", job_take, by_id);
	if (only_id) {
		v = json_incref(json_object_get(by_id, only_id));
		json_decref(by_id);
		json_decref(out);
		return v;
	}
	json_object_foreach(by_id, k, v)
		json_array_insert(out, 0, v);
	json_decref(by_id);
	/* Newest first: by started_at (RFC 3339 UTC sorts as text), stable. */
	for (size_t i = 1; i < json_array_size(out); i++)
		for (size_t j = i; j > 0; j--) {
			const char *a = json_string_value(
			    json_object_get(json_array_get(out, j - 1), "started_at"));
			const char *b = json_string_value(
			    json_object_get(json_array_get(out, j), "started_at"));

			if (strcmp(a, b) >= 0)
				break;
			v = json_incref(json_array_get(out, j));
			json_array_remove(out, j);
			json_array_insert_new(out, j - 1, v);
		}
	while (json_array_size(out) > limit)
		json_array_remove(out, json_array_size(out) - 1);
	return out;
}
