/*
 * User secrets (DESIGN.md section 9): named values a user stores once and
 * gives to jobs by name (task create --secret NAME[=ENVVAR]).  The value is
 * sealed at rest under the server's secrets key (secrets.key_file or
 * SECRETS_KEY; derived from the JWT secret when neither is set), bound to
 * its owner, project and name; it is opened only by the dispatcher, for
 * the one request that carries it to the node (sandbox.secret_env).  Task
 * payloads, task JSON, audit rows and log lines hold names only.
 */
#ifndef SERVER_SECRETS_H
#define SERVER_SECRETS_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "httpd.h"
#include "jcheck.h"

/* A secret's value: at most this many bytes (and at least one). */
#define SECRETS_VALUE_MAX (64 * 1024)
/* Secrets one task may name. */
#define SECRETS_PER_TASK 64

/* route-secrets.c: PUT /v1/secrets/{name}, GET /v1/secrets, DELETE /v1/secrets/{name} */
void h_secrets_put(struct cy_http_req *req, struct cy_http_resp *resp);
void h_secrets_list(struct cy_http_req *req, struct cy_http_resp *resp);
void h_secrets_delete(struct cy_http_req *req, struct cy_http_resp *resp);
extern const struct cy_jcheck secrets_put_body;

/* secrets.c */
/*
 * Sets up the secrets key from the configuration (after --dev defaults):
 * the configured 64 hex digits, else a key derived from the JWT secret
 * (logged as a warning: rotating the JWT secret then loses the secrets).
 */
void secrets_key_init(void);
/* The sealed form (hex) of value for owner, project (NULL: all) and name; caller frees. */
char *secrets_seal(const char *owner, const char *project, const char *name, const char *value);
/*
 * Seals / opens another value kept at rest under the same key, bound to
 * aad (webhook signing secrets).  Caller frees; open: NULL with err set.
 */
char *secrets_seal_aad(const char *aad, const char *value);
char *secrets_open_aad(const char *aad, const char *hex, struct cy_error *err);
/*
 * The references of a task's secrets ("secrets": [{"name", "env"}] of the
 * job payload) as the request that runs the job wants them: a new
 * {"ENV": "value"} object in *env.  -1 with msg filled (names only, never
 * a value) when a secret is gone or does not open; the job then fails.
 */
int secrets_job_env(const char *task_id, const json_t *refs, json_t **env, char *msg,
    size_t msglen);

/* store-secrets.c */
/*
 * Stores (creates or replaces) the sealed value of owner's secret `name`
 * in project (NULL: the owner's own scope).  *created tells which; -1
 * with err set (EINVAL: no such project).
 */
int store_secret_put(const char *owner, const char *project, const char *name,
    const char *sealed_hex, bool *created, struct cy_error *err);
/* The owner's secrets (names, scopes, times; never values) as a new array, or NULL. */
json_t *store_secrets_list(const char *owner, struct cy_error *err);
/* Deletes owner's secret in project (NULL: own scope): 1, 0 when none, -1. */
int store_secret_delete(const char *owner, const char *project, const char *name,
    struct cy_error *err);
/*
 * The names of `names` (a text[] literal) that owner has no secret for,
 * usable in project (NULL: the owner's default project), as a new array;
 * NULL with err set on failure.
 */
json_t *store_secrets_missing(const char *owner, const char *project, const char *names,
    struct cy_error *err);
/* The columns of store_secrets_for_task's rows. */
enum secret_col {
	SEC_NAME,
	SEC_OWNER,
	SEC_PROJECT, /* the secret's scope: NULL for the owner's own */
	SEC_SEALED,  /* hex */
};
/*
 * The secrets named in `names` (a text[] literal) as the task's creator
 * has them for the task's project (a project secret wins over the owner's
 * own): one row each, columns of enum secret_col; NULL with err set.
 */
PGresult *store_secrets_for_task(const char *task_id, const char *names, struct cy_error *err);

#endif
