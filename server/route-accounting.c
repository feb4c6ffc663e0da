/*
 * GET /v1/accounting/jobs and GET /v1/accounting/summary: the accounting
 * records of finished job attempts (like Slurm's sacct) and their totals
 * per user or per queue.  A caller sees their own records; operators and
 * admins see everyone's (the rule of GET /v1/tasks?all=true), and only
 * they may name another user.  Filters: user, state, since/until (on the
 * attempt's end, [since, until)), node, queue; the list pages with limit
 * and a keyset cursor.  Unknown parameters and malformed values are 400.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounting.h"
#include "alloc.h"
#include "auth.h"
#include "log.h"
#include "store-util.h"
#include "strnum.h"
#include "timeutil.h"
#include "banned.h"

#define ACCT_LIMIT_MAX 1000
#define ACCT_NAME_MAX 127

static const char *const acct_states[] = { "completed", "failed", "canceled", "lease_expired",
	"dispatch_error", NULL };

static const char *const list_params[] = { "user", "state", "since", "until", "node", "queue",
	"limit", "cursor", NULL };
static const char *const summary_params[] = { "user", "state", "since", "until", "node", "queue",
	"by", NULL };

/* Whether s is one of the NULL-terminated list. */
static bool
one_of(const char *s, const char *const *list)
{
	size_t i;

	for (i = 0; list[i]; i++)
		if (!strcmp(s, list[i]))
			return true;
	return false;
}

/* A name filter: absent, or 1 to ACCT_NAME_MAX bytes. */
static bool
name_ok(const char *v)
{
	return !v || (*v && strlen(v) <= ACCT_NAME_MAX);
}

/*
 * Fills f from the query shared by both routes and applies the caller's
 * view; false after answering the problem.
 */
static bool
acct_filter_parse(struct cy_http_req *req, struct cy_http_resp *resp, const char *const *known,
    struct acct_filter *f)
{
	const struct auth_ctx *a = req->auth;
	const char *unknown = cy_req_query_unknown(req, known);
	time_t since = 0, until = 0;

	memset(f, 0, sizeof(*f));
	if (unknown) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "unknown query parameter '%.64s'",
		    unknown);
		return false;
	}
	f->user = cy_req_query(req, "user");
	f->state = cy_req_query(req, "state");
	f->since = cy_req_query(req, "since");
	f->until = cy_req_query(req, "until");
	f->node = cy_req_query(req, "node");
	f->queue = cy_req_query(req, "queue");
	if (!name_ok(f->user) || !name_ok(f->node) || !name_ok(f->queue)) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "user, node and queue must be names of 1 to %d bytes", ACCT_NAME_MAX);
		return false;
	}
	if (f->state && !one_of(f->state, acct_states)) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "state must be one of completed, failed, canceled, lease_expired, "
		    "dispatch_error");
		return false;
	}
	if ((f->since && cy_time_parse_rfc3339(f->since, &since) < 0) ||
	    (f->until && cy_time_parse_rfc3339(f->until, &until) < 0)) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "since and until must be RFC 3339 times like 2026-01-02T15:04:05Z");
		return false;
	}
	if (f->since && f->until && until <= since) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "until must be later than since");
		return false;
	}
	if (!auth_sees_all_tasks(a)) {
		if (f->user && strcmp(f->user, a->handle)) {
			cy_resp_problem(resp, CY_PROBLEM_AUTHORIZATION,
			    "Operator role required to read another user's accounting");
			return false;
		}
		f->owner_id = a->user_id;
	}
	return true;
}

/* GET /v1/accounting/jobs -> {"jobs":[record...], "next_cursor"?} */
void
h_accounting_jobs(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const char *q_limit = cy_req_query(req, "limit");
	const char *q_cursor = cy_req_query(req, "cursor");
	struct cy_error err = CY_ERROR_INIT;
	struct acct_filter f;
	char cid[CY_UUID_LEN + 1];
	long long limit = 100, us = 0;
	const char *errstr;
	PGresult *res;
	json_t *o, *rows;
	int n;

	if (!acct_filter_parse(req, resp, list_params, &f))
		return;
	if (q_limit && cy_strtonum(q_limit, 1, ACCT_LIMIT_MAX, &limit, &errstr) < 0)
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "limit must be an integer between 1 and %d", ACCT_LIMIT_MAX);
	if (q_cursor && store_cursor_parse(q_cursor, &us, cid) < 0)
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "invalid cursor");
	f.cursor_us = us;
	f.cursor_id = q_cursor ? cid : NULL;
	f.limit = limit;
	if (!(res = store_acct_list(&f, &err))) {
		cy_log_error("accounting_list_failed", "error", err.msg, NULL);
		return cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot read the accounting");
	}
	n = PQntuples(res);
	rows = store_json_rows(res, ACC_ROW);
	o = json_object();
	if (n > limit) {
		/* The extra row only says that there is a next page. */
		char *c = xasprintf("%s_%s", PQgetvalue(res, (int)limit - 1, ACC_CURSOR_US),
		    PQgetvalue(res, (int)limit - 1, ACC_ID));

		json_array_remove(rows, json_array_size(rows) - 1);
		json_object_set_new(o, "next_cursor", json_string(c));
		free(c);
	}
	PQclear(res);
	json_object_set_new(o, "jobs", rows);
	cy_resp_json(resp, 200, o);
}

/* GET /v1/accounting/summary?by=user|queue -> {"by", "rows":[totals...]} */
void
h_accounting_summary(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const char *by = cy_req_query(req, "by");
	struct cy_error err = CY_ERROR_INIT;
	struct acct_filter f;
	PGresult *res;

	if (!acct_filter_parse(req, resp, summary_params, &f))
		return;
	if (!by)
		by = "user";
	if (strcmp(by, "user") && strcmp(by, "queue"))
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "by must be user or queue");
	if (!(res = store_acct_summary(&f, by, &err))) {
		cy_log_error("accounting_summary_failed", "error", err.msg, NULL);
		return cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot read the accounting");
	}
	cy_resp_json(resp, 200, json_pack("{s:s, s:o}", "by", by, "rows", store_json_rows(res, 0)));
	PQclear(res);
}
