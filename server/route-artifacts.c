/*
 * Artifacts: the files a job leaves behind.  The node PUTs each one to
 * /v1/nodes/jobs/{id}/artifacts?name=NAME while the job still runs under
 * its lease (streamed into the blob store, capped by
 * limits.artifact_max_bytes); the row that makes it visible is written
 * only once the blob is whole, and only while that attempt is the job's
 * latest, so an attempt cut midway leaves nothing half-visible.  Users
 * list them (GET /v1/tasks/{id}/artifacts) and download one by id or name
 * (GET /v1/tasks/{id}/artifacts/{ref}, or ?name= for a name holding '/'),
 * streamed from the blob store with its length and a Content-Disposition.
 * Each expires artifacts.retention after its upload (the blob chore).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "auth.h"
#include "blobstore.h"
#include "buf.h"
#include "id.h"
#include "json.h"
#include "log.h"
#include "relpath.h"
#include "server.h"
#include "store-blobs.h"
#include "store-tasks.h"
#include "tasks.h"
#include "banned.h"

/* An artifact upload in progress: the request's state. */
struct artifact_up {
	struct blob_writer *w;
	char task_id[CY_UUID_LEN + 1], lease_id[CY_UUID_LEN + 1];
	char *name;
};

static void
artifact_up_free(void *p)
{
	struct artifact_up *u = p;

	blob_write_abort(u->w);
	free(u->name);
	free(u);
}

/* A content type for well-known extensions; NULL when unknown. */
static const char *
artifact_content_type(const char *name)
{
	static const char *const map[][2] = { { "txt", "text/plain" }, { "log", "text/plain" },
		{ "md", "text/markdown" }, { "csv", "text/csv" }, { "json", "application/json" },
		{ "html", "text/html" }, { "xml", "application/xml" }, { "pdf", "application/pdf" },
		{ "png", "image/png" }, { "jpg", "image/jpeg" }, { "jpeg", "image/jpeg" },
		{ "svg", "image/svg+xml" }, { "tar", "application/x-tar" },
		{ "gz", "application/gzip" }, { "zip", "application/zip" } };
	const char *dot = strrchr(name, '.'), *slash = strrchr(name, '/');
	size_t i;

	if (!dot || (slash && dot < slash))
		return NULL;
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcasecmp(dot + 1, map[i][0]))
			return map[i][1];
	return NULL;
}

int
b_nodes_job_artifact_body(struct cy_http_req *req, const char *data, size_t len,
    struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	struct artifact_up *u = req->state;

	if (!u) {
		const char *name = cy_req_query(req, "name"), *why = "the name is missing";
		int rc;

		if (!name || !cy_relpath_valid(name, strlen(name), &why)) {
			cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "name '%.200s': %s",
			    name ? name : "", why);
			return -1;
		}
		if (!cy_uuid_valid(req->params[0])) {
			cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "no such job");
			return -1;
		}
		u = xcalloc(1, sizeof(*u));
		rc = store_job_running_here(req->params[0], a->node_id, u->task_id, u->lease_id,
		    &err);
		if (rc <= 0) {
			free(u);
			if (rc < 0) {
				cy_log_error("artifact_lookup_failed", "error", err.msg, NULL);
				cy_resp_problem(resp, CY_PROBLEM_INTERNAL,
				    "cannot look up the job");
			} else {
				cy_resp_problem(resp, CY_PROBLEM_CONFLICT,
				    "job %s is not running on this node", req->params[0]);
			}
			return -1;
		}
		if (!(u->w = blob_write_begin(&err))) {
			free(u);
			cy_log_error("artifact_upload_failed", "error", err.msg, NULL);
			cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot store the artifact");
			return -1;
		}
		u->name = xstrdup(name);
		req->state = u;
		req->state_free = artifact_up_free;
	}
	if (len > 0 && blob_write(u->w, data, len, &err) < 0) {
		cy_log_error("artifact_upload_failed", "error", err.msg, NULL);
		cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot store the artifact");
		return -1;
	}
	return 0;
}

void
h_nodes_job_artifact_put(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	struct artifact_up *u = req->state;
	struct artifact_new an = { 0 };
	char sha[BLOB_SHA_LEN + 1], id[CY_UUID_LEN + 1];
	struct blob_writer *w;
	long long size = 0;
	int rc;

	if (!u || !u->w) {
		cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "no upload");
		return;
	}
	w = u->w;
	u->w = NULL;
	if (blob_write_finish(w, NULL, NULL, sha, &size, &err) < 0) {
		cy_log_error("artifact_upload_failed", "error", err.msg, NULL);
		cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot store the artifact");
		return;
	}
	an.task_id = u->task_id;
	an.job_id = req->params[0];
	an.lease_id = u->lease_id;
	an.name = u->name;
	an.sha256 = sha;
	an.size = size;
	an.content_type = artifact_content_type(u->name);
	an.retention_s = srv.cfg.artifacts_retention_s;
	rc = store_artifact_put(&an, id, &err);
	if (rc < 0) {
		cy_log_error("artifact_store_failed", "error", err.msg, NULL);
		cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot store the artifact");
		return;
	}
	if (rc == 0) {
		cy_resp_problem(resp, CY_PROBLEM_CONFLICT, "job %s is not running on this node",
		    req->params[0]);
		return;
	}
	cy_log_info("artifact_stored", "job_id", req->params[0], "node", a->node_slug, "name",
	    u->name, "sha256", sha, NULL);
	cy_resp_json(resp, 201,
	    json_pack("{s:s, s:s, s:s, s:I}", "artifact_id", id, "name", u->name, "sha256", sha,
		"size_bytes", (json_int_t)size));
}

/* The task of req->params[0] the caller may read: its id in out, or -1 with resp filled. */
static int
artifacts_task(struct cy_http_req *req, char out[CY_UUID_LEN + 1], struct cy_http_resp *resp)
{
	PGresult *res = task_lookup(req, resp);

	if (!res)
		return -1;
	xsnprintf(out, CY_UUID_LEN + 1, "%s", PQgetvalue(res, 0, TC_ID));
	PQclear(res);
	return 0;
}

void
h_tasks_artifacts_list(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	char task[CY_UUID_LEN + 1];
	json_t *list;

	if (artifacts_task(req, task, resp) < 0)
		return;
	if (!(list = store_artifacts_list(task, &err))) {
		cy_log_error("artifacts_list_failed", "error", err.msg, NULL);
		cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot list the artifacts");
		return;
	}
	cy_resp_json(resp, 200, json_pack("{s:s, s:o}", "task_id", task, "artifacts", list));
}

/* A Content-Disposition for name: its last component, quoted safely (RFC 6266 / 5987). */
static void
artifact_disposition(const char *name, struct cy_buf *out)
{
	const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
	const unsigned char *s;

	cy_buf_addstr(out, "attachment; filename=\"");
	for (s = (const unsigned char *)base; *s; s++)
		cy_buf_addch(out, *s < 0x20 || *s >= 0x7f || *s == '"' || *s == '\\' ? '_' : *s);
	cy_buf_addstr(out, "\"; filename*=UTF-8''");
	for (s = (const unsigned char *)base; *s; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("-._~", *s))
			cy_buf_addch(out, *s);
		else
			cy_buf_addf(out, "%%%02X", *s);
	}
}

void
h_tasks_artifact_get(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	struct cy_buf disp = CY_BUF_INIT;
	char task[CY_UUID_LEN + 1];
	const char *ref = req->params[1], *ct;
	struct blob_reader *r;
	long long size;
	json_t *art;

	if (!strcmp(ref, "content") && cy_req_query(req, "name"))
		ref = cy_req_query(req, "name");
	if (artifacts_task(req, task, resp) < 0)
		return;
	if (!(art = store_artifact_get(task, ref, &err))) {
		if (err.code == ENOENT) {
			cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND,
			    "task %s has no artifact '%.200s'", task, ref);
			return;
		}
		cy_log_error("artifact_get_failed", "error", err.msg, NULL);
		cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot read the artifact");
		return;
	}
	if (!(r = blob_read_open(cy_json_str(art, "sha256"), &size, &err))) {
		cy_log_error("artifact_open_failed", "error", err.msg, NULL);
		cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot read the artifact");
		json_decref(art);
		return;
	}
	ct = cy_json_str(art, "content_type");
	artifact_disposition(cy_json_str(art, "name"), &disp);
	/* Served as bytes whatever the type: a browser must not render it. */
	cy_resp_reader(resp, 200, "application/octet-stream", (uint64_t)size, blob_read,
	    blob_read_close, r);
	cy_resp_header(resp, "Content-Disposition", disp.buf);
	cy_resp_header(resp, "X-Content-SHA256", cy_json_str(art, "sha256"));
	if (ct)
		cy_resp_header(resp, "X-Artifact-Content-Type", ct);
	cy_resp_header(resp, "X-Content-Type-Options", "nosniff");
	cy_buf_release(&disp);
	json_decref(art);
}
