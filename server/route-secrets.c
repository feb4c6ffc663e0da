/*
 * /v1/secrets: the caller's own secrets.  PUT /v1/secrets/{name}
 * {"value", "project_id"?} creates or replaces one (201 or 200), sealed
 * before it is stored (secrets.c); GET /v1/secrets lists names, scopes and
 * times, never values; DELETE /v1/secrets/{name}[?project_id=] removes
 * one (204).  Setting and deleting are audited in admin_audit_log in the
 * same transaction, by name.  Nobody, an admin neither, reads or uses
 * another user's secrets.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "auth.h"
#include "db.h"
#include "id.h"
#include "identity.h"
#include "jobenv.h"
#include "json.h"
#include "log.h"
#include "secrets.h"
#include "banned.h"

/* PUT /v1/secrets/{name} {value, project_id?} */
/* clang-format off */
const struct cy_jcheck secrets_put_body = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "value", .type = CY_JC_STRING, .required = true, .min = 1,
		  .max = SECRETS_VALUE_MAX },
		{ .name = "project_id", .type = CY_JC_STRING, .null_ok = true,
		  .valid = cy_uuid_valid, .shape = "a UUID" }),
};
/* clang-format on */

/* The {name} of the path, when it is a secret name; else 400 and NULL. */
static const char *
secret_name(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const char *name = req->params[0];

	if (!cy_secret_name_valid(name)) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "'%.64s' is not a secret name: want " CY_SECRET_NAME_SHAPE
		    " (CYNODE_* and INFERENCE_PROXY_URL are the node's)",
		    name);
		return NULL;
	}
	return name;
}

void
h_secrets_put(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	const char *name, *project, *value;
	char *sealed = NULL;
	bool created = false;
	json_t *body, *d, *o;
	int rc;

	if (!(name = secret_name(req, resp)) || !(body = cy_req_json(req, resp)))
		return;
	value = cy_json_str(body, "value");
	project = cy_json_str(body, "project_id");
	sealed = secrets_seal(a->user_id, project, name, value);
	if (db_begin(&err) < 0)
		goto fail;
	if (store_secret_put(a->user_id, project, name, sealed, &created, &err) < 0) {
		if (err.code == EINVAL) {
			db_rollback();
			cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "unknown project_id '%s'",
			    project);
			goto out;
		}
		goto fail;
	}
	d = json_pack("{s:s?, s:b}", "project_id", project, "created", created);
	rc = audit_admin(a, "secret.set", name, d, &err);
	json_decref(d);
	if (rc < 0 || db_commit(&err) < 0)
		goto fail;
	o = json_pack("{s:s, s:s?, s:b}", "name", name, "project_id", project, "created", created);
	cy_resp_json(resp, created ? 201 : 200, o);
	cy_log_info("secret_set", "user", a->handle, "name", name, "project_id",
	    project ? project : "", NULL);
	goto out;
fail:
	db_rollback();
	identity_internal(resp, "secret set", &err);
out:
	free(sealed);
	/* The parsed body holds the value: wipe it before jansson frees it. */
	cy_json_wipe(body);
	json_decref(body);
}

void
h_secrets_list(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	json_t *list;

	if (!(list = store_secrets_list(a->user_id, &err)))
		return identity_internal(resp, "secret list", &err);
	cy_resp_json(resp, 200, json_pack("{s:o}", "secrets", list));
}

void
h_secrets_delete(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	const char *name, *project = cy_req_query(req, "project_id");
	json_t *d;
	int n, rc;

	if (!(name = secret_name(req, resp)))
		return;
	if (project && !cy_uuid_valid(project))
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "project_id must be a UUID");
	if (db_begin(&err) < 0)
		goto fail;
	if ((n = store_secret_delete(a->user_id, project, name, &err)) < 0)
		goto fail;
	if (n == 0) {
		db_rollback();
		cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "you have no secret '%s'%s%s", name,
		    project ? " in project " : "", project ? project : "");
		return;
	}
	d = project ? json_pack("{s:s}", "project_id", project) : NULL;
	rc = audit_admin(a, "secret.delete", name, d, &err);
	json_decref(d);
	if (rc < 0 || db_commit(&err) < 0)
		goto fail;
	cy_resp_empty(resp, 204);
	cy_log_info("secret_deleted", "user", a->handle, "name", name, NULL);
	return;
fail:
	db_rollback();
	identity_internal(resp, "secret delete", &err);
}
