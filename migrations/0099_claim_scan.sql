-- The candidate scan of a claim (store-dispatch.c): the queued jobs one
-- node can run, in dispatch order, locked, at most p_scan of them.
--
-- As one statement the planner costed this scan by its estimate of the
-- queued rows times the selectivity of the fit conditions (label and node
-- arrays, GPU models), which comes out at a row or two whatever the queue
-- holds; it then read every queued job and sorted them for each claim
-- (3-5 ms with 2,000 queued, 30 ms with 100,000).  A cursor is planned
-- for a fast start, so this walks jobs_queued_idx in order and stops at
-- p_scan rows, however stale the statistics are.
--
-- The function is VOLATILE (it locks rows), so in READ COMMITTED its cursor
-- sees a newer snapshot than the claim statement that calls it: a job
-- committed in between can be a candidate (locked, counted in the claim's
-- sums) that the claim's UPDATE cannot see, and that claim comes back a job
-- short.  The job stays queued and the next claim takes it.
CREATE FUNCTION cy_claim_scan(p_gpus int, p_labels text[], p_inference boolean,
	p_models text[], p_cpus int, p_memory_mb bigint, p_scan int, p_slug text,
	p_gpu_devices jsonb, p_used_gpus int)
RETURNS TABLE (id uuid, queue text, owner uuid, req_gpus integer, req_cpus integer,
	req_memory_mb bigint, priority integer, fair_rank bigint, created_at timestamptz)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
	cur CURSOR FOR
		WITH run AS (SELECT q.name AS queue, r.owner, r.n FROM queues q
			CROSS JOIN LATERAL (SELECT jr.owner, count(*) AS n FROM jobs jr
				WHERE jr.status = 'running' AND jr.queue = q.name GROUP BY jr.owner) r
			WHERE q.max_running IS NOT NULL OR q.max_running_per_user IS NOT NULL),
		lim AS (SELECT q.name, q.max_running - COALESCE((SELECT sum(run.n) FROM run
				WHERE run.queue = q.name), 0) AS q_left,
			q.max_running_per_user AS u_max
			FROM queues q
			WHERE q.max_running IS NOT NULL OR q.max_running_per_user IS NOT NULL)
		SELECT j.id, j.queue, j.owner, j.req_gpus, j.req_cpus, j.req_memory_mb,
			j.priority, j.fair_rank, j.created_at
		FROM jobs j
		WHERE j.status = 'queued'
			AND (j.not_before IS NULL OR j.not_before <= now())
			AND j.req_gpus <= p_gpus AND j.req_cpus <= p_cpus
			AND j.req_memory_mb <= p_memory_mb AND j.req_labels <@ p_labels
			AND (NOT j.req_inference OR (p_inference AND (j.req_model IS NULL
				OR j.req_model = ANY(p_models))))
			AND (cardinality(j.req_nodes) = 0 OR p_slug = ANY(j.req_nodes))
			AND (j.req_gpu_model IS NULL OR cy_node_gpus_of(p_gpu_devices,
				j.req_gpu_model) - p_used_gpus >= GREATEST(j.req_gpus, 1))
			AND NOT EXISTS (SELECT 1 FROM lim WHERE lim.name = j.queue
				AND (lim.q_left <= 0 OR lim.u_max <= COALESCE((SELECT run.n FROM run
					WHERE run.queue = j.queue
					AND run.owner IS NOT DISTINCT FROM j.owner), 0)))
		ORDER BY j.priority DESC, j.fair_rank, j.created_at
		FOR UPDATE OF j SKIP LOCKED;
	n int := 0;
BEGIN
	IF p_scan <= 0 THEN
		RETURN;
	END IF;
	FOR c IN cur LOOP
		id := c.id;
		queue := c.queue;
		owner := c.owner;
		req_gpus := c.req_gpus;
		req_cpus := c.req_cpus;
		req_memory_mb := c.req_memory_mb;
		priority := c.priority;
		fair_rank := c.fair_rank;
		created_at := c.created_at;
		RETURN NEXT;
		n := n + 1;
		EXIT WHEN n >= p_scan;
	END LOOP;
END $$;
