/*
 * Unit tests of cynork's output helpers: human durations and ages
 * (view.c), the -o yaml emitter (yaml-out.c: quoting of strings a reader
 * would take for something else, literal blocks, numbers, empty
 * collections) and the task object of -o json (one name per thing, the
 * input named by its mode, how the job ran at the top), and the RFC 4180
 * CSV writer of -o csv (csv.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cynork.h"
#include "json.h"
#include "tap.h"
#include "banned.h"

static char *
dur(double s)
{
	static char out[64];
	struct cy_buf b = CY_BUF_INIT;

	fmt_duration(s, &b);
	xsnprintf(out, sizeof(out), "%s", b.buf);
	cy_buf_release(&b);
	return out;
}

static char *
age(long long s)
{
	static char out[64];
	struct cy_buf b = CY_BUF_INIT;

	fmt_age(s, &b);
	xsnprintf(out, sizeof(out), "%s", b.buf);
	cy_buf_release(&b);
	return out;
}

static void
test_durations(void)
{
	is_str(dur(0), "0s", "zero");
	is_str(dur(0.005), "5ms", "milliseconds");
	is_str(dur(0.9996), "1000ms", "just under a second");
	is_str(dur(1.25), "1.2s", "tenths under 10s");
	is_str(dur(5), "5s", "whole seconds stay whole");
	is_str(dur(42.4), "42s", "seconds");
	is_str(dur(192), "3m 12s", "minutes and seconds");
	is_str(dur(3600), "1h", "an hour");
	is_str(dur(3660), "1h 1m", "hours and minutes");
	is_str(dur(90000), "1d 1h", "days and hours");
	is_str(dur(-3), "0s", "negative is 0");
	is_str(age(0), "just now", "now");
	is_str(age(42), "42s ago", "seconds ago");
	is_str(age(185), "3m ago", "minutes ago");
	is_str(age(7300), "2h ago", "hours ago");
	is_str(age(3 * 86400 + 5), "3d ago", "days ago");
	is_str(age(-300), "in 5m", "in the future");
}

/* v (JSON text) as -o yaml writes it. */
static char *
yaml(const char *json)
{
	json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ok(v != NULL, "parses %s", json);
	ok(yaml_dump(f, v) == 0, "emits %s", json);
	fclose(f);
	json_decref(v);
	return buf;
}

static void
test_yaml(void)
{
	char *s;

	s = yaml("{\"a\": \"plain\", \"b\": \"\", \"c\": \"123\", \"d\": \"true\", \"e\": \"No\","
		 " \"f\": \"null\", \"g\": \"2026-12-06T20:17:51Z\", \"h\": \"-x\", \"i\": \"~\"}");
	is_str(s,
	    "a: plain\nb: \"\"\nc: \"123\"\nd: \"true\"\ne: \"No\"\nf: \"null\"\n"
	    "g: \"2026-12-06T20:17:51Z\"\nh: \"-x\"\ni: \"~\"\n",
	    "strings a reader would take for something else are quoted");
	free(s);
	s = yaml("{\"n\": 3, \"r\": 0.005, \"w\": 2.0, \"t\": true, \"f\": false, \"z\": null}");
	is_str(s, "\"n\": 3\nr: 0.005\nw: 2.0\nt: true\nf: false\nz: null\n",
	    "numbers, booleans and null are plain (the key n, YAML 1.1's false, quoted)");
	free(s);
	s = yaml("{\"out\": \"one\\ntwo\\n\"}");
	is_str(s, "out: |\n  one\n  two\n", "text with newlines is a literal block");
	free(s);
	s = yaml("{\"l\": [\"a\", {\"k\": 1}], \"e\": [], \"o\": {}}");
	is_str(s, "l:\n- a\n- k: 1\ne: []\no: {}\n", "nested and empty collections");
	free(s);
	s = yaml("{\"u\": \"h\\u00e9 \\u2713\"}");
	is_str(s, "u: h\xc3\xa9 \xe2\x9c\x93\n", "UTF-8 stays as it is");
	free(s);
}

static void
test_task_view(void)
{
	json_t *srv = json_loads(
	    "{\"id\": \"T\", \"task_id\": \"T\", \"status\": \"completed\", \"task_name\": \"n\","
	    " \"summary\": \"n\", \"prompt\": \"echo a\\n\\necho b\", \"input_mode\": \"commands\","
	    " \"created_at\": \"c\", \"updated_at\": \"u\", \"attachments\": [],"
	    " \"job\": {\"id\": \"J\", \"status\": \"completed\", \"exit_code\": 0, \"node\": \"n1\","
	    " \"attempts\": 1, \"queued_at\": \"q\", \"started_at\": \"s\", \"ended_at\": \"e\","
	    " \"queued_seconds\": 0.5, \"run_seconds\": 1.5, \"image\": null, \"priority\": 0}}",
	    0, NULL);
	json_t *o = task_json_view(srv), *job = json_object_get(o, "job");
	char *s = json_dumps(json_object_get(o, "commands"), JSON_COMPACT);

	ok(!json_object_get(o, "id") && !json_object_get(o, "summary") &&
		!json_object_get(o, "prompt"),
	    "no id, summary or prompt");
	is_str(cy_json_str(o, "task_id"), "T", "task_id");
	is_str(s, "[\"echo a\",\"echo b\"]", "commands: one each, blank lines dropped");
	free(s);
	is_int(json_integer_value(json_object_get(o, "exit_code")), 0, "exit_code at the top");
	is_str(cy_json_str(o, "node"), "n1", "node at the top");
	is_str(cy_json_str(o, "ended_at"), "e", "ended_at at the top");
	is_str(cy_json_str(job, "job_id"), "J", "job.job_id");
	ok(!json_object_get(job, "id") && !json_object_get(job, "exit_code") &&
		!json_object_get(job, "node"),
	    "the job holds no second copy");
	ok(json_is_null(json_object_get(job, "image")), "what it asked for stays under job");
	json_decref(o);
	json_object_set_new(srv, "input_mode", json_string("script"));
	json_object_del(srv, "job");
	o = task_json_view(srv);
	is_str(cy_json_str(o, "script"), "echo a\n\necho b", "a script under script, as written");
	ok(!json_object_get(o, "exit_code") && !json_object_get(o, "job"), "no job: no run fields");
	json_decref(o);
	json_decref(srv);
}

/* One CSV field as csv_field writes it. */
static char *
csv1(const char *s)
{
	static char out[256];
	struct cy_buf b = CY_BUF_INIT;

	csv_field(&b, s);
	xsnprintf(out, sizeof(out), "%s", b.buf);
	cy_buf_release(&b);
	return out;
}

static void
test_csv(void)
{
	const char *rec[] = { "a", NULL, "x,y", "say \"hi\"", "two\nlines", "" };
	struct cy_buf b = CY_BUF_INIT;

	is_str(csv1("plain"), "plain", "a plain field is bare");
	is_str(csv1(""), "", "empty is an empty field");
	is_str(csv1(NULL), "", "absent is an empty field");
	is_str(csv1("a,b"), "\"a,b\"", "a comma is quoted");
	is_str(csv1("say \"hi\""), "\"say \"\"hi\"\"\"", "quotes are doubled inside quotes");
	is_str(csv1("\""), "\"\"\"\"", "a lone quote");
	is_str(csv1("l1\nl2"), "\"l1\nl2\"", "LF is quoted");
	is_str(csv1("l1\r\nl2"), "\"l1\r\nl2\"", "CRLF is quoted");
	is_str(csv1(" pad"), "\" pad\"", "a leading blank is quoted");
	is_str(csv1("pad\t"), "\"pad\t\"", "a trailing tab is quoted");
	is_str(csv1("in side"), "in side", "an inner blank is bare");
	is_str(csv1("caf\xc3\xa9;x'y"), "caf\xc3\xa9;x'y", "UTF-8, semicolons, apostrophes bare");
	is_str(csv1("=1+1"), "'=1+1", "a formula gets an apostrophe");
	is_str(csv1("=HYPERLINK(\"http://x\")"), "\"'=HYPERLINK(\"\"http://x\"\")\"",
	    "a formula with quotes: apostrophe inside the quotes");
	is_str(csv1("@SUM(A1)"), "'@SUM(A1)", "@ starts a formula");
	is_str(csv1("+cmd"), "'+cmd", "+ before text starts a formula");
	is_str(csv1("-2+3"), "'-2+3", "- before an expression starts a formula");
	is_str(csv1("\tx"), "'\tx", "a leading tab: the apostrophe comes first, no blank to keep");
	is_str(csv1("\rx"), "\"'\rx\"", "a leading CR: apostrophe, quoted for the CR");
	is_str(csv1("-1"), "-1", "a negative number is a number");
	is_str(csv1("+2.5e3"), "+2.5e3", "a signed float is a number");
	is_str(csv1("-.5"), "-.5", "a bare fraction is a number");
	is_str(csv1("-"), "'-", "a lone minus is not");
	is_str(csv1("-1e"), "'-1e", "an exponent without digits is not");
	is_str(csv1("a=b"), "a=b", "= inside a value is harmless");
	csv_record(&b, rec, sizeof(rec) / sizeof(rec[0]));
	is_str(b.buf, "a,,\"x,y\",\"say \"\"hi\"\"\",\"two\nlines\",\r\n",
	    "a record: commas between fields, CRLF at the end");
	csv_record(&b, rec, 1);
	is_str(b.buf + b.len - 3, "a\r\n", "records follow each other");
	cy_buf_release(&b);
}

int
main(void)
{
	RUN_TEST(test_durations);
	RUN_TEST(test_yaml);
	RUN_TEST(test_task_view);
	RUN_TEST(test_csv);
	return tap_done();
}
