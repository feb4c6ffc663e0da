/*
 * SQL for identity (contract section 8): users and their password
 * credentials, login sessions and their refresh tokens, API tokens, the
 * audit logs, and the checks behind every bearer token.  Every statement
 * runs on the calling thread's connection, so it belongs to whatever
 * transaction the caller opened.  Secrets never cross this interface:
 * refresh and API tokens travel as SHA-256 hex, passwords as Argon2id PHC
 * strings.  Rows come back as JSON objects built in SQL, as small structs,
 * or as PGresults whose columns the enums below name.
 *
 *   store-identity.c	logins, sessions, bearer token checks
 *   store-users.c	users and their passwords, the admin bootstrap
 *   store-tokens.c	API tokens
 *   store-audit.c	the admin and auth audit logs
 *
 * Login lockouts (ratelimit.c) are kept in memory and have no SQL.
 */
#ifndef SERVER_STORE_IDENTITY_H
#define SERVER_STORE_IDENTITY_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"

/* ---- store-identity.c: logins and sessions ---- */

enum login_col {
	LOGIN_ID,
	LOGIN_ACTIVE,
	LOGIN_HASH
};
/* The user a login names, with its password hash (NULL: none); zero rows when unknown. */
PGresult *store_login_lookup(const char *handle, struct cy_error *err);

/* A refresh token to store (its hash), with the login session it belongs to. */
struct refresh_new {
	const char *user_id;
	const char *hash;       /* hex SHA-256 of the refresh token */
	const char *expires_at; /* Unix seconds, text */
	const char *session_id;
	const char *ip;         /* NULL: unknown */
	const char *user_agent; /* NULL: none */
};
/* Stores a refresh token; with new_session its login session is created by the same statement. */
int store_refresh_add(const struct refresh_new *r, bool new_session, struct cy_error *err);
/*
 * Retires the active, unexpired refresh token `hash` of user_id in the
 * live session sid.  1 when it was, 0 when no such token, -1.
 */
int store_refresh_rotate(const char *hash, const char *user_id, const char *sid,
    struct cy_error *err);
/*
 * An already rotated refresh token was presented again: revokes its whole
 * session.  *revoked tells whether there was one to revoke.  0 or -1.
 */
int store_refresh_reused(const char *hash, const char *user_id, bool *revoked,
    struct cy_error *err);
/*
 * Logout: ends session sid (NULL: none) and the session of refresh token
 * `hash` (NULL: none) when they are user_id's.  0 or -1.
 */
int store_session_logout(const char *hash, const char *user_id, const char *sid,
    struct cy_error *err);
/*
 * Ends every login session of a user (their access and refresh tokens fail
 * at once); *n gets how many were active.  reason is an
 * auth_sessions.revoke_reason value.  API tokens are not sessions and stay
 * valid.  0 or -1.
 */
int store_sessions_revoke(const char *user_id, const char *reason, long long *n,
    struct cy_error *err);

/* ---- store-identity.c: the checks behind bearer tokens ---- */

enum auth_session_col {
	AUS_HANDLE,
	AUS_ROLE
};
/* The active user of an access JWT whose session sid is live; zero rows when not. */
PGresult *store_auth_session(const char *user_id, const char *sid, struct cy_error *err);
enum auth_token_col {
	AUT_ID,
	AUT_USER_ID,
	AUT_SCOPES,
	AUT_HANDLE,
	AUT_ROLE,
	AUT_EXP
};
/*
 * The live API token with this hash and its active owner (zero rows when
 * none); marks it used, at most once a minute.
 */
PGresult *store_auth_api_token(const char *hash, struct cy_error *err);
enum auth_node_col {
	AUN_SLUG
};
/* The node behind a node JWT; zero rows when it is gone. */
PGresult *store_auth_node(const char *node_id, struct cy_error *err);

/* ---- store-users.c: the admin user ---- */

/* Sets *exists when user admin exists.  0 or -1. */
int store_admin_exists(bool *exists, struct cy_error *err);
/*
 * Creates user admin with password hash `hash`, its credential and its
 * audit event in one transaction.  1 created, 0 when another replica did
 * first, -1.
 */
int store_admin_create(const char *hash, struct cy_error *err);

/* ---- store-users.c ---- */

/* A user as the admin routes lock it. */
struct user_ref {
	char id[37];
	char handle[128];
	char role[16];
	bool active;
};

enum user_me_col {
	UME_ID,
	UME_HANDLE,
	UME_EMAIL,
	UME_ACTIVE
};
/* The caller's own account; zero rows when gone. */
PGresult *store_user_me(const char *user_id, struct cy_error *err);
/* Copies the handle of user `id` into handle.  1 found, 0 not, -1. */
int store_user_handle(const char *id, char *handle, size_t len, struct cy_error *err);
/*
 * Copies the handle of user_id into handle when the user exists and is
 * active.  1 when so, 0 when unknown or disabled, -1.
 */
int store_user_active_handle(const char *user_id, char *handle, size_t len, struct cy_error *err);
/* Locks user `ref` (UUID or handle) FOR UPDATE into *u.  1 found, 0 not, -1. */
int store_user_lock(const char *ref, struct user_ref *u, struct cy_error *err);
/*
 * The UserResponse object of user `id` (as stored) into *out, NULL when
 * none.  0 or -1.
 */
int store_user_json(const char *id, json_t **out, struct cy_error *err);
/* The same for `ref`, a UUID or a handle. */
int store_user_find_json(const char *ref, json_t **out, struct cy_error *err);
/* Every user's UserResponse, by handle, as a new array; NULL with err set. */
json_t *store_users_list(struct cy_error *err);
/*
 * Inserts a user (email NULL: none).  -1 with err->code EEXIST when the
 * handle or email is taken.
 */
int store_user_insert(const char *id, const char *handle, const char *email, const char *role,
    struct cy_error *err);
int store_user_set_active(const char *id, bool active, struct cy_error *err);
int store_user_set_role(const char *id, const char *role, struct cy_error *err);

/* The first password credential of a new user. */
int store_password_insert(const char *user_id, const char *hash, struct cy_error *err);
/* A copy of user_id's password hash into *hash (caller frees).  1 found, 0 none, -1. */
int store_password_get(const char *user_id, char **hash, struct cy_error *err);
/*
 * The user changes its own password: stores hash and ends the user's other
 * login sessions (all but keep_sid).  0 or -1.
 */
int store_password_change(const char *user_id, const char *hash, const char *keep_sid,
    struct cy_error *err);
/* An admin sets the password (creating the credential when missing).  0 or -1. */
int store_password_reset(const char *user_id, const char *hash, struct cy_error *err);

/* ---- store-tokens.c ---- */

struct token_new {
	const char *user_id;
	const char *name;
	const char *prefix; /* its first AUTH_TOKEN_SHOWN characters */
	const char *hash;   /* hex SHA-256 of the token */
	const char *scopes; /* PostgreSQL text[] literal */
	const char *ttl_s;  /* seconds, text */
};
/*
 * Stores an API token; *out gets its TokenResponse (NULL when no row came
 * back).  -1 with err->code EEXIST when the user has an active token of
 * that name.
 */
int store_token_create(const struct token_new *t, json_t **out, struct cy_error *err);
/* The TokenResponses of user_id's tokens (NULL: everyone's) as a new array; NULL with err set. */
json_t *store_tokens_list(const char *user_id, struct cy_error *err);
enum token_revoke_col {
	TRV_PREFIX,
	TRV_REVOKED,
	TRV_OWNER
};
/*
 * Revokes token `id` if it is owner's (NULL: anyone's), locking it.  One
 * row when the token exists (TRV_REVOKED "1" when this call revoked it),
 * zero rows when not.
 */
PGresult *store_token_revoke(const char *id, const char *owner, struct cy_error *err);

/* ---- store-audit.c ---- */

/* One auth_audit_log row. */
struct audit_auth_row {
	const char *event;
	const char *user_id; /* NULL: unknown */
	const char *handle;  /* NULL: unknown; cut at 128 characters */
	bool success;
	const char *ip;
	const char *user_agent;
	const char *reason;
};
int store_audit_auth_add(const struct audit_auth_row *r, struct cy_error *err);

/* One admin_audit_log row. */
struct audit_admin_row {
	const char *user_id;  /* the actor's; NULL for a node */
	const char *handle;   /* the actor's handle or node slug */
	const char *token_id; /* the actor's API token, NULL for a JWT */
	const char *action;
	const char *target;
	const char *details; /* JSON object text or NULL */
	const char *ip;
};
int store_audit_admin_add(const struct audit_admin_row *r, struct cy_error *err);

/* What GET /v1/audit asks for; NULL strings do not filter. */
struct audit_filter {
	const char *source; /* admin | auth | all */
	const char *actor;
	const char *action; /* exact */
	const char *action_prefix;
	const char *since; /* RFC 3339, inclusive */
	const char *until; /* RFC 3339, exclusive */
	long long cursor_us;
	const char *cursor_id; /* NULL: first page */
	long long limit;
};
enum audit_col {
	AUD_EVENT,
	AUD_CURSOR_US,
	AUD_ID
};
/*
 * Admin and auth events, newest first, at most `limit` + 1 rows (the extra
 * one says there is a next page); AUD_EVENT is the event's JSON object.
 */
PGresult *store_audit_list(const struct audit_filter *f, struct cy_error *err);

#endif
