/*
 * Streaming secret masking (mask.h).  Each secret has a KMP automaton whose
 * state is the length of the longest prefix of the secret that ends the
 * stream so far.  Bytes not yet written wait in `hold` with a flag each:
 * when an automaton completes, the last len bytes of hold (all still held,
 * since hold is never shorter than any state) are flagged.  Everything but
 * the last max(state) bytes (a completed state counts as its longest
 * border, which may begin an overlapping match) is settled and written out, a run of flagged
 * bytes as one "***"; `in_run` carries a run across writes so that a run
 * split by a feed boundary still reads "***" once.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "mask.h"
#include "banned.h"

struct mask_secret {
	unsigned char *v;
	size_t len;
	size_t *fail; /* KMP failure function: fail[i] for the prefix of i + 1 bytes */
	size_t state;
};

struct cy_mask {
	struct mask_secret *s;
	size_t n;
	unsigned char *hold; /* bytes not written yet ... */
	bool *flag;          /* ... and which of them belong to a secret */
	size_t hlen, halloc;
	bool in_run; /* the last byte written was flagged */
};

/* The failure function of v[0..len). */
static void
mask_fail(struct mask_secret *s)
{
	size_t i, k = 0;

	s->fail = xreallocarray(NULL, s->len, sizeof(*s->fail));
	s->fail[0] = 0;
	for (i = 1; i < s->len; i++) {
		while (k > 0 && s->v[i] != s->v[k])
			k = s->fail[k - 1];
		if (s->v[i] == s->v[k])
			k++;
		s->fail[i] = k;
	}
}

struct cy_mask *
cy_mask_new(const char *const *values)
{
	struct cy_mask *m;
	size_t i, n = 0;

	for (i = 0; values && values[i]; i++)
		n += strlen(values[i]) >= CY_MASK_MIN;
	if (n == 0)
		return NULL;
	m = xcalloc(1, sizeof(*m));
	m->s = xcalloc(n, sizeof(*m->s));
	for (i = 0; values[i]; i++) {
		size_t len = strlen(values[i]);
		struct mask_secret *s;

		if (len < CY_MASK_MIN)
			continue;
		s = &m->s[m->n];
		s->len = len;
		s->v = (unsigned char *)xstrdup(values[i]);
		mask_fail(s);
		m->n++;
	}
	return m;
}

/* Appends byte c to hold and steps every automaton; flags what completed. */
static void
mask_step(struct cy_mask *m, unsigned char c)
{
	size_t j;

	if (m->hlen == m->halloc) {
		m->halloc = m->halloc ? 2 * m->halloc : 256;
		m->hold = xreallocarray(m->hold, m->halloc, 1);
		m->flag = xreallocarray(m->flag, m->halloc, sizeof(*m->flag));
	}
	m->hold[m->hlen] = c;
	m->flag[m->hlen] = false;
	m->hlen++;
	for (j = 0; j < m->n; j++) {
		struct mask_secret *s = &m->s[j];

		if (s->state == s->len)
			s->state = s->fail[s->len - 1];
		while (s->state > 0 && s->v[s->state] != c)
			s->state = s->fail[s->state - 1];
		if (s->v[s->state] == c)
			s->state++;
		if (s->state == s->len)
			memset(m->flag + m->hlen - s->len, 1, s->len * sizeof(*m->flag));
	}
}

/* Writes the first n held bytes to out and drops them from hold. */
static void
mask_emit(struct cy_mask *m, size_t n, struct cy_buf *out)
{
	size_t i = 0, start;

	while (i < n) {
		if (m->flag[i]) {
			if (!m->in_run)
				cy_buf_addstr(out, CY_MASK_TEXT);
			m->in_run = true;
			while (i < n && m->flag[i])
				i++;
			continue;
		}
		m->in_run = false;
		start = i;
		while (i < n && !m->flag[i])
			i++;
		cy_buf_add(out, m->hold + start, i - start);
	}
	if (n == 0)
		return;
	explicit_bzero(m->hold, n);
	memmove(m->hold, m->hold + n, m->hlen - n);
	memmove(m->flag, m->flag + n, (m->hlen - n) * sizeof(*m->flag));
	m->hlen -= n;
}

void
cy_mask_feed(struct cy_mask *m, const void *p, size_t n, struct cy_buf *out)
{
	const unsigned char *b = p;
	size_t i, keep = 0;

	if (!m) {
		cy_buf_add(out, p, n);
		return;
	}
	for (i = 0; i < n; i++)
		mask_step(m, b[i]);
	for (i = 0; i < m->n; i++) {
		const struct mask_secret *s = &m->s[i];
		/* A completed match goes on as its longest proper border. */
		size_t st = s->state == s->len ? s->fail[s->len - 1] : s->state;

		if (st > keep)
			keep = st;
	}
	mask_emit(m, m->hlen - keep, out);
}

void
cy_mask_flush(struct cy_mask *m, struct cy_buf *out)
{
	size_t i;

	if (!m)
		return;
	mask_emit(m, m->hlen, out);
	for (i = 0; i < m->n; i++)
		m->s[i].state = 0;
	m->in_run = false;
}

void
cy_mask_free(struct cy_mask *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->n; i++) {
		explicit_bzero(m->s[i].v, m->s[i].len);
		free(m->s[i].v);
		free(m->s[i].fail);
	}
	if (m->hold)
		explicit_bzero(m->hold, m->halloc);
	free(m->hold);
	free(m->flag);
	free(m->s);
	free(m);
}
