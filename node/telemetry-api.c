/*
 * The Worker API's telemetry routes (contract 2.3), behind the worker
 * bearer like jobs:run: GET /v1/worker/telemetry/node:info (version 1,
 * node_slug, build, platform), node:stats (a snapshot: captured_at, cpu,
 * memory, load, disk, jobs), containers and containers/{id} (the job
 * records of telemetry.c, newest first) and logs (events; source, since,
 * until and limit filters, at most 1 MiB with `truncated`).  A filter with
 * a bad value is a 400 naming it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "httpd.h"
#include "node.h"
#include "strnum.h"
#include "telemetry.h"
#include "timeutil.h"
#include "version.h"
#include "banned.h"

#define TEL_LOGS_MAX_BYTES (1024 * 1024)
#define TEL_LIMIT_MAX 1000

/* ?limit=N: 0 with *out (def when absent), or -1 with the 400 filled. */
static int
tel_limit(struct cy_http_req *req, struct cy_http_resp *resp, long long def, long long *out)
{
	const char *v = cy_req_query(req, "limit");
	const char *errstr;

	*out = def;
	if (!v)
		return 0;
	if (cy_strtonum(v, 1, TEL_LIMIT_MAX, out, &errstr) < 0) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "limit: wants an integer from 1 to %d",
		    TEL_LIMIT_MAX);
		return -1;
	}
	return 0;
}

/* ?since= / ?until=: an RFC 3339 time or a duration back from now ("15m"). */
static int
tel_time(struct cy_http_req *req, struct cy_http_resp *resp, const char *name, time_t *out)
{
	const char *v = cy_req_query(req, name);
	long long secs;

	*out = 0;
	if (!v)
		return 0;
	if (cy_time_parse_rfc3339(v, out) == 0 && *out > 0)
		return 0;
	if (cy_duration_parse(v, &secs) == 0 && secs >= 0 && secs < (long long)time(NULL)) {
		*out = time(NULL) - (time_t)secs;
		return 0;
	}
	cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
	    "%s: wants an RFC 3339 time (2026-01-02T15:04:05Z) or a duration back from now (15m)",
	    name);
	return -1;
}

/* GET /v1/worker/telemetry/node:info */
void
worker_telemetry_info(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct node *n = req->app;
	struct utsname u;
	json_t *plat;

	if (uname(&u) == 0)
		plat = json_pack("{s:s, s:s, s:s, s:s}", "os", u.sysname, "arch", u.machine,
		    "kernel_release", u.release, "hostname", u.nodename);
	else
		plat = json_pack("{s:s}", "os", "Linux");
	cy_resp_json(resp, 200,
	    json_pack("{s:i, s:s, s:s?, s:{s:s, s:s}, s:o, s:s}", "version", 1, "node_slug",
		n->cfg.node_id, "node_name", n->cfg.node_name, "build", "version", CYNODE_VERSION,
		"program", "cynode-node", "platform", plat, "sandbox_runtime", n->cfg.sb_runtime));
}

static json_t *
tel_disk(const char *path)
{
	struct statvfs vs;

	if (!path || statvfs(path, &vs) < 0)
		return json_null();
	return json_pack("{s:s, s:I, s:I}", "path", path, "total_bytes",
	    (json_int_t)((double)vs.f_blocks * (double)vs.f_frsize), "free_bytes",
	    (json_int_t)((double)vs.f_bavail * (double)vs.f_frsize));
}

/* GET /v1/worker/telemetry/node:stats */
void
worker_telemetry_stats(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct node *n = req->app;
	char now[CY_RFC3339_LEN + 1];
	double load[3] = { 0, 0, 0 };
	struct sysinfo si;
	unsigned running;
	bool applied;
	json_t *mem;

	pthread_mutex_lock(&n->lock);
	running = n->running;
	applied = n->config_applied;
	pthread_mutex_unlock(&n->lock);
	cy_now_rfc3339(now);
	if (getloadavg(load, 3) < 0)
		load[0] = load[1] = load[2] = 0;
	if (sysinfo(&si) == 0)
		mem = json_pack("{s:I, s:I}", "total_bytes",
		    (json_int_t)si.totalram * (json_int_t)si.mem_unit, "free_bytes",
		    (json_int_t)si.freeram * (json_int_t)si.mem_unit);
	else
		mem = json_null();
	cy_resp_json(resp, 200,
	    json_pack("{s:i, s:s, s:s, s:{s:I}, s:o, s:{s:f, s:f, s:f}, s:{s:o, s:o}, s:{s:i, "
		      "s:I}, s:b}",
		"version", 1, "node_slug", n->cfg.node_id, "captured_at", now, "cpu", "cores",
		(json_int_t)sysconf(_SC_NPROCESSORS_ONLN), "memory", mem, "load", "1m", load[0],
		"5m", load[1], "15m", load[2], "disk", "state_dir", tel_disk(n->cfg.state_dir),
		"mount_root", tel_disk(n->cfg.mount_root), "jobs", "running", (int)running, "slots",
		(json_int_t)n->cfg.max_concurrency, "config_applied", applied));
}

/* GET /v1/worker/telemetry/containers */
void
worker_telemetry_containers(struct cy_http_req *req, struct cy_http_resp *resp)
{
	long long limit;

	if (tel_limit(req, resp, 100, &limit) < 0)
		return;
	cy_resp_json(resp, 200,
	    json_pack("{s:i, s:o}", "version", 1, "containers",
		node_telemetry_jobs(NULL, (size_t)limit)));
}

/* GET /v1/worker/telemetry/containers/{id} */
void
worker_telemetry_container(struct cy_http_req *req, struct cy_http_resp *resp)
{
	json_t *r = node_telemetry_jobs(req->params[0], 1);

	if (!r)
		return cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND,
		    "no container '%s' recorded here", req->params[0]);
	cy_resp_json(resp, 200, json_pack("{s:i, s:o}", "version", 1, "container", r));
}

/* GET /v1/worker/telemetry/logs */
void
worker_telemetry_logs(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const char *source = cy_req_query(req, "source");
	time_t since, until;
	long long limit;
	bool truncated;
	json_t *ev;

	if (source && strcmp(source, "node") != 0 && strcmp(source, "job") != 0)
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "source: wants node or job");
	if (tel_limit(req, resp, TEL_LIMIT_MAX, &limit) < 0 ||
	    tel_time(req, resp, "since", &since) < 0 || tel_time(req, resp, "until", &until) < 0)
		return;
	if (since && until && until < since)
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "until: is before since");
	ev = node_telemetry_events(source, since, until, (size_t)limit, TEL_LOGS_MAX_BYTES,
	    &truncated);
	cy_resp_json(resp, 200,
	    json_pack("{s:i, s:o, s:b}", "version", 1, "events", ev, "truncated", truncated));
}
