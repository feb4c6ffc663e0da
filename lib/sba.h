/*
 * Agent (SBA) jobs: the job spec the orchestrator sends and the result the
 * agent runner (cynode-sba) gives back, checked by one set of rules in the
 * server (task create), the node (the RunJobRequest and the result it
 * reads back) and the runner itself (README "Agent jobs").
 *
 * A spec, protocol 1.x:
 *
 *	{"protocol_version": "1.0", "job_id": "<the job's id>",
 *	 "task_id": "...", "goal": "what the agent is to do", "model": "...",
 *	 "instructions": "Markdown the model gets as its system prompt (skills)",
 *	 "max_steps": 8, "steps": [
 *	   {"id": "build", "type": "run", "argv": ["make"], "timeout_seconds": 60},
 *	   {"type": "write_file", "path": "out/notes.md", "content": "..."},
 *	   {"type": "inference", "prompt": "...", "save_as": "out/summary.md"}]}
 *
 * The steps run in order; then, with a goal, the model drives the rest
 * through tool calls (run_command, write_file, read_file), at most
 * max_steps of them, and its last answer is the reply.  An unknown major
 * version, a member no rule names and a missing job_id are refused, each
 * naming the field.
 */
#ifndef CY_SBA_H
#define CY_SBA_H

#include <jansson.h>
#include <stdbool.h>

#include "buf.h"

#define CY_SBA_PROTOCOL "1.0"
#define CY_SBA_STEPS_MAX 64
#define CY_SBA_AGENT_STEPS_DEFAULT 8
#define CY_SBA_GOAL_MAX (64 * 1024)
#define CY_SBA_CONTENT_MAX (1024 * 1024)
#define CY_SBA_INSTRUCTIONS_MAX (1024 * 1024)
#define CY_SBA_RESULT_MAX (4 * 1024 * 1024)
/* Where the runner leaves its result, relative to /workspace. */
#define CY_SBA_RESULT_DIR ".cynode"
#define CY_SBA_RESULT_FILE "sba_result.json"

/*
 * Checks a job spec.  With need_job_id the spec must carry job_id (and, when
 * job_id is not NULL, exactly that one).  0, or -1 with one sentence in why
 * naming the field ("steps[2].argv must be ...").
 */
int cy_sba_spec_check(const json_t *spec, bool need_job_id, const char *job_id, struct cy_buf *why);
/*
 * Checks an agent's result: protocol_version (major 1), job_id (equal to
 * job_id when not NULL), status (completed | failed), steps (objects with
 * a type and a status) and artifacts (strings), and reply/error strings
 * when present.  0, or -1 with the reason in why.
 */
int cy_sba_result_check(const json_t *res, const char *job_id, struct cy_buf *why);

#endif
