/*
 * The dispatcher's SQL: claiming the oldest queued job with SKIP LOCKED for
 * a dispatchable node with free capacity, and storing a job's result.
 * Capacity is checked after locking the chosen node's row, in a statement
 * of its own (a fresh READ COMMITTED snapshot), so concurrent claimers on
 * any replica never overfill a node.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "db.h"
#include "store-nodes.h"
#include "store-nodes-sql.h"
#include "store-util.h"
#include "strnum.h"
#include "banned.h"

void dispatch_job_release(struct dispatch_job *j)
{
	FREE_AND_NULL(j->payload);
	FREE_AND_NULL(j->target_url);
	FREE_AND_NULL(j->token_sealed);
}

/*
 * Locks node `id` if still dispatchable and under `max` running jobs; fills
 * its URL and token.  1 taken, 0 full or gone, -1 error.
 */
static int claim_node(struct dispatch_job *j, const char *id, const char *max,
	struct cy_error *err)
{
	const char *p[1] = { id };
	long long running, cap;
	const char *errstr;
	PGresult *res;

	res = db_exec("dispatch_node_lock",
		"SELECT n.worker_api_target_url, encode(n.worker_api_bearer_token_enc, 'hex') "
		"FROM nodes n WHERE n.id = $1::uuid AND " SQL_NODE_DISPATCHABLE " FOR UPDATE",
		1, p, err);
	if (!res)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return 0;
	}
	j->target_url = xstrdup(PQgetvalue(res, 0, 0));
	j->token_sealed = xstrdup(PQgetvalue(res, 0, 1));
	PQclear(res);
	res = db_exec("dispatch_node_running",
		"SELECT count(*) FROM jobs WHERE node_id = $1::uuid AND status = 'running'",
		1, p, err);
	if (!res)
		return -1;
	if (cy_strtonum(PQgetvalue(res, 0, 0), 0, 1000000000, &running, &errstr) < 0 ||
	    cy_strtonum(max, 1, 1000000, &cap, &errstr) < 0)
		cap = running = 0;
	PQclear(res);
	if (running >= cap) {
		FREE_AND_NULL(j->target_url);
		FREE_AND_NULL(j->token_sealed);
		return 0;
	}
	snprintf(j->node_id, sizeof(j->node_id), "%s", id);
	return 1;
}

/* Picks a node for the locked job: least loaded first.  1, 0 none, -1. */
static int claim_pick_node(struct dispatch_job *j, struct cy_error *err)
{
	PGresult *res;
	int i, rc = 0;

	res = db_exec("dispatch_nodes",
		"SELECT n.id, " SQL_NODE_MAX_CONCURRENCY " FROM nodes n "
		"LEFT JOIN node_capabilities c ON c.node_id = n.id WHERE " SQL_NODE_DISPATCHABLE
		" AND " SQL_NODE_RUNNING " < " SQL_NODE_MAX_CONCURRENCY
		" ORDER BY " SQL_NODE_RUNNING ", n.node_slug", 0, NULL, err);
	if (!res)
		return -1;
	for (i = 0; i < PQntuples(res) && rc == 0; i++)
		rc = claim_node(j, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), err);
	PQclear(res);
	return rc;
}

int store_dispatch_claim(struct dispatch_job *j, struct cy_error *err)
{
	const char *p[2];
	PGresult *res;
	int rc;

	memset(j, 0, sizeof(*j));
	if (db_begin(err) < 0)
		return -1;
	res = db_exec("dispatch_job_lock",
		"SELECT id, task_id, payload::text FROM jobs WHERE status = 'queued' "
		"ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED", 0, NULL, err);
	if (!res)
		goto fail;
	if (PQntuples(res) == 0) {
		PQclear(res);
		db_rollback();
		return 0;
	}
	snprintf(j->job_id, sizeof(j->job_id), "%s", PQgetvalue(res, 0, 0));
	snprintf(j->task_id, sizeof(j->task_id), "%s", PQgetvalue(res, 0, 1));
	j->payload = xstrdup(PQgetvalue(res, 0, 2));
	PQclear(res);
	rc = claim_pick_node(j, err);
	if (rc <= 0) {
		db_rollback();
		dispatch_job_release(j);
		return rc;
	}
	p[0] = j->job_id;
	p[1] = j->node_id;
	if (store_run("dispatch_job_running",
		"UPDATE jobs SET status = 'running', node_id = $2::uuid, started_at = now(), "
		"attempts = attempts + 1 WHERE id = $1::uuid", 2, p, err) < 0)
		goto fail;
	p[0] = j->task_id;
	if (store_run("dispatch_task_running",
		"UPDATE tasks SET status = 'running' WHERE id = $1::uuid AND status = 'pending'",
		1, p, err) < 0)
		goto fail;
	if (db_commit(err) < 0) {
		dispatch_job_release(j);
		return -1;
	}
	return 1;
fail:
	db_rollback();
	dispatch_job_release(j);
	return -1;
}

int store_dispatch_finish(const struct dispatch_job *j, const char *status,
	const char *result, const char *exit_code, struct cy_error *err)
{
	const char *p[4] = { j->job_id, status, result, exit_code };

	if (db_begin(err) < 0)
		return -1;
	if (store_run("dispatch_job_finish",
		"UPDATE jobs SET status = $2, result = $3::jsonb, exit_code = $4::int, "
		"ended_at = now() WHERE id = $1::uuid AND status = 'running'", 4, p, err) < 0)
		goto fail;
	p[0] = j->task_id;
	if (store_run("dispatch_task_finish",
		"UPDATE tasks SET status = $2, closed = true WHERE id = $1::uuid "
		"AND status IN ('pending', 'running')", 2, p, err) < 0)
		goto fail;
	return db_commit(err);
fail:
	db_rollback();
	return -1;
}
