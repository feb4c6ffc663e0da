/*
 * Task and job states and API problem types, as string tables generated from
 * states.def and problem.def with X-macros.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "states.h"

#include "banned.h"

struct task_state_row {
	const char *db;
	const char *api;
	bool terminal;
};

static const struct task_state_row task_states[] = {
#define CY_TASK_STATE(e, d, a, t) [CY_TASK_##e] = { .db = d, .api = a, .terminal = t },
#include "states.def"
#undef CY_TASK_STATE
};

struct job_state_row {
	const char *name;
	bool terminal;
};

static const struct job_state_row job_states[] = {
#define CY_JOB_STATE(e, v, t) [CY_JOB_##e] = { .name = v, .terminal = t },
#include "states.def"
#undef CY_JOB_STATE
};

struct problem_row {
	const char *type;
	int status;
	const char *title;
	int exit_code;
};

static const struct problem_row problems[] = {
#define CY_PROBLEM(e, u, s, t, x) \
	[CY_PROBLEM_##e] = { .type = u, .status = s, .title = t, .exit_code = x },
#include "problem.def"
#undef CY_PROBLEM
};

const char *
cy_task_state_db(enum cy_task_state s)
{
	return (unsigned)s < CY_TASK__COUNT ? task_states[s].db : "unknown";
}

const char *
cy_task_state_api(enum cy_task_state s)
{
	return (unsigned)s < CY_TASK__COUNT ? task_states[s].api : "unknown";
}

bool
cy_task_state_terminal(enum cy_task_state s)
{
	return (unsigned)s < CY_TASK__COUNT && task_states[s].terminal;
}

int
cy_task_state_parse(const char *s)
{
	int i;

	if (s == NULL)
		return -1;
	for (i = 0; i < CY_TASK__COUNT; i++)
		if (strcmp(s, task_states[i].db) == 0 || strcmp(s, task_states[i].api) == 0)
			return i;
	return -1;
}

const char *
cy_job_state_name(enum cy_job_state s)
{
	return (unsigned)s < CY_JOB__COUNT ? job_states[s].name : "unknown";
}

bool
cy_job_state_terminal(enum cy_job_state s)
{
	return (unsigned)s < CY_JOB__COUNT && job_states[s].terminal;
}

int
cy_job_state_parse(const char *s)
{
	int i;

	if (s == NULL)
		return -1;
	for (i = 0; i < CY_JOB__COUNT; i++)
		if (strcmp(s, job_states[i].name) == 0)
			return i;
	return -1;
}

const char *
cy_problem_type(enum cy_problem p)
{
	return (unsigned)p < CY_PROBLEM__COUNT ? problems[p].type :
						 problems[CY_PROBLEM_INTERNAL].type;
}

int
cy_problem_status(enum cy_problem p)
{
	return (unsigned)p < CY_PROBLEM__COUNT ? problems[p].status : 500;
}

const char *
cy_problem_title(enum cy_problem p)
{
	return (unsigned)p < CY_PROBLEM__COUNT ? problems[p].title :
						 problems[CY_PROBLEM_INTERNAL].title;
}

int
cy_problem_exit_code(enum cy_problem p)
{
	return (unsigned)p < CY_PROBLEM__COUNT ? problems[p].exit_code :
						 problems[CY_PROBLEM_INTERNAL].exit_code;
}

enum cy_problem
cy_problem_for_status(int status)
{
	int i;

	/* The first row with the status is the generic one (400 -> VALIDATION). */
	for (i = 0; i < CY_PROBLEM__COUNT; i++)
		if (problems[i].status == status)
			return (enum cy_problem)i;
	if (status >= 500)
		return status == 503 ? CY_PROBLEM_UNAVAILABLE : CY_PROBLEM_INTERNAL;
	if (status == 422)
		return CY_PROBLEM_VALIDATION;
	return status >= 400 ? CY_PROBLEM_VALIDATION : CY_PROBLEM_INTERNAL;
}
