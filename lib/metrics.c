/*
 * Metrics registry and Prometheus text rendering (see metrics.h).  One
 * mutex guards everything: updates are a hash lookup and an addition, far
 * below the cost of the requests they count.  Families are kept in
 * declaration order and series in creation order, so output is stable.
 * Built-in process metrics (resident memory, open file descriptors, start
 * time) are collected at render time from /proc/self.
 */
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "metrics.h"
#include "banned.h"

#define SERIES_BUCKETS 256
#define MAX_HOOKS 16

/* Histogram bucket bounds (seconds), from 0.5 ms to 10 s. */
static const double bounds[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
	2.5, 5, 10 };
#define NBOUNDS (sizeof(bounds) / sizeof(bounds[0]))

struct series {
	struct family *fam;
	char *labels;
	double value;             /* counter/gauge; histogram sum */
	unsigned long long count; /* histogram */
	unsigned long long buckets[NBOUNDS];
	struct series *next_in_family;
	struct series *next_in_hash;
};

struct family {
	char *name;
	char *help;
	enum cy_metric_type type;
	bool typed;
	struct series *first, *last;
	struct family *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct family *families, *families_last;
static struct series *table[SERIES_BUCKETS];
static struct {
	void (*fn)(void *);
	void *arg;
} hooks[MAX_HOOKS];
static size_t nhooks;
static time_t start_time;

static __attribute__((constructor)) void
metrics_init(void)
{
	start_time = time(NULL);
}

static unsigned
hash2(const char *a, const char *b)
{
	unsigned h = 2166136261u;

	for (; *a; a++)
		h = (h ^ (unsigned char)*a) * 16777619u;
	h = (h ^ 0xff) * 16777619u;
	for (; *b; b++)
		h = (h ^ (unsigned char)*b) * 16777619u;
	return h % SERIES_BUCKETS;
}

/* Under the lock. */
static struct family *
family_get(const char *name)
{
	struct family *f;

	for (f = families; f; f = f->next)
		if (strcmp(f->name, name) == 0)
			return f;
	f = xcalloc(1, sizeof(*f));
	f->name = xstrdup(name);
	if (families_last)
		families_last->next = f;
	else
		families = f;
	families_last = f;
	return f;
}

/* Under the lock. */
static struct series *
series_get(const char *name, const char *labels)
{
	unsigned h = hash2(name, labels ? labels : "");
	struct series *s;
	struct family *f;

	if (!labels)
		labels = "";
	for (s = table[h]; s; s = s->next_in_hash)
		if (strcmp(s->fam->name, name) == 0 && strcmp(s->labels, labels) == 0)
			return s;
	f = family_get(name);
	s = xcalloc(1, sizeof(*s));
	s->fam = f;
	s->labels = xstrdup(labels);
	s->next_in_hash = table[h];
	table[h] = s;
	if (f->last)
		f->last->next_in_family = s;
	else
		f->first = s;
	f->last = s;
	return s;
}

void
cy_metrics_declare(const char *name, enum cy_metric_type type, const char *help)
{
	struct family *f;

	pthread_mutex_lock(&lock);
	f = family_get(name);
	if (!f->typed) {
		f->type = type;
		f->typed = true;
		f->help = xstrdup(help ? help : "");
	}
	pthread_mutex_unlock(&lock);
}

void
cy_metrics_add(const char *name, const char *labels, double v)
{
	if (!(v >= 0))
		return;
	pthread_mutex_lock(&lock);
	series_get(name, labels)->value += v;
	pthread_mutex_unlock(&lock);
}

void
cy_metrics_set(const char *name, const char *labels, double v)
{
	pthread_mutex_lock(&lock);
	series_get(name, labels)->value = v;
	pthread_mutex_unlock(&lock);
}

void
cy_metrics_observe(const char *name, const char *labels, double v)
{
	struct series *s;
	size_t i;

	if (isnan(v))
		return;
	pthread_mutex_lock(&lock);
	s = series_get(name, labels);
	s->value += v;
	s->count++;
	for (i = 0; i < NBOUNDS; i++)
		if (v <= bounds[i])
			s->buckets[i]++;
	pthread_mutex_unlock(&lock);
}

void
cy_metrics_on_collect(void (*fn)(void *arg), void *arg)
{
	pthread_mutex_lock(&lock);
	if (nhooks < MAX_HOOKS) {
		hooks[nhooks].fn = fn;
		hooks[nhooks].arg = arg;
		nhooks++;
	}
	pthread_mutex_unlock(&lock);
}

void
cy_metrics_label(struct cy_buf *sb, const char *name, const char *value)
{
	const char *p;

	if (sb->len)
		cy_buf_addch(sb, ',');
	cy_buf_addf(sb, "%s=\"", name);
	for (p = value ? value : ""; *p; p++) {
		if (*p == '\\')
			cy_buf_addstr(sb, "\\\\");
		else if (*p == '"')
			cy_buf_addstr(sb, "\\\"");
		else if (*p == '\n')
			cy_buf_addstr(sb, "\\n");
		else
			cy_buf_addch(sb, *p);
	}
	cy_buf_addch(sb, '"');
}

/* A value as Prometheus writes it: integers plainly, +Inf/-Inf/NaN by name. */
static void
add_value(struct cy_buf *out, double v)
{
	if (isnan(v))
		cy_buf_addstr(out, "NaN");
	else if (isinf(v))
		cy_buf_addstr(out, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 1e15)
		cy_buf_addf(out, "%.0f", v);
	else
		cy_buf_addf(out, "%.9g", v);
}

/* name{labels[,extra]} with the braces left out when there are no labels. */
static void
add_series_name(struct cy_buf *out, const char *name, const char *suffix, const char *labels,
    const char *extra)
{
	cy_buf_addf(out, "%s%s", name, suffix);
	if (*labels || extra) {
		cy_buf_addch(out, '{');
		cy_buf_addstr(out, labels);
		if (extra)
			cy_buf_addf(out, "%s%s", *labels ? "," : "", extra);
		cy_buf_addch(out, '}');
	}
	cy_buf_addch(out, ' ');
}

static void
render_family(struct cy_buf *out, const struct family *f)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };
	const struct series *s;
	char le[48];
	size_t i;

	if (!f->first)
		return;
	if (f->typed) {
		if (f->help && *f->help)
			cy_buf_addf(out, "# HELP %s %s\n", f->name, f->help);
		cy_buf_addf(out, "# TYPE %s %s\n", f->name, types[f->type]);
	}
	for (s = f->first; s; s = s->next_in_family) {
		if (!f->typed || f->type != CY_METRIC_HISTOGRAM) {
			add_series_name(out, f->name, "", s->labels, NULL);
			add_value(out, s->value);
			cy_buf_addch(out, '\n');
			continue;
		}
		for (i = 0; i < NBOUNDS; i++) {
			xsnprintf(le, sizeof(le), "le=\"%g\"", bounds[i]);
			add_series_name(out, f->name, "_bucket", s->labels, le);
			cy_buf_addf(out, "%llu\n", s->buckets[i]);
		}
		add_series_name(out, f->name, "_bucket", s->labels, "le=\"+Inf\"");
		cy_buf_addf(out, "%llu\n", s->count);
		add_series_name(out, f->name, "_sum", s->labels, NULL);
		add_value(out, s->value);
		cy_buf_addch(out, '\n');
		add_series_name(out, f->name, "_count", s->labels, NULL);
		cy_buf_addf(out, "%llu\n", s->count);
	}
}

/* process_* metrics from /proc/self. */
static void
collect_process(void)
{
	struct cy_buf statm = CY_BUF_INIT;
	unsigned long long size, rss;
	struct dirent *e;
	DIR *d;
	long fds = 0;
	char *end;

	if (cy_buf_read_file(&statm, "/proc/self/statm", 256) == 0) {
		size = strtoull(statm.buf, &end, 10);
		rss = strtoull(end, NULL, 10);
		cy_metrics_set("process_resident_memory_bytes", "",
		    (double)rss * (double)sysconf(_SC_PAGESIZE));
		cy_metrics_set("process_virtual_memory_bytes", "",
		    (double)size * (double)sysconf(_SC_PAGESIZE));
	}
	cy_buf_release(&statm);
	d = opendir("/proc/self/fd");
	if (d) {
		while ((e = readdir(d)))
			if (e->d_name[0] != '.')
				fds++;
		closedir(d);
		cy_metrics_set("process_open_fds", "", (double)(fds - 1)); /* minus d */
	}
	cy_metrics_set("process_start_time_seconds", "", (double)start_time);
}

void
cy_metrics_render(struct cy_buf *out)
{
	void (*fns[MAX_HOOKS])(void *);
	void *args[MAX_HOOKS];
	const struct family *f;
	size_t i, n;

	cy_metrics_declare("process_resident_memory_bytes", CY_METRIC_GAUGE,
	    "Resident memory size in bytes.");
	cy_metrics_declare("process_virtual_memory_bytes", CY_METRIC_GAUGE,
	    "Virtual memory size in bytes.");
	cy_metrics_declare("process_open_fds", CY_METRIC_GAUGE, "Open file descriptors.");
	cy_metrics_declare("process_start_time_seconds", CY_METRIC_GAUGE,
	    "Start time of the process since the Unix epoch in seconds.");
	collect_process();
	pthread_mutex_lock(&lock);
	n = nhooks;
	for (i = 0; i < n; i++) {
		fns[i] = hooks[i].fn;
		args[i] = hooks[i].arg;
	}
	pthread_mutex_unlock(&lock);
	for (i = 0; i < n; i++)
		fns[i](args[i]);
	pthread_mutex_lock(&lock);
	for (f = families; f; f = f->next)
		render_family(out, f);
	pthread_mutex_unlock(&lock);
}
