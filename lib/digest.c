/*
 * Hashing over GnuTLS (digest.h).
 */
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "banned.h"

static void
crypto_fatal(const char *what, int ret)
{
	fprintf(stderr, "fatal: %s: %s\n", what, gnutls_strerror(ret));
	abort();
}

void
cy_sha256_init(struct cy_sha256 *c)
{
	gnutls_hash_hd_t hd;
	int ret = gnutls_hash_init(&hd, GNUTLS_DIG_SHA256);

	if (ret < 0)
		crypto_fatal("SHA-256", ret);
	c->hd = hd;
}

void
cy_sha256_update(struct cy_sha256 *c, const void *data, size_t len)
{
	int ret;

	if (len && (ret = gnutls_hash((gnutls_hash_hd_t)c->hd, data, len)) < 0)
		crypto_fatal("SHA-256", ret);
}

void
cy_sha256_final(struct cy_sha256 *c, unsigned char md[CY_SHA256_LEN])
{
	gnutls_hash_deinit((gnutls_hash_hd_t)c->hd, md);
	c->hd = NULL;
}

void
cy_sha256_final_hex(struct cy_sha256 *c, char out[CY_SHA256_HEX_LEN + 1])
{
	unsigned char md[CY_SHA256_LEN];

	cy_sha256_final(c, md);
	cy_hex_into(md, sizeof(md), out);
}

void
cy_sha256_abort(struct cy_sha256 *c)
{
	if (c->hd)
		gnutls_hash_deinit((gnutls_hash_hd_t)c->hd, NULL);
	c->hd = NULL;
}

void
cy_sha256(const void *data, size_t len, unsigned char md[CY_SHA256_LEN])
{
	int ret = gnutls_hash_fast(GNUTLS_DIG_SHA256, data, len, md);

	if (ret < 0)
		crypto_fatal("SHA-256", ret);
}

void
cy_sha256_hex(const void *data, size_t len, char out[CY_SHA256_HEX_LEN + 1])
{
	unsigned char md[CY_SHA256_LEN];

	cy_sha256(data, len, md);
	cy_hex_into(md, sizeof(md), out);
}

void
cy_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
    unsigned char md[CY_SHA256_LEN])
{
	int ret = gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, keylen, data, len, md);

	if (ret < 0)
		crypto_fatal("HMAC-SHA256", ret);
}

void
cy_hex_into(const unsigned char *p, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * len] = '\0';
}

size_t
cy_base64(const void *data, size_t len, char *out)
{
	gnutls_datum_t in = { (unsigned char *)data, (unsigned int)len }, b64 = { NULL, 0 };
	int ret;

	if (len == 0) {
		out[0] = '\0';
		return 0;
	}
	if ((ret = gnutls_base64_encode2(&in, &b64)) < 0)
		crypto_fatal("base64", ret);
	memcpy(out, b64.data, b64.size);
	out[b64.size] = '\0';
	len = b64.size;
	/* It may be a secret's. */
	explicit_bzero(b64.data, b64.size);
	gnutls_free(b64.data);
	return len;
}

bool
cy_memeq_ct(const void *a, const void *b, size_t n)
{
	return gnutls_memcmp(a, b, n) == 0;
}
