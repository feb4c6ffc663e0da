/*
 * task create --attach: which files go (attach_collect, every check done
 * before anything is sent) and their uploads (attach_upload: each file
 * hashed, then streamed from disk by libcurl to POST /v1/uploads with its
 * X-Content-SHA256, so the server refuses a file that changed meanwhile).
 * Directories are walked without following symlinks; anything in them
 * that is not a regular file or a directory is an error, not skipped.
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
#include "digest.h"
#include "buf.h"
#include "cynork.h"
#include "json.h"
#include "relpath.h"
#include "banned.h"

#define ATTACH_MAX 4096
#define ATTACH_DEPTH 32

static int
attach_add(struct attach_list *l, const char *path, const char *name, long long size)
{
	const char *why = NULL;
	size_t i;

	if (!cy_relpath_valid(name, strlen(name), &why))
		return fail(EXIT_USAGE, "--attach '%s': cannot be attached as '%s': %s", path, name,
		    why);
	for (i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].name, name))
			return fail(EXIT_USAGE,
			    "--attach '%s': '%s' is attached twice (also from '%s')", path, name,
			    l->v[i].path);
	if (l->n >= ATTACH_MAX)
		return fail(EXIT_USAGE, "--attach: more than %d files", ATTACH_MAX);
	if (l->n == l->alloc) {
		l->alloc = l->alloc ? 2 * l->alloc : 16;
		l->v = xreallocarray(l->v, l->alloc, sizeof(*l->v));
	}
	l->v[l->n].path = xstrdup(path);
	l->v[l->n].name = xstrdup(name);
	l->v[l->n].size = size;
	l->n++;
	return 0;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files below directory path, named prefix/<relative path>. */
static int
attach_dir(struct attach_list *l, const char *path, const char *prefix, int depth)
{
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, alloc = 0, i;
	DIR *d;
	int rc = 0;

	if (depth > ATTACH_DEPTH)
		return fail(EXIT_USAGE, "--attach '%s': nested deeper than %d directories", path,
		    ATTACH_DEPTH);
	if (!(d = opendir(path)))
		return fail(EXIT_USAGE, "--attach '%s': %s", path, strerror(errno));
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == alloc) {
			alloc = alloc ? 2 * alloc : 16;
			names = xreallocarray(names, alloc, sizeof(*names));
		}
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(*names), name_cmp);
	for (i = 0; i < n && rc == 0; i++) {
		char *p = xasprintf("%s/%s", path, names[i]);
		char *name = *prefix ? xasprintf("%s/%s", prefix, names[i]) : xstrdup(names[i]);
		struct stat st;

		if (lstat(p, &st) < 0)
			rc = fail(EXIT_USAGE, "--attach '%s': %s", p, strerror(errno));
		else if (S_ISDIR(st.st_mode))
			rc = attach_dir(l, p, name, depth + 1);
		else if (S_ISLNK(st.st_mode))
			rc = fail(EXIT_USAGE,
			    "--attach '%s': is a symbolic link; only regular files are attached",
			    p);
		else if (!S_ISREG(st.st_mode))
			rc = fail(EXIT_USAGE, "--attach '%s': not a regular file", p);
		else if (access(p, R_OK) < 0)
			rc = fail(EXIT_USAGE, "--attach '%s': %s", p, strerror(errno));
		else
			rc = attach_add(l, p, name, (long long)st.st_size);
		free(name);
		free(p);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

/* The last component of path without trailing slashes ("" for ., .. and /). */
static char *
base_name(const char *path)
{
	size_t len = strlen(path), start;

	while (len > 1 && path[len - 1] == '/')
		len--;
	start = len;
	while (start > 0 && path[start - 1] != '/')
		start--;
	if ((len - start == 1 && path[start] == '.') ||
	    (len - start == 2 && path[start] == '.' && path[start + 1] == '.') ||
	    (len - start == 1 && path[start] == '/'))
		return xstrdup("");
	return xstrndup(path + start, len - start);
}

int
attach_collect(const char *const *args, size_t nargs, struct attach_list *out)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < nargs && rc == 0; i++) {
		const char *path = args[i];
		struct stat st;
		char *base;

		if (!strcmp(path, "-"))
			return fail(EXIT_USAGE, "--attach does not take '-'");
		if (lstat(path, &st) < 0)
			return fail(EXIT_USAGE, "--attach '%s': %s", path, strerror(errno));
		if (S_ISLNK(st.st_mode))
			return fail(EXIT_USAGE,
			    "--attach '%s': is a symbolic link; give the file itself", path);
		if (access(path, R_OK) < 0)
			return fail(EXIT_USAGE, "--attach '%s': %s", path, strerror(errno));
		base = base_name(path);
		if (S_ISDIR(st.st_mode)) {
			size_t before = out->n;

			rc = attach_dir(out, path, base, 0);
			if (rc == 0 && out->n == before)
				rc = fail(EXIT_USAGE, "--attach '%s': the directory has no files",
				    path);
		} else if (!S_ISREG(st.st_mode)) {
			rc = fail(EXIT_USAGE, "--attach '%s': not a regular file or directory",
			    path);
		} else {
			rc = attach_add(out, path, base, (long long)st.st_size);
		}
		free(base);
	}
	return rc;
}

/* The SHA-256 of the open file fd (read to its end), as hex. */
static int
file_sha256(int fd, const char *path, char hex[65])
{
	unsigned char buf[65536];
	struct cy_sha256 ctx;
	ssize_t n;

	cy_sha256_init(&ctx);
	while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0)
			cy_sha256_update(&ctx, buf, (size_t)n);
	cy_sha256_final_hex(&ctx, hex);
	if (n < 0)
		return fail(EXIT_USAGE, "--attach '%s': %s", path, strerror(errno));
	return 0;
}

int
attach_upload(struct ctx *c, const struct attach_list *l, json_t **out)
{
	size_t i;
	int rc = 0;

	*out = json_array();
	for (i = 0; i < l->n && rc == 0; i++) {
		const struct attach_file *f = &l->v[i];
		char hex[65], *hdr;
		const char *hdrs[2];
		json_t *res = NULL;
		struct stat st;
		int fd;

		fd = open(f->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return fail(EXIT_USAGE, "--attach '%s': %s", f->path, strerror(errno));
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			close(fd);
			return fail(EXIT_USAGE, "--attach '%s': not a regular file any more",
			    f->path);
		}
		if ((rc = file_sha256(fd, f->path, hex)) != 0) {
			close(fd);
			break;
		}
		hdr = xasprintf("X-Content-SHA256: %s", hex);
		hdrs[0] = hdr;
		hdrs[1] = NULL;
		note(c, "uploading '%s' as '%s' (%lld bytes)", f->path, f->name,
		    (long long)st.st_size);
		rc = api_upload(c, "/v1/uploads", fd, (long long)st.st_size, hdrs, &res);
		free(hdr);
		close(fd);
		if (rc == 0)
			json_array_append_new(*out,
			    json_pack("{s:s, s:s}", "name", f->name, "sha256", hex));
		json_decref(res);
	}
	return rc;
}

void
attach_list_release(struct attach_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].path);
		free(l->v[i].name);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}
