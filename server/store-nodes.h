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
	const char *token_sealed;	/* hex */
	const char *config_version;	/* a new ULID */
	const char *capability;		/* JSON object text */
	const char *capability_hash;
};

/*
 * Inserts or refreshes the node (status active, new token and config
 * version, ack cleared until the node acks the new config) and its
 * capability snapshot.  node_id gets its id; *created tells insert from update.
 */
int store_node_register(const struct node_reg *r, char node_id[37], bool *created,
	struct cy_error *err);

enum node_cfg_col { NCC_SLUG, NCC_CONFIG_VERSION, NCC_TARGET_URL, NCC_TOKEN, NCC_CAPABILITY };
/* The node's config inputs (zero rows when the node is gone). */
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
	NV_ID, NV_SLUG, NV_STATUS, NV_CONFIG_VERSION, NV_ACK_STATUS, NV_LAST_SEEN,
	NV_TARGET_URL, NV_LABELS, NV_MAX_CONCURRENCY, NV_RUNNING
};
/* Operator view rows: all nodes (ref NULL) or the one with that slug or id. */
PGresult *store_nodes_view(const char *ref, struct cy_error *err);

/* 1 when an inference path exists (dispatchable node or provider key), 0, -1. */
int store_nodes_ready(struct cy_error *err);

/* The dispatcher's statements are declared in dispatch.h. */

#endif
