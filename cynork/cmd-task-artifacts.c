/*
 * cynork task artifacts list|get: the files a task's job left behind.
 * list prints the table of spec/cli.md (artifact_id, name, content_type,
 * size_bytes) or the server's JSON; get downloads them (all, or those
 * named by name or artifact id) under a directory, each streamed to a
 * temporary file next to its target, checked against its SHA-256 and then
 * renamed into place, so a cut download never leaves a partial file under
 * the artifact's name.  Names with '/' create subdirectories; a name that
 * would leave the directory is refused; an existing file is kept unless
 * --force.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "cynork.h"
#include "digest.h"
#include "fsutil.h"
#include "json.h"
#include "relpath.h"
#include "banned.h"

/* GETs the task's artifact list into *res. */
static int
artifacts_fetch(struct ctx *c, const char *task, json_t **res)
{
	char *e = url_escape(task), *path = xasprintf("/v1/tasks/%s/artifacts", e);
	int rc = api_call(c, "GET", path, NULL, true, res);

	free(path);
	free(e);
	return rc;
}

/* task artifacts list: the columns (-o wide adds sha256, created_at, expires_at). */
static const struct col artifact_cols[] = {
	{ "artifact_id", 0 },
	{ "name", COL_TRUNC },
	{ "content_type", 0 },
	{ "size_bytes", COL_RIGHT },
	{ "sha256", COL_WIDE },
	{ "created_at", COL_WIDE | COL_TIME },
	{ "expires_at", COL_WIDE | COL_TIME },
	{ NULL, 0 },
};

static int
artifacts_list(struct ctx *c, const struct parsed *p)
{
	struct out_table *t;
	json_t *res = NULL, *a;
	size_t i;
	int rc = artifacts_fetch(c, p->args[0], &res);

	if (rc)
		return rc;
	if (out_json(c)) {
		print_json(res);
		return 0;
	}
	if (out_name(c)) {
		json_array_foreach(json_object_get(res, "artifacts"), i, a)
			printf("%s\n", out_dash(a, "artifact_id"));
		json_decref(res);
		return 0;
	}
	t = table_new(c, p, artifact_cols);
	json_array_foreach(json_object_get(res, "artifacts"), i, a) {
		long long size = 0;

		(void)cy_json_int(a, "size_bytes", &size);
		table_row(t);
		table_cell(t, cy_json_str(a, "artifact_id"));
		table_cell(t, cy_json_str(a, "name"));
		table_cell(t, cy_json_str(a, "content_type"));
		table_cellf(t, "%lld", size);
		table_cell(t, cy_json_str(a, "sha256"));
		table_cell(t, cy_json_str(a, "created_at"));
		table_cell(t, cy_json_str(a, "expires_at"));
	}
	json_decref(res);
	return table_print(t);
}

/* One download in progress: the temporary file and its hash. */
struct dl {
	int fd;
	struct cy_sha256 md;
	long long got;
	int werr;
};

static int
dl_data(void *arg, const char *data, size_t len)
{
	struct dl *d = arg;

	if (cy_write_all(d->fd, data, len) < 0) {
		d->werr = errno;
		return -1;
	}
	cy_sha256_update(&d->md, data, len);
	d->got += (long long)len;
	return 0;
}

/* Downloads artifact a of task to dest (via dest.part); 0 or an exit code. */
static int
artifact_download(struct ctx *c, const char *task, const json_t *a, const char *dest)
{
	struct api_stream s = { .fn = dl_data, .idle_timeout_s = 120 };
	struct dl d = { .fd = -1 };
	char hex[CY_SHA256_HEX_LEN + 1], *tmp = xasprintf("%s.part", dest), *e = url_escape(task), *path;
	const char *want = cy_json_str(a, "sha256");
	long long size = -1;
	int rc;

	(void)cy_json_int(a, "size_bytes", &size);
	path = xasprintf("/v1/tasks/%s/artifacts/%s", e, cy_json_str(a, "artifact_id"));
	d.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (d.fd < 0) {
		rc = fail(EXIT_USAGE, "cannot write '%s': %s", tmp, strerror(errno));
		goto out;
	}
	cy_sha256_init(&d.md);
	s.arg = &d;
	s.abort_flag = &cynork_interrupted;
	rc = api_stream(c, "GET", path, NULL, &s);
	if (rc < 0)
		rc = d.werr ? fail(EXIT_USAGE, "writing '%s': %s", tmp, strerror(d.werr)) :
			      api_transport_fail(c, &s.err);
	if (rc)
		goto out;
	cy_sha256_final_hex(&d.md, hex);
	if ((size >= 0 && d.got != size) || !want || strcmp(hex, want) != 0) {
		rc = fail(EXIT_PROTOCOL,
		    "artifact '%s': got %lld bytes with sha256 %s, want %lld and %s",
		    cy_json_str(a, "name"), d.got, hex, size, want ? want : "?");
		goto out;
	}
	if (close(d.fd) < 0 || rename(tmp, dest) < 0) {
		d.fd = -1;
		rc = fail(EXIT_USAGE, "cannot write '%s': %s", dest, strerror(errno));
		goto out;
	}
	d.fd = -1;
out:
	if (d.fd >= 0)
		close(d.fd);
	if (rc)
		unlink(tmp);
	cy_sha256_abort(&d.md);
	free(path);
	free(e);
	free(tmp);
	return rc;
}

/* The artifacts to fetch: all, or those p's names pick (by name or id); exit 66 on a miss. */
static int
artifacts_pick(const struct parsed *p, json_t *all, json_t **out)
{
	json_t *a;
	size_t i, j;

	*out = json_array();
	if (p->nargs < 2) {
		json_array_extend(*out, all);
		return 0;
	}
	for (j = 1; j < p->nargs; j++) {
		bool found = false;

		json_array_foreach(all, i, a) {
			if (!strcmp(out_dash(a, "name"), p->args[j]) ||
			    !strcmp(out_dash(a, "artifact_id"), p->args[j])) {
				json_array_append(*out, a);
				found = true;
				break;
			}
		}
		if (!found)
			return fail(EXIT_NOT_FOUND, "task '%s' has no artifact '%s'", p->args[0],
			    p->args[j]);
	}
	return 0;
}

static int
artifacts_get(struct ctx *c, const struct parsed *p)
{
	const char *dir = opt_get(p, "dir") ? opt_get(p, "dir") : ".", *why = NULL;
	json_t *res = NULL, *pick = NULL, *a, *saved = json_array();
	char **dest = NULL;
	size_t i, n = 0;
	int rc = artifacts_fetch(c, p->args[0], &res);

	if (rc)
		goto out;
	if ((rc = artifacts_pick(p, json_object_get(res, "artifacts"), &pick)))
		goto out;
	n = json_array_size(pick);
	dest = xcalloc(n + 1, sizeof(*dest));
	/* Every target checked before anything is written. */
	json_array_foreach(pick, i, a) {
		const char *name = out_dash(a, "name");
		struct stat st;

		if (!cy_relpath_valid(name, strlen(name), &why)) {
			rc = fail(EXIT_PROTOCOL, "refusing artifact name '%s': %s", name, why);
			goto out;
		}
		dest[i] =
		    opt_get(p, "out") ? xstrdup(opt_get(p, "out")) : xasprintf("%s/%s", dir, name);
		if (lstat(dest[i], &st) == 0 && !opt_set(p, "force")) {
			rc = fail(EXIT_CONFLICT, "'%s' exists; give --force to overwrite it",
			    dest[i]);
			goto out;
		}
	}
	json_array_foreach(pick, i, a) {
		char *slash = strrchr(dest[i], '/');

		if (slash && slash != dest[i]) {
			*slash = '\0';
			if (cy_mkdir_p(dest[i], 0755, 0755) < 0) {
				rc = fail(EXIT_USAGE, "cannot create '%s': %s", dest[i],
				    strerror(errno));
				*slash = '/';
				goto out;
			}
			*slash = '/';
		}
		if ((rc = artifact_download(c, p->args[0], a, dest[i])))
			goto out;
		if (out_json(c)) {
			json_array_append_new(saved,
			    json_pack("{s:b, s:s, s:s}", "saved", 1, "name", out_dash(a, "name"),
				"path", dest[i]));
		} else {
			struct cy_buf line = CY_BUF_INIT;

			rec_add(&line, "saved", "true");
			rec_add(&line, "path", dest[i]);
			print_line(&line);
		}
	}
	if (out_json(c)) {
		print_json(json_pack("{s:s, s:O}", "task_id", cy_json_str(res, "task_id"), "saved",
		    saved));
	}
out:
	for (i = 0; dest && i < n; i++)
		free(dest[i]);
	free(dest);
	json_decref(saved);
	json_decref(pick);
	json_decref(res);
	return rc;
}

/* clang-format off */
static const struct opt list_opts[] = {
	{ .name = "no-headers", .kind = OPT_BOOL, .help = "leave out the header line" },
	{ NULL }
};
static const struct opt get_opts[] = {
	{ .name = "dir", .shrt = 'd', .kind = OPT_STR, .arg = "DIR",
	  .help = "save under DIR (default: the current directory)" },
	{ .name = "out", .kind = OPT_STR, .arg = "PATH",
	  .help = "save the one artifact named to PATH" },
	{ .name = "force", .kind = OPT_BOOL, .help = "overwrite files that exist" },
	{ NULL }
};
/* clang-format on */

const struct cmd cmd_task_artifacts_list = {
	.path = "task artifacts list",
	.aliases = "ls",
	.summary = "list the files a task's job left behind",
	.usage = "<task>",
	.opts = list_opts,
	.min_args = 1,
	.max_args = 1,
	.flags = CMD_NEEDS_AUTH,
	.exec = artifacts_list,
	.doc =
	    "Lists a task's artifacts (the files its job left in /workspace that its --artifact patterns, default out/, select; collected after failed and timed-out jobs too) as a table: a header line artifact_id, name, content_type, size_bytes (TAB-separated; --no-headers leaves it out), then one row each (- for an unknown content type). -o json prints {\"task_id\", \"artifacts\": [{artifact_id, name, size_bytes, sha256, content_type, created_at, expires_at}]}. Artifacts expire (server artifacts.retention, default 7 days). An unknown task exits 66.",
};
/* --out takes exactly one artifact and no -d. */
static int
get_check(const struct parsed *p)
{
	if (!opt_get(p, "out"))
		return 0;
	if (opt_get(p, "dir"))
		return fail(EXIT_USAGE, "give only one of --out and -d/--dir");
	if (p->nargs != 2)
		return fail(EXIT_USAGE, "--out saves one artifact: name exactly one");
	if (!*opt_get(p, "out"))
		return fail(EXIT_USAGE, "--out needs a path");
	return 0;
}

const struct cmd cmd_task_artifacts_get = {
	.path = "task artifacts get",
	.summary = "download a task's artifacts",
	.usage = "<task> [NAME|ID...]",
	.opts = get_opts,
	.min_args = 1,
	.max_args = MAX_POS_ARGS,
	.flags = CMD_NEEDS_AUTH,
	.check = get_check,
	.exec = artifacts_get,
	.doc =
	    "Downloads a task's artifacts, all of them or those named (by name or artifact_id), under -d DIR (default the current directory) at DIR/NAME; a name with / creates the subdirectories. Each file is streamed to NAME.part, checked against its size and SHA-256 and renamed into place. Every target is checked first: a file that exists is a conflict (exit 73) unless --force, a name unknown to the task exits 66, and nothing is written in either case. With --out PATH (exactly one artifact named, no -d) it is saved to PATH instead, its parent directories created. Prints saved=true path=PATH per file; -o json prints {\"task_id\", \"saved\": [{saved, name, path}]}.",
};
