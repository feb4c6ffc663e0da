/*
 * Encryption at rest of the per-node worker bearer tokens (DESIGN.md
 * section 9: secrets that must be presented again are stored encrypted).
 * OpenSSL EVP AES-256-GCM; the key derives from the JWT secret, so rotating
 * that secret makes nodes re-register to get new tokens.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "id.h"
#include "node-token.h"
#include "server.h"
#include "banned.h"

#define NONCE_LEN 12
#define TAG_LEN 16
#define KEY_LABEL "cynode worker token key"

/* Derives the AES key from the JWT secret. */
static void
token_key(unsigned char key[SHA256_DIGEST_LENGTH])
{
	const char *secret = srv.cfg.jwt_secret ? srv.cfg.jwt_secret : "";
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned int n = 0;

	if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(c, KEY_LABEL, strlen(KEY_LABEL)) != 1 ||
	    EVP_DigestUpdate(c, secret, strlen(secret)) != 1 || EVP_DigestFinal_ex(c, key, &n) != 1)
		abort();
	EVP_MD_CTX_free(c);
}

/* Lowercase hex of `len` bytes; caller frees. */
static char *
hex_encode(const unsigned char *p, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	char *out = xmalloc(len * 2 + 1);
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
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

/* Decodes hex into a new buffer; -1 on bad input. */
static int
hex_decode(const char *hex, unsigned char **out, size_t *len)
{
	size_t n = strlen(hex), i;
	unsigned char *p;

	if (n % 2)
		return -1;
	p = xmalloc(n / 2 + 1);
	for (i = 0; i < n / 2; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			free(p);
			return -1;
		}
		p[i] = (unsigned char)(hi << 4 | lo);
	}
	*out = p;
	*len = n / 2;
	return 0;
}

char *
node_token_seal(const char *token)
{
	unsigned char key[SHA256_DIGEST_LENGTH];
	size_t tlen = strlen(token);
	unsigned char *blob = xmalloc(NONCE_LEN + tlen + TAG_LEN);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0, fin = 0;
	char *hex;

	if (!ctx)
		abort();
	token_key(key);
	cy_random_bytes(blob, NONCE_LEN);
	if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
	    EVP_EncryptInit_ex(ctx, NULL, NULL, key, blob) != 1 ||
	    EVP_EncryptUpdate(ctx, blob + NONCE_LEN, &n, (const unsigned char *)token, (int)tlen) !=
		1 ||
	    EVP_EncryptFinal_ex(ctx, blob + NONCE_LEN + n, &fin) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, blob + NONCE_LEN + n + fin) !=
		1)
		abort();
	EVP_CIPHER_CTX_free(ctx);
	hex = hex_encode(blob, NONCE_LEN + (size_t)n + (size_t)fin + TAG_LEN);
	OPENSSL_cleanse(key, sizeof(key));
	free(blob);
	return hex;
}

char *
node_token_open(const char *hex, struct cy_error *err)
{
	unsigned char key[SHA256_DIGEST_LENGTH];
	unsigned char *blob = NULL;
	size_t len = 0, clen;
	EVP_CIPHER_CTX *ctx;
	char *out = NULL;
	int n = 0, fin = 0;

	if (!hex || hex_decode(hex, &blob, &len) < 0 || len < NONCE_LEN + TAG_LEN) {
		free(blob);
		cy_error_set(err, EINVAL, "stored worker token is malformed");
		return NULL;
	}
	clen = len - NONCE_LEN - TAG_LEN;
	out = xmalloc(clen + 1);
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		abort();
	token_key(key);
	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
	    EVP_DecryptInit_ex(ctx, NULL, NULL, key, blob) != 1 ||
	    EVP_DecryptUpdate(ctx, (unsigned char *)out, &n, blob + NONCE_LEN, (int)clen) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, blob + NONCE_LEN + clen) != 1 ||
	    EVP_DecryptFinal_ex(ctx, (unsigned char *)out + n, &fin) != 1) {
		cy_error_set(err, EINVAL,
		    "cannot decrypt the stored worker token (JWT secret changed? re-register the node)");
		FREE_AND_NULL(out);
	} else {
		out[n + fin] = '\0';
	}
	EVP_CIPHER_CTX_free(ctx);
	OPENSSL_cleanse(key, sizeof(key));
	free(blob);
	return out;
}
