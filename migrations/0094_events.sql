-- Events (GET /v1/events, cynork events): one row per task or node state
-- change, written by the triggers below in the transaction that makes the
-- change, so every replica streams the same ids in the same order.  The
-- triggers are one INSERT and one NOTIFY each (the NOTIFY payload is empty,
-- so a transaction's notifications fold into one); cynode_events wakes the
-- event streams of every replica.  Rows older than events.retention are
-- deleted by the chores leader, oldest ids first.
--
-- Task events carry the task's owner (user_id) so that a stream shows a
-- user only their own tasks; node events have no owner and are shown to
-- callers who may read the fleet.  No foreign keys: events outlive the
-- tasks and nodes they tell of.

CREATE TABLE events (
	id bigserial PRIMARY KEY,
	created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	kind text NOT NULL CHECK (kind IN ('task', 'node')),
	type text NOT NULL CHECK (type ~ '^(task|node)\.[a-z_]+$' AND left(type, 4) = kind),
	user_id uuid CHECK ((kind = 'task') = (user_id IS NOT NULL)),
	task_id uuid CHECK ((kind = 'task') = (task_id IS NOT NULL)),
	node_slug text CHECK ((kind = 'node') = (node_slug IS NOT NULL)),
	data jsonb NOT NULL CHECK (jsonb_typeof(data) = 'object')
);
CREATE INDEX events_user_id_idx ON events (user_id, id) WHERE user_id IS NOT NULL;
CREATE INDEX events_task_id_idx ON events (task_id, id) WHERE task_id IS NOT NULL;

-- The API's name of a task state (contract: the database's pending is queued).
CREATE FUNCTION cy_task_api_status(s text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE s WHEN 'pending' THEN 'queued' ELSE s END
$$;

CREATE FUNCTION cy_event_task() RETURNS trigger
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
	PERFORM pg_notify('cynode_events', '');
	RETURN NULL;
END
$$;

CREATE TRIGGER tasks_event_insert AFTER INSERT ON tasks
	FOR EACH ROW EXECUTE FUNCTION cy_event_task();
CREATE TRIGGER tasks_event_status AFTER UPDATE OF status ON tasks
	FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
	EXECUTE FUNCTION cy_event_task();

-- Node events: registered (a new row), active, lost (inactive: no heartbeat
-- within the liveness TTL), drained, removed (the row deleted).
CREATE FUNCTION cy_event_node() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	t text;
	r nodes;
BEGIN
	IF TG_OP = 'DELETE' THEN
		r := OLD;
		t := 'node.removed';
	ELSE
		r := NEW;
		t := CASE WHEN TG_OP = 'INSERT' THEN 'node.registered'
			WHEN NEW.status = 'inactive' THEN 'node.lost'
			ELSE 'node.' || NEW.status END;
	END IF;
	INSERT INTO events (kind, type, node_slug, data) VALUES ('node', t, r.node_slug,
		jsonb_strip_nulls(jsonb_build_object('node', r.node_slug,
		'status', CASE WHEN TG_OP = 'DELETE' THEN 'removed' ELSE r.status END,
		'previous', CASE WHEN TG_OP <> 'INSERT' THEN OLD.status END)));
	PERFORM pg_notify('cynode_events', '');
	RETURN NULL;
END
$$;

CREATE TRIGGER nodes_event_insert AFTER INSERT ON nodes
	FOR EACH ROW EXECUTE FUNCTION cy_event_node();
CREATE TRIGGER nodes_event_status AFTER UPDATE OF status ON nodes
	FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
	EXECUTE FUNCTION cy_event_node();
CREATE TRIGGER nodes_event_delete AFTER DELETE ON nodes
	FOR EACH ROW EXECUTE FUNCTION cy_event_node();

-- Webhooks: a user's URL that gets a signed POST for each event it names
-- ("task.finished": one of the owner's tasks completed, failed or was
-- canceled; "node.lost": a node went inactive, for admins only).  The
-- signing secret is sealed like user secrets (server/secrets.c).  One
-- delivery row per (webhook, event), written by the trigger below in the
-- transaction of the event; the delivery workers of every replica claim due
-- rows with SKIP LOCKED, retry with exponential backoff and keep the log.

CREATE TABLE webhooks (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	url text NOT NULL CHECK (url ~ '^https?://' AND length(url) <= 2048),
	events text[] NOT NULL CHECK (cardinality(events) > 0
		AND events <@ ARRAY['task.finished', 'node.lost']),
	secret_sealed text NOT NULL CHECK (secret_sealed <> ''),
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_user_id_idx ON webhooks (user_id);

CREATE TABLE webhook_deliveries (
	id bigserial PRIMARY KEY,
	webhook_id uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
	event_id bigint NOT NULL,
	event text NOT NULL CHECK (event IN ('task.finished', 'node.lost')),
	payload jsonb NOT NULL CHECK (jsonb_typeof(payload) = 'object'),
	status text NOT NULL DEFAULT 'pending'
		CHECK (status IN ('pending', 'delivered', 'failed')),
	attempts int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
	next_attempt_at timestamptz NOT NULL DEFAULT now(),
	last_status int,
	last_error text,
	created_at timestamptz NOT NULL DEFAULT now(),
	delivered_at timestamptz,
	CONSTRAINT webhook_deliveries_once UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
	WHERE status = 'pending';

CREATE FUNCTION cy_event_webhooks() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	ev text := CASE WHEN NEW.type = 'node.lost' THEN 'node.lost' ELSE 'task.finished' END;
	body jsonb := jsonb_build_object('event', ev, 'event_id', NEW.id, 'type', NEW.type,
		'time', to_char(NEW.created_at AT TIME ZONE 'UTC',
		'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')) || NEW.data;
BEGIN
	-- A task's: the owner's webhooks (an index lookup).  A lost node: the
	-- admins' (rare enough to look through them all).
	IF ev = 'task.finished' THEN
		INSERT INTO webhook_deliveries (webhook_id, event_id, event, payload)
		SELECT w.id, NEW.id, ev, body FROM webhooks w JOIN users u ON u.id = w.user_id
		WHERE w.user_id = NEW.user_id AND ev = ANY (w.events) AND u.is_active;
	ELSE
		INSERT INTO webhook_deliveries (webhook_id, event_id, event, payload)
		SELECT w.id, NEW.id, ev, body FROM webhooks w JOIN users u ON u.id = w.user_id
		WHERE ev = ANY (w.events) AND u.is_active AND u.role = 'admin';
	END IF;
	IF FOUND THEN
		PERFORM pg_notify('cynode_webhooks', '');
	END IF;
	RETURN NULL;
END
$$;

CREATE TRIGGER events_webhooks AFTER INSERT ON events
	FOR EACH ROW WHEN (NEW.type IN ('task.completed', 'task.failed', 'task.canceled', 'node.lost'))
	EXECUTE FUNCTION cy_event_webhooks();
