/*
 * The caller's webhooks (webhooks.h): POST /v1/webhooks {url, events,
 * secret?} (no secret: one is made and shown once in the answer), GET
 * /v1/webhooks, DELETE /v1/webhooks/{id}, GET /v1/webhooks/{id}/deliveries
 * (the delivery log, newest first).  A user sees and deletes only their
 * own; "node.lost" is for admins.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "audit.h"
#include "auth.h"
#include "db.h"
#include "id.h"
#include "json.h"
#include "log.h"
#include "seal.h"
#include "secrets.h"
#include "store-util.h"
#include "strnum.h"
#include "webhooks.h"
#include "banned.h"

#define STR(x) #x
#define XSTR(x) STR(x)

static const char *const event_names[] = { "task.finished", "node.lost", NULL };

/* A URL a webhook may call: http(s), a host, no spaces or control characters. */
static bool
url_ok(const char *s)
{
	const unsigned char *p;

	if (strncmp(s, "http://", 7) && strncmp(s, "https://", 8))
		return false;
	if (!s[strncmp(s, "http://", 7) ? 8 : 7] || s[strncmp(s, "http://", 7) ? 8 : 7] == '/')
		return false;
	for (p = (const unsigned char *)s; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return false;
	return true;
}

/* clang-format off */
const struct cy_jcheck webhooks_create_body = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "url", .type = CY_JC_STRING, .required = true, .max = 2048,
		  .valid = url_ok, .shape = "an http:// or https:// URL of at most 2048 bytes" },
		{ .name = "events", .type = CY_JC_ARRAY, .required = true, .min = 1, .max = 2,
		  .item = &(const struct cy_jcheck_field){ .type = CY_JC_STRING,
			.choices = event_names } },
		{ .name = "secret", .type = CY_JC_STRING, .null_ok = true, .printable = true,
		  .min = WEBHOOK_SECRET_MIN, .max = WEBHOOK_SECRET_MAX }),
};
/* clang-format on */

#define WEBHOOK_JSON \
	"json_build_object('id', w.id, 'url', w.url, 'events', to_json(w.events), " \
	"'created_at', " SQL_TS( \
	    "w.created_at") ", 'deliveries', (SELECT count(*) FROM " \
			    "webhook_deliveries d WHERE d.webhook_id = w.id), 'failed', (SELECT count(*) FROM " \
			    "webhook_deliveries d WHERE d.webhook_id = w.id AND d.status = 'failed'))::text"

void
h_webhooks_create(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	struct cy_buf arr = CY_BUF_INIT;
	json_t *body, *ev, *o;
	const char *secret, *p[4];
	char *made = NULL, *aad, *sealed;
	unsigned char rnd[24];
	PGresult *res;
	size_t i;

	if (!(body = cy_req_json(req, resp)))
		return;
	cy_buf_addch(&arr, '{');
	json_array_foreach(json_object_get(body, "events"), i, ev) {
		const char *s = json_string_value(ev);

		if (!strcmp(s, "node.lost") &&
		    (a->role != ROLE_ADMIN || !(a->scopes & (SCOPE_ADMIN | SCOPE_NODES_READ)))) {
			cy_resp_problem(resp, CY_PROBLEM_AUTHORIZATION,
			    "Admin required for node.lost webhooks (an API token also needs scope nodes:read or admin)");
			goto refused;
		}
		if (strstr(arr.buf, s)) {
			cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "events names '%s' twice", s);
			goto refused;
		}
		cy_buf_addf(&arr, "%s%s", i ? "," : "", s);
	}
	cy_buf_addch(&arr, '}');
	secret = cy_json_str(body, "secret");
	if (!secret) {
		cy_random_bytes(rnd, sizeof(rnd));
		secret = made = cy_hex_encode(rnd, sizeof(rnd));
	}
	aad = webhooks_aad(a->user_id);
	sealed = secrets_seal_aad(aad, secret);
	p[0] = a->user_id;
	p[1] = cy_json_str(body, "url");
	p[2] = arr.buf;
	p[3] = sealed;
	res = db_exec("webhook_create",
	    "INSERT INTO webhooks AS w (user_id, url, events, secret_sealed) "
	    "SELECT $1, $2, $3::text[], $4 WHERE (SELECT count(*) FROM webhooks WHERE user_id = $1) "
	    "< " XSTR(WEBHOOKS_PER_USER) " RETURNING " WEBHOOK_JSON,
	    4, p, &err);
	free(aad);
	free(sealed);
	cy_buf_release(&arr);
	if (!res) {
		cy_log_error("webhook_create_failed", "error", err.msg, NULL);
		cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot create the webhook");
	} else if (PQntuples(res) == 0) {
		cy_resp_problem(resp, CY_PROBLEM_CONFLICT, "at most %d webhooks per user",
		    WEBHOOKS_PER_USER);
	} else {
		o = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
		if (made)
			json_object_set_new(o, "secret", json_string(made));
		/* Not the URL: it may hold credentials. */
		cy_log_info("webhook_created", "user", a->handle, NULL);
		cy_resp_json(resp, 201, o);
	}
	PQclear(res);
	if (made) {
		explicit_bzero(made, strlen(made));
		free(made);
	}
	json_decref(body);
	return;
refused:
	json_decref(body);
	cy_buf_release(&arr);
}

void
h_webhooks_list(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	const char *p[1] = { a->user_id };
	PGresult *res;

	res = db_exec("webhook_list",
	    "SELECT " WEBHOOK_JSON " FROM webhooks w WHERE w.user_id = $1 ORDER BY w.created_at", 1,
	    p, &err);
	if (!res) {
		cy_log_error("webhook_list_failed", "error", err.msg, NULL);
		return cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot list webhooks");
	}
	cy_resp_json(resp, 200, json_pack("{s:o}", "webhooks", store_json_rows(res, 0)));
	PQclear(res);
}

/* The caller's webhook named by req->params[0]: 0, or -1 with resp filled (404). */
static int
webhook_mine(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	struct cy_error err = CY_ERROR_INIT;
	const char *p[2] = { req->params[0], a->user_id };
	PGresult *res;
	int n;

	if (!cy_uuid_valid(req->params[0])) {
		cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "webhook '%s' not found",
		    req->params[0]);
		return -1;
	}
	res = db_exec("webhook_mine", "SELECT 1 FROM webhooks WHERE id = $1 AND user_id = $2", 2, p,
	    &err);
	if (!res) {
		cy_log_error("webhook_lookup_failed", "error", err.msg, NULL);
		cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot read the webhook");
		return -1;
	}
	n = PQntuples(res);
	PQclear(res);
	if (n == 0) {
		cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "webhook '%s' not found",
		    req->params[0]);
		return -1;
	}
	return 0;
}

void
h_webhooks_delete(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	const char *p[1] = { req->params[0] };
	PGresult *res;

	if (webhook_mine(req, resp) < 0)
		return;
	if (!(res = db_exec("webhook_delete", "DELETE FROM webhooks WHERE id = $1", 1, p, &err))) {
		cy_log_error("webhook_delete_failed", "error", err.msg, NULL);
		return cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot delete the webhook");
	}
	PQclear(res);
	cy_resp_json(resp, 200, json_pack("{s:s, s:b}", "id", req->params[0], "deleted", 1));
}

void
h_webhooks_deliveries(struct cy_http_req *req, struct cy_http_resp *resp)
{
	struct cy_error err = CY_ERROR_INIT;
	const char *p[2] = { req->params[0], NULL };
	const char *q = cy_req_query(req, "limit"), *errstr;
	long long limit = 100;
	char lim[24];
	PGresult *res;

	if (q && cy_strtonum(q, 1, 1000, &limit, &errstr) < 0)
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "limit must be an integer from 1 to 1000");
	if (webhook_mine(req, resp) < 0)
		return;
	xsnprintf(lim, sizeof(lim), "%lld", limit);
	p[1] = lim;
	res = db_exec("webhook_deliveries",
	    "SELECT json_build_object('id', d.id, 'event', d.event, 'event_id', d.event_id, "
	    "'status', d.status, 'attempts', d.attempts, 'last_status', d.last_status, "
	    "'last_error', d.last_error, 'created_at', " SQL_TS(
		"d.created_at") ", "
				"'delivered_at', " SQL_TS(
				    "d.delivered_at") ", 'next_attempt_at', CASE WHEN "
						      "d.status = 'pending' THEN " SQL_TS(
							  "d.next_attempt_at") " END)::text "
									       "FROM webhook_deliveries d WHERE d.webhook_id = $1 ORDER BY d.id DESC "
									       "LIMIT $2::int",
	    2, p, &err);
	if (!res) {
		cy_log_error("webhook_deliveries_failed", "error", err.msg, NULL);
		return cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot read the deliveries");
	}
	cy_resp_json(resp, 200,
	    json_pack("{s:s, s:o}", "webhook_id", req->params[0], "deliveries",
		store_json_rows(res, 0)));
	PQclear(res);
}
