/*
 * A short cache of auth decisions, so that checking a token costs
 * a hash and a table probe instead of a JWT verification and a database
 * round trip on every request.  Entries are keyed by SHA-256 of the bearer
 * token and hold the auth context the full check produced; an entry is
 * good until the token expires, auth.cache_ttl passes, or the generation
 * moves on.
 *
 * The generation moves on (dropping every entry at once) whenever anything
 * that a decision depends on changes: the server calls auth_cache_invalidate()
 * right after committing a logout, revocation, disable, role change or token
 * revocation, and triggers on users, auth_sessions and api_tokens (migration
 * 0011) NOTIFY channel cynode_auth, which a listener thread of every replica
 * receives, so changes made by another replica or directly in SQL are seen
 * too.  While the listener is not connected, nothing is cached.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth-cache.h"
#include "db.h"
#include "digest.h"
#include "id.h"
#include "log.h"
#include "server.h"
#include "store-conn.h"
#include "timeutil.h"
#include "banned.h"

#define CACHE_SLOTS 1024
#define CACHE_STRIPES 64

struct slot {
	char key[65];
	unsigned long long gen; /* 0: empty */
	int64_t until_ms;       /* monotonic */
	time_t exp;             /* the token's own expiry */
	struct auth_ctx ctx;
};

static struct slot slots[CACHE_SLOTS];
static pthread_mutex_t stripes[CACHE_STRIPES];
static atomic_ullong generation = 1;
static atomic_int listening;
static pthread_t listener;
static atomic_int stop_listener;
static bool started;

void
auth_cache_key(const char *token, char key[65])
{
	cy_sha256_hex(token, strlen(token), key);
}

/* The slot of a key: its first 16 bits, hex-decoded. */
static unsigned
slot_of(const char key[65])
{
	unsigned v = 0;
	int i;

	for (i = 0; i < 4; i++)
		v = v << 4 | (unsigned)(key[i] <= '9' ? key[i] - '0' : key[i] - 'a' + 10);
	return v % CACHE_SLOTS;
}

unsigned long long
auth_cache_generation(void)
{
	return atomic_load(&generation);
}

bool
auth_cache_get(const char key[65], struct auth_ctx *out)
{
	unsigned i = slot_of(key);
	pthread_mutex_t *m = &stripes[i % CACHE_STRIPES];
	struct slot *s = &slots[i];
	bool hit = false;

	if (!atomic_load(&listening) || srv.cfg.auth_cache_ttl_s <= 0)
		return false;
	pthread_mutex_lock(m);
	if (s->gen == atomic_load(&generation) && !memcmp(s->key, key, 65) &&
	    s->until_ms > cy_mono_ms() && s->exp > time(NULL)) {
		*out = s->ctx;
		hit = true;
	}
	pthread_mutex_unlock(m);
	return hit;
}

void
auth_cache_put(const char key[65], const struct auth_ctx *ctx, time_t exp, unsigned long long gen)
{
	unsigned i = slot_of(key);
	pthread_mutex_t *m = &stripes[i % CACHE_STRIPES];
	struct slot *s = &slots[i];

	if (!atomic_load(&listening) || srv.cfg.auth_cache_ttl_s <= 0)
		return;
	pthread_mutex_lock(m);
	/* A decision read before a change must not outlive it. */
	if (gen == atomic_load(&generation)) {
		memcpy(s->key, key, 65);
		s->gen = gen;
		s->until_ms = cy_mono_ms() + srv.cfg.auth_cache_ttl_s * 1000;
		s->exp = exp;
		s->ctx = *ctx;
	}
	pthread_mutex_unlock(m);
}

void
auth_cache_invalidate(void)
{
	atomic_fetch_add(&generation, 1);
	cy_log_debug("auth_cache_invalidated", NULL);
}

/* Receives NOTIFY cynode_auth until stopped; reconnects after a second. */
static void *
listen_main(void *arg)
{
	PGconn *c = NULL;
	PGnotify *n;
	struct pollfd pfd;

	(void)arg;
	while (!atomic_load(&stop_listener)) {
		if (!c || PQstatus(c) != CONNECTION_OK) {
			atomic_store(&listening, 0);
			auth_cache_invalidate();
			if (c) {
				PQfinish(c);
				c = NULL;
				sleep(1);
				continue;
			}
			c = db_connect("cynode-server-auth");
			if (PQstatus(c) != CONNECTION_OK) {
				cy_log_warn("auth_cache_listen_failed", "error", PQerrorMessage(c),
				    NULL);
				continue; /* finished and retried after a second above */
			}
			if (store_conn_listen_auth(c) < 0) {
				cy_log_warn("auth_cache_listen_failed", "error", PQerrorMessage(c),
				    NULL);
				PQfinish(c);
				c = NULL;
				sleep(1);
				continue;
			}
			/* Changes made while nobody listened are covered by this bump. */
			auth_cache_invalidate();
			atomic_store(&listening, 1);
		}
		pfd.fd = PQsocket(c);
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, 500) < 0 && errno != EINTR)
			continue;
		if (!PQconsumeInput(c)) {
			cy_log_warn("auth_cache_listen_lost", "error", PQerrorMessage(c), NULL);
			atomic_store(&listening, 0);
			continue;
		}
		while ((n = PQnotifies(c)) != NULL) {
			auth_cache_invalidate();
			PQfreemem(n);
		}
	}
	atomic_store(&listening, 0);
	if (c)
		PQfinish(c);
	return NULL;
}

int
auth_cache_start(struct cy_error *err)
{
	size_t i;
	int rc;

	for (i = 0; i < CACHE_STRIPES; i++)
		pthread_mutex_init(&stripes[i], NULL);
	if (srv.cfg.auth_cache_ttl_s <= 0)
		return 0;
	rc = pthread_create(&listener, NULL, listen_main, NULL);
	if (rc != 0)
		return cy_error_set(err, rc, "cannot start the auth cache listener");
	started = true;
	return 0;
}

void
auth_cache_stop(void)
{
	if (!started)
		return;
	atomic_store(&stop_listener, 1);
	pthread_join(listener, NULL);
	started = false;
}
