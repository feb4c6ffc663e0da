/*
 * Node payload helpers shared by the control-plane routes: the capability
 * report's table, slug and URL rules, the canonical capability text and
 * hash, and the inference_backend decision of contract 3.4.
 */
#ifndef SERVER_NODE_PAYLOAD_H
#define SERVER_NODE_PAYLOAD_H

#include <jansson.h>
#include <stdbool.h>

#include "httpd.h"
#include "jcheck.h"

/*
 * A capability report (contract 3.6), version 1: the typed fields the
 * server reads (labels, counts, booleans, model lists); open, as node
 * payloads are (a newer node may add fields).  The body of POST
 * /v1/nodes/capability, and the capability of a registration.
 */
extern const struct cy_jcheck node_capability_report;
/*
 * 0 when the string at the dotted `path` of body is node_slug (the
 * authenticated node's); else fills resp (400 naming the path), -1.
 */
int node_slug_matches(const json_t *body, const char *path, const char *node_slug,
    struct cy_http_resp *resp);
/* An absolute http:// or https:// URL with a host. */
bool node_url_valid(const char *url);
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
