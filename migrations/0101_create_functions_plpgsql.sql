-- cy_fair_rank and cy_queue_priority (0095) as PL/pgSQL, the same
-- expressions: a LANGUAGE sql function whose body holds a sub-select is not
-- inlined, and PostgreSQL planned its body again at every task create
-- (0.10 and 0.03 ms of the create's 0.5 ms in the database); PL/pgSQL keeps
-- the plans for the session.  A column's name wins over a parameter's, as
-- in SQL functions (#variable_conflict use_column).
CREATE OR REPLACE FUNCTION cy_fair_rank(p_owner uuid) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
	RETURN GREATEST(
		COALESCE((SELECT fair_rank FROM jobs WHERE status = 'queued'
			AND (not_before IS NULL OR not_before <> 'infinity')
			ORDER BY fair_rank LIMIT 1), 0),
		COALESCE((SELECT fair_rank FROM jobs WHERE status = 'queued' AND owner = p_owner
			ORDER BY fair_rank DESC LIMIT 1), 0) + 1);
END
$$;

CREATE OR REPLACE FUNCTION cy_queue_priority(p integer, q text) RETURNS integer
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
	RETURN LEAST(1000, GREATEST(-1000, p + COALESCE((SELECT priority FROM queues
		WHERE name = q), 0)));
END
$$;

-- The same for cy_job_queue (0095), which the accounting row of each ended
-- attempt reads (0.06 ms of planning per job).
CREATE OR REPLACE FUNCTION cy_job_queue(j uuid) RETURNS text
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
	RETURN COALESCE((SELECT NULLIF(queue, '') FROM jobs WHERE id = j), 'default');
END
$$;
