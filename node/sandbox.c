/*
 * Runtime-independent sandbox helpers: reading a job's output while it
 * runs (secret values masked first), the list of running sandboxes that cancel and shutdown go
 * through, turning how a run ended into its status, exit code and notes (the same for every
 * runtime), and making job output safe for JSON (cut at a UTF-8 boundary, invalid bytes and NULs
 * replaced by U+FFFD, never longer than the cap).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "joblog.h"
#include "mask.h"
#include "sandbox.h"
#include "timeutil.h"
#include "banned.h"

#define KILL_GRACE_MS 5000

static pthread_mutex_t running_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sb_running *running_list;

void
sandbox_note(struct sandbox_result *res, const struct sandbox_job *job, const char *msg)
{
	size_t ml = strlen(msg), max = job->max_output;

	if (res->err.len && res->err.buf[res->err.len - 1] != '\n')
		job_log_write(job->log, JOB_LOG_ERR, "\n", 1);
	job_log_write(job->log, JOB_LOG_ERR, msg, ml);
	/* Keep the note even when stderr is full: it says what happened. */
	if (res->err.len + ml + 1 > max && max > ml + 1)
		cy_buf_setlen(&res->err, max - ml - 1);
	if (res->err.len && res->err.buf[res->err.len - 1] != '\n')
		cy_buf_addch(&res->err, '\n');
	cy_buf_addstr(&res->err, msg);
}

/*
 * The capture point of a job's output, after the masker: bytes it wrote
 * on stream s go to the result (b, kept within max, *trunc set when cut)
 * and, whole, to its streamed log (joblog.h).
 */
static void
sandbox_capture(struct job_log *log, int s, const char *p, size_t n, struct cy_buf *b, size_t max,
    bool *trunc)
{
	size_t keep;

	if (n == 0)
		return;
	job_log_write(log, s, p, n);
	keep = b->len < max ? max - b->len : 0;
	if (n > keep)
		*trunc = true;
	else
		keep = n;
	if (keep)
		cy_buf_add(b, p, keep);
}

/*
 * Reads what fd has into the job's stream s through the masker m (NULL:
 * none) and sandbox_capture; 1 at EOF, when m gives back what it held.
 */
static int
sandbox_drain(int fd, struct cy_mask *m, struct job_log *log, int s, struct cy_buf *b, size_t max,
    bool *trunc)
{
	struct cy_buf masked = CY_BUF_INIT;
	char tmp[65536];
	ssize_t n;

	n = read(fd, tmp, sizeof(tmp));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0) {
		cy_mask_flush(m, &masked);
		sandbox_capture(log, s, masked.buf, masked.len, b, max, trunc);
		cy_buf_release(&masked);
		return 1;
	}
	if (!m) {
		sandbox_capture(log, s, tmp, (size_t)n, b, max, trunc);
		return 0;
	}
	cy_mask_feed(m, tmp, (size_t)n, &masked);
	explicit_bzero(tmp, (size_t)n);
	sandbox_capture(log, s, masked.buf, masked.len, b, max, trunc);
	cy_buf_release(&masked);
	return 0;
}

bool
sandbox_collect(int out_r, int err_r, int st_r, long long timeout_s, size_t max,
    const char *const *secrets, struct sandbox_result *res, struct cy_buf *status,
    bool (*killed)(void *), void (*kill_now)(void *), void *arg, struct job_log *log)
{
	struct pollfd p[3] = { { .fd = out_r, .events = POLLIN }, { .fd = err_r, .events = POLLIN },
		{ .fd = st_r, .events = POLLIN } };
	int64_t deadline = cy_mono_ms() + timeout_s * 1000, grace_end = 0;
	bool timed_out = false, st_trunc = false;
	struct cy_mask *mask_out = cy_mask_new(secrets), *mask_err = cy_mask_new(secrets);
	int open_n = 0, i, ms;

	for (i = 0; i < 3; i++)
		open_n += p[i].fd >= 0;
	while (open_n > 0) {
		int64_t now = cy_mono_ms();

		if (!timed_out && now >= deadline) {
			timed_out = true;
			kill_now(arg);
			grace_end = now + KILL_GRACE_MS;
		}
		if (!grace_end && killed(arg))
			grace_end = now + KILL_GRACE_MS;
		if (grace_end && now >= grace_end)
			break;
		ms = (int)((grace_end ? grace_end : deadline) - now);
		if (ms > 200)
			ms = 200;
		if (ms < 0)
			ms = 0;
		if (poll(p, 3, ms) < 0 && errno != EINTR)
			break;
		for (i = 0; i < 3; i++) {
			int eof;

			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (i == 0)
				eof = sandbox_drain(p[i].fd, mask_out, log, JOB_LOG_OUT, &res->out,
				    max, &res->trunc_out);
			else if (i == 1)
				eof = sandbox_drain(p[i].fd, mask_err, log, JOB_LOG_ERR, &res->err,
				    max, &res->trunc_err);
			else
				eof =
				    sandbox_drain(p[i].fd, NULL, NULL, -1, status, 4096, &st_trunc);
			if (eof) {
				p[i].fd = -1;
				open_n--;
			}
		}
	}
	/* Streams cut short by the grace period: what the maskers held. */
	if (p[0].fd >= 0)
		sandbox_drain(-1, mask_out, log, JOB_LOG_OUT, &res->out, max, &res->trunc_out);
	if (p[1].fd >= 0)
		sandbox_drain(-1, mask_err, log, JOB_LOG_ERR, &res->err, max, &res->trunc_err);
	cy_mask_free(mask_out);
	cy_mask_free(mask_err);
	return timed_out;
}

void
sb_running_add(struct sb_running *r)
{
	pthread_mutex_lock(&running_lock);
	r->next = running_list;
	running_list = r;
	pthread_mutex_unlock(&running_lock);
}

void
sb_running_del(struct sb_running *r)
{
	struct sb_running **pp;

	pthread_mutex_lock(&running_lock);
	for (pp = &running_list; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	pthread_mutex_unlock(&running_lock);
}

bool
sb_running_killed(void *arg)
{
	struct sb_running *r = arg;
	bool k;

	pthread_mutex_lock(&running_lock);
	k = r->killed != SB_KILLED_NONE;
	pthread_mutex_unlock(&running_lock);
	return k;
}

int
sb_running_stop(const char *runtime, const char *job_id, enum sb_killed how,
    void (*stop)(struct sb_running *r))
{
	struct sb_running *r;
	int found = -1;

	pthread_mutex_lock(&running_lock);
	for (r = running_list; r; r = r->next) {
		if (strcmp(r->runtime, runtime) || (job_id && strcmp(r->job_id, job_id)))
			continue;
		if (!r->killed)
			r->killed = how;
		stop(r);
		found = 0;
	}
	pthread_mutex_unlock(&running_lock);
	return found;
}

void
sandbox_finish(struct sandbox_result *res, const struct sb_outcome *o,
    const struct sandbox_job *job)
{
	char msg[256];

	res->oom = o->oom;
	res->pids_hit = o->pids_hit;
	res->status = SANDBOX_FAILED;
	res->exit_code = -1;
	if (o->timed_out) {
		res->status = SANDBOX_TIMEOUT;
		xsnprintf(msg, sizeof(msg), "cynode: killed: timeout after %lld s\n",
		    job->timeout_s);
		sandbox_note(res, job, o->timeout_bare ? "cynode: killed: timeout\n" : msg);
	} else if (o->killed == SB_KILLED_CANCEL) {
		res->status = SANDBOX_CANCELED;
		sandbox_note(res, job, "cynode: killed: job canceled\n");
	} else if (o->killed) {
		sandbox_note(res, job, "cynode: killed: the node is shutting down\n");
	} else if (!o->launch_failed) {
		res->exit_code = o->exit_code;
		if (o->exit_code == 0)
			res->status = SANDBOX_COMPLETED;
	}
	if (o->oom) {
		if (res->status == SANDBOX_COMPLETED)
			res->status = SANDBOX_FAILED;
		if (res->exit_code == 0)
			res->exit_code = 137;
		xsnprintf(msg, sizeof(msg),
		    "cynode: killed: out of memory (memory limit %lld MB)\n", job->limits.mem_mb);
		sandbox_note(res, job, msg);
	}
	if (o->pids_hit) {
		xsnprintf(msg, sizeof(msg),
		    "cynode: the job reached its process limit "
		    "(%lld processes); further forks failed\n",
		    job->limits.pids);
		sandbox_note(res, job, msg);
	}
}

void
sandbox_result_init(struct sandbox_result *res)
{
	memset(res, 0, sizeof(*res));
	res->out = (struct cy_buf)CY_BUF_INIT;
	res->err = (struct cy_buf)CY_BUF_INIT;
}

void
sandbox_result_release(struct sandbox_result *res)
{
	cy_buf_release(&res->out);
	cy_buf_release(&res->err);
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 when invalid. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	size_t len, i;

	if (c >= 0x01 && c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		len = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		len = 4;
	else
		return 0;
	if (n < len)
		return 0;
	if (c == 0xE0)
		lo = 0xA0;
	else if (c == 0xED)
		hi = 0x9F;
	else if (c == 0xF0)
		lo = 0x90;
	else if (c == 0xF4)
		hi = 0x8F;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return len;
}

void
sandbox_utf8_clean(struct cy_buf *b, size_t max)
{
	static const char repl[] = "\xEF\xBF\xBD";
	const unsigned char *s = (const unsigned char *)b->buf;
	struct cy_buf out = CY_BUF_INIT;
	size_t i = 0, n = b->len, l;
	bool dirty = false;

	for (i = 0; i < n; i += l) {
		l = utf8_seq(s + i, n - i);
		if (!l) {
			dirty = true;
			break;
		}
	}
	if (!dirty && n <= max)
		return;
	for (i = 0; i < n; i += l) {
		l = utf8_seq(s + i, n - i);
		if (l) {
			if (out.len + l > max)
				break;
			cy_buf_add(&out, s + i, l);
		} else {
			size_t need = s[i] >= 0xF0 ? 4 : s[i] >= 0xE0 ? 3 : 2;

			/* A code point cut by the output cap: drop it. */
			if (s[i] >= 0xC2 && s[i] <= 0xF4 && n - i < need)
				break;
			l = 1;
			if (out.len + 3 > max)
				break;
			cy_buf_add(&out, repl, 3);
		}
	}
	cy_buf_release(b);
	*b = out;
}
