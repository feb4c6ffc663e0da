/*
 * Sealing values at rest with AES-256-GCM (seal.h): the server's worker
 * tokens (server/node-token.c) and user secrets (server/secrets.c) share
 * this one implementation; each derives its own key.
 */
#include <errno.h>
#include <limits.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "digest.h"
#include "id.h"
#include "seal.h"
#include "banned.h"

char *
cy_hex_encode(const void *p, size_t len)
{
	char *out = xreallocarray(NULL, len + 1, 2);

	cy_hex_into(p, len, out);
	return out;
}

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long
cy_hex_decode(const char *hex, unsigned char *out, size_t size)
{
	size_t n = strlen(hex), i;

	if (n % 2 || n / 2 > size || n / 2 > (size_t)LONG_MAX)
		return -1;
	for (i = 0; i < n / 2; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return (long)(n / 2);
}

/* An AES-256-GCM handle for key; aborts when the library cannot make one. */
static gnutls_aead_cipher_hd_t
gcm_open(const unsigned char key[CY_SEAL_KEY_LEN])
{
	gnutls_datum_t k = { (unsigned char *)key, CY_SEAL_KEY_LEN };
	gnutls_aead_cipher_hd_t h;

	if (gnutls_aead_cipher_init(&h, GNUTLS_CIPHER_AES_256_GCM, &k) < 0)
		abort();
	return h;
}

char *
cy_seal_hex(const unsigned char key[CY_SEAL_KEY_LEN], const void *aad, size_t aadlen,
    const void *pt, size_t len)
{
	gnutls_aead_cipher_hd_t h;
	unsigned char *blob;
	size_t clen;
	char *hex;

	if (len > (size_t)INT_MAX - CY_SEAL_OVERHEAD || aadlen > (size_t)INT_MAX)
		abort();
	blob = xmalloc(CY_SEAL_OVERHEAD + len);
	clen = len + CY_SEAL_TAG_LEN;
	cy_random_bytes(blob, CY_SEAL_NONCE_LEN);
	h = gcm_open(key);
	/* GnuTLS writes the ciphertext and then the tag: the stored form. */
	if (gnutls_aead_cipher_encrypt(h, blob, CY_SEAL_NONCE_LEN, aad, aadlen, CY_SEAL_TAG_LEN, pt,
		len, blob + CY_SEAL_NONCE_LEN, &clen) < 0 ||
	    clen != len + CY_SEAL_TAG_LEN)
		abort();
	gnutls_aead_cipher_deinit(h);
	hex = cy_hex_encode(blob, CY_SEAL_NONCE_LEN + clen);
	explicit_bzero(blob, CY_SEAL_OVERHEAD + len);
	free(blob);
	return hex;
}

char *
cy_open_hex(const unsigned char key[CY_SEAL_KEY_LEN], const void *aad, size_t aadlen,
    const char *hex, size_t *len, struct cy_error *err)
{
	gnutls_aead_cipher_hd_t h;
	unsigned char *blob = NULL;
	size_t hlen = hex ? strlen(hex) : 0, clen, plen;
	char *out = NULL;
	long blen;

	if (!hex || hlen / 2 < CY_SEAL_OVERHEAD || hlen / 2 > (size_t)INT_MAX ||
	    aadlen > (size_t)INT_MAX) {
		cy_error_set(err, EINVAL, "sealed value is malformed");
		return NULL;
	}
	blob = xmalloc(hlen / 2 + 1);
	if ((blen = cy_hex_decode(hex, blob, hlen / 2)) < CY_SEAL_OVERHEAD) {
		free(blob);
		cy_error_set(err, EINVAL, "sealed value is malformed");
		return NULL;
	}
	clen = (size_t)blen - CY_SEAL_NONCE_LEN;
	plen = clen - CY_SEAL_TAG_LEN;
	out = xmalloc(plen + 1);
	h = gcm_open(key);
	if (gnutls_aead_cipher_decrypt(h, blob, CY_SEAL_NONCE_LEN, aad, aadlen, CY_SEAL_TAG_LEN,
		blob + CY_SEAL_NONCE_LEN, clen, out, &plen) < 0) {
		cy_error_set(err, EACCES, "sealed value does not open (wrong key, or altered)");
		explicit_bzero(out, (size_t)blen - CY_SEAL_OVERHEAD + 1);
		FREE_AND_NULL(out);
	} else {
		out[plen] = '\0';
		if (len)
			*len = plen;
	}
	gnutls_aead_cipher_deinit(h);
	free(blob);
	return out;
}
