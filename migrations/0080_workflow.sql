-- Workflow leases (POST /v1/workflow/{start,resume,checkpoint,release},
-- server/route-workflow.c): an external workflow runner leases a task as a
-- run, checkpoints named steps, resumes from the last checkpoint after a
-- crash and releases.  At most one run of a task is 'running' (the partial
-- unique index); a running run whose lease expired may be taken over by
-- another holder (resume or start), which keeps its run id and checkpoint.
-- Only the last checkpoint is kept (bounded: state is a JSON object of at
-- most 64 KiB as compact JSON).  Never edit once landed.
CREATE TABLE workflow_runs (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	task_id uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
	holder text NOT NULL CHECK (holder ~ '^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,127}$'),
	status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'released')),
	lease_seconds integer NOT NULL CHECK (lease_seconds BETWEEN 1 AND 86400),
	lease_expires_at timestamptz NOT NULL,
	last_node_id text CHECK (last_node_id ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$'),
	-- The server takes at most 64 KiB of compact JSON; jsonb's text form adds
	-- at most one space per separator, so twice that is the hard bound.
	state jsonb CHECK (state IS NULL OR (jsonb_typeof(state) = 'object'
		AND octet_length(state::text) <= 131072)),
	checkpoint_at timestamptz,
	takeovers integer NOT NULL DEFAULT 0 CHECK (takeovers >= 0),
	started_at timestamptz NOT NULL DEFAULT now(),
	released_at timestamptz,
	CHECK ((status = 'released') = (released_at IS NOT NULL)),
	CHECK ((last_node_id IS NULL) = (checkpoint_at IS NULL))
);
CREATE UNIQUE INDEX workflow_runs_one_running_idx ON workflow_runs (task_id)
	WHERE status = 'running';
CREATE INDEX workflow_runs_task_idx ON workflow_runs (task_id, started_at DESC);
