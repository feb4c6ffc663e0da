/*
 * Pushed node configuration in PostgreSQL (store-config.h).  The targeted
 * node rows are locked while the new version is chosen, so two pushes (on
 * one replica or two) cannot hand a node versions out of order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "buf.h"
#include "db.h"
#include "store-config.h"
#include "store-util.h"
#include "banned.h"

#define AUDIT_TARGET_MAX 200

/* Locks the targeted nodes; fills p->nodes, or p->missing.  1, 0, -1. */
static int
push_targets(struct config_push *p, struct cy_error *err)
{
	struct cy_buf arr = CY_BUF_INIT;
	const char *prm[1];
	PGresult *res;
	size_t i;
	int k;

	cy_buf_addstr(&arr, "{");
	for (i = 0; i < p->nslugs; i++)
		store_array_add(&arr, p->slugs[i]);
	cy_buf_addstr(&arr, "}");
	prm[0] = p->all ? NULL : arr.buf;
	res = db_exec("config_push_targets",
	    "SELECT node_slug FROM nodes WHERE $1::text[] IS NULL OR node_slug = ANY($1::text[]) "
	    "ORDER BY node_slug FOR UPDATE",
	    1, prm, err);
	cy_buf_release(&arr);
	if (!res)
		return -1;
	p->nodes = json_array();
	for (k = 0; k < PQntuples(res); k++)
		json_array_append_new(p->nodes, json_string(PQgetvalue(res, k, 0)));
	PQclear(res);
	for (i = 0; !p->all && i < p->nslugs; i++) {
		bool found = false;
		size_t j;
		json_t *v;

		json_array_foreach(p->nodes, j, v)
			if (strcmp(json_string_value(v), p->slugs[i]) == 0)
				found = true;
		if (!found) {
			p->missing = p->slugs[i];
			return 0;
		}
	}
	return 1;
}

/* The greatest ULID config_version stored so far ("" when none). */
static int
push_floor(char floor[CY_ULID_LEN + 1], struct cy_error *err)
{
	PGresult *res = db_exec("config_push_floor",
	    "SELECT GREATEST((SELECT max(config_version) FROM node_config_documents), "
	    "(SELECT max(upper(config_version)) FROM nodes WHERE length(config_version) = 26))",
	    0, NULL, err);

	if (!res)
		return -1;
	xsnprintf(floor, CY_ULID_LEN + 1, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

/* The audit row: target "all" or the slugs (shortened), details the version. */
static int
push_audit(struct config_push *p, struct cy_error *err)
{
	struct cy_buf target = CY_BUF_INIT;
	json_t *details, *v;
	size_t i;
	int rc;

	if (p->all)
		cy_buf_addstr(&target, "all");
	else
		json_array_foreach(p->nodes, i, v)
			cy_buf_addf(&target, "%s%s", i ? "," : "", json_string_value(v));
	if (target.len > AUDIT_TARGET_MAX)
		cy_buf_setlen(&target, AUDIT_TARGET_MAX);
	details = json_pack("{s:s, s:O, s:b}", "config_version", p->version, "nodes", p->nodes,
	    "all", p->all);
	rc = audit_admin(p->actor, "config.push", target.buf, details, err);
	json_decref(details);
	cy_buf_release(&target);
	return rc;
}

/* Inserts the document and points the targeted nodes at it. */
static int
push_store(struct config_push *p, struct cy_error *err)
{
	char *slugs = json_dumps(p->nodes, JSON_COMPACT);
	const char *prm[4] = { p->version, p->document, p->all ? "true" : "false",
		p->actor && p->actor->user_id[0] ? p->actor->user_id : NULL };
	int rc = store_run("config_push_insert",
	    "INSERT INTO node_config_documents (config_version, document, all_nodes, "
	    "created_by) VALUES ($1, $2::jsonb, $3::boolean, $4::uuid)",
	    4, prm, err);

	prm[1] = slugs;
	if (rc == 0)
		rc = store_run("config_push_nodes",
		    "UPDATE nodes SET config_version = $1, config_document = $1 WHERE "
		    "node_slug IN (SELECT jsonb_array_elements_text($2::jsonb))",
		    2, prm, err);
	free(slugs);
	return rc;
}

int
store_config_push(struct config_push *p, struct cy_error *err)
{
	char floor[CY_ULID_LEN + 1];
	int rc;

	p->version[0] = '\0';
	p->nodes = NULL;
	p->missing = NULL;
	if (db_begin(err) < 0)
		return -1;
	if ((rc = push_targets(p, err)) <= 0 || p->dry_run) {
		db_rollback();
		return rc;
	}
	if (push_floor(floor, err) < 0)
		goto fail;
	cy_ulid_after(floor, p->version);
	if (push_store(p, err) < 0 || push_audit(p, err) < 0)
		goto fail;
	return db_commit(err) < 0 ? -1 : 1;
fail:
	db_rollback();
	json_decref(p->nodes);
	p->nodes = NULL;
	return -1;
}

PGresult *
store_config_node_images(const char *const *slugs, size_t n, bool all, struct cy_error *err)
{
	struct cy_buf arr = CY_BUF_INIT;
	const char *p[2] = { all ? "true" : "false", NULL };
	PGresult *res;
	size_t i;

	cy_buf_addstr(&arr, "{");
	for (i = 0; i < n; i++)
		store_array_add(&arr, slugs[i]);
	cy_buf_addstr(&arr, "}");
	p[1] = arr.buf;
	res = db_exec("config_node_images",
	    "SELECT n.node_slug, (c.capability_snapshot->'sandbox'->'images')::text "
	    "FROM nodes n JOIN node_capabilities c ON c.node_id = n.id "
	    "WHERE ($1::bool OR n.node_slug = ANY($2::text[])) "
	    "AND jsonb_typeof(c.capability_snapshot->'sandbox'->'images') = 'array' "
	    "ORDER BY n.node_slug",
	    2, p, err);
	cy_buf_release(&arr);
	return res;
}

PGresult *
store_config_get(const char *ref, struct cy_error *err)
{
	const char *p[1] = { ref };

	/* clang-format off */
	if (!ref)
		return db_exec("config_get_fleet",
			"SELECT NULL, NULL, d.config_version, d.document::text, d.all_nodes, "
			SQL_TS("d.created_at") ", u.handle FROM node_config_documents d "
			"LEFT JOIN users u ON u.id = d.created_by WHERE d.all_nodes "
			"ORDER BY d.config_version DESC LIMIT 1", 0, NULL, err);
	return db_exec("config_get_node",
		"SELECT n.node_slug, n.config_version, d.config_version, d.document::text, "
		"d.all_nodes, " SQL_TS("d.created_at") ", u.handle FROM nodes n "
		"LEFT JOIN node_config_documents d ON d.config_version = n.config_document "
		"LEFT JOIN users u ON u.id = d.created_by "
		"WHERE n.node_slug = $1 OR n.id::text = lower($1)", 1, p, err);
	/* clang-format on */
}

PGresult *
store_config_status(struct cy_error *err)
{
	/* clang-format off */
	return db_exec("config_status",
		"SELECT node_slug, status, config_version, config_applied_version, "
		"config_ack_status, config_ack_version, config_ack_error, "
		SQL_TS("config_ack_at") ", config_document FROM nodes ORDER BY node_slug", 0, NULL,
		err);
	/* clang-format on */
}
