/*
 * Skills SQL (skills.h): a user's Markdown skills, created, read, renamed
 * or rewritten, listed newest first with a keyset cursor, and deleted, each
 * statement bound to the owner so another user's skill is never a row.
 */
#include <errno.h>

#include "db.h"
#include "skills.h"
#include "store-util.h"
#include "banned.h"

/* clang-format off */
#define SKILL_META \
	"'skill_id', s.id, 'name', s.name, 'scope', s.scope, 'scope_id', s.owner_id," \
	" 'owner_id', s.owner_id, 'size', octet_length(s.content_md)," \
	" 'created_at', " SQL_TS("s.created_at") ", 'updated_at', " SQL_TS("s.updated_at")
/* The columns of enum skill_col: with the content, or without (lists). */
#define SKILL_COLS \
	"json_build_object(" SKILL_META ", 'content_md', s.content_md)::text," \
	" (extract(epoch FROM s.created_at) * 1000000)::bigint, s.id"
#define SKILL_COLS_META \
	"json_build_object(" SKILL_META ")::text," \
	" (extract(epoch FROM s.created_at) * 1000000)::bigint, s.id"
/* clang-format on */

PGresult *
store_skill_create(const char *owner, const char *name, const char *content, struct cy_error *err)
{
	const char *p[3] = { owner, name, content };

	return db_exec("skill_create",
	    "INSERT INTO skills AS s (owner_id, name, content_md) VALUES ($1, $2, $3)"
	    " RETURNING " SKILL_COLS,
	    3, p, err);
}

PGresult *
store_skill_get(const char *owner, const char *id, struct cy_error *err)
{
	const char *p[2] = { owner, id };

	return db_exec("skill_get",
	    "SELECT " SKILL_COLS " FROM skills s WHERE s.owner_id = $1 AND s.id = $2::uuid", 2, p,
	    err);
}

PGresult *
store_skill_find(const char *owner, const char *ref, struct cy_error *err)
{
	const char *p[2] = { owner, ref };

	/* A name is never a UUID's text, so at most one row either way. */
	return db_exec("skill_find",
	    "SELECT " SKILL_COLS " FROM skills s WHERE s.owner_id = $1"
	    " AND (s.name = $2 OR s.id::text = lower($2)) ORDER BY (s.name = $2) DESC LIMIT 1",
	    2, p, err);
}

PGresult *
store_skill_update(const char *owner, const char *id, const char *name, const char *content,
    struct cy_error *err)
{
	const char *p[4] = { owner, id, name, content };

	return db_exec("skill_update",
	    "UPDATE skills AS s SET name = COALESCE($3, s.name), content_md = $4,"
	    " updated_at = now() WHERE s.owner_id = $1 AND s.id = $2::uuid RETURNING " SKILL_COLS,
	    4, p, err);
}

PGresult *
store_skill_list(const char *owner, long long cursor_us, const char *cursor_id, long long limit,
    struct cy_error *err)
{
	char us[32], lim[32];
	const char *p[4];

	xsnprintf(us, sizeof(us), "%lld", cursor_us);
	xsnprintf(lim, sizeof(lim), "%lld", limit + 1);
	p[0] = owner;
	p[1] = us;
	p[2] = cursor_id;
	p[3] = lim;
	/* clang-format off */
	return db_exec("skill_list",
		"SELECT " SKILL_COLS_META " FROM skills s WHERE s.owner_id = $1"
		" AND ($3::uuid IS NULL OR ((extract(epoch FROM s.created_at) * 1000000)::bigint,"
		" s.id) < ($2::bigint, $3::uuid))"
		" ORDER BY 2 DESC, s.id DESC LIMIT $4::int", 4, p, err);
	/* clang-format on */
}

int
store_skill_delete(const char *owner, const char *id, struct cy_error *err)
{
	const char *p[2] = { owner, id };
	PGresult *res;
	int n;

	res = db_exec("skill_delete", "DELETE FROM skills WHERE owner_id = $1 AND id = $2::uuid", 2,
	    p, err);
	if (!res)
		return -1;
	n = PQcmdTuples(res)[0] == '0' ? 0 : 1;
	PQclear(res);
	return n;
}
