/*
 * SIGHUP: server.yaml (and the environment) read again into a fresh
 * configuration, and what is safe to change in a running server taken from
 * it: the keys marked reloadable in the table (logging.level and
 * logging.format).  Everything else (listeners, database, secrets, limits,
 * dispatch) is read by threads without a lock and needs a restart: changed
 * ones are logged by path (config_needs_restart).  A file that does not
 * load is logged and changes nothing.
 */
#include <string.h>

#include "buf.h"
#include "core.h"
#include "log.h"
#include "notify.h"
#include "server.h"

#include "banned.h"

int
server_reload(const char *path)
{
	struct cy_error err = CY_ERROR_INIT;
	struct server_config fresh;
	struct cy_buf restart = CY_BUF_INIT;
	int rc = -1;

	cy_notify_reloading();
	memset(&fresh, 0, sizeof(fresh));
	if (server_config_load(&fresh, path ? path : SERVER_DEFAULT_CONFIG, path != NULL, &err) <
	    0) {
		cy_log_error("reload_failed", "error", err.msg, "note",
		    "the running configuration stays", NULL);
		goto out;
	}
	if (cy_log_setup(fresh.log_level, fresh.log_format) < 0) {
		cy_log_error("reload_failed", "error", "bad logging settings", "note",
		    "the running configuration stays", NULL);
		goto out;
	}
	cy_log_warn("config_reloaded", "log_level", fresh.log_level, "log_format", fresh.log_format,
	    NULL);
	if (server_config_diff(&srv.cfg, &fresh, false, &restart) > 0)
		cy_log_warn("config_needs_restart", "keys", restart.buf, "note",
		    "changed, but applied only at the next start", NULL);
	rc = 0;
out:
	cy_buf_release(&restart);
	server_config_release(&fresh);
	cy_notify_ready("serving");
	return rc;
}
