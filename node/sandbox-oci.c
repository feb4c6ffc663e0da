/*
 * The podman and docker sandbox runtimes (sandbox.runtime: podman|docker),
 * for OCI images.  A job runs as
 *
 *	<engine> run --rm --name cynode-<job_id> --network none --read-only
 *	  --cap-drop ALL --security-opt no-new-privileges --user 65534:65534
 *	  --tmpfs /tmp:size=..,mode=1777 --pids-limit .. --memory .. --cpus ..
 *	  --ulimit nofile/fsize/core -v <ws>:/workspace -v <job>:/job
 *	  -w /workspace --label cynodeai.task_id=.. --label cynodeai.job_id=..
 *	  -e KEY ... IMAGE ARGV...
 *
 * The engine's default seccomp profile applies.  Environment values reach
 * the engine through its own environment (`-e KEY` without a value), so
 * they never show on a command line.  Output is read through pipes and
 * capped like bwrap's; a timeout or cancel runs `<engine> kill` on the
 * container and kills the client.  The probe asks `<engine> info`.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "config.h"
#include "sandbox.h"
#include "banned.h"

struct oci_running {
	struct oci_running *next;
	const char *engine;
	char *job_id;
	pid_t pid;
	int killed;		/* 1 cancel, 2 shutdown */
};

static pthread_mutex_t oci_lock = PTHREAD_MUTEX_INITIALIZER;
static struct oci_running *oci_list;

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

		if (w == pid)
			return WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
		usleep(100000);
	}
	kill(-pid, SIGKILL);
	waitpid(pid, &ws, 0);
	return -1;
}

static void
oci_kill_container(struct oci_running *r)
{
	char *bin = oci_find(r->engine), name[200];

	snprintf(name, sizeof(name), "cynode-%s", r->job_id);
	if (bin) {
		oci_command(bin, "kill", name, NULL, 10);
		free(bin);
	}
	kill(-r->pid, SIGKILL);
}

static bool
oci_killed(void *arg)
{
	struct oci_running *r = arg;
	bool k;

	pthread_mutex_lock(&oci_lock);
	k = r->killed != 0;
	pthread_mutex_unlock(&oci_lock);
	return k;
}

static void
oci_kill_cb(void *arg)
{
	oci_kill_container(arg);
}

static void
add(struct cy_strlist *l, const char *s)
{
	l->v = xreallocarray(l->v, l->n + 2, sizeof(char *));
	l->v[l->n++] = xstrdup(s);
	l->v[l->n] = NULL;
}

static void __attribute__((format(printf, 2, 3)))
addf(struct cy_strlist *l, const char *fmt, ...)
{
	char buf[4200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	add(l, buf);
}

static int
oci_run(const char *engine, const struct sandbox_job *job, struct sandbox_result *res,
	struct cy_error *err)
{
	struct cy_strlist argv = { NULL, 0 }, envp = { NULL, 0 };
	struct oci_running r = { NULL, engine, (char *)job->job_id, -1, 0 };
	struct cy_buf status = CY_BUF_INIT;
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, ws = 0, i;
	char *bin = oci_find(engine);
	bool timed_out;
	int ret = -1;

	memset(res, 0, sizeof(*res));
	res->out = (struct cy_buf)CY_BUF_INIT;
	res->err = (struct cy_buf)CY_BUF_INIT;
	if (!bin)
		return cy_error_set(err, ENOENT, "%s is not installed", engine);
	if (!job->image || !strcmp(job->image, "host")) {
		free(bin);
		return cy_error_set(err, EINVAL, "the %s runtime needs an OCI image", engine);
	}
	add(&argv, bin);
	add(&argv, "run");
	add(&argv, "--rm");
	addf(&argv, "--name=cynode-%s", job->job_id);
	add(&argv, job->share_net ? "--network=host" : "--network=none");
	add(&argv, "--read-only");
	add(&argv, "--cap-drop=ALL");
	add(&argv, "--security-opt=no-new-privileges");
	add(&argv, "--user=65534:65534");
	add(&argv, "--hostname=sandbox");
	add(&argv, "--ipc=private");
	addf(&argv, "--tmpfs=/tmp:rw,nosuid,nodev,size=%lldm,mode=1777",
		job->limits.tmp_mb > 0 ? job->limits.tmp_mb : 256);
	if (job->limits.pids > 0)
		addf(&argv, "--pids-limit=%lld", job->limits.pids);
	if (job->limits.mem_mb > 0) {
		addf(&argv, "--memory=%lldm", job->limits.mem_mb);
		addf(&argv, "--memory-swap=%lldm", job->limits.mem_mb);
	}
	if (job->limits.cpu_milli > 0) {
		char c[64];

		snprintf(c, sizeof(c), "--cpus=%lld.%03lld", job->limits.cpu_milli / 1000,
			job->limits.cpu_milli % 1000);
		add(&argv, c);
	}
	if (job->limits.nofile > 0)
		addf(&argv, "--ulimit=nofile=%lld", job->limits.nofile);
	add(&argv, "--ulimit=core=0");
	{
		/* The engine's default nproc may exceed what the node may set. */
		struct rlimit rl;

		if (getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_max != RLIM_INFINITY)
			addf(&argv, "--ulimit=nproc=%llu", (unsigned long long)rl.rlim_max);
	}
	for (i = 0; job->devices && job->devices[i]; i++)
		addf(&argv, "--device=%s", job->devices[i]);
	addf(&argv, "--volume=%s/workspace:/workspace:rw", job->job_dir);
	addf(&argv, "--volume=%s/job:/job:rw", job->job_dir);
	/* The job's inference socket (issue 12); its network stays none. */
	if (job->inference_dir)
		addf(&argv, "--volume=%s:" SANDBOX_INFERENCE_DIR ":rw", job->inference_dir);
	add(&argv, "--workdir=/workspace");
	addf(&argv, "--label=cynodeai.task_id=%s", job->task_id);
	addf(&argv, "--label=cynodeai.job_id=%s", job->job_id);
	add(&envp, "PATH=/usr/local/bin:/usr/bin:/bin");
	for (i = 0; job->env && job->env[i]; i++) {
		const char *eq = strchr(job->env[i], '=');
		char *k;

		if (!eq || !strncmp(job->env[i], "PATH=", 5))
			continue;
		k = xstrndup(job->env[i], (size_t)(eq - job->env[i]));
		addf(&argv, "--env=%s", k);
		free(k);
		add(&envp, job->env[i]);
	}
	add(&argv, "--");
	add(&argv, job->image);
	for (i = 0; job->argv[i]; i++)
		add(&argv, job->argv[i]);
	if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		cy_error_errno(err, "creating pipes");
		goto out;
	}
	res->started = time(NULL);
	r.pid = oci_spawn(argv.v, envp.v, outp[1], errp[1]);
	if (r.pid < 0) {
		cy_error_errno(err, "fork");
		goto out;
	}
	close(outp[1]);
	close(errp[1]);
	outp[1] = errp[1] = -1;
	pthread_mutex_lock(&oci_lock);
	r.next = oci_list;
	oci_list = &r;
	pthread_mutex_unlock(&oci_lock);
	timed_out = sandbox_collect(outp[0], errp[0], -1, job->timeout_s, job->max_output, res,
		&status, oci_killed, oci_kill_cb, &r, job->live);
	if (timed_out || r.killed)
		oci_kill_container(&r);
	while (waitpid(r.pid, &ws, 0) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&oci_lock);
	{
		struct oci_running **pp;

		for (pp = &oci_list; *pp; pp = &(*pp)->next) {
			if (*pp == &r) {
				*pp = r.next;
				break;
			}
		}
	}
	pthread_mutex_unlock(&oci_lock);
	res->ended = time(NULL);
	if (timed_out) {
		res->status = SANDBOX_TIMEOUT;
		res->exit_code = -1;
		sandbox_note(res, job->max_output, "cynode: killed: timeout\n");
	} else if (r.killed == 1) {
		res->status = SANDBOX_CANCELED;
		res->exit_code = -1;
		sandbox_note(res, job->max_output, "cynode: killed: job canceled\n");
	} else if (r.killed) {
		res->status = SANDBOX_FAILED;
		res->exit_code = -1;
		sandbox_note(res, job->max_output, "cynode: killed: the node is shutting down\n");
	} else if (WIFEXITED(ws) && WEXITSTATUS(ws) >= 125 && WEXITSTATUS(ws) <= 127) {
		/* The engine's own failure codes: the container never ran the command. */
		res->status = SANDBOX_FAILED;
		res->exit_code = -1;
		sandbox_note(res, job->max_output, "cynode: sandbox launch failed\n");
	} else if (WIFEXITED(ws)) {
		res->exit_code = WEXITSTATUS(ws);
		res->status = res->exit_code ? SANDBOX_FAILED : SANDBOX_COMPLETED;
		if (res->exit_code == 137 && job->limits.mem_mb > 0)
			sandbox_note(res, job->max_output, "cynode: killed by SIGKILL "
				"(the memory limit, if it was reached)\n");
	} else {
		res->status = SANDBOX_FAILED;
		res->exit_code = -1;
	}
	ret = 0;
out:
	for (i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	cy_strlist_free(&argv);
	cy_strlist_free(&envp);
	cy_buf_release(&status);
	free(bin);
	return ret;
}

static int
oci_kill(const char *engine, const char *job_id, int how)
{
	struct oci_running *r, *hit[64];
	int n = 0, i;

	pthread_mutex_lock(&oci_lock);
	for (r = oci_list; r && n < 64; r = r->next) {
		if (!strcmp(r->engine, engine) && (!job_id || !strcmp(r->job_id, job_id))) {
			if (!r->killed)
				r->killed = how;
			hit[n++] = r;
		}
	}
	/* The runs wait for their list entry under the lock, so hit[] stays valid. */
	for (i = 0; i < n; i++)
		kill(-hit[i]->pid, SIGTERM);
	pthread_mutex_unlock(&oci_lock);
	return n ? 0 : -1;
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
		"netns", "seccomp", "no_new_privs", "caps_dropped", "readonly_root",
		"private_tmp", "rlimits", "memory_limit", "pids_limit", "cpu_limit", NULL };
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
	return oci_kill("podman", job_id, 1);
}

static void
podman_kill_all(void)
{
	oci_kill("podman", NULL, 2);
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
	return oci_kill("docker", job_id, 1);
}

static void
docker_kill_all(void)
{
	oci_kill("docker", NULL, 2);
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
