/*
 * How the server checks a node's Worker API certificate.
 * An https node is called only when its key is pinned (the pin it
 * registered with, nodes.worker_api_tls_pin) or, without a pin, when
 * nodes.ca_file can verify its certificate chain and name; otherwise the
 * call is refused before anything is sent.  A plain http:// node is called
 * as it is.
 */
#ifndef SERVER_NODE_TLS_H
#define SERVER_NODE_TLS_H

#include <stddef.h>

/*
 * The TLS options for a call to url of a node that registered pin ("" or
 * NULL: none): 0 with *pin_out / *ca_out set (NULL when not used; they
 * live as long as pin and the configuration), or -1 with msg filled.
 */
int node_tls_choose(const char *url, const char *pin, const char **pin_out, const char **ca_out,
    char *msg, size_t msglen);
/* node_tls_choose applied to a libcurl easy handle. */
int node_tls_curl(void *curl, const char *url, const char *pin, char *msg, size_t msglen);

#endif
