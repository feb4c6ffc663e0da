/*
 * SQL about blobs other than the store itself (blobstore.h): who may read
 * which blob, and the attachment rows of tasks.
 */
#ifndef SERVER_STORE_BLOBS_H
#define SERVER_STORE_BLOBS_H

#include <jansson.h>

#include "error.h"
#include "id.h"

/*
 * 1 when job_id runs on node_id now and its task attaches blob sha, 0
 * when not, -1 with err set.
 */
int store_job_attachment_allowed(const char *job_id, const char *node_id, const char *sha,
    struct cy_error *err);
/* 1 with *size when user_id uploaded blob sha (and it is stored), 0 when not, -1 on error. */
int store_blob_owned(const char *user_id, const char *sha, long long *size, struct cy_error *err);

/*
 * 1 with the job's task and lease when job_id runs on node_id now, 0 when
 * not, -1 with err set.
 */
int store_job_running_here(const char *job_id, const char *node_id, char task_id[CY_UUID_LEN + 1],
    char lease_id[CY_UUID_LEN + 1], struct cy_error *err);

/* An artifact a node uploaded (its blob stored already). */
struct artifact_new {
	const char *task_id, *job_id, *lease_id;
	const char *name; /* checked with cy_relpath_valid */
	const char *sha256;
	const char *content_type; /* NULL: unknown */
	long long size;
	long long retention_s; /* expires this long from now */
};
/*
 * Stores (or replaces, by name) the task's artifact while the job still
 * runs under that lease: 1 with its id, 0 when the job no longer does, -1
 * with err set.
 */
int store_artifact_put(const struct artifact_new *a, char id[CY_UUID_LEN + 1],
    struct cy_error *err);
/*
 * The artifacts a task shows (its jobs' latest attempts', not expired) as
 * [{artifact_id, name, size_bytes, sha256, content_type, created_at,
 * expires_at}] by name; NULL with err set.
 */
json_t *store_artifacts_list(const char *task_id, struct cy_error *err);
/* One of them by id or name; NULL with err set (ENOENT: none). */
json_t *store_artifact_get(const char *task_id, const char *ref, struct cy_error *err);
/* Deletes expired artifacts and a retried attempt's; the count or -1. */
long long store_artifacts_expire(struct cy_error *err);

#endif
