/*
 * Starting and stopping the inference backend the node runs itself.
 *
 * Runtime process: fork/exec `<ollama_path> serve` (no shell) in its own
 * process group, with PR_SET_PDEATHSIG so it never outlives the node, a
 * minimal environment (PATH, HOME=<state_dir>/ollama, OLLAMA_HOST,
 * OLLAMA_MODELS=<state_dir>/ollama/models, the node's other OLLAMA_*
 * settings and the GPU selection variables; CUDA_VISIBLE_DEVICES=-1 and
 * friends when inference.allow_gpu is false), stdin /dev/null and
 * stdout/stderr into a pipe whose lines go to the node's log.
 *
 * Runtime podman or docker:
 *
 *	<engine> rm -f cynode-ollama-<slug>
 *	<engine> run -d [--replace] --name cynode-ollama-<slug>
 *	  -p <ip>:<port>:11434 -v <state_dir>/ollama:/root/.ollama
 *	  [--device nvidia.com/gpu=all | --gpus=all | --device /dev/kfd --device /dev/dri]
 *	  <image>
 *
 * with GPU flags only when inference.allow_gpu and the orchestrator's
 * variant is cuda or rocm; stopped with `<engine> stop` and `rm -f`.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "children.h"
#include "fsutil.h"
#include "inference-backend.h"
#include "inference.h"
#include "log.h"
#include "timeutil.h"
#include "banned.h"

extern char **environ;

#define OUT_LOG_WINDOW_MS 10000
#define OUT_LOG_PER_WINDOW 200   /* output lines logged per window; the rest counted */
#define ENGINE_RUN_TIMEOUT_S 900 /* `run` may pull the image */
#define ENGINE_CMD_TIMEOUT_S 30
#define ENGINE_OUT_MAX 8192

/* Variables of the node's environment a backend process gets as they are. */
static const char *const proc_pass[] = { "LANG", "LC_ALL", "TZ", "LD_LIBRARY_PATH", "HTTPS_PROXY",
	"HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy", NULL };
static const char *const proc_gpu_vars[] = { "CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES",
	"ROCR_VISIBLE_DEVICES", "GPU_DEVICE_ORDINAL", NULL };
/* ... and an engine command (rootless podman needs its runtime dir). */
static const char *const engine_pass[] = { "PATH", "HOME", "USER", "LOGNAME", "XDG_RUNTIME_DIR",
	"XDG_CONFIG_HOME", "XDG_DATA_HOME", "DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_CONTEXT",
	"CONTAINER_HOST", "CONTAINERS_CONF", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", NULL };

char *
inf_find_program(const char *name)
{
	static const char *const fallback = "/usr/bin:/usr/local/bin:/bin";
	const char *path = getenv("PATH"), *p, *e;
	int pass;

	if (!*name)
		return NULL;
	if (strchr(name, '/'))
		return name[0] == '/' && access(name, X_OK) == 0 ? xstrdup(name) : NULL;
	for (pass = 0; pass < 2; pass++) {
		for (p = pass ? fallback : path ? path : ""; *p; p = *e ? e + 1 : e) {
			struct stat st;
			char *cand;

			e = p + strcspn(p, ":");
			if (*p != '/')
				continue;
			cand = xasprintf("%.*s/%s", (int)(e - p), p, name);
			if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
				return cand;
			free(cand);
		}
	}
	return NULL;
}

bool
inf_runtime_available(const char *runtime, const char *ollama_path, char *why, size_t size)
{
	bool proc = !strcmp(runtime, "process");
	const char *bin = proc ? ollama_path : runtime;
	char *found = inf_find_program(bin);

	if (found) {
		free(found);
		return true;
	}
	if (strchr(bin, '/'))
		cy_snprintf_clip(why, size, "inference.ollama_path '%s' is not an executable file",
		    bin);
	else
		cy_snprintf_clip(why, size, "inference.runtime %s: '%s' not found on PATH", runtime,
		    bin);
	return false;
}

/* True when the address sa is loopback, unspecified, or one of ifs'. */
static bool
addr_local(const struct sockaddr *sa, const struct ifaddrs *ifs)
{
	const struct ifaddrs *i;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
		uint32_t v = ntohl(a->sin_addr.s_addr);

		if ((v >> 24) == 127 || v == 0)
			return true;
		for (i = ifs; i; i = i->ifa_next)
			if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
			    ((const struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr ==
				a->sin_addr.s_addr)
				return true;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;

		if (IN6_IS_ADDR_LOOPBACK(&a->sin6_addr) || IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr))
			return true;
		for (i = ifs; i; i = i->ifa_next)
			if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET6 &&
			    !memcmp(&((const struct sockaddr_in6 *)i->ifa_addr)->sin6_addr,
				&a->sin6_addr, sizeof(a->sin6_addr)))
				return true;
	}
	return false;
}

bool
inf_host_local(const char *host)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL, *r;
	struct ifaddrs *ifs = NULL;
	bool local = false;

	if (!strcmp(host, "localhost"))
		return true;
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return false;
	if (getifaddrs(&ifs) < 0)
		ifs = NULL;
	for (r = res; r && !local; r = r->ai_next)
		local = addr_local(r->ai_addr, ifs);
	if (ifs)
		freeifaddrs(ifs);
	freeaddrinfo(res);
	return local;
}

/* Appends "NAME=value" to the vector when NAME is set in the node's environment. */
static void
env_pass(char ***v, size_t *n, const char *name)
{
	const char *val = getenv(name);

	if (!val)
		return;
	*v = xreallocarray(*v, *n + 2, sizeof(char *));
	(*v)[(*n)++] = xasprintf("%s=%s", name, val);
	(*v)[*n] = NULL;
}

static void
env_add(char ***v, size_t *n, char *entry)
{
	*v = xreallocarray(*v, *n + 2, sizeof(char *));
	(*v)[(*n)++] = entry;
	(*v)[*n] = NULL;
}

static void
env_free(char **v)
{
	size_t i;

	for (i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* The backend process's environment (see the top of the file). */
static char **
proc_env(const struct inf_spec *s, const char *home)
{
	char **v = NULL, hp[300], **e;
	size_t n = 0, i;
	const char *path = getenv("PATH");

	env_add(&v, &n,
	    xasprintf("PATH=%s", path && *path ? path : "/usr/local/bin:/usr/bin:/bin"));
	env_add(&v, &n, xasprintf("HOME=%s", home));
	node_inference_hostport(s->host, s->port, hp, sizeof(hp));
	env_add(&v, &n, xasprintf("OLLAMA_HOST=%s", hp));
	env_add(&v, &n, xasprintf("OLLAMA_MODELS=%s/models", home));
	for (i = 0; proc_pass[i]; i++)
		env_pass(&v, &n, proc_pass[i]);
	for (i = 0; proc_gpu_vars[i]; i++) {
		if (s->allow_gpu)
			env_pass(&v, &n, proc_gpu_vars[i]);
		else
			env_add(&v, &n, xasprintf("%s=-1", proc_gpu_vars[i]));
	}
	/* The operator's Ollama settings (OLLAMA_KEEP_ALIVE, ...), but not the two above. */
	for (e = environ; *e; e++)
		if (!strncmp(*e, "OLLAMA_", 7) && strncmp(*e, "OLLAMA_HOST=", 12) &&
		    strncmp(*e, "OLLAMA_MODELS=", 14))
			env_add(&v, &n, xstrdup(*e));
	return v;
}

/* The state directory of a backend: <state_dir>/ollama (0700), created. */
static char *
proc_home(const struct inf_spec *s, struct cy_error *err)
{
	char *home = xasprintf("%s/ollama", s->state_dir), *models;

	models = xasprintf("%s/models", home);
	if (cy_mkdir_p(models, 0755, 0700) < 0 || chmod(home, 0700) < 0) {
		cy_error_errno(err, "creating '%s'", models);
		free(models);
		free(home);
		return NULL;
	}
	free(models);
	return home;
}

static int
proc_start(struct inf_proc *p, const struct inf_spec *s, struct cy_error *err)
{
	char *bin = inf_find_program(s->ollama_path), *home, **envp, *argv[3];
	static const char execfail[] = "cynode-node: cannot execute the ollama binary\n";
	pid_t parent = getpid(), pid;
	int fds[2];

	if (!bin) {
		char why[512];

		inf_runtime_available("process", s->ollama_path, why, sizeof(why));
		return cy_error_set(err, ENOENT, "%s", why);
	}
	if (!(home = proc_home(s, err))) {
		free(bin);
		return -1;
	}
	if (pipe2(fds, O_CLOEXEC) < 0) {
		free(bin);
		free(home);
		return cy_error_errno(err, "pipe");
	}
	envp = proc_env(s, home);
	argv[0] = bin;
	argv[1] = "serve";
	argv[2] = NULL;
	pid = fork();
	if (pid == 0) {
		/* The child: async-signal-safe calls only. */
		sigset_t none;
		int nul;

		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		nul = open("/dev/null", O_RDONLY);
		if (nul < 0 || dup2(nul, 0) < 0 || dup2(fds[1], 1) < 0 || dup2(fds[1], 2) < 0)
			_exit(127);
		close_range(3, ~0U, 0);
		if (chdir(home) < 0)
			_exit(127);
		execve(bin, argv, envp);
		(void)!write(2, execfail, sizeof(execfail) - 1);
		_exit(127);
	}
	close(fds[1]);
	env_free(envp);
	free(home);
	if (pid < 0) {
		close(fds[0]);
		free(bin);
		return cy_error_errno(err, "fork");
	}
	setpgid(pid, pid); /* either side may run first */
	node_child_own(pid);
	p->pid = pid;
	p->out = fds[0];
	fcntl(p->out, F_SETFL, O_NONBLOCK);
	{
		char spid[24];

		xsnprintf(spid, sizeof(spid), "%d", (int)pid);
		cy_log_info("inference_backend_spawned", "runtime", "process", "binary", bin, "pid",
		    spid, NULL);
	}
	free(bin);
	return 0;
}

/*
 * Runs an engine command to its end within timeout_s (killed when *stop
 * gets set); out gets its output (bounded).  Its exit status, or -1.
 */
static int
engine_cmd(const char *engine, char **args, int timeout_s, volatile sig_atomic_t *stop,
    struct cy_buf *out)
{
	char **envp = NULL, **argv;
	size_t n = 0, na, i;
	int64_t deadline = cy_mono_ms() + (int64_t)timeout_s * 1000;
	int fds[2], ws = 0, status = -1;
	pid_t pid, w;

	for (na = 0; args[na]; na++)
		;
	argv = xcalloc(na + 2, sizeof(char *));
	argv[0] = (char *)engine;
	for (i = 0; i < na; i++)
		argv[i + 1] = args[i];
	for (i = 0; engine_pass[i]; i++)
		env_pass(&envp, &n, engine_pass[i]);
	if (!envp)
		env_add(&envp, &n, xstrdup("PATH=/usr/local/bin:/usr/bin:/bin"));
	if (pipe2(fds, O_CLOEXEC) < 0) {
		env_free(envp);
		free(argv);
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		sigset_t none;
		int nul = open("/dev/null", O_RDONLY);

		setpgid(0, 0);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (nul < 0 || dup2(nul, 0) < 0 || dup2(fds[1], 1) < 0 || dup2(fds[1], 2) < 0)
			_exit(127);
		close_range(3, ~0U, 0);
		execve(argv[0], argv, envp);
		_exit(127);
	}
	close(fds[1]);
	env_free(envp);
	free(argv);
	if (pid < 0) {
		close(fds[0]);
		return -1;
	}
	setpgid(pid, pid); /* either side may run first: kill(-pid) needs the group */
	node_child_own(pid);
	for (;;) {
		struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
		char chunk[1024];
		ssize_t r;

		if (cy_mono_ms() >= deadline || (stop && *stop)) {
			kill(-pid, SIGKILL);
			cy_buf_addstr(out, stop && *stop ? " (stopped)" : " (timed out)");
			break;
		}
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		r = read(fds[0], chunk, sizeof(chunk));
		if (r <= 0)
			break;
		if (out->len < ENGINE_OUT_MAX)
			cy_buf_add(out, chunk,
			    (size_t)r < ENGINE_OUT_MAX - out->len ? (size_t)r :
								    ENGINE_OUT_MAX - out->len);
	}
	close(fds[0]);
	while ((w = waitpid(pid, &ws, 0)) < 0 && errno == EINTR)
		;
	node_child_done(pid);
	if (w == pid && WIFEXITED(ws))
		status = WEXITSTATUS(ws);
	while (out->len && (out->buf[out->len - 1] == '\n' || out->buf[out->len - 1] == ' '))
		cy_buf_setlen(out, out->len - 1);
	return status;
}

/* The -p argument: "<ip>:<port>:11434" ("[v6]:..." for IPv6). */
static int
container_publish(const struct inf_spec *s, char *out, size_t size, struct cy_error *err)
{
	unsigned char a[16];
	const char *h = s->host;

	if (!strcmp(h, "localhost"))
		h = "127.0.0.1";
	if (inet_pton(AF_INET, h, a) == 1)
		xsnprintf(out, size, "%s:%u:%d", h, s->port, INFERENCE_DEFAULT_PORT);
	else if (inet_pton(AF_INET6, h, a) == 1)
		xsnprintf(out, size, "[%s]:%u:%d", h, s->port, INFERENCE_DEFAULT_PORT);
	else
		return cy_error_set(err, EINVAL,
		    "inference.url host '%s' is not an IP address: "
		    "a container's port is published on an address of this host",
		    s->host);
	return 0;
}

static int
container_start(struct inf_proc *p, const struct inf_spec *s, volatile sig_atomic_t *stop,
    struct cy_error *err)
{
	struct cy_buf out = CY_BUF_INIT;
	bool podman = !strcmp(s->runtime, "podman");
	bool rocm = s->variant && !strcmp(s->variant, "rocm");
	bool cuda = s->variant && !strcmp(s->variant, "cuda");
	const char *image = s->image && *s->image ? s->image :
			    rocm                  ? "docker.io/ollama/ollama:rocm" :
						    "docker.io/ollama/ollama:latest";
	char publish[300], *vol, *home, *args[24];
	size_t n = 0;
	int rc;

	p->engine = inf_find_program(s->runtime);
	if (!p->engine)
		return cy_error_set(err, ENOENT, "inference.runtime %s: '%s' not found on PATH",
		    s->runtime, s->runtime);
	if (container_publish(s, publish, sizeof(publish), err) < 0 ||
	    !(home = proc_home(s, err))) {
		FREE_AND_NULL(p->engine);
		return -1;
	}
	xsnprintf(p->name, sizeof(p->name), "cynode-ollama-%s", s->slug); /* slug: 128 */
	vol = xasprintf("%s:/root/.ollama", home);
	free(home);
	args[0] = "rm";
	args[1] = "-f";
	args[2] = p->name;
	args[3] = NULL;
	engine_cmd(p->engine, args, ENGINE_CMD_TIMEOUT_S, stop, &out);
	cy_buf_reset(&out);
	args[n++] = "run";
	args[n++] = "-d";
	if (podman)
		args[n++] = "--replace";
	args[n++] = "--name";
	args[n++] = p->name;
	args[n++] = "-p";
	args[n++] = publish;
	args[n++] = "-v";
	args[n++] = vol;
	if (s->allow_gpu && cuda) {
		args[n++] = podman ? "--device" : "--gpus=all";
		if (podman)
			args[n++] = "nvidia.com/gpu=all";
	} else if (s->allow_gpu && rocm) {
		args[n++] = "--device";
		args[n++] = "/dev/kfd";
		args[n++] = "--device";
		args[n++] = "/dev/dri";
	}
	args[n++] = (char *)image;
	args[n] = NULL;
	cy_log_info("inference_container_starting", "runtime", s->runtime, "name", p->name, "image",
	    image, "publish", publish, "variant", s->variant ? s->variant : "cpu", NULL);
	rc = engine_cmd(p->engine, args, ENGINE_RUN_TIMEOUT_S, stop, &out);
	free(vol);
	if (rc != 0) {
		cy_error_set(err, EIO, "%s run %s: %s", s->runtime, image,
		    out.len ? out.buf : "failed");
		cy_buf_release(&out);
		FREE_AND_NULL(p->engine);
		return -1;
	}
	p->container = true;
	cy_log_info("inference_container_started", "runtime", s->runtime, "name", p->name, "id",
	    out.buf, NULL);
	cy_buf_release(&out);
	return 0;
}

/* Logs one output line of the backend process, at most OUT_LOG_PER_WINDOW a window. */
static void
out_line(struct inf_proc *p)
{
	int64_t now = cy_mono_ms();
	enum cy_log_level lv;

	if (now - p->window_ms >= OUT_LOG_WINDOW_MS) {
		if (p->dropped) {
			char d[24];

			xsnprintf(d, sizeof(d), "%u", p->dropped);
			cy_log_warn("inference_backend_output_dropped", "lines", d, NULL);
		}
		p->window_ms = now;
		p->logged = p->dropped = 0;
	}
	if (p->logged >= OUT_LOG_PER_WINDOW) {
		p->dropped++;
	} else {
		p->logged++;
		p->line[p->len] = '\0';
		/* Ollama logs every request ("[GIN] ..."), health checks too. */
		lv = strncmp(p->line, "[GIN]", 5) ? CY_LOG_INFO : CY_LOG_DEBUG;
		if (p->cut)
			cy_log(lv, "inference_backend_output", "line", p->line, "cut", "true",
			    NULL);
		else
			cy_log(lv, "inference_backend_output", "line", p->line, NULL);
	}
	p->len = 0;
	p->cut = false;
}

/* Splits output into lines; longer ones are cut at INF_LINE_MAX - 1 bytes. */
static void
out_feed(struct inf_proc *p, const char *data, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (data[i] == '\n') {
			out_line(p);
		} else if (data[i] == '\r') {
			continue;
		} else if (p->len < sizeof(p->line) - 1) {
			p->line[p->len++] = data[i];
		} else {
			p->cut = true;
		}
	}
}

int
inf_proc_start(struct inf_proc *p, const struct inf_spec *s, volatile sig_atomic_t *stop,
    struct cy_error *err)
{
	if (!strcmp(s->runtime, "process"))
		return proc_start(p, s, err);
	return container_start(p, s, stop, err);
}

bool
inf_proc_exited(struct inf_proc *p, char *why, size_t size)
{
	int ws;
	pid_t w;

	if (p->pid <= 0)
		return false;
	w = waitpid(p->pid, &ws, WNOHANG);
	if (w == 0 || (w < 0 && errno == EINTR))
		return false;
	node_child_done(p->pid);
	if (w < 0)
		cy_snprintf_clip(why, size, "waitpid: %s", strerror(errno));
	else if (WIFEXITED(ws))
		cy_snprintf_clip(why, size, "exited with status %d", WEXITSTATUS(ws));
	else if (WIFSIGNALED(ws))
		cy_snprintf_clip(why, size, "killed by signal %d", WTERMSIG(ws));
	else
		cy_snprintf_clip(why, size, "ended");
	inf_proc_drain(p);
	/* Anything left in its group (runners it started) goes too. */
	kill(-p->pid, SIGKILL);
	p->pid = 0;
	return true;
}

void
inf_proc_drain(struct inf_proc *p)
{
	char chunk[4096];
	ssize_t r;

	if (p->out < 0)
		return;
	for (;;) {
		r = read(p->out, chunk, sizeof(chunk));
		if (r > 0) {
			out_feed(p, chunk, (size_t)r);
			continue;
		}
		if (r == 0) {
			if (p->len || p->cut)
				out_line(p);
			close(p->out);
			p->out = -1;
		}
		return;
	}
}

void
inf_proc_stop(struct inf_proc *p, int grace_ms)
{
	if (p->pid > 0) {
		int64_t end = cy_mono_ms() + grace_ms;
		char why[128];

		kill(-p->pid, SIGTERM);
		while (!inf_proc_exited(p, why, sizeof(why))) {
			if (cy_mono_ms() >= end) {
				kill(-p->pid, SIGKILL);
				end = cy_mono_ms() + 60000;
			}
			usleep(20000);
			inf_proc_drain(p);
		}
		cy_log_info("inference_backend_stopped", "runtime", "process", "how", why, NULL);
	}
	if (p->container && p->engine) {
		struct cy_buf out = CY_BUF_INIT;
		char secs[16], *stop_args[] = { "stop", "-t", secs, p->name, NULL };
		char *rm_args[] = { "rm", "-f", p->name, NULL };

		xsnprintf(secs, sizeof(secs), "%d", grace_ms / 1000 > 0 ? grace_ms / 1000 : 1);
		engine_cmd(p->engine, stop_args, ENGINE_CMD_TIMEOUT_S, NULL, &out);
		cy_buf_reset(&out);
		engine_cmd(p->engine, rm_args, ENGINE_CMD_TIMEOUT_S, NULL, &out);
		cy_buf_release(&out);
		cy_log_info("inference_backend_stopped", "runtime", "container", "name", p->name,
		    NULL);
	}
	if (p->out >= 0) {
		inf_proc_drain(p);
		if (p->out >= 0)
			close(p->out);
	}
	free(p->engine);
	*p = (struct inf_proc)INF_PROC_INIT;
}
