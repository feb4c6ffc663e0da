-- Accounting: one row per finished job attempt, like
-- Slurm's sacct records: who ran it, in which queue, on which node, what it
-- asked for, what it used (CPU seconds and peak memory from the job's
-- cgroup, as the node reports them in its result's "usage" object), how
-- long it took and how it ended.
--
-- The row is written by a trigger when an attempt ends (job_attempts gets
-- its ended_at), so it lands in the same transaction as the result, the
-- lease expiry, the dispatch error or the cancel that ended it, whichever
-- path that was.  The table holds copies (user handle, node slug) and no
-- foreign keys on purpose: accounting outlives the tasks that retention
-- prunes, the nodes that are deleted and the users that are removed.

CREATE TABLE job_accounting (
	lease_id uuid PRIMARY KEY,
	job_id uuid NOT NULL,
	task_id uuid NOT NULL,
	user_id uuid NOT NULL,
	user_handle text NOT NULL,
	-- The job's queue (jobs.queue of migration 0095), 'default' without
	-- one (see cy_job_queue below).
	queue text NOT NULL DEFAULT 'default' CHECK (queue <> ''),
	node_id uuid,
	node_slug text,
	attempt integer NOT NULL CHECK (attempt >= 1),
	attempts integer NOT NULL CHECK (attempts >= 0),
	status text NOT NULL CHECK (status IN ('completed', 'failed', 'canceled',
		'lease_expired', 'dispatch_error')),
	exit_code integer,
	req_cpus integer CHECK (req_cpus IS NULL OR req_cpus >= 0),
	req_memory_mb bigint CHECK (req_memory_mb IS NULL OR req_memory_mb >= 0),
	req_gpus integer NOT NULL DEFAULT 0 CHECK (req_gpus >= 0),
	cpu_seconds double precision CHECK (cpu_seconds IS NULL OR cpu_seconds >= 0),
	cpu_user_seconds double precision
		CHECK (cpu_user_seconds IS NULL OR cpu_user_seconds >= 0),
	cpu_system_seconds double precision
		CHECK (cpu_system_seconds IS NULL OR cpu_system_seconds >= 0),
	peak_memory_bytes bigint CHECK (peak_memory_bytes IS NULL OR peak_memory_bytes >= 0),
	gpu_seconds double precision CHECK (gpu_seconds IS NULL OR gpu_seconds >= 0),
	usage_source text CHECK (usage_source IS NULL OR usage_source IN ('cgroup_v2',
		'cgroup_v1', 'rusage', 'mixed')),
	started_at timestamptz NOT NULL,
	ended_at timestamptz NOT NULL,
	wall_seconds double precision NOT NULL CHECK (wall_seconds >= 0)
);
-- Listing pages newest first; per user and per node windows.
CREATE INDEX job_accounting_ended_idx ON job_accounting (ended_at DESC, lease_id DESC);
CREATE INDEX job_accounting_user_idx ON job_accounting (user_id, ended_at DESC);
CREATE INDEX job_accounting_node_idx ON job_accounting (node_slug, ended_at DESC);

-- The job's queue: the jobs.queue column where the schema has one, else
-- 'default'.  Looked up by name so that this migration, applied before
-- 0095 adds the column, does not depend on it.
CREATE FUNCTION cy_job_queue(j uuid) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
	q text;
BEGIN
	IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'jobs'::regclass
			AND attname = 'queue' AND NOT attisdropped) THEN
		EXECUTE 'SELECT queue::text FROM jobs WHERE id = $1' INTO q USING j;
	END IF;
	RETURN COALESCE(NULLIF(q, ''), 'default');
END
$$;

-- A number of the node's usage object, or NULL when it is not a
-- non-negative number (a bad report never stops the result).
CREATE FUNCTION cy_usage_num(u jsonb, k text) RETURNS double precision
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN jsonb_typeof(u->k) = 'number' AND (u->>k)::numeric >= 0
		THEN LEAST((u->>k)::numeric, 1e15)::double precision END
$$;

-- The accounting row of the attempt NEW, which just ended.  The job's
-- result (and its usage) counts only while the job still holds this
-- attempt's lease: a retried or expired attempt has no result of its own.
CREATE FUNCTION cy_job_accounting_record() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO job_accounting (lease_id, job_id, task_id, user_id, user_handle, queue,
		node_id, node_slug, attempt, attempts, status, exit_code, req_cpus,
		req_memory_mb, req_gpus, cpu_seconds, cpu_user_seconds, cpu_system_seconds,
		peak_memory_bytes, gpu_seconds, usage_source, started_at, ended_at,
		wall_seconds)
	SELECT NEW.lease_id, j.id, j.task_id, t.created_by, u.handle, cy_job_queue(j.id),
		NEW.node_id, n.node_slug, NEW.attempt, j.attempts, NEW.status,
		CASE WHEN own THEN j.exit_code END,
		CASE WHEN jsonb_typeof(j.payload->'resources'->'cpu_cores') = 'number'
			THEN (j.payload->'resources'->>'cpu_cores')::numeric::int END,
		CASE WHEN jsonb_typeof(j.payload->'resources'->'memory_mb') = 'number'
			THEN (j.payload->'resources'->>'memory_mb')::numeric::bigint END,
		j.req_gpus,
		cy_usage_num(us, 'cpu_seconds'), cy_usage_num(us, 'cpu_user_seconds'),
		cy_usage_num(us, 'cpu_system_seconds'),
		cy_usage_num(us, 'peak_memory_bytes')::bigint, cy_usage_num(us, 'gpu_seconds'),
		CASE WHEN us->>'source' IN ('cgroup_v2', 'cgroup_v1', 'rusage', 'mixed')
			THEN us->>'source' END,
		NEW.started_at, NEW.ended_at,
		CASE WHEN cy_usage_num(us, 'wall_seconds') IS NOT NULL
			THEN LEAST(cy_usage_num(us, 'wall_seconds'),
				GREATEST(extract(epoch FROM NEW.ended_at - NEW.started_at), 0) + 1)
			ELSE GREATEST(extract(epoch FROM NEW.ended_at - NEW.started_at), 0) END
	FROM jobs j JOIN tasks t ON t.id = j.task_id JOIN users u ON u.id = t.created_by
		LEFT JOIN nodes n ON n.id = NEW.node_id,
		LATERAL (SELECT j.lease_id IS NOT DISTINCT FROM NEW.lease_id
			AND j.status IN ('completed', 'failed', 'canceled') AS own) o,
		LATERAL (SELECT CASE WHEN o.own AND jsonb_typeof(j.result->'usage') = 'object'
			THEN j.result->'usage' END AS us) x
	WHERE j.id = NEW.job_id
	ON CONFLICT (lease_id) DO NOTHING;
	RETURN NULL;
END
$$;
-- Only the end states the record's CHECK knows: a state added later is not
-- recorded until a migration adds it here, rather than failing the
-- transaction that stores the result.
CREATE TRIGGER job_attempts_accounting AFTER UPDATE OF ended_at ON job_attempts
	FOR EACH ROW WHEN (OLD.ended_at IS NULL AND NEW.ended_at IS NOT NULL
		AND NEW.status IN ('completed', 'failed', 'canceled', 'lease_expired',
			'dispatch_error'))
	EXECUTE FUNCTION cy_job_accounting_record();

-- The attempts that ended before this migration, without usage.
INSERT INTO job_accounting (lease_id, job_id, task_id, user_id, user_handle, queue, node_id,
	node_slug, attempt, attempts, status, exit_code, req_gpus, started_at, ended_at,
	wall_seconds)
SELECT a.lease_id, j.id, j.task_id, t.created_by, u.handle, 'default', a.node_id, n.node_slug,
	a.attempt, j.attempts, a.status,
	CASE WHEN j.lease_id IS NOT DISTINCT FROM a.lease_id THEN j.exit_code END, j.req_gpus,
	a.started_at, a.ended_at, GREATEST(extract(epoch FROM a.ended_at - a.started_at), 0)
FROM job_attempts a JOIN jobs j ON j.id = a.job_id JOIN tasks t ON t.id = j.task_id
	JOIN users u ON u.id = t.created_by LEFT JOIN nodes n ON n.id = a.node_id
WHERE a.ended_at IS NOT NULL AND a.status IN ('completed', 'failed', 'canceled', 'lease_expired',
	'dispatch_error');
