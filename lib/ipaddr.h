/*
 * Whether an IP address is a public one: not loopback, private (RFC 1918,
 * unique local), link-local (cloud metadata services live there), shared
 * (RFC 6598), unspecified, multicast or reserved, for IPv4, IPv6 and IPv4
 * mapped in IPv6.  Used to keep requests that users aim (webhooks) off the
 * server's own networks.
 */
#ifndef CY_IPADDR_H
#define CY_IPADDR_H

#include <stdbool.h>

/* ip: a numeric address as text ("10.0.0.1", "::1"); false when it does not parse. */
bool cy_ip_public(const char *ip);

#endif
