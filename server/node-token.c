/*
 * Encryption at rest of the per-node worker bearer tokens (DESIGN.md
 * section 9: secrets that must be presented again are stored encrypted),
 * sealed by lib/seal.c; the key derives from the JWT secret, so rotating
 * that secret makes nodes re-register to get new tokens.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "node-token.h"
#include "seal.h"
#include "server.h"
#include "banned.h"

#define KEY_LABEL "cynode worker token key"

_Static_assert(SHA256_DIGEST_LENGTH == CY_SEAL_KEY_LEN, "the key is a SHA-256 digest");

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

char *
node_token_seal(const char *token)
{
	unsigned char key[SHA256_DIGEST_LENGTH];
	char *hex;

	token_key(key);
	hex = cy_seal_hex(key, NULL, 0, token, strlen(token));
	OPENSSL_cleanse(key, sizeof(key));
	return hex;
}

char *
node_token_open(const char *hex, struct cy_error *err)
{
	unsigned char key[SHA256_DIGEST_LENGTH];
	char *out;

	token_key(key);
	out = cy_open_hex(key, NULL, 0, hex, NULL, err);
	OPENSSL_cleanse(key, sizeof(key));
	if (!out && err->code == EACCES)
		cy_error_set(err, EINVAL,
		    "cannot decrypt the stored worker token (JWT secret changed? re-register the node)");
	else if (!out)
		cy_error_set(err, EINVAL, "stored worker token is malformed");
	return out;
}
