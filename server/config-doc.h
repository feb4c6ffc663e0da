/*
 * Pushed node configuration documents (cli.md section 11): the
 * policy, constraints and inference_backend parts of
 * node_configuration_payload_v1 (contract 3.4), checked strictly before any
 * node sees them, and laid over the built-in defaults when a node fetches
 * its configuration.
 */
#ifndef SERVER_CONFIG_DOC_H
#define SERVER_CONFIG_DOC_H

#include <jansson.h>

#include "buf.h"

/*
 * Checks a document: an object with only policy.sandbox, policy.updates,
 * constraints, inference_backend and notes, every member of the right type
 * and range (unknown keys are errors).  0, or -1 with the reason in why
 * ("policy.sandbox.allowed_images[2] must be a non-empty string").
 */
int config_doc_check(const json_t *doc, struct cy_buf *why);

/*
 * Lays doc (may be NULL) over the defaults in payload: policy.sandbox,
 * policy.updates and constraints member by member; inference_backend is
 * decided from the capability snapshot cap (may be NULL) and the document's
 * inference_backend policy (contract 3.4, rule 5 and the image).
 */
void config_doc_apply(json_t *payload, const json_t *doc, const json_t *cap);

#endif
