/*
 * The auth decision cache (auth-cache.c): token hash -> auth context, with
 * cluster-wide invalidation through PostgreSQL NOTIFY.
 */
#ifndef SERVER_AUTH_CACHE_H
#define SERVER_AUTH_CACHE_H

#include <stdbool.h>
#include <time.h>

#include "auth.h"
#include "error.h"

/* Starts the NOTIFY listener (main, after migrations); nothing is cached before. */
int auth_cache_start(struct cy_error *err);
void auth_cache_stop(void);
/* The cache key of a bearer token (SHA-256). */
void auth_cache_key(const char *token, char key[65]);
/* Read before a full check; pass it to auth_cache_put. */
unsigned long long auth_cache_generation(void);
/* Copies a cached decision into *out; false when there is none. */
bool auth_cache_get(const char key[65], struct auth_ctx *out);
/* Caches a decision made at generation gen for a token expiring at exp. */
void auth_cache_put(const char key[65], const struct auth_ctx *ctx, time_t exp,
    unsigned long long gen);

#endif
