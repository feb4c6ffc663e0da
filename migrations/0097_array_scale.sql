-- Arrays of thousands of elements: the end of one element costs a few index
-- lookups instead of a count over all of the array's jobs (which made an
-- array's run quadratic in its size).  The task's state and the release of
-- held elements stay as 0092 defines them, except that the release skips
-- jobs another transaction holds (a cancel), so it never waits on them.

-- An array's elements that are running or may be claimed, and those its
-- cap or its dependencies hold.
CREATE INDEX jobs_task_active_idx ON jobs (task_id)
	WHERE status = 'running' OR (status = 'queued'
		AND (not_before IS NULL OR not_before <> 'infinity'));
CREATE INDEX jobs_task_held_idx ON jobs (task_id, array_index)
	WHERE status = 'queued' AND not_before = 'infinity';

CREATE OR REPLACE FUNCTION cy_array_fill(t uuid) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	cap int;
	act int;
	n int;
BEGIN
	SELECT array_cap INTO cap FROM tasks WHERE id = t AND NOT closed FOR UPDATE;
	IF NOT FOUND OR cy_task_deps_state(t) <> 'ready' THEN
		RETURN 0;
	END IF;
	-- SKIP LOCKED: a cancel locks the task's jobs before the task, which
	-- this transaction holds; it cancels those jobs anyway.
	IF cap IS NULL THEN
		UPDATE jobs SET not_before = NULL, updated_at = now() WHERE id IN (
			SELECT h.id FROM jobs h WHERE h.task_id = t AND h.status = 'queued'
				AND h.not_before = 'infinity' FOR UPDATE SKIP LOCKED);
	ELSE
		SELECT count(*) INTO act FROM jobs WHERE task_id = t AND (status = 'running'
			OR (status = 'queued' AND (not_before IS NULL OR not_before <> 'infinity')));
		IF act >= cap THEN
			RETURN 0;
		END IF;
		UPDATE jobs SET not_before = NULL, updated_at = now() WHERE id IN (
			SELECT h.id FROM jobs h WHERE h.task_id = t AND h.status = 'queued'
				AND h.not_before = 'infinity' ORDER BY h.array_index LIMIT cap - act
				FOR UPDATE SKIP LOCKED);
	END IF;
	GET DIAGNOSTICS n = ROW_COUNT;
	IF n > 0 THEN
		PERFORM pg_notify('cynode_jobs', '');
	END IF;
	RETURN n;
END
$$;

CREATE OR REPLACE FUNCTION cy_array_job_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	st text;
	cl boolean := false;
	open boolean;
BEGIN
	-- A claim: the task runs; no slot was freed, nothing else to count.
	IF NEW.status = 'running' THEN
		UPDATE tasks SET status = 'running', updated_at = now()
			WHERE id = NEW.task_id AND status = 'pending' AND NOT closed;
		RETURN NULL;
	END IF;
	PERFORM 1 FROM tasks WHERE id = NEW.task_id AND NOT closed FOR UPDATE;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	open := NEW.status = 'queued'
		OR EXISTS (SELECT 1 FROM jobs WHERE task_id = NEW.task_id AND (status = 'running'
			OR (status = 'queued' AND (not_before IS NULL OR not_before <> 'infinity'))))
		OR EXISTS (SELECT 1 FROM jobs WHERE task_id = NEW.task_id AND status = 'queued'
			AND not_before = 'infinity');
	IF NOT open THEN
		-- The last element ended: one look at all of them.
		st := CASE WHEN NOT EXISTS (SELECT 1 FROM jobs WHERE task_id = NEW.task_id
				AND status <> 'completed') THEN 'completed'
			WHEN EXISTS (SELECT 1 FROM jobs WHERE task_id = NEW.task_id AND status = 'failed')
				THEN 'failed'
			ELSE 'canceled' END;
		cl := true;
	ELSIF NEW.status <> 'queued' OR EXISTS (SELECT 1 FROM jobs WHERE task_id = NEW.task_id
			AND status <> 'queued') THEN
		-- An element ended (this one, or another before a retry queued this one).
		st := 'running';
	ELSE
		st := 'pending';
	END IF;
	UPDATE tasks SET status = st, closed = cl, updated_at = now()
		WHERE id = NEW.task_id AND (status <> st OR closed <> cl);
	IF NOT cl THEN
		PERFORM cy_array_fill(NEW.task_id);
	END IF;
	RETURN NULL;
END
$$;
