/*
 * SHA-256 (one shot, streaming, hex), HMAC-SHA256, standard base64 and a
 * constant-time compare, over nettle, the crypto library of the GnuTLS that
 * libmicrohttpd and libcurl already bring: the one place cynode's own code
 * hashes.  Its inputs are often secrets (tokens, the JWT secret, the node
 * PSK): every context, which keeps the last input block, is wiped after use.
 */
#ifndef CY_DIGEST_H
#define CY_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

#define CY_SHA256_LEN 32
#define CY_SHA256_HEX_LEN 64

#include <nettle/sha2.h>

/* A running SHA-256; cy_sha256_final ends it and wipes it. */
struct cy_sha256 {
	struct sha256_ctx ctx;
	bool live;
};

void cy_sha256_init(struct cy_sha256 *c);
void cy_sha256_update(struct cy_sha256 *c, const void *data, size_t len);
void cy_sha256_final(struct cy_sha256 *c, unsigned char md[CY_SHA256_LEN]);
/* Ends c with its lowercase hex digest into out (65 bytes). */
void cy_sha256_final_hex(struct cy_sha256 *c, char out[CY_SHA256_HEX_LEN + 1]);
/* Wipes a running c without a digest (no-op on one ended or never started). */
void cy_sha256_abort(struct cy_sha256 *c);

/* The SHA-256 of data, raw or as lowercase hex into out (65 bytes). */
void cy_sha256(const void *data, size_t len, unsigned char md[CY_SHA256_LEN]);
void cy_sha256_hex(const void *data, size_t len, char out[CY_SHA256_HEX_LEN + 1]);
/* HMAC-SHA256 of data under key. */
void cy_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
    unsigned char md[CY_SHA256_LEN]);
/* Lowercase hex of len bytes into out (2 * len + 1 bytes). */
void cy_hex_into(const unsigned char *p, size_t len, char *out);
/*
 * Padded standard base64 (RFC 4648 section 4) of len bytes into out, which
 * holds CY_BASE64_SIZE(len) bytes; returns the length written (NUL not counted).
 */
#define CY_BASE64_SIZE(n) (((n) + 2) / 3 * 4 + 1)
size_t cy_base64(const void *data, size_t len, char *out);
/* a and b (n bytes each) are equal, in a time that does not depend on their content. */
bool cy_memeq_ct(const void *a, const void *b, size_t n);

#endif
