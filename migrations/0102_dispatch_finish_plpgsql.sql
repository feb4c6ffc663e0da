-- The result write-back (dispatch_finish in store-dispatch.c): stores a
-- batch of results, one element of each array per job, and returns a row
-- per job stored: the task's id when that closed it (an array task closes
-- with its last element, by trigger: migration 0092), and its task's.  A
-- lease or node that is NULL matches any: a row (closed_task, job_task)
-- per job stored.  The server sends the wake-ups of closed tasks and of
-- the events itself after the commit (migration 0103,
-- server/notify-send.c): the function defers them first, and then returns
-- a row (task, NULL) for every task its statement closed, the triggers'
-- closures included (the dependents a failure canceled, an array closed
-- with its last element), which cy_notify (0103) kept in
-- cynode.notify_closed.
--
-- As one prepared statement it was planned at every call (0.26 ms of the
-- database's 2.2 ms CPU per task): the custom plans, which see the arrays'
-- lengths, always cost less than the generic one, which guesses ten rows
-- for each unnest, so PostgreSQL never switched to the generic plan.  The
-- plan does not depend on the values (an index lookup per job in jobs,
-- job_attempts and tasks), so the function forces the generic plan, made
-- once a session.  A column's name wins over a parameter's
-- (#variable_conflict use_column).  The server calls it with a SELECT, so
-- server/db.c lists it among the functions that write (a statement whose
-- reply is lost is not run again).
--
-- The token usage a result reports ("inference_usage": [{model, requests,
-- prompt_tokens, completion_tokens}], at most 64 entries) becomes
-- inference_usage rows in the same statement: kind "prompt" for a prompt
-- task's job, "proxy" for a sandboxed job's inference socket.  A node's
-- numbers are clamped and entries that are not well-formed are skipped, so
-- a bad report never stops the result from being stored.
CREATE FUNCTION cy_dispatch_finish(p_ids uuid[], p_leases uuid[], p_nodes uuid[],
	p_status text[], p_results jsonb[], p_exit_codes int[])
RETURNS TABLE (closed_task uuid, job_task uuid)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
BEGIN
	PERFORM set_config('cynode.notify_deferred', 'cynode_task_closed,cynode_events', true);
	PERFORM set_config('cynode.notify_closed', '', true);
	RETURN QUERY
	WITH r AS (SELECT * FROM unnest(p_ids, p_leases, p_nodes, p_status, p_results,
			p_exit_codes) AS r(id, lease_id, node_id, status, result, exit_code)),
	u AS (UPDATE jobs j SET status = r.status, result = r.result,
			exit_code = r.exit_code, ended_at = now(), lease_expires_at = NULL
		FROM r WHERE j.id = r.id AND j.status = 'running'
			AND (r.lease_id IS NULL OR j.lease_id = r.lease_id)
			AND (r.node_id IS NULL OR j.node_id = r.node_id)
		RETURNING j.id, j.task_id, j.status, j.lease_id, j.node_id,
			j.payload->>'mode' AS mode),
	a AS (UPDATE job_attempts y SET status = u.status, ended_at = now() FROM u
		WHERE y.job_id = u.id AND y.lease_id = u.lease_id),
	g AS (INSERT INTO inference_usage (user_id, model, node_id, task_id, kind, requests,
			prompt_tokens, completion_tokens)
		SELECT tk.created_by, e->>'model', u.node_id, u.task_id,
			CASE WHEN u.mode = 'prompt' THEN 'prompt' ELSE 'proxy' END,
			LEAST(CASE WHEN jsonb_typeof(e->'requests') = 'number'
				THEN GREATEST((e->>'requests')::numeric, 0) ELSE 1 END,
				2147483647)::int,
			CASE WHEN jsonb_typeof(e->'prompt_tokens') = 'number'
				THEN LEAST(GREATEST((e->>'prompt_tokens')::numeric, 0),
					1e15)::bigint ELSE 0 END,
			CASE WHEN jsonb_typeof(e->'completion_tokens') = 'number'
				THEN LEAST(GREATEST((e->>'completion_tokens')::numeric, 0),
					1e15)::bigint ELSE 0 END
		FROM u JOIN r ON r.id = u.id JOIN tasks tk ON tk.id = u.task_id,
			jsonb_array_elements(CASE WHEN jsonb_typeof(r.result->'inference_usage')
				= 'array' THEN r.result->'inference_usage' ELSE '[]' END)
				WITH ORDINALITY AS x(e, ord)
		WHERE x.ord <= 64 AND jsonb_typeof(e) = 'object'
			AND jsonb_typeof(e->'model') = 'string'
			AND length(e->>'model') BETWEEN 1 AND 256),
	t AS (UPDATE tasks t SET status = u.status, closed = true FROM u
		WHERE t.id = u.task_id AND t.status IN ('pending', 'running') RETURNING t.id)
	SELECT t.id, u.task_id FROM u LEFT JOIN t ON t.id = u.task_id;
	-- The triggers have run (at the end of the statement above).
	RETURN QUERY
	SELECT x::uuid, NULL::uuid FROM unnest(string_to_array(
		current_setting('cynode.notify_closed', true), ',')) AS x WHERE x <> '';
	PERFORM set_config('cynode.notify_closed', '', true);
END
$$;
