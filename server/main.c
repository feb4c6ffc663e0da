/*
 * cynode-server: the entry point.  Parses the command line, loads and checks
 * the configuration (refusing weak secrets unless --dev), applies the
 * database migrations, creates the bootstrap admin, then runs the user
 * gateway and control plane listeners and the dispatcher until SIGTERM or
 * SIGINT, and stops them cleanly.
 *
 * Exit status: 0 on a clean stop, 1 on a configuration or startup error,
 * 2 on a command-line usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "auth-cache.h"
#include "auth.h"
#include "core.h"
#include "db.h"
#include "dispatch.h"
#include "inference.h"
#include "httpd.h"
#include "log.h"
#include "nodes.h"
#include "server.h"
#include "version.h"
#include "task-wait.h"
#include "banned.h"

struct server srv;

static const char usage_text[] =
	"usage: cynode-server [--config FILE] [--dev] [--migrate-only] [--print-config]\n"
	"                     [--version] [--help]\n"
	"\n"
	"  -c, --config FILE   read FILE instead of " SERVER_DEFAULT_CONFIG "\n"
	"      --dev           allow the known default secrets (development only)\n"
	"      --migrate-only  apply the database migrations, then exit\n"
	"      --print-config  print the effective configuration (secrets redacted), then exit\n"
	"  -V, --version       print the version, then exit\n"
	"  -h, --help          print this help, then exit\n"
	"\n"
	"Environment (overrides the file; see cynode-server(8)): DATABASE_URL,\n"
	"JWT_SECRET, JWT_SECRET_FILE, NODE_REGISTRATION_PSK, NODE_REGISTRATION_PSK_FILE,\n"
	"BOOTSTRAP_ADMIN_PASSWORD, BOOTSTRAP_ADMIN_PASSWORD_FILE,\n"
	"USER_GATEWAY_LISTEN_ADDR, CONTROL_PLANE_LISTEN_ADDR, ORCHESTRATOR_PUBLIC_URL,\n"
	"WORKER_API_TARGET_URL, JWT_ACCESS_DURATION, JWT_REFRESH_DURATION,\n"
	"JWT_NODE_DURATION, MAX_REQUEST_BODY_MB, HTTP_THREADS, DISPATCH_WORKERS,\n"
	"DISPATCH_POLL_INTERVAL_MS, DISPATCH_LEASE, DISPATCH_HTTP_TIMEOUT,\n"
	"RETENTION_FINISHED_TASKS, RETENTION_INTERVAL, NODE_LIVENESS_TTL,\n"
	"NODE_ENROLLMENT_TOKEN_MAX_TTL, RATE_LIMIT_PER_MINUTE, LOGIN_LOCKOUT_THRESHOLD,\n"
	"LOGIN_LOCKOUT_IP_THRESHOLD, LOGIN_LOCKOUT_BASE, LOGIN_LOCKOUT_MAX,\n"
	"AUTH_CACHE_TTL, INFERENCE_MODEL, INFERENCE_REQUEST_TIMEOUT, INFERENCE_MAX_REQUESTS,\n"
	"READINESS_REQUIRE_INFERENCE, LOG_LEVEL, LOG_FORMAT, CYNODE_MIGRATIONS_DIR.\n";

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Prints "cynode-server: <message>" and exits 1. */
static void
die(const char *fmt, ...)
{
	va_list ap;

	fputs("cynode-server: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Starts one listener on "host:port" with the given routes. */
static struct cy_httpd *
listener_start(const char *name, const char *addr, const struct cy_route *routes,
	size_t nroutes, unsigned threads, struct cy_error *err)
{
	struct cy_httpd_config hc;
	struct cy_httpd *d;
	char host[256], port[16];
	unsigned p;

	if (server_split_listen(addr, host, sizeof(host), &p, err) < 0)
		return NULL;
	memset(&hc, 0, sizeof(hc));
	hc.name = name;
	hc.host = host;
	hc.port = p;
	hc.routes = routes;
	hc.nroutes = nroutes;
	hc.threads = threads;
	hc.conn_timeout_s = 120;
	/* Per-connection pool: headers and the read buffer.  libmicrohttpd zeroes
	 * the pool between keep-alive requests, so it is kept small (a 1 MiB pool
	 * cost a 1 MiB memset per request, a quarter of the server's CPU). */
	hc.max_header_bytes = 64 * 1024;
	hc.authenticate = auth_authenticate;
	hc.auth_free = auth_free;
	hc.ready = server_ready;
	hc.app = &srv;
	d = cy_httpd_start(&hc, err);
	if (!d) {
		cy_error_wrap(err, "%s listener on %s", name, addr);
		return NULL;
	}
	snprintf(port, sizeof(port), "%u", cy_httpd_port(d));
	cy_log_info("listening", "listener", name, "host", host[0] ? host : "*", "port", port,
		NULL);
	return d;
}

/* Fills in the development defaults for secrets left unset under --dev. */
static void
dev_defaults(struct server_config *cfg)
{
	if (!cfg->jwt_secret) {
		cfg->jwt_secret = xstrdup("change-me-in-production");
		cy_log_warn("dev_default_secret", "secret", "jwt", NULL);
	}
	if (!cfg->node_psk) {
		cfg->node_psk = xstrdup("default-psk-change-me");
		cy_log_warn("dev_default_secret", "secret", "node_registration_psk", NULL);
	}
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "dev", no_argument, NULL, 'd' },
		{ "migrate-only", no_argument, NULL, 'm' },
		{ "print-config", no_argument, NULL, 'p' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cy_error err = CY_ERROR_INIT;
	const char *config = NULL;
	bool migrate_only = false, print_config = false;
	struct cy_httpd *gw = NULL, *cp = NULL;
	const struct cy_route *routes;
	unsigned threads;
	sigset_t sigs;
	size_t nroutes;
	char *mdir;
	int c, sig;

	while ((c = getopt_long(argc, argv, "c:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'd':
			srv.cfg.dev_mode = true;
			break;
		case 'm':
			migrate_only = true;
			break;
		case 'p':
			print_config = true;
			break;
		case 'V':
			printf("cynode-server %s\n", CYNODE_VERSION);
			return 0;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs(usage_text, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "cynode-server: unexpected argument '%s'\n", argv[optind]);
		fputs(usage_text, stderr);
		return 2;
	}

	if (server_config_load(&srv.cfg, config ? config : SERVER_DEFAULT_CONFIG,
		config != NULL, &err) < 0)
		die("error: %s", err.msg);
	if (cy_log_setup(srv.cfg.log_level, srv.cfg.log_format) < 0)
		die("error: bad logging settings '%s'", srv.cfg.log_level);
	if (print_config) {
		server_config_print(stdout, &srv.cfg);
		server_config_release(&srv.cfg);
		return 0;
	}
	if (server_config_check(&srv.cfg, &err) < 0)
		die("refusing to start: %s", err.msg);
	if (srv.cfg.dev_mode) {
		cy_log_warn("dev_mode", "note", "known default secrets are allowed", NULL);
		dev_defaults(&srv.cfg);
	}

	mdir = migrate_find_dir(srv.cfg.migrations_dir);
	if (migrate_run(mdir, &err) < 0) {
		free(mdir);
		die("error: %s", err.msg);
	}
	free(mdir);
	if (migrate_only) {
		db_thread_cleanup();
		server_config_release(&srv.cfg);
		return 0;
	}
	if (auth_bootstrap_admin(srv.cfg.bootstrap_admin_password, &err) < 0)
		die("error: bootstrap admin: %s", err.msg);
	db_thread_cleanup();

	/* Threads started from here on inherit the blocked signals. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (auth_cache_start(&err) < 0)
		die("error: %s", err.msg);
	if (dispatch_start(&err) < 0)
		die("error: dispatcher: %s", err.msg);
	if (liveness_start(&err) < 0)
		die("error: liveness: %s", err.msg);
	if (usage_start(&err) < 0)
		die("error: %s", err.msg);
	threads = (unsigned)srv.cfg.http_threads;
	routes = routes_gateway(&nroutes);
	gw = listener_start("gateway", srv.cfg.gateway_listen, routes, nroutes, threads, &err);
	if (gw) {
		routes = routes_control(&nroutes);
		cp = listener_start("control", srv.cfg.control_listen, routes, nroutes,
			threads > 8 ? threads / 2 : threads, &err);
	}
	if (!gw || !cp) {
		cy_log_error("startup_failed", "error", err.msg, NULL);
		if (gw)
			cy_httpd_stop(gw);
		liveness_stop();
		dispatch_stop();
		die("error: %s", err.msg);
	}
	cy_log_info("server_started", "version", CYNODE_VERSION, NULL);

	do {
		if (sigwait(&sigs, &sig) != 0)
			sig = SIGTERM;
	} while (sig != SIGTERM && sig != SIGINT);

	cy_log_info("server_stopping", "signal", sig == SIGTERM ? "TERM" : "INT", NULL);
	srv.stopping = 1;
	task_wait_stop();	/* parked long polls answer before the listeners stop */
	chat_stop_all();	/* so do chat completions waiting for a node */
	cy_httpd_stop(gw);
	cy_httpd_stop(cp);
	liveness_stop();
	dispatch_stop();
	usage_stop();
	auth_cache_stop();
	cy_log_info("server_stopped", "version", CYNODE_VERSION, NULL);
	server_config_release(&srv.cfg);
	return 0;
}
