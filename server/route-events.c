/*
 * GET /v1/events: task and node state changes as server-sent events
 * (text/event-stream), one event per change: "id: N" (the event's id in
 * the event log, the same on every replica), "event: TYPE" (task.created,
 * task.queued, task.running, task.completed, task.failed, task.canceled,
 * task.superseded; node.registered, node.active, node.lost, node.drained,
 * node.removed) and "data: {...}" (the event as one JSON object).
 *
 * Query: type=task|node (default both), task=ID|NAME (one task's events),
 * all=true (every user's task events: operators and admins; others see
 * their own tasks' only), since=N (the events after id N; 0: from the
 * oldest kept), follow=true|false (default true: the stream stays open,
 * with a keep-alive comment every 15 s; false: it ends after the events
 * there are).  A Last-Event-ID header (a reconnecting client) wins over
 * since.  Without either, a follow stream starts with the next event and
 * a one-off answer from the oldest kept.  Node events need the fleet's
 * read right (role operator or admin, and an API token's nodes:read).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "events.h"
#include "log.h"
#include "strnum.h"
#include "store-tasks.h"
#include "tasks.h"
#include "banned.h"

#define ID_MAX 9223372036854775807LL

/* A true|false query parameter: 0 with *v set, or -1 with resp filled. */
static int
query_bool(struct cy_http_req *req, const char *name, bool def, bool *v, struct cy_http_resp *resp)
{
	const char *s = cy_req_query(req, name);

	*v = def;
	if (!s)
		return 0;
	if (strcmp(s, "true") && strcmp(s, "false")) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "%s must be true or false", name);
		return -1;
	}
	*v = !strcmp(s, "true");
	return 0;
}

/* Where the stream starts: Last-Event-ID, else since; -2 when neither. */
static int
start_id(struct cy_http_req *req, long long *after, struct cy_http_resp *resp)
{
	const char *last = cy_req_header(req, "Last-Event-ID");
	const char *since = cy_req_query(req, "since");
	const char *errstr;

	*after = -2;
	if (last) {
		if (cy_strtonum(last, 0, ID_MAX, after, &errstr) < 0) {
			cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			    "Last-Event-ID must be an event id (an integer >= 0)");
			return -1;
		}
		return 0;
	}
	if (since && cy_strtonum(since, 0, ID_MAX, after, &errstr) < 0) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "since must be an event id (an integer >= 0)");
		return -1;
	}
	return 0;
}

void
h_events(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	const char *type = cy_req_query(req, "type");
	const char *task = cy_req_query(req, "task");
	bool may_nodes = a->role >= ROLE_OPERATOR && (a->scopes & SCOPE_NODES_READ);
	struct events_filter f = { .tasks = true, .user_id = a->user_id, .nodes = may_nodes };
	char task_id[40];
	long long after;
	bool all, follow;

	if (type && strcmp(type, "task") && strcmp(type, "node"))
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "type must be task or node");
	if (query_bool(req, "all", false, &all, resp) < 0 ||
	    query_bool(req, "follow", true, &follow, resp) < 0 || start_id(req, &after, resp) < 0)
		return;
	if (type && !strcmp(type, "node")) {
		if (task || all)
			return cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			    "type=node takes neither task nor all");
		if (!may_nodes)
			return cy_resp_problem(resp, CY_PROBLEM_AUTHORIZATION,
			    "Operator role (and, for an API token, scope nodes:read) required for node events");
		f.tasks = false;
	}
	if (type && !strcmp(type, "task"))
		f.nodes = false;
	if (all) {
		if (!auth_sees_all_tasks(a))
			return cy_resp_problem(resp, CY_PROBLEM_AUTHORIZATION,
			    "Operator role required to see every user's task events");
		f.user_id = NULL;
	}
	if (task) {
		PGresult *res = task_lookup_ref(req, task, resp);

		if (!res)
			return;
		xsnprintf(task_id, sizeof(task_id), "%s", PQgetvalue(res, 0, TC_ID));
		PQclear(res);
		/* One task's events, whoever may see it (task_lookup_ref checked). */
		f.task_id = task_id;
		f.user_id = NULL;
		f.nodes = false;
	}
	if (after == -2)
		after = follow ? -1 : 0;
	if (events_subscribe(resp, &f, after, follow) < 0)
		return cy_resp_problem(resp, CY_PROBLEM_UNAVAILABLE,
		    "too many event streams are open on this server; try again later");
}
