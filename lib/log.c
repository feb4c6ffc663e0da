/*
 * Logging to stderr: one line per event, either logfmt
 * ("ts=2026-02-16T12:00:00Z level=info event=x k=v") or, with format "json",
 * one JSON object per line.  Each line goes out in a single write(2), so lines
 * from concurrent threads never interleave.  Configuration is set once at
 * startup by cy_log_setup(); reads are lock-free.
 */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "log.h"
#include "logfmt.h"
#include "timeutil.h"

#include "banned.h"

static atomic_int log_min_level = CY_LOG_INFO;
static atomic_int log_json;

static const char *const log_level_names[] = {
	[CY_LOG_DEBUG] = "debug",
	[CY_LOG_INFO] = "info",
	[CY_LOG_WARN] = "warn",
	[CY_LOG_ERROR] = "error",
};

int
cy_log_setup(const char *level, const char *format)
{
	int lvl = -1, json = -1;
	size_t i;

	if (level == NULL || *level == '\0') {
		lvl = atomic_load(&log_min_level);
	} else {
		for (i = 0; i < sizeof(log_level_names) / sizeof(log_level_names[0]); i++)
			if (strcasecmp(level, log_level_names[i]) == 0)
				lvl = (int)i;
		if (lvl < 0 && strcasecmp(level, "warning") == 0)
			lvl = CY_LOG_WARN;
	}
	if (format == NULL || *format == '\0')
		json = atomic_load(&log_json);
	else if (strcasecmp(format, "text") == 0 || strcasecmp(format, "logfmt") == 0)
		json = 0;
	else if (strcasecmp(format, "json") == 0)
		json = 1;
	if (lvl < 0 || json < 0)
		return -1;
	atomic_store(&log_min_level, lvl);
	atomic_store(&log_json, json);
	return 0;
}

int
cy_log_enabled(enum cy_log_level level)
{
	return (int)level >= atomic_load(&log_min_level);
}

/* A JSON string for v; invalid UTF-8 bytes become '?' so the line is never lost. */
static json_t *
log_json_string(const char *v)
{
	json_t *j = json_string(v);
	char *copy;
	size_t i;

	if (j)
		return j;
	copy = xstrdup(v);
	for (i = 0; copy[i]; i++)
		if ((unsigned char)copy[i] >= 0x80)
			copy[i] = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

/* Writes the whole buffer to stderr, retrying short writes. */
static void
log_write(const char *p, size_t len)
{
	int saved = errno;

	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	errno = saved;
}

void
cy_log(enum cy_log_level level, const char *event, ...)
{
	struct cy_buf line = CY_BUF_INIT;
	char ts[CY_RFC3339_LEN + 1];
	const char *lname;
	const char *key, *value;
	va_list ap;

	if (!cy_log_enabled(level))
		return;
	if ((unsigned)level > CY_LOG_ERROR)
		level = CY_LOG_ERROR;
	lname = log_level_names[level];
	cy_now_rfc3339(ts);
	va_start(ap, event);
	if (atomic_load(&log_json)) {
		json_t *obj = json_object();
		char *s;

		json_object_set_new(obj, "ts", json_string(ts));
		json_object_set_new(obj, "level", json_string(lname));
		json_object_set_new(obj, "event", log_json_string(event ? event : ""));
		while ((key = va_arg(ap, const char *)) != NULL) {
			value = va_arg(ap, const char *);
			json_object_set_new(obj, key, value ? log_json_string(value) : json_null());
		}
		s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
		json_decref(obj);
		if (s) {
			cy_buf_addstr(&line, s);
			free(s);
		}
	} else {
		cy_logfmt_pair(&line, "ts", ts);
		cy_logfmt_pair(&line, "level", lname);
		cy_logfmt_pair(&line, "event", event ? event : "");
		while ((key = va_arg(ap, const char *)) != NULL) {
			value = va_arg(ap, const char *);
			cy_logfmt_pair(&line, key, value ? value : "");
		}
	}
	va_end(ap);
	cy_buf_addch(&line, '\n');
	log_write(line.buf, line.len);
	cy_buf_release(&line);
}
