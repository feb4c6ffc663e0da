-- Queues, fair share and resource packing.
--
-- Queues are named, kept here (every replica reads the same ones) and set
-- with the admin API (cynork queue create|set|delete).  A queue's priority
-- is added to the priority of each job created in it; max_running caps the
-- jobs of the queue running at once, max_running_per_user those of one user.
--
-- Fair share is start-time fair queuing: a job's fair_rank is the larger
-- of one more than its owner's last queued rank and the smallest rank
-- queued (the virtual time: a user with nothing queued joins at the head).
-- Jobs held by a dependency or an array's cap do not count for the
-- virtual time: an old held job would pin it and give newcomers a head
-- start over everyone's backlog.  The dispatcher takes jobs by priority, then
-- fair_rank, then age, so a user with 100,000 queued jobs and one with a
-- single job take turns instead of the second waiting behind all of the
-- first's.  Concurrent submissions of one user may share a rank (no row is
-- locked to hand ranks out); age then orders them.
--
-- Packing: a job's resources.cpu_cores and memory_mb (req_cpus,
-- req_memory_mb; 0 when not given) and requirements.gpus are reserved on
-- the node that runs it; the dispatcher places a job only where the
-- capability report minus the running jobs' reservations leaves room.

CREATE TABLE queues (
	name text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_-]{0,62}$'),
	priority integer NOT NULL DEFAULT 0 CHECK (priority BETWEEN -1000 AND 1000),
	max_running integer CHECK (max_running IS NULL OR max_running BETWEEN 1 AND 1000000),
	max_running_per_user integer
		CHECK (max_running_per_user IS NULL OR max_running_per_user BETWEEN 1 AND 1000000),
	description text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO queues (name, description) VALUES ('default', 'the queue of jobs that name none');

ALTER TABLE jobs
	ADD COLUMN queue text NOT NULL DEFAULT 'default',
	ADD COLUMN owner uuid,
	ADD COLUMN fair_rank bigint NOT NULL DEFAULT 0,
	ADD COLUMN req_cpus integer NOT NULL DEFAULT 0 CHECK (req_cpus BETWEEN 0 AND 4096),
	ADD COLUMN req_memory_mb bigint NOT NULL DEFAULT 0
		CHECK (req_memory_mb BETWEEN 0 AND 16777216),
	ADD COLUMN req_gpu_model text CHECK (req_gpu_model IS NULL
		OR length(req_gpu_model) BETWEEN 1 AND 128),
	ADD COLUMN req_nodes text[] NOT NULL DEFAULT '{}';
UPDATE jobs j SET owner = t.created_by FROM tasks t WHERE t.id = j.task_id;

-- The queue head in dispatch order; the virtual time; a user's last rank;
-- the running jobs of a queue and of a user in it.
DROP INDEX jobs_queued_idx;
CREATE INDEX jobs_queued_idx ON jobs (priority DESC, fair_rank, created_at)
	WHERE status = 'queued';
CREATE INDEX jobs_queued_rank_idx ON jobs (fair_rank)
	WHERE status = 'queued' AND (not_before IS NULL OR not_before <> 'infinity');
CREATE INDEX jobs_queued_owner_idx ON jobs (owner, fair_rank DESC) WHERE status = 'queued';
CREATE INDEX jobs_running_queue_idx ON jobs (queue, owner) WHERE status = 'running';

-- The fair-share rank of a new job of owner (array elements take this
-- rank plus their ordinal).
CREATE FUNCTION cy_fair_rank(p_owner uuid) RETURNS bigint
LANGUAGE sql STABLE AS $$
	SELECT GREATEST(
		COALESCE((SELECT fair_rank FROM jobs WHERE status = 'queued'
			AND (not_before IS NULL OR not_before <> 'infinity')
			ORDER BY fair_rank LIMIT 1), 0),
		COALESCE((SELECT fair_rank FROM jobs WHERE status = 'queued' AND owner = p_owner
			ORDER BY fair_rank DESC LIMIT 1), 0) + 1)
$$;

-- The effective priority of a job created with priority p in queue q.
CREATE FUNCTION cy_queue_priority(p integer, q text) RETURNS integer
LANGUAGE sql STABLE AS $$
	SELECT LEAST(1000, GREATEST(-1000, p + COALESCE((SELECT priority FROM queues
		WHERE name = q), 0)))
$$;

-- A node's capacity as the capability report gives it.
CREATE FUNCTION cy_node_gpus(c node_capabilities) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
	SELECT COALESCE(CASE WHEN jsonb_typeof(c.capability_snapshot->'gpu'->'devices') = 'array'
		THEN jsonb_array_length(c.capability_snapshot->'gpu'->'devices') END, 0)
$$;
CREATE FUNCTION cy_node_cpus(c node_capabilities) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN jsonb_typeof(c.capability_snapshot->'compute'->'cpu_cores') = 'number'
		THEN LEAST(1000000, GREATEST(0, (c.capability_snapshot->'compute'->>'cpu_cores')
		::numeric))::int ELSE 0 END
$$;
CREATE FUNCTION cy_node_memory_mb(c node_capabilities) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN jsonb_typeof(c.capability_snapshot->'compute'->'ram_mb') = 'number'
		THEN LEAST(1000000000, GREATEST(0, (c.capability_snapshot->'compute'->>'ram_mb')
		::numeric))::bigint ELSE 0 END
$$;

-- How many of the node's GPUs are of model m: m is a part, in any case, of
-- the device's "vendor model" (requirements.gpu_model).
CREATE FUNCTION cy_node_gpus_of(devices jsonb, m text) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
	SELECT count(*)::int FROM jsonb_array_elements(CASE WHEN jsonb_typeof(devices) = 'array'
		THEN devices ELSE '[]' END) d
	WHERE strpos(lower(COALESCE(d->>'vendor', '') || ' ' || COALESCE(d->>'model', '')),
		lower(m)) > 0
$$;

-- Whether node n (with capability row c) could ever run a request; and,
-- when no registered node could, why (the numbers of the largest node).
DROP FUNCTION cy_job_pending_reason(jobs);
DROP FUNCTION cy_job_fit_problem(int, text[], boolean, text);
DROP FUNCTION cy_node_fits(nodes, node_capabilities, int, text[], boolean, text);

CREATE FUNCTION cy_node_fits(n nodes, c node_capabilities, req_gpus int, req_labels text[],
	req_inference boolean, req_model text, req_cpus int, req_memory_mb bigint,
	req_gpu_model text, req_nodes text[]) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT req_gpus <= cy_node_gpus(c)
		AND (req_gpu_model IS NULL OR cy_node_gpus_of(c.capability_snapshot->'gpu'->'devices',
			req_gpu_model) >= GREATEST(req_gpus, 1))
		AND (cardinality(req_nodes) = 0 OR n.node_slug = ANY(req_nodes))
		AND req_cpus <= cy_node_cpus(c)
		AND req_memory_mb <= cy_node_memory_mb(c)
		AND req_labels <@ COALESCE((SELECT array_agg(x) FROM jsonb_array_elements_text(
			(CASE WHEN jsonb_typeof(c.capability_snapshot->'node'->'labels') = 'array'
			THEN c.capability_snapshot->'node'->'labels' ELSE '[]' END)
			|| COALESCE(n.labels, '[]')) x), '{}')
		AND (NOT req_inference OR (
			COALESCE(c.capability_snapshot->'inference'->'running' = 'true'::jsonb, false)
			AND (req_model IS NULL OR EXISTS (SELECT 1 FROM jsonb_array_elements_text(
				CASE WHEN jsonb_typeof(c.capability_snapshot->'inference'->'available_models')
				= 'array' THEN c.capability_snapshot->'inference'->'available_models'
				ELSE '[]' END) m WHERE m = req_model))))
$$;

CREATE FUNCTION cy_job_fit_problem(req_gpus int, req_labels text[], req_inference boolean,
	req_model text, req_cpus int, req_memory_mb bigint, req_gpu_model text, req_nodes text[])
	RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT CASE
		WHEN bool_or(cy_node_fits(n, c, req_gpus, req_labels, req_inference, req_model,
			req_cpus, req_memory_mb, req_gpu_model, req_nodes)) THEN NULL
		WHEN count(n.id) = 0 THEN 'no node is registered'
		WHEN cardinality(req_nodes) > 0 AND NOT bool_or(n.node_slug = ANY(req_nodes))
			THEN 'needs one of the nodes ' || array_to_string(req_nodes, ',')
				|| ': none is registered'
		WHEN req_gpu_model IS NOT NULL AND GREATEST(req_gpus, 1) > max(cy_node_gpus_of(
				c.capability_snapshot->'gpu'->'devices', req_gpu_model))
			THEN 'needs gpus=' || GREATEST(req_gpus, 1) || ' of model ' || req_gpu_model
				|| ', the most a node has is ' || COALESCE(max(cy_node_gpus_of(
				c.capability_snapshot->'gpu'->'devices', req_gpu_model)), 0)
		WHEN req_gpus > max(cy_node_gpus(c))
			THEN 'needs gpus=' || req_gpus || ', the largest node has ' || max(cy_node_gpus(c))
		WHEN req_cpus > max(cy_node_cpus(c))
			THEN 'needs cpus=' || req_cpus || ', the largest node has ' || max(cy_node_cpus(c))
		WHEN req_memory_mb > max(cy_node_memory_mb(c))
			THEN 'needs memory=' || req_memory_mb || 'MiB, the largest node has '
				|| max(cy_node_memory_mb(c)) || 'MiB'
		WHEN NOT bool_or(cy_node_fits(n, c, 0, req_labels, false, NULL, 0, 0, NULL, '{}'))
			THEN 'needs labels ' || array_to_string(req_labels, ',')
				|| ': no node has them all'
		WHEN req_inference THEN 'needs a node serving ' || COALESCE(req_model, 'a model')
		ELSE 'needs gpus=' || req_gpus || ', cpus=' || req_cpus || ', memory='
			|| req_memory_mb || 'MiB, labels ' || array_to_string(req_labels, ',')
			|| CASE WHEN cardinality(req_nodes) > 0 THEN ' and one of the nodes '
				|| array_to_string(req_nodes, ',') ELSE '' END
			|| ' on one node: none has all' END
	FROM nodes n LEFT JOIN node_capabilities c ON c.node_id = n.id
$$;

-- Why a queue's limit holds job j back; NULL when none does.
CREATE FUNCTION cy_job_queue_limit(j jobs) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT CASE
		WHEN q.max_running IS NOT NULL AND q.max_running <= (SELECT count(*) FROM jobs r
				WHERE r.status = 'running' AND r.queue = j.queue)
			THEN 'QueueLimit: queue ' || q.name || ' runs its max_running='
				|| q.max_running || ' jobs'
		WHEN q.max_running_per_user IS NOT NULL AND q.max_running_per_user <= (SELECT count(*)
				FROM jobs r WHERE r.status = 'running' AND r.queue = j.queue
				AND r.owner = j.owner)
			THEN 'QueueLimit: the owner runs queue ' || q.name || '''s max_running_per_user='
				|| q.max_running_per_user || ' jobs'
		END
	FROM queues q WHERE q.name = j.queue
$$;

-- A queued job's pending reason; NULL for a job that is not queued (0092's
-- reasons, ArrayLimit among them, with the queue limits and the packing).
CREATE FUNCTION cy_job_pending_reason(j jobs) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT CASE
		WHEN j.status <> 'queued' THEN NULL
		WHEN j.not_before = 'infinity' THEN CASE WHEN j.array_index IS NOT NULL
			AND cy_task_deps_state(j.task_id) = 'ready' THEN 'ArrayLimit'
			ELSE 'Dependency' END
		WHEN j.not_before > now() THEN 'RetryBackoff'
		WHEN cy_job_fit_problem(j.req_gpus, j.req_labels, j.req_inference, j.req_model,
				j.req_cpus, j.req_memory_mb, j.req_gpu_model, j.req_nodes) IS NOT NULL
			THEN 'NoMatchingNode: ' || cy_job_fit_problem(j.req_gpus, j.req_labels,
				j.req_inference, j.req_model, j.req_cpus, j.req_memory_mb, j.req_gpu_model,
				j.req_nodes)
		WHEN NOT EXISTS (SELECT 1 FROM nodes n LEFT JOIN node_capabilities c
				ON c.node_id = n.id WHERE n.status = 'active' AND n.enabled
				AND n.config_applied_version IS NOT NULL
				AND cy_node_fits(n, c, j.req_gpus, j.req_labels, j.req_inference,
					j.req_model, j.req_cpus, j.req_memory_mb, j.req_gpu_model, j.req_nodes))
			THEN 'NodesUnavailable: the nodes that fit are drained, disabled or offline'
		WHEN cy_job_queue_limit(j) IS NOT NULL THEN cy_job_queue_limit(j)
		WHEN EXISTS (SELECT 1 FROM jobs q WHERE q.status = 'queued' AND q.id <> j.id
				AND (q.not_before IS NULL OR q.not_before <= now())
				AND (q.priority > j.priority OR (q.priority = j.priority
					AND (q.fair_rank, q.created_at) < (j.fair_rank, j.created_at))))
			THEN 'Priority'
		ELSE 'Resources' END
$$;

-- 0093's accounting reads a job's queue through a catalog probe, for the
-- time before this migration; now the column is there, a plain read.
CREATE OR REPLACE FUNCTION cy_job_queue(j uuid) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT COALESCE((SELECT NULLIF(queue, '') FROM jobs WHERE id = j), 'default')
$$;
