/*
 * Helpers shared by the identity routes (route-users.c, route-tokens.c,
 * route-audit.c).
 */
#ifndef SERVER_IDENTITY_H
#define SERVER_IDENTITY_H

#include <jansson.h>
#include <stdbool.h>

#include "error.h"
#include "httpd.h"

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
