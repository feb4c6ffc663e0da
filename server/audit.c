/*
 * Writes admin and auth audit rows (see audit.h) through store-audit.c,
 * and logs each event.  The row goes through the thread's own connection,
 * so it is part of whatever transaction the caller opened.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "buf.h"
#include "log.h"
#include "store-identity.h"
#include "banned.h"

#define UA_MAX 256

void
audit_auth(struct cy_http_req *req, const char *event, const char *user_id, const char *handle,
    bool success, const char *reason)
{
	struct cy_error err = CY_ERROR_INIT;
	const char *ua = req ? cy_req_header(req, "User-Agent") : NULL;
	char uabuf[UA_MAX];
	struct audit_auth_row r;

	if (ua) {
		cy_snprintf_clip(uabuf, sizeof(uabuf), "%s", ua);
		ua = uabuf;
	}
	r.event = event;
	r.user_id = user_id;
	r.handle = handle;
	r.success = success;
	r.ip = req && req->client_ip[0] ? req->client_ip : NULL;
	r.user_agent = ua;
	r.reason = reason;
	if (store_audit_auth_add(&r, &err) < 0)
		cy_log_warn("audit_failed", "event", event, "error", err.msg, NULL);
	cy_log_info("auth_event", "event", event, "success", success ? "true" : "false", "handle",
	    handle ? handle : "", "ip", r.ip ? r.ip : "", "reason", reason ? reason : "", NULL);
}

int
audit_admin(const struct auth_ctx *actor, const char *action, const char *target, json_t *details,
    struct cy_error *err)
{
	struct audit_admin_row r;
	char *dj = NULL;
	int rc;

	if (!actor || !action || !*action)
		return cy_error_set(err, EINVAL, "audit_admin: no actor or action");
	if (details && !json_is_object(details))
		return cy_error_set(err, EINVAL, "audit_admin: details must be a JSON object");
	if (details)
		dj = json_dumps(details, JSON_COMPACT);
	r.user_id = actor->user_id[0] ? actor->user_id : NULL;
	r.handle = actor->handle[0] ? actor->handle : actor->node_slug[0] ? actor->node_slug : "-";
	r.token_id = actor->token_id[0] ? actor->token_id : NULL;
	r.action = action;
	r.target = target;
	r.details = dj;
	r.ip = actor->client_ip[0] ? actor->client_ip : NULL;
	rc = store_audit_admin_add(&r, err);
	free(dj);
	if (rc < 0)
		return cy_error_wrap(err, "admin audit '%s'", action);
	cy_log_info("admin_action", "action", action, "actor", r.handle, "target",
	    target ? target : "", NULL);
	return 0;
}
