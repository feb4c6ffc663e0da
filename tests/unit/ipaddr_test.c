/*
 * Unit tests for lib/ipaddr.c: which addresses a webhook may reach.
 */
#include "ipaddr.h"
#include "tap.h"

int
main(void)
{
	static const char *const public_ones[] = { "8.8.8.8", "1.1.1.1", "93.184.216.34",
		"100.63.255.255", "100.128.0.0", "172.15.255.255", "172.32.0.0", "169.253.1.1",
		"192.169.0.1", "11.0.0.1", "2001:4860:4860::8888", "2606:4700::1111",
		"::ffff:8.8.8.8", NULL };
	static const char *const blocked[] = { "127.0.0.1", "127.255.255.254", "10.1.2.3",
		"172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1",
		"0.0.0.0", "0.1.2.3", "224.0.0.1", "255.255.255.255", "240.0.0.1", "198.18.0.1",
		"192.0.0.8", "::1", "::", "fe80::1", "fd00::1", "fc00::abcd", "ff02::1",
		"::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1", "::127.0.0.1",
		NULL };
	static const char *const garbage[] = { "", "localhost", "1.2.3", "1.2.3.4.5", "256.1.1.1",
		"::g", "1.2.3.4 ", " 1.2.3.4", "example.com", NULL };
	size_t i;

	for (i = 0; public_ones[i]; i++)
		ok(cy_ip_public(public_ones[i]), "%s is public", public_ones[i]);
	for (i = 0; blocked[i]; i++)
		ok(!cy_ip_public(blocked[i]), "%s is not public", blocked[i]);
	for (i = 0; garbage[i]; i++)
		ok(!cy_ip_public(garbage[i]), "'%s' does not parse: not public", garbage[i]);
	ok(!cy_ip_public(NULL), "NULL is not public");
	return tap_done();
}
