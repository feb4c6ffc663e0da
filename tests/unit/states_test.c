/*
 * Unit tests for lib/states.c: the task/job state and problem tables.
 */
#include "states.h"
#include "tap.h"

static void
test_states(void)
{
	is_str(cy_task_state_api(CY_TASK_PENDING), "queued", "pending is shown as queued");
	is_str(cy_task_state_db(CY_TASK_PENDING), "pending", "database spelling");
	is_int(cy_task_state_parse("queued"), CY_TASK_PENDING, "API spelling parses");
	is_int(cy_task_state_parse("pending"), CY_TASK_PENDING, "database spelling parses");
	is_int(cy_task_state_parse("bogus"), -1, "unknown state");
	ok(cy_task_state_terminal(CY_TASK_COMPLETED) && cy_task_state_terminal(CY_TASK_CANCELED),
	    "completed and canceled are terminal");
	ok(!cy_task_state_terminal(CY_TASK_RUNNING), "running is not terminal");
	is_int(cy_job_state_parse("lease_expired"), CY_JOB_LEASE_EXPIRED, "job state parses");
	is_int(cy_job_state_parse(""), -1, "empty job state");
	ok(!cy_job_state_terminal(CY_JOB_QUEUED), "queued job is not terminal");
}

static void
test_problems(void)
{
	is_int(cy_problem_status(CY_PROBLEM_NOT_FOUND), 404, "not found status");
	is_str(cy_problem_type(CY_PROBLEM_UNSUPPORTED_PAYLOAD_VERSION),
	    "https://cynode.ai/problems/unsupported-payload-version", "payload version type");
	is_int(cy_problem_exit_code(CY_PROBLEM_AUTHENTICATION), 3, "auth exit code");
	is_int(cy_problem_for_status(413), CY_PROBLEM_TOO_LARGE, "413 maps to too large");
	is_int(cy_problem_for_status(401), CY_PROBLEM_AUTHENTICATION, "401 maps to authentication");
	is_str(cy_problem_title(CY_PROBLEM_CONFLICT), "Conflict", "title");
}

int
main(void)
{
	RUN_TEST(test_states);
	RUN_TEST(test_problems);
	return tap_done();
}
