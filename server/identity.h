/*
 * Identity on the user gateway (contract section 8): login, refresh and
 * logout, users and their passwords, API tokens and the audit log, and
 * the helpers their route files share.  Bearer token checks are in
 * auth.h, audit rows are written through audit.h, the SQL is in
 * store-identity.h.
 */
#ifndef SERVER_IDENTITY_H
#define SERVER_IDENTITY_H

#include <jansson.h>
#include <stdbool.h>

#include "error.h"
#include "httpd.h"
#include "jcheck.h"

/* Passwords: bytes, the least and the most. */
#define IDENTITY_PASSWORD_MIN 8
#define IDENTITY_PASSWORD_MAX 4096
/* Handles and secrets given at login, and refresh tokens: the most bytes. */
#define IDENTITY_HANDLE_MAX 256
#define IDENTITY_TOKEN_MAX 4096

/* route-auth.c: POST /v1/auth/login, /v1/auth/refresh, /v1/auth/logout */
void h_auth_login(struct cy_http_req *req, struct cy_http_resp *resp);
void h_auth_refresh(struct cy_http_req *req, struct cy_http_resp *resp);
void h_auth_logout(struct cy_http_req *req, struct cy_http_resp *resp);
extern const struct cy_jcheck auth_login_body, auth_refresh_body, auth_logout_body;

/* route-users.c: the caller's own account and password, an admin's session revocation */
void h_users_me(struct cy_http_req *req, struct cy_http_resp *resp);
void h_users_change_password(struct cy_http_req *req, struct cy_http_resp *resp);
void h_users_revoke_sessions(struct cy_http_req *req, struct cy_http_resp *resp);
extern const struct cy_jcheck users_password_body;

/* route-users-admin.c: user administration */
void h_users_create(struct cy_http_req *req, struct cy_http_resp *resp);
void h_users_list(struct cy_http_req *req, struct cy_http_resp *resp);
void h_users_get(struct cy_http_req *req, struct cy_http_resp *resp);
void h_users_disable(struct cy_http_req *req, struct cy_http_resp *resp);
void h_users_enable(struct cy_http_req *req, struct cy_http_resp *resp);
void h_users_reset_password(struct cy_http_req *req, struct cy_http_resp *resp);
void h_users_set_role(struct cy_http_req *req, struct cy_http_resp *resp);
extern const struct cy_jcheck users_create_body, users_reset_password_body, users_role_body;

/* route-tokens.c: API tokens */
void h_tokens_create(struct cy_http_req *req, struct cy_http_resp *resp);
void h_tokens_list(struct cy_http_req *req, struct cy_http_resp *resp);
void h_tokens_revoke(struct cy_http_req *req, struct cy_http_resp *resp);
extern const struct cy_jcheck tokens_create_body;

/* route-audit.c: GET /v1/audit */
void h_audit_list(struct cy_http_req *req, struct cy_http_resp *resp);

/* identity.c: helpers */
/* Logs err and answers 500 (what names the step for the log). */
void identity_internal(struct cy_http_resp *resp, const char *what, const struct cy_error *err);

/*
 * A duration in seconds from a JSON value: an integer, or a string like
 * "30d", "12h", "90m", "45s".  -1 when malformed.
 */
long long identity_duration(const json_t *v);

/*
 * A handle or token name: 1-64 of [A-Za-z0-9._-], starting with a letter
 * or a digit.
 */
bool identity_name_ok(const char *s);
/* identity_name_ok in words, for messages. */
#define IDENTITY_NAME_SHAPE "1-64 letters, digits, '.', '_' or '-'"
/* Overwrites and frees a secret string (NULL is fine). */
void identity_secret_free(char *s);

#endif
