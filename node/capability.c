/*
 * The capability report (node_capability_report_v1, contract 3.6), built
 * from what the host really has: CPU model and cores, RAM, free storage
 * under the state dir, kernel and distro, GPUs visible in /sys/class/drm
 * (or nvidia-smi), and the sandbox features this node can offer.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "json.h"
#include "node.h"
#include "timeutil.h"
#include "banned.h"

/* The value of the first "key : value" line of a file, or NULL; caller frees. */
static char *
cap_file_field(const char *path, const char *key, char sep)
{
	char line[512], *v = NULL, *p, *e;
	size_t kl = strlen(key);
	FILE *f;

	f = fopen(path, "re");
	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, kl))
			continue;
		p = line + kl;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != sep)
			continue;
		p++;
		while (*p == ' ' || *p == '"')
			p++;
		e = p + strlen(p);
		while (e > p && (e[-1] == '\n' || e[-1] == '"' || e[-1] == ' '))
			*--e = '\0';
		v = xstrdup(p);
		break;
	}
	fclose(f);
	return v;
}

static const char *
cap_arch(const char *m)
{
	if (!strcmp(m, "x86_64"))
		return "amd64";
	if (!strcmp(m, "aarch64"))
		return "arm64";
	return m;
}

/* GPUs from /sys/class/drm/cardN/device/vendor (NVIDIA, AMD, Intel). */
static json_t *
cap_gpu(void)
{
	json_t *gpu = json_object(), *devs = json_array();
	struct dirent *de;
	DIR *d;

	d = opendir("/sys/class/drm");
	while (d && (de = readdir(d))) {
		char path[512], *vendor;
		const char *name = NULL;

		if (strncmp(de->d_name, "card", 4) || strchr(de->d_name, '-'))
			continue;
		snprintf(path, sizeof(path), "/sys/class/drm/%s/device/vendor", de->d_name);
		{
			struct cy_buf b = CY_BUF_INIT;

			if (cy_buf_read_file(&b, path, 64) < 0) {
				cy_buf_release(&b);
				continue;
			}
			vendor = cy_buf_detach(&b, NULL);
		}
		if (!strncmp(vendor, "0x10de", 6))
			name = "nvidia";
		else if (!strncmp(vendor, "0x1002", 6))
			name = "amd";
		else if (!strncmp(vendor, "0x8086", 6))
			name = "intel";
		if (name)
			json_array_append_new(devs, json_pack("{s:s, s:s}", "vendor", name,
				"device_id", de->d_name));
		free(vendor);
	}
	if (d)
		closedir(d);
	if (json_array_size(devs) == 0 && access("/usr/bin/nvidia-smi", X_OK) == 0)
		json_array_append_new(devs, json_pack("{s:s}", "vendor", "nvidia"));
	json_object_set_new(gpu, "present", json_boolean(json_array_size(devs) > 0));
	if (json_array_size(devs))
		json_object_set_new(gpu, "devices", devs);
	else
		json_decref(devs);
	return gpu;
}

static json_t *
cap_compute(const struct node *n)
{
	json_t *c = json_object();
	struct sysinfo si;
	struct statvfs vs;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	char *model = cap_file_field("/proc/cpuinfo", "model name", ':');

	json_object_set_new(c, "cpu_cores", json_integer(cores > 0 ? cores : 1));
	if (sysinfo(&si) == 0) {
		json_object_set_new(c, "ram_mb", json_integer((json_int_t)((unsigned long long)
			si.totalram * si.mem_unit / (1024 * 1024))));
		json_object_set_new(c, "ram_available_mb", json_integer((json_int_t)(
			(unsigned long long)si.freeram * si.mem_unit / (1024 * 1024))));
	} else {
		json_object_set_new(c, "ram_mb", json_integer(0));
	}
	if (model) {
		json_object_set_new(c, "cpu_model", json_string(model));
		free(model);
	}
	if (statvfs(n->cfg.state_dir, &vs) == 0)
		json_object_set_new(c, "storage_free_mb", json_integer((json_int_t)(
			(unsigned long long)vs.f_bavail * vs.f_frsize / (1024 * 1024))));
	return c;
}

static json_t *
cap_sandbox(const struct node *n)
{
	json_t *f = node_sandbox_features();

	return json_pack("{s:b, s:s, s:o, s:I}", "supported",
		n->sandbox_ok && strcmp(n->cfg.sb_mode, "disabled") != 0, "runtime",
		n->cfg.sb_runtime,
		"features", f, "max_concurrency", (json_int_t)n->cfg.max_concurrency);
}

json_t *
node_capability_report(const struct node *n)
{
	char now[CY_RFC3339_LEN + 1];
	struct utsname u;
	json_t *r, *node, *plat, *labels = json_array();
	char *distro;
	size_t i;

	cy_now_rfc3339(now);
	for (i = 0; i < n->cfg.labels.n; i++)
		json_array_append_new(labels, json_string(n->cfg.labels.v[i]));
	node = json_pack("{s:s, s:o}", "node_slug", n->cfg.node_id, "labels", labels);
	if (n->cfg.node_name)
		json_object_set_new(node, "name", json_string(n->cfg.node_name));
	plat = json_object();
	if (uname(&u) == 0) {
		json_object_set_new(plat, "os", json_string("linux"));
		json_object_set_new(plat, "arch", json_string(cap_arch(u.machine)));
		json_object_set_new(plat, "kernel_version", json_string(u.release));
	} else {
		json_object_set_new(plat, "os", json_string("linux"));
		json_object_set_new(plat, "arch", json_string("unknown"));
	}
	distro = cap_file_field("/etc/os-release", "PRETTY_NAME", '=');
	if (distro) {
		json_object_set_new(plat, "distro", json_string(distro));
		free(distro);
	}
	r = json_pack("{s:i, s:s, s:o, s:o, s:o, s:o, s:o, s:{s:b, s:s, s:b, s:b}, s:{s:s}}",
		"version", 1, "reported_at", now, "node", node, "platform", plat,
		"compute", cap_compute(n), "gpu", cap_gpu(), "sandbox", cap_sandbox(n),
		"inference", "supported", 0, "mode", n->cfg.inf_mode, "existing_service", 0,
		"running", 0, "worker_api", "base_url", n->base_url);
	return r;
}
