/*
 * Identifiers and secrets: UUIDv4, ULIDs (monotonic within the process),
 * random base64url tokens and constant-time string comparison.  UUIDs are
 * libuuid's (generated from its random source, parsed by uuid_parse); other
 * randomness comes from getrandom(2); hashing, base64 and the constant-time
 * compare from digest.h.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <uuid/uuid.h>

#include "alloc.h"
#include "buf.h"
#include "digest.h"
#include "id.h"

#include "banned.h"

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

void
cy_random_bytes(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "fatal: getrandom: %s\n", strerror(errno));
			abort();
		}
		p += n;
		len -= (size_t)n;
	}
}

void
cy_uuid_v4(char out[CY_UUID_LEN + 1])
{
	uuid_t u;

	uuid_generate_random(u);
	uuid_unparse_lower(u, out);
}

bool
cy_uuid_valid(const char *s)
{
	uuid_t u;

	return s != NULL && uuid_parse(s, u) == 0;
}

static pthread_mutex_t ulid_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t ulid_last_ms;
static unsigned char ulid_last_rand[10];

/* Adds one to the 80-bit big-endian value; returns 1 on wrap-around. */
static int
ulid_increment(unsigned char r[10])
{
	int i;

	for (i = 9; i >= 0; i--) {
		if (++r[i] != 0)
			return 0;
	}
	return 1;
}

void
cy_ulid_new(char out[CY_ULID_LEN + 1])
{
	unsigned char b[16];
	struct timespec ts;
	uint64_t ms;
	int i, bit;

	clock_gettime(CLOCK_REALTIME, &ts);
	ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	ms &= (UINT64_C(1) << 48) - 1;

	pthread_mutex_lock(&ulid_lock);
	if (ms <= ulid_last_ms) {
		/* Same (or earlier) millisecond: keep the time, bump the random part. */
		ms = ulid_last_ms;
		if (ulid_increment(ulid_last_rand)) {
			ms++;
			cy_random_bytes(ulid_last_rand, sizeof(ulid_last_rand));
		}
	} else {
		cy_random_bytes(ulid_last_rand, sizeof(ulid_last_rand));
	}
	ulid_last_ms = ms;
	for (i = 0; i < 6; i++)
		b[i] = (unsigned char)(ms >> (8 * (5 - i)));
	memcpy(b + 6, ulid_last_rand, 10);
	pthread_mutex_unlock(&ulid_lock);

	/* 128 bits as 26 base32 digits; the first digit holds the top 3 bits. */
	for (i = 0; i < CY_ULID_LEN; i++) {
		unsigned v = 0;
		int start = i * 5 - 2; /* bit offset from the MSB, 130-bit frame */

		for (bit = 0; bit < 5; bit++) {
			int pos = start + bit;

			v <<= 1;
			if (pos >= 0 && (b[pos / 8] >> (7 - pos % 8)) & 1)
				v |= 1;
		}
		out[i] = crockford[v];
	}
	out[CY_ULID_LEN] = '\0';
}

bool
cy_ulid_valid(const char *s)
{
	size_t i;

	if (s == NULL || strlen(s) != CY_ULID_LEN)
		return false;
	/* The first character carries only 3 bits, so it is at most '7'. */
	if (s[0] < '0' || s[0] > '7')
		return false;
	for (i = 0; i < CY_ULID_LEN; i++) {
		char c = s[i];

		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c == '\0' || strchr(crockford, c) == NULL)
			return false;
	}
	return true;
}

void
cy_ulid_after(const char *floor, char out[CY_ULID_LEN + 1])
{
	char up[CY_ULID_LEN + 1];
	int i;

	cy_ulid_new(out);
	if (!cy_ulid_valid(floor))
		return;

	for (i = 0; i < CY_ULID_LEN; i++)
		up[i] =
		    (char)(floor[i] >= 'a' && floor[i] <= 'z' ? floor[i] - 'a' + 'A' : floor[i]);
	up[CY_ULID_LEN] = '\0';
	if (strcmp(out, up) > 0)
		return;
	/* A clock behind the floor's: the floor plus one, in base 32. */
	memcpy(out, up, sizeof(up));
	for (i = CY_ULID_LEN - 1; i >= 0; i--) {
		const char *d = strchr(crockford, out[i]);

		if (d[1] != '\0') {
			out[i] = d[1];
			return;
		}
		out[i] = '0';
	}
	/* The floor was the largest ULID: keep it (callers see no increase). */
	memcpy(out, up, sizeof(up));
}

char *
cy_random_token(const char *prefix, size_t nbytes)
{
	size_t plen = prefix ? strlen(prefix) : 0;
	unsigned char *raw;
	char *out, *o;
	size_t n;

	if (nbytes == 0)
		nbytes = 32;
	raw = xmalloc(nbytes);
	cy_random_bytes(raw, nbytes);
	out = xmalloc(plen + CY_BASE64_SIZE(nbytes));
	if (plen)
		memcpy(out, prefix, plen);
	n = cy_base64(raw, nbytes, out + plen);
	explicit_bzero(raw, nbytes);
	free(raw);
	/* base64url without padding (RFC 4648 section 5). */
	for (o = out + plen; o < out + plen + n && *o != '='; o++)
		if (*o == '+')
			*o = '-';
		else if (*o == '/')
			*o = '_';
	*o = '\0';
	return out;
}

/*
 * The compare wants two buffers of one length: the strings' digests are,
 * so neither the content nor where the strings first differ shows in the
 * time taken, and strings of different lengths need no early return.
 */
bool
cy_streq_ct(const char *a, const char *b)
{
	unsigned char da[CY_SHA256_LEN], db[CY_SHA256_LEN];

	if (a == NULL || b == NULL)
		return false;
	cy_sha256(a, strlen(a), da);
	cy_sha256(b, strlen(b), db);
	return cy_memeq_ct(da, db, sizeof(da));
}

/* 1-63 characters of [a-z0-9] and those of `extra`. */
static bool
name_valid(const char *s, const char *extra)
{
	size_t n = s ? strlen(s) : 0, i;

	if (n == 0 || n > 63)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
			strchr(extra, s[i])))
			return false;
	return true;
}

bool
cy_slug_valid(const char *s)
{
	return name_valid(s, "-");
}

bool
cy_label_valid(const char *s)
{
	return name_valid(s, "-_.");
}

/* True for [A-Za-z0-9][A-Za-z0-9._-]* of n bytes, with no "..". */
static bool
model_part_valid(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || !isalnum((unsigned char)s[0]))
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!isalnum(c) && c != '.' && c != '_' && c != '-')
			return false;
		if (c == '.' && i + 1 < n && s[i + 1] == '.')
			return false;
	}
	return true;
}

bool
cy_model_name_valid(const char *name)
{
	const char *p = name, *slash, *colon, *last;
	size_t len = name ? strlen(name) : 0;
	bool first = true;

	if (len == 0 || len > CY_MODEL_NAME_MAX)
		return false;
	last = strrchr(name, '/');
	last = last ? last + 1 : name;
	/* The leading parts: a registry host (with an optional :PORT) and namespaces. */
	while (p < last) {
		slash = strchr(p, '/');
		colon = memchr(p, ':', (size_t)(slash - p));
		if (colon) {
			const char *d;

			if (!first || colon + 1 == slash || slash - colon > 6)
				return false;
			for (d = colon + 1; d < slash; d++)
				if (!isdigit((unsigned char)*d))
					return false;
		}
		if (!model_part_valid(p, (size_t)((colon ? colon : slash) - p)))
			return false;
		first = false;
		p = slash + 1;
	}
	/* MODEL[:TAG] */
	colon = strchr(last, ':');
	if (!model_part_valid(last, colon ? (size_t)(colon - last) : strlen(last)))
		return false;
	if (colon) {
		const char *t = colon + 1;
		size_t i, n = strlen(t);

		if (n == 0 || n > 128 || !(isalnum((unsigned char)t[0]) || t[0] == '_'))
			return false;
		for (i = 0; i < n; i++)
			if (!isalnum((unsigned char)t[i]) && t[i] != '.' && t[i] != '_' &&
			    t[i] != '-')
				return false;
	}
	return true;
}

int
cy_model_name_canon(const char *name, char *out, size_t size)
{
	const char *last;

	if (!strncmp(name, "registry.ollama.ai/", 19))
		name += 19;
	if (!strncmp(name, "library/", 8))
		name += 8;
	last = strrchr(name, '/');
	last = last ? last + 1 : name;
	return cy_snprintf(out, size, strchr(last, ':') ? "%s" : "%s:latest", name);
}
