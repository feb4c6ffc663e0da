/*
 * cynork's exit codes, one table: cynork(1) EXIT STATUS is generated from
 * it and -o json's "cynork_error" names a code by it.
 *
 * The scheme (README, cynork(1)): cynork's own failures are the sysexits.h
 * codes 64 to 78, a range no shell, signal or timeout(1) convention uses.
 * The commands that wait for a job (task wait; task create --wait,
 * --follow) exit with the job's own code, which may be anything from 0 to
 * 255, so there every failure of cynork's own exits 125 instead, as
 * docker run and timeout(1) do, and says which on standard error
 * ("cynork: error: ...", then the sysexits code) and, with -o json, in a
 * {"cynork_error": {...}} object on standard output.
 */
#include <stddef.h>

#include "cynork.h"
#include "banned.h"

/* clang-format off */
const struct exit_code exit_codes[] = {
	{ EXIT_OK, "ok", "success; also a declined [y/N] confirmation" },
	{ EXIT_JOB_FAILED, "job_failed",
	  "waiting for a job: it failed without an exit code (prompt mode, launch error, node lost)" },
	{ EXIT_USAGE, "usage",
	  "usage (EX_USAGE): unknown command or flag, bad flag value, missing argument, mutually "
	  "exclusive flags, file checks and size limits, a destructive command without -y and "
	  "without a terminal to ask on" },
	{ EXIT_VALIDATION, "data_error",
	  "the gateway refused the data (EX_DATAERR): HTTP 400, 413 or 422" },
	{ EXIT_NOT_FOUND, "not_found", "not found (EX_NOINPUT): HTTP 404, an unknown context" },
	{ EXIT_GATEWAY, "unavailable",
	  "gateway or network (EX_UNAVAILABLE): cannot connect or verify TLS, HTTP 5xx, "
	  "status finds the gateway unhealthy" },
	{ EXIT_INTERNAL, "internal",
	  "internal (EX_SOFTWARE): cannot write standard output, cannot write the config file, "
	  "cannot run a command" },
	{ EXIT_CONFLICT, "conflict",
	  "conflict (EX_CANTCREAT): HTTP 409 (the name is taken, the task has ended), the output "
	  "file exists, the context exists" },
	{ EXIT_TEMPFAIL, "temporary",
	  "temporary failure (EX_TEMPFAIL): a request timed out, HTTP 429; trying again may work" },
	{ EXIT_PROTOCOL, "protocol",
	  "a malformed response (EX_PROTOCOL): not the JSON the gateway should answer" },
	{ EXIT_AUTH, "auth",
	  "auth (EX_NOPERM): not logged in, HTTP 401 or 403, no refresh token, the credential "
	  "helper failed" },
	{ EXIT_CONFIG, "config",
	  "configuration (EX_CONFIG): the config file is unreadable, not YAML or holds a bad "
	  "value; no HOME to find it" },
	{ EXIT_TIMEOUT, "timeout",
	  "a --timeout or --wait-timeout ran out, or the job timed out on the node (standard "
	  "error says which)" },
	{ EXIT_WAIT_FAILED, "wait_failed",
	  "a command that waits for a job (task wait, task create --wait or --follow) failed "
	  "for a reason of cynork's own, its sysexits code on standard error and in -o json's "
	  "cynork_error" },
	{ EXIT_INTERRUPTED, "interrupted",
	  "inside cynork shell: the command was stopped with Ctrl-C; a one-message chat "
	  "interrupted" },
	{ EXIT_CANCELED, "canceled", "waiting for a job: the task was canceled (128 + SIGTERM)" },
	{ -1, NULL, NULL }
};
/* clang-format on */

const char *
exit_name(int code)
{
	size_t i;

	for (i = 0; exit_codes[i].name; i++)
		if (exit_codes[i].code == code)
			return exit_codes[i].name;
	return "error";
}
