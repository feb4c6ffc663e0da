/*
 * GET /v1/audit (admin, issue 3): the admin audit table and the auth event
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
#include "db.h"
#include "handlers.h"
#include "id.h"
#include "identity.h"
#include "store-util.h"
#include "strnum.h"
#include "timeutil.h"
#include "banned.h"

#define AUDIT_SQL \
	"SELECT e.j, (extract(epoch FROM e.created_at) * 1000000)::bigint, e.id FROM (" \
	" SELECT a.id, a.created_at, a.actor_handle AS actor, a.action, json_build_object(" \
	"'event_id', a.id, 'ts', " SQL_TS("a.created_at") ", 'source', 'admin'," \
	" 'actor', a.actor_handle, 'action', a.action, 'target', a.target, 'success', true," \
	" 'ip_address', a.ip_address, 'token_id', a.actor_token_id, 'details', a.details)::text AS j" \
	" FROM admin_audit_log a WHERE $1 IN ('all', 'admin')" \
	" UNION ALL" \
	" SELECT l.id, l.created_at, l.subject_handle, l.event_type, json_build_object(" \
	"'event_id', l.id, 'ts', " SQL_TS("l.created_at") ", 'source', 'auth'," \
	" 'actor', l.subject_handle, 'action', l.event_type, 'target', l.subject_handle," \
	" 'success', l.success, 'ip_address', l.ip_address, 'token_id', NULL," \
	" 'details', json_build_object('reason', l.reason, 'user_agent', l.user_agent))::text" \
	" FROM auth_audit_log l WHERE $1 IN ('all', 'auth')) e" \
	" WHERE ($2::text IS NULL OR e.actor = $2)" \
	" AND ($3::text IS NULL OR e.action = $3)" \
	" AND ($4::text IS NULL OR left(e.action, length($4)) = $4)" \
	" AND ($5::timestamptz IS NULL OR e.created_at >= $5::timestamptz)" \
	" AND ($6::timestamptz IS NULL OR e.created_at < $6::timestamptz)" \
	" AND ($8::uuid IS NULL OR (e.created_at, e.id) <" \
	" (timestamptz 'epoch' + $7::bigint * interval '1 microsecond', $8::uuid))" \
	" ORDER BY e.created_at DESC, e.id DESC LIMIT $9::int"

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
	char cid[CY_UUID_LEN + 1], usbuf[32], limbuf[32], *prefix = NULL;
	const char *p[9], *errstr, *sep;
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
	if (time_param(req, "since", &p[4]) < 0 || time_param(req, "until", &p[5]) < 0)
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			"since and until must be RFC 3339 times like 2026-01-02T15:04:05Z");
	if (q_cursor) {
		char num[24];

		sep = strchr(q_cursor, '_');
		if (!sep || (size_t)(sep - q_cursor) >= sizeof(num) || !cy_uuid_valid(sep + 1))
			return cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "invalid cursor");
		memcpy(num, q_cursor, (size_t)(sep - q_cursor));
		num[sep - q_cursor] = '\0';
		if (cy_strtonum(num, 0, 9000000000000000000LL, &us, &errstr) < 0)
			return cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "invalid cursor");
		snprintf(cid, sizeof(cid), "%s", sep + 1);
	}
	p[0] = source;
	p[1] = cy_req_query(req, "actor");
	p[2] = NULL;
	p[3] = NULL;
	if (action && *action && action[strlen(action) - 1] == '*') {
		prefix = xstrdup(action);
		prefix[strlen(prefix) - 1] = '\0';
		p[3] = prefix;
	} else {
		p[2] = action;
	}
	snprintf(usbuf, sizeof(usbuf), "%lld", us);
	snprintf(limbuf, sizeof(limbuf), "%lld", limit + 1);
	p[6] = usbuf;
	p[7] = q_cursor ? cid : NULL;
	p[8] = limbuf;
	res = db_exec("audit_list", AUDIT_SQL, 9, p, &err);
	free(prefix);
	if (!res)
		return identity_internal(resp, "audit list", &err);
	n = PQntuples(res);
	if (n > limit) {
		/* The extra row only says that there is a next page. */
		char *c = xasprintf("%s_%s", PQgetvalue(res, (int)limit - 1, 1),
			PQgetvalue(res, (int)limit - 1, 2));
		json_t *events = identity_json_rows(res);

		json_array_remove(events, json_array_size(events) - 1);
		o = json_pack("{s:o, s:s}", "events", events, "next_cursor", c);
		free(c);
	} else {
		o = json_pack("{s:o}", "events", identity_json_rows(res));
	}
	PQclear(res);
	cy_resp_json(resp, 200, o);
}
