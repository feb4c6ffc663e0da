-- Task dependencies (Slurm's afterok / afternotok / afterany): a task waits
-- until the tasks it names have ended, then runs when each ended as its
-- condition asks, or is canceled with the reason when one cannot be met.
-- A waiting task's job is queued with not_before = 'infinity', so the
-- dispatcher's claim (not_before <= now()) never takes it; the trigger below
-- releases or cancels it in the transaction that closes the last dependency.

CREATE TABLE task_deps (
	task_id uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
	after_task_id uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
	cond text NOT NULL CHECK (cond IN ('ok', 'notok', 'any')),
	PRIMARY KEY (task_id, after_task_id),
	CHECK (task_id <> after_task_id)
);
CREATE INDEX task_deps_after_idx ON task_deps (after_task_id);

-- 'ready' (every dependency ended as asked, or none), 'waiting', or
-- 'never: <why>' when one ended otherwise.
CREATE FUNCTION cy_task_deps_state(t uuid) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT CASE
		WHEN bool_or(x.closed AND NOT x.sat) THEN 'never: ' || string_agg(
			CASE WHEN x.closed AND NOT x.sat THEN 'dependency ' || x.id || ' ended '
				|| x.status || ' (after' || x.cond || ')' END, '; ')
		WHEN bool_and(x.closed) OR count(*) = 0 THEN 'ready'
		ELSE 'waiting' END
	FROM (SELECT d.id, d.status, d.closed, td.cond,
			CASE td.cond WHEN 'ok' THEN d.status = 'completed'
				WHEN 'notok' THEN d.status IN ('failed', 'canceled', 'superseded')
				ELSE true END AS sat
		FROM task_deps td JOIN tasks d ON d.id = td.after_task_id
		WHERE td.task_id = t) x
$$;

-- A task ended: each open task waiting on it runs, or is canceled (which
-- ends it in turn, so a chain cancels down to its end).
CREATE FUNCTION cy_task_deps_release() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	w uuid;
	st text;
	woke boolean := false;
BEGIN
	FOR w IN SELECT td.task_id FROM task_deps td JOIN tasks t ON t.id = td.task_id
		WHERE td.after_task_id = NEW.id AND NOT t.closed ORDER BY td.task_id
	LOOP
		st := cy_task_deps_state(w);
		IF st = 'ready' THEN
			UPDATE jobs SET not_before = NULL, updated_at = now()
				WHERE task_id = w AND status = 'queued' AND not_before = 'infinity';
			woke := true;
		ELSIF st LIKE 'never:%' THEN
			UPDATE jobs SET status = 'canceled', ended_at = now(), updated_at = now(),
				result = jsonb_build_object('version', 1, 'status', 'canceled',
					'error', 'dependency never satisfied: ' || substr(st, 8))
				WHERE task_id = w AND status = 'queued';
			UPDATE tasks SET status = 'canceled', closed = true, updated_at = now()
				WHERE id = w AND NOT closed;
		END IF;
	END LOOP;
	IF woke THEN
		PERFORM pg_notify('cynode_jobs', '');
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER tasks_release_dependents AFTER UPDATE OF closed ON tasks
	FOR EACH ROW WHEN (NEW.closed AND NOT OLD.closed)
	EXECUTE FUNCTION cy_task_deps_release();
