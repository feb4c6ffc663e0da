/*
 * The dispatcher's interfaces (DESIGN.md section 5): the job claimed for a
 * node, a job's outcome, and the SQL behind them (store-dispatch.c); the
 * dispatcher thread (dispatch.c), the node's job sync and result
 * redelivery routes (dispatch-sync.c), the NOTIFY listener
 * (dispatch-listen.c) and the cluster chores run by the replica holding
 * the advisory lock (dispatch-chores.c).
 */
#ifndef SERVER_DISPATCH_H
#define SERVER_DISPATCH_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "httpd.h"
#include "jcheck.h"

#define DISPATCH_ID_LEN 37

/* A job claimed for a node: running, with a fresh lease and attempt row. */
struct dispatch_job {
	char job_id[DISPATCH_ID_LEN];
	char task_id[DISPATCH_ID_LEN];
	char node_id[DISPATCH_ID_LEN];
	char lease_id[DISPATCH_ID_LEN];
	char *payload; /* JSON object text */
	char *target_url;
	char *token_sealed;
	char *tls_pin; /* the node's registered key pin, "" when none (node-tls.h) */
};
void dispatch_job_release(struct dispatch_job *j);

/* A job's result, from jobs:run or redelivered by the node. */
struct dispatch_result {
	const char *job_id;
	const char *lease_id;  /* NULL: any lease */
	const char *node_id;   /* NULL: any node */
	const char *status;    /* completed | failed */
	const char *result;    /* JSON object text */
	const char *exit_code; /* integer text, NULL when none */
	const char *task_id;   /* the job's task, NULL when not known */
};

/* A list of task ids that just closed (to wake long polls). */
struct dispatch_ids {
	char (*id)[DISPATCH_ID_LEN];
	size_t n;
};
void dispatch_ids_release(struct dispatch_ids *ids);

/* store-dispatch.c */
/*
 * Claims up to `max` queued jobs (highest priority, then oldest; due; whose
 * labels and GPU count a node has) for dispatchable nodes with free slots,
 * in one transaction: job running with node and lease, attempt recorded,
 * task running.  Nodes in skip_nodes (a uuid[] literal, NULL = none) get
 * nothing.  *jobs is an array of *n (free with dispatch_job_release each,
 * then free).  0 or -1.
 */
int store_dispatch_claim(size_t max, long long lease_s, const char *skip_nodes,
    struct dispatch_job **jobs, size_t *n, struct cy_error *err);
/*
 * Applies results once each: only to a job still running (under that lease
 * and node, when given); job, attempt and task close in one transaction.
 * Task ids closed are appended to `closed`.  Returns how many applied, -1.
 */
int store_dispatch_finish(const struct dispatch_result *r, size_t n, struct dispatch_ids *closed,
    struct cy_error *err);
/* Whether job_id is an agent job (its payload has a spec): 1, 0 (or no such job), -1. */
int store_job_is_agent(const char *job_id, struct cy_error *err);
/*
 * The attempt failed before the job ran (or cannot run): `permanent` fails
 * the job and task with `error`; otherwise the job goes back to the queue
 * after its backoff, or fails when it has no attempts left.  `counted`
 * false gives the attempt back (the node was busy).  1 when the task
 * closed, 0, -1.
 */
int store_dispatch_retry(const struct dispatch_job *j, const char *error, bool permanent,
    bool counted, struct cy_error *err);
/*
 * The running jobs of a task with their nodes (before a cancel, or to ask
 * for their logs): columns of enum dispatch_running_col.
 */
enum dispatch_running_col {
	DRC_JOB_ID,
	DRC_TARGET_URL,
	DRC_TOKEN,
	DRC_TLS_PIN
};
PGresult *store_dispatch_running(const char *task_id, struct cy_error *err);
/*
 * A node's sync: renews the leases of `running` jobs it still holds, and
 * says which `finished` results are still wanted and which running jobs
 * must be killed (no longer running there).  Arrays of ids.
 */
int store_dispatch_sync(const char *node_id, const char *const *running, size_t nrunning,
    const char *const *finished, size_t nfinished, long long lease_s, struct dispatch_ids *want,
    struct dispatch_ids *cancel, struct cy_error *err);
/*
 * Chores: jobs whose lease expired or whose node went inactive go back to
 * the queue or fail, per their retry policy.  Closed task ids appended.
 * Returns the number of jobs handled, -1.
 */
int store_dispatch_expire(struct dispatch_ids *closed, struct cy_error *err);
/*
 * A new chores leader gives every running job one more lease: while no
 * replica ran, nodes could not renew them.  0 or -1.
 */
int store_dispatch_lease_grace(long long lease_s, struct cy_error *err);
/*
 * Deletes up to `limit` tasks closed more than age_s ago, none with a job
 * still queued or running, with their jobs, attempts and artifacts.
 * Count or -1.
 */
int store_dispatch_prune(long long age_s, int limit, struct cy_error *err);
/*
 * Makes the nodes' load counters (migration 0098) agree with their
 * running jobs again, holding every node's row meanwhile; the number of
 * nodes corrected, or -1.
 */
int store_node_load_reconcile(struct cy_error *err);

/* dispatch.c */
int dispatch_start(struct cy_error *err);
void dispatch_stop(void);
/* Wakes the dispatcher (a job was queued or a node freed up). */
void dispatch_wake(void);
/* Asks the node running `job_id` to kill it (fire and forget). */
void dispatch_cancel_job(const char *job_id, const char *target_url, const char *token_sealed,
    const char *tls_pin);
/* "<base without trailing slashes><suffix>" (a node's Worker API URL), caller frees. */
char *dispatch_url_join(const char *base, const char *suffix);
/* The lease length in seconds (dispatch.lease). */
long long dispatch_lease_s(void);

/* dispatch-sync.c: the node's job sync and result redelivery (node JWT, both listeners) */
void h_nodes_jobs_sync(struct cy_http_req *req, struct cy_http_resp *resp);
void h_nodes_job_result(struct cy_http_req *req, struct cy_http_resp *resp);
extern const struct cy_jcheck nodes_jobs_sync_body, nodes_job_result_body;

/* dispatch-listen.c: LISTEN for new jobs and closed tasks on every replica. */
int dispatch_listen_start(struct cy_error *err);
void dispatch_listen_stop(void);

/* dispatch-chores.c: lease expiry and retention on the lock-holding replica. */
int dispatch_chores_start(struct cy_error *err);
void dispatch_chores_stop(void);

#endif
