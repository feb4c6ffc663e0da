/*
 * Blob routes: POST /v1/uploads takes a raw body streamed into
 * the blob store as it arrives (cy_route.body_fn; the optional
 * X-Content-SHA256 header must match, the size cap is
 * limits.attachment_max_bytes) and answers {sha256, size}; the uploader
 * owns the blob, and a task may attach only what its creator uploaded.
 * GET /v1/nodes/jobs/{id}/attachments/{sha256} streams an attachment to
 * the node running the job (the job must be this node's and its task
 * must attach that blob).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "auth.h"
#include "blobstore.h"
#include "id.h"
#include "log.h"
#include "server.h"
#include "store-blobs.h"
#include "tasks.h"
#include "banned.h"

/* An upload in progress: the request's state (freed: the upload is dropped). */
struct upload {
	struct blob_writer *w;
	char want[BLOB_SHA_LEN + 1];
};

static void
upload_free(void *p)
{
	struct upload *u = p;

	blob_write_abort(u->w);
	free(u);
}

/* X-Content-SHA256 (hex, any case) into want; "" when absent, -1 when malformed. */
static int
upload_want(struct cy_http_req *req, char want[BLOB_SHA_LEN + 1])
{
	const char *h = cy_req_header(req, "X-Content-SHA256");
	size_t i;

	want[0] = '\0';
	if (!h)
		return 0;
	if (strlen(h) != BLOB_SHA_LEN)
		return -1;
	for (i = 0; i < BLOB_SHA_LEN; i++) {
		if (!isxdigit((unsigned char)h[i]))
			return -1;
		want[i] = (char)tolower((unsigned char)h[i]);
	}
	want[BLOB_SHA_LEN] = '\0';
	return 0;
}

int
b_uploads_body(struct cy_http_req *req, const char *data, size_t len, struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	struct upload *u = req->state;

	if (!u) {
		char want[BLOB_SHA_LEN + 1];

		if (upload_want(req, want) < 0) {
			cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			    "X-Content-SHA256 must be 64 hex digits (the body's SHA-256)");
			return -1;
		}
		u = xcalloc(1, sizeof(*u));
		memcpy(u->want, want, sizeof(want));
		if (!(u->w = blob_write_begin(&err))) {
			free(u);
			cy_log_error("upload_failed", "error", err.msg, NULL);
			cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot store the upload");
			return -1;
		}
		req->state = u;
		req->state_free = upload_free;
	}
	if (len == 0)
		return 0;
	if (blob_write(u->w, data, len, &err) < 0) {
		cy_log_error("upload_failed", "error", err.msg, NULL);
		cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot store the upload");
		return -1;
	}
	return 0;
}

void
h_uploads_create(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	struct upload *u = req->state;
	char sha[BLOB_SHA_LEN + 1], size_s[24];
	long long size = 0;
	struct blob_writer *w;

	if (!u || !u->w) {
		cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "no upload");
		return;
	}
	w = u->w;
	u->w = NULL; /* finish frees it, whatever happens */
	if (blob_write_finish(w, u->want, a->user_id, sha, &size, &err) < 0) {
		if (err.code == EBADMSG) {
			cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "%s", err.msg);
			return;
		}
		cy_log_error("upload_failed", "user", a->handle, "error", err.msg, NULL);
		cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot store the upload");
		return;
	}
	xsnprintf(size_s, sizeof(size_s), "%lld", size);
	cy_log_info("upload_stored", "user", a->handle, "sha256", sha, "size", size_s, NULL);
	cy_resp_json(resp, 201, json_pack("{s:s, s:I}", "sha256", sha, "size", (json_int_t)size));
}

void
h_nodes_job_attachment(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	const char *job = req->params[0], *sha = req->params[1];
	struct blob_reader *r;
	long long size;
	int rc;

	if (!cy_uuid_valid(job) || !blob_sha_valid(sha)) {
		cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "no such attachment");
		return;
	}
	rc = store_job_attachment_allowed(job, a->node_id, sha, &err);
	if (rc < 0) {
		cy_log_error("attachment_lookup_failed", "error", err.msg, NULL);
		cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot look up the attachment");
		return;
	}
	if (rc == 0) {
		cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND,
		    "job %s is not running on this node with attachment %s", job, sha);
		return;
	}
	if (!(r = blob_read_open(sha, &size, &err))) {
		cy_log_error("attachment_open_failed", "sha256", sha, "error", err.msg, NULL);
		cy_resp_problem(resp,
		    err.code == ENOENT ? CY_PROBLEM_NOT_FOUND : CY_PROBLEM_INTERNAL,
		    "cannot read attachment %s", sha);
		return;
	}
	cy_resp_reader(resp, 200, "application/octet-stream", (uint64_t)size, blob_read,
	    blob_read_close, r);
}
