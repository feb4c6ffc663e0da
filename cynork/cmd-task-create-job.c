/*
 * cynork task create: the job's own fields (--image, --timeout, --priority,
 * --max-attempts, --backoff, --label, --gpus, --cpus, --memory, --network,
 * --disk, --tmp), each checked here with a clear usage error (exit 64) before
 * any request, then put into the CreateTask body (the server checks them
 * again and the node applies them).  `task get` shows them back
 * (cmd-task.c, task_print_job).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cynork.h"
#include "json.h"
#include "strnum.h"
#include "timeutil.h"
#include "banned.h"

/* The server's bounds (server/task-create.c). */
#define JOB_TIMEOUT_MAX 10800
#define JOB_BACKOFF_MAX 86400
#define JOB_IMAGE_MAX 1024
#define JOB_LABEL_MAX 128
#define MiB (1024LL * 1024)
#define JOB_MEMORY_MIN (16 * MiB)
#define JOB_MEMORY_MAX (16777216 * MiB)
#define JOB_DISK_MAX (16777216 * MiB)
#define JOB_TMP_MAX (1048576 * MiB)

/* The flags that describe a sandbox, which a prompt task (answered by a model) has none of. */
static const char *const sandbox_flags[] = { "image", "network", "cpus", "memory", "disk", "tmp",
	NULL };

/*
 * A label: KEY or KEY=VALUE, KEY of letters, digits and . _ / -, VALUE of
 * those and ':'; at most 128 bytes.  Nodes match it as a whole string
 * against their node.labels.
 */
static bool
label_valid(const char *s)
{
	const char *eq = strchr(s, '=');
	size_t i, n = strlen(s);

	if (n == 0 || n > JOB_LABEL_MAX || s == eq || (eq && !eq[1]))
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		bool in_value = eq && s + i > eq;

		if (s + i == eq)
			continue;
		if (!isalnum(c) && c != '.' && c != '_' && c != '/' && c != '-' &&
		    !(in_value && c == ':'))
			return false;
	}
	return true;
}

/* A size flag in whole MiB (rounded up) within [min, max] bytes into *mb. */
static int
size_flag(const struct parsed *p, const char *flag, long long min, long long max, long long *mb)
{
	const char *v = opt_get(p, flag);
	long long bytes;

	if (cy_size_parse(v, max, &bytes) < 0 || bytes < min)
		return fail(EXIT_USAGE,
		    "invalid value '%s' for --%s: want a size from %lldM to %lldG, e.g. 512M or 2G "
		    "(units K, M, G, T; a bare number is bytes)",
		    v, flag, min / MiB, max / MiB / 1024);
	*mb = (bytes + MiB - 1) / MiB;
	return 0;
}

int
create_job_check(const struct parsed *p, const char *mode)
{
	const char *const *labels;
	long long n;
	size_t i, nl;

	if (!strcmp(mode, "prompt"))
		for (i = 0; sandbox_flags[i]; i++)
			if (opt_set(p, sandbox_flags[i]))
				return fail(EXIT_USAGE,
				    "--%s goes with --command, --script or --commands-file: a prompt "
				    "task is answered by a model and runs no sandbox",
				    sandbox_flags[i]);
	if (opt_get(p, "image") &&
	    (!*opt_get(p, "image") || strlen(opt_get(p, "image")) > JOB_IMAGE_MAX))
		return fail(EXIT_USAGE, "--image needs an image name of at most %d bytes",
		    JOB_IMAGE_MAX);
	if (opt_get(p, "timeout") && cy_duration_parse(opt_get(p, "timeout"), &n) == 0 &&
	    n > JOB_TIMEOUT_MAX)
		return fail(EXIT_USAGE,
		    "--timeout '%s' is longer than the 3h (10800s) a job may run",
		    opt_get(p, "timeout"));
	if (opt_get(p, "backoff") &&
	    (cy_duration_parse(opt_get(p, "backoff"), &n) < 0 || n > JOB_BACKOFF_MAX))
		return fail(EXIT_USAGE,
		    "invalid value '%s' for --backoff: want a duration from 0s to 24h (e.g. 30s, 5m)",
		    opt_get(p, "backoff"));
	nl = opt_list(p, "label", &labels);
	for (i = 0; i < nl; i++)
		if (!label_valid(labels[i]))
			return fail(EXIT_USAGE,
			    "invalid value '%s' for --label: want KEY=VALUE or KEY (letters, digits, "
			    ". _ / -, ':' in the value; at most %d bytes)",
			    labels[i], JOB_LABEL_MAX);
	if (opt_get(p, "memory") && size_flag(p, "memory", JOB_MEMORY_MIN, JOB_MEMORY_MAX, &n))
		return EXIT_USAGE;
	if (opt_get(p, "disk") && size_flag(p, "disk", MiB, JOB_DISK_MAX, &n))
		return EXIT_USAGE;
	if (opt_get(p, "tmp") && size_flag(p, "tmp", MiB, JOB_TMP_MAX, &n))
		return EXIT_USAGE;
	return 0;
}

/* The integer flag's value (checked by the option table) into o at key. */
static void
int_field(const struct parsed *p, const char *flag, json_t *o, const char *key)
{
	long long n;
	const char *e;

	if (opt_get(p, flag) && cy_strtonum(opt_get(p, flag), -(1LL << 40), 1LL << 40, &n, &e) == 0)
		json_object_set_new(o, key, json_integer(n));
}

/* A size flag (checked by create_job_check) in MiB into o at key. */
static void
size_field(const struct parsed *p, const char *flag, json_t *o, const char *key)
{
	long long mb;

	if (opt_get(p, flag) && size_flag(p, flag, 0, 1LL << 62, &mb) == 0)
		json_object_set_new(o, key, json_integer(mb));
}

void
create_job_fields(const struct parsed *p, json_t *req)
{
	json_t *requirements = json_object(), *resources = json_object();
	const char *const *labels;
	long long n;
	size_t i, nl;

	if (opt_get(p, "image"))
		json_object_set_new(req, "image", json_string(opt_get(p, "image")));
	if (opt_get(p, "timeout") && cy_duration_parse(opt_get(p, "timeout"), &n) == 0)
		json_object_set_new(req, "timeout_seconds", json_integer(n));
	int_field(p, "priority", req, "priority");
	if (opt_get(p, "queue"))
		json_object_set_new(req, "queue", json_string(opt_get(p, "queue")));
	int_field(p, "max-attempts", req, "max_attempts");
	if (opt_get(p, "backoff") && cy_duration_parse(opt_get(p, "backoff"), &n) == 0)
		json_object_set_new(req, "retry_backoff_seconds", json_integer(n));
	if (opt_get(p, "network"))
		json_object_set_new(req, "network_policy", json_string(opt_get(p, "network")));
	if ((nl = opt_list(p, "label", &labels)) > 0) {
		json_t *a = json_array();

		for (i = 0; i < nl; i++)
			json_array_append_new(a, json_string(labels[i]));
		json_object_set_new(requirements, "labels", a);
	}
	int_field(p, "gpus", requirements, "gpus");
	int_field(p, "cpus", resources, "cpu_cores");
	size_field(p, "memory", resources, "memory_mb");
	size_field(p, "disk", resources, "workspace_mb");
	size_field(p, "tmp", resources, "tmp_mb");
	if (json_object_size(requirements))
		json_object_set(req, "requirements", requirements);
	if (json_object_size(resources))
		json_object_set(req, "resources", resources);
	json_decref(requirements);
	json_decref(resources);
}
