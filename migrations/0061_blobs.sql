-- Blobs (issue 14): files users attach to tasks and artifacts jobs return,
-- stored content-addressed in PostgreSQL as chunked bytea rows (see
-- server/blob-pg.c for why rows and not large objects).
--
-- An upload writes its chunks under a fresh data_id as they arrive (one
-- autocommitted INSERT per 1 MiB chunk, registered in blob_uploads while
-- it runs); the blobs row, written only once every byte is in and the
-- SHA-256 matched, is what makes it visible.  Chunks whose data_id has no
-- blobs row and no live blob_uploads row are garbage the blob chore
-- removes, so an upload cut halfway leaves nothing anyone can see.

CREATE TABLE blobs (
	sha256 text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
	size bigint NOT NULL CHECK (size >= 0),
	data_id uuid NOT NULL UNIQUE,
	created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE blob_chunks (
	data_id uuid NOT NULL,
	seq integer NOT NULL CHECK (seq >= 0),
	data bytea NOT NULL CHECK (length(data) BETWEEN 1 AND 1048576),
	PRIMARY KEY (data_id, seq)
);
-- Chunks are mostly incompressible (archives, images, models): store them
-- out of line without pglz, which would spend CPU for nothing.
ALTER TABLE blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

-- Uploads in progress; a row older than the chore's grace period is an
-- upload that died with its server or connection.
CREATE TABLE blob_uploads (
	data_id uuid PRIMARY KEY,
	started_at timestamptz NOT NULL DEFAULT now()
);

-- Who uploaded what: a task may only attach blobs its creator uploaded.
CREATE TABLE blob_owners (
	user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	sha256 text NOT NULL REFERENCES blobs (sha256) ON DELETE CASCADE,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (user_id, sha256)
);
CREATE INDEX blob_owners_sha256_idx ON blob_owners (sha256);

-- A task's attachments, placed at /workspace/<name> before its job runs.
CREATE TABLE task_attachments (
	task_id uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
	name text NOT NULL CHECK (name <> '' AND length(name) <= 1024),
	sha256 text NOT NULL REFERENCES blobs (sha256),
	size bigint NOT NULL CHECK (size >= 0),
	PRIMARY KEY (task_id, name)
);
CREATE INDEX task_attachments_sha256_idx ON task_attachments (sha256);

-- task_artifacts held the attachment path strings of the old CreateTask
-- (no file was ever behind them, so they are dropped).  It now holds the
-- files jobs return: one row per artifact name of a task, pointing at its
-- blob, with the lease of the attempt that uploaded it (only the rows of
-- a job's latest attempt are shown: a retried attempt's leftovers never
-- are) and an expiry.
DELETE FROM task_artifacts;
ALTER TABLE task_artifacts
	ADD COLUMN job_id uuid REFERENCES jobs (id) ON DELETE CASCADE,
	ADD COLUMN lease_id uuid,
	ADD COLUMN expires_at timestamptz,
	ALTER COLUMN checksum_sha256 SET NOT NULL,
	ALTER COLUMN size_bytes SET NOT NULL,
	ADD CONSTRAINT task_artifacts_blob_fkey FOREIGN KEY (checksum_sha256)
		REFERENCES blobs (sha256),
	ADD CONSTRAINT task_artifacts_path_len CHECK (length(path) <= 1024);
CREATE INDEX task_artifacts_sha256_idx ON task_artifacts (checksum_sha256);
CREATE INDEX task_artifacts_expires_idx ON task_artifacts (expires_at)
	WHERE expires_at IS NOT NULL;
