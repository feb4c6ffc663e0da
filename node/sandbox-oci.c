/*
 * The podman and docker sandbox runtimes (sandbox.runtime: podman|docker),
 * for OCI images.  A job runs as
 *
 *	<engine> run --rm --name=cynode-<job_id> --network=none --ipc=private
 *	  --user=65534:65534 --hostname=sandbox --tmpfs=/tmp:...,size=..,mode=1777
 *	  --volume=<ws>:/workspace:rw --volume=<job>:/job:rw --read-only
 *	  --workdir=/workspace --env=KEY... --cap-drop=ALL
 *	  --security-opt=no-new-privileges --ulimit=core=0 --ulimit=nofile=..
 *	  --memory=.. --memory-swap=.. --pids-limit=.. --cpus=.. --ulimit=nproc=..
 *	  --label=cynodeai.task_id=.. --label=cynodeai.job_id=.. -- IMAGE ARGV...
 *
 * rendered from the job's plan (sandbox-plan.c): what the plan holds that
 * an engine does itself (the root, /proc, /dev, a private /dev/shm) or
 * cannot express is said where it is rendered.  The engine's default
 * seccomp profile applies.  Environment values reach the engine through
 * its own environment (`--env=KEY` without a value), so they never show
 * on a command line.  Output is read through pipes and capped like
 * bwrap's; a timeout or cancel runs `<engine> kill` on the container and
 * kills the client.  The probe asks `<engine> info`.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "children.h"
#include "sandbox-plan.h"
#include "sandbox.h"
#include "timeutil.h"
#include "banned.h"

/* The engine binary on PATH (or /usr/bin, /usr/local/bin), or NULL. */
static char *
oci_find(const char *engine)
{
	static const char *const dirs[] = { "/usr/bin", "/usr/local/bin", "/bin", NULL };
	char *p;
	size_t i;

	for (i = 0; dirs[i]; i++) {
		p = xasprintf("%s/%s", dirs[i], engine);
		if (access(p, X_OK) == 0)
			return p;
		free(p);
	}
	return NULL;
}

/*
 * Runs argv with envp, stdout/stderr to the given fds (-1 = /dev/null),
 * in its own process group; returns the pid or -1.
 */
static pid_t
oci_spawn(char **argv, char **envp, int out, int err)
{
	pid_t pid = fork();
	int nul;

	if (pid > 0)
		node_child_own(pid);
	if (pid != 0)
		return pid;
	setpgid(0, 0);
	nul = open("/dev/null", O_RDWR);
	dup2(nul, 0);
	dup2(out >= 0 ? out : nul, 1);
	dup2(err >= 0 ? err : nul, 2);
	close_range(3, ~0U, 0);
	execve(argv[0], argv, envp);
	_exit(127);
}

/* Runs a short engine command to the end within timeout_s; its exit status. */
static int
oci_command(const char *bin, const char *a1, const char *a2, const char *a3, int timeout_s)
{
	static char *const envp[] = { "PATH=/usr/local/bin:/usr/bin:/bin", NULL };
	char *argv[] = { (char *)bin, (char *)a1, (char *)a2, (char *)a3, NULL };
	int ws, i;
	pid_t pid = oci_spawn(argv, (char **)envp, -1, -1);

	if (pid < 0)
		return -1;
	for (i = 0; i < timeout_s * 10; i++) {
		pid_t w = waitpid(pid, &ws, WNOHANG);

		if (w == pid) {
			node_child_done(pid);
			return WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
		}
		usleep(100000);
	}
	kill(-pid, SIGKILL);
	waitpid(pid, &ws, 0);
	node_child_done(pid);
	return -1;
}

/* Stops the container (`<engine> kill`) and kills the client. */
static void
oci_kill_container(struct sb_running *r)
{
	char *bin = oci_find(r->runtime), name[200];

	xsnprintf(name, sizeof(name), "cynode-%s", r->job_id); /* job ids: 128 at most */
	if (bin) {
		oci_command(bin, "kill", name, NULL, 10);
		free(bin);
	}
	kill(-r->pid, SIGKILL);
}

/* sandbox_collect's callback: kill the job now. */
static void
oci_kill_cb(void *arg)
{
	oci_kill_container(arg);
}

/* A cgroup limit as engine flags. */
static void
oci_render_cgroup(struct sb_argv *a, const struct sb_op *op)
{
	if (op->resource == SB_CG_MEMORY) {
		sb_argv_addf(a, "--memory=%lldm", op->value);
		sb_argv_addf(a, "--memory-swap=%lldm", op->value);
	} else if (op->resource == SB_CG_PIDS) {
		sb_argv_addf(a, "--pids-limit=%lld", op->value);
	} else if (op->resource == SB_CG_CPU) {
		sb_argv_addf(a, "--cpus=%lld.%03lld", op->value / 1000, op->value % 1000);
	}
}

/*
 * The end of the command line: the engine's process limit held within the
 * node's own (the engine's default may exceed what the node may set),
 * labels naming the job, the image and the command.
 */
static void
oci_render_exec(struct sb_argv *a, const struct sb_plan *p, const struct sb_op *op,
    long long nproc_max)
{
	char **v;

	if (nproc_max > 0)
		sb_argv_addf(a, "--ulimit=nproc=%lld", nproc_max);
	sb_argv_addf(a, "--label=cynodeai.task_id=%s", p->job->task_id);
	sb_argv_addf(a, "--label=cynodeai.job_id=%s", p->job->job_id);
	sb_argv_add(a, "--", p->job->image, NULL);
	for (v = op->argv; *v; v++)
		sb_argv_add(a, *v, NULL);
}

/* Appends the engine flags of one operation, and the client's environment. */
static void
oci_render_op(struct sb_argv *a, struct sb_argv *envp, const struct sb_plan *p,
    const struct sb_op *op, long long nproc_max)
{
	switch (op->type) {
	case SB_OP_NAMESPACES:
		/* Only SB_NET_HOST is the host's: anything else gets none. */
		sb_argv_add(a, op->value == SB_NET_HOST ? "--network=host" : "--network=none",
		    "--ipc=private", NULL);
		break;
	case SB_OP_USER:
		sb_argv_addf(a, "--user=%u:%u", (unsigned)op->uid, (unsigned)op->gid);
		break;
	case SB_OP_HOSTNAME:
		sb_argv_addf(a, "--hostname=%s", op->dest);
		break;
	case SB_OP_BIND_RO:
	case SB_OP_BIND_RW:
		sb_argv_addf(a, "--volume=%s:%s:%s", op->source, op->dest,
		    op->type == SB_OP_BIND_RO ? "ro" : "rw");
		break;
	case SB_OP_DEV_BIND:
		sb_argv_addf(a, "--device=%s", op->source);
		break;
	case SB_OP_TMPFS:
		/* --ipc=private gives the container a private /dev/shm of its own. */
		if (strcmp(op->dest, "/dev/shm"))
			sb_argv_addf(a, "--tmpfs=%s:rw,nosuid,nodev,size=%lldm,mode=%o", op->dest,
			    op->value > 0 ? op->value : 256, op->perms);
		break;
	case SB_OP_REMOUNT_RO:
		/* The engine's /dev is its own. */
		if (!strcmp(op->dest, "/"))
			sb_argv_add(a, "--read-only", NULL);
		break;
	case SB_OP_CHDIR:
		sb_argv_addf(a, "--workdir=%s", op->dest);
		break;
	case SB_OP_CLEARENV:
		sb_argv_add(envp, "PATH=/usr/local/bin:/usr/bin:/bin", NULL);
		break;
	case SB_OP_SETENV:
		/* Values go by the client's environment, never its argv; PATH is the image's. */
		if (strcmp(op->source, "PATH")) {
			sb_argv_addf(a, "--env=%s", op->source);
			sb_argv_addf(envp, "%s=%s", op->source, op->dest);
		}
		break;
	case SB_OP_CAP_DROP_ALL:
		sb_argv_add(a, "--cap-drop=ALL", NULL);
		break;
	case SB_OP_NO_NEW_PRIVS:
		sb_argv_add(a, "--security-opt=no-new-privileges", NULL);
		break;
	case SB_OP_RLIMIT:
		/* The file size limit is left to the engine. */
		if (op->resource == RLIMIT_CORE)
			sb_argv_addf(a, "--ulimit=core=%lld", op->value);
		else if (op->resource == RLIMIT_NOFILE)
			sb_argv_addf(a, "--ulimit=nofile=%lld", op->value);
		break;
	case SB_OP_CGROUP:
		oci_render_cgroup(a, op);
		break;
	case SB_OP_EXEC:
		oci_render_exec(a, p, op, nproc_max);
		break;
	default:
		/*
		 * The engine makes the root from the image, /proc, /dev and the
		 * mount points itself, and applies its default seccomp profile;
		 * a container has no parent-death signal or session option.
		 */
		break;
	}
}

void
sb_render_oci(const struct sb_plan *p, const char *bin, long long nproc_max, struct sb_argv *argv,
    struct sb_argv *envp)
{
	size_t i;

	sb_argv_add(argv, bin, "run", "--rm", NULL);
	sb_argv_addf(argv, "--name=cynode-%s", p->job->job_id);
	for (i = 0; i < p->n; i++)
		oci_render_op(argv, envp, p, &p->ops[i], nproc_max);
}

/* The node's hard process limit, or 0 when it has none. */
static long long
oci_nproc_max(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_max != RLIM_INFINITY)
		return (long long)rl.rlim_max;
	return 0;
}

/*
 * How the run ended.  The client's exit status is the command's, but for
 * the engine's own failure codes (the container never ran the command);
 * the engine does not say whether its memory limit killed the command.
 */
static void
oci_status(const struct sandbox_job *job, const struct sb_running *r, bool timed_out, int ws,
    struct sandbox_result *res)
{
	struct sb_outcome o = { .timed_out = timed_out, .killed = r->killed, .timeout_bare = true };

	o.exit_code = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
	o.launch_failed = !timed_out && !r->killed && o.exit_code >= 125 && o.exit_code <= 127;
	if (o.launch_failed)
		sandbox_note(res, job, "cynode: sandbox launch failed\n");
	sandbox_finish(res, &o, job);
	if (res->exit_code == 137 && job->limits.mem_mb > 0)
		sandbox_note(res, job,
		    "cynode: killed by SIGKILL "
		    "(the memory limit, if it was reached)\n");
}

static int
oci_run(const char *engine, const struct sandbox_job *job, struct sandbox_result *res,
    struct cy_error *err)
{
	const struct sb_plan_opts opts = { .runtime = engine, .image_root = true };
	struct sb_argv argv = SB_ARGV_INIT, envp = SB_ARGV_INIT;
	struct sb_running r = { .runtime = engine, .job_id = job->job_id, .pid = -1 };
	struct cy_buf status = CY_BUF_INIT;
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, ws = 0, i;
	char *bin = oci_find(engine);
	struct sb_plan plan;
	bool timed_out;
	int ret = -1;

	sandbox_result_init(res);
	sb_plan_init(&plan, job, &opts);
	if (!bin) {
		cy_error_set(err, ENOENT, "%s is not installed", engine);
		goto out;
	}
	if (sb_plan_build(&plan, err) < 0)
		goto out;
	sb_render_oci(&plan, bin, oci_nproc_max(), &argv, &envp);
	if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		cy_error_errno(err, "creating pipes");
		goto out;
	}
	res->started = time(NULL);
	res->fork_us = cy_real_us();
	r.pid = oci_spawn(argv.v, envp.v, outp[1], errp[1]);
	if (r.pid < 0) {
		cy_error_errno(err, "fork");
		goto out;
	}
	close(outp[1]);
	close(errp[1]);
	outp[1] = errp[1] = -1;
	sb_running_add(&r);
	timed_out = sandbox_collect(outp[0], errp[0], -1, job->timeout_s, job->max_output,
	    job->secrets, res, &status, sb_running_killed, oci_kill_cb, &r, job->log);
	if (timed_out || r.killed)
		oci_kill_container(&r);
	while (waitpid(r.pid, &ws, 0) < 0 && errno == EINTR)
		;
	node_child_done(r.pid);
	sb_running_del(&r);
	res->ended = time(NULL);
	res->exit_us = cy_real_us();
	oci_status(job, &r, timed_out, ws, res);
	ret = 0;
out:
	if (ret < 0)
		sandbox_result_release(res);
	for (i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	sb_argv_release(&argv);
	sb_argv_release(&envp);
	sb_plan_release(&plan);
	cy_buf_release(&status);
	free(bin);
	return ret;
}

/* Stops the engine client; its run then kills the container too. */
static void
oci_signal(struct sb_running *r)
{
	kill(-r->pid, SIGTERM);
}

static int
oci_kill(const char *engine, const char *job_id, enum sb_killed how)
{
	return sb_running_stop(engine, job_id, how, oci_signal);
}

static int
oci_probe(const char *engine, struct cy_error *err)
{
	char *bin = oci_find(engine);
	int rc;

	if (!bin)
		return cy_error_set(err, ENOENT, "%s is not installed", engine);
	rc = oci_command(bin, "info", NULL, NULL, 10);
	free(bin);
	if (rc != 0)
		return cy_error_set(err, EIO, "%s cannot start containers here ('%s info' failed)",
		    engine, engine);
	return 0;
}

static void
oci_features(json_t *f)
{
	static const char *const feats[] = { "userns", "pidns", "mountns", "ipcns", "utsns",
		"netns", "seccomp", "no_new_privs", "caps_dropped", "readonly_root", "private_tmp",
		"rlimits", "memory_limit", "pids_limit", "cpu_limit", NULL };
	size_t i;

	for (i = 0; feats[i]; i++)
		json_array_append_new(f, json_string(feats[i]));
}

static int
podman_probe(const char *mount_root, struct cy_error *err)
{
	return oci_probe("podman", err);
}

static int
podman_run(const struct sandbox_job *job, struct sandbox_result *res, struct cy_error *err)
{
	return oci_run("podman", job, res, err);
}

static int
podman_kill(const char *job_id)
{
	return oci_kill("podman", job_id, SB_KILLED_CANCEL);
}

static void
podman_kill_all(void)
{
	oci_kill("podman", NULL, SB_KILLED_SHUTDOWN);
}

static int
docker_probe(const char *mount_root, struct cy_error *err)
{
	return oci_probe("docker", err);
}

static int
docker_run(const struct sandbox_job *job, struct sandbox_result *res, struct cy_error *err)
{
	return oci_run("docker", job, res, err);
}

static int
docker_kill(const char *job_id)
{
	return oci_kill("docker", job_id, SB_KILLED_CANCEL);
}

static void
docker_kill_all(void)
{
	oci_kill("docker", NULL, SB_KILLED_SHUTDOWN);
}

const struct sandbox_runtime sandbox_podman = {
	.name = "podman",
	.probe = podman_probe,
	.run = podman_run,
	.kill = podman_kill,
	.kill_all = podman_kill_all,
	.features = oci_features,
};

const struct sandbox_runtime sandbox_docker = {
	.name = "docker",
	.probe = docker_probe,
	.run = docker_run,
	.kill = docker_kill,
	.kill_all = docker_kill_all,
	.features = oci_features,
};
