/*
 * GPU detection (gpu.h): nvidia-smi's CSV query, else /sys/class/drm.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "children.h"
#include "gpu.h"
#include "strnum.h"
#include "timeutil.h"
#include "banned.h"

#define SMI_MAX_OUTPUT (64 * 1024)
#define MIB (1024ULL * 1024ULL)
#define MAX_MB (1LL << 40)

/* s without leading and trailing blanks, in place. */
static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* nvidia-smi's placeholders: "", "[N/A]", "[Not Supported]", "N/A". */
static int
smi_missing(const char *f)
{
	return !*f || *f == '[' || !strcmp(f, "N/A");
}

static int
hexdigits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

/*
 * A PCI address DOMAIN:BB:DD.F (domain of 4 or 8 hex digits) in the sysfs
 * form: lower case, a domain of 4 digits when the upper ones are zero.
 * NULL when s is not one; caller frees.
 */
static char *
pci_address(const char *s)
{
	size_t dl = strcspn(s, ":"), i;
	char *r;

	if ((dl != 4 && dl != 8) || !hexdigits(s, dl) || strlen(s) != dl + 8 || s[dl] != ':' ||
	    !hexdigits(s + dl + 1, 2) || s[dl + 3] != ':' || !hexdigits(s + dl + 4, 2) ||
	    s[dl + 6] != '.' || !hexdigits(s + dl + 7, 1))
		return NULL;
	if (dl == 8 && !strncmp(s, "0000", 4))
		s += 4;
	r = xstrdup(s);
	for (i = 0; r[i]; i++)
		r[i] = (char)tolower((unsigned char)r[i]);
	return r;
}

/* A whole number of MiB, or -1. */
static long long
mib(const char *f)
{
	long long v;
	const char *errstr;

	if (smi_missing(f) || cy_strtonum(f, 0, MAX_MB, &v, &errstr) < 0)
		return -1;
	return v;
}

/* "8.6", "12.0": digits, a dot, digits. */
static int
cuda_capability(const char *f)
{
	size_t a = strspn(f, "0123456789"), b;

	if (a == 0 || a > 3 || f[a] != '.')
		return 0;
	b = strspn(f + a + 1, "0123456789");
	return b > 0 && b <= 3 && f[a + 1 + b] == '\0';
}

/* One CSV line of nvidia-smi as a device, or NULL when it is not one. */
static json_t *
smi_device(char *line)
{
	char *f[5], *p = line, *bus;
	long long total, avail;
	json_t *d;
	int n = 0;

	while (n < 5) {
		f[n++] = p;
		p = strchr(p, ',');
		if (!p)
			break;
		*p++ = '\0';
	}
	if (n != 5 || p)
		return NULL;
	for (n = 0; n < 5; n++)
		f[n] = trim(f[n]);
	bus = smi_missing(f[1]) ? NULL : pci_address(f[1]);
	total = mib(f[2]);
	if (!bus && total < 0)
		return NULL;
	d = json_pack("{s:s}", "vendor", "nvidia");
	if (!smi_missing(f[0]))
		json_object_set_new(d, "model", json_string(f[0]));
	if (bus)
		json_object_set_new(d, "device_id", json_string(bus));
	free(bus);
	if (total >= 0)
		json_object_set_new(d, "vram_mb", json_integer(total));
	avail = mib(f[3]);
	if (avail >= 0)
		json_object_set_new(d, "available_vram_mb", json_integer(avail));
	if (cuda_capability(f[4]))
		json_object_set_new(d, "features", json_pack("{s:s}", "cuda_capability", f[4]));
	return d;
}

json_t *
node_gpu_parse_smi(const char *text)
{
	json_t *devs = json_array(), *d;
	char *copy = xstrdup(text ? text : ""), *line = copy, *nl;

	while (*line) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if ((d = smi_device(line)))
			json_array_append_new(devs, d);
		if (!nl)
			break;
		line = nl + 1;
	}
	free(copy);
	return devs;
}

/* A small sysfs-like file, trimmed; NULL when unreadable or empty.  Caller frees. */
static char *
read_small(const char *dir, const char *name)
{
	struct cy_buf b = CY_BUF_INIT;
	char path[PATH_MAX], *v, *t;

	if (cy_snprintf(path, sizeof(path), "%s/%s", dir, name) < 0 ||
	    cy_buf_read_file(&b, path, 256) < 0 || memchr(b.buf, '\0', b.len)) {
		cy_buf_release(&b);
		return NULL;
	}
	v = cy_buf_detach(&b, NULL);
	t = trim(v);
	if (!*t) {
		free(v);
		return NULL;
	}
	memmove(v, t, strlen(t) + 1);
	return v;
}

/* A byte count from a sysfs file, or -1. */
static long long
read_bytes(const char *dir, const char *name)
{
	char *v = read_small(dir, name);
	long long n = -1;
	const char *errstr;

	if (v && cy_strtonum(v, 0, LLONG_MAX, &n, &errstr) < 0)
		n = -1;
	free(v);
	return n;
}

/* The card's PCI slot: uevent PCI_SLOT_NAME, else where device points; NULL if neither. */
static char *
drm_slot(const char *dev)
{
	char *uevent = read_small(dev, "uevent"), *p, *slot = NULL, *real;

	for (p = uevent; p && *p && !slot; p += strcspn(p, "\n"), p += *p == '\n') {
		if (!strncmp(p, "PCI_SLOT_NAME=", 14)) {
			char *v = xstrndup(p + 14, strcspn(p + 14, "\n"));

			slot = pci_address(trim(v));
			free(v);
		}
	}
	free(uevent);
	if (!slot && (real = realpath(dev, NULL))) {
		slot = pci_address(strrchr(real, '/') + 1);
		free(real);
	}
	return slot;
}

static const struct {
	const char *pci, *vendor, *label;
} drm_vendors[] = {
	{ .pci = "0x10de", .vendor = "nvidia", .label = "NVIDIA" },
	{ .pci = "0x1002", .vendor = "amd", .label = "AMD" },
	{ .pci = "0x8086", .vendor = "intel", .label = "Intel" },
};

/* cardN and nothing else (no connectors "card1-HDMI-A-1", no "renderD128"). */
static int
drm_is_card(const struct dirent *de)
{
	const char *s = de->d_name;

	return !strncmp(s, "card", 4) && s[4] && strspn(s + 4, "0123456789") == strlen(s + 4);
}

/* The AMD extras: VRAM from mem_info_vram_*, the ROCm version. */
static void
drm_amd(json_t *d, const char *dev, const char *rocm_version_file)
{
	long long total = read_bytes(dev, "mem_info_vram_total");
	long long used = read_bytes(dev, "mem_info_vram_used");
	char *rocm = NULL;

	if (total >= 0) {
		json_object_set_new(d, "vram_mb", json_integer((json_int_t)(total / MIB)));
		if (used >= 0 && used <= total)
			json_object_set_new(d, "available_vram_mb",
			    json_integer((json_int_t)((total - used) / MIB)));
	}
	if (rocm_version_file) {
		char *dir = xstrdup(rocm_version_file), *slash = strrchr(dir, '/');

		if (slash) {
			*slash = '\0';
			rocm = read_small(*dir ? dir : "/", slash + 1);
		}
		free(dir);
	}
	if (rocm)
		json_object_set_new(d, "features", json_pack("{s:s}", "rocm_version", rocm));
	free(rocm);
}

static json_t *
drm_device(const char *drm_dir, const char *card, const char *rocm_version_file)
{
	char dev[PATH_MAX], *vendor, *pciid, *model, *slot;
	json_t *d = NULL;
	size_t i;

	if (cy_snprintf(dev, sizeof(dev), "%s/%s/device", drm_dir, card) < 0 ||
	    !(vendor = read_small(dev, "vendor")))
		return NULL;
	for (i = 0; i < sizeof(drm_vendors) / sizeof(drm_vendors[0]); i++)
		if (!strcasecmp(vendor, drm_vendors[i].pci))
			break;
	if (i == sizeof(drm_vendors) / sizeof(drm_vendors[0])) {
		free(vendor);
		return NULL;
	}
	d = json_pack("{s:s}", "vendor", drm_vendors[i].vendor);
	model = read_small(dev, "product_name");
	if (!model && (pciid = read_small(dev, "device"))) {
		model = xasprintf("%s GPU [%s:%s]", drm_vendors[i].label, vendor + 2,
		    pciid + (strncmp(pciid, "0x", 2) ? 0 : 2));
		free(pciid);
	}
	if (model)
		json_object_set_new(d, "model", json_string(model));
	slot = drm_slot(dev);
	json_object_set_new(d, "device_id", json_string(slot ? slot : card));
	if (!strcmp(drm_vendors[i].vendor, "amd"))
		drm_amd(d, dev, rocm_version_file);
	free(slot);
	free(model);
	free(vendor);
	return d;
}

json_t *
node_gpu_scan_drm(const char *drm_dir, const char *rocm_version_file)
{
	json_t *devs = json_array(), *d;
	struct dirent **list;
	int n, i;

	n = scandir(drm_dir, &list, drm_is_card, versionsort);
	for (i = 0; i < n; i++) {
		if ((d = drm_device(drm_dir, list[i]->d_name, rocm_version_file)))
			json_array_append_new(devs, d);
		free(list[i]);
	}
	if (n >= 0)
		free(list);
	return devs;
}

json_t *
node_gpu_object(json_t *devices)
{
	json_t *gpu = json_object(), *d, *v;
	json_int_t total = 0, avail = 0;
	int has_total = 0, has_avail = 0;
	size_t i;

	json_object_set_new(gpu, "present", json_boolean(json_array_size(devices) > 0));
	if (json_array_size(devices) == 0) {
		json_decref(devices);
		return gpu;
	}
	json_array_foreach(devices, i, d) {
		if (json_is_integer(v = json_object_get(d, "vram_mb"))) {
			total += json_integer_value(v);
			has_total = 1;
		}
		if (json_is_integer(v = json_object_get(d, "available_vram_mb"))) {
			avail += json_integer_value(v);
			has_avail = 1;
		}
	}
	json_object_set_new(gpu, "devices", devices);
	if (has_total)
		json_object_set_new(gpu, "total_vram_mb", json_integer(total));
	if (has_avail)
		json_object_set_new(gpu, "total_available_vram_mb", json_integer(avail));
	return gpu;
}

/* The first executable nvidia-smi in an absolute PATH directory; caller frees. */
static char *
smi_find(void)
{
	const char *path = getenv("PATH"), *p, *e;

	for (p = path ? path : "/usr/bin:/bin"; *p; p = *e ? e + 1 : e) {
		char *cand;

		e = p + strcspn(p, ":");
		if (*p != '/')
			continue;
		cand = xasprintf("%.*s/nvidia-smi", (int)(e - p), p);
		if (access(cand, X_OK) == 0)
			return cand;
		free(cand);
	}
	return NULL;
}

/* Waits for pid until the deadline, then kills its process group; 0 when it exited 0. */
static int
smi_reap(pid_t pid, int64_t deadline)
{
	int ws;
	pid_t w;

	for (;;) {
		w = waitpid(pid, &ws, WNOHANG);
		if (w == pid) {
			node_child_done(pid);
			return WIFEXITED(ws) && WEXITSTATUS(ws) == 0 ? 0 : -1;
		}
		if (w < 0 && errno != EINTR) {
			node_child_done(pid);
			return -1;
		}
		if (cy_mono_ms() >= deadline)
			break;
		usleep(10000);
	}
	kill(-pid, SIGKILL);
	while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
		;
	node_child_done(pid);
	return -1;
}

/*
 * Starts nvidia-smi's query in its own process group, stdout to a pipe
 * (*rfd), stdin and stderr /dev/null, no other fds; its pid or -1.
 */
static pid_t
smi_spawn(const char *bin, int *rfd)
{
	char *argv[] = { (char *)bin, "--query-gpu=" NODE_GPU_SMI_QUERY,
		"--format=csv,noheader,nounits", NULL };
	const char *path = getenv("PATH"), *ldp = getenv("LD_LIBRARY_PATH");
	/* Not the node's whole environment: it may hold the registration PSK. */
	char *envp[] = { xasprintf("PATH=%s", path ? path : "/usr/bin:/bin"),
		ldp ? xasprintf("LD_LIBRARY_PATH=%s", ldp) : NULL, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, def;
	int fds[2], rc = -1;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) == 0) {
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
		posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 34)
		posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
		posix_spawnattr_init(&at);
		sigemptyset(&none);
		sigemptyset(&def);
		sigaddset(&def, SIGPIPE);
		posix_spawnattr_setsigmask(&at, &none);
		posix_spawnattr_setsigdefault(&at, &def);
		posix_spawnattr_setpgroup(&at, 0);
		posix_spawnattr_setflags(&at,
		    POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
		rc = posix_spawn(&pid, bin, &fa, &at, argv, envp);
		if (rc == 0)
			node_child_own(pid);
		posix_spawn_file_actions_destroy(&fa);
		posix_spawnattr_destroy(&at);
		close(fds[1]);
		if (rc == 0)
			*rfd = fds[0];
		else
			close(fds[0]);
	}
	free(envp[0]);
	free(envp[1]);
	return rc == 0 ? pid : -1;
}

/* Runs nvidia-smi's query into out; 0 when it exited 0 in time with bounded output. */
static int
smi_run(const char *bin, int timeout_ms, struct cy_buf *out)
{
	int64_t deadline = cy_mono_ms() + timeout_ms;
	int fd, rc, ok = 1;
	pid_t pid = smi_spawn(bin, &fd);

	if (pid < 0)
		return -1;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - cy_mono_ms();
		char chunk[4096];
		ssize_t r;

		if (left <= 0) {
			ok = 0;
			break;
		}
		rc = poll(&pfd, 1, (int)left);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0) {
			ok = 0;
			break;
		}
		r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			ok = r == 0;
			break;
		}
		if (out->len + (size_t)r > SMI_MAX_OUTPUT) {
			ok = 0;
			break;
		}
		cy_buf_add(out, chunk, (size_t)r);
	}
	close(fd);
	if (smi_reap(pid, ok ? deadline : 0) < 0)
		return -1;
	return ok ? 0 : -1;
}

json_t *
node_gpu_detect(const char *drm_dir, const char *rocm_version_file, int timeout_ms)
{
	struct cy_buf out = CY_BUF_INIT;
	json_t *devs = NULL;
	char *bin = smi_find();

	if (bin && smi_run(bin, timeout_ms, &out) == 0) {
		devs = node_gpu_parse_smi(out.buf);
		if (json_array_size(devs) == 0) {
			json_decref(devs);
			devs = NULL;
		}
	}
	free(bin);
	cy_buf_release(&out);
	if (!devs)
		devs = node_gpu_scan_drm(drm_dir, rocm_version_file);
	return node_gpu_object(devs);
}

/*
 * The cardN entries under drm_dir with their device links, in name order
 * ("card0>../../0000:03:00.0;card1>..."), "" when there are none; caller
 * frees.  Cheap enough for every heartbeat: no process, a few syscalls.
 */
static char *
drm_signature(const char *drm_dir)
{
	struct cy_buf sig = CY_BUF_INIT;
	struct dirent **list;
	int n, i;

	n = scandir(drm_dir, &list, drm_is_card, versionsort);
	for (i = 0; i < n; i++) {
		char path[PATH_MAX], target[PATH_MAX];
		ssize_t len = -1;

		if (cy_snprintf(path, sizeof(path), "%s/%s/device", drm_dir, list[i]->d_name) == 0)
			len = readlink(path, target, sizeof(target) - 1);
		target[len > 0 ? len : 0] = '\0';
		cy_buf_addf(&sig, "%s>%s;", list[i]->d_name, target);
		free(list[i]);
	}
	if (n >= 0)
		free(list);
	return cy_buf_detach(&sig, NULL);
}

json_t *
node_gpu_cached(struct node_gpu_cache *c, const char *drm_dir, const char *rocm_version_file,
    int timeout_ms, int64_t max_age_ms, int64_t now_ms)
{
	char *sig = drm_signature(drm_dir);
	json_t *gpu;

	pthread_mutex_lock(&c->lock);
	if (!c->gpu || now_ms - c->at_ms >= max_age_ms || now_ms < c->at_ms ||
	    strcmp(sig, c->drm)) {
		json_decref(c->gpu);
		free(c->drm);
		c->gpu = node_gpu_detect(drm_dir, rocm_version_file, timeout_ms);
		c->at_ms = now_ms;
		c->drm = sig;
		sig = NULL;
		c->runs++;
	}
	gpu = json_deep_copy(c->gpu);
	pthread_mutex_unlock(&c->lock);
	free(sig);
	return gpu;
}

void
node_gpu_cache_release(struct node_gpu_cache *c)
{
	pthread_mutex_lock(&c->lock);
	json_decref(c->gpu);
	free(c->drm);
	c->gpu = NULL;
	c->drm = NULL;
	pthread_mutex_unlock(&c->lock);
}
