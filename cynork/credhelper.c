/*
 * The credential helper protocol (spec/cli.md section 2, with the `erase`
 * action of section 9): the helper named by `credential_helper` is run with
 * no arguments, a minimal environment (PATH, HOME) and a 10 s timeout; it
 * gets one JSON line on stdin ({"action":"get"|"store"|"erase"}, plus
 * "secret" for store, and "context": NAME for a named context, so a helper
 * can keep one secret per context) and answers one JSON line on stdout ({"secret":...},
 * {} or {"error":...}).  The secret never goes on argv or in the
 * environment.  A value containing '/' is a path; any other name runs
 * `cynork-credential-NAME` from PATH (git's credential-helper naming).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "cynork.h"
#include "json.h"
#include "timeutil.h"
#include "banned.h"

#define HELPER_TIMEOUT_MS 10000
#define HELPER_OUT_MAX 65536

static void
child_exec(const char *helper, int in, int out)
{
	const char *home = getenv("HOME"), *path = getenv("PATH");
	char *envp[3], *prog;
	int n = 0;

	envp[n++] = xasprintf("PATH=%s", path ? path : "/usr/local/bin:/usr/bin:/bin");
	if (home)
		envp[n++] = xasprintf("HOME=%s", home);
	envp[n] = NULL;
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0)
		_exit(127);
	prog = strchr(helper, '/') ? xstrdup(helper) : xasprintf("cynork-credential-%s", helper);
	{
		char *argv[] = { prog, NULL };

		execvpe(prog, argv, envp);
	}
	_exit(127);
}

/*
 * Writes req to the helper's stdin (then closes it) while reading its
 * stdout into out, until the helper closes stdout or the deadline passes.
 * True when the deadline passed.
 */
static bool
helper_exchange(int in_fd, int out_fd, const char *req, size_t reqlen, struct cy_buf *out)
{
	int64_t deadline = cy_mono_ms() + HELPER_TIMEOUT_MS;
	size_t sent = 0;

	fcntl(in_fd, F_SETFL, O_NONBLOCK);
	for (;;) {
		struct pollfd pf[2] = { { .fd = out_fd, .events = POLLIN },
			{ .fd = in_fd, .events = POLLOUT } };
		int64_t left = deadline - cy_mono_ms();
		char chunk[4096];
		ssize_t n;

		if (left <= 0)
			break;
		if (poll(pf, in_fd >= 0 ? 2 : 1, (int)left) < 0 && errno != EINTR)
			break;
		if (in_fd >= 0 && (pf[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
			n = write(in_fd, req + sent, reqlen - sent);
			if (n > 0)
				sent += (size_t)n;
			if (n < 0 || sent == reqlen) {
				if (n >= 0 && write(in_fd, "\n", 1) < 0)
					n = -1;
				close(in_fd);
				in_fd = -1;
			}
		}
		if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(out_fd, chunk, sizeof(chunk));
			if (n <= 0 || out->len + (size_t)n > HELPER_OUT_MAX)
				break;
			cy_buf_add(out, chunk, (size_t)n);
		}
	}
	if (in_fd >= 0)
		close(in_fd);
	return deadline - cy_mono_ms() <= 0;
}

/* The helper's answer: its exit status, then one JSON object without "error". */
static int
helper_reply(const char *helper, int status, struct cy_buf *out, json_t **reply)
{
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return fail(EXIT_AUTH, "credential helper '%s' failed (%s %d)%s", helper,
		    WIFEXITED(status) ? "exit status" : "signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
		    WIFEXITED(status) && WEXITSTATUS(status) == 127 ?
			": not found; give an absolute path or install cynork-credential-NAME" :
			"");
	out->len = strcspn(out->buf, "\n");
	*reply = cy_json_parse(out->buf, out->len, true, NULL);
	if (!json_is_object(*reply)) {
		json_decref(*reply);
		*reply = NULL;
		return fail(EXIT_AUTH,
		    "credential helper '%s' answered something that is not a JSON object", helper);
	}
	if (cy_json_str(*reply, "error")) {
		fail(EXIT_AUTH, "credential helper '%s': %s", helper, cy_json_str(*reply, "error"));
		json_decref(*reply);
		*reply = NULL;
		return EXIT_AUTH;
	}
	return 0;
}

/* Runs the helper with request on stdin; *reply gets its parsed answer. */
static int
helper_run(const char *helper, json_t *request, json_t **reply)
{
	char *req = json_dumps(request, JSON_COMPACT);
	struct cy_buf out = CY_BUF_INIT;
	int inp[2] = { -1, -1 }, outp[2] = { -1, -1 }, status = 0;
	size_t reqlen = strlen(req);
	bool timed_out;
	pid_t pid;
	int rc;

	*reply = NULL;
	if (pipe2(inp, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		rc = fail(EXIT_INTERNAL, "credential helper: %s", strerror(errno));
		goto out;
	}
	if (pid == 0)
		child_exec(helper, inp[0], outp[1]);
	close(inp[0]);
	close(outp[1]);
	inp[0] = outp[1] = -1;
	timed_out = helper_exchange(inp[1], outp[0], req, reqlen, &out);
	inp[1] = -1;
	if (timed_out)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (timed_out)
		rc = fail(EXIT_AUTH, "credential helper '%s' did not answer within %d s", helper,
		    HELPER_TIMEOUT_MS / 1000);
	else
		rc = helper_reply(helper, status, &out, reply);
out:
	if (inp[0] >= 0)
		close(inp[0]);
	if (inp[1] >= 0)
		close(inp[1]);
	if (outp[0] >= 0)
		close(outp[0]);
	if (outp[1] >= 0)
		close(outp[1]);
	explicit_bzero(req, reqlen);
	free(req);
	if (out.alloc)
		explicit_bzero(out.buf, out.alloc);
	cy_buf_release(&out);
	return rc;
}

/* {"action": action[, "context": context]} */
static json_t *
helper_req(const char *action, const char *context)
{
	json_t *req = json_pack("{s:s}", "action", action);

	if (context)
		json_object_set_new(req, "context", json_string(context));
	return req;
}

int
credhelper_get(const char *helper, const char *context, char **secret)
{
	json_t *req = helper_req("get", context), *reply = NULL;
	const char *s;
	int rc = helper_run(helper, req, &reply);

	json_decref(req);
	*secret = NULL;
	if (rc)
		return rc;
	s = cy_json_str(reply, "secret");
	if (s && *s)
		*secret = xstrdup(s);
	json_decref(reply);
	return 0;
}

int
credhelper_store(const char *helper, const char *context, const char *secret)
{
	json_t *req = helper_req("store", context), *reply = NULL;
	int rc;

	json_object_set_new(req, "secret", json_string(secret));
	rc = helper_run(helper, req, &reply);

	json_object_clear(req);
	json_decref(req);
	json_decref(reply);
	return rc;
}

int
credhelper_erase(const char *helper, const char *context)
{
	json_t *req = helper_req("erase", context), *reply = NULL;
	int rc = helper_run(helper, req, &reply);

	json_decref(req);
	json_decref(reply);
	return rc;
}
