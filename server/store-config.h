/*
 * SQL for pushed node configuration: storing a document under a
 * new config_version for the targeted nodes (or the whole fleet, which new
 * nodes then inherit), reading documents back, and each node's desired
 * versus applied version.
 */
#ifndef SERVER_STORE_CONFIG_H
#define SERVER_STORE_CONFIG_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "auth.h"
#include "error.h"
#include "id.h"

struct config_push {
	const char *document;     /* JSON object text, already checked */
	const char *const *slugs; /* the targeted nodes, unless all */
	size_t nslugs;
	bool all;     /* every node, and the default for new ones */
	bool dry_run; /* resolve the targets, store nothing */
	const struct auth_ctx *actor;
	/* out */
	char version[CY_ULID_LEN + 1]; /* the new config_version ("" on a dry run) */
	json_t *nodes;                 /* the targeted slugs (new reference, caller decrefs) */
	const char *missing;           /* a requested slug with no node (in slugs) */
};

/*
 * Stores p->document under a new config_version, greater than every version
 * stored before, for the targeted nodes, with the admin audit row, in one
 * transaction.  1 done, 0 when a requested slug names no node (p->missing),
 * -1 on error.
 */
int store_config_push(struct config_push *p, struct cy_error *err);

/*
 * The image names each targeted node (slugs, or every node when all)
 * reported it can run (capability sandbox.images, bwrap nodes only): rows
 * of slug and a JSON array text.  Nodes that report no list are left out.
 */
PGresult *store_config_node_images(const char *const *slugs, size_t n, bool all,
    struct cy_error *err);

enum config_doc_col {
	CD_SLUG,
	CD_DESIRED,
	CD_VERSION,
	CD_DOCUMENT,
	CD_ALL,
	CD_CREATED,
	CD_CREATED_BY
};
/*
 * The document of node `ref` (slug or id; one row with NULL document
 * columns when it runs on the defaults, no row when there is no such node),
 * or with ref NULL the latest fleet-wide document (no row when none).
 */
PGresult *store_config_get(const char *ref, struct cy_error *err);

enum config_status_col {
	CS_SLUG,
	CS_STATUS,
	CS_DESIRED,
	CS_APPLIED,
	CS_ACK_STATUS,
	CS_ACK_VERSION,
	CS_ACK_ERROR,
	CS_ACK_AT,
	CS_DOCUMENT
};
/* One row per node, by slug. */
PGresult *store_config_status(struct cy_error *err);

#endif
