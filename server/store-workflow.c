/*
 * Workflow leases SQL (workflow.h): runs of tasks with a holder, a lease and
 * their last checkpoint (migrations/0080_workflow.sql).  The handlers lock
 * the task row first, so that two holders racing for one task are
 * serialized and exactly one of them starts the run.
 */
#include "buf.h"
#include "db.h"
#include "store-util.h"
#include "workflow.h"
#include "banned.h"

/* clang-format off */
#define RUN_JSON \
	"json_build_object('run_id', r.id, 'task_id', r.task_id, 'holder', r.holder," \
	" 'lease_seconds', r.lease_seconds," \
	" 'lease_expires_at', " SQL_TS("r.lease_expires_at") "," \
	" 'last_node_id', r.last_node_id, 'state', r.state," \
	" 'checkpoint_at', " SQL_TS("r.checkpoint_at") "," \
	" 'run_status', r.status, 'takeovers', r.takeovers," \
	" 'started_at', " SQL_TS("r.started_at") "," \
	" 'released_at', " SQL_TS("r.released_at") ")::text"
#define RUN_COLS \
	"r.id, r.holder, (r.lease_expires_at <= now()), r.status, " SQL_TS("r.lease_expires_at")
/* clang-format on */

static json_t *
one_run(PGresult *res)
{
	json_t *o;

	if (!res)
		return NULL;
	o = store_json_row(res, 0);
	PQclear(res);
	return o;
}

int
store_wf_lock_task(const char *task_id, struct cy_error *err)
{
	const char *p[1] = { task_id };
	PGresult *res;
	int n;

	res = db_exec("wf_lock_task", "SELECT 1 FROM tasks WHERE id = $1 FOR NO KEY UPDATE", 1, p,
	    err);
	if (!res)
		return -1;
	n = PQntuples(res) == 1;
	PQclear(res);
	return n;
}

PGresult *
store_wf_running(const char *task_id, struct cy_error *err)
{
	const char *p[1] = { task_id };

	return db_exec("wf_running",
	    "SELECT " RUN_COLS " FROM workflow_runs r WHERE r.task_id = $1 AND r.status = 'running'"
	    " FOR UPDATE",
	    1, p, err);
}

PGresult *
store_wf_run_lock(const char *run_id, const char *task_id, struct cy_error *err)
{
	const char *p[2] = { run_id, task_id };

	return db_exec("wf_run_lock",
	    "SELECT " RUN_COLS " FROM workflow_runs r WHERE r.id = $1 AND r.task_id = $2"
	    " FOR UPDATE",
	    2, p, err);
}

json_t *
store_wf_start(const char *task_id, const char *holder, long long lease_s, struct cy_error *err)
{
	char ls[24];
	const char *p[3] = { task_id, holder, ls };

	xsnprintf(ls, sizeof(ls), "%lld", lease_s);
	return one_run(db_exec("wf_start",
	    "INSERT INTO workflow_runs AS r (task_id, holder, lease_seconds, lease_expires_at)"
	    " VALUES ($1, $2, $3::int, now() + make_interval(secs => $3::int))"
	    " RETURNING " RUN_JSON,
	    3, p, err));
}

json_t *
store_wf_renew(const char *run_id, const char *holder, long long lease_s, bool takeover,
    struct cy_error *err)
{
	char ls[24];
	const char *p[4] = { run_id, holder, ls, takeover ? "1" : "0" };

	xsnprintf(ls, sizeof(ls), "%lld", lease_s > 0 ? lease_s : 0);
	return one_run(db_exec("wf_renew",
	    "UPDATE workflow_runs r SET holder = $2,"
	    " lease_seconds = CASE WHEN $3::int > 0 THEN $3::int ELSE r.lease_seconds END,"
	    " lease_expires_at = now() + make_interval(secs =>"
	    " CASE WHEN $3::int > 0 THEN $3::int ELSE r.lease_seconds END),"
	    " takeovers = r.takeovers + $4::int"
	    " WHERE r.id = $1 RETURNING " RUN_JSON,
	    4, p, err));
}

json_t *
store_wf_checkpoint(const char *run_id, const char *node_id, const char *state,
    struct cy_error *err)
{
	const char *p[3] = { run_id, node_id, state };

	return one_run(db_exec("wf_checkpoint",
	    "UPDATE workflow_runs r SET last_node_id = $2, state = $3::jsonb,"
	    " checkpoint_at = now(), lease_expires_at = now() + make_interval(secs => r.lease_seconds)"
	    " WHERE r.id = $1 RETURNING " RUN_JSON,
	    3, p, err));
}

json_t *
store_wf_release(const char *run_id, struct cy_error *err)
{
	const char *p[1] = { run_id };

	return one_run(db_exec("wf_release",
	    "UPDATE workflow_runs r SET status = 'released', released_at = now(),"
	    " lease_expires_at = LEAST(r.lease_expires_at, now())"
	    " WHERE r.id = $1 RETURNING " RUN_JSON,
	    1, p, err));
}

json_t *
store_wf_get(const char *run_id, struct cy_error *err)
{
	const char *p[1] = { run_id };

	return one_run(db_exec("wf_get", "SELECT " RUN_JSON " FROM workflow_runs r WHERE r.id = $1",
	    1, p, err));
}
