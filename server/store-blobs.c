/*
 * The PostgreSQL backend of the blob store (blobstore.h), and all its SQL.
 *
 * Chunked bytea rows, not large objects.  Large objects live outside the
 * tables (pg_largeobject), so nothing cascades to them: every delete needs
 * its lo_unlink and a missed one leaks until vacuumlo; their descriptors
 * are valid only inside one transaction, so a streamed upload would hold
 * a transaction (and a connection of its own) open for as long as the
 * client takes to send, while our connections are one per server thread
 * shared by every request that thread serves; and they are owned and
 * permissioned apart from the rows that refer to them.  Plain rows of
 * 1 MiB chunks are written by one short autocommitted INSERT each as the
 * body arrives, read back one chunk at a time (bounded memory), deleted by
 * ordinary DELETEs, replicated and dumped like every other row, and hidden
 * until the blobs row that names them is committed: chunks are keyed by a
 * random data_id because the hash is known only once the last byte is in.
 * The cost is TOAST's per-row overhead (about 0.5%) and no random-access
 * writes, which nothing here needs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "digest.h"
#include "blobstore.h"
#include "db.h"
#include "id.h"
#include "log.h"
#include "store-blobs.h"
#include "store-util.h"
#include "banned.h"

struct blob_writer {
	char data_id[CY_UUID_LEN + 1];
	struct cy_sha256 md;
	unsigned char *buf; /* the chunk being filled, BLOB_CHUNK bytes */
	size_t len;
	int seq;
	long long size;
};

struct blob_reader {
	char data_id[CY_UUID_LEN + 1];
	long long size;
	PGresult *chunk; /* the chunk of seq `seq`, binary */
	int seq;
};

int
blob_sha_valid(const char *s)
{
	size_t i;

	for (i = 0; i < BLOB_SHA_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[BLOB_SHA_LEN] == '\0';
}

struct blob_writer *
blob_write_begin(struct cy_error *err)
{
	struct blob_writer *w = xcalloc(1, sizeof(*w));
	const char *p[1];

	cy_uuid_v4(w->data_id);
	p[0] = w->data_id;
	if (store_run("blob_upload_begin", "INSERT INTO blob_uploads (data_id) VALUES ($1::uuid)",
		1, p, err) < 0) {
		free(w);
		return NULL;
	}
	cy_sha256_init(&w->md);
	w->buf = xmalloc(BLOB_CHUNK);
	return w;
}

/* Writes the filled part of the chunk buffer as row `seq`. */
static int
blob_flush(struct blob_writer *w, struct cy_error *err)
{
	char seq[16];
	const char *p[3] = { w->data_id, seq, (const char *)w->buf };
	int len[3] = { 0, 0, (int)w->len }, fmt[3] = { 0, 0, 1 };
	PGresult *res;

	if (w->len == 0)
		return 0;
	xsnprintf(seq, sizeof(seq), "%d", w->seq);
	res = db_exec_bin("blob_chunk_put",
	    "INSERT INTO blob_chunks (data_id, seq, data) VALUES ($1::uuid, $2::int, $3::bytea)", 3,
	    p, len, fmt, 0, err);
	if (!res)
		return -1;
	PQclear(res);
	w->seq++;
	w->len = 0;
	return 0;
}

int
blob_write(struct blob_writer *w, const void *data, size_t len, struct cy_error *err)
{
	const unsigned char *d = data;

	cy_sha256_update(&w->md, data, len);
	w->size += (long long)len;
	while (len > 0) {
		size_t n = BLOB_CHUNK - w->len;

		if (n > len)
			n = len;
		memcpy(w->buf + w->len, d, n);
		w->len += n;
		d += n;
		len -= n;
		if (w->len == BLOB_CHUNK && blob_flush(w, err) < 0)
			return -1;
	}
	return 0;
}

long long
blob_write_size(const struct blob_writer *w)
{
	return w->size;
}

static void
blob_writer_free(struct blob_writer *w)
{
	cy_sha256_abort(&w->md);
	free(w->buf);
	free(w);
}

/* Deletes the chunks and the upload row of data_id. */
static void
blob_drop_data(const char *data_id)
{
	struct cy_error err = CY_ERROR_INIT;
	const char *p[1] = { data_id };

	if (store_run("blob_chunks_drop", "DELETE FROM blob_chunks WHERE data_id = $1::uuid", 1, p,
		&err) < 0 ||
	    store_run("blob_upload_drop", "DELETE FROM blob_uploads WHERE data_id = $1::uuid", 1, p,
		&err) < 0)
		cy_log_warn("blob_drop_failed", "data_id", data_id, "error", err.msg, NULL);
}

void
blob_write_abort(struct blob_writer *w)
{
	if (!w)
		return;
	blob_drop_data(w->data_id);
	blob_writer_free(w);
}

/*
 * The blob row (or the one already there, its grace renewed) and the
 * owner row, in one transaction; *dup when the blob existed.
 */
static int
blob_commit(struct blob_writer *w, const char *sha, const char *owner_id, int *dup,
    struct cy_error *err)
{
	char size[24];
	const char *p[3] = { sha, size, w->data_id };
	const char *po[2] = { owner_id, sha };
	PGresult *res;

	xsnprintf(size, sizeof(size), "%lld", w->size);
	if (db_begin(err) < 0)
		return -1;
	res = db_exec("blob_commit",
	    "INSERT INTO blobs (sha256, size, data_id) VALUES ($1, $2::bigint, $3::uuid) "
	    "ON CONFLICT (sha256) DO UPDATE SET created_at = now() RETURNING data_id::text",
	    3, p, err);
	if (!res)
		goto fail;
	*dup = PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), w->data_id) != 0;
	PQclear(res);
	if (owner_id && store_run("blob_owner_add",
			    "INSERT INTO blob_owners (user_id, sha256) VALUES ($1::uuid, $2) "
			    "ON CONFLICT (user_id, sha256) DO UPDATE SET created_at = now()",
			    2, po, err) < 0)
		goto fail;
	if (store_run("blob_upload_done", "DELETE FROM blob_uploads WHERE data_id = $1::uuid", 1,
		p + 2, err) < 0)
		goto fail;
	return db_commit(err);
fail:
	db_rollback();
	return -1;
}

int
blob_write_finish(struct blob_writer *w, const char *want, const char *owner_id,
    char sha[BLOB_SHA_LEN + 1], long long *size, struct cy_error *err)
{
	int dup = 0;

	if (blob_flush(w, err) < 0)
		goto fail;
	cy_sha256_final_hex(&w->md, sha);
	if (want && *want && strcmp(want, sha) != 0) {
		cy_error_set(err, EBADMSG,
		    "the body's SHA-256 is %s, not the %.64s the request claimed", sha, want);
		goto fail;
	}
	if (blob_commit(w, sha, owner_id, &dup, err) < 0)
		goto fail;
	if (dup)
		blob_drop_data(w->data_id);
	*size = w->size;
	blob_writer_free(w);
	return 0;
fail:
	blob_write_abort(w);
	return -1;
}

struct blob_reader *
blob_read_open(const char *sha, long long *size, struct cy_error *err)
{
	const char *p[1] = { sha };
	struct blob_reader *r;
	PGresult *res;

	res = db_exec("blob_open", "SELECT data_id::text, size FROM blobs WHERE sha256 = $1", 1, p,
	    err);
	if (!res)
		return NULL;
	if (PQntuples(res) != 1) {
		PQclear(res);
		cy_error_set(err, ENOENT, "no blob %.64s", sha);
		return NULL;
	}
	r = xcalloc(1, sizeof(*r));
	xsnprintf(r->data_id, sizeof(r->data_id), "%s", PQgetvalue(res, 0, 0));
	r->size = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	r->seq = -1;
	*size = r->size;
	PQclear(res);
	return r;
}

ssize_t
blob_read(void *arg, uint64_t pos, char *buf, size_t max)
{
	struct blob_reader *r = arg;
	struct cy_error err = CY_ERROR_INIT;
	int seq = (int)(pos / BLOB_CHUNK);
	size_t off = (size_t)(pos % BLOB_CHUNK), have;
	char seqs[16];
	const char *p[2] = { r->data_id, seqs };

	if ((long long)pos >= r->size)
		return -1;
	if (seq != r->seq) {
		if (r->chunk)
			PQclear(r->chunk);
		r->seq = -1;
		xsnprintf(seqs, sizeof(seqs), "%d", seq);
		r->chunk = db_exec_bin("blob_chunk_get",
		    "SELECT data FROM blob_chunks WHERE data_id = $1::uuid AND seq = $2::int", 2, p,
		    NULL, NULL, 1, &err);
		if (!r->chunk || PQntuples(r->chunk) != 1) {
			cy_log_error("blob_read_failed", "data_id", r->data_id, "seq", seqs,
			    "error", r->chunk ? "chunk missing" : err.msg, NULL);
			if (r->chunk)
				PQclear(r->chunk);
			r->chunk = NULL;
			return -1;
		}
		r->seq = seq;
	}
	have = (size_t)PQgetlength(r->chunk, 0, 0);
	if (off >= have)
		return -1;
	if (max > have - off)
		max = have - off;
	memcpy(buf, PQgetvalue(r->chunk, 0, 0) + off, max);
	return (ssize_t)max;
}

void
blob_read_close(void *arg)
{
	struct blob_reader *r = arg;

	if (!r)
		return;
	if (r->chunk)
		PQclear(r->chunk);
	free(r);
}

/* clang-format off */
#define BLOB_UNUSED \
	"NOT EXISTS (SELECT 1 FROM blob_owners o WHERE o.sha256 = b.sha256) " \
	"AND NOT EXISTS (SELECT 1 FROM task_attachments a WHERE a.sha256 = b.sha256) " \
	"AND NOT EXISTS (SELECT 1 FROM task_artifacts t WHERE t.checksum_sha256 = b.sha256)"
/* clang-format on */

long long
blob_gc(long long stale_s, long long owner_ttl_s, struct cy_error *err)
{
	char stale[24], ttl[24];
	const char *p[1];
	PGresult *res;
	long long n;

	xsnprintf(stale, sizeof(stale), "%lld", stale_s);
	xsnprintf(ttl, sizeof(ttl), "%lld", owner_ttl_s);
	p[0] = stale;
	if (store_run("blob_gc_uploads",
		"WITH d AS (DELETE FROM blob_uploads "
		"WHERE started_at < now() - $1::bigint * interval '1 second' RETURNING data_id) "
		"DELETE FROM blob_chunks c USING d WHERE c.data_id = d.data_id",
		1, p, err) < 0)
		return -1;
	p[0] = ttl;
	if (store_run("blob_gc_owners",
		"DELETE FROM blob_owners o "
		"WHERE o.created_at < now() - $1::bigint * interval '1 second' "
		"AND NOT EXISTS (SELECT 1 FROM task_attachments a JOIN tasks t ON t.id = a.task_id "
		"WHERE a.sha256 = o.sha256 AND t.created_by = o.user_id AND NOT t.closed)",
		1, p, err) < 0)
		return -1;
	/* A blob gets a minute of grace: its first reference may be on its way. */
	res = db_exec("blob_gc_blobs",
	    "WITH d AS (DELETE FROM blobs b WHERE b.created_at < now() - interval '60 seconds' "
	    "AND " BLOB_UNUSED " RETURNING data_id), "
	    "c AS (DELETE FROM blob_chunks c USING d WHERE c.data_id = d.data_id) "
	    "SELECT count(*) FROM d",
	    0, NULL, err);
	if (!res)
		return -1;
	n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return n;
}

int
store_job_attachment_allowed(const char *job_id, const char *node_id, const char *sha,
    struct cy_error *err)
{
	const char *p[3] = { job_id, node_id, sha };
	PGresult *res;
	int n;

	res = db_exec("job_attachment_allowed",
	    "SELECT 1 FROM jobs j JOIN task_attachments a ON a.task_id = j.task_id "
	    "WHERE j.id = $1::uuid AND j.node_id = $2::uuid AND j.status = 'running' "
	    "AND a.sha256 = $3 LIMIT 1",
	    3, p, err);
	if (!res)
		return -1;
	n = PQntuples(res);
	PQclear(res);
	return n > 0;
}

int
store_blob_owned(const char *user_id, const char *sha, long long *size, struct cy_error *err)
{
	const char *p[2] = { user_id, sha };
	PGresult *res;
	int found;

	res = db_exec("blob_owned",
	    "SELECT b.size FROM blob_owners o JOIN blobs b ON b.sha256 = o.sha256 "
	    "WHERE o.user_id = $1::uuid AND o.sha256 = $2",
	    2, p, err);
	if (!res)
		return -1;
	found = PQntuples(res) == 1;
	if (found)
		*size = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return found;
}

int
store_job_running_here(const char *job_id, const char *node_id, char task_id[CY_UUID_LEN + 1],
    char lease_id[CY_UUID_LEN + 1], struct cy_error *err)
{
	const char *p[2] = { job_id, node_id };
	PGresult *res;
	int found;

	res = db_exec("job_running_here",
	    "SELECT task_id::text, lease_id::text FROM jobs WHERE id = $1::uuid "
	    "AND node_id = $2::uuid AND status = 'running' AND lease_id IS NOT NULL",
	    2, p, err);
	if (!res)
		return -1;
	found = PQntuples(res) == 1;
	if (found) {
		xsnprintf(task_id, CY_UUID_LEN + 1, "%s", PQgetvalue(res, 0, 0));
		xsnprintf(lease_id, CY_UUID_LEN + 1, "%s", PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	return found;
}

int
store_artifact_put(const struct artifact_new *a, char id[CY_UUID_LEN + 1], struct cy_error *err)
{
	char size[24], ttl[24];
	const char *p[8] = { a->task_id, a->job_id, a->lease_id, a->name, size, a->content_type,
		a->sha256, ttl };
	PGresult *res;
	int found;

	xsnprintf(size, sizeof(size), "%lld", a->size);
	xsnprintf(ttl, sizeof(ttl), "%lld", a->retention_s);
	res = db_exec("artifact_put",
	    "INSERT INTO task_artifacts (task_id, job_id, lease_id, path, storage_ref, size_bytes, "
	    "content_type, checksum_sha256, expires_at) "
	    "SELECT $1::uuid, $2::uuid, $3::uuid, $4, 'blob', $5::bigint, $6, $7, "
	    "now() + $8::bigint * interval '1 second' "
	    "WHERE EXISTS (SELECT 1 FROM jobs WHERE id = $2::uuid AND lease_id = $3::uuid "
	    "AND status = 'running') "
	    "ON CONFLICT (task_id, path) DO UPDATE SET job_id = EXCLUDED.job_id, "
	    "lease_id = EXCLUDED.lease_id, size_bytes = EXCLUDED.size_bytes, "
	    "content_type = EXCLUDED.content_type, checksum_sha256 = EXCLUDED.checksum_sha256, "
	    "created_at = now(), expires_at = EXCLUDED.expires_at "
	    "RETURNING id::text",
	    8, p, err);
	if (!res)
		return -1;
	found = PQntuples(res) == 1;
	if (found)
		xsnprintf(id, CY_UUID_LEN + 1, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return found;
}

/* clang-format off */
/* The artifacts a task shows: its jobs' latest attempts', not expired. */
#define ARTIFACT_VISIBLE \
	"a.task_id = $1::uuid AND (a.expires_at IS NULL OR a.expires_at > now()) " \
	"AND a.lease_id = (SELECT y.lease_id FROM job_attempts y WHERE y.job_id = a.job_id " \
	"ORDER BY y.attempt DESC LIMIT 1)"
#define ARTIFACT_JSON \
	"json_build_object('artifact_id', a.id, 'name', a.path, 'size_bytes', a.size_bytes, " \
	"'sha256', a.checksum_sha256, 'content_type', a.content_type, " \
	"'created_at', " SQL_TS("a.created_at") ", 'expires_at', " SQL_TS("a.expires_at") ")"
/* clang-format on */

json_t *
store_artifacts_list(const char *task_id, struct cy_error *err)
{
	const char *p[1] = { task_id };
	PGresult *res;
	json_t *v;

	res = db_exec("artifacts_list",
	    "SELECT COALESCE(json_agg(" ARTIFACT_JSON " ORDER BY a.path)::text, '[]') "
	    "FROM task_artifacts a WHERE " ARTIFACT_VISIBLE,
	    1, p, err);
	if (!res)
		return NULL;
	v = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	PQclear(res);
	if (!v)
		cy_error_set(err, EIO, "bad artifacts JSON");
	return v;
}

json_t *
store_artifact_get(const char *task_id, const char *ref, struct cy_error *err)
{
	const char *p[2] = { task_id, ref };
	PGresult *res;
	json_t *v = NULL;

	res = db_exec("artifact_get",
	    "SELECT " ARTIFACT_JSON "::text FROM task_artifacts a WHERE " ARTIFACT_VISIBLE
	    " AND (a.id::text = $2 OR a.path = $2) ORDER BY (a.id::text = $2) DESC LIMIT 1",
	    2, p, err);
	if (!res)
		return NULL;
	if (PQntuples(res) == 1)
		v = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	else
		cy_error_set(err, ENOENT, "no artifact '%s'", ref);
	PQclear(res);
	return v;
}

long long
store_artifacts_expire(struct cy_error *err)
{
	PGresult *res;
	long long n;

	/*
	 * Expired ones, and those of attempts that are no job's latest any
	 * more (a retried attempt's leftovers).
	 */
	res = db_exec("artifacts_expire",
	    "WITH d AS (DELETE FROM task_artifacts a WHERE a.expires_at <= now() "
	    "OR a.lease_id IS DISTINCT FROM (SELECT y.lease_id FROM job_attempts y "
	    "WHERE y.job_id = a.job_id ORDER BY y.attempt DESC LIMIT 1) RETURNING 1) "
	    "SELECT count(*) FROM d",
	    0, NULL, err);
	if (!res)
		return -1;
	n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return n;
}
