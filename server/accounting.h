/*
 * Accounting: one record per finished job attempt in
 * job_accounting (migration 0093, written by a trigger when the attempt
 * ends), read back by GET /v1/accounting/jobs and, as per-user or
 * per-queue totals, by GET /v1/accounting/summary.
 */
#ifndef SERVER_ACCOUNTING_H
#define SERVER_ACCOUNTING_H

#include <libpq-fe.h>

#include "error.h"
#include "httpd.h"
#include "id.h"

/* What both routes filter on; NULL members do not filter. */
struct acct_filter {
	const char *owner_id;      /* only this user's rows (a caller who sees not all) */
	const char *user;          /* user handle */
	const char *state;         /* attempt state */
	const char *since, *until; /* RFC 3339, on the attempt's end: [since, until) */
	const char *node;          /* node slug */
	const char *queue;
	long long cursor_us; /* keyset after (ended_at, lease_id), when cursor_id */
	const char *cursor_id;
	long long limit;
};

/* store_acct_list's columns. */
enum acct_col {
	ACC_ROW,       /* the record as JSON text */
	ACC_CURSOR_US, /* ended_at in microseconds */
	ACC_ID         /* lease_id */
};

/* The records newest first, limit + 1 rows (the extra one says "more"). */
PGresult *store_acct_list(const struct acct_filter *f, struct cy_error *err);
/* One JSON row per user (by "user") or per queue (by "queue"), sorted by name. */
PGresult *store_acct_summary(const struct acct_filter *f, const char *by, struct cy_error *err);

void h_accounting_jobs(struct cy_http_req *req, struct cy_http_resp *resp);
void h_accounting_summary(struct cy_http_req *req, struct cy_http_resp *resp);

#endif
