/*
 * The authenticate hook of both listeners: it turns the route's auth kind
 * and the request's bearer token into a struct auth_ctx, or answers 401/403
 * itself.  User tokens must be access JWTs of an existing, active user (the
 * database is asked on every request, so disabling a user takes effect at
 * once); node tokens must be node JWTs of a node that still exists.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "auth.h"
#include "core.h"
#include "db.h"
#include "log.h"
#include "banned.h"

static void
deny(struct cy_http_resp *resp, const char *detail)
{
	cy_resp_problem(resp, CY_PROBLEM_AUTHENTICATION, "%s", detail);
	cy_resp_header(resp, "WWW-Authenticate", "Bearer");
}

static void
internal(struct cy_http_resp *resp, const struct cy_error *err)
{
	cy_log_error("auth_db_error", "error", err->msg, NULL);
	cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "Internal server error");
}

/* Copies s into a fixed field, truncating safely (values were bounded already). */
static void
field_set(char *dst, size_t dstsz, const char *s)
{
	size_t n = strlen(s);

	if (n >= dstsz)
		n = dstsz - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/* Checks the user behind an access token; 0 ok, 1 denied, -1 db error. */
static int
auth_user(struct auth_ctx *ctx, const struct jwt_claims *c, struct cy_error *err)
{
	const char *p[1] = { c->user_id };
	PGresult *res;
	int rc = 1;

	res = db_exec("auth_user", "SELECT handle, is_active FROM users WHERE id = $1", 1, p,
		err);
	if (!res)
		return -1;
	if (PQntuples(res) == 1 && !strcmp(PQgetvalue(res, 0, 1), "t")) {
		field_set(ctx->user_id, sizeof(ctx->user_id), c->user_id);
		field_set(ctx->handle, sizeof(ctx->handle), PQgetvalue(res, 0, 0));
		rc = 0;
	}
	PQclear(res);
	return rc;
}

/* Checks the node behind a node token; 0 ok, 1 denied, -1 db error. */
static int
auth_node(struct auth_ctx *ctx, const struct jwt_claims *c, struct cy_error *err)
{
	const char *p[1] = { c->node_id };
	PGresult *res;
	int rc = 1;

	res = db_exec("auth_node", "SELECT node_slug FROM nodes WHERE id = $1", 1, p, err);
	if (!res)
		return -1;
	if (PQntuples(res) == 1) {
		field_set(ctx->node_id, sizeof(ctx->node_id), c->node_id);
		field_set(ctx->node_slug, sizeof(ctx->node_slug), PQgetvalue(res, 0, 0));
		rc = 0;
	}
	PQclear(res);
	return rc;
}

int
auth_authenticate(struct cy_http_req *req, struct cy_http_resp *resp)
{
	enum auth_kind kind = (enum auth_kind)req->route->auth;
	struct cy_error err = CY_ERROR_INIT;
	struct jwt_claims c;
	struct auth_ctx *ctx;
	const char *tok;
	int rc;

	tok = cy_req_bearer(req);
	if (!tok || !*tok) {
		deny(resp, "Missing authorization header");
		return -1;
	}
	if (jwt_verify(tok, kind == AUTH_NODE ? JWT_NODE : JWT_ACCESS, &c, &err) < 0) {
		cy_log_debug("auth_denied", "path", req->path, "reason", err.msg, NULL);
		deny(resp, "Invalid or expired token");
		return -1;
	}
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->kind = kind;
	field_set(ctx->jti, sizeof(ctx->jti), c.jti);
	rc = kind == AUTH_NODE ? auth_node(ctx, &c, &err) : auth_user(ctx, &c, &err);
	if (rc < 0) {
		free(ctx);
		internal(resp, &err);
		return -1;
	}
	if (rc > 0) {
		free(ctx);
		deny(resp, "Invalid or expired token");
		return -1;
	}
	/* Roles arrive with issue 3; until then the admin user is the operator. */
	if ((kind == AUTH_ADMIN || kind == AUTH_NODES_READ || kind == AUTH_NODES_WRITE) &&
	    strcmp(ctx->handle, "admin") != 0) {
		free(ctx);
		cy_resp_problem(resp, CY_PROBLEM_AUTHORIZATION, "Admin required");
		return -1;
	}
	req->auth = ctx;
	return 0;
}

void
auth_free(void *auth)
{
	free(auth);
}
