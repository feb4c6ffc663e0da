/*
 * steps.c: what a step does -- run a command, write or read a file -- in
 * the job's workspace, each giving back its record for the result:
 * {id, type, origin, status, exit_code, duration_ms, output, ...}.  A
 * command's output goes to the job's stdout as it comes (the job's log
 * has all of it); the record keeps its first SBA_OUTPUT_KEEP bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "fsutil.h"
#include "json.h"
#include "relpath.h"
#include "runner.h"
#include "banned.h"

#define READ_MAX (256 * 1024)

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

json_t *
sba_json_text(const char *s, size_t n)
{
	struct cy_buf clean = CY_BUF_INIT;
	json_t *v;

	cy_utf8_sanitize(s ? s : "", s ? n : 0, true, &clean);
	v = json_stringn(clean.buf ? clean.buf : "", clean.len);
	cy_buf_release(&clean);
	return v;
}

static json_t *
record_new(struct sba_run *r, const char *type, const char *origin)
{
	r->nstep++;
	return json_pack("{s:s, s:s, s:s}", "id", "", "type", type, "origin", origin);
}

static void
record_output(json_t *rec, const struct cy_buf *out, size_t total)
{
	struct cy_buf clean = CY_BUF_INIT;

	cy_utf8_sanitize(out->buf ? out->buf : "", out->len, true, &clean);
	json_object_set_new(rec, "output", json_string(clean.buf ? clean.buf : ""));
	if (total > out->len)
		json_object_set_new(rec, "output_truncated_bytes",
		    json_integer((json_int_t)(total - out->len)));
	cy_buf_release(&clean);
}

bool
sba_step_ok(const json_t *rec)
{
	const char *s = cy_json_str(rec, "status");

	return s && !strcmp(s, "ok");
}

/*
 * The output is closed (or unreadable): the child may still run (its
 * output redirected).  Waits for it until the deadline; false on timeout.
 */
static bool
wait_end(pid_t pid, long long deadline, int *st, bool *reaped)
{
	while (!*reaped) {
		pid_t w = waitpid(pid, st, WNOHANG);

		if (w == pid || (w < 0 && errno != EINTR)) {
			*reaped = true;
			break;
		}
		if (now_ms() >= deadline)
			return false;
		(void)poll(NULL, 0, 20);
	}
	return true;
}

/*
 * Reads the child's output until it closes or the deadline; false on
 * timeout.  Once the child itself has ended (*st set, *reaped), what it
 * left in the background gets a second to finish writing: a command that
 * starts a daemon does not hold its step until the timeout.
 */
static bool
drain(int fd, pid_t pid, long long deadline, struct cy_buf *keep, size_t *total, int *st,
    bool *reaped)
{
	char chunk[8192];

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		long long left;
		ssize_t n;

		if (!*reaped && waitpid(pid, st, WNOHANG) == pid) {
			*reaped = true;
			if (deadline > now_ms() + 1000)
				deadline = now_ms() + 1000;
		}
		left = deadline - now_ms();
		if (left <= 0)
			return *reaped;
		if (poll(&pfd, 1, left > 200 ? 200 : (int)left) < 0) {
			if (errno == EINTR)
				continue;
			return wait_end(pid, deadline, st, reaped);
		}
		if (!pfd.revents)
			continue;
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return wait_end(pid, deadline, st, reaped);
		(void)cy_write_all(STDOUT_FILENO, chunk, (size_t)n);
		if (keep->len < SBA_OUTPUT_KEEP)
			cy_buf_add(keep, chunk,
			    (size_t)n < SBA_OUTPUT_KEEP - keep->len ? (size_t)n :
								      SBA_OUTPUT_KEEP - keep->len);
		*total += (size_t)n;
	}
}

json_t *
sba_step_run(struct sba_run *r, const char *origin, const char *const *argv, long long timeout_s)
{
	json_t *rec = record_new(r, "run", origin), *a = json_array();
	struct cy_buf keep = CY_BUF_INIT;
	long long t0 = now_ms();
	size_t total = 0, i;
	int pfd[2], st = 0;
	bool done, reaped = false;
	pid_t pid;

	for (i = 0; argv[i]; i++)
		json_array_append_new(a, json_string(argv[i]));
	json_object_set_new(rec, "argv", a);
	fflush(stdout);
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		json_object_set_new(rec, "status", json_string("failed"));
		json_object_set_new(rec, "error",
		    json_sprintf("cannot start: %s", strerror(errno)));
		return rec;
	}
	if ((pid = fork()) < 0) {
		json_object_set_new(rec, "status", json_string("failed"));
		json_object_set_new(rec, "error",
		    json_sprintf("cannot start: %s", strerror(errno)));
		close(pfd[0]);
		close(pfd[1]);
		return rec;
	}
	if (pid == 0) {
		(void)setpgid(0, 0);
		(void)dup2(pfd[1], STDOUT_FILENO);
		(void)dup2(pfd[1], STDERR_FILENO);
		if (chdir(r->workspace) < 0)
			_exit(126);
		execvp(argv[0], (char *const *)argv);
		dprintf(STDERR_FILENO, "cynode-sba: %s: %s\n", argv[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	(void)setpgid(pid, pid);
	close(pfd[1]);
	done = drain(pfd[0], pid, t0 + timeout_s * 1000, &keep, &total, &st, &reaped);
	close(pfd[0]);
	if (!done)
		(void)kill(-pid, SIGKILL);
	while (!reaped && waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	/* What the command left running in its group ends with it. */
	(void)kill(-pid, SIGKILL);
	json_object_set_new(rec, "duration_ms", json_integer(now_ms() - t0));
	record_output(rec, &keep, total);
	if (!done) {
		json_object_set_new(rec, "status", json_string("timeout"));
		json_object_set_new(rec, "error",
		    json_sprintf("no end after %lld s (timeout_seconds)", timeout_s));
	} else {
		int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);

		json_object_set_new(rec, "exit_code", json_integer(code));
		json_object_set_new(rec, "status", json_string(code == 0 ? "ok" : "failed"));
	}
	cy_buf_release(&keep);
	return rec;
}

/* path under the workspace, checked; NULL (and the record failed) when not safe. */
static char *
ws_path(struct sba_run *r, json_t *rec, const char *path)
{
	const char *why = NULL;

	json_object_set_new(rec, "path", json_string(path ? path : ""));
	if (!path || !cy_relpath_valid(path, strlen(path), &why)) {
		struct cy_buf b = CY_BUF_INIT;

		json_object_set_new(rec, "status", json_string("failed"));
		cy_buf_addf(&b, "path '%.200s' %s", path ? path : "",
		    why ? why : "is not a relative path");
		json_object_set_new(rec, "error", sba_json_text(b.buf, b.len));
		cy_buf_release(&b);
		return NULL;
	}
	return xasprintf("%s/%s", r->workspace, path);
}

json_t *
sba_step_write(struct sba_run *r, const char *origin, const char *path, const char *content,
    size_t len)
{
	json_t *rec = record_new(r, "write_file", origin);
	char *full = ws_path(r, rec, path), *slash;
	int fd;

	if (!full)
		return rec;
	slash = strrchr(full, '/');
	*slash = '\0';
	if (cy_mkdir_p(full, 0755, 0755) < 0) {
		json_object_set_new(rec, "status", json_string("failed"));
		json_object_set_new(rec, "error",
		    json_sprintf("cannot create its directory: %s", strerror(errno)));
		free(full);
		return rec;
	}
	*slash = '/';
	fd = open(full, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 || cy_write_all(fd, content, len) < 0) {
		json_object_set_new(rec, "status", json_string("failed"));
		json_object_set_new(rec, "error",
		    json_sprintf("cannot write: %s", strerror(errno)));
	} else {
		json_object_set_new(rec, "status", json_string("ok"));
		json_object_set_new(rec, "bytes", json_integer((json_int_t)len));
		json_array_append_new(r->artifacts, json_string(path));
		printf("    wrote %s (%zu bytes)\n", path, len);
	}
	if (fd >= 0)
		close(fd);
	free(full);
	return rec;
}

json_t *
sba_step_read(struct sba_run *r, const char *origin, const char *path, struct cy_buf *out)
{
	json_t *rec = record_new(r, "read_file", origin);
	char *full = ws_path(r, rec, path);
	int fd;

	if (!full)
		return rec;
	fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || cy_buf_read_fd(out, fd, READ_MAX) < 0) {
		json_object_set_new(rec, "status", json_string("failed"));
		json_object_set_new(rec, "error", json_sprintf("cannot read: %s", strerror(errno)));
	} else {
		json_object_set_new(rec, "status", json_string("ok"));
		json_object_set_new(rec, "bytes", json_integer((json_int_t)out->len));
	}
	if (fd >= 0)
		close(fd);
	free(full);
	return rec;
}
