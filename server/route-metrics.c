/*
 * GET /metrics on the user gateway (Prometheus text format, DESIGN.md
 * section 7), for operators: the route needs nodes:read like the fleet
 * views, so a Prometheus job scrapes with an operator's API token.  Besides
 * what lib/ counts (HTTP requests by route and status, process memory and
 * descriptors), each scrape reads the current task, job and node counts by
 * state from the database: cheap (indexed counts), and always true, with no
 * counter to drift across server replicas.
 */
#include <libpq-fe.h>
#include <stdlib.h>

#include "log.h"
#include "metrics.h"
#include "nodes.h"
#include "store-nodes.h"
#include "store-tasks.h"
#include "store-util.h"
#include "banned.h"

/* One gauge per row of a count by state (enum state_count_col). */
static void
gauge_rows(PGresult *(*count)(struct cy_error *), const char *gauge)
{
	struct cy_error err = CY_ERROR_INIT;
	PGresult *res = count(&err);
	int i;

	if (!res) {
		cy_log_warn("metrics_query_failed", "metric", gauge, "error", err.msg, NULL);
		cy_error_clear(&err);
		return;
	}
	for (i = 0; i < PQntuples(res); i++) {
		struct cy_buf l = CY_BUF_INIT;

		cy_metrics_label(&l, "state", PQgetvalue(res, i, SCC_STATE));
		cy_metrics_set(gauge, l.buf, strtod(PQgetvalue(res, i, SCC_COUNT), NULL));
		cy_buf_release(&l);
	}
	PQclear(res);
}

/* Reads the gauges at each scrape (store-tasks.c, store-nodes.c). */
static void
collect(void *arg)
{
	(void)arg;
	gauge_rows(store_task_state_counts, "cynode_tasks");
	gauge_rows(store_job_state_counts, "cynode_jobs");
	gauge_rows(store_nodes_state_counts, "cynode_nodes");
}

void
h_metrics(struct cy_http_req *req, struct cy_http_resp *resp)
{
	static int once;

	(void)req;
	if (!__atomic_exchange_n(&once, 1, __ATOMIC_SEQ_CST)) {
		cy_metrics_declare("cynode_tasks", CY_METRIC_GAUGE,
		    "Tasks in the database by state (pending = queued).");
		cy_metrics_declare("cynode_jobs", CY_METRIC_GAUGE,
		    "Jobs waiting for or holding a node, by state.");
		cy_metrics_declare("cynode_nodes", CY_METRIC_GAUGE, "Registered nodes by state.");
		cy_metrics_on_collect(collect, NULL);
	}
	cy_metrics_render(&resp->body);
	resp->status = 200;
	resp->content_type = CY_METRICS_CONTENT_TYPE;
}
