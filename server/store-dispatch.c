/*
 * The dispatcher's SQL (dispatch.h).  Claiming locks the dispatchable node
 * rows first (in id order, so replicas never deadlock), then reads what
 * their running jobs hold from the load counters of migration 0098, folding
 * in the deltas since the last claim (a statement of its own: a fresh READ
 * COMMITTED snapshot, so a claim committed by another replica is seen;
 * store_node_load_reconcile repairs the counters should they ever drift
 * from the jobs), then takes queued jobs
 * for each node's free slots with FOR UPDATE SKIP LOCKED: several replicas
 * never claim one job twice nor overfill a node.  Results are applied in
 * batches through unnest()ed arrays, each only to a job still running under
 * the same lease: a duplicate or a result after a cancel changes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "db.h"
#include "dispatch.h"
#include "notify-send.h"
#include "store-nodes-sql.h"
#include "store-util.h"
#include "strnum.h"
#include "banned.h"

#define BACKOFF_MAX_S 3600
#define EXPIRE_BATCH 500

void
dispatch_job_release(struct dispatch_job *j)
{
	FREE_AND_NULL(j->payload);
	FREE_AND_NULL(j->target_url);
	FREE_AND_NULL(j->token_sealed);
	FREE_AND_NULL(j->tls_pin);
}

void
dispatch_ids_release(struct dispatch_ids *ids)
{
	FREE_AND_NULL(ids->id);
	ids->n = 0;
}

static void
ids_add(struct dispatch_ids *ids, const char *id)
{
	ids->id = xreallocarray(ids->id, ids->n + 1, sizeof(*ids->id));
	xsnprintf(ids->id[ids->n++], DISPATCH_ID_LEN, "%s", id);
}

static void
array_list(struct cy_buf *b, const char *const *v, size_t n)
{
	size_t i;

	cy_buf_addstr(b, "{");
	for (i = 0; i < n; i++)
		store_array_add(b, v[i]);
	cy_buf_addstr(b, "}");
}

/* One dispatchable node as the claim sees it. */
struct claim_node {
	char id[DISPATCH_ID_LEN];
	char *url, *token, *labels, *pin;
	char *slug, *gpu_devices; /* node_slug; its capability's gpu.devices (JSON) */
	long long max, gpus, running;
	/* Capacity, and what the running jobs reserve of it (migration 0095). */
	long long cpus, memory_mb, used_gpus, used_cpus, used_memory_mb;
	bool inference; /* its inference backend runs */
	char *models;   /* text[] literal of the models it serves */
};

static void
claim_nodes_free(struct claim_node *nodes, int n)
{
	int i;

	if (!nodes)
		return;
	for (i = 0; i < n; i++) {
		free(nodes[i].url);
		free(nodes[i].token);
		free(nodes[i].pin);
		free(nodes[i].labels);
		free(nodes[i].models);
		free(nodes[i].slug);
		free(nodes[i].gpu_devices);
	}
	free(nodes);
}

/* Locks the dispatchable nodes and reads their capacity.  Count or -1. */
static int
claim_lock_nodes(const char *skip, struct claim_node **out, struct cy_error *err)
{
	struct cy_buf ids = CY_BUF_INIT;
	struct claim_node *nodes;
	const char *errstr, *p[1];
	PGresult *res;
	int i, j, n;

	*out = NULL;
	/* clang-format off */
	res = db_exec("dispatch_nodes_lock",
		"SELECT n.id, n.worker_api_target_url, "
		"encode(n.worker_api_bearer_token_enc, 'hex'), " SQL_NODE_MAX_CONCURRENCY ", "
		"COALESCE(CASE WHEN jsonb_typeof(c.capability_snapshot->'gpu'->'devices') = 'array' "
		"THEN jsonb_array_length(c.capability_snapshot->'gpu'->'devices') END, 0), "
		"COALESCE((SELECT array_agg(DISTINCT x) FROM jsonb_array_elements_text("
		SQL_NODE_LABELS ") x), '{}')::text, "
		SQL_NODE_INFERENCE ", "
		"COALESCE((SELECT array_agg(x) FROM jsonb_array_elements_text(CASE WHEN "
		"jsonb_typeof(c.capability_snapshot->'inference'->'available_models') = 'array' "
		"THEN c.capability_snapshot->'inference'->'available_models' ELSE '[]' END) x), "
		"'{}')::text, COALESCE(n.worker_api_tls_pin, '') , cy_node_cpus(c), "
		"cy_node_memory_mb(c), n.node_slug, "
		"COALESCE(c.capability_snapshot->'gpu'->'devices', '[]')::text "
		"FROM nodes n LEFT JOIN node_capabilities c ON c.node_id = n.id "
		"WHERE " SQL_NODE_DISPATCHABLE " AND NOT n.id = ANY($1::uuid[]) "
		"ORDER BY n.id FOR UPDATE OF n", 1, &skip, err);
	/* clang-format on */
	if (!res)
		return -1;
	n = PQntuples(res);
	if (n == 0) {
		PQclear(res);
		return 0;
	}
	nodes = xcalloc((size_t)n, sizeof(*nodes));
	cy_buf_addstr(&ids, "{");
	for (i = 0; i < n; i++) {
		xsnprintf(nodes[i].id, sizeof(nodes[i].id), "%s", PQgetvalue(res, i, 0));
		nodes[i].url = xstrdup(PQgetvalue(res, i, 1));
		nodes[i].token = xstrdup(PQgetvalue(res, i, 2));
		nodes[i].pin = xstrdup(PQgetvalue(res, i, 8));
		if (cy_strtonum(PQgetvalue(res, i, 3), 1, 100000, &nodes[i].max, &errstr) < 0)
			nodes[i].max = 1;
		if (cy_strtonum(PQgetvalue(res, i, 4), 0, 1024, &nodes[i].gpus, &errstr) < 0)
			nodes[i].gpus = 0;
		if (cy_strtonum(PQgetvalue(res, i, 9), 0, 1000000, &nodes[i].cpus, &errstr) < 0)
			nodes[i].cpus = 0;
		if (cy_strtonum(PQgetvalue(res, i, 10), 0, 1000000000, &nodes[i].memory_mb,
			&errstr) < 0)
			nodes[i].memory_mb = 0;
		nodes[i].labels = xstrdup(PQgetvalue(res, i, 5));
		nodes[i].slug = xstrdup(PQgetvalue(res, i, 11));
		nodes[i].gpu_devices = xstrdup(PQgetvalue(res, i, 12));
		nodes[i].inference = strcmp(PQgetvalue(res, i, 6), "t") == 0;
		nodes[i].models = xstrdup(PQgetvalue(res, i, 7));
		store_array_add(&ids, nodes[i].id);
	}
	cy_buf_addstr(&ids, "}");
	PQclear(res);
	p[0] = ids.buf;
	/* What their running jobs hold: the counters of migration 0098. */
	res = db_exec("dispatch_nodes_running",
	    "SELECT node_id, running, gpus, cpus, memory_mb FROM cy_node_load_fold($1::uuid[])", 1,
	    p, err);
	cy_buf_release(&ids);
	if (!res) {
		claim_nodes_free(nodes, n);
		return -1;
	}
	for (i = 0; i < PQntuples(res); i++)
		for (j = 0; j < n; j++) {
			struct claim_node *nd = &nodes[j];

			if (strcmp(nd->id, PQgetvalue(res, i, 0)))
				continue;
			/* A count that does not parse leaves the node full, never overfilled. */
			if (cy_strtonum(PQgetvalue(res, i, 1), 0, 1000000000, &nd->running,
				&errstr) < 0 ||
			    cy_strtonum(PQgetvalue(res, i, 2), 0, 1000000000, &nd->used_gpus,
				&errstr) < 0 ||
			    cy_strtonum(PQgetvalue(res, i, 3), 0, 1000000000, &nd->used_cpus,
				&errstr) < 0 ||
			    cy_strtonum(PQgetvalue(res, i, 4), 0, 1000000000000LL,
				&nd->used_memory_mb, &errstr) < 0)
				nd->running = nd->max;
		}
	PQclear(res);
	*out = nodes;
	return n;
}

/* cap - used, never below 0, as text in out. */
static const char *
free_text(long long cap, long long used, char out[24])
{
	xsnprintf(out, 24, "%lld", cap > used ? cap - used : 0);
	return out;
}

/*
 * Claims up to `want` jobs for one node; appends them to *jobs.  The
 * candidates are the queue head in dispatch order (priority, fair-share
 * rank, age) that this node can run: its labels, models and what its
 * capacity minus the running jobs' reservations leaves free, in queues
 * whose limits (and the owner's in them) are not reached.  Of those, the
 * longest prefix whose summed reservations fit and which keeps each queue
 * and each owner within its limits is taken.  The node rows are locked by
 * the caller, so two replicas never read the same free room or counts.
 */
static int
claim_for_node(struct claim_node *nd, long long want, long long lease_s, struct dispatch_job **jobs,
    size_t *n, struct cy_error *err)
{
	char gpus[24], lim[24], lease[24], cpus[24], mem[24], scan[24];
	const char *p[13];
	char used_gpus[24];
	PGresult *res;
	int i;

	xsnprintf(lim, sizeof(lim), "%lld", want);
	/* Of that model, at least what is free: every reserved GPU may be one of them. */
	xsnprintf(used_gpus, sizeof(used_gpus), "%lld", nd->used_gpus);
	xsnprintf(scan, sizeof(scan), "%lld", want * 4 + 8);
	xsnprintf(lease, sizeof(lease), "%lld", lease_s);
	p[0] = nd->id;
	p[1] = free_text(nd->gpus, nd->used_gpus, gpus);
	p[2] = nd->labels;
	p[3] = lim;
	p[4] = lease;
	p[5] = nd->inference ? "true" : "false";
	p[6] = nd->models;
	p[7] = free_text(nd->cpus, nd->used_cpus, cpus);
	p[8] = free_text(nd->memory_mb, nd->used_memory_mb, mem);
	p[9] = scan;
	p[10] = nd->slug;
	p[11] = nd->gpu_devices;
	p[12] = used_gpus;
	/* clang-format off */
	res = db_exec("dispatch_claim",
	    "WITH run AS (SELECT q.name AS queue, r.owner, r.n FROM queues q CROSS JOIN LATERAL "
	    "(SELECT owner, count(*) AS n FROM jobs WHERE status = 'running' AND queue = q.name "
	    "GROUP BY owner) r WHERE q.max_running IS NOT NULL "
	    "OR q.max_running_per_user IS NOT NULL), "
	    "lim AS (SELECT q.name, q.max_running - COALESCE((SELECT sum(run.n) FROM run "
	    "WHERE run.queue = q.name), 0) AS q_left, q.max_running_per_user AS u_max "
	    "FROM queues q WHERE q.max_running IS NOT NULL "
	    "OR q.max_running_per_user IS NOT NULL), "
	    "c AS (SELECT * FROM cy_claim_scan($2::int, $3::text[], $6::bool, $7::text[], "
	    "$8::int, $9::bigint, $10::int, $11, $12::jsonb, $13::int)), "
	    "w AS (SELECT c.id, c.priority, c.fair_rank, c.created_at, "
	    "sum(c.req_gpus) OVER o AS g, sum(c.req_cpus) OVER o AS cp, "
	    "sum(c.req_memory_mb) OVER o AS m, "
	    "row_number() OVER (PARTITION BY c.queue ORDER BY c.priority DESC, c.fair_rank, "
	    "c.created_at) AS nq, "
	    "row_number() OVER (PARTITION BY c.queue, c.owner ORDER BY c.priority DESC, "
	    "c.fair_rank, c.created_at) AS nu, "
	    "lim.q_left, lim.u_max - COALESCE(run.n, 0) AS u_left "
	    "FROM c LEFT JOIN lim ON lim.name = c.queue LEFT JOIN run ON run.queue = c.queue "
	    "AND run.owner IS NOT DISTINCT FROM c.owner "
	    "WINDOW o AS (ORDER BY c.priority DESC, c.fair_rank, c.created_at "
	    "ROWS UNBOUNDED PRECEDING)), "
	    "pick AS (SELECT id FROM w WHERE g <= $2::int AND cp <= $8::int "
	    "AND m <= $9::bigint AND (q_left IS NULL OR nq <= q_left) "
	    "AND (u_left IS NULL OR nu <= u_left) "
	    "ORDER BY priority DESC, fair_rank, created_at LIMIT $4::int), "
	    "u AS (UPDATE jobs j SET status = 'running', node_id = $1::uuid, "
	    "started_at = now(), ended_at = NULL, attempts = j.attempts + 1, "
	    "lease_id = gen_random_uuid(), "
	    "lease_expires_at = now() + $5::int * interval '1 second', not_before = NULL "
	    "FROM pick WHERE j.id = pick.id "
	    "RETURNING j.id, j.task_id, j.payload::text, j.attempts, j.lease_id, j.created_at, "
	    "j.req_gpus, j.req_cpus, j.req_memory_mb), "
	    "a AS (INSERT INTO job_attempts (job_id, attempt, node_id, lease_id) "
	    "SELECT id, attempts, $1::uuid, lease_id FROM u), "
	    "t AS (UPDATE tasks SET status = 'running' WHERE id IN (SELECT task_id FROM u) "
	    "AND status = 'pending') "
	    "SELECT id, task_id, payload, lease_id, req_gpus, req_cpus, req_memory_mb FROM u, "
	    "(SELECT " NOTIFY_DEFER_SQL(NOTIFY_CLAIM_CHANNELS) " AS deferred) d "
	    "ORDER BY created_at",
	    13, p, err);
	/* clang-format on */
	if (!res)
		return -1;
	for (i = 0; i < PQntuples(res); i++) {
		struct dispatch_job *j;

		*jobs = xreallocarray(*jobs, *n + 1, sizeof(**jobs));
		j = &(*jobs)[(*n)++];
		memset(j, 0, sizeof(*j));
		xsnprintf(j->job_id, sizeof(j->job_id), "%s", PQgetvalue(res, i, 0));
		xsnprintf(j->task_id, sizeof(j->task_id), "%s", PQgetvalue(res, i, 1));
		j->payload = xstrdup(PQgetvalue(res, i, 2));
		xsnprintf(j->lease_id, sizeof(j->lease_id), "%s", PQgetvalue(res, i, 3));
		xsnprintf(j->node_id, sizeof(j->node_id), "%s", nd->id);
		j->target_url = xstrdup(nd->url);
		j->token_sealed = xstrdup(nd->token);
		j->tls_pin = xstrdup(nd->pin);
		/* What it reserves counts against the node's next claim in this round. */
		nd->used_gpus += strtoll(PQgetvalue(res, i, 4), NULL, 10);
		nd->used_cpus += strtoll(PQgetvalue(res, i, 5), NULL, 10);
		nd->used_memory_mb += strtoll(PQgetvalue(res, i, 6), NULL, 10);
	}
	PQclear(res);
	return 0;
}

/* Least loaded first: the smaller share of slots in use, then the more free CPUs. */
static int
claim_node_cmp(const void *a, const void *b)
{
	const struct claim_node *x = a, *y = b;
	long long lx = x->running * 1000 / x->max, ly = y->running * 1000 / y->max;
	long long fx = x->cpus - x->used_cpus, fy = y->cpus - y->used_cpus;

	if (lx != ly)
		return lx < ly ? -1 : 1;
	if (fx != fy)
		return fx > fy ? -1 : 1;
	return strcmp(x->id, y->id);
}

int
store_dispatch_claim(size_t max, long long lease_s, const char *skip_nodes,
    struct dispatch_job **jobs, size_t *n, struct cy_error *err)
{
	struct claim_node *nodes = NULL;
	long long left = (long long)max, spread;
	int i, nn, progress = 1;
	size_t k;

	*jobs = NULL;
	*n = 0;
	if (db_begin(err) < 0)
		return -1;
	if ((nn = claim_lock_nodes(skip_nodes ? skip_nodes : "{}", &nodes, err)) < 0)
		goto fail;
	/*
	 * The limited queues too: two replicas whose claims lock different
	 * nodes (each skips the ones it is cooling down) still read and fill
	 * a queue's headroom one after the other.
	 */
	if (nn > 0 && store_run("dispatch_queues_lock",
			  "SELECT 1 FROM queues WHERE max_running IS NOT NULL "
			  "OR max_running_per_user IS NOT NULL ORDER BY name FOR UPDATE",
			  0, NULL, err) < 0)
		goto fail;
	/*
	 * Fill the least loaded node first, a few slots at a time, so a burst
	 * spreads over the nodes instead of filling the first one.  The rows
	 * are locked already (in id order), so the order here is free.
	 */
	if (nn > 1)
		qsort(nodes, (size_t)nn, sizeof(*nodes), claim_node_cmp);
	spread = (long long)max / 4 > 4 ? (long long)max / 4 : 4;
	while (left > 0 && progress) {
		progress = 0;
		for (i = 0; i < nn && left > 0; i++) {
			long long free_slots = nodes[i].max - nodes[i].running, take;
			size_t before = *n;

			if (free_slots <= 0)
				continue;
			/*
			 * A few at a time (4, or a quarter of the batch when it
			 * is large: fewer statements on a big fleet).
			 */
			take = free_slots < left ? free_slots : left;
			if (nn > 1 && take > spread)
				take = spread;
			if (claim_for_node(&nodes[i], take, lease_s, jobs, n, err) < 0)
				goto fail;
			nodes[i].running += (long long)(*n - before);
			left -= (long long)(*n - before);
			if ((long long)(*n - before) == take)
				progress = 1;
		}
	}
	claim_nodes_free(nodes, nn > 0 ? nn : 0);
	nodes = NULL;
	nn = 0;
	/* The claim statements deferred their tasks' events (notify-send.h). */
	if (db_commit(err) < 0) {
		if (*n > 0)
			notify_post(NOTIFY_EVENTS);
		goto fail_committed;
	}
	if (*n > 0)
		notify_post(NOTIFY_EVENTS);
	return 0;
fail:
	db_rollback();
fail_committed:
	claim_nodes_free(nodes, nn > 0 ? nn : 0);
	for (k = 0; k < *n; k++)
		dispatch_job_release(&(*jobs)[k]);
	FREE_AND_NULL(*jobs);
	*n = 0;
	return -1;
}

int
store_dispatch_finish(const struct dispatch_result *r, size_t n, struct dispatch_ids *closed,
    struct cy_error *err)
{
	struct cy_buf a[6] = { CY_BUF_INIT, CY_BUF_INIT, CY_BUF_INIT, CY_BUF_INIT, CY_BUF_INIT,
		CY_BUF_INIT };
	const char *p[6];
	PGresult *res;
	size_t i, k;
	int applied = -1;

	if (n == 0)
		return 0;
	for (k = 0; k < 6; k++)
		cy_buf_addstr(&a[k], "{");
	for (i = 0; i < n; i++) {
		store_array_add(&a[0], r[i].job_id);
		store_array_add(&a[1], r[i].lease_id);
		store_array_add(&a[2], r[i].node_id);
		store_array_add(&a[3], r[i].status);
		store_array_add(&a[4], r[i].result);
		store_array_add(&a[5], r[i].exit_code);
	}
	for (k = 0; k < 6; k++) {
		cy_buf_addstr(&a[k], "}");
		p[k] = a[k].buf;
	}
	/*
	 * The function forces a generic plan (migration 0102): as a statement
	 * here it was planned again at every call.
	 */
	res = db_exec("dispatch_finish",
	    "SELECT * FROM cy_dispatch_finish($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], "
	    "$5::jsonb[], $6::int[])",
	    6, p, err);
	/*
	 * A row (closed or NULL, task) per job stored, then (task, NULL) per
	 * task the statement closed, by its own update or by a trigger (an
	 * array with its last element, the dependents a failure canceled):
	 * those are announced here, the statement deferred their NOTIFYs.
	 */
	if (res) {
		applied = 0;
		for (i = 0; i < (size_t)PQntuples(res); i++) {
			if (!PQgetisnull(res, (int)i, 1)) {
				applied++;
			} else if (!PQgetisnull(res, (int)i, 0)) {
				ids_add(closed, PQgetvalue(res, (int)i, 0));
				notify_post_closed(PQgetvalue(res, (int)i, 0));
			}
		}
		PQclear(res);
	} else {
		/*
		 * It may have committed (a lost reply): its tasks may have
		 * closed, and a retry would find nothing to store.  A closure
		 * it cascaded to other tasks is not known here; their waiters
		 * see it at their deadline.
		 */
		for (i = 0; i < n; i++)
			if (r[i].task_id)
				notify_post_closed(r[i].task_id);
	}
	if (applied != 0)
		notify_post(NOTIFY_EVENTS);
	for (k = 0; k < 6; k++)
		cy_buf_release(&a[k]);
	return applied;
}

int
store_dispatch_retry(const struct dispatch_job *j, const char *error, bool permanent, bool counted,
    struct cy_error *err)
{
	char backoff_max[24];
	const char *p[6];
	PGresult *res;
	int closed;

	xsnprintf(backoff_max, sizeof(backoff_max), "%d", BACKOFF_MAX_S);
	p[0] = j->job_id;
	p[1] = j->lease_id;
	p[2] = error;
	p[3] = permanent ? "true" : "false";
	p[4] = counted ? "true" : "false";
	p[5] = backoff_max;
	res = db_exec("dispatch_retry",
	    "WITH x AS (SELECT id, task_id, lease_id, "
	    "CASE WHEN $4::bool OR ($5::bool AND attempts >= max_attempts) "
	    "THEN 'failed' ELSE 'queued' END AS next, retry_backoff_s, attempts "
	    "FROM jobs WHERE id = $1::uuid AND status = 'running' AND lease_id = $2::uuid "
	    "FOR UPDATE), "
	    "a AS (UPDATE job_attempts y SET status = 'dispatch_error', error = $3, "
	    "ended_at = now() FROM x WHERE y.job_id = x.id AND y.lease_id = x.lease_id), "
	    "u AS (UPDATE jobs j SET status = x.next, "
	    "attempts = CASE WHEN $5::bool THEN j.attempts ELSE j.attempts - 1 END, "
	    "node_id = CASE WHEN x.next = 'queued' THEN NULL ELSE j.node_id END, "
	    "lease_id = NULL, lease_expires_at = NULL, "
	    "not_before = CASE WHEN x.next = 'queued' THEN now() + LEAST($6::int, "
	    "CASE WHEN $5::bool THEN x.retry_backoff_s * power(2, LEAST(x.attempts - 1, 20)) "
	    "ELSE 1 END) * interval '1 second' END, "
	    "result = CASE WHEN x.next = 'failed' THEN jsonb_build_object('version', 1, "
	    "'status', 'failed', 'error', $3::text) END, "
	    "exit_code = CASE WHEN x.next = 'failed' THEN -1 END, "
	    "ended_at = CASE WHEN x.next = 'failed' THEN now() END "
	    "FROM x WHERE j.id = x.id RETURNING j.task_id, j.status) "
	    "UPDATE tasks t SET status = CASE WHEN u.status = 'failed' THEN 'failed' "
	    "ELSE 'pending' END, closed = (u.status = 'failed') FROM u "
	    "WHERE t.id = u.task_id AND t.status IN ('pending', 'running') "
	    "RETURNING t.closed",
	    6, p, err);
	if (!res)
		return -1;
	closed = PQntuples(res) > 0 && !strcmp(PQgetvalue(res, 0, 0), "t");
	PQclear(res);
	return closed;
}

PGresult *
store_dispatch_running(const char *task_id, struct cy_error *err)
{
	const char *p[1] = { task_id };

	return db_exec("dispatch_running_of_task",
	    "SELECT j.id, n.worker_api_target_url, encode(n.worker_api_bearer_token_enc, 'hex'), "
	    "COALESCE(n.worker_api_tls_pin, '') FROM jobs j JOIN nodes n ON n.id = j.node_id WHERE j.task_id = $1::uuid "
	    "AND j.status = 'running' AND n.worker_api_target_url IS NOT NULL "
	    "AND n.worker_api_bearer_token_enc IS NOT NULL",
	    1, p, err);
}

int
store_dispatch_sync(const char *node_id, const char *const *running, size_t nrunning,
    const char *const *finished, size_t nfinished, long long lease_s, struct dispatch_ids *want,
    struct dispatch_ids *cancel, struct cy_error *err)
{
	struct cy_buf ra = CY_BUF_INIT, fa = CY_BUF_INIT;
	char lease[24];
	const char *p[4];
	PGresult *res;
	int i, rc = -1;

	array_list(&ra, running, nrunning);
	array_list(&fa, finished, nfinished);
	xsnprintf(lease, sizeof(lease), "%lld", lease_s);
	p[0] = node_id;
	p[1] = ra.buf;
	p[2] = fa.buf;
	p[3] = lease;
	/*
	 * One row per reported id: kind 'r' renewed or not, 'f' wanted or not.
	 * A held result renews its lease too: the job is done, its result may
	 * still sit in a dispatcher's unsaved batch.
	 */
	res = db_exec("dispatch_sync",
	    "WITH r AS (UPDATE jobs SET lease_expires_at = now() + $4::int * interval '1 second' "
	    "WHERE (id = ANY($2::uuid[]) OR id = ANY($3::uuid[])) AND node_id = $1::uuid "
	    "AND status = 'running' RETURNING id) "
	    "SELECT 'r', x::text, EXISTS (SELECT 1 FROM r WHERE r.id = x) "
	    "FROM unnest($2::uuid[]) x "
	    "UNION ALL SELECT 'f', y::text, EXISTS (SELECT 1 FROM r WHERE r.id = y) "
	    "FROM unnest($3::uuid[]) y",
	    4, p, err);
	if (res) {
		for (i = 0; i < PQntuples(res); i++) {
			bool yes = !strcmp(PQgetvalue(res, i, 2), "t");

			if (PQgetvalue(res, i, 0)[0] == 'r' && !yes)
				ids_add(cancel, PQgetvalue(res, i, 1));
			else if (PQgetvalue(res, i, 0)[0] == 'f' && yes)
				ids_add(want, PQgetvalue(res, i, 1));
		}
		PQclear(res);
		rc = 0;
	}
	cy_buf_release(&ra);
	cy_buf_release(&fa);
	return rc;
}

int
store_dispatch_expire(struct dispatch_ids *closed, struct cy_error *err)
{
	char lim[24], backoff_max[24];
	const char *p[2];
	PGresult *res;
	int i, n;

	xsnprintf(lim, sizeof(lim), "%d", EXPIRE_BATCH);
	xsnprintf(backoff_max, sizeof(backoff_max), "%d", BACKOFF_MAX_S);
	p[0] = lim;
	p[1] = backoff_max;
	res = db_exec("dispatch_expire",
	    "WITH x AS (SELECT j.id, j.task_id, j.lease_id, j.retry_backoff_s, j.attempts, "
	    "CASE WHEN j.attempts >= j.max_attempts THEN 'failed' ELSE 'queued' END AS next, "
	    "CASE WHEN n.status = 'inactive' THEN 'node lost' ELSE 'lease expired' END AS why "
	    "FROM jobs j LEFT JOIN nodes n ON n.id = j.node_id WHERE j.status = 'running' "
	    "AND (j.lease_expires_at IS NULL OR j.lease_expires_at < now() "
	    "OR n.id IS NULL OR n.status = 'inactive') "
	    "ORDER BY j.lease_expires_at LIMIT $1::int FOR UPDATE OF j SKIP LOCKED), "
	    "a AS (UPDATE job_attempts y SET status = 'lease_expired', error = x.why, "
	    "ended_at = now() FROM x WHERE y.job_id = x.id AND y.lease_id = x.lease_id), "
	    "u AS (UPDATE jobs j SET status = x.next, "
	    "node_id = CASE WHEN x.next = 'queued' THEN NULL ELSE j.node_id END, "
	    "lease_id = NULL, lease_expires_at = NULL, "
	    "not_before = CASE WHEN x.next = 'queued' THEN now() + LEAST($2::int, "
	    "x.retry_backoff_s * power(2, LEAST(x.attempts - 1, 20))) * interval '1 second' END, "
	    "result = CASE WHEN x.next = 'failed' THEN jsonb_build_object('version', 1, "
	    "'status', 'failed', 'error', x.why || ' after ' || x.attempts || ' attempt(s)') END, "
	    "exit_code = CASE WHEN x.next = 'failed' THEN -1 END, "
	    "ended_at = CASE WHEN x.next = 'failed' THEN now() END "
	    "FROM x WHERE j.id = x.id RETURNING j.id, j.task_id, j.status), "
	    "t AS (UPDATE tasks t SET status = CASE WHEN u.status = 'failed' THEN 'failed' "
	    "ELSE 'pending' END, closed = (u.status = 'failed') FROM u "
	    "WHERE t.id = u.task_id AND t.status IN ('pending', 'running') "
	    "RETURNING t.id, t.closed) "
	    "SELECT u.id, t.id, t.closed FROM u LEFT JOIN t ON t.id = u.task_id",
	    2, p, err);
	if (!res)
		return -1;
	n = PQntuples(res);
	for (i = 0; i < n; i++)
		if (!strcmp(PQgetvalue(res, i, 2), "t"))
			ids_add(closed, PQgetvalue(res, i, 1));
	PQclear(res);
	return n;
}

int
store_dispatch_lease_grace(long long lease_s, struct cy_error *err)
{
	char lease[24];
	const char *p[1] = { lease };

	xsnprintf(lease, sizeof(lease), "%lld", lease_s);
	return store_run("dispatch_lease_grace",
	    "UPDATE jobs SET lease_expires_at = now() + $1::int * interval '1 second' "
	    "WHERE status = 'running' AND (lease_expires_at IS NULL "
	    "OR lease_expires_at < now() + $1::int * interval '1 second')",
	    1, p, err);
}

int
store_dispatch_prune(long long age_s, int limit, struct cy_error *err)
{
	char age[24], lim[24];
	const char *p[2];
	const char *errstr;
	long long n;
	PGresult *res;

	xsnprintf(age, sizeof(age), "%lld", age_s);
	xsnprintf(lim, sizeof(lim), "%d", limit);
	p[0] = age;
	p[1] = lim;
	/*
	 * A closed task's updated_at is its end time (nothing updates it once
	 * closed).  The status and job tests restate the invariant so that a
	 * task with work still queued or running is never deleted.  Jobs,
	 * their attempts and results, and the task's artifacts go with it (ON
	 * DELETE CASCADE), and so does its Idempotency-Key.
	 */
	res = db_exec("dispatch_prune",
	    "DELETE FROM tasks WHERE id IN (SELECT t.id FROM tasks t WHERE t.closed "
	    "AND t.updated_at < now() - $1::bigint * interval '1 second' "
	    "AND t.status IN ('completed', 'failed', 'canceled', 'superseded') "
	    "AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.task_id = t.id "
	    "AND j.status IN ('queued', 'running')) "
	    "ORDER BY t.updated_at LIMIT $2::int FOR UPDATE OF t SKIP LOCKED)",
	    2, p, err);
	if (!res)
		return -1;
	if (cy_strtonum(PQcmdTuples(res), 0, 1000000000, &n, &errstr) < 0)
		n = 0;
	PQclear(res);
	return (int)n;
}

int
store_node_load_reconcile(struct cy_error *err)
{
	const char *errstr;
	long long n;
	PGresult *res;

	if (db_begin(err) < 0)
		return -1;
	/* The claims' lock, in their order: no fold runs while this reads. */
	if (store_run("node_load_lock", "SELECT 1 FROM nodes ORDER BY id FOR UPDATE", 0, NULL,
		err) < 0)
		goto fail;
	res = db_exec("node_load_reconcile", "SELECT count(*) FROM cy_node_load_reconcile()", 0,
	    NULL, err);
	if (!res)
		goto fail;
	if (cy_strtonum(PQgetvalue(res, 0, 0), 0, 1000000000, &n, &errstr) < 0)
		n = 0;
	PQclear(res);
	if (db_commit(err) < 0)
		return -1;
	return (int)n;
fail:
	db_rollback();
	return -1;
}

int
store_job_is_agent(const char *job_id, struct cy_error *err)
{
	const char *p[1] = { job_id };
	PGresult *res = db_exec("job_is_agent",
	    "SELECT payload -> 'sba' IS NOT NULL FROM jobs WHERE id = $1::uuid", 1, p, err);
	int rc;

	if (!res)
		return -1;
	rc = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return rc;
}
