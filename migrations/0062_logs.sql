-- Complete, durable job logs: the node streams each
-- attempt's stdout and stderr to the server while the job runs
-- (POST /v1/nodes/jobs/{id}/logs), and the server keeps them here, whole up
-- to a per-stream limit.  One job_logs row per attempt and stream says how
-- far the stream got: end_offset bytes written by the job so far (all of
-- them once `ended`), stored_bytes of them kept (a prefix: the limit cuts
-- the rest, counted as lost = end_offset - stored_bytes; so are bytes the
-- node itself could not keep).  The kept bytes
-- are job_log_chunks rows, contiguous from offset 0, each at most 1 MiB.

CREATE TABLE job_logs (
	lease_id uuid NOT NULL REFERENCES job_attempts (lease_id) ON DELETE CASCADE,
	stream text NOT NULL CHECK (stream IN ('stdout', 'stderr')),
	job_id uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
	limit_bytes bigint NOT NULL CHECK (limit_bytes >= 0),
	stored_bytes bigint NOT NULL DEFAULT 0 CHECK (stored_bytes >= 0),
	end_offset bigint NOT NULL DEFAULT 0,
	ended boolean NOT NULL DEFAULT false,
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (lease_id, stream),
	CHECK (stored_bytes <= limit_bytes),
	CHECK (end_offset >= stored_bytes),
	-- Below the limit nothing is lost, unless the node lost bytes itself
	-- (its own cap, a full disk) and said so at the end.
	CHECK (stored_bytes = limit_bytes OR stored_bytes = end_offset OR ended)
);
CREATE INDEX job_logs_job_id_idx ON job_logs (job_id);

CREATE TABLE job_log_chunks (
	lease_id uuid NOT NULL,
	stream text NOT NULL,
	byte_offset bigint NOT NULL CHECK (byte_offset >= 0),
	data bytea NOT NULL CHECK (octet_length(data) BETWEEN 1 AND 1048576),
	PRIMARY KEY (lease_id, stream, byte_offset),
	FOREIGN KEY (lease_id, stream) REFERENCES job_logs (lease_id, stream) ON DELETE CASCADE
);
