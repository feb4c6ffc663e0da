/*
 * SQL about blobs other than the store itself (blobstore.h): who may read
 * which blob, and the attachment rows of tasks.
 */
#ifndef SERVER_STORE_BLOBS_H
#define SERVER_STORE_BLOBS_H

#include "error.h"

/*
 * 1 when job_id runs on node_id now and its task attaches blob sha, 0
 * when not, -1 with err set.
 */
int store_job_attachment_allowed(const char *job_id, const char *node_id, const char *sha,
    struct cy_error *err);
/* 1 with *size when user_id uploaded blob sha (and it is stored), 0 when not, -1 on error. */
int store_blob_owned(const char *user_id, const char *sha, long long *size, struct cy_error *err);

#endif
