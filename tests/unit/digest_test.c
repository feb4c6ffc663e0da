/*
 * Unit tests for lib/digest.c: SHA-256 and HMAC-SHA256 against published
 * vectors (FIPS 180-2, RFC 4231), streaming against one shot, base64
 * against RFC 4648's vectors, and the constant-time compare.
 */
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "tap.h"

static void
test_sha256(void)
{
	char hex[CY_SHA256_HEX_LEN + 1], hex2[CY_SHA256_HEX_LEN + 1];
	struct cy_sha256 c;
	static char big[100000];

	cy_sha256_hex("abc", 3, hex);
	is_str(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	    "SHA-256 of \"abc\" (FIPS 180-2)");
	cy_sha256_hex("", 0, hex);
	is_str(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    "SHA-256 of nothing");
	memset(big, 'a', sizeof(big));
	cy_sha256_hex(big, sizeof(big), hex);
	cy_sha256_init(&c);
	cy_sha256_update(&c, big, 1);
	cy_sha256_update(&c, big, 0);
	cy_sha256_update(&c, big + 1, 65535);
	cy_sha256_update(&c, big + 65536, sizeof(big) - 65536);
	cy_sha256_final_hex(&c, hex2);
	is_str(hex2, hex, "streaming in uneven pieces gives the one-shot digest");
	ok(!c.live, "final ends the stream");
	cy_sha256_abort(&c);
	cy_sha256_init(&c);
	cy_sha256_update(&c, "x", 1);
	cy_sha256_abort(&c);
	ok(!c.live, "abort drops a running stream");
}

static void
test_hmac(void)
{
	unsigned char md[CY_SHA256_LEN];
	char hex[CY_SHA256_HEX_LEN + 1];
	unsigned char key[131];

	cy_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, md);
	cy_hex_into(md, sizeof(md), hex);
	is_str(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
	    "HMAC-SHA256, RFC 4231 test case 2");
	memset(key, 0xaa, sizeof(key));
	cy_hmac_sha256(key, sizeof(key), "Test Using Larger Than Block-Size Key - Hash Key First",
	    54, md);
	cy_hex_into(md, sizeof(md), hex);
	is_str(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
	    "HMAC-SHA256, RFC 4231 test case 6 (a key longer than a block)");
}

static void
test_base64(void)
{
	static const char *const want[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
		"Zm9vYmFy" };
	char out[CY_BASE64_SIZE(300)];
	unsigned char raw[300];
	size_t i, n;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		n = cy_base64("foobar", i, out);
		ok(!strcmp(out, want[i]) && n == strlen(want[i]),
		    "base64 of %zu bytes of \"foobar\" is '%s' (RFC 4648): '%s'", i, want[i], out);
	}
	memset(raw, 0xfb, sizeof(raw));
	n = cy_base64(raw, sizeof(raw), out);
	is_int(n, CY_BASE64_SIZE(300) - 1, "300 bytes fill the computed size exactly");
	ok(strchr(out, '\n') == NULL && strlen(out) == n, "one line, no wrapping");
}

static void
test_memeq(void)
{
	ok(cy_memeq_ct("abcd", "abcd", 4), "equal buffers");
	ok(!cy_memeq_ct("abcd", "abce", 4), "the last byte differs");
	ok(!cy_memeq_ct("xbcd", "abcd", 4), "the first byte differs");
	ok(cy_memeq_ct("a", "b", 0), "zero bytes are equal");
}

int
main(void)
{
	RUN_TEST(test_sha256);
	RUN_TEST(test_hmac);
	RUN_TEST(test_base64);
	RUN_TEST(test_memeq);
	return tap_done();
}
