-- Job arrays (Slurm's --array): one task, one job per index.  The task's
-- state follows its elements (cy_array_job_changed): running while any
-- runs or has ended, completed when all completed, failed when all ended
-- and one failed, canceled otherwise.  With a cap (array_cap) at most that
-- many elements are queued or running at once; the others wait with
-- not_before = 'infinity' (the dispatcher's claim never takes them) and
-- cy_array_fill releases the next ones, lowest index first, in the
-- transaction where an element ends.  The task row is locked for that, so
-- replicas ending elements of one array at once take turns, and a crash
-- rolls the end and the release back together.

ALTER TABLE tasks ADD COLUMN array_spec text CHECK (array_spec IS NULL OR array_spec <> ''),
	ADD COLUMN array_cap int CHECK (array_cap IS NULL OR array_cap >= 1);
ALTER TABLE jobs ADD COLUMN array_index int CHECK (array_index IS NULL OR array_index >= 0);
CREATE UNIQUE INDEX jobs_task_array_index_key ON jobs (task_id, array_index)
	WHERE array_index IS NOT NULL;

-- Releases the held elements of open task t that may run now (all of them
-- without a cap; up to the cap's free slots, lowest index first, with one),
-- once its dependencies are met.  The number released.
CREATE FUNCTION cy_array_fill(t uuid) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	cap int;
	n int;
BEGIN
	SELECT array_cap INTO cap FROM tasks WHERE id = t AND NOT closed FOR UPDATE;
	IF NOT FOUND OR cy_task_deps_state(t) <> 'ready' THEN
		RETURN 0;
	END IF;
	UPDATE jobs SET not_before = NULL, updated_at = now() WHERE id IN (
		SELECT h.id FROM jobs h WHERE h.task_id = t AND h.status = 'queued'
			AND h.not_before = 'infinity' ORDER BY h.array_index
		LIMIT CASE WHEN cap IS NULL THEN NULL ELSE GREATEST(cap - (
			SELECT count(*) FROM jobs a WHERE a.task_id = t AND (a.status = 'running'
				OR (a.status = 'queued' AND (a.not_before IS NULL
					OR a.not_before <> 'infinity')))), 0) END);
	GET DIAGNOSTICS n = ROW_COUNT;
	IF n > 0 THEN
		PERFORM pg_notify('cynode_jobs', '');
	END IF;
	RETURN n;
END
$$;

-- An element changed state: the task's state is recomputed from all its
-- elements, and a freed slot goes to the next held element.
CREATE FUNCTION cy_array_job_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	c record;
	st text;
	cl boolean := false;
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
	SELECT count(*) AS n, count(*) FILTER (WHERE status = 'queued') AS q,
		count(*) FILTER (WHERE status = 'running') AS r,
		count(*) FILTER (WHERE status = 'completed') AS ok,
		count(*) FILTER (WHERE status = 'failed') AS bad
		INTO c FROM jobs WHERE task_id = NEW.task_id;
	IF c.q + c.r = 0 THEN
		st := CASE WHEN c.ok = c.n THEN 'completed' WHEN c.bad > 0 THEN 'failed'
			ELSE 'canceled' END;
		cl := true;
	ELSIF c.r > 0 OR c.q < c.n THEN
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
CREATE TRIGGER jobs_array_changed AFTER UPDATE OF status ON jobs
	FOR EACH ROW WHEN (NEW.array_index IS NOT NULL AND OLD.status IS DISTINCT FROM NEW.status)
	EXECUTE FUNCTION cy_array_job_changed();

-- The dispatcher's statements set a task's state from its one job as they
-- end, retry or expire it; an array task's state is its elements' (set by
-- cy_array_job_changed, from a trigger), so those direct changes are
-- skipped.  A cancel (status 'canceled') always applies.
CREATE FUNCTION cy_array_task_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF pg_trigger_depth() = 1 AND NEW.status <> 'canceled'
		AND (NEW.status IS DISTINCT FROM OLD.status OR NEW.closed IS DISTINCT FROM OLD.closed)
	THEN
		RETURN NULL;
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER tasks_array_guard BEFORE UPDATE ON tasks
	FOR EACH ROW WHEN (OLD.array_spec IS NOT NULL)
	EXECUTE FUNCTION cy_array_task_guard();

-- 0090's release, the ready case through cy_array_fill (which keeps an
-- array's cap).
CREATE OR REPLACE FUNCTION cy_task_deps_release() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	w uuid;
	st text;
BEGIN
	FOR w IN SELECT td.task_id FROM task_deps td JOIN tasks t ON t.id = td.task_id
		WHERE td.after_task_id = NEW.id AND NOT t.closed ORDER BY td.task_id
	LOOP
		st := cy_task_deps_state(w);
		IF st = 'ready' THEN
			PERFORM cy_array_fill(w);
		ELSIF st LIKE 'never:%' THEN
			UPDATE jobs SET status = 'canceled', ended_at = now(), updated_at = now(),
				result = jsonb_build_object('version', 1, 'status', 'canceled',
					'error', 'dependency never satisfied: ' || substr(st, 8))
				WHERE task_id = w AND status = 'queued';
			UPDATE tasks SET status = 'canceled', closed = true, updated_at = now()
				WHERE id = w AND NOT closed;
		END IF;
	END LOOP;
	RETURN NULL;
END
$$;

-- 0091's pending reason, with ArrayLimit: an element held by its array's
-- cap (its dependencies met).
CREATE OR REPLACE FUNCTION cy_job_pending_reason(j jobs) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT CASE
		WHEN j.status <> 'queued' THEN NULL
		WHEN j.not_before = 'infinity' THEN CASE WHEN j.array_index IS NOT NULL
			AND cy_task_deps_state(j.task_id) = 'ready' THEN 'ArrayLimit'
			ELSE 'Dependency' END
		WHEN j.not_before > now() THEN 'RetryBackoff'
		WHEN cy_job_fit_problem(j.req_gpus, j.req_labels, j.req_inference, j.req_model)
			IS NOT NULL THEN 'NoMatchingNode: ' || cy_job_fit_problem(j.req_gpus,
			j.req_labels, j.req_inference, j.req_model)
		WHEN NOT EXISTS (SELECT 1 FROM nodes n LEFT JOIN node_capabilities c
				ON c.node_id = n.id WHERE n.status = 'active' AND n.enabled
				AND n.config_applied_version IS NOT NULL
				AND cy_node_fits(n, c, j.req_gpus, j.req_labels, j.req_inference,
					j.req_model))
			THEN 'NodesUnavailable: the nodes that fit are drained, disabled or offline'
		WHEN EXISTS (SELECT 1 FROM jobs q WHERE q.status = 'queued' AND q.id <> j.id
				AND (q.not_before IS NULL OR q.not_before <= now())
				AND (q.priority > j.priority OR (q.priority = j.priority
					AND q.created_at < j.created_at)))
			THEN 'Priority'
		ELSE 'Resources' END
$$;
