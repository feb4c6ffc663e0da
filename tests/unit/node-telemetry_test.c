/*
 * Unit tests for node/telemetry.c: events filtered by source and time,
 * the byte cap of a response (newest kept, `truncated`), rotation keeping
 * the store under max_bytes, retention, garbage lines skipped, and job
 * records (the last line of a job wins, newest first, limit).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "fsutil.h"
#include "node.h"
#include "telemetry.h"
#include "tap.h"

static char base[] = "/tmp/cy-tel-XXXXXX";
static struct node_config cfg;

static long long
store_bytes(void)
{
	const char *names[] = { "events.jsonl", "events.jsonl.1", "jobs.jsonl", "jobs.jsonl.1" };
	long long total = 0;
	char path[512];
	struct stat st;

	for (size_t i = 0; i < 4; i++) {
		xsnprintf(path, sizeof(path), "%s/telemetry/%s", base, names[i]);
		if (stat(path, &st) == 0)
			total += st.st_size;
	}
	return total;
}

static void
test_events(void)
{
	bool trunc;
	json_t *ev;

	node_telemetry_event("node", "info", "node_starting", "starting", NULL, NULL);
	node_telemetry_event("job", "info", "job_started", "started", "t1", "j1");
	node_telemetry_event("node", "warn", "config_refused", "no", NULL, NULL);
	ev = node_telemetry_events(NULL, 0, 0, 100, 1 << 20, &trunc);
	is_int(json_array_size(ev), 3, "all events");
	ok(!trunc, "not truncated");
	is_str(json_string_value(json_object_get(json_array_get(ev, 0), "kind")), "node_starting",
	    "oldest first");
	json_decref(ev);
	ev = node_telemetry_events("job", 0, 0, 100, 1 << 20, &trunc);
	is_int(json_array_size(ev), 1, "source job");
	is_str(json_string_value(json_object_get(json_array_get(ev, 0), "job_id")), "j1", "job id");
	json_decref(ev);
	ev = node_telemetry_events(NULL, time(NULL) + 10, 0, 100, 1 << 20, &trunc);
	is_int(json_array_size(ev), 0, "since in the future");
	json_decref(ev);
	ev = node_telemetry_events(NULL, 0, time(NULL) - 10, 100, 1 << 20, &trunc);
	is_int(json_array_size(ev), 0, "until in the past");
	json_decref(ev);
	ev = node_telemetry_events(NULL, 0, 0, 2, 1 << 20, &trunc);
	is_int(json_array_size(ev), 2, "limit");
	ok(trunc, "limit truncates");
	is_str(json_string_value(json_object_get(json_array_get(ev, 1), "kind")), "config_refused",
	    "limit keeps the newest");
	json_decref(ev);
	/* Each event is about 120 bytes: 200 bytes hold one. */
	ev = node_telemetry_events(NULL, 0, 0, 100, 200, &trunc);
	is_int(json_array_size(ev), 1, "byte cap");
	ok(trunc, "byte cap truncates");
	json_decref(ev);
	ev = node_telemetry_events(NULL, 0, 0, 100, 10, &trunc);
	is_int(json_array_size(ev), 0, "byte cap below one event");
	ok(trunc, "and says so");
	json_decref(ev);
}

static void
test_garbage_and_retention(void)
{
	char path[512];
	bool trunc;
	json_t *ev;
	FILE *f;

	xsnprintf(path, sizeof(path), "%s/telemetry/events.jsonl", base);
	f = fopen(path, "a");
	fputs("not json\n[1]\n{\"ts\":7}\n{\"ts\":\"2001-01-01T00:00:00Z\",\"source\":\"node\","
	      "\"kind\":\"ancient\"}\n{\"source\":\"node\"}\n\n",
	    f);
	fclose(f);
	ev = node_telemetry_events(NULL, 0, 0, 100, 1 << 20, &trunc);
	is_int(json_array_size(ev), 3, "garbage and lines past retention skipped");
	json_decref(ev);
}

static void
test_jobs(void)
{
	json_t *v, *code = json_integer(3);

	node_telemetry_job("j1", "t1", "running", 1000, 0, NULL, NULL);
	node_telemetry_job("j2", "t2", "running", 2000, 0, NULL, NULL);
	node_telemetry_job("j1", "t1", "failed", 1000, 1500, code, NULL);
	json_decref(code);
	/* Times in 1970 are past retention: use now. */
	node_telemetry_job("j3", NULL, "running", time(NULL), 0, NULL, NULL);
	node_telemetry_job("j4", "t4", "running", time(NULL) - 5, 0, NULL, NULL);
	node_telemetry_job("j4", "t4", "completed", time(NULL) - 5, time(NULL), NULL, NULL);
	v = node_telemetry_jobs(NULL, 100);
	is_int(json_array_size(v), 2, "old records past retention, one per job");
	is_str(json_string_value(json_object_get(json_array_get(v, 0), "job_id")), "j3",
	    "newest first");
	ok(json_is_null(json_object_get(json_array_get(v, 0), "task_id")), "no task id: null");
	is_str(json_string_value(json_object_get(json_array_get(v, 1), "status")), "completed",
	    "last record wins");
	json_decref(v);
	v = node_telemetry_jobs(NULL, 1);
	is_int(json_array_size(v), 1, "limit");
	json_decref(v);
	v = node_telemetry_jobs("j4", 1);
	is_str(json_string_value(json_object_get(v, "task_id")), "t4", "one by id");
	json_decref(v);
	ok(node_telemetry_jobs("nope", 1) == NULL, "unknown id: NULL");
	{
		char *big = xmalloc(3000);

		memset(big, 'd', 2999);
		big[2999] = '\0';
		big[511] = '\xc3'; /* a two-byte sequence across the clip */
		big[512] = '\xa9';
		node_telemetry_job("j5", "t5", "refused", time(NULL), time(NULL), NULL, big);
		free(big);
		v = node_telemetry_jobs("j5", 1);
		is_int(strlen(json_string_value(json_object_get(v, "detail"))), 511,
		    "detail clipped before a split UTF-8 sequence");
		json_decref(v);
	}
}

static void
test_rotation(void)
{
	char msg[600];
	bool trunc;
	json_t *ev;

	memset(msg, 'x', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	for (int i = 0; i < 500; i++) {
		node_telemetry_event("node", "info", "filler", msg, NULL, NULL);
		node_telemetry_job("jf", "tf", "running", time(NULL), 0, NULL, msg);
	}
	ok(store_bytes() <= cfg.tel_max_bytes, "store under max_bytes (%lld)", store_bytes());
	ev = node_telemetry_events(NULL, 0, 0, 1000, 1 << 20, &trunc);
	ok(json_array_size(ev) < 500 && json_array_size(ev) > 10, "old events rotated out (%zu)",
	    json_array_size(ev));
	is_str(json_string_value(json_object_get(json_array_get(ev, 0), "kind")), "filler",
	    "the first events are gone");
	json_decref(ev);
	/* A line bigger than a quarter of the store is not kept. */
	{
		char *big = xmalloc(20000);

		memset(big, 'y', 19999);
		big[19999] = '\0';
		node_telemetry_event("node", "info", "huge", big, NULL, NULL);
		free(big);
	}
	ok(store_bytes() <= cfg.tel_max_bytes, "still under max_bytes");
	node_telemetry_close();
	node_telemetry_event("node", "info", "closed", "x", NULL, NULL);
	ok(store_bytes() <= cfg.tel_max_bytes, "closed: nothing written");
}

int
main(void)
{
	struct cy_error err = CY_ERROR_INIT;

	if (!mkdtemp(base))
		abort();
	cfg.state_dir = base;
	cfg.tel_max_bytes = 65536;
	cfg.tel_retention_s = 3600;
	ok(node_telemetry_open(&cfg, &err) == 0, "open");
	RUN_TEST(test_events);
	RUN_TEST(test_garbage_and_retention);
	RUN_TEST(test_jobs);
	RUN_TEST(test_rotation);
	cy_rm_rf(base);
	return tap_done();
}
