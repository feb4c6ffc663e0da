/*
 * The names of a job's environment variables and of user secrets, checked
 * alike by cynork (before a request), the server (the API's rule) and the
 * node (the sandbox's rule).  A variable name is a C identifier of 1 to 256
 * bytes; names the node sets itself (CYNODE_* and INFERENCE_PROXY_URL) are
 * reserved for it.  A secret name is an identifier of 1 to 128 bytes that
 * is not reserved, so it can name its variable too.
 */
#ifndef CY_JOBENV_H
#define CY_JOBENV_H

#include <stdbool.h>

#define CY_ENV_NAME_MAX 256
#define CY_SECRET_NAME_MAX 128
#define CY_ENV_NAME_SHAPE "a variable name: a letter or '_', then letters, digits or '_'"
#define CY_SECRET_NAME_SHAPE \
	"a secret name: 1 to 128 letters, digits or '_', not starting with a digit or CYNODE_"

/* [A-Za-z_][A-Za-z0-9_]*, at most CY_ENV_NAME_MAX bytes. */
bool cy_env_name_valid(const char *s);
/* CYNODE_* and INFERENCE_PROXY_URL: the node sets them, a job's owner cannot. */
bool cy_env_name_reserved(const char *s);
/* A valid, unreserved variable name of at most CY_SECRET_NAME_MAX bytes. */
bool cy_secret_name_valid(const char *s);

#endif
