/*
 * SQL for nodes: registration, configuration delivery and ack, capability
 * snapshots, the operator views and readiness.  Worker tokens cross this
 * interface in their sealed hex form (node-token.h), never in clear.
 */
#ifndef SERVER_STORE_NODES_H
#define SERVER_STORE_NODES_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "error.h"

#define NODE_MAX_CONCURRENCY_DEFAULT 4

struct node_reg {
	const char *slug;
	const char *target_url;
	const char *token_sealed;   /* hex */
	const char *config_version; /* a new ULID */
	const char *capability;     /* JSON object text */
	const char *capability_hash;
	/* Set on PSK/enrollment registrations, NULL keeps the stored one. */
	const char *credential_hash; /* hex SHA-256 of the new node credential */
	const char *enroll_hash;     /* hex SHA-256 of the enrollment token used */
	/*
	 * The config_version a running node re-registering with its node
	 * credential still runs with (NULL otherwise).  When the server
	 * recorded the same version as applied, the node keeps its token,
	 * desired version, ack and applied version (see store_node_register).
	 */
	const char *running_version;
	/* worker_api.tls_pubkey_sha256 of the report, NULL when none (node-tls.h). */
	const char *tls_pin;
	/*
	 * Registered with a fleet-wide secret (the PSK): it may not take the
	 * slug of a node that holds a credential, outside a replace window.
	 */
	bool by_psk;
	const char *why;  /* out: why the registration was refused */
	bool conflict;    /* out: refused because the slug is another node's */
	char version[64]; /* out: the node's config_version now */
	bool kept;        /* out: the running node's config state was kept */
};

/*
 * Inserts or refreshes the node (status active unless drained) and its
 * capability snapshot; a new node gets the fleet's default config
 * document.  A known node gets a new token and config version and its ack
 * and applied version are cleared until it acks the new config, unless
 * running_version equals the applied version on record: then the token,
 * config version, last ack (a refused push stays visible) and applied
 * version stay, so the node stays dispatchable.  With enroll_hash the
 * token is consumed in the same transaction (its labels become the node's
 * operator labels).  Returns 1, 0 when the enrollment token is refused
 * (r->why says why), -1.  node_id gets the id; *created tells insert from
 * update.
 */
int store_node_register(struct node_reg *r, char node_id[37], bool *created, struct cy_error *err);

enum node_cfg_col {
	NCC_SLUG,
	NCC_CONFIG_VERSION,
	NCC_TARGET_URL,
	NCC_TOKEN,
	NCC_CAPABILITY,
	NCC_DOCUMENT
};
/* The node's config inputs, with its pushed document (zero rows when the node is gone). */
PGresult *store_node_config(const char *node_id, struct cy_error *err);

/*
 * Records a config ack.  ack_at NULL means now.  Returns 1, 0 when the node
 * is gone, -1 on error.
 */
int store_node_ack(const char *node_id, const char *status, const char *error_msg,
    const char *config_version, const char *ack_at, struct cy_error *err);

/* Stores a capability report and marks the node seen. 1, 0 node gone, -1. */
int store_node_capability(const char *node_id, const char *capability, const char *hash,
    struct cy_error *err);

enum node_view_col {
	NV_ID,
	NV_SLUG,
	NV_STATUS,
	NV_CONFIG_VERSION,
	NV_ACK_STATUS,
	NV_LAST_SEEN,
	NV_TARGET_URL,
	NV_LABELS,
	NV_MAX_CONCURRENCY,
	NV_RUNNING,
	NV_ENABLED,
	NV_DRAIN_REASON,
	NV_DRAINED_AT,
	NV_ACK_VERSION,
	NV_ACK_ERROR,
	NV_ACK_AT,
	NV_CONFIG_DOCUMENT,
	NV_CAPABILITY_HASH,
	NV_LAST_CAPABILITY,
	NV_CREATED,
	NV_CONDITIONS,  /* the last capability report's conditions, a JSON array */
	NV_CAPABILITIES /* its platform, compute, gpu and inference objects, or "null" */
};
/* Operator view rows: all nodes (ref NULL) or the one with that slug or id. */
PGresult *store_nodes_view(const char *ref, struct cy_error *err);

enum node_worker_col {
	NW_SLUG,
	NW_URL,
	NW_TOKEN,
	NW_PIN
};
/*
 * The Worker API of the node with that slug or id: slug, target URL,
 * sealed token (hex), TLS pin ("" when none); zero rows when unknown.
 */
PGresult *store_node_worker(const char *ref, struct cy_error *err);

/* 1 when an inference path exists (dispatchable node or provider key), 0, -1. */
int store_nodes_ready(struct cy_error *err);

/* Nodes by status, every status present (columns of enum state_count_col). */
PGresult *store_nodes_state_counts(struct cy_error *err);

/* The dispatcher's statements are declared in dispatch.h. */

#endif
