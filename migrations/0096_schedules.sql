-- Recurring tasks (cron): a schedule of a user makes a task from its stored
-- CreateTask body at each slot of its cron expression.  schedule_runs holds
-- one row per slot run (unique per schedule and slot), the newest
-- max_history of them; its task is the one the slot made (NULL when the
-- create was refused: error says why, or once retention removed the task).
-- next_run_at is the next slot to run (NULL while disabled); every server
-- replica's scheduler moves it forward with a compare-and-set, so a slot
-- is taken once however many replicas tick.

CREATE TABLE schedules (
	id uuid PRIMARY KEY,
	owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
	cron text NOT NULL CHECK (cron <> '' AND length(cron) <= 256),
	timezone text NOT NULL DEFAULT 'UTC' CHECK (timezone = 'UTC'),
	task jsonb NOT NULL CHECK (jsonb_typeof(task) = 'object'),
	enabled boolean NOT NULL DEFAULT true,
	max_history int NOT NULL DEFAULT 20 CHECK (max_history BETWEEN 1 AND 1000),
	next_run_at timestamptz,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT schedules_owner_name_key UNIQUE (owner_id, name)
);
CREATE INDEX schedules_due_idx ON schedules (next_run_at) WHERE enabled;

CREATE TABLE schedule_runs (
	schedule_id uuid NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
	slot timestamptz NOT NULL,
	task_id uuid REFERENCES tasks (id) ON DELETE SET NULL,
	error text CHECK (error IS NULL OR length(error) <= 1024),
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (schedule_id, slot)
);
CREATE INDEX schedule_runs_task_id_idx ON schedule_runs (task_id);
