/*
 * Unit tests for node/gpu.c: nvidia-smi's CSV output, a fake
 * /sys/class/drm tree, the gpu object's totals, the nvidia-smi run
 * (fake scripts on PATH: success, failure, garbage, a hang), and the cache
 * (nvidia-smi runs again after the refresh interval or a drm change only).
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "caphash.h"
#include "fsutil.h"
#include "gpu.h"
#include "json.h"
#include "timeutil.h"
#include "tap.h"

static char base[] = "/tmp/cy-gpu-XXXXXX";
static char drm[256], rocm[256], bin[256];

/* got (stolen) equals the JSON text want. */
static void
is_json(json_t *got, const char *want, const char *name)
{
	json_t *w = json_loads(want, 0, NULL);
	int eq = w && got && json_equal(got, w);

	ok(eq, "%s", name);
	if (!eq) {
		char *g = got ? json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

		printf("#   got: %s\n#  want: %s\n", g ? g : "(null)", want);
		free(g);
	}
	json_decref(w);
	json_decref(got);
}

static void
put(const char *rel, const char *text)
{
	char path[512], *slash;
	FILE *f;

	xsnprintf(path, sizeof(path), "%s/%s", base, rel);
	slash = strrchr(path, '/');
	*slash = '\0';
	if (cy_mkdir_p(path, 0755, 0755) < 0)
		abort();
	*slash = '/';
	f = fopen(path, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
}

static void
link_to(const char *target, const char *rel)
{
	char path[512];

	xsnprintf(path, sizeof(path), "%s/%s", base, rel);
	if (symlink(target, path) != 0)
		abort();
}

/*
 * drm/card0: AMD behind a device symlink to .../0000:03:00.0, 16368 MiB VRAM
 * with 1024 used; drm/card1: Intel with PCI_SLOT_NAME in uevent; a
 * connector, a render node and a virtio card that must all be skipped.
 */
static void
make_tree(void)
{
	ok(mkdtemp(base) != NULL, "temp dir");
	xsnprintf(drm, sizeof(drm), "%s/drm", base);
	xsnprintf(rocm, sizeof(rocm), "%s/rocm/.info/version", base);
	xsnprintf(bin, sizeof(bin), "%s/bin", base);
	put("pci/0000:03:00.0/vendor", "0x1002\n");
	put("pci/0000:03:00.0/device", "0x73bf\n");
	put("pci/0000:03:00.0/mem_info_vram_total", "17163091968\n");
	put("pci/0000:03:00.0/mem_info_vram_used", "1073741824\n");
	put("pci/0000:03:00.0/uevent", "DRIVER=amdgpu\nPCI_ID=1002:73BF\n");
	put("drm/card0/dev", "226:0\n");
	link_to("../../pci/0000:03:00.0", "drm/card0/device");
	put("drm/card1/device/vendor", "0x8086\n");
	put("drm/card1/device/device", "0x4680\n");
	put("drm/card1/device/uevent",
	    "DRIVER=i915\nPCI_ID=8086:4680\nPCI_SLOT_NAME=0000:00:02.0\n");
	put("drm/card1-HDMI-A-1/device/vendor", "0x8086\n");
	put("drm/renderD128/device/vendor", "0x1002\n");
	put("drm/card2/device/vendor", "0x1af4\n");
	put("drm/version", "drm 1.1.0 20060810\n");
	put("rocm/.info/version", "6.1.2-115\n");
	ok(mkdir(bin, 0755) == 0, "bin dir");
}

#define AMD \
	"{\"vendor\":\"amd\",\"model\":\"AMD GPU [1002:73bf]\"," \
	"\"device_id\":\"0000:03:00.0\",\"vram_mb\":16368,\"available_vram_mb\":15344"
#define INTEL \
	"{\"vendor\":\"intel\",\"model\":\"Intel GPU [8086:4680]\"," \
	"\"device_id\":\"0000:00:02.0\"}"

static void
test_drm(void)
{
	char missing[300];

	is_json(node_gpu_scan_drm(drm, rocm),
	    "[" AMD ",\"features\":{\"rocm_version\":\"6.1.2-115\"}}," INTEL "]",
	    "drm: AMD with VRAM and ROCm, Intel; connector, render node, virtio skipped");
	is_json(node_gpu_scan_drm(drm, NULL), "[" AMD "}," INTEL "]",
	    "drm: no ROCm file, no features");
	xsnprintf(missing, sizeof(missing), "%s/nope", base);
	is_json(node_gpu_scan_drm(missing, missing), "[]", "drm: no such directory");
	is_json(node_gpu_object(node_gpu_scan_drm(drm, rocm)),
	    "{\"present\":true,\"devices\":[" AMD ",\"features\":{\"rocm_version\":"
	    "\"6.1.2-115\"}}," INTEL "],\"total_vram_mb\":16368,"
	    "\"total_available_vram_mb\":15344}",
	    "gpu object: totals from the devices that know their VRAM");
	is_json(node_gpu_object(json_array()), "{\"present\":false}",
	    "gpu object: present false and no devices when none");
}

/* clang-format off */
static const char smi_out[] =
	"NVIDIA GeForce RTX 3090, 00000000:01:00.0, 24576, 23800, 8.6\n"
	"Tesla K80, 00000000:0A:00.0, [N/A], [N/A], 3.7\r\n"
	"Failed to initialize NVML: Unknown Error\n"
	"garbage, line, with, five, fields\n"
	"NVIDIA A100, 00000000:41:00.0, 40960, 40000, 8.0, extra\n"
	"Odd, 0000:02:00.0, -5, 99999999999999999999, 8.x\n"
	"\n"
	",,,,\n"
	"NVIDIA L4, [N/A], 23034, [Not Supported], 8.9";
/* clang-format on */

#define RTX \
	"{\"vendor\":\"nvidia\",\"model\":\"NVIDIA GeForce RTX 3090\"," \
	"\"device_id\":\"0000:01:00.0\",\"vram_mb\":24576,\"available_vram_mb\":23800," \
	"\"features\":{\"cuda_capability\":\"8.6\"}}"

static void
test_smi(void)
{
	is_json(node_gpu_parse_smi(smi_out),
	    "[" RTX ","
	    "{\"vendor\":\"nvidia\",\"model\":\"Tesla K80\",\"device_id\":\"0000:0a:00.0\","
	    "\"features\":{\"cuda_capability\":\"3.7\"}},"
	    "{\"vendor\":\"nvidia\",\"model\":\"Odd\",\"device_id\":\"0000:02:00.0\"},"
	    "{\"vendor\":\"nvidia\",\"model\":\"NVIDIA L4\",\"vram_mb\":23034,"
	    "\"features\":{\"cuda_capability\":\"8.9\"}}]",
	    "smi: [N/A] fields left out, garbage and six-field lines skipped");
	is_json(node_gpu_parse_smi(""), "[]", "smi: empty output");
	is_json(node_gpu_parse_smi(NULL), "[]", "smi: no output");
	is_json(node_gpu_parse_smi("No devices were found\n"), "[]", "smi: no devices");
	is_json(node_gpu_object(node_gpu_parse_smi(smi_out)),
	    "{\"present\":true,\"devices\":"
	    "[" RTX ","
	    "{\"vendor\":\"nvidia\",\"model\":\"Tesla K80\",\"device_id\":\"0000:0a:00.0\","
	    "\"features\":{\"cuda_capability\":\"3.7\"}},"
	    "{\"vendor\":\"nvidia\",\"model\":\"Odd\",\"device_id\":\"0000:02:00.0\"},"
	    "{\"vendor\":\"nvidia\",\"model\":\"NVIDIA L4\",\"vram_mb\":23034,"
	    "\"features\":{\"cuda_capability\":\"8.9\"}}],"
	    "\"total_vram_mb\":47610,\"total_available_vram_mb\":23800}",
	    "smi gpu object: totals");
}

/* The capability hash of {"gpu": the object of nvidia-smi's text}. */
static void
hash_of(const char *smi, char out[CY_CAPHASH_LEN + 1])
{
	json_t *cap =
	    json_pack("{s:i, s:o}", "version", 1, "gpu", node_gpu_object(node_gpu_parse_smi(smi)));

	cy_capability_hash(cap, out);
	json_decref(cap);
}

static void
test_hash(void)
{
	char a[CY_CAPHASH_LEN + 1], b[CY_CAPHASH_LEN + 1], c[CY_CAPHASH_LEN + 1];

	hash_of("NVIDIA L4, 00000000:01:00.0, 23034, 23000, 8.9\n", a);
	hash_of("NVIDIA L4, 00000000:01:00.0, 23034, 12, 8.9\n", b);
	hash_of("NVIDIA L4, 00000000:01:00.0, 24000, 23000, 8.9\n", c);
	is_str(b, a, "capability hash: free VRAM is left out");
	ok(strcmp(a, c) != 0, "capability hash: total VRAM counts");
	hash_of("NVIDIA L4, 00000000:01:00.0, 23034, 23000, 9.0\n", c);
	ok(strcmp(a, c) != 0, "capability hash: cuda_capability counts");
}

/* bin/nvidia-smi with body (after #!/bin/sh). */
static void
fake_smi(const char *body)
{
	char text[1024], path[300];

	xsnprintf(text, sizeof(text), "#!/bin/sh\n%s\n", body);
	put("bin/nvidia-smi", text);
	xsnprintf(path, sizeof(path), "%s/nvidia-smi", bin);
	chmod(path, 0755);
}

static void
test_detect(void)
{
	char path[600], drm_only[1024];
	int64_t t0;

	xsnprintf(drm_only, sizeof(drm_only),
	    "{\"present\":true,\"devices\":[" AMD "}," INTEL
	    "],\"total_vram_mb\":16368,\"total_available_vram_mb\":15344}");
	setenv("PATH", "/nonexistent:/usr/bin:/bin", 1);
	if (access("/usr/bin/nvidia-smi", X_OK) != 0 && access("/bin/nvidia-smi", X_OK) != 0)
		is_json(node_gpu_detect(drm, NULL, 5000), drm_only, "no nvidia-smi: drm");
	xsnprintf(path, sizeof(path), "relative-dir:%s:/usr/bin:/bin", bin);
	setenv("PATH", path, 1);
	setenv("NODE_REGISTRATION_PSK", "not-for-nvidia-smi", 1);
	fake_smi("[ \"$1\" = --query-gpu=" NODE_GPU_SMI_QUERY " ] && "
		 "[ \"$2\" = --format=csv,noheader,nounits ] && [ $# = 2 ] || exit 3\n"
		 "[ -z \"$NODE_REGISTRATION_PSK\" ] || exit 4\n"
		 "echo 'NVIDIA GeForce RTX 3090, 00000000:01:00.0, 24576, 23800, 8.6'\n"
		 "echo 'warning on stderr' >&2");
	is_json(node_gpu_detect(drm, NULL, 5000),
	    "{\"present\":true,\"devices\":[" RTX "],\"total_vram_mb\":24576,"
	    "\"total_available_vram_mb\":23800}",
	    "nvidia-smi on PATH is run with the query and without the node's secrets; "
	    "its devices replace drm's");
	fake_smi("echo 'NVIDIA GeForce RTX 3090, 00000000:01:00.0, 24576, 23800, 8.6'; exit 1");
	is_json(node_gpu_detect(drm, NULL, 5000), drm_only, "nvidia-smi exits 1: drm");
	fake_smi("echo 'NVIDIA-SMI has failed because it could not communicate'");
	is_json(node_gpu_detect(drm, NULL, 5000), drm_only, "nvidia-smi prints garbage: drm");
	fake_smi("exit 0");
	is_json(node_gpu_detect(drm, NULL, 5000), drm_only, "nvidia-smi prints nothing: drm");
	fake_smi("yes 'NVIDIA GeForce RTX 3090, 00000000:01:00.0, 24576, 23800, 8.6'");
	is_json(node_gpu_detect(drm, NULL, 5000), drm_only,
	    "nvidia-smi prints without end: output bounded, drm");
	fake_smi("echo 'NVIDIA GeForce RTX 3090, 00000000:01:00.0, 24576, 23800, 8.6'; sleep 30");
	t0 = cy_mono_ms();
	is_json(node_gpu_detect(drm, NULL, 300), drm_only, "nvidia-smi hangs: killed, drm");
	ok(cy_mono_ms() - t0 < 10000, "the hang cost the timeout, not 30 s");
}

/* The path of drm/card3 (static storage). */
static const char *
drm_card3(void)
{
	static char path[300];

	xsnprintf(path, sizeof(path), "%s/card3", drm);
	return path;
}

/* How often bin/nvidia-smi ran (it appends a line to bin/calls). */
static int
smi_calls(void)
{
	char path[300], line[64];
	int n = 0;
	FILE *f;

	xsnprintf(path, sizeof(path), "%s/calls", bin);
	if (!(f = fopen(path, "r")))
		return 0;
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n;
}

static void
test_cache(void)
{
	struct node_gpu_cache c = NODE_GPU_CACHE_INIT;
	char body[1024];
	json_t *g;

	xsnprintf(body, sizeof(body),
	    "echo run >>%s/calls\n"
	    "echo 'NVIDIA GeForce RTX 3090, 00000000:01:00.0, 24576, 23800, 8.6'",
	    bin);
	fake_smi(body);
	g = node_gpu_cached(&c, drm, NULL, 5000, 60000, 1000);
	ok(json_is_true(json_object_get(g, "present")) && smi_calls() == 1,
	    "cache: the first report runs nvidia-smi");
	json_decref(g);
	g = node_gpu_cached(&c, drm, NULL, 5000, 60000, 1000 + 59999);
	is_json(g,
	    "{\"present\":true,\"devices\":[" RTX "],\"total_vram_mb\":24576,"
	    "\"total_available_vram_mb\":23800}",
	    "cache: a report within 60 s is the cached one");
	ok(smi_calls() == 1, "cache: nvidia-smi did not run again");
	g = node_gpu_cached(&c, drm, NULL, 5000, 60000, 1000 + 60000);
	json_decref(g);
	ok(smi_calls() == 2 && c.runs == 2, "cache: 60 s later nvidia-smi runs again");
	/* A second GPU, and a card appearing under drm: detected at once. */
	xsnprintf(body, sizeof(body),
	    "echo run >>%s/calls\n"
	    "echo 'NVIDIA GeForce RTX 3090, 00000000:01:00.0, 24576, 23800, 8.6'\n"
	    "echo 'NVIDIA L4, 00000000:02:00.0, 23034, 23000, 8.9'",
	    bin);
	fake_smi(body);
	g = node_gpu_cached(&c, drm, NULL, 5000, 60000, 61001);
	ok(json_array_size(json_object_get(g, "devices")) == 1 && smi_calls() == 2,
	    "cache: the new GPU is not seen before the refresh without a drm change");
	json_decref(g);
	put("drm/card3/device/vendor", "0x10de\n");
	g = node_gpu_cached(&c, drm, NULL, 5000, 60000, 61002);
	ok(json_array_size(json_object_get(g, "devices")) == 2 && smi_calls() == 3,
	    "cache: a card added under drm runs nvidia-smi again");
	json_decref(g);
	g = node_gpu_cached(&c, drm, NULL, 5000, 60000, 61003);
	json_decref(g);
	ok(smi_calls() == 3, "cache: unchanged drm, cached again");
	cy_rm_rf(drm_card3());
	g = node_gpu_cached(&c, drm, NULL, 5000, 60000, 61004);
	json_decref(g);
	ok(smi_calls() == 4, "cache: a card removed under drm runs nvidia-smi again");
	node_gpu_cache_release(&c);
	ok(c.gpu == NULL && c.drm == NULL, "cache: released");
}

int
main(void)
{
	make_tree();
	RUN_TEST(test_drm);
	RUN_TEST(test_smi);
	RUN_TEST(test_hash);
	RUN_TEST(test_detect);
	RUN_TEST(test_cache);
	cy_rm_rf(base);
	ok(access(base, F_OK) < 0, "cleanup");
	return tap_done();
}
