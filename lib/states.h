/*
 * Task/job state enums and problem types, generated from states.def and
 * problem.def so every program shares one definition.
 */
#ifndef CY_STATES_H
#define CY_STATES_H

#include <stdbool.h>

enum cy_task_state {
#define CY_TASK_STATE(e, db, api, term) CY_TASK_##e,
#include "states.def"
#undef CY_TASK_STATE
	CY_TASK__COUNT
};

enum cy_job_state {
#define CY_JOB_STATE(e, v, term) CY_JOB_##e,
#include "states.def"
#undef CY_JOB_STATE
	CY_JOB__COUNT
};

enum cy_problem {
#define CY_PROBLEM(e, type, status, title, exitcode) CY_PROBLEM_##e,
#include "problem.def"
#undef CY_PROBLEM
	CY_PROBLEM__COUNT
};

const char *cy_task_state_db(enum cy_task_state s);
const char *cy_task_state_api(enum cy_task_state s);
bool cy_task_state_terminal(enum cy_task_state s);
/* Accepts database or API spelling; -1 when unknown. */
int cy_task_state_parse(const char *s);

const char *cy_job_state_name(enum cy_job_state s);
bool cy_job_state_terminal(enum cy_job_state s);
int cy_job_state_parse(const char *s);

const char *cy_problem_type(enum cy_problem p);
int cy_problem_status(enum cy_problem p);
const char *cy_problem_title(enum cy_problem p);
int cy_problem_exit_code(enum cy_problem p);
/* The generic problem for an HTTP status (404 -> NOT_FOUND, ...). */
enum cy_problem cy_problem_for_status(int status);

#endif
