/*
 * Unit tests for node/sandbox-plan.c and the runtimes' renderers: plans
 * built from sample jobs (an image directory, the host image with and
 * without the prepared /etc, devices, host network, the inference socket,
 * limits, the job's variables and the node's own) rendered as bwrap's
 * argument list and as podman's and docker's command line and environment,
 * and compared with the expected ones word for word (no engine needs to be
 * installed); the faults sb_plan_validate finds, in built plans and in
 * plans put together by hand.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "sandbox-plan.h"
#include "tap.h"

static char base[] = "/tmp/cy-sbplan-XXXXXX";
static char job_dir[512], rootfs[512], inf_dir[512], state[512], etc_src[512];
static char *argv_sh[] = { "/bin/sh", "-c", "echo hi", NULL };

/* mkdir -p of base/rel; the path into out. */
static void
make_dir(const char *rel, char *out, size_t size)
{
	char path[512];

	xsnprintf(path, sizeof(path), "%s/%s", base, rel);
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		abort();
	if (out)
		xsnprintf(out, size, "%s", path);
}

static void
make_tree(void)
{
	ok(mkdtemp(base) != NULL, "temp dir");
	make_dir("job", job_dir, sizeof(job_dir));
	make_dir("job/workspace", NULL, 0);
	make_dir("job/job", NULL, 0);
	make_dir("job/run", inf_dir, sizeof(inf_dir));
	/* An image: usr is mirrored, the entries the sandbox provides are not. */
	make_dir("rootfs", rootfs, sizeof(rootfs));
	make_dir("rootfs/usr", NULL, 0);
	make_dir("rootfs/proc", NULL, 0);
	make_dir("rootfs/tmp", NULL, 0);
	make_dir("rootfs/workspace", NULL, 0);
	make_dir("state", state, sizeof(state));
	make_dir("etc", etc_src, sizeof(etc_src));
}

/* A job like the executor's, on the temp tree. */
static void
sample_job(struct sandbox_job *job)
{
	static char *env[] = { "FOO=bar baz", "EMPTY=", "NOEQUALS", "CYNODE_JOB_ID=evil",
		"INFERENCE_PROXY_URL=http://evil", NULL };

	memset(job, 0, sizeof(*job));
	job->task_id = "t1";
	job->job_id = "j1";
	job->argv = argv_sh;
	job->env = env;
	job->image = "host";
	job->job_dir = job_dir;
	job->timeout_s = 30;
	job->max_output = 4096;
	job->limits.tmp_mb = 16;
	job->limits.nofile = 1024;
	job->limits.fsize_mb = 100;
	job->limits.mem_mb = 128;
	job->limits.pids = 32;
	job->limits.cpu_milli = 1500;
}

/*
 * bwrap's environment for sample_job: a fixed PATH, HOME, the job's
 * variables but the node's own names, then the node's own.
 */
#define ENV_BWRAP \
	"--clearenv|--setenv|PATH|/usr/local/bin:/usr/bin:/bin|" \
	"--setenv|HOME|/workspace|--setenv|FOO|bar baz|--setenv|EMPTY||" \
	"--setenv|CYNODE_TASK_ID|t1|--setenv|CYNODE_JOB_ID|j1|" \
	"--setenv|CYNODE_WORKSPACE_DIR|/workspace|"

/* The vector as one string, words separated by '|'. */
static char *
join(const struct sb_argv *a)
{
	size_t len = 1, i;
	char *s;

	for (i = 0; i < a->n; i++)
		len += strlen(a->v[i]) + 1;
	s = calloc(1, len);
	for (i = 0; i < a->n; i++) {
		if (i)
			strcat(s, "|");
		strcat(s, a->v[i]);
	}
	return s;
}

/* Builds p: NULL, or "ERROR: msg" with p released. */
static char *
build_fault(struct sb_plan *p)
{
	struct cy_error err = CY_ERROR_INIT;
	char *s;

	if (sb_plan_build(p, &err) == 0)
		return NULL;
	sb_plan_release(p);
	if (asprintf(&s, "ERROR: %s", err.msg) < 0)
		abort();
	return s;
}

/* Builds job's plan for bwrap and renders it: the joined options, or "ERROR: msg". */
static char *
bwrap_of(const struct sandbox_job *job)
{
	static const struct sb_plan_opts opts = { .runtime = "bwrap", .binds_by_fd = true };
	struct sb_argv a = SB_ARGV_INIT;
	struct sb_plan p;
	char *s;

	sb_plan_init(&p, job, &opts);
	if ((s = build_fault(&p)))
		return s;
	sb_render_bwrap(&p, &a);
	s = join(&a);
	sb_argv_release(&a);
	sb_plan_release(&p);
	return s;
}

/* The part of s from the first `from` on ("" when absent). */
static const char *
from(const char *s, const char *from)
{
	const char *p = strstr(s, from);

	return p ? p : "";
}

/* An array element: CYNODE_ARRAY_INDEX and CYNODE_ARRAY_TASK_ID, never the request's. */
static void
test_bwrap_array_env(void)
{
	static char *env[] = { "CYNODE_ARRAY_INDEX=99", "CYNODE_ARRAY_TASK_ID=evil", "A=1", NULL };
	struct sandbox_job job;
	char *got;

	sample_job(&job);
	job.env = env;
	job.is_array = true;
	job.array_index = 0;
	got = bwrap_of(&job);
	ok(strstr(got, "--setenv|A|1|--setenv|CYNODE_TASK_ID|t1|--setenv|CYNODE_JOB_ID|j1|"
		       "--setenv|CYNODE_WORKSPACE_DIR|/workspace|--setenv|CYNODE_ARRAY_INDEX|0|"
		       "--setenv|CYNODE_ARRAY_TASK_ID|t1|") != NULL,
	    "an element gets its index and the task's id: %s", from(got, "--clearenv"));
	ok(!strstr(got, "99") && !strstr(got, "evil"), "the request's CYNODE_ARRAY_* are dropped");
	free(got);
	sample_job(&job);
	got = bwrap_of(&job);
	ok(!strstr(got, "CYNODE_ARRAY"), "a plain job has no CYNODE_ARRAY_*");
	free(got);
}

static void
test_bwrap_image(void)
{
	struct sandbox_job job;
	char want[4096], *got;

	sample_job(&job);
	job.rootfs = rootfs;
	got = bwrap_of(&job);
	xsnprintf(want, sizeof(want),
	    "--unshare-all|--unshare-user|--disable-userns|--die-with-parent|--new-session|"
	    "--uid|65534|--gid|65534|--hostname|sandbox|"
	    "--ro-bind|%s/usr|/usr|"
	    "--proc|/proc|--dev|/dev|"
	    "--size|16777216|--perms|1777|--tmpfs|/tmp|"
	    "--bind-fd|4|/workspace|--bind-fd|5|/job|"
	    "--size|16777216|--perms|1777|--tmpfs|/dev/shm|"
	    "--remount-ro|/dev|--remount-ro|/|--chdir|/workspace|" ENV_BWRAP
	    "--cap-drop|ALL|--seccomp|6|--json-status-fd|3",
	    rootfs);
	is_str(got, want, "an image directory: its entries but proc, tmp, workspace");
	free(got);
}

static void
test_bwrap_host(void)
{
	struct sandbox_job job;
	char want[8192], *got;
	struct stat st;
	size_t i;

	sample_job(&job);
	job.limits.tmp_mb = 0;
	got = bwrap_of(&job);
	ok(strstr(got, "--hostname|sandbox|--ro-bind|/usr|/usr|") ||
		strstr(got, "--hostname|sandbox|--symlink|"),
	    "the host's /usr first");
	if (lstat("/bin", &st) == 0 && S_ISLNK(st.st_mode))
		ok(strstr(got, "|--symlink|usr/bin|/bin|") != NULL, "/bin as the host has it");
	want[0] = '\0';
	for (i = 0; sb_etc_names[i]; i++) {
		xsnprintf(want + strlen(want), sizeof(want) - strlen(want),
		    "--ro-bind-try|/etc/%s|/etc/%s|", sb_etc_names[i], sb_etc_names[i]);
	}
	strcat(want, "--proc|/proc|--dev|/dev|--perms|1777|--tmpfs|/tmp|");
	ok(strstr(got, want) != NULL, "without the prepared /etc: one bind per entry, "
				      "then a /tmp without a size");
	free(got);
}

static void
test_bwrap_prepared_etc(void)
{
	struct cy_error err = CY_ERROR_INIT;
	struct sandbox_job job;
	char path[1024], *got;
	FILE *f;

	xsnprintf(path, sizeof(path), "%s/passwd", etc_src);
	f = fopen(path, "w");
	fputs("root:x:0:0::/:/bin/sh\n", f);
	fclose(f);
	ok(sb_etc_start(state, etc_src, &err) == 0, "the prepared /etc is made");
	if (err.msg[0])
		printf("# %s\n", err.msg);
	sample_job(&job);
	got = bwrap_of(&job);
	ok(strstr(got, "|--ro-bind-fd|8|/etc|--proc|/proc|") != NULL,
	    "the prepared /etc: one bind from fd 8");
	ok(!strstr(got, "--ro-bind-try"), "and no bind per entry");
	free(got);
	sb_etc_stop();
}

static void
test_bwrap_inference_devices_net(void)
{
	static char *devices[] = { "/dev/null", "/dev/zero", NULL };
	struct sandbox_job job;
	char *got;

	sample_job(&job);
	job.rootfs = rootfs;
	job.share_net = true;
	job.devices = devices;
	job.inference_dir = inf_dir;
	got = bwrap_of(&job);
	ok(!strncmp(got, "--unshare-all|--share-net|--unshare-user|", 41),
	    "host network: --share-net after --unshare-all");
	is_str(from(got, "--proc"),
	    "--proc|/proc|--dev|/dev|"
	    "--dev-bind|/dev/null|/dev/null|--dev-bind|/dev/zero|/dev/zero|"
	    "--size|16777216|--perms|1777|--tmpfs|/tmp|"
	    "--bind-fd|4|/workspace|--bind-fd|5|/job|"
	    "--dir|/run|--bind-fd|9|/run/cynode|"
	    "--size|16777216|--perms|1777|--tmpfs|/dev/shm|"
	    "--remount-ro|/dev|--remount-ro|/|--chdir|/workspace|" ENV_BWRAP
	    "--setenv|INFERENCE_PROXY_URL|http+unix://%2Frun%2Fcynode%2Finference.sock|"
	    "--cap-drop|ALL|--seccomp|6|--json-status-fd|3",
	    "devices, then the inference socket directory from fd 9 under an empty /run "
	    "and its URL");
	free(got);
}

/* Builds job's plan for an engine and renders it: "ARGV || ENVP", or "ERROR: msg". */
static char *
oci_of(const char *engine, const struct sandbox_job *job, long long nproc_max)
{
	const struct sb_plan_opts opts = { .runtime = engine, .image_root = true };
	struct sb_argv a = SB_ARGV_INIT, e = SB_ARGV_INIT;
	char bin[64], *s, *sa, *se;
	struct sb_plan p;

	xsnprintf(bin, sizeof(bin), "/usr/bin/%s", engine);
	sb_plan_init(&p, job, &opts);
	if ((s = build_fault(&p)))
		return s;
	sb_render_oci(&p, bin, nproc_max, &a, &e);
	sa = join(&a);
	se = join(&e);
	if (asprintf(&s, "%s || %s", sa, se) < 0)
		abort();
	free(sa);
	free(se);
	sb_argv_release(&a);
	sb_argv_release(&e);
	sb_plan_release(&p);
	return s;
}

static void
test_podman(void)
{
	struct sandbox_job job;
	char want[4096], *got;

	sample_job(&job);
	job.image = "docker.io/library/busybox:latest";
	got = oci_of("podman", &job, 4096);
	xsnprintf(want, sizeof(want),
	    "/usr/bin/podman|run|--rm|--name=cynode-j1|--network=none|--ipc=private|"
	    "--user=65534:65534|--hostname=sandbox|"
	    "--tmpfs=/tmp:rw,nosuid,nodev,size=16m,mode=1777|"
	    "--volume=%s/workspace:/workspace:rw|--volume=%s/job:/job:rw|"
	    "--read-only|--workdir=/workspace|--env=HOME|--env=FOO|--env=EMPTY|"
	    "--env=CYNODE_TASK_ID|--env=CYNODE_JOB_ID|--env=CYNODE_WORKSPACE_DIR|"
	    "--cap-drop=ALL|--security-opt=no-new-privileges|"
	    "--ulimit=core=0|--ulimit=nofile=1024|--memory=128m|--memory-swap=128m|"
	    "--pids-limit=32|--cpus=1.500|--ulimit=nproc=4096|"
	    "--label=cynodeai.task_id=t1|--label=cynodeai.job_id=j1|"
	    "--|docker.io/library/busybox:latest|/bin/sh|-c|echo hi || "
	    "PATH=/usr/local/bin:/usr/bin:/bin|HOME=/workspace|FOO=bar baz|EMPTY=|"
	    "CYNODE_TASK_ID=t1|CYNODE_JOB_ID=j1|CYNODE_WORKSPACE_DIR=/workspace",
	    job_dir, job_dir);
	is_str(got, want, "podman: flags in plan order, values only in the environment");
	free(got);
}

static void
test_docker(void)
{
	static char *devices[] = { "/dev/null", NULL };
	static char *env[] = { "PATH=/opt/bin", "HOME=/x", NULL };
	struct sandbox_job job;
	char *got;

	sample_job(&job);
	job.image = "alpine:3";
	job.share_net = true;
	job.devices = devices;
	job.env = env;
	job.inference_dir = "/var/lib/cynode/mounts/j1/run";
	job.job_dir = "/nonexistent/j1";
	memset(&job.limits, 0, sizeof(job.limits));
	got = oci_of("docker", &job, 0);
	is_str(got,
	    "/usr/bin/docker|run|--rm|--name=cynode-j1|--network=host|--ipc=private|"
	    "--user=65534:65534|--hostname=sandbox|--device=/dev/null|"
	    "--tmpfs=/tmp:rw,nosuid,nodev,size=256m,mode=1777|"
	    "--volume=/nonexistent/j1/workspace:/workspace:rw|"
	    "--volume=/nonexistent/j1/job:/job:rw|"
	    "--volume=/var/lib/cynode/mounts/j1/run:/run/cynode:rw|"
	    "--read-only|--workdir=/workspace|--env=HOME|--env=HOME|--env=CYNODE_TASK_ID|"
	    "--env=CYNODE_JOB_ID|--env=CYNODE_WORKSPACE_DIR|--env=INFERENCE_PROXY_URL|"
	    "--cap-drop=ALL|--security-opt=no-new-privileges|--ulimit=core=0|"
	    "--label=cynodeai.task_id=t1|--label=cynodeai.job_id=j1|"
	    "--|alpine:3|/bin/sh|-c|echo hi || "
	    "PATH=/usr/local/bin:/usr/bin:/bin|HOME=/workspace|HOME=/x|CYNODE_TASK_ID=t1|"
	    "CYNODE_JOB_ID=j1|CYNODE_WORKSPACE_DIR=/workspace|"
	    "INFERENCE_PROXY_URL=http+unix://%2Frun%2Fcynode%2Finference.sock",
	    "docker: host network, a device, the inference socket, /tmp of 256 MB, "
	    "the job's PATH left to the image, its HOME after the node's; sources by "
	    "path, not opened");
	free(got);
	job.image = NULL;
	got = oci_of("docker", &job, 0);
	is_str(got, "ERROR: the docker runtime needs an OCI image", "no image");
	free(got);
	job.image = "host";
	got = oci_of("podman", &job, 0);
	is_str(got, "ERROR: the podman runtime needs an OCI image", "not the host image");
	free(got);
}

/* The limits stay out of bwrap's options: the node applies them. */
static void
test_plan_limits(void)
{
	static const struct sb_plan_opts opts = { .runtime = "bwrap", .binds_by_fd = true };
	struct cy_error err = CY_ERROR_INIT;
	struct sandbox_job job;
	struct sb_limits l;
	struct sb_plan p;
	size_t i, nrl = 0;

	sample_job(&job);
	job.rootfs = rootfs;
	sb_plan_init(&p, &job, &opts);
	ok(sb_plan_build(&p, &err) == 0, "the plan builds");
	if (err.msg[0])
		printf("# %s\n", err.msg);
	sb_plan_cgroup_limits(&p, &l);
	is_int(l.mem_mb, 128, "cgroup memory");
	is_int(l.pids, 32, "cgroup pids");
	is_int(l.cpu_milli, 1500, "cgroup cpu");
	for (i = 0; i < p.n; i++)
		nrl += p.ops[i].type == SB_OP_RLIMIT;
	is_int(nrl, 3, "rlimits: core, nofile, fsize");
	is_int(p.ops[p.n - 1].type, SB_OP_EXEC, "the command last");
	is_str(p.ops[p.n - 1].argv[2], "echo hi", "the command copied");
	sb_plan_release(&p);
}

static void
test_build_faults(void)
{
	static char *empty[] = { "", NULL }, *bad_dev[] = { "dev/null", NULL };
	static char *bad_env[] = { "1X=y", NULL };
	char missing[600], gone[1024], gone_image[1024], *got;
	struct sandbox_job job;
	size_t i;

	/* clang-format off */
	const struct {
		char **argv, **devices, **env;
		const char *job_dir, *rootfs, *want, *name;
	} cases[] = {
		{ .argv = empty, .want = "(exec) needs a command", .name = "an empty command" },
		{ .devices = bad_dev, .want = "(dev-bind) needs an absolute destination",
		  .name = "a relative device" },
		{ .env = bad_env, .want = "(setenv) needs a valid variable name",
		  .name = "a bad variable name" },
		{ .job_dir = missing, .want = gone, .name = "a job directory that is gone" },
		{ .rootfs = missing, .want = gone_image, .name = "an image directory that is gone" },
	};
	/* clang-format on */

	xsnprintf(missing, sizeof(missing), "%s/nonexistent", base);
	xsnprintf(gone, sizeof(gone), "ERROR: opening the job directory '%s': %s", missing,
	    strerror(ENOENT));
	xsnprintf(gone_image, sizeof(gone_image), "ERROR: image directory '%s': %s", missing,
	    strerror(ENOENT));

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sample_job(&job);
		job.argv = cases[i].argv ? cases[i].argv : job.argv;
		job.devices = cases[i].devices;
		job.env = cases[i].env ? cases[i].env : job.env;
		job.job_dir = cases[i].job_dir ? cases[i].job_dir : job.job_dir;
		job.rootfs = cases[i].rootfs;
		got = bwrap_of(&job);
		ok(!strncmp(got, "ERROR: ", 7) && strstr(got, cases[i].want), "%s", cases[i].name);
		printf("#   %s\n", got);
		free(got);
	}
}

/* A valid plan by hand, with one more operation of type t at position at (or at the end). */
static const char *
hand_fault(enum sb_op_type t, const char *source, const char *dest, int fd, size_t at,
    struct cy_error *err)
{
	static const struct sb_plan_opts opts = { .runtime = "bwrap" };
	static const enum sb_op_type ops[] = { SB_OP_NAMESPACES, SB_OP_USER, SB_OP_HOSTNAME,
		SB_OP_PROC, SB_OP_REMOUNT_RO, SB_OP_CHDIR, SB_OP_CLEARENV, SB_OP_CAP_DROP_ALL,
		SB_OP_NO_NEW_PRIVS, SB_OP_SECCOMP, SB_OP_EXEC };
	struct sandbox_job job;
	struct sb_plan p;
	struct sb_op *op;
	size_t i;

	sample_job(&job);
	sb_plan_init(&p, &job, &opts);
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (i == at) {
			op = sb_plan_add(&p, t, source, dest);
			op->fd = fd;
		}
		op = sb_plan_add(&p, ops[i], NULL, NULL);
		if (ops[i] == SB_OP_HOSTNAME)
			op->dest = strdup("sandbox");
		else if (ops[i] == SB_OP_PROC || ops[i] == SB_OP_CHDIR)
			op->dest = strdup("/proc");
		else if (ops[i] == SB_OP_REMOUNT_RO)
			op->dest = strdup("/");
		else if (ops[i] == SB_OP_SECCOMP)
			op->fd = SB_FD_SECCOMP;
		else if (ops[i] == SB_OP_EXEC) {
			op->argv = calloc(2, sizeof(char *));
			op->argv[0] = strdup("/bin/true");
		}
	}
	if (at >= i && t != SB_OP_N)
		sb_plan_add(&p, t, source, dest)->fd = fd;
	err->msg[0] = '\0';
	sb_plan_validate(&p, err);
	sb_plan_release(&p);
	return err->msg;
}

/* Operations added to the valid hand-made plan, and what validation says. */
/* clang-format off */
static const struct {
	enum sb_op_type type;
	const char *source, *dest;
	int fd;
	size_t at;
	const char *want, *name;
} hand_cases[] = {
	{ .type = SB_OP_N, .fd = -1, .at = 99, .want = "", .name = "the hand-made plan is valid" },
	{ .type = SB_OP_TMPFS, .dest = "/tmp", .fd = -1, .at = 5,
	  .want = "operation 6 (tmpfs) mounts on the root after it became read-only",
	  .name = "no mount after / is read-only" },
	{ .type = SB_OP_SETENV, .source = "A", .dest = "b", .fd = -1, .at = 3,
	  .want = "operation 4 (setenv) comes before the environment is cleared",
	  .name = "no variable before clearenv" },
	{ .type = SB_OP_CLEARENV, .fd = -1, .at = 7,
	  .want = "operation 8 (clearenv) appears twice", .name = "clearenv once" },
	{ .type = SB_OP_CAP_DROP_ALL, .fd = -1, .at = 99,
	  .want = "operation 11 (exec) is not the last operation", .name = "exec last" },
	{ .type = SB_OP_BIND_RW, .source = "/x", .dest = "/y", .fd = SB_FD_SECCOMP, .at = 3,
	  .want = "operation 11 (seccomp) uses a launcher fd another operation uses",
	  .name = "one fd, one operation" },
	{ .type = SB_OP_BIND_RO, .source = "/x", .dest = "/a/../etc", .fd = -1, .at = 3,
	  .want = "operation 4 (bind-ro) needs an absolute destination without '..'",
	  .name = "no '..' in a destination" },
	{ .type = SB_OP_BIND_RO, .source = "x", .dest = "/y", .fd = -1, .at = 3,
	  .want = "operation 4 (bind-ro) needs an absolute source or a launcher fd",
	  .name = "a relative source" },
	{ .type = SB_OP_BIND_RW, .dest = "/y", .fd = SB_FD_STATUS, .at = 3,
	  .want = "operation 4 (bind-rw) needs an absolute source or a launcher fd",
	  .name = "not the status fd" },
	{ .type = SB_OP_BIND_RO, .source = "/x", .dest = "/y..z/..a", .fd = -1, .at = 3,
	  .want = "", .name = "'..' inside a name is a name" },
	{ .type = SB_OP_DEV_BIND, .source = "/etc/passwd", .dest = "/etc/passwd", .fd = -1,
	  .at = 3, .want = "operation 4 (dev-bind) needs a device under /dev/",
	  .name = "devices only" },
	{ .type = SB_OP_HOSTNAME, .dest = "", .fd = -1, .at = 3,
	  .want = "operation 4 (hostname) needs a name of 1-64 characters", .name = "a hostname" },
	{ .type = SB_OP_CLEARENV, .fd = 64, .at = 3,
	  .want = "operation 4 (clearenv) names a launcher fd out of range",
	  .name = "fds within the layout" },
	{ .type = SB_OP_CGROUP, .fd = -1, .at = 3,
	  .want = "operation 4 (cgroup) needs a controller and a limit > 0",
	  .name = "a cgroup limit" },
};
/* clang-format on */

static void
test_validate_by_hand(void)
{
	struct cy_error err;
	char want[512];
	size_t i;

	for (i = 0; i < sizeof(hand_cases) / sizeof(hand_cases[0]); i++) {
		xsnprintf(want, sizeof(want), "%s%s", hand_cases[i].want[0] ? "sandbox plan: " : "",
		    hand_cases[i].want);
		is_str(hand_fault(hand_cases[i].type, hand_cases[i].source, hand_cases[i].dest,
			   hand_cases[i].fd, hand_cases[i].at, &err),
		    want, hand_cases[i].name);
	}
}

static void
test_validate_needs(void)
{
	static const struct sb_plan_opts opts = { .runtime = "bwrap" };
	struct cy_error err = CY_ERROR_INIT;
	struct sandbox_job job;
	struct sb_plan p;

	sample_job(&job);
	sb_plan_init(&p, &job, &opts);
	sb_plan_add(&p, SB_OP_NAMESPACES, NULL, NULL);
	ok(sb_plan_validate(&p, &err) < 0, "a plan without a user fails");
	is_str(err.msg, "sandbox plan: no user operation", "and says what is missing");
	sb_plan_release(&p);
}

int
main(void)
{
	make_tree();
	RUN_TEST(test_bwrap_image);
	RUN_TEST(test_bwrap_array_env);
	RUN_TEST(test_bwrap_host);
	RUN_TEST(test_bwrap_prepared_etc);
	RUN_TEST(test_bwrap_inference_devices_net);
	RUN_TEST(test_podman);
	RUN_TEST(test_docker);
	RUN_TEST(test_plan_limits);
	RUN_TEST(test_build_faults);
	RUN_TEST(test_validate_by_hand);
	RUN_TEST(test_validate_needs);
	if (fork() == 0)
		execlp("rm", "rm", "-rf", base, (char *)NULL);
	return tap_done();
}
