/*
 * The node's inference backend (inference.h): the state shared by the
 * manager, the Worker API and the capability report, and the supervisor
 * thread that owns the backend the node starts.
 *
 * At startup the node probes inference.url (GET /api/version); a server
 * that answers is an existing service: it is used and never duplicated,
 * and when it goes away it is reported running false.  Otherwise the
 * orchestrator's inference_backend decides: enabled starts exactly one
 * backend (inference-run.c), which must answer within
 * inference.startup_timeout_seconds.  The supervisor notices a child that
 * exited at once and asks /api/version every 2 s: an exit, or three failed
 * checks in a row, mean it is
 * restarted after a backoff (1 s doubling to 60 s; back to 1 s once it
 * stayed up a minute).  The supervisor thread forks the child, so the
 * child's parent-death signal fires only when the node ends.  While no
 * backend is in use it looks for a service appearing at inference.url.
 *
 * Model lists come from /api/tags and /api/ps, refreshed every heartbeat
 * and after each pull (inference-pull.c); names are sorted so the
 * capability hash changes only when the set does.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "id.h"
#include "httpc.h"
#include "inference-backend.h"
#include "inference.h"
#include "json.h"
#include "log.h"
#include "node.h"
#include "strnum.h"
#include "timeutil.h"
#include "banned.h"

#define PROBE_TIMEOUT_MS 2000
#define PROBE_CONNECT_MS 1000
#define TICK_MS 1000       /* supervisor checks */
#define START_POLL_MS 200  /* checks while a started backend comes up */
#define HEALTH_TICKS 2     /* ticks between health checks (/api/version) */
#define HEALTH_FAILS 3     /* failed checks in a row: the backend is dead */
#define IDLE_PROBE_TICKS 5 /* no backend: look for one at inference.url */
#define BACKOFF_MAX_S 60
#define STABLE_MS 60000 /* up this long: the backoff starts over */
#define STOP_GRACE_MS 5000
#define MODELS_MAX 1024 /* names reported */
#define NAME_REPORT_MAX 256

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* `settled` changed */
	const struct node_config *cfg;
	bool active;     /* inference may be used (mode, sandbox.mode) */
	bool url_set;    /* inference.url configured */
	char probe[320]; /* where an existing service is looked for */
	char host[256];  /* inference.url's host and port */
	unsigned port;
	bool local; /* the host is this machine's: a backend can start */
	bool supported;
	char unsupported[400]; /* why not */
	/* The orchestrator's inference_backend. */
	bool want;
	char image[256];
	char variant[8];
	unsigned ib_port;
	unsigned gen, settled; /* decisions made, and carried out */
	/* The backend in use. */
	bool existing;
	bool started;
	bool running;
	char url[320];
	char version[64];
	json_t *models, *loaded;
	char error[1200]; /* why none runs */
	/* The supervisor. */
	int wake;
	pthread_t thread;
	bool thread_started;
	volatile sig_atomic_t stop;
} inf = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER, .wake = -1 };

/* --- pure helpers --- */

int
node_inference_parse_url(const char *url, char *host, size_t hsize, unsigned *port,
    struct cy_error *err)
{
	const char *p, *h, *he;
	long long v;
	const char *errstr;

	if (strncmp(url, "http://", 7))
		return cy_error_set(err, EINVAL, "'%.200s' must start with http://", url);
	p = h = url + 7;
	if (*p == '[') {
		unsigned char a[16];
		char v6[64];

		he = strchr(p, ']');
		if (!he || (size_t)(he - p - 1) >= sizeof(v6))
			return cy_error_set(err, EINVAL, "'%.200s': unterminated [IPv6] host", url);
		xsnprintf(v6, sizeof(v6), "%.*s", (int)(he - p - 1), p + 1);
		if (inet_pton(AF_INET6, v6, a) != 1)
			return cy_error_set(err, EINVAL, "'%.200s': '%s' is not an IPv6 address",
			    url, v6);
		h = p + 1;
		p = he + 1;
	} else {
		for (he = p; *he && *he != ':' && *he != '/'; he++)
			if (!(*he >= 'a' && *he <= 'z') && !(*he >= 'A' && *he <= 'Z') &&
			    !(*he >= '0' && *he <= '9') && *he != '.' && *he != '-')
				return cy_error_set(err, EINVAL,
				    "'%.200s': the host may hold letters, "
				    "digits, '.' and '-' only (no user, query or spaces)",
				    url);
		if (he == p || *p == '-' || *p == '.' || he - p > 253)
			return cy_error_set(err, EINVAL, "'%.200s' names no host", url);
		p = he;
	}
	if ((size_t)(he - h) >= hsize)
		return cy_error_set(err, EINVAL, "'%.200s': the host is too long", url);
	xsnprintf(host, hsize, "%.*s", (int)(he - h), h);
	*port = INFERENCE_DEFAULT_PORT;
	if (*p == ':') {
		char num[8];
		size_t n = strcspn(p + 1, "/");

		if (n == 0 || n >= sizeof(num) || strspn(p + 1, "0123456789") < n)
			return cy_error_set(err, EINVAL, "'%.200s': bad port", url);
		xsnprintf(num, sizeof(num), "%.*s", (int)n, p + 1);
		if (cy_strtonum(num, 1, 65535, &v, &errstr) < 0)
			return cy_error_set(err, EINVAL, "'%.200s': the port must be 1-65535", url);
		*port = (unsigned)v;
		p += 1 + n;
	}
	if (*p == '/')
		p++;
	if (*p)
		return cy_error_set(err, EINVAL,
		    "'%.200s' must be http://HOST:PORT, without a "
		    "path",
		    url);
	return 0;
}

void
node_inference_hostport(const char *host, unsigned port, char *out, size_t size)
{
	xsnprintf(out, size, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
}

/* --- talking to the backend --- */

/* GET base+path with a short timeout: the JSON object answered, or NULL. */
static json_t *
inf_get(const char *base, const char *path, long *status)
{
	struct cy_httpc_resp resp = CY_HTTPC_RESP_INIT;
	struct cy_httpc_opts o = { 0 };
	struct cy_error err = CY_ERROR_INIT;
	char *url = xasprintf("%s%s", base, path);
	json_t *j = NULL;

	o.timeout_ms = PROBE_TIMEOUT_MS;
	o.connect_timeout_ms = PROBE_CONNECT_MS;
	o.max_response = 4 * 1024 * 1024;
	*status = 0;
	if (cy_httpc_request("GET", url, NULL, 0, &o, &resp, &err) == 0) {
		*status = resp.status;
		if (resp.status == 200)
			j = cy_json_parse(resp.body.buf, resp.body.len, true, &err);
	}
	cy_httpc_resp_release(&resp);
	free(url);
	return j;
}

/*
 * True when an Ollama API answers at base: /api/version (its version into
 * version), or /api/tags for a server without the former.
 */
static bool
inf_probe(const char *base, char *version, size_t vsize)
{
	long status;
	json_t *j = inf_get(base, "/api/version", &status);
	const char *v;

	version[0] = '\0';
	if (!j && status != 0) {
		j = inf_get(base, "/api/tags", &status);
		if (j && !json_is_array(json_object_get(j, "models"))) {
			json_decref(j);
			j = NULL;
		}
	} else if ((v = cy_json_str(j, "version"))) {
		xsnprintf(version, vsize, "%.63s", v);
	}
	json_decref(j);
	return j != NULL;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The sorted, distinct model names of a /api/tags or /api/ps answer. */
static json_t *
inf_names(const json_t *answer)
{
	json_t *models = json_object_get(answer, "models"), *m, *out = json_array();
	const char **v = NULL;
	size_t i, n = 0;

	json_array_foreach(models, i, m) {
		const char *s = cy_json_str(m, "name");
		size_t k, len;

		if (!s)
			s = cy_json_str(m, "model");
		if (!s || n == MODELS_MAX)
			continue;
		len = strlen(s);
		if (len == 0 || len > NAME_REPORT_MAX)
			continue;
		for (k = 0; k < len; k++)
			if ((unsigned char)s[k] <= ' ' || s[k] == 0x7f)
				break;
		if (k < len)
			continue;
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n++] = s;
	}
	if (n)
		qsort(v, n, sizeof(*v), name_cmp);
	for (i = 0; i < n; i++)
		if (i == 0 || strcmp(v[i], v[i - 1]))
			json_array_append_new(out, json_string(v[i]));
	free(v);
	return out;
}

/* Asks the backend at base for its models and keeps the lists. */
static void
inf_fetch_models(const char *base)
{
	long status;
	json_t *tags = inf_get(base, "/api/tags", &status);
	json_t *ps = tags ? inf_get(base, "/api/ps", &status) : NULL;

	pthread_mutex_lock(&inf.lock);
	if (tags && !strcmp(inf.url, base)) {
		json_decref(inf.models);
		inf.models = inf_names(tags);
		if (ps) {
			json_decref(inf.loaded);
			inf.loaded = inf_names(ps);
		}
	}
	pthread_mutex_unlock(&inf.lock);
	json_decref(tags);
	json_decref(ps);
}

/* Under the lock: no backend in use. */
static void
inf_set_down(void)
{
	inf.running = false;
	json_decref(inf.models);
	json_decref(inf.loaded);
	inf.models = json_array();
	inf.loaded = json_array();
}

/* Whether the configured runtime could start a backend; updates supported. */
static void
inf_update_supported(void)
{
	char why[400] = "";
	bool avail =
	    inf.active && inf.local &&
	    inf_runtime_available(inf.cfg->inf_runtime, inf.cfg->inf_ollama_path, why, sizeof(why));

	if (inf.active && !inf.local)
		cy_snprintf_clip(why, sizeof(why),
		    "inference.url names '%s', not an address of this host, "
		    "where alone the node can start a backend",
		    inf.host);

	pthread_mutex_lock(&inf.lock);
	inf.supported = inf.active && (avail || inf.started || (inf.existing && inf.running));
	cy_snprintf_clip(inf.unsupported, sizeof(inf.unsupported), "%s", avail ? "" : why);
	pthread_mutex_unlock(&inf.lock);
}

/* --- the supervisor --- */

struct sup {
	struct inf_proc proc;
	unsigned gen; /* the decision acted on */
	long long backoff_s;
	int64_t next_start_ms;
	int64_t up_since_ms;
	int fails;
	int health_ticks;
	int idle_ticks;
};

/* Marks the last decision (gen) carried out. */
static void
sup_settle(unsigned gen)
{
	pthread_mutex_lock(&inf.lock);
	if (inf.settled != gen) {
		inf.settled = gen;
		pthread_cond_broadcast(&inf.cond);
	}
	pthread_mutex_unlock(&inf.lock);
}

/* A service answering at base that the node did not start: use it. */
static void
sup_adopt(const char *base, const char *version)
{
	pthread_mutex_lock(&inf.lock);
	inf.existing = true;
	inf.running = true;
	xsnprintf(inf.url, sizeof(inf.url), "%s", base);
	xsnprintf(inf.version, sizeof(inf.version), "%s", version);
	inf.error[0] = '\0';
	pthread_mutex_unlock(&inf.lock);
	cy_log_info("inference_existing_service", "url", base, "version", version, NULL);
	inf_fetch_models(base);
	inf_pull_kick();
}

/* Schedules the next start attempt and lengthens the backoff. */
static void
sup_backoff(struct sup *s)
{
	char secs[24];

	xsnprintf(secs, sizeof(secs), "%lld", s->backoff_s);
	cy_log_info("inference_backend_restart_scheduled", "in_seconds", secs, NULL);
	s->next_start_ms = cy_mono_ms() + s->backoff_s * 1000;
	s->backoff_s = s->backoff_s * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : s->backoff_s * 2;
}

static void
sup_fail(struct sup *s, const char *runtime, const char *msg)
{
	pthread_mutex_lock(&inf.lock);
	cy_snprintf_clip(inf.error, sizeof(inf.error), "%s", msg);
	pthread_mutex_unlock(&inf.lock);
	cy_log_error("inference_backend_start_failed", "runtime", runtime, "error", msg, NULL);
	sup_backoff(s);
}

/* Sleeps up to ms, waking for the backend's output or a wake-up; drains both. */
static void
sup_wait(struct sup *s, int ms)
{
	struct pollfd pfd[2] = { { .fd = inf.wake, .events = POLLIN },
		{ .fd = s->proc.out, .events = POLLIN } };
	uint64_t v;

	if (poll(pfd, s->proc.out >= 0 ? 2 : 1, ms) <= 0)
		return;
	if (pfd[0].revents & POLLIN)
		(void)!read(inf.wake, &v, sizeof(v));
	if (s->proc.out >= 0 && pfd[1].revents)
		inf_proc_drain(&s->proc);
}

/* True while the decision being carried out still wants a backend. */
static bool
sup_wanted(void)
{
	bool w;

	pthread_mutex_lock(&inf.lock);
	w = inf.want && !inf.stop;
	pthread_mutex_unlock(&inf.lock);
	return w;
}

/* Starts one backend and waits until it answers (or fails). */
static void
sup_start(struct sup *s)
{
	struct cy_error err = CY_ERROR_INIT;
	struct inf_spec spec = { 0 };
	char base[320], hp[300], version[64], why[200], image[256], variant[8], msg[1024];
	unsigned port;
	int64_t deadline;

	pthread_mutex_lock(&inf.lock);
	xsnprintf(image, sizeof(image), "%s", inf.image);
	xsnprintf(variant, sizeof(variant), "%s", inf.variant[0] ? inf.variant : "cpu");
	port = inf.url_set || !inf.ib_port ? inf.port : inf.ib_port;
	pthread_mutex_unlock(&inf.lock);
	spec.runtime = inf.cfg->inf_runtime;
	spec.ollama_path = inf.cfg->inf_ollama_path;
	spec.state_dir = inf.cfg->state_dir;
	spec.slug = inf.cfg->node_id;
	spec.host = inf.host;
	spec.port = port;
	spec.image = image[0] ? image : NULL;
	spec.variant = variant;
	spec.allow_gpu = inf.cfg->inf_allow_gpu;
	node_inference_hostport(inf.host, port, hp, sizeof(hp));
	xsnprintf(base, sizeof(base), "http://%s", hp);
	if (inf_probe(base, version, sizeof(version))) {
		/* Someone else's service came up meanwhile: never a second one. */
		sup_adopt(base, version);
		return;
	}
	if (!inf.local) {
		pthread_mutex_lock(&inf.lock);
		cy_snprintf_clip(msg, sizeof(msg), "cannot start a backend: %s", inf.unsupported);
		pthread_mutex_unlock(&inf.lock);
		sup_fail(s, spec.runtime, msg);
		return;
	}
	cy_log_info("inference_backend_starting", "runtime", spec.runtime, "url", base, NULL);
	if (inf_proc_start(&s->proc, &spec, &inf.stop, &err) < 0) {
		cy_snprintf_clip(msg, sizeof(msg), "cannot start a backend: %s", err.msg);
		sup_fail(s, spec.runtime, msg);
		return;
	}
	deadline = cy_mono_ms() + inf.cfg->inf_startup_timeout_s * 1000;
	for (;;) {
		if (!sup_wanted()) {
			inf_proc_stop(&s->proc, STOP_GRACE_MS);
			return;
		}
		if (inf_proc_exited(&s->proc, why, sizeof(why))) {
			inf_proc_stop(&s->proc, STOP_GRACE_MS);
			cy_snprintf_clip(msg, sizeof(msg),
			    "%s serve %s before it answered at %s (its output "
			    "is in the inference_backend_output lines)",
			    spec.ollama_path, why, base);
			sup_fail(s, spec.runtime, msg);
			return;
		}
		if (inf_probe(base, version, sizeof(version)))
			break;
		if (cy_mono_ms() >= deadline) {
			inf_proc_stop(&s->proc, STOP_GRACE_MS);
			cy_snprintf_clip(msg, sizeof(msg),
			    "the %s backend did not answer %s/api/version "
			    "within %lld s (inference.startup_timeout_seconds)",
			    spec.runtime, base, inf.cfg->inf_startup_timeout_s);
			sup_fail(s, spec.runtime, msg);
			return;
		}
		sup_wait(s, START_POLL_MS);
	}
	pthread_mutex_lock(&inf.lock);
	inf.started = true;
	inf.running = true;
	xsnprintf(inf.url, sizeof(inf.url), "%s", base);
	xsnprintf(inf.version, sizeof(inf.version), "%s", version);
	inf.error[0] = '\0';
	pthread_mutex_unlock(&inf.lock);
	s->up_since_ms = cy_mono_ms();
	s->fails = 0;
	cy_log_info("inference_backend_started", "runtime", spec.runtime, "url", base, "version",
	    version, NULL);
	inf_fetch_models(base);
	inf_pull_kick();
}

/* Stops the backend the node started; `restart` schedules the next start. */
static void
sup_drop(struct sup *s, const char *event, const char *why, bool restart)
{
	inf_proc_stop(&s->proc, STOP_GRACE_MS);
	pthread_mutex_lock(&inf.lock);
	inf.started = false;
	inf.url[0] = '\0';
	inf.version[0] = '\0';
	inf_set_down();
	if (restart)
		cy_snprintf_clip(inf.error, sizeof(inf.error), "the backend the node started %s",
		    why);
	pthread_mutex_unlock(&inf.lock);
	if (restart) {
		cy_log_error(event, "error", why, NULL);
		if (cy_mono_ms() - s->up_since_ms >= STABLE_MS)
			s->backoff_s = 1;
		sup_backoff(s);
	} else {
		cy_log_info(event, "reason", why, NULL);
	}
}

/* One check of the backend in use. */
static void
sup_check(struct sup *s)
{
	char url[320], version[64], why[480];
	bool up, was, existing;

	if (inf.started && inf_proc_exited(&s->proc, why, sizeof(why))) {
		sup_drop(s, "inference_backend_died", why, true);
		return;
	}
	if (++s->health_ticks < HEALTH_TICKS)
		return;
	s->health_ticks = 0;
	pthread_mutex_lock(&inf.lock);
	xsnprintf(url, sizeof(url), "%s", inf.url);
	was = inf.running;
	existing = inf.existing;
	pthread_mutex_unlock(&inf.lock);
	up = inf_probe(url, version, sizeof(version));
	if (inf.started) {
		s->fails = up ? 0 : s->fails + 1;
		if (s->fails >= HEALTH_FAILS) {
			cy_snprintf_clip(why, sizeof(why),
			    "did not answer %s/api/version %d times in a row", url, HEALTH_FAILS);
			sup_drop(s, "inference_backend_unresponsive", why, true);
		}
		return;
	}
	if (!existing || up == was)
		return;
	pthread_mutex_lock(&inf.lock);
	if (up) {
		inf.running = true;
		xsnprintf(inf.version, sizeof(inf.version), "%s", version);
		inf.error[0] = '\0';
	} else {
		inf_set_down();
		cy_snprintf_clip(inf.error, sizeof(inf.error),
		    "the existing service at %s does not "
		    "answer",
		    url);
	}
	pthread_mutex_unlock(&inf.lock);
	if (up) {
		cy_log_info("inference_existing_service_back", "url", url, NULL);
		inf_fetch_models(url);
		inf_pull_kick();
	} else {
		cy_log_warn("inference_existing_service_gone", "url", url, NULL);
	}
}

/* No backend in use: records why, and looks for a service at inference.url. */
static void
sup_idle(struct sup *s, bool want, bool decided)
{
	char version[64];

	pthread_mutex_lock(&inf.lock);
	if (decided && !want)
		cy_snprintf_clip(inf.error, sizeof(inf.error),
		    "none answers at %s and the orchestrator "
		    "did not enable one (inference_backend.enabled is false)%s%s",
		    inf.probe, inf.unsupported[0] ? "; " : "", inf.unsupported);
	pthread_mutex_unlock(&inf.lock);
	if (++s->idle_ticks < IDLE_PROBE_TICKS)
		return;
	s->idle_ticks = 0;
	if (inf_probe(inf.probe, version, sizeof(version)))
		sup_adopt(inf.probe, version);
}

static void *
sup_thread(void *arg)
{
	struct sup s = { .proc = INF_PROC_INIT, .backoff_s = 1 };
	unsigned gen;
	bool want;

	for (;;) {
		pthread_mutex_lock(&inf.lock);
		gen = inf.gen;
		want = inf.want;
		pthread_mutex_unlock(&inf.lock);
		if (inf.stop)
			break;
		if (gen != s.gen) {
			/* A new decision: act on it now, whatever the backoff. */
			s.gen = gen;
			s.next_start_ms = 0;
			s.backoff_s = 1;
			if (!want && inf.started)
				sup_drop(&s, "inference_backend_disabled",
				    "the orchestrator's inference_backend.enabled is false", false);
		}
		if (inf.started || inf.existing)
			sup_check(&s);
		else if (want && gen && cy_mono_ms() >= s.next_start_ms)
			sup_start(&s);
		else
			sup_idle(&s, want, gen != 0);
		inf_update_supported();
		sup_settle(gen);
		sup_wait(&s, TICK_MS);
	}
	if (inf.started || s.proc.pid > 0 || s.proc.container)
		sup_drop(&s, "inference_backend_stopping", "the node is stopping", false);
	cy_httpc_thread_cleanup();
	return NULL;
}

/* --- the public API --- */

int
node_inference_start(struct node *n, struct cy_error *err)
{
	const struct node_config *c = &n->cfg;
	char version[64];
	int rc;

	inf.cfg = c;
	inf.models = json_array();
	inf.loaded = json_array();
	inf.active = strcmp(c->inf_mode, "disabled") && strcmp(c->sb_mode, "sandbox_only");
	if (!inf.active) {
		cy_log_info("inference_disabled", "reason",
		    strcmp(c->inf_mode, "disabled") ? "sandbox.mode is sandbox_only" :
						      "inference.mode is disabled",
		    NULL);
		return 0;
	}
	inf.url_set = c->inf_url != NULL;
	if (node_inference_parse_url(c->inf_url ? c->inf_url : INFERENCE_DEFAULT_URL, inf.host,
		sizeof(inf.host), &inf.port, err) < 0)
		return cy_error_wrap(err, "inference.url");
	{
		char hp[300];

		node_inference_hostport(inf.host, inf.port, hp, sizeof(hp));
		xsnprintf(inf.probe, sizeof(inf.probe), "http://%s", hp);
	}
	inf.local = inf_host_local(inf.host);
	if (inf_probe(inf.probe, version, sizeof(version)))
		sup_adopt(inf.probe, version);
	else
		cy_log_info("inference_no_existing_service", "url", inf.probe, NULL);
	inf_update_supported();
	inf.wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (inf.wake < 0)
		return cy_error_errno(err, "eventfd");
	if (inf_pull_start(&c->inf_models, err) < 0)
		return -1;
	rc = pthread_create(&inf.thread, NULL, sup_thread, NULL);
	if (rc != 0) {
		errno = rc;
		return cy_error_errno(err, "inference supervisor thread");
	}
	inf.thread_started = true;
	return 0;
}

int
node_inference_check(const json_t *ib, struct cy_error *err)
{
	json_t *v;
	const char *s;
	size_t i;

	if (!ib || json_is_null(ib))
		return 0;
	if (!json_is_object(ib))
		return cy_error_set(err, EINVAL, "inference_backend must be an object");
	v = json_object_get(ib, "enabled");
	if (v && !json_is_boolean(v))
		return cy_error_set(err, EINVAL, "inference_backend.enabled must be a boolean");
	v = json_object_get(ib, "image");
	if (v && !json_is_null(v)) {
		s = json_string_value(v);
		if (!s || !*s || strlen(s) > 255 ||
		    !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
			(s[0] >= '0' && s[0] <= '9')))
			return cy_error_set(err, EINVAL,
			    "inference_backend.image must be an image "
			    "reference (1-255 characters, starting with a letter or digit)");
		for (i = 0; s[i]; i++)
			if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "0123456789._/:@-",
				s[i]))
				return cy_error_set(err, EINVAL,
				    "inference_backend.image '%.80s' holds "
				    "a character an image reference cannot",
				    s);
	}
	v = json_object_get(ib, "variant");
	if (v && !json_is_null(v) &&
	    (!(s = json_string_value(v)) ||
		(strcmp(s, "cpu") && strcmp(s, "cuda") && strcmp(s, "rocm"))))
		return cy_error_set(err, EINVAL,
		    "inference_backend.variant must be cpu, cuda or "
		    "rocm");
	v = json_object_get(ib, "port");
	if (v && !json_is_null(v) &&
	    (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 65535))
		return cy_error_set(err, EINVAL,
		    "inference_backend.port must be an integer from "
		    "1 to 65535");
	return 0;
}

void
node_inference_configure(const json_t *ib)
{
	const char *img = cy_json_str(ib, "image"), *var = cy_json_str(ib, "variant");
	long long port = 0;
	uint64_t one = 1;

	if (cy_json_int(ib, "port", &port) < 0)
		port = 0;
	pthread_mutex_lock(&inf.lock);
	inf.want = json_is_true(json_object_get(ib, "enabled"));
	xsnprintf(inf.image, sizeof(inf.image), "%s", img ? img : ""); /* checked: 255 at most */
	xsnprintf(inf.variant, sizeof(inf.variant), "%s", var ? var : ""); /* cpu, cuda or rocm */
	inf.ib_port = (unsigned)port;
	inf.gen++;
	pthread_mutex_unlock(&inf.lock);
	if (inf.wake >= 0)
		(void)!write(inf.wake, &one, sizeof(one));
}

int
node_inference_await(int wait_ms, struct cy_error *err)
{
	struct timespec ts;
	int rc = 0;

	if (!inf.thread_started)
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += wait_ms / 1000;
	ts.tv_nsec += (long)(wait_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&inf.lock);
	while (inf.settled != inf.gen)
		if (pthread_cond_timedwait(&inf.cond, &inf.lock, &ts) == ETIMEDOUT)
			break;
	if (inf.settled != inf.gen)
		rc = 1;
	else if (!strcmp(inf.cfg->inf_mode, "require") && !inf.running)
		rc = cy_error_set(err, ENOENT,
		    "inference.mode is require but no inference backend "
		    "is available: %s",
		    inf.error[0] ? inf.error : "none answers");
	pthread_mutex_unlock(&inf.lock);
	return rc;
}

void
node_inference_refresh(void)
{
	char url[320];

	if (!inf.active)
		return;
	pthread_mutex_lock(&inf.lock);
	xsnprintf(url, sizeof(url), "%s", inf.running ? inf.url : "");
	pthread_mutex_unlock(&inf.lock);
	if (url[0])
		inf_fetch_models(url);
	inf_update_supported();
}

json_t *
node_inference_capability(void)
{
	json_t *o;

	pthread_mutex_lock(&inf.lock);
	o = json_pack("{s:b, s:s, s:b, s:b, s:o, s:o}", "supported", inf.supported, "mode",
	    inf.cfg ? inf.cfg->inf_mode : "allow", "existing_service", inf.existing, "running",
	    inf.running, "available_models", inf.models ? json_deep_copy(inf.models) : json_array(),
	    "loaded_models", inf.loaded ? json_deep_copy(inf.loaded) : json_array());
	if (inf.active) {
		json_t *b =
		    json_pack("{s:s}", "runtime", inf.existing ? "existing" : inf.cfg->inf_runtime);

		if (inf.version[0])
			json_object_set_new(b, "version", json_string(inf.version));
		json_object_set_new(o, "backend", b);
	}
	pthread_mutex_unlock(&inf.lock);
	return o;
}

void
node_inference_stop(void)
{
	uint64_t one = 1;

	inf_pull_stop();
	if (inf.thread_started) {
		inf.stop = 1;
		(void)!write(inf.wake, &one, sizeof(one));
		pthread_join(inf.thread, NULL);
		inf.thread_started = false;
	}
	if (inf.wake >= 0)
		close(inf.wake);
	inf.wake = -1;
	pthread_mutex_lock(&inf.lock);
	json_decref(inf.models);
	json_decref(inf.loaded);
	inf.models = inf.loaded = NULL;
	inf.running = false;
	pthread_mutex_unlock(&inf.lock);
}

bool
node_inference_url(char *out, size_t size)
{
	bool ok;

	pthread_mutex_lock(&inf.lock);
	ok = inf.running && inf.url[0];
	xsnprintf(out, size, "%s", ok ? inf.url : "");
	pthread_mutex_unlock(&inf.lock);
	return ok;
}

bool
node_inference_has_model(const char *name)
{
	char want[CY_MODEL_NAME_MAX + 16], have[NAME_REPORT_MAX + 16];
	bool found = false;
	json_t *v;
	size_t i;

	if (cy_model_name_canon(name, want, sizeof(want)) < 0)
		return false;
	pthread_mutex_lock(&inf.lock);
	json_array_foreach(inf.running ? inf.models : NULL, i, v) {
		if (cy_model_name_canon(json_string_value(v), have, sizeof(have)) < 0)
			continue;
		if (!strcmp(want, have)) {
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&inf.lock);
	return found;
}

bool
node_inference_ready(char *why, size_t size)
{
	bool ok;

	pthread_mutex_lock(&inf.lock);
	ok = inf.running;
	if (!ok && why)
		cy_snprintf_clip(why, size, "no inference backend answers (inference.mode: %s)%s%s",
		    inf.cfg ? inf.cfg->inf_mode : "allow", inf.error[0] ? ": " : "", inf.error);
	pthread_mutex_unlock(&inf.lock);
	return ok;
}
