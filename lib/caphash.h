/*
 * The capability_hash of a node_capability_report_v1 (contract 3.6), the
 * same on node and server: SHA-256 over the canonical form, i.e. the report
 * without its volatile members (reported_at, free RAM/storage/VRAM), as
 * compact JSON with sorted keys, written "sha256:<hex>".  A node sends a
 * new report when its hash differs from the one the server stored.
 */
#ifndef CY_CAPHASH_H
#define CY_CAPHASH_H

#include <jansson.h>

#define CY_CAPHASH_LEN 71 /* "sha256:" + 64 hex */

void cy_capability_hash(const json_t *cap, char out[CY_CAPHASH_LEN + 1]);

#endif
