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

/* Auth kinds used in the route tables (cy_route.auth). */
enum auth_kind {
	AUTH_NONE = 0,
	AUTH_USER,		/* any signed-in user, any scope (whoami, logout) */
	AUTH_TASKS_READ,	/* role user+; API token scope tasks:read */
	AUTH_TASKS_WRITE,	/* role user+; API token scope tasks:write */
	AUTH_NODES_READ,	/* role operator+; API token scope nodes:read */
	AUTH_NODES_WRITE,	/* role operator+; API token scope nodes:write */
	AUTH_ADMIN,		/* role admin; API token scope admin */
	AUTH_NODE,		/* node JWT (token_type "node") of a known node */
};

struct auth_ctx {
	enum auth_kind kind;
	char user_id[37];
	char handle[128];
	char node_id[37];
	char node_slug[128];
	char jti[64];
};

/* The cy_httpd authenticate hook for both listeners. */
int auth_authenticate(struct cy_http_req *req, struct cy_http_resp *resp);
void auth_free(void *auth);

/* Issues a node JWT; caller frees.  *expires_at gets its expiry. */
char *jwt_issue_node(const char *node_id, const char *node_slug, time_t *expires_at);

#endif
