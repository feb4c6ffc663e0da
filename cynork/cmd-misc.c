/*
 * cynork version and status (the nodes commands are in cmd-nodes.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cynork.h"
#include "httpc.h"
#include "json.h"
#include "version.h"
#include "banned.h"

static int
misc_version(struct ctx *c, const struct parsed *p)
{
	struct cy_buf line = CY_BUF_INIT;

	if (out_json(c))
		return print_json(json_pack("{s:s, s:s}", "version", CYNODE_VERSION, "api_version",
		    CYNODE_API_VERSION));
	/* "cynork V" as the reference prints it, still one version= record line. */
	cy_buf_addstr(&line, "cynork");
	rec_add(&line, "version", CYNODE_VERSION);
	rec_add(&line, "api_version", CYNODE_API_VERSION);
	return print_line(&line);
}

/* GET /healthz: not JSON, so it bypasses api_call. */
static int
misc_status(struct ctx *c, const struct parsed *p)
{
	struct cy_httpc_opts o = { .timeout_ms = 10000,
		.user_agent = "cynork/" CYNODE_VERSION,
		.max_response = 65536 };
	struct cy_httpc_resp r = CY_HTTPC_RESP_INIT;
	struct cy_error err = CY_ERROR_INIT;
	struct cy_buf line = CY_BUF_INIT;
	char url[2048];
	int rc = 0;

	if (cy_snprintf(url, sizeof(url), "%s/healthz", c->gateway) < 0)
		return fail(EXIT_USAGE, "gateway URL too long");
	client_tls(c, &o);
	if (cy_httpc_request("GET", url, NULL, 0, &o, &r, &err) < 0) {
		rc = err.code == EPROTO ?
			 api_transport_fail(c, &err) :
			 fail(EXIT_GATEWAY, "gateway %s is not reachable: %s", c->gateway, err.msg);
	} else if (r.status != 200 || !strstr(r.body.buf, "ok")) {
		rc = fail(EXIT_GATEWAY, "gateway %s is unhealthy (HTTP %ld)", c->gateway, r.status);
	} else if (out_json(c)) {
		print_json(json_pack("{s:s, s:s, s:s}", "gateway", "ok", "gateway_url", c->gateway,
		    "context", c->cfg.context));
	} else {
		rec_add(&line, "gateway", "ok");
		rec_add(&line, "gateway_url", c->gateway);
		rec_add(&line, "context", c->cfg.context);
		print_line(&line);
	}
	cy_httpc_resp_release(&r);
	return rc;
}

const struct cmd cmd_version = {
	.path = "version",
	.summary = "print the version",
	.exec = misc_version,
	.doc =
	    "Prints one line starting with cynork: cynork version=V api_version=N (the reference prints \"cynork V\", the spec a line holding version=V), or with -o json {\"version\": V, \"api_version\": N}. Needs no login and no server.",
};
const struct cmd cmd_status = {
	.path = "status",
	.summary = "check that the gateway is healthy",
	.exec = misc_status,
	.doc =
	    "Checks GET /healthz on the gateway. Prints gateway=ok gateway_url=URL context=NAME (the active context of the config file), or with -o json {\"gateway\":\"ok\",\"gateway_url\":URL,\"context\":NAME}. Exits 69 when the gateway is unreachable or unhealthy. Needs no login.",
};
