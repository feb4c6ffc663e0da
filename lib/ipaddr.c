/*
 * Public and non-public IP addresses (ipaddr.h), parsed with inet_pton.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include "ipaddr.h"
#include "banned.h"

/* An IPv4 address (host order) in a.b.c.d/bits. */
static bool
in4(uint32_t a, uint32_t net, int bits)
{
	uint32_t mask = bits ? ~(uint32_t)0 << (32 - bits) : 0;

	return (a & mask) == (net & mask);
}

static bool
public4(uint32_t a)
{
	static const struct {
		uint32_t net;
		int bits;
	} blocked[] = {
		{ 0x00000000, 8 },  /* 0.0.0.0/8: this network */
		{ 0x0a000000, 8 },  /* 10/8 */
		{ 0x64400000, 10 }, /* 100.64/10: shared address space */
		{ 0x7f000000, 8 },  /* 127/8: loopback */
		{ 0xa9fe0000, 16 }, /* 169.254/16: link-local, metadata services */
		{ 0xac100000, 12 }, /* 172.16/12 */
		{ 0xc0000000, 24 }, /* 192.0.0/24: protocol assignments */
		{ 0xc0a80000, 16 }, /* 192.168/16 */
		{ 0xc6120000, 15 }, /* 198.18/15: benchmarking */
		{ 0xe0000000, 4 },  /* 224/4: multicast */
		{ 0xf0000000, 4 },  /* 240/4: reserved, broadcast */
	};
	size_t i;

	for (i = 0; i < sizeof(blocked) / sizeof(blocked[0]); i++)
		if (in4(a, blocked[i].net, blocked[i].bits))
			return false;
	return true;
}

bool
cy_ip_public(const char *ip)
{
	unsigned char b[16];
	static const unsigned char zero[16],
	    mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (!ip)
		return false;
	if (inet_pton(AF_INET, ip, b) == 1)
		return public4(
		    (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]);
	if (inet_pton(AF_INET6, ip, b) != 1)
		return false;
	if (!memcmp(b, mapped, sizeof(mapped)))
		return public4(
		    (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15]);
	if (!memcmp(b, zero, 15) && (b[15] == 0 || b[15] == 1))
		return false; /* :: and ::1 */
	if ((b[0] & 0xfe) == 0xfc)
		return false; /* fc00::/7: unique local */
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
		return false; /* fe80::/10: link-local */
	if (b[0] == 0xff)
		return false; /* multicast */
	if (!memcmp(b, zero, 12))
		return false; /* ::a.b.c.d, deprecated IPv4-compatible */
	return true;
}
