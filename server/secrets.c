/*
 * The secrets key and sealing of user secrets (secrets.h), and the opening
 * of a job's secrets for the one request that takes them to its node.  The
 * key is the configured one (secrets.key_file or SECRETS_KEY: 64 hex
 * digits), else SHA-256 of a label and the JWT secret.  The associated
 * data binds a sealed value to its owner, project and name, so a value
 * copied into another row (another user's, another name) does not open.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "digest.h"
#include "buf.h"
#include "jobenv.h"
#include "json.h"
#include "log.h"
#include "seal.h"
#include "secrets.h"
#include "server.h"
#include "store-util.h"
#include "banned.h"

#define KEY_LABEL "cynode secrets key"

static unsigned char key[CY_SEAL_KEY_LEN];

void
secrets_key_init(void)
{
	const char *secret = srv.cfg.jwt_secret ? srv.cfg.jwt_secret : "";
	struct cy_sha256 c;

	if (srv.cfg.secrets_key) {
		/* server_config_check made sure of its shape. */
		if (cy_hex_decode(srv.cfg.secrets_key, key, sizeof(key)) != CY_SEAL_KEY_LEN)
			abort();
		return;
	}
	/* The label's NUL is hashed too: keys sealed so far were derived that way. */
	cy_sha256_init(&c);
	cy_sha256_update(&c, KEY_LABEL, sizeof(KEY_LABEL));
	cy_sha256_update(&c, secret, strlen(secret));
	cy_sha256_final(&c, key);
	cy_log_warn("secrets_key_derived", "note",
	    "no secrets.key_file or SECRETS_KEY: user secrets are sealed with a key derived from "
	    "the JWT secret, and changing that secret makes them unreadable",
	    NULL);
}

/* The associated data of a secret: owner, project ("" for the owner's own) and name. */
static char *
secrets_aad(const char *owner, const char *project, const char *name)
{
	return xasprintf("cynode secret\n%s\n%s\n%s", owner, project ? project : "", name);
}

char *
secrets_seal(const char *owner, const char *project, const char *name, const char *value)
{
	char *aad = secrets_aad(owner, project, name);
	char *hex = cy_seal_hex(key, aad, strlen(aad), value, strlen(value));

	free(aad);
	return hex;
}

char *
secrets_seal_aad(const char *aad, const char *value)
{
	return cy_seal_hex(key, aad, strlen(aad), value, strlen(value));
}

char *
secrets_open_aad(const char *aad, const char *hex, struct cy_error *err)
{
	return cy_open_hex(key, aad, strlen(aad), hex, NULL, err);
}

/* Opens one row of store_secrets_for_task; NULL with err set. */
static char *
secrets_open_row(const PGresult *res, int row, struct cy_error *err)
{
	const char *owner = store_val(res, row, SEC_OWNER);
	const char *project = store_val(res, row, SEC_PROJECT);
	const char *name = store_val(res, row, SEC_NAME);
	char *aad = secrets_aad(owner, project, name);
	size_t len = 0;
	char *v = cy_open_hex(key, aad, strlen(aad), store_val(res, row, SEC_SEALED), &len, err);

	free(aad);
	/* An environment value ends at its first NUL: a value with one never opens. */
	if (v && strlen(v) != len) {
		explicit_bzero(v, len);
		FREE_AND_NULL(v);
		cy_error_set(err, EINVAL, "holds a NUL byte");
	}
	return v;
}

/* The row of res naming `name`, or -1. */
static int
secrets_row(const PGresult *res, const char *name)
{
	int i;

	for (i = 0; i < PQntuples(res); i++)
		if (!strcmp(PQgetvalue(res, i, SEC_NAME), name))
			return i;
	return -1;
}

int
secrets_job_env(const char *task_id, const json_t *refs, json_t **env, char *msg, size_t msglen)
{
	struct cy_error err = CY_ERROR_INIT;
	struct cy_buf names = CY_BUF_INIT;
	PGresult *res;
	json_t *ref, *out = NULL;
	size_t i;
	int row;

	*env = NULL;
	cy_buf_addch(&names, '{');
	json_array_foreach(refs, i, ref)
		store_array_add(&names, cy_json_str(ref, "name"));
	cy_buf_addch(&names, '}');
	res = store_secrets_for_task(task_id, names.buf, &err);
	cy_buf_release(&names);
	if (!res) {
		cy_snprintf_clip(msg, msglen, "cannot read the job's secrets: %s", err.msg);
		return -1;
	}
	out = json_object();
	json_array_foreach(refs, i, ref) {
		const char *name = cy_json_str(ref, "name"), *var = cy_json_str(ref, "env");
		char *v;

		if (!name || !var || !cy_secret_name_valid(name) || !cy_env_name_valid(var) ||
		    cy_env_name_reserved(var)) {
			cy_snprintf_clip(msg, msglen,
			    "job payload has a malformed secret reference");
			goto fail;
		}
		if ((row = secrets_row(res, name)) < 0) {
			cy_snprintf_clip(msg, msglen,
			    "secret '%s' no longer exists (deleted after the task was created)",
			    name);
			goto fail;
		}
		if (!(v = secrets_open_row(res, row, &err))) {
			cy_snprintf_clip(msg, msglen,
			    "secret '%s' cannot be opened (%s; was the secrets key changed?)", name,
			    err.msg);
			goto fail;
		}
		json_object_set_new(out, var, json_string(v));
		explicit_bzero(v, strlen(v));
		free(v);
	}
	PQclear(res);
	*env = out;
	return 0;
fail:
	PQclear(res);
	json_decref(out);
	return -1;
}
