/*
 * Skills: Markdown documents owned by a user (scope "user" only for now),
 * named uniquely per owner, at most limits.skill_max_bytes of valid UTF-8
 * without NUL.  Only the owner reads, changes or deletes one; anyone else,
 * an admin too, gets 404.  Routes: route-skills.c; SQL: store-skills.c.
 */
#ifndef SERVER_SKILLS_H
#define SERVER_SKILLS_H

#include <jansson.h>
#include <libpq-fe.h>

#include "error.h"
#include "httpd.h"
#include "jcheck.h"

/* A skill's name: 1 to this many bytes, no control characters. */
#define SKILL_NAME_MAX 128

/* The columns of a skill row (store-skills.c). */
enum skill_col {
	SKC_JSON,      /* the skill as a JSON object (with content_md when asked) */
	SKC_CURSOR_US, /* created_at in microseconds since the epoch */
	SKC_ID,
};

/* route-skills.c */
void h_skills_load(struct cy_http_req *req, struct cy_http_resp *resp);
void h_skills_list(struct cy_http_req *req, struct cy_http_resp *resp);
void h_skills_get(struct cy_http_req *req, struct cy_http_resp *resp);
void h_skills_put(struct cy_http_req *req, struct cy_http_resp *resp);
void h_skills_delete(struct cy_http_req *req, struct cy_http_resp *resp);
extern const struct cy_jcheck skills_load_body, skills_put_body;

/*
 * store-skills.c.  Each returns rows of enum skill_col, or NULL with err
 * set; a duplicate name is err.code EEXIST.  owner is the caller: another
 * user's skill is no row.
 */
PGresult *store_skill_create(const char *owner, const char *name, const char *content,
    struct cy_error *err);
PGresult *store_skill_get(const char *owner, const char *id, struct cy_error *err);
/* The caller's skill named ref, or with the id ref (no row: none). */
PGresult *store_skill_find(const char *owner, const char *ref, struct cy_error *err);
/*
 * The instructions of a task's skills (body "skills": names or ids of the
 * caller's skills): each skill's Markdown under a "## Skill: NAME" heading,
 * as a new string in *text (NULL when the body names none).  -1 with resp
 * filled (an unknown skill is 400 naming it).
 */
int skills_instructions(const char *owner, const json_t *refs, char **text,
    struct cy_http_resp *resp);
/* Most skills one task may name. */
#define SKILLS_PER_TASK 8

/* name NULL keeps it. */
PGresult *store_skill_update(const char *owner, const char *id, const char *name,
    const char *content, struct cy_error *err);
/* limit + 1 rows at most, newest first, after the cursor when cursor_id is set. */
PGresult *store_skill_list(const char *owner, long long cursor_us, const char *cursor_id,
    long long limit, struct cy_error *err);
/* 1 deleted, 0 none, -1 err. */
int store_skill_delete(const char *owner, const char *id, struct cy_error *err);

#endif
