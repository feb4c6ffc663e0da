/*
 * SQL for fleet operations: liveness expiry and heartbeats, the
 * operator actions drain/undrain/enable/disable/remove, enrollment tokens
 * and per-node registration credentials (both stored as SHA-256 only).
 * A node reference `ref` is its slug or its id.
 */
#ifndef SERVER_STORE_FLEET_H
#define SERVER_STORE_FLEET_H

#include <stdbool.h>

#include "auth.h"
#include "error.h"

/* Marks active nodes silent for ttl_s inactive (logs each); count or -1. */
int store_nodes_expire(long long ttl_s, struct cy_error *err);

struct node_beat {
	char status[16];
	bool enabled;
	bool revived;             /* it was inactive until this heartbeat */
	char config_version[64];  /* the version the node must apply */
	char capability_hash[80]; /* of the last stored report */
};
/* Records a heartbeat.  1, 0 when the node is gone, -1. */
int store_node_heartbeat(const char *node_id, struct node_beat *out, struct cy_error *err);

enum node_action {
	NODE_DRAIN,
	NODE_UNDRAIN,
	NODE_ENABLE,
	NODE_DISABLE
};
/*
 * Applies an operator action; slug gets the node's slug.  1, 0 when no such
 * node, -1.  actor is the operator (audit trail).
 */
int store_node_action(const char *ref, enum node_action a, const char *reason,
    const struct auth_ctx *actor, char slug[128], struct cy_error *err);

/*
 * Removes a node: deletes its row (so its JWT, worker token and credential
 * stop working at once) and records a tombstone refusing PSK registration of
 * the slug.  1 removed, 0 no such node, 2 refused (running jobs, no force), -1.
 */
int store_node_remove(const char *ref, bool force, const struct auth_ctx *actor, char slug[128],
    struct cy_error *err);

/*
 * Lets one registration with the PSK or an enrollment token that names no
 * node take the slug of node `ref` (slug or id) within ttl_s seconds: an
 * operator putting a new machine in its place.  Audited.  1 (slug and the
 * window's end in RFC 3339 filled), 0 no such node, -1.
 */
int store_node_replace(const char *ref, long long ttl_s, const struct auth_ctx *actor,
    char slug[128], char until[40], struct cy_error *err);

/* True (1) when the slug was removed and not enrolled again, 0, -1. */
int store_node_removed(const char *slug, struct cy_error *err);

/*
 * Creates an enrollment token record (hash of the token).  slug and
 * labels_json (a JSON array text) may be NULL.  expires_at gets RFC 3339.
 */
int store_enroll_create(const char *token_hash_hex, const char *slug, const char *labels_json,
    long long ttl_s, const struct auth_ctx *actor, char expires_at[32], struct cy_error *err);

/*
 * Consumes an enrollment token for `slug`: it must exist, be unused,
 * unexpired and, when it names a slug, name this one.  Returns 1 and fills
 * labels_json (caller frees) with the token's labels and *named (whether
 * the token names the slug), 0 with *why set when refused, -1.  Runs inside
 * the caller's transaction.
 */
int store_enroll_consume(const char *token_hash_hex, const char *slug, char **labels_json,
    bool *named, const char **why, struct cy_error *err);

/* Marks the token consumed by node_id and clears the slug's tombstone. */
int store_enroll_finish(const char *token_hash_hex, const char *node_id, const char *slug,
    struct cy_error *err);

/*
 * Checks a node credential: 1 when slug exists and its credential_hash is
 * SHA-256(credential), 0 when not, -1.
 */
int store_node_credential_ok(const char *slug, const char *cred_hash_hex, struct cy_error *err);

#endif
