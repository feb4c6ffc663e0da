/*
 * cynode-server: the entry point.  main() is the startup order as a list of
 * named steps: parse the command line, load the configuration, refuse weak
 * secrets (unless --dev), apply the database migrations, create the
 * bootstrap admin, block the stop signals, start the background threads
 * (auth cache, dispatcher, liveness, usage writer) and the two listeners,
 * tell systemd it is ready (sd_notify), wait for SIGTERM or SIGINT
 * (SIGHUP reloads, reload.c; the watchdog is fed meanwhile), and shut down
 * in order.
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
#include <time.h>

#include "alloc.h"
#include "auth-cache.h"
#include "auth.h"
#include "buf.h"
#include "core.h"
#include "db.h"
#include "dispatch.h"
#include "events.h"
#include "webhooks.h"
#include "httpd.h"
#include "inference.h"
#include "log.h"
#include "notify.h"
#include "nodes.h"
#include "secrets.h"
#include "schedules.h"
#include "server.h"
#include "task-wait.h"
#include "timeutil.h"
#include "tls.h"
#include "version.h"
#include "banned.h"

struct server srv;

/* clang-format off */
static const char usage_text[] =
	"usage: cynode-server [--config FILE] [--dev] [--migrate-only] [--print-config]\n"
	"                     [--routes] [--route-bodies] [--version] [--help]\n"
	"\n"
	"  -c, --config FILE   read FILE instead of " SERVER_DEFAULT_CONFIG "\n"
	"      --dev           allow the known default secrets (development only)\n"
	"      --migrate-only  apply the database migrations, then exit\n"
	"      --print-config  print the effective configuration (secrets redacted), then exit\n"
	"      --routes        print every route with the role and token scopes it needs, then exit\n"
	"      --route-bodies  print the JSON Schema of every route's request body, then exit\n"
	"  -V, --version       print the version, then exit\n"
	"  -h, --help          print this help, then exit\n"
	"\n"
	"Environment (overrides the file; see cynode-server(8)): DATABASE_URL,\n"
	"JWT_SECRET, JWT_SECRET_FILE, NODE_REGISTRATION_PSK, NODE_REGISTRATION_PSK_FILE,\n"
	"SECRETS_KEY, SECRETS_KEY_FILE, WORKFLOW_RUNNER_BEARER_TOKEN,\n"
	"WORKFLOW_RUNNER_BEARER_TOKEN_FILE, WORKFLOW_RUNNER_TOKEN_SHA256,\n"
	"WORKFLOW_LEASE_DURATION,\n"
	"BOOTSTRAP_ADMIN_PASSWORD, BOOTSTRAP_ADMIN_PASSWORD_FILE,\n"
	"USER_GATEWAY_LISTEN_ADDR, CONTROL_PLANE_LISTEN_ADDR, ORCHESTRATOR_PUBLIC_URL,\n"
	"WORKER_API_TARGET_URL, JWT_ACCESS_DURATION, JWT_REFRESH_DURATION,\n"
	"JWT_NODE_DURATION, MAX_REQUEST_BODY_MB, HTTP_THREADS, DISPATCH_WORKERS,\n"
	"DISPATCH_POLL_INTERVAL_MS, DISPATCH_LEASE, DISPATCH_HTTP_TIMEOUT,\n"
	"RETENTION_FINISHED_TASKS, RETENTION_INTERVAL, EVENTS_RETENTION,\n"
	"WEBHOOKS_ALLOW_PRIVATE, LOGS_MAX_BYTES_PER_STREAM,\n"
	"ATTACHMENT_MAX_BYTES, ATTACHMENTS_MAX_COUNT, ATTACHMENTS_MAX_TOTAL_BYTES,\n"
	"ARTIFACT_MAX_BYTES, ARTIFACTS_RETENTION, UPLOADS_RETENTION, SKILL_MAX_BYTES,\n"
	"NODE_LIVENESS_TTL, NODE_ENROLLMENT_TOKEN_MAX_TTL, RATE_LIMIT_PER_MINUTE,\n"
	"LOGIN_LOCKOUT_THRESHOLD,\n"
	"LOGIN_LOCKOUT_IP_THRESHOLD, LOGIN_LOCKOUT_BASE, LOGIN_LOCKOUT_MAX,\n"
	"AUTH_CACHE_TTL, INFERENCE_MODEL, INFERENCE_REQUEST_TIMEOUT, INFERENCE_MAX_REQUESTS,\n"
	"READINESS_REQUIRE_INFERENCE, LOG_LEVEL, LOG_FORMAT, CYNODE_MIGRATIONS_DIR,\n"
	"TLS_CERT_FILE, TLS_KEY_FILE, NODES_CA_FILE.\n";
/* clang-format on */

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
listener_start(const char *name, const char *addr, const struct cy_route *routes, size_t nroutes,
    unsigned threads, struct cy_error *err)
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
	hc.after_call = db_release;
	hc.ready = server_ready;
	hc.app = &srv;
	/* Every body a handler reads is described in routes.c. */
	hc.body_tables = true;
	hc.tls_cert_pem = srv.cfg.tls_cert_pem;
	hc.tls_key_pem = srv.cfg.tls_key_pem;
	/* Both listeners serve the one document (it marks which serves what). */
	hc.openapi = cy_openapi_server;
	hc.openapi_len = cy_openapi_server_len;
	d = cy_httpd_start(&hc, err);
	if (!d) {
		cy_error_wrap(err, "%s listener on %s", name, addr);
		return NULL;
	}
	xsnprintf(port, sizeof(port), "%u", cy_httpd_port(d));
	cy_log_info("listening", "listener", name, "host", host[0] ? host : "*", "port", port,
	    "scheme", hc.tls_cert_pem ? "https" : "http", NULL);
	if (!hc.tls_cert_pem && !cy_tls_host_loopback(host))
		cy_log_warn("plain_http_listener", "listener", name, "host", host[0] ? host : "*",
		    "port", port, "warning",
		    "WARNING: serving plain HTTP on a non-loopback address: passwords, tokens and "
		    "job data cross the network in clear text; set tls.cert_file and tls.key_file",
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

/* The command line's choices. */
struct startup {
	const char *config;
	bool migrate_only;
	bool print_config;
};

/*
 * Step 1: the command line.  Returns -1 to go on, else the exit status
 * (--version, --help, a usage error).
 */
static int
parse_args(int argc, char **argv, struct startup *st)
{
	static const struct option opts[] = {
		{ .name = "config", .has_arg = required_argument, .val = 'c' },
		{ .name = "dev", .has_arg = no_argument, .val = 'd' },
		{ .name = "migrate-only", .has_arg = no_argument, .val = 'm' },
		{ .name = "print-config", .has_arg = no_argument, .val = 'p' },
		{ .name = "routes", .has_arg = no_argument, .val = 'r' },
		{ .name = "route-bodies", .has_arg = no_argument, .val = 'b' },
		{ .name = "version", .has_arg = no_argument, .val = 'V' },
		{ .name = "help", .has_arg = no_argument, .val = 'h' },
		{ NULL },
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			st->config = optarg;
			break;
		case 'd':
			srv.cfg.dev_mode = true;
			break;
		case 'm':
			st->migrate_only = true;
			break;
		case 'p':
			st->print_config = true;
			break;
		case 'r':
			routes_print(stdout);
			return 0;
		case 'b':
			routes_print_bodies(stdout);
			return 0;
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
	return -1;
}

/* Step 2: defaults < server.yaml < environment, then logging. */
static void
load_config(const struct startup *st)
{
	struct cy_error err = CY_ERROR_INIT;

	if (server_config_load(&srv.cfg, st->config ? st->config : SERVER_DEFAULT_CONFIG,
		st->config != NULL, &err) < 0)
		die("error: %s", err.msg);
	if (cy_log_setup(srv.cfg.log_level, srv.cfg.log_format) < 0)
		die("error: bad logging settings '%s'", srv.cfg.log_level);
}

/* Step 3: weak or known-default secrets are refused unless --dev. */
static void
check_config(void)
{
	struct cy_error err = CY_ERROR_INIT;

	if (server_config_check(&srv.cfg, &err) < 0)
		die("refusing to start: %s", err.msg);
	if (srv.cfg.dev_mode) {
		cy_log_warn("dev_mode", "note", "known default secrets are allowed", NULL);
		dev_defaults(&srv.cfg);
	}
}

/* Step 4: the migrations not yet applied. */
static void
apply_migrations(void)
{
	struct cy_error err = CY_ERROR_INIT;
	char *mdir = migrate_find_dir(srv.cfg.migrations_dir);

	if (migrate_run(mdir, &err) < 0) {
		free(mdir);
		die("error: %s", err.msg);
	}
	free(mdir);
}

/* Step 5: the user admin on a fresh database. */
static void
bootstrap_admin(void)
{
	struct cy_error err = CY_ERROR_INIT;

	if (auth_bootstrap_admin(srv.cfg.bootstrap_admin_password, &err) < 0)
		die("error: bootstrap admin: %s", err.msg);
	db_thread_cleanup();
}

/* Step 6: SIGTERM/SIGINT/SIGHUP blocked here, so threads started later inherit it. */
static void
block_signals(sigset_t *sigs)
{
	sigemptyset(sigs);
	sigaddset(sigs, SIGTERM);
	sigaddset(sigs, SIGINT);
	sigaddset(sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Step 7: the background threads: auth cache, dispatcher, liveness, usage. */
static void
start_background(void)
{
	struct cy_error err = CY_ERROR_INIT;

	if (auth_cache_start(&err) < 0)
		die("error: %s", err.msg);
	if (dispatch_start(&err) < 0)
		die("error: dispatcher: %s", err.msg);
	if (liveness_start(&err) < 0)
		die("error: liveness: %s", err.msg);
	if (usage_start(&err) < 0)
		die("error: %s", err.msg);
	if (schedules_start(&err) < 0)
		die("error: %s", err.msg);
	if (events_start(&err) < 0)
		die("error: %s", err.msg);
	if (webhooks_start(&err) < 0)
		die("error: %s", err.msg);
}

/* Step 8: the user gateway and the control plane. */
static void
start_listeners(struct cy_httpd **gw, struct cy_httpd **cp)
{
	struct cy_error err = CY_ERROR_INIT;
	unsigned threads = (unsigned)srv.cfg.http_threads;
	const struct cy_route *routes;
	size_t nroutes;

	routes = routes_gateway(&nroutes);
	*gw = listener_start("gateway", srv.cfg.gateway_listen, routes, nroutes, threads, &err);
	if (*gw) {
		routes = routes_control(&nroutes);
		*cp = listener_start("control", srv.cfg.control_listen, routes, nroutes,
		    threads > 8 ? threads / 2 : threads, &err);
	}
	if (!*gw || !*cp) {
		cy_log_error("startup_failed", "error", err.msg, NULL);
		if (*gw)
			cy_httpd_stop(*gw);
		liveness_stop();
		dispatch_stop();
		die("error: %s", err.msg);
	}
}

/*
 * Step 9: runs until SIGTERM or SIGINT and returns it; SIGHUP reloads what
 * can be reloaded.  Under a systemd watchdog it sends WATCHDOG=1 each time
 * one is due, whatever woke it (SIGHUPs more often than that do not starve
 * the keep-alive).
 */
static int
wait_for_signal(const sigset_t *sigs, const char *config)
{
	int64_t wd_ms = cy_notify_watchdog_ms(), due = cy_mono_ms() + wd_ms;
	int sig;

	for (;;) {
		if (wd_ms > 0) {
			int64_t left = due - cy_mono_ms();
			struct timespec ts;

			if (left <= 0) {
				cy_notify_watchdog();
				due = cy_mono_ms() + wd_ms;
				left = wd_ms;
			}
			ts.tv_sec = (time_t)(left / 1000);
			ts.tv_nsec = (long)(left % 1000) * 1000000L;
			sig = sigtimedwait(sigs, NULL, &ts);
			if (sig < 0)
				continue;
		} else if (sigwait(sigs, &sig) != 0) {
			sig = SIGTERM;
		}
		if (sig == SIGTERM || sig == SIGINT)
			return sig;
		if (sig == SIGHUP)
			server_reload(config);
	}
}

/*
 * Step 10: waiting requests answer first (libmicrohttpd refuses to stop
 * with suspended connections), then the listeners and the threads stop.
 */
static void
shut_down(struct cy_httpd *gw, struct cy_httpd *cp)
{
	srv.stopping = 1;
	task_wait_stop();
	events_stop();
	chat_stop_all();
	cy_httpd_stop(gw);
	cy_httpd_stop(cp);
	liveness_stop();
	schedules_stop();
	dispatch_stop();
	webhooks_stop();
	usage_stop();
	auth_cache_stop();
}

int
main(int argc, char **argv)
{
	struct startup st = { .config = NULL };
	struct cy_httpd *gw = NULL, *cp = NULL;
	sigset_t sigs;
	int rc, sig;

	if ((rc = parse_args(argc, argv, &st)) >= 0)
		return rc;
	load_config(&st);
	if (st.print_config) {
		server_config_print(stdout, &srv.cfg);
		server_config_release(&srv.cfg);
		return 0;
	}
	check_config();
	apply_migrations();
	if (st.migrate_only) {
		db_thread_cleanup();
		server_config_release(&srv.cfg);
		return 0;
	}
	secrets_key_init();
	bootstrap_admin();
	block_signals(&sigs);
	start_background();
	start_listeners(&gw, &cp);
	cy_log_info("server_started", "version", CYNODE_VERSION, NULL);
	cy_notify_ready("serving");
	sig = wait_for_signal(&sigs, st.config);
	cy_notify_stopping();
	cy_log_info("server_stopping", "signal", sig == SIGTERM ? "TERM" : "INT", NULL);
	shut_down(gw, cp);
	cy_log_info("server_stopped", "version", CYNODE_VERSION, NULL);
	server_config_release(&srv.cfg);
	return 0;
}
