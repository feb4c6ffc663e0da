/*
 * Fuzz target for server/jwt.c, which sees every bearer token presented to
 * the server.  Odd first byte: the rest is a token string, verified as each
 * token type.  Even first byte: the rest is a JSON claims object, signed
 * with the server's key (HS256) and then verified, so claim handling (types,
 * exp/iat/nbf, token_type, issuer) is reached past the signature check.
 * Property: a token verifies only with the issuer and type it claims.
 * Replayed as a unit test by replay.c; `make fuzz` runs it under libFuzzer.
 */
#include <jwt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "core.h"
#include "error.h"
#include "server.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct server srv;
static char key[] = "fuzz-secret-fuzz-secret-fuzz-secret-0123";

static void
verify_all(const char *tok)
{
	static const enum jwt_type types[] = { JWT_ACCESS, JWT_REFRESH, JWT_NODE };
	struct cy_error err = CY_ERROR_INIT;
	struct jwt_claims c;
	size_t i;
	int ok = 0;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (jwt_verify(tok, types[i], &c, &err) == 0)
			ok++;
		cy_error_clear(&err);
	}
	if (ok > 1) /* one token_type claim cannot satisfy two types */
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;
	jwt_t *j = NULL;

	if (size < 1)
		return 0;
	srv.cfg.jwt_secret = key;
	s = xmalloc(size);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	if (data[0] & 1) {
		verify_all(s);
	} else if (jwt_new(&j) == 0) {
		char *tok;

		if (jwt_add_grants_json(j, s) == 0 &&
		    jwt_set_alg(j, JWT_ALG_HS256, (unsigned char *)key, (int)strlen(key)) == 0 &&
		    (tok = jwt_encode_str(j)) != NULL) {
			verify_all(tok);
			free(tok);
		}
		jwt_free(j);
	}
	free(s);
	return 0;
}
