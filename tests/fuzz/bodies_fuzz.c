/*
 * Fuzz target for the request body checker: lib/jcheck.c run with every
 * body table of the server's route tables (server/routes.c, so a new route
 * joins by itself) and the capability report's, through cy_resp_jcheck as
 * cy_req_json does.  Beyond not crashing, it checks that a body passes
 * exactly when no message is written, that a message is one line of valid
 * UTF-8, and that a refused body is a 400.  Replayed as a unit test by
 * replay.c; `make fuzz` runs it under libFuzzer.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "error.h"
#include "httpd.h"
#include "jcheck.h"
#include "json.h"
#include "node-payload.h"
#include "server.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* routes.c reads the server configuration; a zeroed one will do. */
struct server srv;

/* Checks v against spec both ways, and the properties of the outcome. */
static void
check(const json_t *v, const struct cy_jcheck *spec)
{
	struct cy_buf why = CY_BUF_INIT;
	struct cy_http_resp resp;
	int rc = cy_jcheck(v, spec, &why);
	size_t i;

	if (rc != CY_JCHECK_OK && rc != CY_JCHECK_INVALID && rc != CY_JCHECK_VERSION)
		abort();
	if ((rc == CY_JCHECK_OK) != (why.len == 0))
		abort();
	if (strlen(why.buf) != why.len || !cy_utf8_valid(why.buf, why.len) || strchr(why.buf, '\n'))
		abort();
	cy_buf_release(&why);
	memset(&resp, 0, sizeof(resp));
	cy_buf_init(&resp.body, 0);
	if ((cy_resp_jcheck(&resp, v, spec) < 0) != (rc != CY_JCHECK_OK) ||
	    (rc != CY_JCHECK_OK && resp.status != 400))
		abort();
	cy_buf_release(&resp.body);
	for (i = 0; i < resp.nhdr; i++)
		free(resp.hdr_value[i]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cy_error err = CY_ERROR_INIT;
	const struct cy_route *r;
	size_t i, n;
	json_t *v;

	v = cy_json_parse((const char *)data, size, false, &err);
	if (!v)
		return 0;
	r = routes_gateway(&n);
	for (i = 0; i < n; i++)
		if (r[i].body)
			check(v, r[i].body);
	r = routes_control(&n);
	for (i = 0; i < n; i++)
		if (r[i].body)
			check(v, r[i].body);
	check(v, &node_capability_report);
	json_decref(v);
	return 0;
}
