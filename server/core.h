/*
 * cynode-server core modules (owned by server-core): configuration loading,
 * migrations, JWT issue/verify, password hashing, the route tables and the
 * bootstrap of the admin user.  Handlers use auth.h and db.h; this header
 * is for main.c and the auth routes.
 */
#ifndef SERVER_CORE_H
#define SERVER_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "buf.h"
#include "error.h"
#include "httpd.h"
#include "server.h"

/* config.c */
#define SERVER_DEFAULT_CONFIG "/etc/cynode/server.yaml"
/*
 * Loads defaults < YAML < environment into cfg, then the secrets (env or a
 * 0600/0400 file).  A missing file is an error only when must_exist.
 */
int server_config_load(struct server_config *cfg, const char *path, bool must_exist,
    struct cy_error *err);
/* Refuses weak or known-default secrets (unless cfg->dev_mode) and bad values. */
int server_config_check(const struct server_config *cfg, struct cy_error *err);
void server_config_print(FILE *out, const struct server_config *cfg);
void server_config_release(struct server_config *cfg);
/* The paths of server.yaml keys that differ (cy_config_diff). */
size_t server_config_diff(const struct server_config *a, const struct server_config *b,
    bool reloadable, struct cy_buf *out);
/* reload.c: SIGHUP; re-reads the file at path (NULL: the default), applies logging. */
int server_reload(const char *path);
/* Splits "host:port" ("[::1]:80", ":80"); host is "" for any. */
int server_split_listen(const char *addr, char *host, size_t hostsz, unsigned *port,
    struct cy_error *err);

/* migrate.c: applies migrations/NNNN_*.sql not yet in schema_migrations. */
int migrate_run(const char *dir, struct cy_error *err);
/* The migrations directory per the brief (env, exe-relative, installed). */
char *migrate_find_dir(const char *configured);

/* password.c: Argon2id PHC strings (contract section 8). */
char *password_hash(const char *password, struct cy_error *err);
/* 1 match, 0 mismatch, -1 malformed hash (err set). */
int password_verify(const char *phc, const char *password, struct cy_error *err);

/* jwt.c */
enum jwt_type {
	JWT_ACCESS,
	JWT_REFRESH,
	JWT_NODE
};

struct jwt_claims {
	enum jwt_type type;
	char sub[64];
	char user_id[37];
	char handle[128];
	char node_id[37];
	char node_slug[128];
	char sid[37]; /* login session of access and refresh tokens */
	char jti[64];
	time_t iat, exp;
};

/* Issue a token; caller frees.  *exp (may be NULL) gets the expiry. */
char *jwt_issue_access(const char *user_id, const char *handle, const char *sid, time_t *exp);
char *jwt_issue_refresh(const char *user_id, const char *handle, const char *sid, time_t *exp);
/* Verifies signature (HS256 only), iss, exp, nbf and token_type. */
int jwt_verify(const char *token, enum jwt_type want, struct jwt_claims *out, struct cy_error *err);

/*
 * routes.c: the route tables of the two listeners, with body limits taken
 * from the configuration (call after it is loaded).  Static storage.
 */
const struct cy_route *routes_gateway(size_t *n);
const struct cy_route *routes_control(size_t *n);
/*
 * Prints every route of both listeners with its authorization rule, one a
 * line, TAB-separated after a header: listener, method, pattern, auth
 * kind, least role, the API token scopes that admit it ("-": none).
 */
void routes_print(FILE *f);
/*
 * Prints one JSON object: "METHOD /pattern" -> the JSON Schema of the
 * body table of every route that has one (lib/jcheck-schema.c), for
 * tests/openapi-check to hold api/openapi-server.json against.
 */
void routes_print_bodies(FILE *f);
/* api/openapi-server.json, embedded at build time (scripts/embed). */
extern const char cy_openapi_server[];
extern const size_t cy_openapi_server_len;

/* route-auth.c: creates user admin when missing (main, after migrations). */
int auth_bootstrap_admin(const char *password, struct cy_error *err);

#endif
