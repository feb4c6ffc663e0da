/*
 * Fleet SQL (store-fleet.h): liveness, heartbeats, operator actions,
 * removal tombstones, enrollment tokens and node credentials.
 *
 * Audit: every operator action writes one admin audit row in the same
 * transaction through audit_admin() (server/audit.h), so an action and its
 * audit row commit or roll back together.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "audit.h"
#include "buf.h"
#include "db.h"
#include "json.h"
#include "log.h"
#include "store-fleet.h"
#include "store-nodes-sql.h"
#include "store-util.h"
#include "banned.h"

/* One admin audit row, in the caller's transaction (server/audit.h). */
static int
fleet_audit(const struct auth_ctx *actor, const char *action, const char *target, json_t *details,
    struct cy_error *err)
{
	return audit_admin(actor, action, target, details, err);
}

int
store_nodes_expire(long long ttl_s, struct cy_error *err)
{
	char ttl[32];
	const char *p[1] = { ttl };
	PGresult *res;
	int i, n;

	xsnprintf(ttl, sizeof(ttl), "%lld", ttl_s);
	/* clang-format off */
	res = db_exec("nodes_expire",
		"UPDATE nodes SET status = 'inactive' WHERE status = 'active' AND "
		"(last_seen_at IS NULL OR last_seen_at < now() - make_interval(secs => $1::int)) "
		"RETURNING node_slug, " SQL_TS("last_seen_at"), 1, p, err);
	/* clang-format on */
	if (!res)
		return -1;
	n = PQntuples(res);
	for (i = 0; i < n; i++)
		cy_log_warn("node_inactive", "node", PQgetvalue(res, i, 0), "last_seen_at",
		    PQgetvalue(res, i, 1), "ttl_s", ttl, NULL);
	PQclear(res);
	return n;
}

int
store_node_heartbeat(const char *node_id, struct node_beat *out, struct cy_error *err)
{
	const char *p[1] = { node_id };
	PGresult *res;

	res = db_exec("node_heartbeat",
	    "WITH old AS (SELECT id, status FROM nodes WHERE id = $1::uuid FOR UPDATE) "
	    "UPDATE nodes n SET last_seen_at = now(), status = CASE WHEN n.status = 'inactive' "
	    "THEN 'active' ELSE n.status END FROM old WHERE n.id = old.id "
	    "RETURNING n.status, n.enabled, COALESCE(n.config_version, ''), "
	    "COALESCE(n.capability_hash, ''), old.status = 'inactive', n.node_slug",
	    1, p, err);
	if (!res)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return 0;
	}
	xsnprintf(out->status, sizeof(out->status), "%s", PQgetvalue(res, 0, 0));
	out->enabled = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	xsnprintf(out->config_version, sizeof(out->config_version), "%s", PQgetvalue(res, 0, 2));
	xsnprintf(out->capability_hash, sizeof(out->capability_hash), "%s", PQgetvalue(res, 0, 3));
	out->revived = strcmp(PQgetvalue(res, 0, 4), "t") == 0;
	if (out->revived)
		cy_log_info("node_active", "node", PQgetvalue(res, 0, 5), "note",
		    "heartbeat after inactivity", NULL);
	PQclear(res);
	return 1;
}

static const char *const action_names[] = { "node.drain", "node.undrain", "node.enable",
	"node.disable" };

int
store_node_action(const char *ref, enum node_action a, const char *reason,
    const struct auth_ctx *actor, char slug[128], struct cy_error *err)
{
	char act[4];
	const char *p[3] = { ref, act, reason };
	json_t *details;
	PGresult *res;
	int rc;

	xsnprintf(act, sizeof(act), "%d", (int)a);
	if (db_begin(err) < 0)
		return -1;
	/* 0 drain, 1 undrain, 2 enable, 3 disable. */
	res = db_exec("node_action",
	    "UPDATE nodes SET "
	    "status = CASE $2::int WHEN 0 THEN 'drained' WHEN 1 THEN CASE WHEN status = 'drained' "
	    "THEN 'active' ELSE status END ELSE status END, "
	    "drain_reason = CASE $2::int WHEN 0 THEN $3 WHEN 1 THEN NULL ELSE drain_reason END, "
	    "drained_at = CASE $2::int WHEN 0 THEN COALESCE(drained_at, now()) WHEN 1 THEN NULL "
	    "ELSE drained_at END, "
	    "enabled = CASE $2::int WHEN 2 THEN true WHEN 3 THEN false ELSE enabled END "
	    "WHERE node_slug = $1 OR id::text = lower($1) RETURNING node_slug",
	    3, p, err);
	if (!res)
		goto fail;
	if (PQntuples(res) == 0) {
		PQclear(res);
		db_rollback();
		return 0;
	}
	xsnprintf(slug, 128, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	details = reason ? json_pack("{s:s}", "reason", reason) : NULL;
	rc = fleet_audit(actor, action_names[a], slug, details, err);
	json_decref(details);
	if (rc < 0)
		goto fail;
	return db_commit(err) < 0 ? -1 : 1;
fail:
	db_rollback();
	return -1;
}

int
store_node_remove(const char *ref, bool force, const struct auth_ctx *actor, char slug[128],
    struct cy_error *err)
{
	const char *p[2] = { ref, actor && actor->user_id[0] ? actor->user_id : NULL };
	PGresult *res;
	long running;

	if (db_begin(err) < 0)
		return -1;
	/* clang-format off */
	res = db_exec("node_remove_lock",
		"SELECT n.node_slug, " SQL_NODE_RUNNING " FROM nodes n "
		"WHERE n.node_slug = $1 OR n.id::text = lower($1) FOR UPDATE", 1, p, err);
	/* clang-format on */
	if (!res)
		goto fail;
	if (PQntuples(res) == 0) {
		PQclear(res);
		db_rollback();
		return 0;
	}
	xsnprintf(slug, 128, "%s", PQgetvalue(res, 0, 0));
	running = strtol(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	if (running > 0 && !force) {
		db_rollback();
		return 2;
	}
	p[0] = slug;
	if (store_run("node_remove_tombstone",
		"INSERT INTO node_removals (node_slug, removed_by) VALUES ($1, $2::uuid) "
		"ON CONFLICT (node_slug) DO UPDATE SET removed_at = now(), "
		"removed_by = EXCLUDED.removed_by",
		2, p, err) < 0 ||
	    store_run("node_remove_unused_tokens",
		"DELETE FROM node_enrollment_tokens WHERE node_slug = $1 AND used_at IS NULL", 1, p,
		err) < 0 ||
	    store_run("node_remove", "DELETE FROM nodes WHERE node_slug = $1", 1, p, err) < 0)
		goto fail;
	if (fleet_audit(actor, "node.remove", slug, NULL, err) < 0)
		goto fail;
	return db_commit(err) < 0 ? -1 : 1;
fail:
	db_rollback();
	return -1;
}

int
store_node_replace(const char *ref, long long ttl_s, const struct auth_ctx *actor, char slug[128],
    char until[40], struct cy_error *err)
{
	char ttl[32];
	const char *p[2] = { ref, ttl };
	PGresult *res;
	json_t *details;

	xsnprintf(ttl, sizeof(ttl), "%lld", ttl_s);
	if (db_begin(err) < 0)
		return -1;
	res = db_exec("node_replace",
	    "UPDATE nodes SET replace_until = now() + make_interval(secs => $2::bigint) "
	    "WHERE node_slug = $1 OR id::text = lower($1) "
	    "RETURNING node_slug, to_char(replace_until AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
	    2, p, err);
	if (!res)
		goto fail;
	if (PQntuples(res) == 0) {
		PQclear(res);
		db_rollback();
		return 0;
	}
	xsnprintf(slug, 128, "%s", PQgetvalue(res, 0, 0));
	xsnprintf(until, 40, "%s", PQgetvalue(res, 0, 1));
	PQclear(res);
	details = json_pack("{s:s}", "replace_until", until);
	if (fleet_audit(actor, "node.replace", slug, details, err) < 0) {
		json_decref(details);
		goto fail;
	}
	json_decref(details);
	return db_commit(err) < 0 ? -1 : 1;
fail:
	db_rollback();
	return -1;
}

int
store_node_removed(const char *slug, struct cy_error *err)
{
	const char *p[1] = { slug };
	PGresult *res;
	int n;

	res =
	    db_exec("node_removed", "SELECT 1 FROM node_removals WHERE node_slug = $1", 1, p, err);
	if (!res)
		return -1;
	n = PQntuples(res) > 0;
	PQclear(res);
	return n;
}

int
store_enroll_create(const char *token_hash_hex, const char *slug, const char *labels_json,
    long long ttl_s, const struct auth_ctx *actor, char expires_at[32], struct cy_error *err)
{
	char ttl[32];
	const char *p[5] = { token_hash_hex, slug, labels_json ? labels_json : "[]", ttl,
		actor && actor->user_id[0] ? actor->user_id : NULL };
	PGresult *res;
	json_t *details;
	int rc;

	xsnprintf(ttl, sizeof(ttl), "%lld", ttl_s);
	if (db_begin(err) < 0)
		return -1;
	/* clang-format off */
	res = db_exec("enroll_create",
		"INSERT INTO node_enrollment_tokens (token_hash, node_slug, labels, expires_at, "
		"created_by) VALUES (decode($1, 'hex'), $2, $3::jsonb, "
		"now() + make_interval(secs => $4::bigint), $5::uuid) "
		"RETURNING " SQL_TS("expires_at"), 5, p, err);
	/* clang-format on */
	if (!res)
		goto fail;
	xsnprintf(expires_at, 32, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	details = json_pack("{s:s?, s:s}", "node_slug", slug, "expires_at", expires_at);
	rc = fleet_audit(actor, "node.enroll", slug ? slug : "*", details, err);
	json_decref(details);
	if (rc < 0)
		goto fail;
	return db_commit(err);
fail:
	db_rollback();
	return -1;
}

int
store_enroll_consume(const char *token_hash_hex, const char *slug, char **labels_json, bool *named,
    const char **why, struct cy_error *err)
{
	const char *p[1] = { token_hash_hex };
	const char *tslug;
	PGresult *res;

	*labels_json = NULL;
	res = db_exec("enroll_lookup",
	    "SELECT node_slug, labels::text, used_at IS NOT NULL, expires_at <= now() "
	    "FROM node_enrollment_tokens WHERE token_hash = decode($1, 'hex') FOR UPDATE",
	    1, p, err);
	if (!res)
		return -1;
	if (PQntuples(res) == 0) {
		*why = "unknown enrollment token";
	} else if (strcmp(PQgetvalue(res, 0, 2), "t") == 0) {
		*why = "enrollment token already used";
	} else if (strcmp(PQgetvalue(res, 0, 3), "t") == 0) {
		*why = "enrollment token expired";
	} else if ((tslug = store_val(res, 0, 0)) && strcmp(tslug, slug)) {
		*why = "enrollment token was issued for another node name";
	} else {
		*labels_json = xstrdup(PQgetvalue(res, 0, 1));
		*named = tslug != NULL;
		PQclear(res);
		return 1;
	}
	PQclear(res);
	return 0;
}

int
store_enroll_finish(const char *token_hash_hex, const char *node_id, const char *slug,
    struct cy_error *err)
{
	const char *p[3] = { token_hash_hex, node_id, slug };

	if (store_run("enroll_finish",
		"UPDATE node_enrollment_tokens SET used_at = now(), used_by_node = $2::uuid "
		"WHERE token_hash = decode($1, 'hex')",
		2, p, err) < 0)
		return -1;
	return store_run("enroll_untomb", "DELETE FROM node_removals WHERE node_slug = $1", 1,
	    p + 2, err);
}

int
store_node_credential_ok(const char *slug, const char *cred_hash_hex, struct cy_error *err)
{
	const char *p[2] = { slug, cred_hash_hex };
	PGresult *res;
	int n;

	res = db_exec("node_credential_ok",
	    "SELECT 1 FROM nodes WHERE node_slug = $1 AND credential_hash = decode($2, 'hex')", 2,
	    p, err);
	if (!res)
		return -1;
	n = PQntuples(res) > 0;
	PQclear(res);
	return n;
}
