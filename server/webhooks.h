/*
 * Webhooks: a user's URL that gets a POST for each event it
 * names, "task.finished" (one of the owner's tasks completed, failed or
 * was canceled) or "node.lost" (admins only).  The deliveries are rows the
 * event log's trigger writes (migration 0094); a delivery thread on every
 * replica claims the due ones (SKIP LOCKED), POSTs the event's JSON signed
 * with HMAC-SHA256 under the webhook's secret (header Cynode-Signature:
 * sha256=HEX), and on anything but a 2xx retries with exponential backoff
 * (1 s, 2 s, 4 s, ... at most 1 h; WEBHOOK_ATTEMPTS attempts), keeping the
 * last status and error of each delivery.
 */
#ifndef SERVER_WEBHOOKS_H
#define SERVER_WEBHOOKS_H

#include "error.h"
#include "httpd.h"
#include "jcheck.h"

#define WEBHOOK_ATTEMPTS 8
#define WEBHOOK_TIMEOUT_MS 10000
#define WEBHOOKS_PER_USER 32
#define WEBHOOK_SECRET_MIN 16
#define WEBHOOK_SECRET_MAX 256

/* route-webhooks.c */
void h_webhooks_create(struct cy_http_req *req, struct cy_http_resp *resp);
void h_webhooks_list(struct cy_http_req *req, struct cy_http_resp *resp);
void h_webhooks_delete(struct cy_http_req *req, struct cy_http_resp *resp);
void h_webhooks_deliveries(struct cy_http_req *req, struct cy_http_resp *resp);
extern const struct cy_jcheck webhooks_create_body;

/* webhooks-deliver.c */
int webhooks_start(struct cy_error *err);
void webhooks_stop(void);
/* Deliveries may be due (NOTIFY cynode_webhooks). */
void webhooks_wake(void);
/* The associated data the secret of owner's webhooks is sealed with; caller frees. */
char *webhooks_aad(const char *owner);

#endif
