/*
 * Helpers shared by the identity routes (route-users.c, route-tokens.c,
 * route-audit.c).
 */
#ifndef SERVER_IDENTITY_H
#define SERVER_IDENTITY_H

#include "error.h"

/*
 * Ends every login session of a user (their access and refresh tokens fail
 * at once) on this thread's connection; *n gets how many were active.
 * reason is an auth_sessions.revoke_reason value.
 */
int users_revoke_sessions(const char *user_id, const char *reason, long long *n,
	struct cy_error *err);

#endif
