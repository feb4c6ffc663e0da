/*
 * The Worker API's TLS material.  worker_api.tls auto
 * (the default) serves HTTPS: with worker_api.tls_cert_file/_key_file when
 * given, else with a P-256 key and a self-signed certificate made once under
 * <state_dir>/tls (key mode 0600).  The pin of the key goes into the
 * capability report (worker_api.tls_pubkey_sha256); the orchestrator takes
 * it from the registration and accepts no other key when it calls this
 * node.  worker_api.tls off serves plain HTTP, with a warning unless the
 * Worker API listens on loopback only; so does an http:// orchestrator.url
 * on another host.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "log.h"
#include "node.h"
#include "tls.h"
#include "banned.h"

int
node_worker_tls(struct node *n, struct cy_error *err)
{
	const struct node_config *c = &n->cfg;
	char *dir = NULL, *cert = NULL, *key = NULL;
	int rc;

	n->tls_pin[0] = '\0';
	if (!cy_tls_url_https(c->orch_url) && !cy_tls_url_loopback(c->orch_url))
		cy_log_warn("plain_http_orchestrator", "orchestrator", c->orch_url, "warning",
		    "WARNING: the control plane is plain HTTP on another host: the registration "
		    "secret, the node's tokens and job results cross the network in clear text; "
		    "use an https:// orchestrator.url",
		    NULL);
	if (!strcmp(c->worker_tls, "off")) {
		if (!cy_tls_host_loopback(c->listen_host))
			cy_log_warn("plain_http_worker_api", "listen", c->listen_host, "warning",
			    "WARNING: the Worker API serves plain HTTP on a non-loopback address: "
			    "job payloads, results and the orchestrator's bearer token cross the "
			    "network in clear text; remove worker_api.tls: off",
			    NULL);
		return 0;
	}
	if (c->worker_tls_cert && *c->worker_tls_cert) {
		rc = cy_tls_load(c->worker_tls_cert, c->worker_tls_key, "worker_api.tls_cert_file",
		    "worker_api.tls_key_file", &n->tls_cert_pem, &n->tls_key_pem, err);
	} else {
		dir = xasprintf("%s/tls", c->state_dir);
		cert = xasprintf("%s/cert.pem", dir);
		key = xasprintf("%s/key.pem", dir);
		rc = cy_tls_selfsigned(dir, c->node_id, err);
		if (rc == 0)
			rc = cy_tls_load(cert, key, "worker_api.tls (state_dir/tls/cert.pem)",
			    "worker_api.tls (state_dir/tls/key.pem)", &n->tls_cert_pem,
			    &n->tls_key_pem, err);
	}
	if (rc == 0)
		rc = cy_tls_pin(n->tls_cert_pem, n->tls_pin, err);
	if (rc == 0)
		cy_log_info("worker_api_tls", "certificate",
		    c->worker_tls_cert && *c->worker_tls_cert ? c->worker_tls_cert : cert, "pin",
		    n->tls_pin, NULL);
	free(dir);
	free(cert);
	free(key);
	return rc;
}

void
node_worker_tls_release(struct node *n)
{
	cy_tls_free_key(&n->tls_key_pem);
	FREE_AND_NULL(n->tls_cert_pem);
}
