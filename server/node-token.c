/*
 * Encryption at rest of the per-node worker bearer tokens (DESIGN.md
 * section 9: secrets that must be presented again are stored encrypted),
 * sealed by lib/seal.c; the key derives from the JWT secret, so rotating
 * that secret makes nodes re-register to get new tokens.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "digest.h"
#include "node-token.h"
#include "seal.h"
#include "server.h"
#include "banned.h"

#define KEY_LABEL "cynode worker token key"

_Static_assert(CY_SHA256_LEN == CY_SEAL_KEY_LEN, "the key is a SHA-256 digest");

/* Derives the AES key from the JWT secret. */
static void
token_key(unsigned char key[CY_SEAL_KEY_LEN])
{
	const char *secret = srv.cfg.jwt_secret ? srv.cfg.jwt_secret : "";
	struct cy_sha256 c;

	cy_sha256_init(&c);
	cy_sha256_update(&c, KEY_LABEL, strlen(KEY_LABEL));
	cy_sha256_update(&c, secret, strlen(secret));
	cy_sha256_final(&c, key);
}

char *
node_token_seal(const char *token)
{
	unsigned char key[CY_SEAL_KEY_LEN];
	char *hex;

	token_key(key);
	hex = cy_seal_hex(key, NULL, 0, token, strlen(token));
	explicit_bzero(key, sizeof(key));
	return hex;
}

char *
node_token_open(const char *hex, struct cy_error *err)
{
	unsigned char key[CY_SEAL_KEY_LEN];
	char *out;

	token_key(key);
	out = cy_open_hex(key, NULL, 0, hex, NULL, err);
	explicit_bzero(key, sizeof(key));
	if (!out && err->code == EACCES)
		cy_error_set(err, EINVAL,
		    "cannot decrypt the stored worker token (JWT secret changed? re-register the node)");
	else if (!out)
		cy_error_set(err, EINVAL, "stored worker token is malformed");
	return out;
}
