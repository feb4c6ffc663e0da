/*
 * Fuzz target for the JSON that nodes send the server (registration,
 * capability reports, config acks): lib/json.c parsing and path lookups,
 * then server/node-payload.c (the capability report's table, capability
 * canonicalization and hashing, inference backend decision) and
 * server/config-doc.c (pushed configuration documents).  Replayed as a
 * unit test by replay.c; `make fuzz` runs it under libFuzzer.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "httpd.h"
#include "config-doc.h"
#include "json.h"
#include "node-payload.h"
#include "server.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* node-payload.c reads the server configuration; a zeroed one will do. */
struct server srv;

static void
resp_release(struct cy_http_resp *r)
{
	size_t i;

	cy_buf_release(&r->body);
	for (i = 0; i < r->nhdr; i++)
		free(r->hdr_value[i]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cy_error err = CY_ERROR_INIT;
	struct cy_http_resp resp;
	char hash[72], *text = NULL, *dump;
	struct cy_buf why;
	json_t *v, *be;
	long long n;

	v = cy_json_parse((const char *)data, size, false, &err);
	if (!v)
		return 0;
	memset(&resp, 0, sizeof(resp));
	cy_buf_init(&resp.body, 0);
	if (json_is_object(v)) {
		(void)cy_resp_jcheck(&resp, v, &node_capability_report);
		(void)cy_json_str(v, "node_slug");
		(void)cy_json_path_str(v, "platform.os");
		(void)cy_json_path(v, "sandbox.features");
		(void)cy_json_int(v, "version", &n);
		(void)cy_json_bool(v, "gpu", false);
		node_capability_canon(v, &text, hash);
		free(text);
		be = node_inference_backend(v, json_object_get(v, "inference_backend"));
		json_decref(be);
	}
	/* A pushed configuration document: checked, then laid over a payload. */
	cy_buf_init(&why, 0);
	if (config_doc_check(v, &why) == 0) {
		json_t *pl = json_pack("{s:{s:{}}}", "policy", "sandbox");

		config_doc_apply(pl, v, v);
		json_decref(pl);
	}
	cy_buf_release(&why);
	dump = cy_json_dump(v);
	free(dump);
	json_decref(v);
	resp_release(&resp);
	return 0;
}
