/*
 * Authentication for both listeners: JWTs (HS256 pinned, libjwt), password
 * hashing (Argon2id, contract section 8) and the per-request auth context
 * that the route table's auth kinds produce.
 */
#ifndef SERVER_AUTH_H
#define SERVER_AUTH_H

#include <stdbool.h>
#include <time.h>

#include "error.h"
#include "httpd.h"

/*
 * Auth kinds used in the route tables (cy_route.auth).  Each names one rule
 * of auth.c's table: the least role, the API token scopes that admit it and
 * whether an API token may call it at all (cynode-server --routes prints
 * every route with its rule).
 */
enum auth_kind {
	AUTH_NONE = 0,
	AUTH_ANY,         /* any signed-in user, any API token scope (who am I) */
	AUTH_TASKS_READ,  /* role user+; API token scope tasks:read */
	AUTH_TASKS_WRITE, /* role user+; API token scope tasks:write */
	AUTH_NODES_READ,  /* role operator+; API token scope nodes:read */
	AUTH_NODES_WRITE, /* role operator+; API token scope nodes:write */
	AUTH_ADMIN,       /* role admin; API token scope admin */
	AUTH_NODE,        /* node JWT (token_type "node") of a known node */
	AUTH_INFERENCE,   /* role user+; API token scope inference (models, chat) */
	AUTH_SESSION,     /* a login session only, never an API token (logout, password) */
	AUTH_ACCOUNT,     /* a login session, or an API token with scope admin (API tokens) */
	AUTH_SECRETS,     /* role user+; API token scope secrets (own secrets) */
	AUTH_METRICS,     /* role operator+; API token scope metrics (a scrape job) or nodes:* */
	AUTH_WORKFLOW,    /* the workflow runner's bearer token (workflow.runner_token_file) */
	AUTH_KINDS
};

/* Roles (users.role), lowest first. */
enum auth_role {
	ROLE_USER = 0,
	ROLE_OPERATOR,
	ROLE_ADMIN
};

/* API token scopes as bits (api_tokens.scopes). */
#define SCOPE_TASKS_READ 0x01
#define SCOPE_TASKS_WRITE 0x02
#define SCOPE_NODES_READ 0x04
#define SCOPE_NODES_WRITE 0x08
#define SCOPE_ADMIN 0x10
#define SCOPE_INFERENCE 0x20
#define SCOPE_SECRETS 0x40
#define SCOPE_METRICS 0x80
#define SCOPE_ALL 0xff

struct auth_ctx {
	enum auth_kind kind;
	char user_id[37];
	char handle[128];
	enum auth_role role;
	char session_id[37]; /* login session (access JWT "sid"); "" for API tokens */
	char token_id[37];   /* API token id; "" for JWTs */
	unsigned scopes;     /* API token scopes; SCOPE_ALL for JWTs */
	char client_ip[64];
	char node_id[37];
	char node_slug[128];
	char jti[64];
};

/*
 * Describes kind's rule for --routes: its name, least role, the scope
 * names that admit an API token ("" when none does) and whether node
 * credentials are meant.  Returns false for an unknown kind.
 */
bool auth_kind_describe(enum auth_kind kind, const char **name, const char **role, char *scopes,
    size_t size);

/* The cy_httpd authenticate hook for both listeners. */
int auth_authenticate(struct cy_http_req *req, struct cy_http_resp *resp);
void auth_free(void *auth);

/* API tokens: "cyn_" + 48 lower-case hex digits; the first 12 characters identify them. */
#define AUTH_TOKEN_PREFIX "cyn_"
#define AUTH_TOKEN_LEN 52
#define AUTH_TOKEN_SHOWN 12
bool auth_api_token_wellformed(const char *tok);

/* Role names ("admin", ...) and parsing (-1 when unknown). */
const char *auth_role_name(enum auth_role r);
int auth_role_parse(const char *s);
/* Scope names and parsing ("tasks:read" -> SCOPE_TASKS_READ; 0 when unknown). */
unsigned auth_scope_parse(const char *s);
/* The scopes a role may hold (and grant to its API tokens). */
unsigned auth_role_scopes(enum auth_role r);
/* True when the caller may see every user's tasks (operator, admin). */
bool auth_sees_all_tasks(const struct auth_ctx *a);
/* True when the caller may act on every user's tasks (admin). */
bool auth_acts_on_all_tasks(const struct auth_ctx *a);

/*
 * Drops every cached auth decision of this process (auth-cache.c); call it
 * right after committing a logout, a revocation, a disable, a role change
 * or a token revocation.  Other replicas learn of the change through the
 * triggers' NOTIFY.
 */
void auth_cache_invalidate(void);

/* Issues a node JWT; caller frees.  *expires_at gets its expiry. */
char *jwt_issue_node(const char *node_id, const char *node_slug, time_t *expires_at);

#endif
