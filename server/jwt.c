/*
 * JWTs over libjwt 1.10 (contract section 8), HS256 only.  Every token
 * carries iss=cynodeai, sub, iat, exp, a random jti and token_type (access,
 * refresh or node); user tokens add user_id and handle, node tokens node_id
 * and node_slug; access and refresh tokens also carry sid, the login
 * session (auth_sessions.id) that a logout or revocation ends.  Verification
 * pins the algorithm: a token whose header
 * names anything but HS256 (alg "none" included) is refused before any claim
 * is looked at.
 */
#include <errno.h>
#include <jwt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "auth.h"
#include "core.h"
#include "id.h"
#include "server.h"
#include "banned.h"

#define JWT_ISSUER "cynodeai"
#define JWT_LEEWAY 5 /* seconds of clock skew tolerated on iat/nbf */
#define JWT_MAX_LEN 8192

static const char *const type_names[] = {
	[JWT_ACCESS] = "access",
	[JWT_REFRESH] = "refresh",
	[JWT_NODE] = "node",
};

static const unsigned char *
jwt_key(int *len)
{
	const char *s = srv.cfg.jwt_secret ? srv.cfg.jwt_secret : "";

	*len = (int)strlen(s);
	return (const unsigned char *)s;
}

/*
 * Builds and signs one token: sub and name are user_id and handle, or
 * node_id and node_slug; sid is the session of user tokens.
 */
static char *
jwt_issue(enum jwt_type type, const char *sub, const char *name, const char *sid, long long ttl,
    time_t *exp_out)
{
	char jti[CY_UUID_LEN + 1];
	time_t now = time(NULL), exp = now + (time_t)ttl;
	const unsigned char *key;
	jwt_t *j = NULL;
	char *tok, *out;
	int klen, rc = 0;

	if (jwt_new(&j) != 0)
		return NULL;
	cy_uuid_v4(jti);
	rc |= jwt_add_grant(j, "iss", JWT_ISSUER);
	rc |= jwt_add_grant(j, "sub", sub);
	rc |= jwt_add_grant_int(j, "iat", (long)now);
	rc |= jwt_add_grant_int(j, "exp", (long)exp);
	rc |= jwt_add_grant(j, "jti", jti);
	rc |= jwt_add_grant(j, "token_type", type_names[type]);
	if (type == JWT_NODE) {
		rc |= jwt_add_grant(j, "node_id", sub);
		rc |= jwt_add_grant(j, "node_slug", name);
	} else {
		rc |= jwt_add_grant(j, "user_id", sub);
		rc |= jwt_add_grant(j, "handle", name);
		rc |= jwt_add_grant(j, "sid", sid);
	}
	key = jwt_key(&klen);
	rc |= jwt_set_alg(j, JWT_ALG_HS256, key, klen);
	if (rc) {
		jwt_free(j);
		return NULL;
	}
	tok = jwt_encode_str(j);
	jwt_free(j);
	if (!tok)
		return NULL;
	/* Hand out memory from our allocator so callers can free() it. */
	out = xstrdup(tok);
	free(tok);
	if (exp_out)
		*exp_out = exp;
	return out;
}

char *
jwt_issue_access(const char *user_id, const char *handle, const char *sid, time_t *exp)
{
	return jwt_issue(JWT_ACCESS, user_id, handle, sid, srv.cfg.jwt_access_s, exp);
}

char *
jwt_issue_refresh(const char *user_id, const char *handle, const char *sid, time_t *exp)
{
	return jwt_issue(JWT_REFRESH, user_id, handle, sid, srv.cfg.jwt_refresh_s, exp);
}

char *
jwt_issue_node(const char *node_id, const char *node_slug, time_t *expires_at)
{
	return jwt_issue(JWT_NODE, node_id, node_slug, NULL, srv.cfg.jwt_node_s, expires_at);
}

/* Copies a string claim into dst; -1 when absent, empty or too long. */
static int
claim_copy(jwt_t *j, const char *name, char *dst, size_t dstsz)
{
	const char *v = jwt_get_grant(j, name);
	size_t n;

	if (!v || !*v)
		return -1;
	n = strlen(v);
	if (n >= dstsz)
		return -1;
	memcpy(dst, v, n + 1);
	return 0;
}

/* A numeric claim; -1 when absent or not an integer. */
static int
claim_int(jwt_t *j, const char *name, long *out)
{
	errno = 0;
	*out = jwt_get_grant_int(j, name);
	return errno == ENOENT ? -1 : 0;
}

int
jwt_verify(const char *token, enum jwt_type want, struct jwt_claims *out, struct cy_error *err)
{
	const unsigned char *key;
	const char *typ, *iss;
	jwt_t *j = NULL;
	long iat, exp, nbf;
	time_t now = time(NULL);
	int klen, rc = -1;

	memset(out, 0, sizeof(*out));
	if (!token || !*token || strlen(token) > JWT_MAX_LEN)
		return cy_error_set(err, EINVAL, "malformed token");
	key = jwt_key(&klen);
	if (jwt_decode(&j, token, key, klen) != 0 || !j)
		return cy_error_set(err, EINVAL, "bad token signature or format");
	/* Algorithm pinning first: nothing in the token is trusted before. */
	if (jwt_get_alg(j) != JWT_ALG_HS256) {
		cy_error_set(err, EINVAL, "token algorithm is not HS256");
		goto out;
	}
	iss = jwt_get_grant(j, "iss");
	if (!iss || strcmp(iss, JWT_ISSUER) != 0) {
		cy_error_set(err, EINVAL, "wrong token issuer");
		goto out;
	}
	typ = jwt_get_grant(j, "token_type");
	if (!typ || strcmp(typ, type_names[want]) != 0) {
		cy_error_set(err, EINVAL, "wrong token type");
		goto out;
	}
	if (claim_int(j, "exp", &exp) < 0 || claim_int(j, "iat", &iat) < 0) {
		cy_error_set(err, EINVAL, "token without exp or iat");
		goto out;
	}
	if ((time_t)exp <= now) {
		cy_error_set(err, ETIMEDOUT, "token expired");
		goto out;
	}
	if ((time_t)iat > now + JWT_LEEWAY) {
		cy_error_set(err, EINVAL, "token issued in the future");
		goto out;
	}
	if (claim_int(j, "nbf", &nbf) == 0 && (time_t)nbf > now + JWT_LEEWAY) {
		cy_error_set(err, EINVAL, "token not yet valid");
		goto out;
	}
	if (claim_copy(j, "sub", out->sub, sizeof(out->sub)) < 0 ||
	    claim_copy(j, "jti", out->jti, sizeof(out->jti)) < 0) {
		cy_error_set(err, EINVAL, "token without sub or jti");
		goto out;
	}
	if (want == JWT_NODE) {
		if (claim_copy(j, "node_id", out->node_id, sizeof(out->node_id)) < 0 ||
		    claim_copy(j, "node_slug", out->node_slug, sizeof(out->node_slug)) < 0 ||
		    !cy_uuid_valid(out->node_id)) {
			cy_error_set(err, EINVAL, "node token without node_id or node_slug");
			goto out;
		}
	} else {
		if (claim_copy(j, "user_id", out->user_id, sizeof(out->user_id)) < 0 ||
		    claim_copy(j, "handle", out->handle, sizeof(out->handle)) < 0 ||
		    claim_copy(j, "sid", out->sid, sizeof(out->sid)) < 0 ||
		    !cy_uuid_valid(out->user_id) || !cy_uuid_valid(out->sid)) {
			cy_error_set(err, EINVAL, "user token without user_id, handle or sid");
			goto out;
		}
	}
	out->type = want;
	out->iat = (time_t)iat;
	out->exp = (time_t)exp;
	rc = 0;
out:
	jwt_free(j);
	return rc;
}
