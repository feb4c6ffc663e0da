/*
 * cynode-node: the worker node daemon.  main() is a list of named steps:
 * parse the command line, load node.yaml, set up logging, the state
 * directory and signal handling, start the result sync and hand over to
 * the node manager (manager.c), which follows the contract's startup order.  Also offers
 * --check-config (validate and print the effective configuration) and the hidden
 * --run-job FILE, which runs one RunJobRequest through the same validation
 * and sandbox code as the Worker API and prints the RunJobResponse.
 *
 * Exit codes: 0 success, 1 runtime failure, 2 bad usage or configuration.
 */
#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "json.h"
#include "log.h"
#include "joblog.h"
#include "node.h"
#include "sandbox.h"
#include "strnum.h"
#include "telemetry.h"
#include "fsutil.h"
#include "version.h"
#include "banned.h"

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: cynode-node [--config FILE] [--check-config] [--routes] [--version] [--help]\n"
	    "       cynode-node [--config FILE] image import NAME DIR|TARBALL\n"
	    "       cynode-node [--config FILE] image list | image rm NAME\n"
	    "\n"
	    "  -c, --config FILE   node configuration (default " NODE_DEFAULT_CONFIG ")\n"
	    "      --check-config  validate the configuration, print it (secrets\n"
	    "                      redacted) and exit 0, or exit 2 with the problem\n"
	    "      --run-job FILE  run one RunJobRequest JSON file (\"-\" = stdin) in a\n"
	    "                      sandbox and print the RunJobResponse (debugging);\n"
	    "                      SIGINT or SIGTERM cancels the job\n"
	    "      --bench-sandbox N  time N sandboxed and N bare runs of /bin/true\n"
	    "      --bench-parallel P  with --bench-sandbox N: run N sandboxes of\n"
	    "                      `sh -c true`, P at a time, and print the rate\n"
	    "      --routes        print the Worker API's routes and the token each takes\n"
	    "  -V, --version       print the version\n"
	    "  -h, --help          this help\n");
}

/* --run-job: SIGINT or SIGTERM cancels the job. */
static char run_job_id[136];
static struct node *run_job_node;

static void *
run_job_signals(void *arg)
{
	sigset_t *set = arg;
	int sig;

	for (;;) {
		if (sigwait(set, &sig) == 0 && run_job_id[0])
			node_job_cancel(run_job_node, run_job_id);
	}
	return NULL;
}

/* Runs one request file through the executor and prints the answer. */
static int
run_job_file(struct node *n, const char *file)
{
	static sigset_t set;
	struct cy_buf body = CY_BUF_INIT, detail = CY_BUF_INIT;
	enum cy_problem prob;
	pthread_t th;
	json_t *out, *req;
	char *s;
	int rc;

	rc = strcmp(file, "-") ? cy_buf_read_file(&body, file, 64 * 1024 * 1024) :
				 cy_buf_read_fd(&body, 0, 64 * 1024 * 1024);
	if (rc < 0) {
		fprintf(stderr, "cynode-node: cannot read '%s': %s\n", file, strerror(errno));
		return 2;
	}
	n->body_limit = (size_t)n->cfg.max_request_bytes;
	if (body.len > n->body_limit) {
		fprintf(stderr, "cynode-node: '%s' is larger than worker_api.max_request_bytes\n",
		    file);
		cy_buf_release(&body);
		return 2;
	}
	req = json_loadb(body.buf, body.len, 0, NULL);
	/* A longer id is no valid one: the job is refused and nothing to cancel. */
	if (json_is_string(json_object_get(req, "job_id")) &&
	    cy_snprintf(run_job_id, sizeof(run_job_id), "%s",
		json_string_value(json_object_get(req, "job_id"))) < 0)
		run_job_id[0] = '\0';
	json_decref(req);
	run_job_node = n;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (pthread_create(&th, NULL, run_job_signals, &set) == 0)
		pthread_detach(th);
	if (worker_run_job(n, body.buf, body.len, &out, &prob, &detail) < 0) {
		out = json_pack("{s:s, s:s, s:i, s:s}", "type", cy_problem_type(prob), "title",
		    cy_problem_title(prob), "status", cy_problem_status(prob), "detail",
		    detail.buf);
		rc = 1;
	} else {
		rc = 0;
	}
	s = cy_json_dump_pretty(out);
	fputs(s, stdout);
	free(s);
	json_decref(out);
	cy_buf_release(&body);
	cy_buf_release(&detail);
	return rc;
}

/* The advertised Worker API URL: public_base_url or http(s)://host:port. */
static char *
node_base_url(const struct node_config *c)
{
	const char *h = c->listen_host;
	const char *scheme = strcmp(c->worker_tls, "off") ? "https" : "http";

	if (c->public_base_url && *c->public_base_url)
		return xstrdup(c->public_base_url);
	if (!h || !*h || !strcmp(h, "0.0.0.0") || !strcmp(h, "::"))
		h = "127.0.0.1";
	return xasprintf(strchr(h, ':') ? "%s://[%s]:%lld" : "%s://%s:%lld", scheme, h,
	    c->listen_port);
}

/* The command line's choices. */
struct startup {
	const char *config;
	const char *run_job; /* --run-job FILE */
	int bench;           /* --bench-sandbox N */
	int parallel;        /* --bench-parallel P */
	bool check;          /* --check-config */
	int image_argc;      /* `image ...`: its arguments */
	char **image_argv;
};

/* Step 1: the command line.  -1 to go on, else the exit status. */
static int
parse_args(int argc, char **argv, struct startup *st)
{
	static const struct option opts[] = {
		{ .name = "config", .has_arg = required_argument, .val = 'c' },
		{ .name = "check-config", .has_arg = no_argument, .val = 'C' },
		{ .name = "run-job", .has_arg = required_argument, .val = 'R' },
		{ .name = "bench-sandbox", .has_arg = required_argument, .val = 'B' },
		{ .name = "bench-parallel", .has_arg = required_argument, .val = 'P' },
		{ .name = "routes", .has_arg = no_argument, .val = 'r' },
		{ .name = "version", .has_arg = no_argument, .val = 'V' },
		{ .name = "help", .has_arg = no_argument, .val = 'h' },
		{ NULL },
	};
	const char *errstr;
	long long num;
	int c;

	while ((c = getopt_long(argc, argv, "+c:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			st->config = optarg;
			break;
		case 'C':
			st->check = true;
			break;
		case 'R':
			st->run_job = optarg;
			break;
		case 'B':
			if (cy_strtonum(optarg, 1, 100000, &num, &errstr) < 0) {
				fprintf(stderr,
				    "cynode-node: --bench-sandbox wants a count 1-100000\n");
				return 2;
			}
			st->bench = (int)num;
			break;
		case 'P':
			if (cy_strtonum(optarg, 1, 64, &num, &errstr) < 0) {
				fprintf(stderr,
				    "cynode-node: --bench-parallel wants a number 1-64\n");
				return 2;
			}
			st->parallel = (int)num;
			break;
		case 'r':
			worker_routes_print(stdout);
			return 0;
		case 'V':
			printf("cynode-node %s (api v%s)\n", CYNODE_VERSION, CYNODE_API_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (st->parallel && !st->bench) {
		fprintf(stderr, "cynode-node: --bench-parallel goes with --bench-sandbox N\n");
		return 2;
	}
	if (optind < argc && !strcmp(argv[optind], "image")) {
		st->image_argc = argc - optind - 1;
		st->image_argv = argv + optind + 1;
		return -1;
	}
	if (optind < argc) {
		fprintf(stderr, "cynode-node: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	return -1;
}

/*
 * Step 2: node.yaml (and the registration secret, unless a tool mode that
 * does not register).  0, or 2 after saying what is wrong.
 */
static int
load_config(struct node *n, const struct startup *st, bool need_secret)
{
	struct cy_error err = CY_ERROR_INIT;

	if (node_config_load(&n->cfg, st->config, need_secret, &err) < 0) {
		fprintf(stderr, "cynode-node: %s\n", err.msg);
		return 2;
	}
	return 0;
}

/* Step 3: the process state the manager and the Worker API share. */
static void
node_init(struct node *n)
{
	pthread_mutex_init(&n->lock, NULL);
	n->yaml_max_concurrency = n->cfg.max_concurrency;
	n->base_url = node_base_url(&n->cfg);
}

/* --run-job and --bench-sandbox: the executor without registering. */
static int
run_tool(struct node *n, const struct startup *st)
{
	struct cy_error err = CY_ERROR_INIT;
	int rc;

	cy_log_setup("error", "text");
	if (node_sandbox_probe(n, &err) < 0) {
		fprintf(stderr, "cynode-node: %s\n", err.msg);
		return 1;
	}
	if (st->run_job)
		rc = run_job_file(n, st->run_job);
	else if (st->parallel)
		rc = node_bench_sandbox_rate(n, st->bench, st->parallel);
	else
		rc = node_bench_sandbox(n, st->bench);
	node_image_mount_stop();
	netns_pool_stop();
	sb_cgroup_pool_drain();
	return rc;
}

/* Step 5: the state directory (credentials, results, prepared /etc). */
static int
make_state_dir(const struct node *n)
{
	if (cy_mkdir_p(n->cfg.state_dir, 0755, 0711) < 0) {
		cy_log_error("state_dir_failed", "path", n->cfg.state_dir, "error", strerror(errno),
		    NULL);
		return -1;
	}
	return 0;
}

/*
 * Step 6: SIGINT/SIGTERM (stop) and SIGHUP (reload) blocked in every
 * thread; the manager waits for them.
 */
static void
block_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/*
 * Steps 7-8: the result sync thread, then the node manager (contract 3.1:
 * register, config, Worker API, inference, ack, heartbeats) until a signal.
 */
static int
run_node(struct node *n)
{
	struct cy_error err = CY_ERROR_INIT;
	int rc;

	if (node_results_start(n, &err) < 0 || logship_start(n, &err) < 0) {
		cy_log_error("node_failed", "error", err.msg, NULL);
		node_results_stop();
		return 1;
	}
	rc = manager_run(n, &err);
	logship_stop();
	node_results_stop();
	/* No job runs now: the images it mounted go before the staging dir. */
	node_image_mount_stop();
	netns_pool_stop();
	sb_cgroup_pool_drain();
	if (rc < 0) {
		cy_log_error("node_failed", "error", err.msg, NULL);
		return 1;
	}
	return 0;
}

/* The end: what any step set up is released. */
static void
node_release(struct node *n)
{
	sb_etc_stop();
	free(n->base_url);
	node_worker_tls_release(n);
	node_config_apply_release(n);
	node_capability_release();
	node_config_release(&n->cfg);
}

int
main(int argc, char **argv)
{
	struct startup st = { .config = NODE_DEFAULT_CONFIG };
	struct cy_error err = CY_ERROR_INIT;
	static struct node n;
	int rc;

	/* Every wait is for a pid: an ignored SIGCHLD inherited would make them fail. */
	signal(SIGCHLD, SIG_DFL);
	if ((rc = parse_args(argc, argv, &st)) >= 0)
		return rc;
	if (st.image_argv) {
		/* Image management needs the configuration, not the PSK. */
		if ((rc = load_config(&n, &st, false)) == 0)
			rc = node_image_main(&n.cfg, st.image_argc, st.image_argv);
		node_config_release(&n.cfg);
		return rc;
	}
	signal(SIGPIPE, SIG_IGN);
	/*
	 * One heap for all threads: the Worker API runs a thread per
	 * connection, and glibc's default of an arena per thread (up to eight
	 * per core) kept each one's freed memory resident.  A second arena
	 * kept its free top resident too: malloc_trim() returns the free top
	 * of the main heap only, and a thread arena's top shrinks at a free()
	 * only past the trim threshold, which glibc raises with every large
	 * block freed.
	 */
	mallopt(M_ARENA_MAX, 1);
	if (!st.run_job && !st.bench && !st.check)
		node_malloc_tune(argv);
	if ((rc = load_config(&n, &st, !st.run_job && !st.bench)) != 0) {
		node_config_release(&n.cfg);
		return rc;
	}
	if (st.check) {
		node_config_print(&n.cfg);
		node_config_release(&n.cfg);
		return 0;
	}
	node_init(&n);
	n.config_path = st.config;
	if (st.run_job || st.bench) {
		/*
		 * The default staging dir this run made goes with it (a running
		 * daemon's stays, and so does one the configuration names).
		 */
		bool made = n.cfg.staging_default && access(n.cfg.staging_dir, F_OK) != 0;

		rc = run_tool(&n, &st);
		if (made)
			cy_rm_rf(n.cfg.staging_dir);
	} else if (node_logging_setup(&n.cfg, &err) < 0) {
		fprintf(stderr, "cynode-node: %s\n", err.msg);
		rc = 2;
	} else if (make_state_dir(&n) < 0)
		rc = 1;
	else if (node_telemetry_open(&n.cfg, &err) < 0) {
		cy_log_error("node_failed", "error", err.msg, NULL);
		fprintf(stderr, "cynode-node: %s\n", err.msg);
		rc = 1;
	} else if (node_worker_tls(&n, &err) < 0) {
		cy_log_error("node_failed", "error", err.msg, NULL);
		fprintf(stderr, "cynode-node: %s\n", err.msg);
		rc = 2;
	} else {
		block_signals();
		node_reload_init(st.config);
		cy_log_info("node_starting", "version", CYNODE_VERSION, "node_slug", n.cfg.node_id,
		    "orchestrator", n.cfg.orch_url, "config", st.config, "malloc",
		    node_malloc_tuned(), NULL);
		node_telemetry_event("node", "info", "node_starting", "node manager starting", NULL,
		    NULL);
		rc = run_node(&n);
		node_telemetry_event("node", rc ? "error" : "info", "node_stopped",
		    rc ? "node manager stopped on an error" : "node manager stopped", NULL, NULL);
		/*
		 * The daemon's staging directory goes with it (a --run-job
		 * beside a running daemon shares it, so only here).
		 */
		if (strcmp(n.cfg.staging_dir, n.cfg.state_dir) != 0)
			cy_rm_rf(n.cfg.staging_dir);
	}
	node_telemetry_close();
	node_reload_release();
	node_release(&n);
	return rc;
}
