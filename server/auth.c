/*
 * The authenticate hook of both listeners, and the one place where the
 * route table's auth kinds are decided (default deny: a kind not handled
 * below is refused).  A bearer token is either an access JWT (its login
 * session and its user must still be active), an API token "cyn_..." (not
 * revoked, not expired, its user active; its scopes limit what it may do),
 * or, on node routes, a node JWT of a node that still exists, or, on the
 * workflow routes, the configured workflow runner token (no token
 * configured: those routes answer 503, they are never open).  The user's
 * role is read from the database with the session, so a role change, a
 * disable, a logout or a revocation takes effect on the next request.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "auth-cache.h"
#include "auth.h"
#include "buf.h"
#include "core.h"
#include "digest.h"
#include "id.h"
#include "log.h"
#include "metrics.h"
#include "store-identity.h"
#include "timeutil.h"
#include "banned.h"

static const char *const role_names[] = {
	[ROLE_USER] = "user",
	[ROLE_OPERATOR] = "operator",
	[ROLE_ADMIN] = "admin",
};

static const struct {
	const char *name;
	unsigned bit;
} scope_names[] = {
	{ .name = "tasks:read", .bit = SCOPE_TASKS_READ },
	{ .name = "tasks:write", .bit = SCOPE_TASKS_WRITE },
	{ .name = "nodes:read", .bit = SCOPE_NODES_READ },
	{ .name = "nodes:write", .bit = SCOPE_NODES_WRITE },
	{ .name = "inference", .bit = SCOPE_INFERENCE },
	{ .name = "secrets", .bit = SCOPE_SECRETS },
	{ .name = "metrics", .bit = SCOPE_METRICS },
	{ .name = "admin", .bit = SCOPE_ADMIN },
};

const char *
auth_role_name(enum auth_role r)
{
	return (unsigned)r < sizeof(role_names) / sizeof(role_names[0]) ? role_names[r] : "user";
}

int
auth_role_parse(const char *s)
{
	size_t i;

	for (i = 0; s && i < sizeof(role_names) / sizeof(role_names[0]); i++)
		if (!strcmp(s, role_names[i]))
			return (int)i;
	return -1;
}

unsigned
auth_scope_parse(const char *s)
{
	size_t i;

	for (i = 0; s && i < sizeof(scope_names) / sizeof(scope_names[0]); i++)
		if (!strcmp(s, scope_names[i].name))
			return scope_names[i].bit;
	return 0;
}

unsigned
auth_role_scopes(enum auth_role r)
{
	switch (r) {
	case ROLE_ADMIN:
		return SCOPE_ALL;
	case ROLE_OPERATOR:
		return SCOPE_TASKS_READ | SCOPE_TASKS_WRITE | SCOPE_NODES_READ | SCOPE_NODES_WRITE |
		       SCOPE_INFERENCE | SCOPE_SECRETS | SCOPE_METRICS;
	default:
		return SCOPE_TASKS_READ | SCOPE_TASKS_WRITE | SCOPE_INFERENCE | SCOPE_SECRETS;
	}
}

bool
auth_sees_all_tasks(const struct auth_ctx *a)
{
	return a->role >= ROLE_OPERATOR;
}

bool
auth_acts_on_all_tasks(const struct auth_ctx *a)
{
	return a->role == ROLE_ADMIN;
}

static void
auth_metrics_declare(void)
{
	cy_metrics_declare("cynode_auth_check_seconds", CY_METRIC_HISTOGRAM,
	    "Time spent authenticating and authorizing one request, by credential kind.");
	cy_metrics_declare("cynode_auth_cache_total", CY_METRIC_COUNTER,
	    "Token checks answered from the auth cache (hit) or checked in full (miss).");
}

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

/* Fills role from its column value (an unknown value is the least role). */
static void
role_set(struct auth_ctx *ctx, const char *s)
{
	int r = auth_role_parse(s);

	ctx->role = r < 0 ? ROLE_USER : (enum auth_role)r;
}

/* Checks the user and session behind an access JWT; 0 ok, 1 denied, -1 db error. */
static int
auth_user(struct auth_ctx *ctx, const struct jwt_claims *c, struct cy_error *err)
{
	PGresult *res;
	int rc = 1;

	res = store_auth_session(c->user_id, c->sid, err);
	if (!res)
		return -1;
	if (PQntuples(res) == 1) {
		field_set(ctx->user_id, sizeof(ctx->user_id), c->user_id);
		field_set(ctx->session_id, sizeof(ctx->session_id), c->sid);
		field_set(ctx->handle, sizeof(ctx->handle), PQgetvalue(res, 0, AUS_HANDLE));
		role_set(ctx, PQgetvalue(res, 0, AUS_ROLE));
		ctx->scopes = SCOPE_ALL;
		rc = 0;
	}
	PQclear(res);
	return rc;
}

/* Parses a text[] value like {tasks:read,admin} into scope bits. */
static unsigned
scopes_from_array(const char *v)
{
	char name[32];
	unsigned bits = 0;
	size_t n = 0;

	if (*v == '{')
		v++;
	for (;; v++) {
		if (*v == ',' || *v == '}' || !*v) {
			name[n] = '\0';
			bits |= auth_scope_parse(name);
			n = 0;
			if (*v != ',')
				break;
		} else if (n + 1 < sizeof(name) && *v != '"') {
			name[n++] = *v;
		}
	}
	return bits;
}

/* Checks an API token; 0 ok (*exp its expiry), 1 denied, -1 db error. */
static int
auth_api_token(struct auth_ctx *ctx, const char *tok, time_t *exp, struct cy_error *err)
{
	char hash[65];
	PGresult *res;
	int rc = 1;

	if (!auth_api_token_wellformed(tok))
		return 1;
	cy_sha256_hex(tok, strlen(tok), hash);
	res = store_auth_api_token(hash, err);
	if (!res)
		return -1;
	if (PQntuples(res) == 1) {
		field_set(ctx->token_id, sizeof(ctx->token_id), PQgetvalue(res, 0, AUT_ID));
		field_set(ctx->user_id, sizeof(ctx->user_id), PQgetvalue(res, 0, AUT_USER_ID));
		ctx->scopes = scopes_from_array(PQgetvalue(res, 0, AUT_SCOPES));
		field_set(ctx->handle, sizeof(ctx->handle), PQgetvalue(res, 0, AUT_HANDLE));
		role_set(ctx, PQgetvalue(res, 0, AUT_ROLE));
		*exp = (time_t)strtoll(PQgetvalue(res, 0, AUT_EXP), NULL, 10);
		/* A token never holds more than its user's role allows today. */
		ctx->scopes &= auth_role_scopes(ctx->role);
		rc = 0;
	}
	PQclear(res);
	return rc;
}

bool
auth_api_token_wellformed(const char *tok)
{
	size_t i;

	if (strncmp(tok, AUTH_TOKEN_PREFIX, 4) != 0 || strlen(tok) != AUTH_TOKEN_LEN)
		return false;
	for (i = 4; tok[i]; i++)
		if (!((tok[i] >= '0' && tok[i] <= '9') || (tok[i] >= 'a' && tok[i] <= 'f')))
			return false;
	return true;
}

/* Checks the node behind a node token; 0 ok, 1 denied, -1 db error. */
static int
auth_node(struct auth_ctx *ctx, const struct jwt_claims *c, struct cy_error *err)
{
	PGresult *res;
	int rc = 1;

	res = store_auth_node(c->node_id, err);
	if (!res)
		return -1;
	if (PQntuples(res) == 1) {
		field_set(ctx->node_id, sizeof(ctx->node_id), c->node_id);
		field_set(ctx->node_slug, sizeof(ctx->node_slug), PQgetvalue(res, 0, AUN_SLUG));
		rc = 0;
	}
	PQclear(res);
	return rc;
}

/*
 * The authorization rule of every user auth kind: the least role, the API
 * token scopes that admit it (0: no API token may call it) and whether a
 * login session (JWT) may.  Kinds without a rule are denied.
 */
static const struct auth_rule {
	const char *name;
	enum auth_role role;
	unsigned scopes;
} rules[AUTH_KINDS] = {
	[AUTH_ANY] = { .name = "any", .role = ROLE_USER, .scopes = SCOPE_ALL },
	/* Writing implies reading. */
	[AUTH_TASKS_READ] = { .name = "tasks:read",
	    .role = ROLE_USER,
	    .scopes = SCOPE_TASKS_READ | SCOPE_TASKS_WRITE | SCOPE_ADMIN },
	[AUTH_TASKS_WRITE] = { .name = "tasks:write",
	    .role = ROLE_USER,
	    .scopes = SCOPE_TASKS_WRITE | SCOPE_ADMIN },
	[AUTH_NODES_READ] = { .name = "nodes:read",
	    .role = ROLE_OPERATOR,
	    .scopes = SCOPE_NODES_READ | SCOPE_NODES_WRITE | SCOPE_ADMIN },
	[AUTH_NODES_WRITE] = { .name = "nodes:write",
	    .role = ROLE_OPERATOR,
	    .scopes = SCOPE_NODES_WRITE | SCOPE_ADMIN },
	[AUTH_ADMIN] = { .name = "admin", .role = ROLE_ADMIN, .scopes = SCOPE_ADMIN },
	[AUTH_INFERENCE] = { .name = "inference",
	    .role = ROLE_USER,
	    .scopes = SCOPE_INFERENCE | SCOPE_ADMIN },
	/* Ending or changing the login itself: a CI token must not. */
	[AUTH_SESSION] = { .name = "session", .role = ROLE_USER, .scopes = 0 },
	/* A CI token must not mint itself successors. */
	[AUTH_ACCOUNT] = { .name = "account", .role = ROLE_USER, .scopes = SCOPE_ADMIN },
	/* The caller's own secrets (a tasks:write token uses them without this). */
	[AUTH_SECRETS] = { .name = "secrets",
	    .role = ROLE_USER,
	    .scopes = SCOPE_SECRETS | SCOPE_ADMIN },
	/* /metrics: an operator, or a scrape job's token that can do nothing else. */
	[AUTH_METRICS] = { .name = "metrics",
	    .role = ROLE_OPERATOR,
	    .scopes = SCOPE_METRICS | SCOPE_NODES_READ | SCOPE_NODES_WRITE | SCOPE_ADMIN },
};

/* NULL when allowed, else the 403 detail. */
static const char *
authorize(const struct auth_ctx *a, enum auth_kind kind)
{
	const struct auth_rule *r = (unsigned)kind < AUTH_KINDS ? &rules[kind] : NULL;

	if (!r || !r->name)
		return "Access denied";
	if (a->role < r->role)
		return r->role == ROLE_ADMIN ? "Admin required" : "Operator role required";
	if (a->token_id[0] && !r->scopes)
		return "API tokens cannot do this: log in";
	if (a->token_id[0] && !(a->scopes & r->scopes))
		return kind == AUTH_ACCOUNT ? "API tokens cannot manage tokens: log in, or use a "
					      "token with scope admin" :
					      "API token scope does not allow this";
	return NULL;
}

bool
auth_kind_describe(enum auth_kind kind, const char **name, const char **role, char *scopes,
    size_t size)
{
	const struct auth_rule *r = (unsigned)kind < AUTH_KINDS ? &rules[kind] : NULL;
	size_t i, n = 0;

	scopes[0] = '\0';
	if (kind == AUTH_NONE || kind == AUTH_NODE || kind == AUTH_WORKFLOW) {
		*name = kind == AUTH_NONE ? "none" : kind == AUTH_NODE ? "node" : "workflow";
		*role = "-";
		return true;
	}
	if (!r || !r->name)
		return false;
	*name = r->name;
	*role = auth_role_name(r->role);
	for (i = 0; i < sizeof(scope_names) / sizeof(scope_names[0]); i++)
		if (r->scopes & scope_names[i].bit) {
			cy_snprintf_clip(scopes + n, size - n, "%s%s", n ? "," : "",
			    scope_names[i].name);
			n = strlen(scopes);
		}
	return true;
}

static int auth_check(struct cy_http_req *req, struct cy_http_resp *resp, const char **how);

/*
 * The workflow routes: the runner token only, compared as sha256 digests in
 * constant time.  No token configured: 503, whatever the request carries.
 */
static int
auth_workflow(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const char *tok = cy_req_bearer(req);
	struct auth_ctx *ctx;
	char hash[65];

	/* Only the digest is held (config.c): from the token, or given as such. */
	if (!srv.cfg.workflow_token_hash[0]) {
		cy_resp_problem(resp, CY_PROBLEM_UNAVAILABLE,
		    "workflow runner not configured (workflow.runner_token_file or "
		    "workflow.runner_token_sha256)");
		return -1;
	}
	if (!tok || !*tok) {
		deny(resp, "Missing authorization header");
		return -1;
	}
	cy_sha256_hex(tok, strlen(tok), hash);
	if (!cy_streq_ct(hash, srv.cfg.workflow_token_hash)) {
		cy_log_info("auth_denied", "path", req->path, "reason", "bad workflow runner token",
		    NULL);
		deny(resp, "Invalid workflow runner token");
		return -1;
	}
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->kind = AUTH_WORKFLOW;
	field_set(ctx->handle, sizeof(ctx->handle), "workflow-runner");
	field_set(ctx->client_ip, sizeof(ctx->client_ip), req->client_ip);
	req->auth = ctx;
	return 0;
}

/*
 * Times every check into cynode_auth_check_seconds{kind=...} so that the
 * cost of authentication can be compared with whole requests (make bench).
 */
int
auth_authenticate(struct cy_http_req *req, struct cy_http_resp *resp)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	int64_t t0 = cy_mono_ns();
	const char *how = "none";
	char labels[32];
	int rc;

	pthread_once(&once, auth_metrics_declare);
	rc = auth_check(req, resp, &how);
	xsnprintf(labels, sizeof(labels), "kind=\"%s\"", how);
	cy_metrics_observe("cynode_auth_check_seconds", labels, (double)(cy_mono_ns() - t0) / 1e9);
	return rc;
}

static int
auth_check(struct cy_http_req *req, struct cy_http_resp *resp, const char **how)
{
	enum auth_kind kind = (enum auth_kind)req->route->auth;
	struct cy_error err = CY_ERROR_INIT;
	struct jwt_claims c;
	struct auth_ctx *ctx;
	const char *tok, *why;
	int rc;

	if (kind == AUTH_WORKFLOW) {
		*how = "workflow";
		return auth_workflow(req, resp);
	}
	tok = cy_req_bearer(req);
	if (!tok || !*tok) {
		deny(resp, "Missing authorization header");
		return -1;
	}
	ctx = xcalloc(1, sizeof(*ctx));
	if (kind == AUTH_NODE) {
		*how = "node";
		if (jwt_verify(tok, JWT_NODE, &c, &err) < 0) {
			cy_log_debug("auth_denied", "path", req->path, "reason", err.msg, NULL);
			rc = 1;
		} else {
			field_set(ctx->jti, sizeof(ctx->jti), c.jti);
			rc = auth_node(ctx, &c, &err);
		}
	} else {
		char key[65];
		unsigned long long gen = auth_cache_generation();
		time_t exp = 0;

		*how = strncmp(tok, AUTH_TOKEN_PREFIX, 4) ? "jwt" : "api_token";
		auth_cache_key(tok, key);
		if (auth_cache_get(key, ctx)) {
			rc = 0;
			cy_metrics_add("cynode_auth_cache_total", "result=\"hit\"", 1);
		} else if (**how == 'a') {
			rc = auth_api_token(ctx, tok, &exp, &err);
		} else if (jwt_verify(tok, JWT_ACCESS, &c, &err) < 0) {
			cy_log_debug("auth_denied", "path", req->path, "reason", err.msg, NULL);
			rc = 1;
		} else {
			field_set(ctx->jti, sizeof(ctx->jti), c.jti);
			exp = c.exp;
			rc = auth_user(ctx, &c, &err);
		}
		if (rc == 0 && exp) {
			cy_metrics_add("cynode_auth_cache_total", "result=\"miss\"", 1);
			auth_cache_put(key, ctx, exp, gen);
		}
	}
	ctx->kind = kind;
	field_set(ctx->client_ip, sizeof(ctx->client_ip), req->client_ip);
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
	if (kind != AUTH_NODE && (why = authorize(ctx, kind)) != NULL) {
		cy_log_info("auth_forbidden", "path", req->path, "user", ctx->handle, "role",
		    auth_role_name(ctx->role), NULL);
		free(ctx);
		cy_resp_problem(resp, CY_PROBLEM_AUTHORIZATION, "%s", why);
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
