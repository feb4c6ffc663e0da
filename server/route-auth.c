/*
 * /v1/auth/login, /v1/auth/refresh and /v1/auth/logout (contract 2.1 and
 * 8): password login against the Argon2id credential, a token pair whose
 * refresh half is stored as SHA-256 in refresh_sessions and rotated on every
 * use, a fixed-window login rate limit per client address, and an audit row
 * for every auth event.  Also the bootstrap of the admin user at startup.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "auth.h"
#include "core.h"
#include "db.h"
#include "handlers.h"
#include "id.h"
#include "json.h"
#include "log.h"
#include "server.h"
#include "banned.h"

#define RL_BUCKETS 1024
#define RL_MAX_ENTRIES 100000
#define RL_WINDOW 60
#define UA_MAX 256

/* ---- rate limit: fixed 60 s window per client address ---- */

struct rl_entry {
	char ip[64];
	time_t start;
	long long count;
	struct rl_entry *next;
};

static struct rl_entry *rl_table[RL_BUCKETS];
static size_t rl_entries;
static pthread_mutex_t rl_lock = PTHREAD_MUTEX_INITIALIZER;

static unsigned
rl_hash(const char *s)
{
	unsigned h = 5381;

	for (; *s; s++)
		h = h * 33 + (unsigned char)*s;
	return h % RL_BUCKETS;
}

/* Drops entries whose window is over (called under the lock). */
static void
rl_sweep(time_t now)
{
	struct rl_entry **pp, *e;
	size_t i;

	for (i = 0; i < RL_BUCKETS; i++) {
		for (pp = &rl_table[i]; (e = *pp);) {
			if (now - e->start >= RL_WINDOW) {
				*pp = e->next;
				free(e);
				rl_entries--;
			} else {
				pp = &e->next;
			}
		}
	}
}

/* Counts one attempt; returns 0, or the seconds to wait when over the limit. */
static long
rl_hit(const char *ip)
{
	time_t now = time(NULL);
	struct rl_entry *e;
	unsigned h = rl_hash(ip);
	long wait = 0;

	pthread_mutex_lock(&rl_lock);
	for (e = rl_table[h]; e; e = e->next)
		if (!strcmp(e->ip, ip))
			break;
	if (!e) {
		if (rl_entries >= RL_MAX_ENTRIES)
			rl_sweep(now);
		e = xcalloc(1, sizeof(*e));
		snprintf(e->ip, sizeof(e->ip), "%s", ip);
		e->start = now;
		e->next = rl_table[h];
		rl_table[h] = e;
		rl_entries++;
	}
	if (now - e->start >= RL_WINDOW) {
		e->start = now;
		e->count = 0;
	}
	e->count++;
	if (e->count > srv.cfg.rate_limit_per_minute) {
		wait = (long)(e->start + RL_WINDOW - now);
		if (wait < 1)
			wait = 1;
	}
	pthread_mutex_unlock(&rl_lock);
	return wait;
}

/* ---- audit ---- */

/* Writes one auth_audit_log row; a failure is logged, never returned. */
static void
audit(struct cy_http_req *req, const char *event, const char *user_id, const char *handle,
	bool success, const char *reason)
{
	struct cy_error err = CY_ERROR_INIT;
	const char *ua = cy_req_header(req, "User-Agent");
	char uabuf[UA_MAX];
	const char *p[7];
	PGresult *res;

	if (ua) {
		snprintf(uabuf, sizeof(uabuf), "%s", ua);
		ua = uabuf;
	}
	p[0] = event;
	p[1] = user_id;
	p[2] = handle;
	p[3] = success ? "t" : "f";
	p[4] = req->client_ip[0] ? req->client_ip : NULL;
	p[5] = ua;
	p[6] = reason;
	res = db_exec("auth_audit",
		"INSERT INTO auth_audit_log (event_type, user_id, subject_handle, success,"
		" ip_address, user_agent, reason) VALUES ($1, $2, left($3, 128), $4, $5, $6, $7)",
		7, p, &err);
	if (!res)
		cy_log_warn("audit_failed", "event", event, "error", err.msg, NULL);
	PQclear(res);
	cy_log_info("auth_event", "event", event, "success", success ? "true" : "false",
		"handle", handle ? handle : "", "ip", req->client_ip, "reason",
		reason ? reason : "", NULL);
}

/* ---- tokens ---- */

static void
internal_error(struct cy_http_resp *resp, const char *what, const struct cy_error *err)
{
	cy_log_error("auth_internal", "step", what, "error", err->msg, NULL);
	cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "Internal server error");
}

/*
 * Issues an access + refresh pair for the user and stores the refresh
 * session (inside the caller's transaction, if any).  Fills resp.
 */
static int
issue_pair(struct cy_http_resp *resp, const char *user_id, const char *handle,
	struct cy_error *err)
{
	char hash[65], expbuf[32];
	char *access, *refresh;
	time_t rexp;
	const char *p[3];
	PGresult *res;
	json_t *o;

	access = jwt_issue_access(user_id, handle, NULL);
	refresh = jwt_issue_refresh(user_id, handle, &rexp);
	if (!access || !refresh) {
		free(access);
		free(refresh);
		return cy_error_set(err, EIO, "cannot sign tokens");
	}
	cy_sha256_hex(refresh, strlen(refresh), hash);
	snprintf(expbuf, sizeof(expbuf), "%lld", (long long)rexp);
	p[0] = user_id;
	p[1] = hash;
	p[2] = expbuf;
	res = db_exec("auth_session_insert",
		"INSERT INTO refresh_sessions (user_id, refresh_token_hash, expires_at)"
		" VALUES ($1, decode($2, 'hex'), to_timestamp($3::bigint))", 3, p, err);
	if (!res) {
		free(access);
		free(refresh);
		return -1;
	}
	PQclear(res);
	o = json_pack("{s:s, s:s, s:s, s:I}", "access_token", access, "refresh_token", refresh,
		"token_type", "Bearer", "expires_in", (json_int_t)srv.cfg.jwt_access_s);
	explicit_bzero(refresh, strlen(refresh));
	free(access);
	free(refresh);
	cy_resp_json(resp, 200, o);
	cy_resp_header(resp, "Cache-Control", "no-store");
	return 0;
}

/* ---- login ---- */

/* A fixed hash verified for unknown users, so timing does not tell them apart. */
static char *dummy_hash;
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void
dummy_init(void)
{
	struct cy_error err = CY_ERROR_INIT;

	dummy_hash = password_hash("cynode-dummy-password", &err);
}

static void
burn_verify(const char *password)
{
	struct cy_error err = CY_ERROR_INIT;

	pthread_once(&dummy_once, dummy_init);
	if (dummy_hash)
		(void)password_verify(dummy_hash, password, &err);
}

void
h_auth_login(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	const char *handle, *password, *p[1];
	char user_id[CY_UUID_LEN + 1];
	const char *reason = NULL;
	PGresult *res = NULL;
	json_t *body;
	long wait;
	int ok;

	wait = rl_hit(req->client_ip);
	if (wait) {
		char ra[32];

		audit(req, "login_failure", NULL, NULL, false, "rate limited");
		snprintf(ra, sizeof(ra), "%ld", wait);
		cy_resp_problem(resp, CY_PROBLEM_RATE_LIMIT,
			"Too many login attempts; retry in %ld seconds", wait);
		cy_resp_header(resp, "Retry-After", ra);
		return;
	}
	body = cy_req_json(req, resp);
	if (!body)
		return;
	handle = cy_json_str(body, "handle");
	password = cy_json_str(body, "password");
	if (!handle || !*handle || !password || !*password) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "handle and password are required");
		goto out;
	}
	p[0] = handle;
	res = db_exec("auth_login_lookup",
		"SELECT u.id, u.is_active, convert_from(pc.password_hash, 'UTF8')"
		" FROM users u LEFT JOIN password_credentials pc ON pc.user_id = u.id"
		" WHERE u.handle = $1", 1, p, &err);
	if (!res) {
		internal_error(resp, "login lookup", &err);
		goto out;
	}
	if (PQntuples(res) != 1) {
		burn_verify(password);
		reason = "user not found";
		goto deny;
	}
	snprintf(user_id, sizeof(user_id), "%s", PQgetvalue(res, 0, 0));
	if (strcmp(PQgetvalue(res, 0, 1), "t") != 0) {
		burn_verify(password);
		reason = "user inactive";
		goto deny;
	}
	if (PQgetisnull(res, 0, 2)) {
		burn_verify(password);
		reason = "no password credential";
		goto deny;
	}
	ok = password_verify(PQgetvalue(res, 0, 2), password, &err);
	if (ok < 0)
		cy_log_error("password_hash_invalid", "user_id", user_id, "error", err.msg, NULL);
	if (ok != 1) {
		reason = "invalid password";
		goto deny;
	}
	if (issue_pair(resp, user_id, handle, &err) < 0) {
		internal_error(resp, "login issue", &err);
		goto out;
	}
	audit(req, "login_success", user_id, handle, true, NULL);
	goto out;
deny:
	audit(req, "login_failure", PQntuples(res) == 1 ? user_id : NULL, handle, false, reason);
	cy_resp_problem(resp, CY_PROBLEM_AUTHENTICATION, "Invalid credentials");
out:
	PQclear(res);
	json_decref(body);
}

/* ---- refresh ---- */

void
h_auth_refresh(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	struct jwt_claims c;
	const char *tok, *p[2];
	char hash[65], handle[128];
	PGresult *res;
	json_t *body;

	body = cy_req_json(req, resp);
	if (!body)
		return;
	tok = cy_json_str(body, "refresh_token");
	if (!tok || !*tok) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "refresh_token is required");
		goto out;
	}
	if (jwt_verify(tok, JWT_REFRESH, &c, &err) < 0) {
		audit(req, "refresh_failure", NULL, NULL, false, "invalid token");
		cy_resp_problem(resp, CY_PROBLEM_AUTHENTICATION, "Invalid or expired token");
		goto out;
	}
	cy_sha256_hex(tok, strlen(tok), hash);
	if (db_begin(&err) < 0) {
		internal_error(resp, "refresh begin", &err);
		goto out;
	}
	/* Deactivating atomically makes a concurrent second use fail. */
	p[0] = hash;
	p[1] = c.user_id;
	res = db_exec("auth_session_rotate",
		"UPDATE refresh_sessions SET is_active = false, last_used_at = now()"
		" WHERE refresh_token_hash = decode($1, 'hex') AND user_id = $2"
		" AND is_active AND expires_at > now() RETURNING id", 2, p, &err);
	if (!res)
		goto fail;
	if (PQntuples(res) != 1) {
		PQclear(res);
		db_rollback();
		audit(req, "refresh_failure", c.user_id, c.handle, false, "session not found");
		cy_resp_problem(resp, CY_PROBLEM_AUTHENTICATION, "Invalid or expired token");
		goto out;
	}
	PQclear(res);
	res = db_exec("auth_refresh_user", "SELECT handle, is_active FROM users WHERE id = $1",
		1, p + 1, &err);
	if (!res)
		goto fail;
	if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 1), "t") != 0) {
		PQclear(res);
		/* Keep the deactivation: a disabled user's session is dead anyway. */
		if (db_commit(&err) < 0)
			db_rollback();
		audit(req, "refresh_failure", c.user_id, c.handle, false, "user inactive");
		cy_resp_problem(resp, CY_PROBLEM_AUTHENTICATION, "Invalid or expired token");
		goto out;
	}
	snprintf(handle, sizeof(handle), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	if (issue_pair(resp, c.user_id, handle, &err) < 0)
		goto fail;
	if (db_commit(&err) < 0) {
		/* The pair in resp must not be handed out. */
		cy_buf_reset(&resp->body);
		internal_error(resp, "refresh commit", &err);
		goto out;
	}
	audit(req, "refresh_success", c.user_id, handle, true, NULL);
	goto out;
fail:
	db_rollback();
	internal_error(resp, "refresh", &err);
out:
	json_decref(body);
}

/* ---- logout ---- */

void
h_auth_logout(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	const char *tok, *p[2];
	json_t *body, *v;
	char hash[65];
	PGresult *res;

	body = cy_req_json(req, resp);
	if (!body)
		return;
	v = json_object_get(body, "refresh_token");
	if (v && !json_is_string(v)) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "refresh_token must be a string");
		goto out;
	}
	tok = v ? json_string_value(v) : "";
	if (*tok) {
		cy_sha256_hex(tok, strlen(tok), hash);
		p[0] = hash;
		p[1] = a->user_id;
		res = db_exec("auth_logout",
			"UPDATE refresh_sessions SET is_active = false, last_used_at = now()"
			" WHERE refresh_token_hash = decode($1, 'hex') AND user_id = $2 AND is_active",
			2, p, &err);
		if (!res) {
			internal_error(resp, "logout", &err);
			goto out;
		}
		PQclear(res);
	}
	audit(req, "logout", a->user_id, a->handle, true, NULL);
	cy_resp_empty(resp, 204);
out:
	json_decref(body);
}

/* ---- bootstrap ---- */

int
auth_bootstrap_admin(const char *password, struct cy_error *err)
{
	const char *p[2];
	PGresult *res;
	char *hash;
	int exists;

	res = db_exec("boot_admin_exists", "SELECT 1 FROM users WHERE handle = 'admin'", 0, NULL,
		err);
	if (!res)
		return -1;
	exists = PQntuples(res) > 0;
	PQclear(res);
	if (exists)
		return 0;
	if (!password || !*password) {
		cy_log_warn("no_admin_user", "hint",
			"set BOOTSTRAP_ADMIN_PASSWORD to create user admin at the next start", NULL);
		return 0;
	}
	hash = password_hash(password, err);
	if (!hash)
		return -1;
	if (db_begin(err) < 0) {
		free(hash);
		return -1;
	}
	/* ON CONFLICT: another replica may create it at the same moment. */
	res = db_exec("boot_admin_user",
		"INSERT INTO users (handle) VALUES ('admin') ON CONFLICT (handle) DO NOTHING"
		" RETURNING id", 0, NULL, err);
	if (!res)
		goto fail;
	if (PQntuples(res) == 0) {
		PQclear(res);
		db_rollback();
		free(hash);
		return 0;
	}
	p[0] = PQgetvalue(res, 0, 0);
	p[1] = hash;
	{
		PGresult *r2 = db_exec("boot_admin_cred",
			"INSERT INTO password_credentials (user_id, password_hash, hash_alg)"
			" VALUES ($1, convert_to($2, 'UTF8'), 'argon2id')", 2, p, err);

		if (!r2) {
			PQclear(res);
			goto fail;
		}
		PQclear(r2);
		r2 = db_exec("boot_admin_audit",
			"INSERT INTO auth_audit_log (event_type, user_id, subject_handle, success,"
			" reason) VALUES ('user_created', $1, 'admin', true, 'bootstrap')", 1, p, err);
		if (!r2) {
			PQclear(res);
			goto fail;
		}
		PQclear(r2);
	}
	PQclear(res);
	free(hash);
	if (db_commit(err) < 0)
		return -1;
	cy_log_info("admin_created", "handle", "admin", NULL);
	return 0;
fail:
	db_rollback();
	free(hash);
	return -1;
}
