/*
 * Login rate limits (see ratelimit.h): one hash table of entries keyed by
 * "i:<address>" or "h:<handle>", under one mutex (logins are rare next to
 * the Argon2id cost of each).  Idle entries are swept when the table fills.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "buf.h"
#include "identity.h"
#include "log.h"
#include "ratelimit.h"
#include "server.h"
#include "banned.h"

#define RL_BUCKETS 1024
#define RL_MAX_ENTRIES 100000
#define RL_WINDOW 60
/* "h:" and a login handle, or "i:" and an address. */
#define RL_KEY_MAX (2 + IDENTITY_HANDLE_MAX + 1)

struct rl_entry {
	char key[RL_KEY_MAX];
	time_t window_start; /* attempt window (address keys) */
	long long attempts;
	long long failures; /* consecutive failures */
	time_t last_failure;
	time_t locked_until;
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

/* True when an entry holds nothing that still matters at now. */
static bool
rl_idle(const struct rl_entry *e, time_t now)
{
	return now - e->window_start >= RL_WINDOW && e->locked_until <= now &&
	       (e->failures == 0 || now - e->last_failure >= srv.cfg.lockout_max_s);
}

/* Drops idle entries (called under the lock). */
static void
rl_sweep(time_t now)
{
	struct rl_entry **pp, *e;
	size_t i;

	for (i = 0; i < RL_BUCKETS; i++) {
		for (pp = &rl_table[i]; (e = *pp);) {
			if (rl_idle(e, now)) {
				*pp = e->next;
				free(e);
				rl_entries--;
			} else {
				pp = &e->next;
			}
		}
	}
}

/* Finds or (create) adds the entry of kind:name; NULL when the table is full. */
static struct rl_entry *
rl_get(char kind, const char *name, bool create, time_t now)
{
	char key[RL_KEY_MAX];
	struct rl_entry *e;
	unsigned h;

	xsnprintf(key, sizeof(key), "%c:%s", kind, name);
	h = rl_hash(key);
	for (e = rl_table[h]; e; e = e->next)
		if (!strcmp(e->key, key))
			break;
	if (e) {
		/* Failures long ago are forgotten. */
		if (e->failures && now - e->last_failure >= srv.cfg.lockout_max_s)
			e->failures = 0;
		return e;
	}
	if (!create)
		return NULL;
	if (rl_entries >= RL_MAX_ENTRIES)
		rl_sweep(now);
	if (rl_entries >= RL_MAX_ENTRIES) {
		cy_log_warn("ratelimit_table_full", "entries", "100000", NULL);
		return NULL;
	}
	e = xcalloc(1, sizeof(*e));
	memcpy(e->key, key, sizeof(key));
	e->window_start = now;
	e->next = rl_table[h];
	rl_table[h] = e;
	rl_entries++;
	return e;
}

long
ratelimit_login_check(const char *ip, const char *handle, const char **why)
{
	time_t now = time(NULL);
	struct rl_entry *e;
	long wait = 0;

	*why = NULL;
	pthread_mutex_lock(&rl_lock);
	if ((e = rl_get('i', ip, true, now)) != NULL) {
		if (now - e->window_start >= RL_WINDOW) {
			e->window_start = now;
			e->attempts = 0;
		}
		e->attempts++;
		if (e->locked_until > now) {
			wait = (long)(e->locked_until - now);
			*why = "address locked out";
		} else if (e->attempts > srv.cfg.rate_limit_per_minute) {
			wait = (long)(e->window_start + RL_WINDOW - now);
			*why = "rate limited";
		}
	}
	if (!wait && handle && *handle && (e = rl_get('h', handle, false, now)) != NULL &&
	    e->locked_until > now) {
		wait = (long)(e->locked_until - now);
		*why = "handle locked out";
	}
	pthread_mutex_unlock(&rl_lock);
	if (wait && wait < 1)
		wait = 1;
	return wait;
}

/* One more failure on e; locks it once the threshold is reached. */
static void
rl_fail(struct rl_entry *e, long long threshold, time_t now)
{
	long long lock = srv.cfg.lockout_base_s, over;

	e->failures++;
	e->last_failure = now;
	if (e->failures < threshold)
		return;
	for (over = e->failures - threshold; over > 0 && lock < srv.cfg.lockout_max_s; over--)
		lock *= 2;
	if (lock > srv.cfg.lockout_max_s)
		lock = srv.cfg.lockout_max_s;
	e->locked_until = now + (time_t)lock;
}

void
ratelimit_login_result(const char *ip, const char *handle, bool success)
{
	time_t now = time(NULL);
	struct rl_entry *e;

	pthread_mutex_lock(&rl_lock);
	if (success) {
		/* The address keeps its failures: one good account must not reset them. */
		if (handle && (e = rl_get('h', handle, false, now)) != NULL) {
			e->failures = 0;
			e->locked_until = 0;
		}
	} else {
		if ((e = rl_get('i', ip, true, now)) != NULL)
			rl_fail(e, srv.cfg.lockout_ip_threshold, now);
		if (handle && *handle && (e = rl_get('h', handle, true, now)) != NULL)
			rl_fail(e, srv.cfg.lockout_threshold, now);
	}
	pthread_mutex_unlock(&rl_lock);
}
