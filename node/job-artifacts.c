/*
 * A job's artifacts: after the command ends (completed, failed or timed
 * out), the regular files of its workspace that its patterns
 * (sandbox.artifacts, default ["out/"]) select are uploaded to the server,
 * each with PUT /v1/nodes/jobs/{job_id}/artifacts?name=NAME streamed from
 * the file, within artifacts.max_count and artifacts.max_total_bytes.
 * What is left out is reported in the result with the reason, never
 * silently: over a limit, a symlink, not a regular file, a name that is
 * not allowed, a failed upload.
 *
 * The workspace is walked from its directory fd with openat and
 * fstatat(AT_SYMLINK_NOFOLLOW), and files are opened O_NOFOLLOW relative
 * to their directory's fd, so a job's symlink (to /etc/passwd, say) is
 * reported and never followed, and nothing outside the workspace is read.
 *
 * A pattern is matched with fnmatch(FNM_PATHNAME) against each file's
 * path and against each of its directories (a match there takes all
 * below); a pattern ending in '/' matches directories only.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "httpc.h"
#include "job.h"
#include "json.h"
#include "log.h"
#include "node.h"
#include "relpath.h"
#include "banned.h"

#define WALK_DEPTH 32
#define DROPPED_SHOWN 100

struct collect {
	struct node *n;
	const struct job_req *r;
	const char *const *pat; /* NULL-terminated */
	char *jwt;
	long long count, bytes;
	long long dropped_more;
	json_t *dropped;
};

static void
drop(struct collect *c, const char *name, long long size, const char *reason)
{
	if (json_array_size(c->dropped) >= DROPPED_SHOWN) {
		c->dropped_more++;
		return;
	}
	json_array_append_new(c->dropped,
	    json_pack("{s:s, s:I, s:s}", "name", name, "size", (json_int_t)size, "reason", reason));
}

/* True when pattern p (a trailing '/': directories only) matches path. */
static bool
pat_match(const char *p, const char *path, bool is_dir)
{
	size_t len = strlen(p);
	char *stripped;
	bool m;

	if (len > 0 && p[len - 1] == '/') {
		if (!is_dir)
			return false;
		stripped = xstrndup(p, len - 1);
		m = fnmatch(stripped, path, FNM_PATHNAME) == 0;
		free(stripped);
		return m;
	}
	return fnmatch(p, path, FNM_PATHNAME) == 0;
}

/* True when a pattern selects path itself (a file, or a directory and all below). */
static bool
selected(const struct collect *c, const char *path, bool is_dir)
{
	size_t i;

	for (i = 0; c->pat[i]; i++)
		if (pat_match(c->pat[i], path, is_dir))
			return true;
	return false;
}

/* Components of s ('/'-separated, ignoring one trailing '/'). */
static size_t
components(const char *s)
{
	size_t n = 1, len = strlen(s), i;

	if (len > 0 && s[len - 1] == '/')
		len--;
	for (i = 0; i < len; i++)
		n += s[i] == '/';
	return n;
}

/*
 * True when something below directory dir could match a pattern: dir's
 * components match the pattern's first ones (each with fnmatch).
 */
static bool
may_hold(const struct collect *c, const char *dir)
{
	size_t i, k = components(dir);

	for (i = 0; c->pat[i]; i++) {
		const char *p = c->pat[i], *d = dir;
		size_t j;
		bool ok = components(p) > k;

		for (j = 0; ok && j < k; j++) {
			size_t pl = strcspn(p, "/"), dl = strcspn(d, "/");
			char *pc = xstrndup(p, pl), *dc = xstrndup(d, dl);

			ok = fnmatch(pc, dc, 0) == 0;
			free(pc);
			free(dc);
			p += pl + (p[pl] == '/');
			d += dl + (d[dl] == '/');
		}
		if (ok)
			return true;
	}
	return false;
}

/* Percent-encodes s for a query value. */
static void
query_escape(struct cy_buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' || ch == '~')
			cy_buf_addch(b, (char)ch);
		else
			cy_buf_addf(b, "%%%02X", ch);
	}
}

/* Uploads one open regular file; 0, or -1 with a reason in why. */
static int
upload(struct collect *c, const char *name, int fd, long long size, char *why, size_t whylen)
{
	struct cy_httpc_resp resp = CY_HTTPC_RESP_INIT;
	struct cy_httpc_opts o = { 0 };
	struct cy_error err = CY_ERROR_INIT;
	struct cy_buf path = CY_BUF_INIT;
	char *url;
	int rc = -1;

	cy_buf_addf(&path, "/v1/nodes/jobs/%s/artifacts?name=", c->r->job_id);
	query_escape(&path, name);
	url = node_orch_url(c->n, path.buf);
	o.timeout_ms = -1;
	o.idle_timeout_s = 60;
	o.connect_timeout_ms = c->n->cfg.connect_s * 1000;
	o.max_response = 64 * 1024;
	o.bearer = c->jwt;
	o.ca_file = c->n->cfg.tls_ca;
	o.content_type = "application/octet-stream";
	o.upload = true;
	o.upload_fd = fd;
	o.upload_size = size;
	if (cy_httpc_request("PUT", url, NULL, 0, &o, &resp, &err) < 0)
		cy_snprintf_clip(why, whylen, "upload failed: %s", err.msg);
	else if (resp.status != 201)
		cy_snprintf_clip(why, whylen, "upload failed: the server answered %ld: %.200s",
		    resp.status, resp.body.buf);
	else
		rc = 0;
	cy_httpc_resp_release(&resp);
	cy_buf_release(&path);
	free(url);
	return rc;
}

/* A regular file the patterns selected: within the limits, uploaded. */
static void
take_file(struct collect *c, int dfd, const char *base, const char *name)
{
	const char *bad = NULL;
	char why[512];
	struct stat st;
	int fd;

	fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		drop(c, name, 0,
		    fd < 0 && errno == ELOOP ? "symlink (not followed)" : "not a regular file");
		if (fd >= 0)
			close(fd);
		return;
	}
	if (!cy_relpath_valid(name, strlen(name), &bad)) {
		cy_snprintf_clip(why, sizeof(why), "name not allowed: %s", bad);
		drop(c, name, (long long)st.st_size, why);
	} else if (c->count >= c->n->cfg.artifacts_max_count) {
		cy_snprintf_clip(why, sizeof(why), "over artifacts.max_count (%lld files)",
		    c->n->cfg.artifacts_max_count);
		drop(c, name, (long long)st.st_size, why);
	} else if (c->bytes + (long long)st.st_size > c->n->cfg.artifacts_max_bytes) {
		cy_snprintf_clip(why, sizeof(why), "over artifacts.max_total_bytes (%lld bytes)",
		    c->n->cfg.artifacts_max_bytes);
		drop(c, name, (long long)st.st_size, why);
	} else if (upload(c, name, fd, (long long)st.st_size, why, sizeof(why)) < 0) {
		drop(c, name, (long long)st.st_size, why);
	} else {
		c->count++;
		c->bytes += (long long)st.st_size;
	}
	close(fd);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Walks the directory dfd (path rel, "" for the workspace); `all`: a
 * pattern selected this directory, so everything below is taken.
 */
static void
walk(struct collect *c, int dfd, const char *rel, bool all, int depth)
{
	char **names = NULL;
	size_t n = 0, alloc = 0, i;
	struct dirent *de;
	DIR *d;
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == alloc) {
			alloc = alloc ? 2 * alloc : 32;
			names = xreallocarray(names, alloc, sizeof(*names));
		}
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(*names), name_cmp);
	for (i = 0; i < n; i++) {
		char *path = *rel ? xasprintf("%s/%s", rel, names[i]) : xstrdup(names[i]);
		struct stat st;

		if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			free(path);
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			bool sel = all || selected(c, path, true);

			if (depth >= WALK_DEPTH) {
				if (sel)
					drop(c, path, 0, "directory nested too deep");
			} else if (sel || may_hold(c, path)) {
				int sub = openat(dfd, names[i],
				    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

				if (sub >= 0) {
					walk(c, sub, path, sel, depth + 1);
					close(sub);
				}
			}
		} else if (all || selected(c, path, false) ||
			   (S_ISLNK(st.st_mode) && selected(c, path, true))) {
			/* A symlink where a directory pattern points is reported too. */
			if (S_ISLNK(st.st_mode))
				drop(c, path, 0, "symlink (not followed)");
			else if (!S_ISREG(st.st_mode))
				drop(c, path, 0, "not a regular file");
			else
				take_file(c, dfd, names[i], path);
		}
		free(path);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

json_t *
job_artifacts_collect(struct node *n, const struct job_req *r, const char *dir)
{
	static const char *const def[] = { "out/", NULL };
	struct collect c = { .n = n, .r = r, .pat = def };
	const char **pats = NULL;
	json_t *out;
	char *ws;
	int wfd;
	size_t i;

	if (r->artifacts) {
		pats = xcalloc(json_array_size(r->artifacts) + 1, sizeof(*pats));
		for (i = 0; i < json_array_size(r->artifacts); i++)
			pats[i] = json_string_value(json_array_get(r->artifacts, i));
		c.pat = pats;
	}
	c.dropped = json_array();
	ws = xasprintf("%s/workspace", dir);
	wfd = open(ws, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	free(ws);
	c.jwt = node_orch_jwt(n);
	if (wfd >= 0 && c.pat[0]) {
		if (!c.jwt)
			drop(&c, "*", 0, "no node JWT to upload with");
		else
			walk(&c, wfd, "", false, 0);
	}
	if (wfd >= 0)
		close(wfd);
	if (c.jwt) {
		explicit_bzero(c.jwt, strlen(c.jwt));
		free(c.jwt);
	}
	free(pats);
	out = json_pack("{s:I, s:I, s:I, s:I, s:o}", "count", (json_int_t)c.count, "bytes",
	    (json_int_t)c.bytes, "limit_bytes", (json_int_t)n->cfg.artifacts_max_bytes,
	    "limit_count", (json_int_t)n->cfg.artifacts_max_count, "dropped", c.dropped);
	if (c.dropped_more)
		json_object_set_new(out, "dropped_more", json_integer(c.dropped_more));
	if (c.count || json_array_size(c.dropped)) {
		char cnt[24], dr[24];

		xsnprintf(cnt, sizeof(cnt), "%lld", c.count);
		xsnprintf(dr, sizeof(dr), "%zu", json_array_size(c.dropped));
		cy_log_info("artifacts_collected", "job_id", r->job_id, "count", cnt, "dropped", dr,
		    NULL);
	}
	return out;
}
