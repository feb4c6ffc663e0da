/*
 * Hashing over nettle (digest.h).
 */
#include <nettle/base64.h>
#include <nettle/hmac.h>
#include <nettle/memops.h>
#include <nettle/sha2.h>
#include <string.h>

#include "digest.h"
#include "banned.h"

void
cy_sha256_init(struct cy_sha256 *c)
{
	sha256_init(&c->ctx);
	c->live = true;
}

void
cy_sha256_update(struct cy_sha256 *c, const void *data, size_t len)
{
	sha256_update(&c->ctx, len, data);
}

void
cy_sha256_final(struct cy_sha256 *c, unsigned char md[CY_SHA256_LEN])
{
	sha256_digest(&c->ctx, CY_SHA256_LEN, md);
	cy_sha256_abort(c);
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
	explicit_bzero(&c->ctx, sizeof(c->ctx));
	c->live = false;
}

void
cy_sha256(const void *data, size_t len, unsigned char md[CY_SHA256_LEN])
{
	struct cy_sha256 c;

	cy_sha256_init(&c);
	cy_sha256_update(&c, data, len);
	cy_sha256_final(&c, md);
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
	struct hmac_sha256_ctx ctx;

	hmac_sha256_set_key(&ctx, keylen, key);
	hmac_sha256_update(&ctx, len, data);
	hmac_sha256_digest(&ctx, CY_SHA256_LEN, md);
	explicit_bzero(&ctx, sizeof(ctx));
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
	/* Straight into out, padded: no copy of a secret's encoding elsewhere. */
	base64_encode_raw(out, len, data);
	out[BASE64_ENCODE_RAW_LENGTH(len)] = '\0';
	return BASE64_ENCODE_RAW_LENGTH(len);
}

bool
cy_memeq_ct(const void *a, const void *b, size_t n)
{
	return memeql_sec(a, b, n) != 0;
}
