/*
 * SQL fragments shared by store-nodes.c and store-dispatch.c: what makes a
 * node dispatchable (contract 3.8, plus the operator's enabled flag; "acked
 * applied" is config_applied_version, because a refused later push leaves
 * the node on its previous config, still usable), its capacity from the
 * capability snapshot, and its running job count.  Expect `nodes n` and a LEFT JOIN of
 * `node_capabilities c`.
 */
#ifndef SERVER_STORE_NODES_SQL_H
#define SERVER_STORE_NODES_SQL_H

#define SQL_NODE_DISPATCHABLE \
	"n.status = 'active' AND n.enabled AND n.config_applied_version IS NOT NULL " \
	"AND COALESCE(n.worker_api_target_url, '') <> '' " \
	"AND n.worker_api_bearer_token_enc IS NOT NULL"

#define SQL_NODE_MAX_CONCURRENCY \
	"CASE WHEN jsonb_typeof(c.capability_snapshot->'sandbox'->'max_concurrency') = 'number' " \
	"THEN GREATEST(1, LEAST(100000, " \
	"(c.capability_snapshot->'sandbox'->>'max_concurrency')::numeric))::int ELSE 4 END"

/*
 * The node's labels as a jsonb array: those it reports in its capability
 * snapshot and those an operator gave it at enrollment (nodes.labels).
 * Placement and the views both use the union.
 */
#define SQL_NODE_LABELS \
	"((CASE WHEN jsonb_typeof(c.capability_snapshot->'node'->'labels') = 'array' " \
	"THEN c.capability_snapshot->'node'->'labels' ELSE '[]' END) || " \
	"COALESCE(n.labels, '[]'))"

/*
 * The node's inference backend runs and it may serve models (a node
 * labelled sandbox_only never does, contract 3.4 rule 4).
 */
#define SQL_NODE_INFERENCE \
	"(COALESCE(c.capability_snapshot->'inference'->'running' = 'true'::jsonb, false) " \
	"AND NOT " SQL_NODE_LABELS " ? 'sandbox_only')"

#define SQL_NODE_RUNNING \
	"(SELECT count(*) FROM jobs r WHERE r.node_id = n.id AND r.status = 'running')"

#endif
