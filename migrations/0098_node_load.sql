-- What the running jobs hold of each node, kept as a counter instead of
-- counted from the jobs table on every claim (that count grew with the
-- number of running jobs: 17 ms a claim with 16,000 running).
--
-- A job that starts or stops running appends a delta row (a trigger, so no
-- code path can forget it).  The deltas are insert-only and have no foreign
-- key, so a job ending never waits for, and never locks, anything a claim
-- holds.  A claim, holding its nodes' rows, reads each node's base plus its
-- committed deltas, and folds those deltas into the base.  A delta committed
-- after the claim read it is folded by the next claim: until then the node
-- looks fuller than it is, never emptier, so it is never over-committed.

CREATE TABLE node_load (
	node_id uuid PRIMARY KEY REFERENCES nodes (id) ON DELETE CASCADE,
	running bigint NOT NULL DEFAULT 0,
	gpus bigint NOT NULL DEFAULT 0,
	cpus bigint NOT NULL DEFAULT 0,
	memory_mb bigint NOT NULL DEFAULT 0
);

CREATE TABLE node_load_delta (
	node_id uuid NOT NULL,
	running integer NOT NULL,
	gpus integer NOT NULL,
	cpus integer NOT NULL,
	memory_mb bigint NOT NULL
);
CREATE INDEX node_load_delta_node_idx ON node_load_delta (node_id);

CREATE FUNCTION cy_node_load_note() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'running' AND OLD.node_id IS NOT NULL THEN
		INSERT INTO node_load_delta VALUES (OLD.node_id, -1, -OLD.req_gpus, -OLD.req_cpus,
			-OLD.req_memory_mb);
	END IF;
	IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.status = 'running' AND NEW.node_id IS NOT NULL THEN
		INSERT INTO node_load_delta VALUES (NEW.node_id, 1, NEW.req_gpus, NEW.req_cpus,
			NEW.req_memory_mb);
	END IF;
	RETURN NULL;
END $$;

-- Only a change of what a running job holds calls the function: lease
-- renewals and the like cost nothing.
CREATE TRIGGER jobs_node_load_update AFTER UPDATE OF status, node_id, req_gpus, req_cpus,
	req_memory_mb ON jobs FOR EACH ROW
	WHEN ((OLD.status = 'running' OR NEW.status = 'running')
		AND (OLD.status IS DISTINCT FROM NEW.status
			OR OLD.node_id IS DISTINCT FROM NEW.node_id
			OR OLD.req_gpus <> NEW.req_gpus OR OLD.req_cpus <> NEW.req_cpus
			OR OLD.req_memory_mb <> NEW.req_memory_mb))
	EXECUTE FUNCTION cy_node_load_note();
CREATE TRIGGER jobs_node_load_insert AFTER INSERT ON jobs FOR EACH ROW
	WHEN (NEW.status = 'running') EXECUTE FUNCTION cy_node_load_note();
CREATE TRIGGER jobs_node_load_delete AFTER DELETE ON jobs FOR EACH ROW
	WHEN (OLD.status = 'running') EXECUTE FUNCTION cy_node_load_note();

-- A removed node's deltas go with it, at the end of the removing
-- transaction: deferred, so that it runs after the foreign key has set its
-- running jobs' node_id to NULL (which writes their deltas).  Whatever is
-- left (a transaction that ended one of its jobs just then) is swept by
-- cy_node_load_reconcile.
CREATE FUNCTION cy_node_load_forget() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM node_load_delta WHERE node_id = OLD.id;
	RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER nodes_node_load_forget AFTER DELETE ON nodes
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION cy_node_load_forget();

-- The load of the given nodes (whose rows the caller has locked), with
-- their committed deltas folded into the base rows.  It touches only those
-- nodes' deltas (by the index), so claims of different nodes never wait
-- for each other here.
CREATE FUNCTION cy_node_load_fold(ids uuid[])
RETURNS TABLE (node_id uuid, running bigint, gpus bigint, cpus bigint, memory_mb bigint)
LANGUAGE sql AS $$
	WITH d AS (DELETE FROM node_load_delta x WHERE x.node_id = ANY(ids) RETURNING x.*),
	s AS (SELECT d.node_id, sum(d.running) r, sum(d.gpus) g, sum(d.cpus) c,
			sum(d.memory_mb) m
		FROM d GROUP BY d.node_id),
	up AS (INSERT INTO node_load AS l (node_id, running, gpus, cpus, memory_mb)
		SELECT s.node_id, s.r, s.g, s.c, s.m FROM s
		ON CONFLICT (node_id) DO UPDATE SET running = l.running + excluded.running,
			gpus = l.gpus + excluded.gpus, cpus = l.cpus + excluded.cpus,
			memory_mb = l.memory_mb + excluded.memory_mb
		RETURNING l.node_id, l.running, l.gpus, l.cpus, l.memory_mb)
	SELECT * FROM up
	UNION ALL
	SELECT l.node_id, l.running, l.gpus, l.cpus, l.memory_mb FROM node_load l
	WHERE l.node_id = ANY(ids) AND NOT EXISTS (SELECT 1 FROM s WHERE s.node_id = l.node_id)
$$;

-- Makes the counters agree with the running jobs again, should anything
-- have changed jobs behind the trigger's back (a restore with triggers
-- off, a hand-made UPDATE): per node, what its running jobs hold minus
-- base and deltas, read in one snapshot, is added to the base.  Deltas of
-- removed nodes go.  The caller holds every node's row (the claims' lock,
-- taken in the same order), so no fold runs meanwhile.  Returns the nodes
-- corrected.
CREATE FUNCTION cy_node_load_reconcile() RETURNS SETOF uuid
LANGUAGE sql AS $$
	DELETE FROM node_load_delta x WHERE NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = x.node_id);
	WITH t AS (SELECT j.node_id, count(*) r, sum(j.req_gpus) g, sum(j.req_cpus) c,
			sum(j.req_memory_mb) m
		FROM jobs j WHERE j.status = 'running' AND j.node_id IS NOT NULL GROUP BY j.node_id),
	d AS (SELECT x.node_id, sum(x.running) r, sum(x.gpus) g, sum(x.cpus) c,
			sum(x.memory_mb) m
		FROM node_load_delta x GROUP BY x.node_id),
	k AS (SELECT n.id, COALESCE(t.r, 0) - COALESCE(l.running, 0) - COALESCE(d.r, 0) dr,
			COALESCE(t.g, 0) - COALESCE(l.gpus, 0) - COALESCE(d.g, 0) dg,
			COALESCE(t.c, 0) - COALESCE(l.cpus, 0) - COALESCE(d.c, 0) dc,
			COALESCE(t.m, 0) - COALESCE(l.memory_mb, 0) - COALESCE(d.m, 0) dm
		FROM nodes n LEFT JOIN node_load l ON l.node_id = n.id
		LEFT JOIN d ON d.node_id = n.id LEFT JOIN t ON t.node_id = n.id)
	INSERT INTO node_load AS l (node_id, running, gpus, cpus, memory_mb)
	SELECT k.id, k.dr, k.dg, k.dc, k.dm FROM k
	WHERE k.dr <> 0 OR k.dg <> 0 OR k.dc <> 0 OR k.dm <> 0
	ON CONFLICT (node_id) DO UPDATE SET running = l.running + excluded.running,
		gpus = l.gpus + excluded.gpus, cpus = l.cpus + excluded.cpus,
		memory_mb = l.memory_mb + excluded.memory_mb
	RETURNING l.node_id
$$;

-- The load as it stands now.
INSERT INTO node_load (node_id, running, gpus, cpus, memory_mb)
SELECT node_id, count(*), sum(req_gpus), sum(req_cpus), sum(req_memory_mb)
FROM jobs WHERE status = 'running' AND node_id IS NOT NULL GROUP BY node_id;
