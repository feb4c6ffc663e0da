-- Notifications the server sends itself.  PostgreSQL serialises every
-- transaction that has a NOTIFY pending, from its commit until the commit
-- is flushed, on one cluster-wide lock: task creates (cynode_jobs,
-- cynode_events), claims and results (cynode_events, cynode_task_closed)
-- notifying from their own transactions would wait for each other's WAL
-- flushes and could not share a group commit (a third more creates a
-- second without those NOTIFYs, measured).  A statement of the server
-- names, in the transaction-local setting cynode.notify_deferred, the
-- channels it will notify itself after its commit (server/notify-send.c:
-- one transaction for many commits, with an asynchronous commit of its
-- own); the triggers send the rest.  Writers other than the server (psql,
-- a restore) never set it, and their triggers notify.
--
-- A deferred cynode_task_closed names its task, and a closure can happen
-- deep in a cascade the server does not see (a result that cancels the
-- dependents of its task, an array closed with its last element): the
-- skipped ids are kept in cynode.notify_closed (comma-separated, to
-- transaction end) for the statement that deferred them to hand back
-- (cy_dispatch_finish, migration 0102, reads it as cy_notify_closed()).
CREATE FUNCTION cy_notify(ch text, payload text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	IF position(',' || ch || ',' IN
		',' || COALESCE(current_setting('cynode.notify_deferred', true), '') || ',') = 0
	THEN
		PERFORM pg_notify(ch, payload);
	ELSIF ch = 'cynode_task_closed' THEN
		PERFORM set_config('cynode.notify_closed',
			COALESCE(current_setting('cynode.notify_closed', true), '') || payload || ',',
			true);
	END IF;
END
$$;

CREATE OR REPLACE FUNCTION cy_notify_jobs() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM cy_notify('cynode_jobs', '');
	RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION cy_notify_task_closed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM cy_notify('cynode_task_closed', NEW.id::text);
	RETURN NULL;
END
$$;

-- As in 0094, with cy_notify.
CREATE OR REPLACE FUNCTION cy_event_task() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	s text := cy_task_api_status(NEW.status);
	prev text := CASE WHEN TG_OP = 'UPDATE' THEN cy_task_api_status(OLD.status) END;
BEGIN
	IF TG_OP = 'INSERT' THEN
		INSERT INTO events (kind, type, user_id, task_id, data) VALUES ('task',
			'task.created', NEW.created_by, NEW.id, jsonb_strip_nulls(jsonb_build_object(
			'task_id', NEW.id, 'task_name', NEW.summary, 'status', s)));
	END IF;
	IF TG_OP = 'UPDATE' OR NEW.status <> 'pending' THEN
		INSERT INTO events (kind, type, user_id, task_id, data) VALUES ('task',
			'task.' || s, NEW.created_by, NEW.id, jsonb_strip_nulls(jsonb_build_object(
			'task_id', NEW.id, 'task_name', NEW.summary, 'status', s,
			'previous', prev)));
	END IF;
	PERFORM cy_notify('cynode_events', '');
	RETURN NULL;
END
$$;
