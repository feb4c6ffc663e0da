-- Dispatch that never loses work (issue 7): job priority, placement
-- requirements, retry policy and backoff, the attempts of each job, the
-- Idempotency-Key of task creation, and the NOTIFY channels that wake the
-- dispatchers and the result long polls of every replica.

ALTER TABLE tasks ADD COLUMN idempotency_key text
	CHECK (idempotency_key IS NULL OR (idempotency_key <> ''
		AND length(idempotency_key) <= 255));
CREATE UNIQUE INDEX tasks_idempotency_key_idx ON tasks (created_by, idempotency_key)
	WHERE idempotency_key IS NOT NULL;
-- Retention prunes closed tasks by age.
CREATE INDEX tasks_closed_updated_idx ON tasks (updated_at) WHERE closed;

ALTER TABLE jobs
	ADD COLUMN priority integer NOT NULL DEFAULT 0
		CHECK (priority BETWEEN -1000 AND 1000),
	ADD COLUMN max_attempts integer NOT NULL DEFAULT 3
		CHECK (max_attempts BETWEEN 1 AND 100),
	ADD COLUMN retry_backoff_s integer NOT NULL DEFAULT 5
		CHECK (retry_backoff_s BETWEEN 0 AND 86400),
	ADD COLUMN not_before timestamptz,
	ADD COLUMN req_labels text[] NOT NULL DEFAULT '{}',
	ADD COLUMN req_gpus integer NOT NULL DEFAULT 0 CHECK (req_gpus BETWEEN 0 AND 1024);

-- The dispatcher takes the queue head: highest priority, then oldest.
DROP INDEX jobs_queued_idx;
CREATE INDEX jobs_queued_idx ON jobs (priority DESC, created_at) WHERE status = 'queued';

-- One row per attempt to run a job: which node, which lease, how it ended.
-- A node that was busy gives its attempt number back, so attempt may repeat.
CREATE TABLE job_attempts (
	job_id uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
	attempt integer NOT NULL CHECK (attempt >= 1),
	node_id uuid REFERENCES nodes (id) ON DELETE SET NULL,
	lease_id uuid PRIMARY KEY,
	status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed',
		'failed', 'canceled', 'lease_expired', 'dispatch_error')),
	error text,
	started_at timestamptz NOT NULL DEFAULT now(),
	ended_at timestamptz
);
CREATE INDEX job_attempts_job_id_idx ON job_attempts (job_id, attempt);
CREATE INDEX job_attempts_node_id_idx ON job_attempts (node_id);

-- Wake-ups: a new queued job (any writer) and a task that became terminal.
CREATE FUNCTION cy_notify_jobs() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('cynode_jobs', '');
	RETURN NULL;
END
$$;
CREATE TRIGGER jobs_notify_insert AFTER INSERT ON jobs
	FOR EACH STATEMENT EXECUTE FUNCTION cy_notify_jobs();

CREATE FUNCTION cy_notify_task_closed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('cynode_task_closed', NEW.id::text);
	RETURN NULL;
END
$$;
CREATE TRIGGER tasks_notify_closed AFTER UPDATE OF closed ON tasks
	FOR EACH ROW WHEN (NEW.closed AND NOT OLD.closed)
	EXECUTE FUNCTION cy_notify_task_closed();
CREATE TRIGGER tasks_notify_closed_insert AFTER INSERT ON tasks
	FOR EACH ROW WHEN (NEW.closed) EXECUTE FUNCTION cy_notify_task_closed();
