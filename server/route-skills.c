/*
 * /v1/skills: the caller's skills (skills.h).  POST /v1/skills/load
 * {name, content_md, scope?} creates one (201; 409 when the caller already
 * has a skill of that name); GET /v1/skills lists the caller's newest
 * first (metadata only, keyset cursor like GET /v1/tasks); GET
 * /v1/skills/{id} answers one with its content; PUT /v1/skills/{id}
 * {content_md, name?} replaces the content (and renames); DELETE removes
 * one (204).  content_md over limits.skill_max_bytes is 413 naming the
 * limit.  A skill of another user is 404 to everyone, an admin too: skills
 * may hold private prompts.  Changes are audited in admin_audit_log.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "audit.h"
#include "auth.h"
#include "db.h"
#include "id.h"
#include "identity.h"
#include "json.h"
#include "log.h"
#include "server.h"
#include "skills.h"
#include "store-identity.h"
#include "store-util.h"
#include "strnum.h"
#include "banned.h"

static const char *const scope_choices[] = { "user", NULL };

/* clang-format off */
#define SKILL_NAME_ROW(req) \
	{ .name = "name", .type = CY_JC_STRING, .required = (req), .min = 1, \
	  .max = SKILL_NAME_MAX, .printable = true }
/* The content's bound is limits.skill_max_bytes, checked by the handler (413). */
#define SKILL_CONTENT_ROW \
	{ .name = "content_md", .type = CY_JC_STRING, .required = true, .min = 1 }

/* POST /v1/skills/load {name, content_md, scope?} */
const struct cy_jcheck skills_load_body = {
	.fields = CY_JCHECK_ROWS(
		SKILL_NAME_ROW(true),
		SKILL_CONTENT_ROW,
		{ .name = "scope", .type = CY_JC_STRING, .null_ok = true,
		  .choices = scope_choices }),
};

/* PUT /v1/skills/{id} {content_md, name?} */
const struct cy_jcheck skills_put_body = {
	.fields = CY_JCHECK_ROWS(
		SKILL_CONTENT_ROW,
		{ .name = "name", .type = CY_JC_STRING, .null_ok = true, .min = 1,
		  .max = SKILL_NAME_MAX, .printable = true }),
};
/* clang-format on */

/* The body's content_md, when within limits.skill_max_bytes; else 413 and NULL. */
static const char *
skill_content(json_t *body, struct cy_http_resp *resp)
{
	json_t *v = json_object_get(body, "content_md");

	if ((long long)json_string_length(v) > srv.cfg.skill_max_bytes) {
		cy_resp_problem(resp, CY_PROBLEM_TOO_LARGE,
		    "content_md is %zu bytes, over limits.skill_max_bytes (%lld)",
		    json_string_length(v), srv.cfg.skill_max_bytes);
		return NULL;
	}
	return json_string_value(v);
}

/* The {id} of the path, when it is a UUID; else 400 and NULL. */
static const char *
skill_id(struct cy_http_req *req, struct cy_http_resp *resp)
{
	if (!cy_uuid_valid(req->params[0])) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "skill id '%.64s' is not a UUID",
		    req->params[0]);
		return NULL;
	}
	return req->params[0];
}

/* The first row's skill object as the answer (status), or 404 when there is none. */
static void
skill_answer(struct cy_http_resp *resp, int status, PGresult *res, const char *id)
{
	json_t *o = store_json_row(res, SKC_JSON);

	if (!o)
		return cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "you have no skill %s", id);
	cy_resp_json(resp, status, o);
}

/* An insert or update the store refused: a duplicate name is 409; else 500. */
static void
skill_failed(struct cy_http_resp *resp, const char *what, const char *name,
    const struct cy_error *err)
{
	if (err->code == EEXIST)
		return cy_resp_problem(resp, CY_PROBLEM_CONFLICT,
		    "you already have a skill named '%s'", name);
	identity_internal(resp, what, err);
}

/* Audits action on the skill of row 0 and commits; 0, or -1 with err set. */
static int
skill_audit_commit(const struct auth_ctx *a, const char *action, PGresult *res,
    struct cy_error *err)
{
	json_t *o = store_json_row(res, SKC_JSON);
	json_t *d = json_pack("{s:O?}", "name", json_object_get(o, "name"));
	int rc;

	rc = audit_admin(a, action, PQgetvalue(res, 0, SKC_ID), d, err);
	json_decref(d);
	json_decref(o);
	if (rc < 0)
		return -1;
	return db_commit(err);
}

void
h_skills_load(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	const char *name, *content;
	PGresult *res = NULL;
	json_t *body;

	if (!(body = cy_req_json(req, resp)))
		return;
	name = cy_json_str(body, "name");
	if (!(content = skill_content(body, resp)))
		goto out;
	if (db_begin(&err) < 0)
		goto fail;
	if (!(res = store_skill_create(a->user_id, name, content, &err)))
		goto fail;
	if (skill_audit_commit(a, "skill.create", res, &err) < 0)
		goto fail;
	skill_answer(resp, 201, res, "");
	cy_log_info("skill_created", "user", a->handle, "skill_id", PQgetvalue(res, 0, SKC_ID),
	    NULL);
	goto out;
fail:
	db_rollback();
	skill_failed(resp, "skill create", name, &err);
out:
	PQclear(res);
	json_decref(body);
}

/*
 * ?owner=HANDLE|ID: whose skills a list shows (the caller's by default).
 * Another user's list (names and sizes, never the content) is an admin's
 * to read.  -1 with resp filled.
 */
static int
skills_owner(struct cy_http_req *req, char owner[CY_UUID_LEN + 1], struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	const char *q = cy_req_query(req, "owner");
	struct cy_error err = CY_ERROR_INIT;
	json_t *u = NULL;

	xsnprintf(owner, CY_UUID_LEN + 1, "%s", a->user_id);
	if (!q || !strcmp(q, "me") || !strcmp(q, a->handle) || !strcmp(q, a->user_id))
		return 0;
	if (!*q || strlen(q) > 128) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "owner must be a handle or a user id");
		return -1;
	}
	if (a->role != ROLE_ADMIN) {
		cy_resp_problem(resp, CY_PROBLEM_AUTHORIZATION,
		    "only an admin lists another user's skills");
		return -1;
	}
	if (store_user_find_json(q, &u, &err) < 0) {
		identity_internal(resp, "skill list", &err);
		return -1;
	}
	if (!u) {
		cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "no user '%.128s'", q);
		return -1;
	}
	xsnprintf(owner, CY_UUID_LEN + 1, "%s", cy_json_str(u, "id"));
	json_decref(u);
	return 0;
}

int
skills_instructions(const char *owner, const json_t *refs, char **text, struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	struct cy_buf b = CY_BUF_INIT;
	json_t *v;
	size_t i;

	*text = NULL;
	json_array_foreach(refs, i, v) {
		const char *ref = json_string_value(v);
		PGresult *res = store_skill_find(owner, ref, &err);
		json_t *sk;

		if (!res) {
			identity_internal(resp, "skill lookup", &err);
			cy_buf_release(&b);
			return -1;
		}
		if (PQntuples(res) == 0) {
			PQclear(res);
			cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
			    "skills[%zu]: you have no skill '%.128s' ('cynork skills list' shows "
			    "yours)",
			    i, ref);
			cy_buf_release(&b);
			return -1;
		}
		sk = json_loads(PQgetvalue(res, 0, SKC_JSON), 0, NULL);
		PQclear(res);
		cy_buf_addf(&b, "%s## Skill: %s\n\n%s\n", b.len ? "\n" : "",
		    sk ? cy_json_str(sk, "name") : ref, sk ? cy_json_str(sk, "content_md") : "");
		json_decref(sk);
	}
	*text = b.len ? cy_buf_detach(&b, NULL) : NULL;
	cy_buf_release(&b);
	return 0;
}

void
h_skills_list(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const char *q_limit = cy_req_query(req, "limit");
	const char *q_cursor = cy_req_query(req, "cursor");
	const char *q_scope = cy_req_query(req, "scope");
	struct cy_error err = CY_ERROR_INIT;
	char cursor_id[CY_UUID_LEN + 1], owner[CY_UUID_LEN + 1];
	long long limit = 50, us = 0;
	const char *errstr;
	json_t *o, *list;
	PGresult *res;
	int i, n;

	if (q_limit && cy_strtonum(q_limit, 1, 200, &limit, &errstr) < 0)
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "limit must be an integer between 1 and 200");
	if (q_cursor && !*q_cursor)
		q_cursor = NULL;
	if (q_cursor && store_cursor_parse(q_cursor, &us, cursor_id) < 0)
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "invalid cursor");
	if (q_scope && strcmp(q_scope, "user") != 0)
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "scope must be user (the only scope served)");
	if (skills_owner(req, owner, resp) < 0)
		return;
	res = store_skill_list(owner, us, q_cursor ? cursor_id : NULL, limit, &err);
	if (!res)
		return identity_internal(resp, "skill list", &err);
	n = PQntuples(res);
	list = json_array();
	for (i = 0; i < n && i < limit; i++) {
		json_t *s = json_loads(PQgetvalue(res, i, SKC_JSON), 0, NULL);

		if (s)
			json_array_append_new(list, s);
	}
	o = json_pack("{s:o}", "skills", list);
	if (n > limit) {
		char *c = xasprintf("%s_%s", PQgetvalue(res, (int)limit - 1, SKC_CURSOR_US),
		    PQgetvalue(res, (int)limit - 1, SKC_ID));

		json_object_set_new(o, "next_cursor", json_string(c));
		free(c);
	}
	PQclear(res);
	cy_resp_json(resp, 200, o);
}

void
h_skills_get(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	const char *id;
	PGresult *res;

	if (!(id = skill_id(req, resp)))
		return;
	if (!(res = store_skill_get(a->user_id, id, &err)))
		return identity_internal(resp, "skill get", &err);
	skill_answer(resp, 200, res, id);
	PQclear(res);
}

void
h_skills_put(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	const char *id, *name = NULL, *content;
	PGresult *res = NULL;
	json_t *body;

	if (!(id = skill_id(req, resp)) || !(body = cy_req_json(req, resp)))
		return;
	name = cy_json_str(body, "name");
	if (!(content = skill_content(body, resp)))
		goto out;
	if (db_begin(&err) < 0)
		goto fail;
	if (!(res = store_skill_update(a->user_id, id, name, content, &err)))
		goto fail;
	if (PQntuples(res) == 0) {
		db_rollback();
		skill_answer(resp, 404, res, id);
		goto out;
	}
	if (skill_audit_commit(a, "skill.update", res, &err) < 0)
		goto fail;
	skill_answer(resp, 200, res, id);
	cy_log_info("skill_updated", "user", a->handle, "skill_id", id, NULL);
	goto out;
fail:
	db_rollback();
	skill_failed(resp, "skill update", name ? name : "", &err);
out:
	PQclear(res);
	json_decref(body);
}

void
h_skills_delete(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	const char *id;
	int n;

	if (!(id = skill_id(req, resp)))
		return;
	if (db_begin(&err) < 0)
		goto fail;
	if ((n = store_skill_delete(a->user_id, id, &err)) < 0)
		goto fail;
	if (n == 0) {
		db_rollback();
		return cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "you have no skill %s", id);
	}
	if (audit_admin(a, "skill.delete", id, NULL, &err) < 0 || db_commit(&err) < 0)
		goto fail;
	cy_resp_empty(resp, 204);
	cy_log_info("skill_deleted", "user", a->handle, "skill_id", id, NULL);
	return;
fail:
	db_rollback();
	identity_internal(resp, "skill delete", &err);
}
