/*
 * The capability report (node_capability_report_v1, contract 3.6), built
 * from what the host really has: CPU model and cores, RAM, free storage
 * under the state dir, kernel and distro, GPUs (nvidia-smi when it is on
 * PATH, else /sys/class/drm: gpu.c; the detection is cached), the
 * sandbox features this node can offer, and the inference backend
 * (inference.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "alloc.h"
#include "gpu.h"
#include "inference.h"
#include "json.h"
#include "node.h"
#include "timeutil.h"
#include "banned.h"

/* How long nvidia-smi may take before the node falls back to drm. */
#define GPU_PROBE_TIMEOUT_MS 5000

/* The report is built every heartbeat; nvidia-smi runs at most every
 * orchestrator.gpu_refresh_seconds (or when /sys/class/drm changes). */
static struct node_gpu_cache gpu_cache = NODE_GPU_CACHE_INIT;

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
		json_object_set_new(c, "ram_mb",
		    json_integer((json_int_t)((unsigned long long)si.totalram * si.mem_unit /
					      (1024 * 1024))));
		json_object_set_new(c, "ram_available_mb",
		    json_integer((
			json_int_t)((unsigned long long)si.freeram * si.mem_unit / (1024 * 1024))));
	} else {
		json_object_set_new(c, "ram_mb", json_integer(0));
	}
	if (model) {
		json_object_set_new(c, "cpu_model", json_string(model));
		free(model);
	}
	if (statvfs(n->cfg.state_dir, &vs) == 0)
		json_object_set_new(c, "storage_free_mb",
		    json_integer((json_int_t)((unsigned long long)vs.f_bavail * vs.f_frsize /
					      (1024 * 1024))));
	return c;
}

/*
 * The image names bwrap jobs may use here (the server checks a pushed
 * allowed_images against them); OCI runtimes pull images, so no list.
 */
static json_t *
cap_images(const struct node *n)
{
	json_t *t, *names, *v;
	const char *k;

	if (strcmp(n->cfg.sb_runtime, "bwrap") != 0)
		return NULL;
	t = node_image_table(&n->cfg);
	names = json_array();
	json_object_foreach(t, k, v)
		json_array_append_new(names, json_string(k));
	json_decref(t);
	return names;
}

static json_t *
cap_sandbox(const struct node *n)
{
	json_t *f = node_sandbox_features();
	bool bwrap = !strcmp(n->cfg.sb_runtime, "bwrap");

	if (node_ws_quota_enforced())
		json_array_append_new(f, json_string("workspace_quota"));
	return json_pack("{s:b, s:s, s:o, s:I, s:o, s:o*, s:o*}", "supported",
	    n->sandbox_ok && strcmp(n->cfg.sb_mode, "disabled") != 0, "runtime", n->cfg.sb_runtime,
	    "features", f, "max_concurrency", (json_int_t)n->cfg.max_concurrency, "workspace_quota",
	    node_ws_quota_json(&n->cfg), "images", cap_images(n), "images_private",
	    bwrap ? node_image_mount_json() : NULL);
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
	r = json_pack("{s:i, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:{s:s}}", "version", 1,
	    "reported_at", now, "node", node, "platform", plat, "compute", cap_compute(n), "gpu",
	    node_gpu_cached(&gpu_cache, "/sys/class/drm", "/opt/rocm/.info/version",
		GPU_PROBE_TIMEOUT_MS, n->cfg.gpu_refresh_s * 1000, cy_mono_ms()),
	    "sandbox", cap_sandbox(n), "inference", node_inference_capability(), "worker_api",
	    "base_url", n->base_url);
	if (n->tls_pin[0]) {
		/* The pin the orchestrator keeps; the certificate as contract 3.6 has it. */
		json_object_set_new(json_object_get(r, "worker_api"), "tls_pubkey_sha256",
		    json_string(n->tls_pin));
		json_object_set_new(r, "tls",
		    json_pack("{s:s, s:s}", "trust_material_status",
			n->cfg.worker_tls_cert && *n->cfg.worker_tls_cert ? "configured" :
									    "self_signed",
			"worker_api_server_cert_pem", n->tls_cert_pem));
	}
	/* What an operator should know: a low disk, an unlimited workspace. */
	json_object_set_new(r, "conditions", node_conditions(&n->cfg));
	return r;
}

void
node_capability_release(void)
{
	node_gpu_cache_release(&gpu_cache);
}
