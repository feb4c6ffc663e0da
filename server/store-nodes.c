/*
 * Node SQL for registration, config, ack, capability and the operator views
 * (store-nodes.h).  The dispatcher's statements are in store-dispatch.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "db.h"
#include "store-fleet.h"
#include "store-nodes.h"
#include "store-nodes-sql.h"
#include "store-util.h"
#include "banned.h"

/* Upserts the capability snapshot of a node. */
static int
node_snapshot(const char *node_id, const char *capability, struct cy_error *err)
{
	const char *p[2] = { node_id, capability };

	return store_run("node_snapshot_upsert",
	    "INSERT INTO node_capabilities (node_id, reported_at, capability_snapshot) "
	    "VALUES ($1::uuid, now(), $2::jsonb) ON CONFLICT (node_id) DO UPDATE "
	    "SET reported_at = now(), capability_snapshot = EXCLUDED.capability_snapshot",
	    2, p, err);
}

/*
 * In the ON CONFLICT branch: the re-registering node runs the version the
 * server recorded as applied ($8), so its config state is kept.
 */
/* clang-format off */
#define REG_KEEP "($8::text IS NOT NULL AND nodes.config_applied_version = $8 AND " \
	"nodes.worker_api_bearer_token_enc IS NOT NULL)"
/* col = the stored value when kept, else fresh. */
#define REG_SET(col, fresh) col " = CASE WHEN " REG_KEEP " THEN nodes." col " ELSE " \
	fresh " END, "
/* clang-format on */

/*
 * Whether a registration with a fleet-wide secret may take r->slug: no
 * such node, a node that never got a credential, or a replace window that
 * is open.  Locks the node's row until the registration commits, so one
 * registration uses a window.  1 yes, 0 no (r->why, r->conflict), -1.
 */
static int
node_claimable(struct node_reg *r, struct cy_error *err)
{
	const char *p[1] = { r->slug };
	PGresult *res;
	int ok;

	res = db_exec("node_claimable",
	    "SELECT credential_hash IS NULL OR COALESCE(replace_until > now(), false) "
	    "FROM nodes WHERE node_slug = $1 FOR UPDATE",
	    1, p, err);
	if (!res)
		return -1;
	ok = PQntuples(res) == 0 || strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!ok) {
		r->conflict = true;
		r->why = "registered, and it holds a node credential (a returning node presents "
			 "it); to put a new machine in its place run 'cynork nodes replace' or "
			 "enroll it with a token naming the node";
	}
	return ok;
}

int
store_node_register(struct node_reg *r, char node_id[37], bool *created, struct cy_error *err)
{
	char *labels = NULL;
	const char *p[9] = { r->slug, r->config_version, r->target_url, r->token_sealed,
		r->capability_hash, r->credential_hash, NULL, r->running_version, r->tls_pin };
	PGresult *res;
	int rc;

	bool named = false;

	r->version[0] = '\0';
	r->kept = false;
	r->conflict = false;
	if (db_begin(err) < 0)
		return -1;
	if (r->enroll_hash) {
		rc = store_enroll_consume(r->enroll_hash, r->slug, &labels, &named, &r->why, err);
		if (rc <= 0) {
			db_rollback();
			return rc;
		}
		p[6] = labels;
	}
	if ((r->by_psk || (r->enroll_hash && !named)) && (rc = node_claimable(r, err)) <= 0) {
		free(labels);
		db_rollback();
		return rc;
	}
	/* clang-format off */
	res = db_exec("node_register",
		"INSERT INTO nodes (node_slug, status, config_version, worker_api_target_url, "
		"worker_api_bearer_token_enc, capability_hash, last_capability_at, last_seen_at, "
		"credential_hash, labels, config_document, worker_api_tls_pin) "
		"VALUES ($1, 'active', $2, $3, decode($4, 'hex'), $5, now(), now(), "
		"decode($6, 'hex'), $7::jsonb, (SELECT max(config_version) FROM "
		"node_config_documents WHERE all_nodes), $9) "
		"ON CONFLICT (node_slug) DO UPDATE SET "
		"status = CASE WHEN nodes.status = 'drained' THEN 'drained' ELSE 'active' END, "
		REG_SET("config_version", "EXCLUDED.config_version")
		REG_SET("worker_api_bearer_token_enc", "EXCLUDED.worker_api_bearer_token_enc")
		REG_SET("config_ack_status", "NULL") REG_SET("config_ack_at", "NULL")
		REG_SET("config_ack_error", "NULL") REG_SET("config_ack_version", "NULL")
		REG_SET("config_applied_version", "NULL")
		"worker_api_target_url = EXCLUDED.worker_api_target_url, "
		"worker_api_tls_pin = EXCLUDED.worker_api_tls_pin, "
		"capability_hash = EXCLUDED.capability_hash, last_capability_at = now(), "
		"last_seen_at = now(), "
		"credential_hash = COALESCE(EXCLUDED.credential_hash, nodes.credential_hash), "
		"labels = COALESCE(EXCLUDED.labels, nodes.labels), "
		/* A new credential (PSK or token) uses up a replace window. */
		"replace_until = CASE WHEN EXCLUDED.credential_hash IS NULL "
		"THEN nodes.replace_until END "
		"RETURNING id, xmax = 0, config_version, config_version IS DISTINCT FROM $2",
		9, p, err);
	/* clang-format on */
	free(labels);
	if (!res)
		goto fail;
	xsnprintf(node_id, 37, "%s", PQgetvalue(res, 0, 0));
	*created = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	xsnprintf(r->version, sizeof(r->version), "%s", PQgetvalue(res, 0, 2));
	r->kept = strcmp(PQgetvalue(res, 0, 3), "t") == 0;
	PQclear(res);
	if (node_snapshot(node_id, r->capability, err) < 0)
		goto fail;
	if (r->enroll_hash && store_enroll_finish(r->enroll_hash, node_id, r->slug, err) < 0)
		goto fail;
	return db_commit(err) < 0 ? -1 : 1;
fail:
	db_rollback();
	return -1;
}

PGresult *
store_node_config(const char *node_id, struct cy_error *err)
{
	const char *p[1] = { node_id };

	return db_exec("node_config",
	    "SELECT n.node_slug, n.config_version, n.worker_api_target_url, "
	    "encode(n.worker_api_bearer_token_enc, 'hex'), c.capability_snapshot::text, "
	    "d.document::text FROM nodes n LEFT JOIN node_capabilities c ON c.node_id = n.id "
	    "LEFT JOIN node_config_documents d ON d.config_version = n.config_document "
	    "WHERE n.id = $1::uuid",
	    1, p, err);
}

PGresult *
store_node_worker(const char *ref, struct cy_error *err)
{
	const char *p[1] = { ref };

	return db_exec("node_worker",
	    "SELECT n.node_slug, COALESCE(n.worker_api_target_url, ''), "
	    "COALESCE(encode(n.worker_api_bearer_token_enc, 'hex'), ''), "
	    "COALESCE(n.worker_api_tls_pin, '') FROM nodes n "
	    "WHERE n.node_slug = $1 OR n.id::text = lower($1)",
	    1, p, err);
}

int
store_node_ack(const char *node_id, const char *status, const char *error_msg,
    const char *config_version, const char *ack_at, struct cy_error *err)
{
	const char *p[5] = { node_id, ack_at, status, error_msg, config_version };
	PGresult *res;
	int n;

	res = db_exec("node_ack",
	    "UPDATE nodes SET config_ack_at = COALESCE($2::timestamptz, now()), "
	    "config_ack_status = $3, config_ack_error = $4, config_ack_version = $5, "
	    "config_applied_version = CASE WHEN $3 = 'applied' AND $5 = config_version "
	    "THEN $5 ELSE config_applied_version END, "
	    "last_seen_at = now() WHERE id = $1::uuid",
	    5, p, err);
	if (!res)
		return -1;
	n = PQcmdTuples(res)[0] == '0' ? 0 : 1;
	PQclear(res);
	return n;
}

int
store_node_capability(const char *node_id, const char *capability, const char *hash,
    struct cy_error *err)
{
	const char *p[2] = { node_id, hash };
	PGresult *res;
	int n;

	if (db_begin(err) < 0)
		return -1;
	res = db_exec("node_capability",
	    "UPDATE nodes SET capability_hash = $2, last_capability_at = now(), "
	    "last_seen_at = now() WHERE id = $1::uuid",
	    2, p, err);
	if (!res)
		goto fail;
	n = PQcmdTuples(res)[0] == '0' ? 0 : 1;
	PQclear(res);
	if (n == 0) {
		db_rollback();
		return 0;
	}
	if (node_snapshot(node_id, capability, err) < 0)
		goto fail;
	return db_commit(err) < 0 ? -1 : 1;
fail:
	db_rollback();
	return -1;
}

PGresult *
store_nodes_view(const char *ref, struct cy_error *err)
{
	const char *p[1] = { ref };

	/* clang-format off */
	return db_exec("nodes_view",
		"SELECT n.id, n.node_slug, n.status, n.config_version, n.config_ack_status, "
		SQL_TS("n.last_seen_at") ", n.worker_api_target_url, "
		"(SELECT COALESCE(jsonb_agg(DISTINCT l), '[]')::text FROM jsonb_array_elements("
		SQL_NODE_LABELS ") l), "
		SQL_NODE_MAX_CONCURRENCY ", " SQL_NODE_RUNNING ", "
		"n.enabled, n.drain_reason, " SQL_TS("n.drained_at") ", n.config_ack_version, "
		"n.config_ack_error, " SQL_TS("n.config_ack_at") ", n.config_document, "
		"n.capability_hash, " SQL_TS("n.last_capability_at") ", " SQL_TS("n.created_at") ", "
		"CASE WHEN jsonb_typeof(c.capability_snapshot->'conditions') = 'array' "
		"THEN c.capability_snapshot->'conditions' ELSE '[]' END::text, "
		"CASE WHEN c.capability_snapshot IS NULL THEN 'null' ELSE jsonb_build_object("
		"'platform', c.capability_snapshot->'platform', "
		"'compute', c.capability_snapshot->'compute', "
		"'gpu', c.capability_snapshot->'gpu', "
		"'inference', c.capability_snapshot->'inference')::text END "
		"FROM nodes n LEFT JOIN node_capabilities c ON c.node_id = n.id "
		"WHERE $1::text IS NULL OR n.node_slug = $1 OR n.id::text = lower($1) "
		"ORDER BY n.node_slug", 1, p, err);
	/* clang-format on */
}

int
store_nodes_ready(struct cy_error *err)
{
	PGresult *res;
	int n;

	/* clang-format off */
	res = db_exec("nodes_ready",
		"SELECT EXISTS (SELECT 1 FROM nodes n WHERE " SQL_NODE_DISPATCHABLE ") "
		"OR EXISTS (SELECT 1 FROM api_credentials WHERE is_active "
		"AND (expires_at IS NULL OR expires_at > now()))", 0, NULL, err);
	/* clang-format on */
	if (!res)
		return -1;
	n = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return n;
}

PGresult *
store_nodes_state_counts(struct cy_error *err)
{
	return db_exec("metrics_nodes",
	    "SELECT s, coalesce(c, 0) FROM unnest(ARRAY['registered','active','inactive',"
	    "'drained']) s LEFT JOIN (SELECT status, count(*) c FROM nodes GROUP BY status) x"
	    " ON x.status = s",
	    0, NULL, err);
}
