/*
 * Process-wide metrics in the Prometheus text exposition format (0.0.4):
 * counters, gauges and histograms, each a family of series told apart by a
 * label string.  Thread-safe; series are created on first use and live until
 * exit.  lib/httpd.c counts every request by listener, route and status;
 * programs add their own series and collect hooks (gauges read at scrape
 * time, e.g. task counts from the database) and serve cy_metrics_render()
 * on GET /metrics.
 *
 * Labels are passed pre-rendered, `route="/v1/tasks",status="200"` (or ""
 * for none); cy_metrics_label() builds one pair with the value escaped.
 * Names follow Prometheus rules (cynode_*, *_total for counters, *_seconds).
 */
#ifndef CY_METRICS_H
#define CY_METRICS_H

#include "buf.h"

enum cy_metric_type {
	CY_METRIC_COUNTER,
	CY_METRIC_GAUGE,
	CY_METRIC_HISTOGRAM
};

/*
 * Declares a family (its type and HELP text).  Optional for counters and
 * gauges (an undeclared family is untyped); required before observing a
 * histogram.  Declaring twice is harmless.
 */
void cy_metrics_declare(const char *name, enum cy_metric_type type, const char *help);
/* Adds v (>= 0) to a counter. */
void cy_metrics_add(const char *name, const char *labels, double v);
/* Sets a gauge. */
void cy_metrics_set(const char *name, const char *labels, double v);
/* Records one observation (seconds for latencies) in a histogram. */
void cy_metrics_observe(const char *name, const char *labels, double v);
/*
 * Registers fn(arg), called (under no metrics lock) at the start of every
 * cy_metrics_render(), typically to cy_metrics_set() gauges.
 */
void cy_metrics_on_collect(void (*fn)(void *arg), void *arg);
/* Appends `,name="value"` (or `name="value"` when sb is empty), escaped. */
void cy_metrics_label(struct cy_buf *sb, const char *name, const char *value);
/* Runs the collect hooks, then appends every family in exposition format. */
void cy_metrics_render(struct cy_buf *out);

#define CY_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
