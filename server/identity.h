/*
 * Helpers shared by the identity routes (route-users.c, route-tokens.c,
 * route-audit.c).
 */
#ifndef SERVER_IDENTITY_H
#define SERVER_IDENTITY_H

#include <jansson.h>
#include <stdbool.h>
#include <libpq-fe.h>

#include "error.h"
#include "httpd.h"

/*
 * Ends every login session of a user (their access and refresh tokens fail
 * at once) on this thread's connection; *n gets how many were active.
 * reason is an auth_sessions.revoke_reason value.
 */
int users_revoke_sessions(const char *user_id, const char *reason, long long *n,
	struct cy_error *err);

/*
 * The rows of a statement whose first column is a JSON object built in SQL
 * (json_build_object(...)::text), as a new array.  Rows that do not parse
 * are skipped (they cannot happen: the SQL builds them).
 */
json_t *identity_json_rows(const PGresult *res);
/* The first such row as a new object, or NULL when there is none. */
json_t *identity_json_row(const PGresult *res);

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
/* Overwrites and frees a secret string (NULL is fine). */
void identity_secret_free(char *s);

#endif
