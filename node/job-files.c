/*
 * A job's files: its attachments, fetched from the server and placed
 * under its workspace before the command starts.
 *
 * Every path is walked component by component from the workspace's
 * directory fd with openat/mkdirat and O_NOFOLLOW, so a name can never
 * leave the workspace, even through a symlink (the names were checked by
 * job-parse.c with cy_relpath_valid as well).  Each attachment streams
 * from GET /v1/nodes/jobs/{job_id}/attachments/{sha256} (control plane,
 * node JWT) straight into its file, hashed with SHA-256 on the way; a
 * short, long or wrong body fails the job's attempt.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "digest.h"
#include "fsutil.h"
#include "httpc.h"
#include "job.h"
#include "json.h"
#include "log.h"
#include "node.h"
#include "banned.h"

#define FETCH_IDLE_S 60

/*
 * Opens (creating them as needed) the parent directories of name below
 * the directory fd `root`; returns a directory fd and points *base at the
 * last component, or -1 with errno set.
 */
static int
walk_parents(int root, const char *name, bool chown_them, const char **base)
{
	char comp[256];
	const char *s = name, *slash;
	int dfd = dup(root), next;

	while (dfd >= 0 && (slash = strchr(s, '/'))) {
		size_t n = (size_t)(slash - s);

		if (n >= sizeof(comp)) {
			close(dfd);
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(comp, s, n);
		comp[n] = '\0';
		if (mkdirat(dfd, comp, 0755) == 0) {
			if (chown_them && fchownat(dfd, comp, NODE_SANDBOX_UID, NODE_SANDBOX_UID,
					      AT_SYMLINK_NOFOLLOW) < 0) {
				close(dfd);
				return -1;
			}
		} else if (errno != EEXIST) {
			close(dfd);
			return -1;
		}
		next = openat(dfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(dfd);
		dfd = next;
		s = slash + 1;
	}
	*base = s;
	return dfd;
}

/* The download of one attachment into its file. */
struct fetch {
	int fd;
	struct cy_sha256 md;
	long long got;
	int werrno;
};

static int
fetch_data(void *arg, const struct cy_httpc_resp *resp, const char *data, size_t len)
{
	struct fetch *f = arg;

	if (resp->status != 200)
		return 0; /* an error body: collected nowhere, the status tells */
	if (cy_write_all(f->fd, data, len) < 0) {
		f->werrno = errno;
		return -1;
	}
	cy_sha256_update(&f->md, data, len);
	f->got += (long long)len;
	return 0;
}

/* Fetches one attachment into an open file; 0 or -1 with err set. */
static int
fetch_one(struct node *n, const struct job_req *r, const char *jwt, const char *name,
    const char *sha, long long size, int fd, struct cy_error *err)
{
	struct cy_httpc_resp resp = CY_HTTPC_RESP_INIT;
	struct cy_httpc_opts o = { 0 };
	struct fetch f = { .fd = fd };
	char hex[CY_SHA256_HEX_LEN + 1], *path, *url;
	int rc = -1;

	path = xasprintf("/v1/nodes/jobs/%s/attachments/%s", r->job_id, sha);
	url = node_orch_url(n, path);
	free(path);
	cy_sha256_init(&f.md);
	o.timeout_ms = -1;
	o.idle_timeout_s = FETCH_IDLE_S;
	o.connect_timeout_ms = n->cfg.connect_s * 1000;
	/* Room for an error body too; a longer blob is caught by the count. */
	o.max_response = (size_t)size + 65536;
	o.bearer = jwt;
	o.ca_file = n->cfg.tls_ca;
	o.pinned_pubkey = n->cfg.tls_pin;
	o.on_data = fetch_data;
	o.on_data_arg = &f;
	if (cy_httpc_request("GET", url, NULL, 0, &o, &resp, err) < 0) {
		if (f.werrno)
			cy_error_set(err, f.werrno, "attachment '%s': writing: %s", name,
			    strerror(f.werrno));
		goto out;
	}
	if (resp.status != 200) {
		cy_error_set(err, EIO, "attachment '%s': the server answered %ld", name,
		    resp.status);
		goto out;
	}
	cy_sha256_final_hex(&f.md, hex);
	if (f.got != size) {
		cy_error_set(err, EIO, "attachment '%s': got %lld bytes, want %lld", name, f.got,
		    size);
		goto out;
	}
	if (strcmp(hex, sha) != 0) {
		cy_error_set(err, EIO, "attachment '%s': sha256 %s, want %s", name, hex, sha);
		goto out;
	}
	rc = 0;
out:
	cy_sha256_abort(&f.md);
	cy_httpc_resp_release(&resp);
	free(url);
	return rc;
}

int
job_attachments_fetch(struct node *n, const struct job_req *r, const char *dir,
    struct cy_error *err)
{
	bool root = geteuid() == 0;
	char *ws, *jwt = NULL;
	const json_t *v;
	int wfd, rc = -1;
	size_t i;

	if (!r->attachments || json_array_size(r->attachments) == 0)
		return 0;
	ws = xasprintf("%s/workspace", dir);
	wfd = open(ws, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	free(ws);
	if (wfd < 0)
		return cy_error_errno(err, "opening the job's workspace");
	if (!(jwt = node_orch_jwt(n))) {
		cy_error_set(err, EACCES, "no node JWT to fetch the attachments with");
		goto out;
	}
	json_array_foreach(r->attachments, i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *sha = json_string_value(json_object_get(v, "sha256"));
		long long size = (long long)json_integer_value(json_object_get(v, "size"));
		const char *base;
		int dfd, fd;

		dfd = walk_parents(wfd, name, root, &base);
		if (dfd < 0) {
			cy_error_errno(err, "attachment '%s': creating its directory", name);
			goto out;
		}
		fd = openat(dfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0 || (root && fchown(fd, NODE_SANDBOX_UID, NODE_SANDBOX_UID) < 0)) {
			cy_error_errno(err, "attachment '%s': creating the file", name);
			if (fd >= 0)
				close(fd);
			close(dfd);
			goto out;
		}
		rc = fetch_one(n, r, jwt, name, sha, size, fd, err);
		if (close(fd) < 0 && rc == 0)
			rc = cy_error_errno(err, "attachment '%s': closing", name);
		close(dfd);
		if (rc < 0)
			goto out;
		rc = -1;
	}
	rc = 0;
out:
	if (jwt) {
		explicit_bzero(jwt, strlen(jwt));
		free(jwt);
	}
	close(wfd);
	return rc;
}
