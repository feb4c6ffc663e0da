/*
 * The CreateTask body from command-line flags (cmd-task-create.c): the
 * flags of task create that make the body, shared by task create and
 * schedule create (cmd-schedule.c), so both parse and check them alike.
 */
#ifndef CYNORK_TASK_BODY_H
#define CYNORK_TASK_BODY_H

#include <jansson.h>

#include "cynork.h"

extern const char *const task_mode_choices[];
extern const char *const task_network_choices[];

/* clang-format off */
#define TASK_BODY_OPTS \
	{ .name = "prompt", .shrt = 'p', .kind = OPT_STR, .arg = "TEXT", \
	  .help = "task text, answered by a model (the default mode)" }, \
	{ .name = "task", .shrt = 't', .kind = OPT_STR, .arg = "TEXT", .help = "same as --prompt" }, \
	{ .name = "task-file", .shrt = 'f', .kind = OPT_STR, .arg = "PATH", \
	  .help = "read the task text (for a model) from a file (- = stdin, max 1 MiB)" }, \
	{ .name = "script", .shrt = 's', .kind = OPT_STR, .arg = "PATH", \
	  .help = "run this script in the sandbox (- = stdin, max 256 KiB)" }, \
	{ .name = "command", .kind = OPT_LIST, .arg = "CMD", \
	  .help = "run this shell command in the sandbox (repeatable, in order)" }, \
	{ .name = "commands-file", .kind = OPT_STR, .arg = "PATH", \
	  .help = "run the file's non-blank lines as commands (- = stdin, max 64 KiB)" }, \
	{ .name = "artifact", .kind = OPT_LIST, .arg = "GLOB", \
	  .help = "return the /workspace files GLOB selects (repeatable; default out/)" }, \
	{ .name = "project-id", .kind = OPT_STR, .arg = "ID", \
	  .help = "project to use (default: your default project)" }, \
	{ .name = "input-mode", .kind = OPT_ENUM, .arg = "MODE", \
	  .help = "override the input mode: prompt, script or commands", .choices = task_mode_choices }, \
	{ .name = "model", .kind = OPT_STR, .arg = "MODEL", \
	  .help = "with prompt input: the model that answers (default: the server's choice)" }, \
	{ .name = "allow-pending", .kind = OPT_BOOL, \
	  .help = "queue the job even when no node has the --gpus and --label it asks for (it waits: NoMatchingNode)" }, \
	{ .name = "array", .kind = OPT_STR, .arg = "SPEC", \
	  .help = "a job array: one job per index of SPEC (0-99, 1,3,5-9, 0-20:5; %N: at most N at once), each with CYNODE_ARRAY_INDEX" }, \
	{ .name = "after", .kind = OPT_LIST, .arg = "TASK[:ok|notok|any]", \
	  .help = "wait until TASK (id or name) has ended: completed (ok, the default), failed or canceled (notok), or either (any); repeatable" }, \
	{ .name = "skill", .kind = OPT_LIST, .arg = "NAME", \
	  .help = "with prompt input or --use-sba: give the model your skill NAME (or id) as instructions (repeatable, at most 8)" }, \
	{ .name = "use-sba", .kind = OPT_BOOL, \
	  .help = "with prompt input: an agent works on it in the sandbox, running commands and calling the model" }, \
	{ .name = "job-spec", .kind = OPT_STR, .arg = "FILE", \
	  .help = "an agent job's spec (JSON: steps and/or a goal; - reads stdin); implies --use-sba" }, \
	{ .name = "use-inference", .kind = OPT_BOOL, \
	  .help = "with --command/--script/--commands-file: the sandbox may call a model (INFERENCE_PROXY_URL)" }, \
	{ .name = "env", .shrt = 'e', .kind = OPT_LIST, .arg = "KEY=VALUE", \
	  .help = "set a variable in the job's environment (repeatable; wins over --env-file)" }, \
	{ .name = "env-file", .kind = OPT_LIST, .arg = "FILE", \
	  .help = "read variables from a dotenv file: KEY=VALUE lines, # comments (repeatable)" }, \
	{ .name = "secret", .kind = OPT_LIST, .arg = "NAME[=VAR]", \
	  .help = "give the job your secret NAME as variable VAR (default NAME; repeatable)" }, \
	/* The job's fields (cmd-task-create-job.c). */ \
	{ .name = "image", .kind = OPT_STR, .arg = "IMAGE", \
	  .help = "sandbox image (default: the node's sandbox.default_image)" }, \
	{ .name = "timeout", .kind = OPT_DURATION, .arg = "DUR", \
	  .help = "the job is stopped after DUR (at most 3h; default 1h; nodes may cap it)" }, \
	{ .name = "priority", .kind = OPT_INT, .arg = "N", .min = -1000, .max = 1000, \
	  .help = "higher runs first (-1000 to 1000, default 0)" }, \
	{ .name = "queue", .kind = OPT_STR, .arg = "NAME", \
	  .help = "the queue the job waits in (default: default; cynork queue list)" }, \
	{ .name = "max-attempts", .kind = OPT_INT, .arg = "N", .min = 1, .max = 100, \
	  .help = "runs of the job before it fails for good (1 to 100, default 3)" }, \
	{ .name = "backoff", .kind = OPT_STR, .arg = "DUR", \
	  .help = "wait between attempts (0s to 24h, default 5s)" }, \
	{ .name = "label", .kind = OPT_LIST, .arg = "K=V", \
	  .help = "run only on a node with this label (repeatable; all must match)" }, \
	{ .name = "gpus", .kind = OPT_INT, .arg = "N", .min = 0, .max = 1024, \
	  .help = "run only on a node with N GPUs or more" }, \
	{ .name = "cpus", .kind = OPT_INT, .arg = "N", .min = 1, .max = 4096, \
	  .help = "CPU cores reserved on the node for the job, the most its sandbox may use" }, \
	{ .name = "memory", .kind = OPT_STR, .arg = "SIZE", \
	  .help = "memory reserved on the node for the job, the most its sandbox may use (512M, 2G)" }, \
	{ .name = "network", .kind = OPT_ENUM, .arg = "POLICY", .choices = task_network_choices, \
	  .help = "restricted (default) or none: no network; host: where the node allows it" }, \
	{ .name = "disk", .kind = OPT_STR, .arg = "SIZE", \
	  .help = "size of /workspace, e.g. 2G (at most the node's; writes past it fail)" }, \
	{ .name = "tmp", .kind = OPT_STR, .arg = "SIZE", \
	  .help = "size of the sandbox's private /tmp, e.g. 64M (capped by the node)" }
/* clang-format on */

/* The usage checks of the TASK_BODY_OPTS flags: 0, or the exit code (reported). */
int task_body_check(const struct parsed *p);
/* The CreateTask body of the TASK_BODY_OPTS flags (new) into *req: 0, or the exit code. */
int task_body_build(const struct parsed *p, json_t **req);

#endif
