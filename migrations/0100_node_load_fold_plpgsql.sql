-- cy_node_load_fold (0098) as PL/pgSQL, the same statement: a LANGUAGE sql
-- function holding DML is not inlined, and PostgreSQL plans such a
-- function's statement again at every call (0.3-0.4 ms, once per claim);
-- PL/pgSQL keeps the plan for the session.
CREATE OR REPLACE FUNCTION cy_node_load_fold(ids uuid[])
RETURNS TABLE (node_id uuid, running bigint, gpus bigint, cpus bigint, memory_mb bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
	RETURN QUERY
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
	WHERE l.node_id = ANY(ids) AND NOT EXISTS (SELECT 1 FROM s WHERE s.node_id = l.node_id);
END $$;
