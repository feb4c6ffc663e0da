/*
 * The blob store: files of any size (attachments in, artifacts out),
 * content-addressed by SHA-256, streamed in and out and never whole in
 * memory.  One backend today, PostgreSQL (store-blobs.c: 1 MiB bytea
 * chunk rows, so a backup stays one pg_dump); an S3-compatible backend
 * would implement these same functions (DESIGN.md section 4).
 *
 * Writing: blob_write_begin, blob_write for each piece, then
 * blob_write_finish (the blob becomes visible, deduplicated by its hash)
 * or blob_write_abort (nothing stays).  Each call is one short statement
 * or none: no transaction is held between calls, so a writer may live
 * across many callbacks of one HTTP request on a pooled thread.
 */
#ifndef SERVER_BLOBSTORE_H
#define SERVER_BLOBSTORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

#define BLOB_CHUNK (1024 * 1024)
#define BLOB_SHA_LEN 64

struct blob_writer;
struct blob_reader;

/* True when s is 64 lower-case hex digits. */
int blob_sha_valid(const char *s);

/* A new upload, or NULL with err set (the database is unreachable). */
struct blob_writer *blob_write_begin(struct cy_error *err);
/* Appends len bytes: 0, or -1 with err set (the writer must then be aborted). */
int blob_write(struct blob_writer *w, const void *data, size_t len, struct cy_error *err);
/*
 * Ends the upload: its SHA-256 must equal want (lower-case hex; NULL or
 * "" accepts any), else -1 with err->code EBADMSG.  On success the blob
 * is stored (or was already: the new copy is dropped), sha (65 bytes)
 * gets its hash and *size its size, and owner_id (a user id, or NULL)
 * owns it.  The writer is freed either way.
 */
int blob_write_finish(struct blob_writer *w, const char *want, const char *owner_id,
    char sha[BLOB_SHA_LEN + 1], long long *size, struct cy_error *err);
/* Drops an unfinished upload and what it wrote; frees w (NULL is fine). */
void blob_write_abort(struct blob_writer *w);
/* Bytes written so far. */
long long blob_write_size(const struct blob_writer *w);

/*
 * Opens the blob `sha` for reading; NULL with err set (err->code ENOENT
 * when there is none).  *size gets its size.
 */
struct blob_reader *blob_read_open(const char *sha, long long *size, struct cy_error *err);
/*
 * Copies up to max bytes from offset pos (sequential reads are cheap: one
 * chunk is fetched at a time).  Returns the count (> 0), or -1 at the end
 * or on an error.  Shaped for cy_resp_reader.
 */
ssize_t blob_read(void *r, uint64_t pos, char *buf, size_t max);
/* Frees r (NULL is fine).  Shaped for cy_resp_reader. */
void blob_read_close(void *r);

/*
 * The blob chore: drops uploads older than stale_s that never finished
 * (and their chunks), ownership rows older than owner_ttl_s whose blob no
 * task uses, and blobs nothing references any more (no owner, attachment
 * or artifact).  Returns the number of blobs removed, or -1 with err set.
 */
long long blob_gc(long long stale_s, long long owner_ttl_s, struct cy_error *err);

#endif
