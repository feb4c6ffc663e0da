/*
 * /v1/tokens: API tokens for CI.  A token is "cyn_" + 48 random
 * hex digits, returned once by POST /v1/tokens and stored only as SHA-256
 * (plus its first 12 characters, to recognise it in lists).  It carries
 * scopes (tasks:read, tasks:write, nodes:read, nodes:write, inference, secrets, metrics, admin) no
 * wider than its owner's role, an expiry, and the time it was last used; auth.c accepts it as a
 * bearer token.  Creating and revoking tokens is audited in admin_audit_log in the same
 * transaction.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "auth.h"
#include "buf.h"
#include "db.h"
#include "digest.h"
#include "id.h"
#include "identity.h"
#include "json.h"
#include "log.h"
#include "store-identity.h"
#include "banned.h"

#define TOKEN_TTL_DEFAULT (90LL * 86400)
#define TOKEN_TTL_MIN 60LL
#define TOKEN_TTL_MAX (366LL * 86400)
#define TOKEN_RANDOM 24

static const char *const scope_list[] = { "tasks:read", "tasks:write", "nodes:read", "nodes:write",
	"inference", "secrets", "metrics", "admin", NULL };

/* POST /v1/tokens {name, ttl?, scopes?}; ttl (seconds or "30d") is checked below. */
/* clang-format off */
const struct cy_jcheck tokens_create_body = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "name", .type = CY_JC_STRING, .required = true,
		  .valid = identity_name_ok, .shape = IDENTITY_NAME_SHAPE },
		{ .name = "ttl", .type = CY_JC_ANY, .null_ok = true },
		{ .name = "scopes", .type = CY_JC_ARRAY, .null_ok = true, .min = 1, .max = 16,
		  .item = &(const struct cy_jcheck_field){ .type = CY_JC_STRING,
			.choices = scope_list } }),
};
/* clang-format on */

/*
 * The "scopes" array (checked against tokens_create_body) as the SQL array
 * text, when the caller's role may grant them all.  0 ok, -1 answered.
 */
static int
parse_scopes(const struct auth_ctx *a, const json_t *v, struct cy_buf *arr,
    struct cy_http_resp *resp)
{
	unsigned bits = 0, b, allowed = auth_role_scopes(a->role) & a->scopes;
	const char *s;
	json_t *e;
	size_t i;

	if (!v || json_is_null(v)) {
		bits = SCOPE_TASKS_READ | SCOPE_TASKS_WRITE;
	} else {
		json_array_foreach(v, i, e) {
			s = json_string_value(e);
			b = auth_scope_parse(s);
			if (!(allowed & b)) {
				cy_resp_problem(resp, CY_PROBLEM_AUTHORIZATION,
				    "role '%s' cannot grant scope '%s'", auth_role_name(a->role),
				    s);
				return -1;
			}
			bits |= b;
		}
	}
	cy_buf_addch(arr, '{');
	for (i = 0; scope_list[i]; i++) {
		if (!(bits & auth_scope_parse(scope_list[i])))
			continue;
		if (arr->len > 1)
			cy_buf_addch(arr, ',');
		cy_buf_addstr(arr, scope_list[i]);
	}
	cy_buf_addch(arr, '}');
	return 0;
}

void
h_tokens_create(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	struct cy_buf arr = CY_BUF_INIT;
	unsigned char rnd[TOKEN_RANDOM];
	char tok[AUTH_TOKEN_LEN + 1], prefix[AUTH_TOKEN_SHOWN + 1], hash[65], ttlbuf[32];
	struct token_new t;
	const char *name;
	json_t *body, *o = NULL, *d;
	long long ttl = TOKEN_TTL_DEFAULT;
	size_t i;
	int rc;

	if (!(body = cy_req_json(req, resp)))
		return;
	name = cy_json_str(body, "name");
	if (json_object_get(body, "ttl") && !json_is_null(json_object_get(body, "ttl"))) {
		ttl = identity_duration(json_object_get(body, "ttl"));
		if (ttl < TOKEN_TTL_MIN || ttl > TOKEN_TTL_MAX) {
			cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			    "ttl must be a duration between 60s and 366d (seconds, or like \"30d\")");
			goto out;
		}
	}
	if (parse_scopes(a, json_object_get(body, "scopes"), &arr, resp) < 0)
		goto out;
	cy_random_bytes(rnd, sizeof(rnd));
	memcpy(tok, AUTH_TOKEN_PREFIX, 4);
	for (i = 0; i < sizeof(rnd); i++)
		xsnprintf(tok + 4 + 2 * i, 3, "%02x", rnd[i]);
	memcpy(prefix, tok, AUTH_TOKEN_SHOWN);
	prefix[AUTH_TOKEN_SHOWN] = '\0';
	cy_sha256_hex(tok, strlen(tok), hash);
	xsnprintf(ttlbuf, sizeof(ttlbuf), "%lld", ttl);
	t.user_id = a->user_id;
	t.name = name;
	t.prefix = prefix;
	t.hash = hash;
	t.scopes = arr.buf;
	t.ttl_s = ttlbuf;
	if (db_begin(&err) < 0)
		goto fail;
	if (store_token_create(&t, &o, &err) < 0) {
		if (err.code == EEXIST) {
			db_rollback();
			cy_resp_problem(resp, CY_PROBLEM_CONFLICT,
			    "you already have an active token named '%s'", name);
			goto out;
		}
		goto fail;
	}
	if (!o) {
		cy_error_set(&err, EIO, "no token row returned");
		goto fail;
	}
	d = json_pack("{s:O, s:O, s:s}", "scopes", json_object_get(o, "scopes"), "expires_at",
	    json_object_get(o, "expires_at"), "token_prefix", prefix);
	rc = audit_admin(a, "token.create", cy_json_str(o, "id"), d, &err);
	json_decref(d);
	if (rc < 0 || db_commit(&err) < 0)
		goto fail;
	json_object_set_new(o, "token", json_string(tok));
	cy_resp_json(resp, 201, o);
	o = NULL;
	cy_resp_header(resp, "Cache-Control", "no-store");
	cy_log_info("api_token_created", "user", a->handle, "token_prefix", prefix, NULL);
	goto out;
fail:
	db_rollback();
	identity_internal(resp, "token create", &err);
out:
	explicit_bzero(tok, sizeof(tok));
	json_decref(o);
	cy_buf_release(&arr);
	json_decref(body);
}

void
h_tokens_list(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	const char *all = cy_req_query(req, "all");
	const char *owner = a->user_id;
	json_t *tokens;

	if (all && strcmp(all, "true") != 0 && strcmp(all, "false") != 0)
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "all must be true or false");
	if (all && !strcmp(all, "true")) {
		if (a->role != ROLE_ADMIN || !(a->scopes & SCOPE_ADMIN))
			return cy_resp_problem(resp, CY_PROBLEM_AUTHORIZATION, "Admin required");
		owner = NULL;
	}
	if (!(tokens = store_tokens_list(owner, &err)))
		return identity_internal(resp, "token list", &err);
	cy_resp_json(resp, 200, json_pack("{s:o}", "tokens", tokens));
}

void
h_tokens_revoke(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	const char *id = req->params[0];
	bool admin = a->role == ROLE_ADMIN && (a->scopes & SCOPE_ADMIN);
	PGresult *res;
	json_t *d;
	int rc;

	if (cy_req_no_params(req, resp) < 0)
		return;
	if (!cy_uuid_valid(id))
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "token id must be a UUID");
	if (db_begin(&err) < 0)
		goto fail;
	res = store_token_revoke(id, admin ? NULL : a->user_id, &err);
	if (!res)
		goto fail;
	if (PQntuples(res) != 1) {
		PQclear(res);
		db_rollback();
		return cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "token not found");
	}
	if (!strcmp(PQgetvalue(res, 0, TRV_REVOKED), "1")) {
		d = json_pack("{s:s, s:s}", "token_prefix", PQgetvalue(res, 0, TRV_PREFIX), "owner",
		    PQgetvalue(res, 0, TRV_OWNER));
		rc = audit_admin(a, "token.revoke", id, d, &err);
		json_decref(d);
		if (rc < 0) {
			PQclear(res);
			goto fail;
		}
	}
	PQclear(res);
	if (db_commit(&err) < 0)
		goto fail;
	auth_cache_invalidate();
	cy_resp_empty(resp, 204);
	return;
fail:
	db_rollback();
	identity_internal(resp, "token revoke", &err);
}
