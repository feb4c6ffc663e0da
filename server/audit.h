/*
 * The admin audit table (admin_audit_log): one row per admin action (users,
 * tokens, roles, nodes, config), written on the calling thread's database
 * connection so that it commits or rolls back with the action itself.
 */
#ifndef SERVER_AUDIT_H
#define SERVER_AUDIT_H

#include <jansson.h>

#include <stdbool.h>

#include "auth.h"
#include "error.h"
#include "httpd.h"

/*
 * Writes one admin_audit_log row for `actor` (its user, handle, API token
 * and client address).  `action` is "noun.verb" in lower case
 * ("user.disable", "node.drain", "config.push"); `target` names what was
 * acted on (may be NULL); `details` is a JSON object or NULL (borrowed;
 * never put secrets in it).  Call it between db_begin() and db_commit() of
 * the action.  Returns 0, or -1 with err set (then roll the action back).
 */
int audit_admin(const struct auth_ctx *actor, const char *action, const char *target,
    json_t *details, struct cy_error *err);

/*
 * Writes one auth_audit_log row (contract section 8 events: login_success,
 * login_failure, refresh_*, logout, session_revoked, user_created, ...) with
 * the request's client address and User-Agent.  user_id and handle are the
 * subject (may be NULL); reason never holds a secret.  A failure is logged,
 * never returned: auth events must not turn into 500s.  Inside a caller's
 * transaction the row commits with it.
 */
void audit_auth(struct cy_http_req *req, const char *event, const char *user_id, const char *handle,
    bool success, const char *reason);

#endif
