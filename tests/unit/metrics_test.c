/*
 * Unit tests for lib/metrics.c: counters, gauges and histograms render in
 * Prometheus text format, labels are escaped, buckets are cumulative,
 * output order is stable, collect hooks run before rendering.
 */
#include <string.h>

#include "metrics.h"
#include "tap.h"
#include "banned.h"

static int hook_calls;

static void
hook(void *arg)
{
	hook_calls++;
	cy_metrics_set("t_gauge", "", *(double *)arg);
}

static int
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p = text;

	while ((p = strstr(p, line))) {
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return 1;
		p += n;
	}
	return 0;
}

int
main(void)
{
	struct cy_buf out = CY_BUF_INIT, l = CY_BUF_INIT;
	double g = 42.5;

	cy_metrics_declare("t_requests_total", CY_METRIC_COUNTER, "Requests.");
	cy_metrics_add("t_requests_total", "code=\"200\"", 1);
	cy_metrics_add("t_requests_total", "code=\"200\"", 2);
	cy_metrics_add("t_requests_total", "code=\"500\"", 1);
	cy_metrics_add("t_requests_total", "code=\"500\"", -5); /* ignored */
	cy_metrics_declare("t_gauge", CY_METRIC_GAUGE, "A gauge.");
	cy_metrics_on_collect(hook, &g);
	cy_metrics_declare("t_seconds", CY_METRIC_HISTOGRAM, "Latency.");
	cy_metrics_observe("t_seconds", "", 0.0003);
	cy_metrics_observe("t_seconds", "", 0.003);
	cy_metrics_observe("t_seconds", "", 20);
	cy_metrics_add("t_untyped", "", 7);

	cy_metrics_label(&l, "path", "a\"b\\c\nd");
	cy_metrics_label(&l, "x", "");
	is_str(l.buf, "path=\"a\\\"b\\\\c\\nd\",x=\"\"", "label values escaped, pairs joined");
	cy_metrics_add("t_requests_total", l.buf, 1);

	cy_metrics_render(&out);
	ok(hook_calls == 1, "collect hook ran once");
	ok(has_line(out.buf, "# HELP t_requests_total Requests."), "HELP line");
	ok(has_line(out.buf, "# TYPE t_requests_total counter"), "TYPE counter");
	ok(has_line(out.buf, "t_requests_total{code=\"200\"} 3"), "counter adds");
	ok(has_line(out.buf, "t_requests_total{code=\"500\"} 1"), "negative add ignored");
	ok(has_line(out.buf, "t_requests_total{path=\"a\\\"b\\\\c\\nd\",x=\"\"} 1"),
	    "escaped series rendered");
	ok(has_line(out.buf, "t_gauge 42.5"), "gauge set by the hook, no braces");
	ok(has_line(out.buf, "# TYPE t_seconds histogram"), "TYPE histogram");
	ok(has_line(out.buf, "t_seconds_bucket{le=\"0.0005\"} 1"), "first bucket");
	ok(has_line(out.buf, "t_seconds_bucket{le=\"0.005\"} 2"), "buckets cumulative");
	ok(has_line(out.buf, "t_seconds_bucket{le=\"10\"} 2"), "20 s above the last bound");
	ok(has_line(out.buf, "t_seconds_bucket{le=\"+Inf\"} 3"), "+Inf bucket counts all");
	ok(has_line(out.buf, "t_seconds_count 3"), "count");
	ok(has_line(out.buf, "t_seconds_sum 20.0033"), "sum");
	ok(has_line(out.buf, "t_untyped 7") && !strstr(out.buf, "# TYPE t_untyped"),
	    "undeclared family is untyped");
	ok(strstr(out.buf, "t_requests_total{code=\"200\"}") <
		strstr(out.buf, "t_requests_total{code=\"500\"}"),
	    "series in creation order");
	ok(strstr(out.buf, "# TYPE t_requests_total") < strstr(out.buf, "# TYPE t_gauge"),
	    "families in declaration order");
	ok(has_line(out.buf, "# TYPE process_resident_memory_bytes gauge"), "process metrics");

	g = 1;
	cy_buf_reset(&out);
	cy_metrics_render(&out);
	ok(hook_calls == 2 && has_line(out.buf, "t_gauge 1"), "hook runs on every render");
	cy_buf_release(&out);
	cy_buf_release(&l);
	return tap_done();
}
