/*
 * Identity SQL for the audit logs (store-identity.h): one row per admin
 * action in admin_audit_log and per auth event in auth_audit_log, written
 * on the caller's connection so that they commit with the action, and the
 * two read back as one newest-first list of JSON events built in SQL,
 * paged with a keyset cursor (created_at in microseconds, id).
 */
#include <stdio.h>

#include "buf.h"
#include "db.h"
#include "store-identity.h"
#include "store-util.h"
#include "banned.h"

/* clang-format off */
#define AUDIT_SQL \
	"SELECT e.j, (extract(epoch FROM e.created_at) * 1000000)::bigint, e.id FROM (" \
	" SELECT a.id, a.created_at, a.actor_handle AS actor, a.action, json_build_object(" \
	"'event_id', a.id, 'ts', " SQL_TS("a.created_at") ", 'source', 'admin'," \
	" 'actor', a.actor_handle, 'action', a.action, 'target', a.target, 'success', true," \
	" 'ip_address', a.ip_address, 'token_id', a.actor_token_id, 'details', a.details)::text AS j" \
	" FROM admin_audit_log a WHERE $1 IN ('all', 'admin')" \
	" UNION ALL" \
	" SELECT l.id, l.created_at, l.subject_handle, l.event_type, json_build_object(" \
	"'event_id', l.id, 'ts', " SQL_TS("l.created_at") ", 'source', 'auth'," \
	" 'actor', l.subject_handle, 'action', l.event_type, 'target', l.subject_handle," \
	" 'success', l.success, 'ip_address', l.ip_address, 'token_id', NULL," \
	" 'details', json_build_object('reason', l.reason, 'user_agent', l.user_agent))::text" \
	" FROM auth_audit_log l WHERE $1 IN ('all', 'auth')) e" \
	" WHERE ($2::text IS NULL OR e.actor = $2)" \
	" AND ($3::text IS NULL OR e.action = $3)" \
	" AND ($4::text IS NULL OR left(e.action, length($4)) = $4)" \
	" AND ($5::timestamptz IS NULL OR e.created_at >= $5::timestamptz)" \
	" AND ($6::timestamptz IS NULL OR e.created_at < $6::timestamptz)" \
	" AND ($8::uuid IS NULL OR (e.created_at, e.id) <" \
	" (timestamptz 'epoch' + $7::bigint * interval '1 microsecond', $8::uuid))" \
	" ORDER BY e.created_at DESC, e.id DESC LIMIT $9::int"
/* clang-format on */

int
store_audit_auth_add(const struct audit_auth_row *r, struct cy_error *err)
{
	const char *p[7] = { r->event, r->user_id, r->handle, r->success ? "t" : "f", r->ip,
		r->user_agent, r->reason };

	return store_run("audit_auth",
	    "INSERT INTO auth_audit_log (event_type, user_id, subject_handle, success,"
	    " ip_address, user_agent, reason) VALUES ($1, $2, left($3, 128), $4, $5, $6, $7)",
	    7, p, err);
}

int
store_audit_admin_add(const struct audit_admin_row *r, struct cy_error *err)
{
	const char *p[7] = { r->user_id, r->handle, r->token_id, r->action, r->target, r->details,
		r->ip };

	return store_run("audit_admin",
	    "INSERT INTO admin_audit_log (actor_user_id, actor_handle, actor_token_id, action,"
	    " target, details, ip_address) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)",
	    7, p, err);
}

PGresult *
store_audit_list(const struct audit_filter *f, struct cy_error *err)
{
	char usbuf[32], limbuf[32];
	const char *p[9] = { f->source, f->actor, f->action, f->action_prefix, f->since, f->until,
		usbuf, f->cursor_id, limbuf };

	xsnprintf(usbuf, sizeof(usbuf), "%lld", f->cursor_us);
	xsnprintf(limbuf, sizeof(limbuf), "%lld", f->limit + 1);
	return db_exec("audit_list", AUDIT_SQL, 9, p, err);
}
