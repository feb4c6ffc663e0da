/*
 * Logging setup and SIGHUP.  At start the node takes logging.level,
 * logging.format and logging.file_path from node.yaml; a SIGHUP reads
 * node.yaml again into a fresh configuration and takes the same three from
 * it, the keys marked reloadable in the table (logging.file_path opened
 * anew, so a rotated log file is let go).  Everything else (orchestrator,
 * Worker API, sandbox, inference, state dir) needs a restart: the keys that
 * differ from the file as it was at start are logged by path
 * (config_needs_restart).  A file that does not load is logged and changes
 * nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "node.h"
#include "notify.h"

#include "banned.h"

/* node.yaml as it was at start (the running configuration is changed by config pushes). */
static struct node_config reload_base;
static bool reload_base_ok;

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

void
node_reload_init(const char *path)
{
	struct cy_error err = CY_ERROR_INIT;

	reload_base_ok =
	    node_config_load(&reload_base, path ? path : NODE_DEFAULT_CONFIG, false, &err) == 0;
}

void
node_reload_release(void)
{
	if (reload_base_ok)
		node_config_release(&reload_base);
	reload_base_ok = false;
}

int
node_reload(const char *path)
{
	struct cy_error err = CY_ERROR_INIT;
	struct node_config fresh;
	struct cy_buf restart = CY_BUF_INIT;
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
	    "log_file", fresh.log_file ? fresh.log_file : "", NULL);
	if (reload_base_ok &&
	    cy_config_diff(node_keys, node_nkeys, &reload_base, &fresh, false, &restart) > 0)
		cy_log_warn("config_needs_restart", "keys", restart.buf, "note",
		    "changed, but applied only at the next start", NULL);
	rc = 0;
out:
	cy_buf_release(&restart);
	node_config_release(&fresh);
	cy_notify_ready("running");
	return rc;
}
