/*
 * Login rate limits (contract section 8, REQ-IDENTY-0116/0117), kept in
 * this process's memory: a fixed one-minute window of attempts per client
 * address, and, per handle and per client address, a temporary lockout
 * after repeated failures whose length doubles with every further failure
 * (auth.lockout_* in server.yaml).  A success clears the handle's failures.
 */
#ifndef SERVER_RATELIMIT_H
#define SERVER_RATELIMIT_H

#include <stdbool.h>

/*
 * Counts a login attempt from ip for handle.  Returns 0 to go on, or the
 * seconds to wait (answer 429 with Retry-After); *why then names the limit
 * ("rate limited", "handle locked out", "address locked out").
 */
long ratelimit_login_check(const char *ip, const char *handle, const char **why);
/* Records the outcome of a checked attempt. */
void ratelimit_login_result(const char *ip, const char *handle, bool success);

#endif
