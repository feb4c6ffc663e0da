/*
 * Logging: one line per event on stderr, "ts=... level=... event=... k=v ..."
 * (logfmt), or one JSON object per line with format "json".  Secrets are
 * never passed to these functions.
 */
#ifndef CY_LOG_H
#define CY_LOG_H

enum cy_log_level {
	CY_LOG_DEBUG,
	CY_LOG_INFO,
	CY_LOG_WARN,
	CY_LOG_ERROR
};

/* level: "debug", "info", "warn", "error"; format: "text" or "json". -1 on bad values. */
int cy_log_setup(const char *level, const char *format);
int cy_log_enabled(enum cy_log_level level);
/*
 * Logs `event` with key/value pairs given as a NULL-terminated list of
 * (const char *key, const char *value) pairs.  Values are quoted as needed.
 *   cy_log(CY_LOG_INFO, "task_created", "task_id", id, "user", handle, NULL);
 */
void cy_log(enum cy_log_level level, const char *event, ...) __attribute__((sentinel));

#define cy_log_info(ev, ...) cy_log(CY_LOG_INFO, ev, __VA_ARGS__)
#define cy_log_warn(ev, ...) cy_log(CY_LOG_WARN, ev, __VA_ARGS__)
#define cy_log_error(ev, ...) cy_log(CY_LOG_ERROR, ev, __VA_ARGS__)
#define cy_log_debug(ev, ...) cy_log(CY_LOG_DEBUG, ev, __VA_ARGS__)

#endif
