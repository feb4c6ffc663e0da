/*
 * Sealing values at rest with AES-256-GCM (seal.h): the server's worker
 * tokens (server/node-token.c) and user secrets (server/secrets.c) share
 * this one implementation; each derives its own key.
 */
#include <errno.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "id.h"
#include "seal.h"
#include "banned.h"

char *
cy_hex_encode(const void *p, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *b = p;
	char *out = xreallocarray(NULL, len + 1, 2);
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[len * 2] = '\0';
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

char *
cy_seal_hex(const unsigned char key[CY_SEAL_KEY_LEN], const void *aad, size_t aadlen,
    const void *pt, size_t len)
{
	unsigned char *blob;
	EVP_CIPHER_CTX *ctx;
	int n = 0, fin = 0, an = 0;
	char *hex;

	if (len > (size_t)INT_MAX - CY_SEAL_OVERHEAD || aadlen > (size_t)INT_MAX)
		abort();
	blob = xmalloc(CY_SEAL_OVERHEAD + len);
	if (!(ctx = EVP_CIPHER_CTX_new()))
		abort();
	cy_random_bytes(blob, CY_SEAL_NONCE_LEN);
	if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, CY_SEAL_NONCE_LEN, NULL) != 1 ||
	    EVP_EncryptInit_ex(ctx, NULL, NULL, key, blob) != 1 ||
	    (aadlen && EVP_EncryptUpdate(ctx, NULL, &an, aad, (int)aadlen) != 1) ||
	    EVP_EncryptUpdate(ctx, blob + CY_SEAL_NONCE_LEN, &n, pt, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(ctx, blob + CY_SEAL_NONCE_LEN + n, &fin) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CY_SEAL_TAG_LEN,
		blob + CY_SEAL_NONCE_LEN + n + fin) != 1)
		abort();
	EVP_CIPHER_CTX_free(ctx);
	hex = cy_hex_encode(blob, CY_SEAL_OVERHEAD + (size_t)n + (size_t)fin);
	OPENSSL_cleanse(blob, CY_SEAL_OVERHEAD + len);
	free(blob);
	return hex;
}

char *
cy_open_hex(const unsigned char key[CY_SEAL_KEY_LEN], const void *aad, size_t aadlen,
    const char *hex, size_t *len, struct cy_error *err)
{
	unsigned char *blob = NULL;
	EVP_CIPHER_CTX *ctx;
	size_t hlen = hex ? strlen(hex) : 0, clen;
	char *out = NULL;
	int n = 0, fin = 0, an = 0;
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
	clen = (size_t)blen - CY_SEAL_OVERHEAD;
	out = xmalloc(clen + 1);
	if (!(ctx = EVP_CIPHER_CTX_new()))
		abort();
	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, CY_SEAL_NONCE_LEN, NULL) != 1 ||
	    EVP_DecryptInit_ex(ctx, NULL, NULL, key, blob) != 1 ||
	    (aadlen && EVP_DecryptUpdate(ctx, NULL, &an, aad, (int)aadlen) != 1) ||
	    EVP_DecryptUpdate(ctx, (unsigned char *)out, &n, blob + CY_SEAL_NONCE_LEN, (int)clen) !=
		1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CY_SEAL_TAG_LEN,
		blob + CY_SEAL_NONCE_LEN + clen) != 1 ||
	    EVP_DecryptFinal_ex(ctx, (unsigned char *)out + n, &fin) != 1) {
		cy_error_set(err, EACCES, "sealed value does not open (wrong key, or altered)");
		OPENSSL_cleanse(out, clen + 1);
		FREE_AND_NULL(out);
	} else {
		out[n + fin] = '\0';
		if (len)
			*len = (size_t)(n + fin);
	}
	EVP_CIPHER_CTX_free(ctx);
	free(blob);
	return out;
}
