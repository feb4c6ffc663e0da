/*
 * The error shape of the OpenAI-compatible endpoints (contract 1): never
 * problem+json but {"error":{"message","type":"cynodeai_error","param":null,
 * "code"}}, with a code for each status (400 invalid_request, 404
 * model_not_found, 408 canceled, 413 request_too_large, 429 rate_limited,
 * 502 inference_failed, 503 inference_unavailable, 504 timeout, ...).  The
 * gateway's /v1/models and /v1/chat/completions use it, and so do the
 * node's inference relay and the per-job inference socket.
 */
#ifndef CY_OPENAI_H
#define CY_OPENAI_H

#include <jansson.h>

#include "httpd.h"

/* The code of a status. */
const char *cy_openai_code(int status);
/* The error object (new reference); message need not be valid UTF-8. */
json_t *cy_openai_error_json(int status, const char *message);
/* A cy_route error_fn: resp becomes the OpenAI error of status. */
void cy_openai_error(struct cy_http_resp *resp, int status, const char *detail);
/* The same with a printf-style message. */
void cy_openai_fail(struct cy_http_resp *resp, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
