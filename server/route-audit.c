/*
 * GET /v1/audit (admin): the admin audit table and the auth event
 * log as one newest-first list, filtered by source (admin, auth or all),
 * actor handle, action (exact, or a prefix ending in '*'), and a time range
 * [since, until), paged with a keyset cursor.  Auth events name their
 * subject handle as actor; their reason and user agent are the details.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "auth.h"
#include "buf.h"
#include "id.h"
#include "identity.h"
#include "store-identity.h"
#include "store-util.h"
#include "strnum.h"
#include "timeutil.h"
#include "banned.h"

/* A time filter: absent is fine, otherwise RFC 3339.  -1 when malformed. */
static int
time_param(struct cy_http_req *req, const char *name, const char **out)
{
	const char *v = cy_req_query(req, name);
	time_t t;

	*out = NULL;
	if (!v)
		return 0;
	if (cy_time_parse_rfc3339(v, &t) < 0)
		return -1;
	*out = v;
	return 0;
}

void
h_audit_list(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const char *source = cy_req_query(req, "source");
	const char *action = cy_req_query(req, "action");
	const char *q_limit = cy_req_query(req, "limit");
	const char *q_cursor = cy_req_query(req, "cursor");
	struct cy_error err = CY_ERROR_INIT;
	struct audit_filter f = { 0 };
	char cid[CY_UUID_LEN + 1], *prefix = NULL;
	const char *errstr;
	long long limit = 100, us = 0;
	PGresult *res;
	json_t *o;
	int n;

	if (!source)
		source = "all";
	if (strcmp(source, "all") && strcmp(source, "admin") && strcmp(source, "auth"))
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "source must be admin, auth or all");
	if (q_limit && cy_strtonum(q_limit, 1, 500, &limit, &errstr) < 0)
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "limit must be an integer between 1 and 500");
	if (time_param(req, "since", &f.since) < 0 || time_param(req, "until", &f.until) < 0)
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "since and until must be RFC 3339 times like 2026-01-02T15:04:05Z");
	if (q_cursor && store_cursor_parse(q_cursor, &us, cid) < 0)
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "invalid cursor");
	f.source = source;
	f.actor = cy_req_query(req, "actor");
	if (action && *action && action[strlen(action) - 1] == '*') {
		prefix = xstrdup(action);
		prefix[strlen(prefix) - 1] = '\0';
		f.action_prefix = prefix;
	} else {
		f.action = action;
	}
	f.cursor_us = us;
	f.cursor_id = q_cursor ? cid : NULL;
	f.limit = limit;
	res = store_audit_list(&f, &err);
	free(prefix);
	if (!res)
		return identity_internal(resp, "audit list", &err);
	n = PQntuples(res);
	if (n > limit) {
		/* The extra row only says that there is a next page. */
		char *c = xasprintf("%s_%s", PQgetvalue(res, (int)limit - 1, AUD_CURSOR_US),
		    PQgetvalue(res, (int)limit - 1, AUD_ID));
		json_t *events = store_json_rows(res, AUD_EVENT);

		json_array_remove(events, json_array_size(events) - 1);
		o = json_pack("{s:o, s:s}", "events", events, "next_cursor", c);
		free(c);
	} else {
		o = json_pack("{s:o}", "events", store_json_rows(res, AUD_EVENT));
	}
	PQclear(res);
	cy_resp_json(resp, 200, o);
}
