/*
 * Writes admin audit rows (see audit.h).  The row goes through the thread's
 * own connection, so it is part of whatever transaction the caller opened.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "db.h"
#include "log.h"
#include "banned.h"

#define UA_MAX 256

void
audit_auth(struct cy_http_req *req, const char *event, const char *user_id,
	const char *handle, bool success, const char *reason)
{
	struct cy_error err = CY_ERROR_INIT;
	const char *ua = req ? cy_req_header(req, "User-Agent") : NULL;
	char uabuf[UA_MAX];
	const char *p[7];
	PGresult *res;

	if (ua) {
		snprintf(uabuf, sizeof(uabuf), "%s", ua);
		ua = uabuf;
	}
	p[0] = event;
	p[1] = user_id;
	p[2] = handle;
	p[3] = success ? "t" : "f";
	p[4] = req && req->client_ip[0] ? req->client_ip : NULL;
	p[5] = ua;
	p[6] = reason;
	res = db_exec("audit_auth",
		"INSERT INTO auth_audit_log (event_type, user_id, subject_handle, success,"
		" ip_address, user_agent, reason) VALUES ($1, $2, left($3, 128), $4, $5, $6, $7)",
		7, p, &err);
	if (!res)
		cy_log_warn("audit_failed", "event", event, "error", err.msg, NULL);
	PQclear(res);
	cy_log_info("auth_event", "event", event, "success", success ? "true" : "false",
		"handle", handle ? handle : "", "ip", p[4] ? p[4] : "", "reason",
		reason ? reason : "", NULL);
}

int
audit_admin(const struct auth_ctx *actor, const char *action, const char *target,
	json_t *details, struct cy_error *err)
{
	const char *p[7];
	char *dj = NULL;
	PGresult *res;

	if (!actor || !action || !*action)
		return cy_error_set(err, EINVAL, "audit_admin: no actor or action");
	if (details && !json_is_object(details))
		return cy_error_set(err, EINVAL, "audit_admin: details must be a JSON object");
	if (details)
		dj = json_dumps(details, JSON_COMPACT);
	p[0] = actor->user_id[0] ? actor->user_id : NULL;
	p[1] = actor->handle[0] ? actor->handle : actor->node_slug[0] ? actor->node_slug : "-";
	p[2] = actor->token_id[0] ? actor->token_id : NULL;
	p[3] = action;
	p[4] = target;
	p[5] = dj;
	p[6] = actor->client_ip[0] ? actor->client_ip : NULL;
	res = db_exec("audit_admin",
		"INSERT INTO admin_audit_log (actor_user_id, actor_handle, actor_token_id, action,"
		" target, details, ip_address) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)",
		7, p, err);
	free(dj);
	if (!res)
		return cy_error_wrap(err, "admin audit '%s'", action);
	PQclear(res);
	cy_log_info("admin_action", "action", action, "actor", p[1], "target",
		target ? target : "", NULL);
	return 0;
}
