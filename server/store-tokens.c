/*
 * Identity SQL for API tokens (store-identity.h): a token is stored as its
 * SHA-256 and its first characters, with its scopes, expiry and the time
 * it was last used; TokenResponse objects are built in SQL with the
 * owner's handle.  Revoking locks the token row, so two revocations of one
 * token audit once.
 */
#include "db.h"
#include "store-identity.h"
#include "store-util.h"
#include "banned.h"

/* clang-format off */
#define TOKEN_JSON \
	"json_build_object('id', t.id, 'name', t.name, 'token_prefix', t.token_prefix," \
	" 'scopes', t.scopes, 'owner', u.handle, 'expires_at', " SQL_TS("t.expires_at") "," \
	" 'last_used_at', " SQL_TS("t.last_used_at") ", 'revoked_at', " SQL_TS("t.revoked_at") \
	", 'created_at', " SQL_TS("t.created_at") ")::text"
/* clang-format on */

int
store_token_create(const struct token_new *t, json_t **out, struct cy_error *err)
{
	const char *p[6] = { t->user_id, t->name, t->prefix, t->hash, t->scopes, t->ttl_s };
	PGresult *res;

	*out = NULL;
	/* clang-format off */
	res = db_exec("tokens_create",
		"WITH t AS (INSERT INTO api_tokens (user_id, name, token_prefix, token_hash,"
		" scopes, expires_at) VALUES ($1, $2, $3, decode($4, 'hex'), $5::text[],"
		" now() + $6::bigint * interval '1 second') RETURNING *)"
		" SELECT " TOKEN_JSON " FROM t JOIN users u ON u.id = t.user_id", 6, p, err);
	/* clang-format on */
	if (!res)
		return -1;
	*out = store_json_row(res, 0);
	PQclear(res);
	return 0;
}

json_t *
store_tokens_list(const char *user_id, struct cy_error *err)
{
	const char *p[1] = { user_id };
	PGresult *res;
	json_t *a;

	/* clang-format off */
	res = db_exec("tokens_list",
		"SELECT " TOKEN_JSON " FROM api_tokens t JOIN users u ON u.id = t.user_id"
		" WHERE $1::uuid IS NULL OR t.user_id = $1 ORDER BY t.created_at, t.id", 1, p, err);
	/* clang-format on */
	if (!res)
		return NULL;
	a = store_json_rows(res, 0);
	PQclear(res);
	return a;
}

PGresult *
store_token_revoke(const char *id, const char *owner, struct cy_error *err)
{
	const char *p[2] = { id, owner };

	return db_exec("tokens_revoke",
	    "WITH t AS (SELECT id, revoked_at, token_prefix, user_id FROM api_tokens"
	    " WHERE id = $1 AND ($2::uuid IS NULL OR user_id = $2) FOR UPDATE),"
	    " r AS (UPDATE api_tokens SET revoked_at = now() WHERE id IN"
	    " (SELECT id FROM t WHERE revoked_at IS NULL) RETURNING id)"
	    " SELECT t.token_prefix, (SELECT count(*) FROM r), u.handle FROM t"
	    " JOIN users u ON u.id = t.user_id",
	    2, p, err);
}
