/*
 * The node's metrics, served as Prometheus text on the Worker API's
 * GET /metrics to the holder of worker_api.metrics_token_file's token (a
 * scrape job: that token runs no job).  lib/httpd.c counts the Worker API's
 * requests; this file adds jobs by outcome and, at each scrape, the slots
 * in use, free disk and whether the node runs an applied configuration.
 */
#include <pthread.h>
#include <stdio.h>
#include <sys/statvfs.h>

#include "buf.h"
#include "metrics.h"
#include "node.h"
#include "sandbox.h"
#include "banned.h"

static void
metrics_disk(const char *what, const char *path)
{
	struct cy_buf l = CY_BUF_INIT;
	struct statvfs vs;

	if (!path || statvfs(path, &vs) < 0)
		return;
	cy_metrics_label(&l, "dir", what);
	cy_metrics_set("cynode_node_disk_free_bytes", l.buf,
	    (double)vs.f_bavail * (double)vs.f_frsize);
	cy_buf_release(&l);
}

/* At each scrape: what the node is doing now. */
static void
metrics_collect(void *arg)
{
	struct node *n = arg;
	unsigned running;
	bool applied;

	pthread_mutex_lock(&n->lock);
	running = n->running;
	applied = n->config_applied;
	pthread_mutex_unlock(&n->lock);
	cy_metrics_set("cynode_node_jobs_running", "", (double)running);
	cy_metrics_set("cynode_node_job_slots", "", (double)n->cfg.max_concurrency);
	cy_metrics_set("cynode_node_config_applied", "", applied ? 1 : 0);
	metrics_disk("state", n->cfg.state_dir);
	metrics_disk("mount_root", n->cfg.mount_root);
	{
		long long taken, missed;

		netns_pool_counts(&taken, &missed);
		cy_metrics_set("cynode_node_netns_pooled_total", "", (double)taken);
		cy_metrics_set("cynode_node_netns_pool_empty_total", "", (double)missed);
	}
}

void
node_metrics_init(struct node *n)
{
	static int once;

	/* One collect hook, however often the Worker API starts. */
	if (__atomic_exchange_n(&once, 1, __ATOMIC_SEQ_CST))
		return;
	cy_metrics_declare("cynode_node_jobs_total", CY_METRIC_COUNTER,
	    "Jobs this node finished, by kind (sandbox, prompt) and status.");
	cy_metrics_declare("cynode_node_jobs_running", CY_METRIC_GAUGE, "Jobs running now.");
	cy_metrics_declare("cynode_node_job_slots", CY_METRIC_GAUGE,
	    "Jobs the node runs at once (sandbox.max_concurrency).");
	cy_metrics_declare("cynode_node_config_applied", CY_METRIC_GAUGE,
	    "1 when the node runs a configuration it acknowledged as applied.");
	cy_metrics_declare("cynode_node_disk_free_bytes", CY_METRIC_GAUGE,
	    "Free bytes for unprivileged users under the state dir and the mount root.");
	cy_metrics_declare("cynode_node_netns_pooled_total", CY_METRIC_COUNTER,
	    "Sandboxes whose network namespace was made ahead (sandbox.netns_pool).");
	cy_metrics_declare("cynode_node_netns_pool_empty_total", CY_METRIC_COUNTER,
	    "Sandboxes that found the pool empty (bubblewrap made their namespace).");
	cy_metrics_on_collect(metrics_collect, n);
}

void
node_metrics_job_finished(const char *kind, const char *status)
{
	struct cy_buf l = CY_BUF_INIT;

	cy_metrics_label(&l, "kind", kind);
	cy_metrics_label(&l, "status", status ? status : "unknown");
	cy_metrics_add("cynode_node_jobs_total", l.buf, 1);
	cy_buf_release(&l);
}
