/*
 * Unit tests for lib/log.c and lib/error.c: log lines as written to stderr
 * (captured through a pipe), level filtering, JSON format, and error values.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "error.h"
#include "json.h"
#include "log.h"
#include "tap.h"

/* Runs one cy_log call with stderr redirected and returns what it wrote. */
static void
capture(struct cy_buf *out, enum cy_log_level lvl, const char *k, const char *v)
{
	int fds[2], saved = dup(2);

	cy_buf_reset(out);
	if (pipe(fds) < 0)
		return;
	dup2(fds[1], 2);
	close(fds[1]);
	cy_log(lvl, "test_event", k, v, NULL);
	dup2(saved, 2);
	close(saved);
	cy_buf_read_fd(out, fds[0], 65536);
	close(fds[0]);
}

static void
test_log(void)
{
	struct cy_buf b = CY_BUF_INIT;
	json_t *j;

	ok(cy_log_setup("info", "text") == 0, "setup info/text");
	ok(cy_log_setup("loud", "text") == -1, "unknown level rejected");
	ok(cy_log_setup("info", "xml") == -1, "unknown format rejected");
	capture(&b, CY_LOG_INFO, "task_id", "a b");
	ok(strstr(b.buf, "level=info event=test_event task_id=\"a b\"") != NULL,
	    "logfmt line with quoting: %s", b.buf);
	ok(strncmp(b.buf, "ts=", 3) == 0 && b.buf[b.len - 1] == '\n', "timestamp first, one line");
	capture(&b, CY_LOG_DEBUG, "k", "v");
	is_int(b.len, 0, "debug is filtered at level info");
	ok(!cy_log_enabled(CY_LOG_DEBUG) && cy_log_enabled(CY_LOG_ERROR), "cy_log_enabled");
	cy_log_setup("debug", "json");
	capture(&b, CY_LOG_DEBUG, "msg", "line\nbreak");
	j = cy_json_parse(b.buf, b.len, true, NULL);
	ok(j != NULL, "json format is one JSON object: %s", b.buf);
	is_str(cy_json_str(j, "event"), "test_event", "json event");
	is_str(cy_json_str(j, "msg"), "line\nbreak", "json value round-trips");
	json_decref(j);
	cy_log_setup("info", "text");
	cy_buf_release(&b);
}

static void
test_error(void)
{
	struct cy_error err = CY_ERROR_INIT;
	char big[2000];

	ok(cy_error_set(&err, EINVAL, "bad value '%s'", "x") == -1, "set returns -1");
	is_str(err.msg, "bad value 'x'", "message");
	is_int(err.code, EINVAL, "code");
	cy_error_wrap(&err, "loading %s", "node.yaml");
	is_str(err.msg, "loading node.yaml: bad value 'x'", "wrap prefixes context");
	errno = ENOENT;
	cy_error_errno(&err, "open %s", "/x");
	is_str(err.msg, "open /x: No such file or directory", "errno message");
	is_int(err.code, ENOENT, "errno code");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cy_error_set(&err, 0, "%s", big);
	cy_error_wrap(&err, "ctx");
	ok(strlen(err.msg) == sizeof(err.msg) - 1 && strncmp(err.msg, "ctx: ", 5) == 0,
	    "long messages are truncated, context kept");
	cy_error_clear(&err);
	ok(err.code == 0 && err.msg[0] == '\0', "clear");
	ok(cy_error_set(NULL, 1, "x") == -1, "NULL error is allowed");
}

int
main(void)
{
	RUN_TEST(test_log);
	RUN_TEST(test_error);
	return tap_done();
}
