/*
 * Node payload helpers shared by the control-plane routes: the payload
 * version check (unsupported-payload-version problem), slug and URL rules,
 * the canonical capability text and hash, and the inference_backend
 * decision of contract 3.4.
 */
#ifndef SERVER_NODE_PAYLOAD_H
#define SERVER_NODE_PAYLOAD_H

#include <jansson.h>
#include <stdbool.h>

#include "httpd.h"

/* 0 when obj.version is 1; else fills resp (unsupported-payload-version) and -1. */
int node_payload_version(const json_t *obj, const char *what, struct cy_http_resp *resp);
/*
 * 0 when the string at the dotted `path` of body is node_slug (the
 * authenticated node's); else fills resp (400 naming the path), -1.
 */
int node_slug_matches(const json_t *body, const char *path, const char *node_slug,
	struct cy_http_resp *resp);
/* An absolute http:// or https:// URL with a host. */
bool node_url_valid(const char *url);
/*
 * 0 when the report's typed fields (labels, counts, booleans the server
 * reads) have their contract types; else fills resp (400 naming the field), -1.
 */
int node_capability_check(const json_t *cap, struct cy_http_resp *resp);

/*
 * Canonical text of a capability report (compact, sorted keys) and its
 * capability_hash (lib/caphash.h, the same as the node computes); caller
 * frees *text.
 */
void node_capability_canon(const json_t *cap, char **text, char hash[72]);
/*
 * The inference_backend object (new reference) for a capability snapshot
 * and the pushed inference_backend policy (both may be NULL): contract 3.4,
 * first rule wins; the policy's enabled=false is rule 5 and its image (or
 * images.<variant>) and port are passed on.
 */
json_t *node_inference_backend(const json_t *cap, const json_t *policy);

#endif
