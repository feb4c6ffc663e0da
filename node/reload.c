/*
 * Logging setup and SIGHUP.  At start the node takes logging.level,
 * logging.format and logging.file from node.yaml; a SIGHUP reads node.yaml
 * again into a fresh configuration and takes the same three from it
 * (logging.file opened anew, so a rotated log file is let go).  Everything
 * else (orchestrator, Worker API, sandbox, inference, state dir) needs a
 * restart; a file that does not load is logged and changes nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "node.h"
#include "notify.h"

#include "banned.h"

/* Points stderr at `file` (append) when set.  -1 with err when it cannot be opened. */
static int
reopen_log_file(const char *file, struct cy_error *err)
{
	int fd;

	if (!file || !*file)
		return 0;
	fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0 || dup2(fd, STDERR_FILENO) < 0) {
		cy_error_set(err, errno, "cannot open log file '%s': %s", file, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int
node_logging_setup(const struct node_config *c, struct cy_error *err)
{
	if (reopen_log_file(c->log_file, err) < 0)
		return -1;
	if (cy_log_setup(c->log_level, c->log_format) < 0)
		return cy_error_set(err, EINVAL, "bad logging settings");
	return 0;
}

int
node_reload(const char *path)
{
	struct cy_error err = CY_ERROR_INIT;
	struct node_config fresh;
	int rc = -1;

	cy_notify_reloading();
	memset(&fresh, 0, sizeof(fresh));
	if (node_config_load(&fresh, path ? path : NODE_DEFAULT_CONFIG, false, &err) < 0 ||
	    node_logging_setup(&fresh, &err) < 0) {
		cy_log_error("reload_failed", "error", err.msg, "note",
		    "the running configuration stays", NULL);
		goto out;
	}
	cy_log_warn("config_reloaded", "log_level", fresh.log_level, "log_format", fresh.log_format,
	    "log_file", fresh.log_file ? fresh.log_file : "", "note",
	    "other settings need a restart", NULL);
	rc = 0;
out:
	node_config_release(&fresh);
	cy_notify_ready("running");
	return rc;
}
