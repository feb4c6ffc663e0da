-- Why a queued job waits (Slurm's pending reasons), and whether any node
-- could ever run a request.  Node facts as server/store-nodes-sql.h reads
-- them: GPUs from the capability snapshot, labels reported plus those given
-- at enrollment, models when the inference backend runs.

CREATE FUNCTION cy_node_fits(n nodes, c node_capabilities, req_gpus int, req_labels text[],
	req_inference boolean, req_model text) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT req_gpus <= COALESCE(CASE WHEN jsonb_typeof(c.capability_snapshot->'gpu'->'devices')
			= 'array' THEN jsonb_array_length(c.capability_snapshot->'gpu'->'devices') END, 0)
		AND req_labels <@ COALESCE((SELECT array_agg(x) FROM jsonb_array_elements_text(
			(CASE WHEN jsonb_typeof(c.capability_snapshot->'node'->'labels') = 'array'
			THEN c.capability_snapshot->'node'->'labels' ELSE '[]' END)
			|| COALESCE(n.labels, '[]')) x), '{}')
		AND (NOT req_inference OR (
			COALESCE(c.capability_snapshot->'inference'->'running' = 'true'::jsonb, false)
			AND (req_model IS NULL OR EXISTS (SELECT 1 FROM jsonb_array_elements_text(
				CASE WHEN jsonb_typeof(c.capability_snapshot->'inference'->'available_models')
				= 'array' THEN c.capability_snapshot->'inference'->'available_models'
				ELSE '[]' END) m WHERE m = req_model))))
$$;

-- NULL when a registered node fits the request; else why none can.
CREATE FUNCTION cy_job_fit_problem(req_gpus int, req_labels text[], req_inference boolean,
	req_model text) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT CASE
		WHEN bool_or(cy_node_fits(n, c, req_gpus, req_labels, req_inference, req_model))
			THEN NULL
		WHEN count(n.id) = 0 THEN 'no node is registered'
		WHEN req_gpus > max(COALESCE(CASE WHEN jsonb_typeof(
				c.capability_snapshot->'gpu'->'devices') = 'array' THEN
				jsonb_array_length(c.capability_snapshot->'gpu'->'devices') END, 0))
			THEN 'needs gpus=' || req_gpus || ', the largest node has ' || max(COALESCE(
				CASE WHEN jsonb_typeof(c.capability_snapshot->'gpu'->'devices') = 'array'
				THEN jsonb_array_length(c.capability_snapshot->'gpu'->'devices') END, 0))
		WHEN NOT bool_or(cy_node_fits(n, c, 0, req_labels, false, NULL))
			THEN 'needs labels ' || array_to_string(req_labels, ',')
				|| ': no node has them all'
		WHEN req_inference THEN 'needs a node serving ' || COALESCE(req_model, 'a model')
		ELSE 'needs gpus=' || req_gpus || ' and labels ' || array_to_string(req_labels, ',')
			|| ' on one node: none has both' END
	FROM nodes n LEFT JOIN node_capabilities c ON c.node_id = n.id
$$;

-- A queued job's pending reason; NULL for a job that is not queued.
CREATE FUNCTION cy_job_pending_reason(j jobs) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT CASE
		WHEN j.status <> 'queued' THEN NULL
		WHEN j.not_before = 'infinity' THEN 'Dependency'
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
