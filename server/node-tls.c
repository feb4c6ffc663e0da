/*
 * The server's side of the Worker API's TLS (see node-tls.h).
 */
#include <string.h>

#include "buf.h"
#include "core.h"
#include "node-tls.h"
#include "tls.h"
#include "banned.h"

int
node_tls_choose(const char *url, const char *pin, const char **pin_out, const char **ca_out,
    char *msg, size_t msglen)
{
	const char *ca = srv.cfg.nodes_ca_file;

	*pin_out = *ca_out = NULL;
	if (!cy_tls_url_https(url))
		return 0;
	if (pin && *pin) {
		if (!cy_tls_pin_valid(pin)) {
			cy_snprintf_clip(msg, msglen, "the node's registered key pin is malformed");
			return -1;
		}
		*pin_out = pin;
		return 0;
	}
	if (ca && *ca) {
		*ca_out = ca;
		return 0;
	}
	cy_snprintf_clip(msg, msglen,
	    "the node serves https but registered no key pin and nodes.ca_file is not set: "
	    "nothing sent");
	return -1;
}

int
node_tls_curl(void *curl, const char *url, const char *pin, char *msg, size_t msglen)
{
	const char *p, *ca;

	if (node_tls_choose(url, pin, &p, &ca, msg, msglen) < 0)
		return -1;
	if (cy_tls_url_https(url))
		cy_tls_curl(curl, p, ca);
	return 0;
}
