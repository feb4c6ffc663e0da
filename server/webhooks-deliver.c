/*
 * Webhook deliveries (webhooks.h): one thread per replica.  It sleeps until
 * a NOTIFY cynode_webhooks (a delivery was queued) or the next due retry
 * (at most POLL_MS), claims up to CLAIM_BATCH due deliveries (SKIP LOCKED:
 * replicas never send one twice at once; the claim pushes its next attempt
 * a lease ahead, so one that a dying replica held is sent again later),
 * POSTs each and records the outcome: delivered on a 2xx, else the status
 * or transport error and the next attempt after 2^(attempts-1) s (at most
 * an hour), failed for good after WEBHOOK_ATTEMPTS attempts.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "digest.h"
#include "buf.h"
#include "db.h"
#include "httpc.h"
#include "log.h"
#include "seal.h"
#include "secrets.h"
#include "server.h"
#include "strnum.h"
#include "webhooks.h"
#include "banned.h"

#define POLL_MS 1000
#define CLAIM_BATCH 16
/*
 * A claimed batch is sent one delivery after another, so its lease covers
 * the whole batch at the worst (each call's timeout) and a margin: another
 * replica never sends a delivery this one is still working through.
 */
#define LEASE_S 300
_Static_assert(LEASE_S >= CLAIM_BATCH * (WEBHOOK_TIMEOUT_MS / 1000 + 5) + 60,
    "a claim's lease must cover its batch");
#define BACKOFF_MAX_S 3600

#define STR(x) #x
#define XSTR(x) STR(x)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static bool woken, stopping, started;
static pthread_t thread;

char *
webhooks_aad(const char *owner)
{
	return xasprintf("cynode webhook\n%s", owner);
}

void
webhooks_wake(void)
{
	pthread_mutex_lock(&lock);
	woken = true;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
}

/* "sha256=" and the hex HMAC-SHA256 of body under secret; caller frees. */
static char *
sign(const char *secret, const char *body, size_t len)
{
	unsigned char md[CY_SHA256_LEN];
	char *hex, *s;

	cy_hmac_sha256(secret, strlen(secret), body, len, md);
	hex = cy_hex_encode(md, sizeof(md));
	s = xasprintf("Cynode-Signature: sha256=%s", hex);
	free(hex);
	return s;
}

/*
 * Records one attempt's outcome, only on the row as this claim left it: a
 * late answer never turns a delivery another claim settled back.
 */
static void
record(const char *id, int attempts, long status, const char *error)
{
	struct cy_error err = CY_ERROR_INIT;
	char st[24], att[24], backoff[24];
	const char *p[5] = { id, NULL, error, att, backoff };
	long long b = 1;
	PGresult *res;
	int i;

	for (i = 1; i < attempts && b < BACKOFF_MAX_S; i++)
		b *= 2;
	xsnprintf(st, sizeof(st), "%ld", status);
	xsnprintf(att, sizeof(att), "%d", attempts);
	xsnprintf(backoff, sizeof(backoff), "%lld", b < BACKOFF_MAX_S ? b : BACKOFF_MAX_S);
	p[1] = status > 0 ? st : NULL;
	res = db_exec("webhook_record",
	    "UPDATE webhook_deliveries SET last_status = $2::int, last_error = $3, "
	    "status = CASE WHEN $2::int BETWEEN 200 AND 299 THEN 'delivered' "
	    "WHEN $4::int >= " XSTR(
		WEBHOOK_ATTEMPTS) " THEN 'failed' ELSE 'pending' END, "
				  "delivered_at = CASE WHEN $2::int BETWEEN 200 AND 299 THEN now() END, "
				  "next_attempt_at = now() + $5::bigint * interval '1 second' WHERE id = $1::bigint "
				  "AND status = 'pending' AND attempts = $4::int",
	    5, p, &err);
	if (!res)
		cy_log_error("webhook_record_failed", "error", err.msg, NULL);
	PQclear(res);
}

/* Sends one claimed delivery (row i of the claim). */
static void
deliver(PGresult *res, int i)
{
	struct cy_error err = CY_ERROR_INIT;
	struct cy_httpc_opts o = { .timeout_ms = WEBHOOK_TIMEOUT_MS,
		.public_only = !srv.cfg.webhooks_allow_private,
		.connect_timeout_ms = 5000,
		.max_response = 64 * 1024,
		.user_agent = "cynode-webhook" };
	struct cy_httpc_resp r = CY_HTTPC_RESP_INIT;
	const char *id = PQgetvalue(res, i, 0), *body = PQgetvalue(res, i, 2);
	char *aad = webhooks_aad(PQgetvalue(res, i, 5)), *secret, *sig = NULL, *h_ev, *h_id;
	const char *hdrs[4];
	long long attempts = 1;
	const char *errstr;
	char why[256], att[24];

	(void)cy_strtonum(PQgetvalue(res, i, 1), 1, 1000000, &attempts, &errstr);
	secret = secrets_open_aad(aad, PQgetvalue(res, i, 4), &err);
	free(aad);
	if (!secret) {
		cy_log_error("webhook_secret_unreadable", "delivery", id, "error", err.msg, NULL);
		record(id, WEBHOOK_ATTEMPTS, 0, "the webhook's secret does not open");
		return;
	}
	sig = sign(secret, body, strlen(body));
	explicit_bzero(secret, strlen(secret));
	free(secret);
	h_ev = xasprintf("Cynode-Event: %s", PQgetvalue(res, i, 6));
	h_id = xasprintf("Cynode-Delivery: %s", id);
	hdrs[0] = sig;
	hdrs[1] = h_ev;
	hdrs[2] = h_id;
	hdrs[3] = NULL;
	o.headers = hdrs;
	if (cy_httpc_request("POST", PQgetvalue(res, i, 3), body, strlen(body), &o, &r, &err) < 0) {
		xsnprintf(why, sizeof(why), "%.200s", err.msg);
		record(id, (int)attempts, 0, why);
	} else {
		xsnprintf(why, sizeof(why), "HTTP %ld", r.status);
		record(id, (int)attempts, r.status, r.status >= 200 && r.status < 300 ? NULL : why);
	}
	if (r.status < 200 || r.status >= 300) {
		xsnprintf(att, sizeof(att), "%lld", attempts);
		cy_log_warn("webhook_delivery_failed", "delivery", id, "attempt", att, "error",
		    r.status ? why : err.msg, NULL);
	}
	cy_httpc_resp_release(&r);
	free(sig);
	free(h_ev);
	free(h_id);
}

/* Claims and sends the due deliveries; the number claimed (-1 on a database error). */
static int
deliver_due(void)
{
	struct cy_error err = CY_ERROR_INIT;
	PGresult *res;
	int i, n;

	res = db_exec("webhook_claim",
	    "UPDATE webhook_deliveries d SET attempts = d.attempts + 1, "
	    "next_attempt_at = now() + interval '" XSTR(
		LEASE_S) " seconds' FROM webhooks w "
			 "WHERE w.id = d.webhook_id AND d.id IN (SELECT id FROM webhook_deliveries "
			 "WHERE status = 'pending' AND next_attempt_at <= now() ORDER BY next_attempt_at "
			 "LIMIT " XSTR(
			     CLAIM_BATCH) " FOR UPDATE SKIP LOCKED) "
					  "RETURNING d.id, d.attempts, d.payload::text, w.url, w.secret_sealed, w.user_id, "
					  "d.event",
	    0, NULL, &err);
	if (!res) {
		cy_log_error("webhook_claim_failed", "error", err.msg, NULL);
		return -1;
	}
	n = PQntuples(res);
	for (i = 0; i < n; i++)
		deliver(res, i);
	PQclear(res);
	return n;
}

static void *
deliver_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct timespec ts;
		int n;

		pthread_mutex_lock(&lock);
		if (!woken && !stopping) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += POLL_MS / 1000;
			pthread_cond_timedwait(&cond, &lock, &ts);
		}
		woken = false;
		if (stopping) {
			pthread_mutex_unlock(&lock);
			break;
		}
		pthread_mutex_unlock(&lock);
		/* A full batch: more may be due at once. */
		while ((n = deliver_due()) == CLAIM_BATCH && !stopping)
			;
	}
	cy_httpc_thread_cleanup();
	db_thread_cleanup();
	return NULL;
}

int
webhooks_start(struct cy_error *err)
{
	int rc;

	stopping = false;
	if ((rc = pthread_create(&thread, NULL, deliver_main, NULL)) != 0) {
		errno = rc;
		return cy_error_errno(err, "cannot start the webhook delivery thread");
	}
	started = true;
	return 0;
}

void
webhooks_stop(void)
{
	if (!started)
		return;
	pthread_mutex_lock(&lock);
	stopping = true;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
	pthread_join(thread, NULL);
	started = false;
}
