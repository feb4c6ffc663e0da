/*
 * cynode-node: the worker node daemon.  Parses the command line, loads
 * node.yaml, sets up logging, the state directory and signal handling, then
 * hands over to the node manager (manager.c).  Also offers --check-config
 * (validate and print the effective configuration) and the hidden
 * --run-job FILE, which runs one RunJobRequest through the same validation
 * and sandbox code as the Worker API and prints the RunJobResponse.
 *
 * Exit codes: 0 success, 1 runtime failure, 2 bad usage or configuration.
 */
#include <errno.h>
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
#include "node.h"
#include "sandbox.h"
#include "strnum.h"
#include "version.h"
#include "fsutil.h"
#include "banned.h"

static void
usage(FILE *out)
{
	fprintf(out,
		"usage: cynode-node [--config FILE] [--check-config] [--version] [--help]\n"
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
		"  -V, --version       print the version\n"
		"  -h, --help          this help\n");
}

/* --run-job: SIGINT or SIGTERM cancels the job (issue 5). */
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
	if (json_is_string(json_object_get(req, "job_id")))
		snprintf(run_job_id, sizeof(run_job_id), "%s",
			json_string_value(json_object_get(req, "job_id")));
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

/* The advertised Worker API URL: public_base_url or http://host:port. */
static char *
node_base_url(const struct node_config *c)
{
	const char *h = c->listen_host;

	if (c->public_base_url && *c->public_base_url)
		return xstrdup(c->public_base_url);
	if (!h || !*h || !strcmp(h, "0.0.0.0") || !strcmp(h, "::"))
		h = "127.0.0.1";
	return xasprintf(strchr(h, ':') ? "http://[%s]:%lld" : "http://%s:%lld", h,
		c->listen_port);
}

static int
setup_logging(const struct node_config *c)
{
	int fd;

	if (cy_log_setup(c->log_level, c->log_format) < 0) {
		fprintf(stderr, "cynode-node: bad logging settings\n");
		return -1;
	}
	if (c->log_file && *c->log_file) {
		fd = open(c->log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		if (fd < 0 || dup2(fd, 2) < 0) {
			fprintf(stderr, "cynode-node: cannot open log file '%s': %s\n", c->log_file,
				strerror(errno));
			return -1;
		}
		close(fd);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "run-job", required_argument, NULL, 'R' },
		{ "bench-sandbox", required_argument, NULL, 'B' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct node n;
	struct cy_error err = CY_ERROR_INIT;
	const char *config = NODE_DEFAULT_CONFIG, *run_job = NULL;
	const char *errstr;
	long long num;
	int bench = 0;
	bool check = false;
	sigset_t set;
	int c, rc;

	while ((c = getopt_long(argc, argv, "+c:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'C':
			check = true;
			break;
		case 'R':
			run_job = optarg;
			break;
		case 'B':
			if (cy_strtonum(optarg, 1, 100000, &num, &errstr) < 0) {
				fprintf(stderr, "cynode-node: --bench-sandbox wants a count 1-100000\n");
				return 2;
			}
			bench = (int)num;
			break;
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
	if (optind < argc && !strcmp(argv[optind], "image")) {
		/* Image management needs the configuration, not the PSK. */
		if (node_config_load(&n.cfg, config, false, &err) < 0) {
			fprintf(stderr, "cynode-node: %s\n", err.msg);
			node_config_release(&n.cfg);
			return 2;
		}
		rc = node_image_main(&n.cfg, argc - optind - 1, argv + optind + 1);
		node_config_release(&n.cfg);
		return rc;
	}
	if (optind < argc) {
		fprintf(stderr, "cynode-node: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (node_config_load(&n.cfg, config, !run_job && !bench, &err) < 0) {
		fprintf(stderr, "cynode-node: %s\n", err.msg);
		node_config_release(&n.cfg);
		return 2;
	}
	if (check) {
		node_config_print(&n.cfg);
		node_config_release(&n.cfg);
		return 0;
	}
	pthread_mutex_init(&n.lock, NULL);
	n.yaml_max_concurrency = n.cfg.max_concurrency;
	n.base_url = node_base_url(&n.cfg);
	if (run_job || bench) {
		struct cy_error perr = CY_ERROR_INIT;

		cy_log_setup("error", "text");
		if (node_sandbox_probe(&n, &perr) < 0) {
			fprintf(stderr, "cynode-node: %s\n", perr.msg);
			rc = 1;
			goto out;
		}
		rc = run_job ? run_job_file(&n, run_job) : node_bench_sandbox(&n, bench);
		goto out;
	}
	if (setup_logging(&n.cfg) < 0) {
		rc = 2;
		goto out;
	}
	if (cy_mkdir_p(n.cfg.state_dir, 0755, 0711) < 0) {
		cy_log_error("state_dir_failed", "path", n.cfg.state_dir, "error",
			strerror(errno), NULL);
		rc = 1;
		goto out;
	}
	/* Blocked in every thread; the manager waits for them with sigtimedwait. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	cy_log_info("node_starting", "version", CYNODE_VERSION, "node_slug", n.cfg.node_id,
		"orchestrator", n.cfg.orch_url, "config", config, NULL);
	if (node_results_start(&n, &err) < 0) {
		cy_log_error("node_failed", "error", err.msg, NULL);
		rc = 1;
		goto out;
	}
	rc = manager_run(&n, &err);
	node_results_stop();
	if (rc < 0) {
		cy_log_error("node_failed", "error", err.msg, NULL);
		rc = 1;
	} else {
		rc = 0;
	}
out:
	sb_etc_stop();
	free(n.base_url);
	node_config_apply_release(&n);
	node_capability_release();
	node_config_release(&n.cfg);
	return rc;
}
