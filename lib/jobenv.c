/*
 * Names of job environment variables and of secrets (jobenv.h).
 */
#include <string.h>

#include "jobenv.h"
#include "banned.h"

/* ASCII letters and '_' (no locale: a name means the same everywhere). */
static bool
ident_start(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

bool
cy_env_name_valid(const char *s)
{
	size_t i;

	if (!s || !ident_start(s[0]))
		return false;
	for (i = 1; s[i]; i++)
		if (!ident_start(s[i]) && !(s[i] >= '0' && s[i] <= '9'))
			return false;
	return i <= CY_ENV_NAME_MAX;
}

bool
cy_env_name_reserved(const char *s)
{
	return s && (strncmp(s, "CYNODE_", 7) == 0 || strcmp(s, "INFERENCE_PROXY_URL") == 0);
}

bool
cy_secret_name_valid(const char *s)
{
	return cy_env_name_valid(s) && !cy_env_name_reserved(s) && strlen(s) <= CY_SECRET_NAME_MAX;
}
