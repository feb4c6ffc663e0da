/*
 * Unit tests for node/sandbox.c: how a run's end becomes its result, the
 * same for every runtime (timeout, cancel, shutdown, launch failure, exit
 * codes and signals, out of memory, the pids limit, the notes on stderr),
 * and the list of running sandboxes that cancel and shutdown go through.
 */
#include <stdio.h>
#include <string.h>

#include "sandbox.h"
#include "tap.h"

static const struct {
	struct sb_outcome o;
	const char *err_before;
	enum sandbox_status status;
	int exit_code;
	const char *err, *name;
} cases[] = {
	{ { .timed_out = true }, "", SANDBOX_TIMEOUT, -1,
	  "cynode: killed: timeout after 5 s\n", "timeout" },
	{ { .timed_out = true, .timeout_bare = true }, "", SANDBOX_TIMEOUT, -1,
	  "cynode: killed: timeout\n", "timeout, the engines' note" },
	{ { .timed_out = true, .killed = SB_KILLED_CANCEL, .exit_code = 0 }, "",
	  SANDBOX_TIMEOUT, -1, "cynode: killed: timeout after 5 s\n", "a timeout wins" },
	{ { .killed = SB_KILLED_CANCEL }, "boom", SANDBOX_CANCELED, -1,
	  "boom\ncynode: killed: job canceled\n", "canceled, after the job's stderr" },
	{ { .killed = SB_KILLED_SHUTDOWN, .exit_code = 0 }, "", SANDBOX_FAILED, -1,
	  "cynode: killed: the node is shutting down\n", "shutdown" },
	{ { .launch_failed = true, .exit_code = 1 }, "sandbox launch failed: x", SANDBOX_FAILED,
	  -1, "sandbox launch failed: x", "launch failure: the runtime's words" },
	{ { .exit_code = 0 }, "", SANDBOX_COMPLETED, 0, "", "exit 0" },
	{ { .exit_code = 3 }, "", SANDBOX_FAILED, 3, "", "exit 3" },
	{ { .exit_code = 128 + 15 }, "", SANDBOX_FAILED, 143, "", "SIGTERM" },
	{ { .exit_code = -1 }, "", SANDBOX_FAILED, -1, "", "unknown" },
	{ { .exit_code = 0, .oom = true }, "", SANDBOX_FAILED, 137,
	  "cynode: killed: out of memory (memory limit 64 MB)\n", "out of memory" },
	{ { .exit_code = 128 + 9, .oom = true }, "", SANDBOX_FAILED, 137,
	  "cynode: killed: out of memory (memory limit 64 MB)\n", "out of memory, SIGKILL" },
	{ { .timed_out = true, .oom = true }, "", SANDBOX_TIMEOUT, -1,
	  "cynode: killed: timeout after 5 s\n"
	  "cynode: killed: out of memory (memory limit 64 MB)\n", "timeout and out of memory" },
	{ { .exit_code = 0, .pids_hit = true }, "", SANDBOX_COMPLETED, 0,
	  "cynode: the job reached its process limit (32 processes); further forks failed\n",
	  "the pids limit" },
};

static void
test_finish(void)
{
	struct sandbox_job job = { 0 };
	struct sandbox_result res;
	char name[128];
	size_t i;

	job.timeout_s = 5;
	job.max_output = 4096;
	job.limits.mem_mb = 64;
	job.limits.pids = 32;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sandbox_result_init(&res);
		cy_buf_addstr(&res.err, cases[i].err_before);
		sandbox_finish(&res, &cases[i].o, &job);
		snprintf(name, sizeof(name), "%s: status", cases[i].name);
		is_int(res.status, cases[i].status, name);
		snprintf(name, sizeof(name), "%s: exit code", cases[i].name);
		is_int(res.exit_code, cases[i].exit_code, name);
		snprintf(name, sizeof(name), "%s: stderr", cases[i].name);
		is_str(res.err.buf, cases[i].err, name);
		ok(res.oom == cases[i].o.oom && res.pids_hit == cases[i].o.pids_hit,
			"%s: the flags", cases[i].name);
		sandbox_result_release(&res);
	}
}

static int stopped;

static void
count_stop(struct sb_running *r)
{
	stopped++;
}

static void
test_running(void)
{
	struct sb_running a = { .runtime = "bwrap", .job_id = "j1", .pid = 1 };
	struct sb_running b = { .runtime = "podman", .job_id = "j1", .pid = 2 };
	struct sb_running c = { .runtime = "bwrap", .job_id = "j2", .pid = 3 };

	sb_running_add(&a);
	sb_running_add(&b);
	sb_running_add(&c);
	is_int(sb_running_stop("bwrap", "j1", SB_KILLED_CANCEL, count_stop), 0, "cancel j1");
	is_int(stopped, 1, "only the runtime's own run");
	ok(sb_running_killed(&a) && !sb_running_killed(&b) && !sb_running_killed(&c),
		"and it is marked");
	is_int(sb_running_stop("bwrap", "j9", SB_KILLED_CANCEL, count_stop), -1, "no such job");
	is_int(sb_running_stop("bwrap", NULL, SB_KILLED_SHUTDOWN, count_stop), 0, "shutdown");
	is_int(stopped, 3, "stops every run of the runtime, again too");
	is_int(a.killed, SB_KILLED_CANCEL, "the first reason stays");
	is_int(c.killed, SB_KILLED_SHUTDOWN, "the others stop for the shutdown");
	sb_running_del(&b);
	is_int(sb_running_stop("podman", NULL, SB_KILLED_SHUTDOWN, count_stop), -1,
		"a run taken off the list is not stopped");
	sb_running_del(&a);
	sb_running_del(&c);
}

int
main(void)
{
	RUN_TEST(test_finish);
	RUN_TEST(test_running);
	return tap_done();
}
