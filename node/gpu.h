/*
 * GPU detection for the capability report's `gpu` object (contract 3.6):
 * nvidia-smi when it is on PATH and names at least one device, else the
 * cards under /sys/class/drm.  The parsers take their inputs (the text
 * nvidia-smi printed, a drm class directory) so tests need no GPU.
 *
 * A device is {vendor, model, device_id, vram_mb, available_vram_mb,
 * features{cuda_capability | rocm_version}}; members that are not known
 * are left out.
 */
#ifndef CY_NODE_GPU_H
#define CY_NODE_GPU_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

/* The nvidia-smi query node_gpu_detect() runs (--format=csv,noheader,nounits). */
#define NODE_GPU_SMI_QUERY "name,pci.bus_id,memory.total,memory.free,compute_cap"

/*
 * The devices in the output of nvidia-smi --query-gpu=NODE_GPU_SMI_QUERY:
 * one line per GPU; "[N/A]" fields are left out, lines that are not five
 * fields with a name or a bus id are skipped.  A new array, maybe empty.
 */
json_t *node_gpu_parse_smi(const char *text);

/*
 * The NVIDIA, AMD and Intel cards under drm_dir (normally /sys/class/drm):
 * cardN entries only (not connectors like card1-HDMI-A-1, not renderD128),
 * in name order.  AMD cards get their VRAM from mem_info_vram_total/_used
 * and features.rocm_version from the file rocm_version_file (when it can
 * be read; may be NULL).  A new array, maybe empty.
 */
json_t *node_gpu_scan_drm(const char *drm_dir, const char *rocm_version_file);

/*
 * The report's gpu object from a device array (stolen): present, and when
 * there are devices, devices plus total_vram_mb and total_available_vram_mb
 * (each when at least one device knows it).
 */
json_t *node_gpu_object(json_t *devices);

/*
 * Runs nvidia-smi (searched on PATH, no shell, killed after timeout_ms,
 * its output bounded) and parses it; falls back to node_gpu_scan_drm() when
 * it is absent, fails or names no device.  Returns the gpu object.
 */
json_t *node_gpu_detect(const char *drm_dir, const char *rocm_version_file, int timeout_ms);

/*
 * A detection kept between capability reports, so a heartbeat does not
 * fork nvidia-smi each time.  Static storage: NODE_GPU_CACHE_INIT.
 */
struct node_gpu_cache {
	pthread_mutex_t lock;
	json_t *gpu;        /* the last gpu object; NULL before the first detection */
	int64_t at_ms;      /* cy_mono_ms() of that detection */
	char *drm;          /* the cardN entries (and their device links) then */
	unsigned long runs; /* detections run so far */
};
/* clang-format off */
#define NODE_GPU_CACHE_INIT { .lock = PTHREAD_MUTEX_INITIALIZER }
/* clang-format on */

/*
 * node_gpu_detect()'s gpu object (a new copy), detected again only when
 * the cached one is max_age_ms old at now_ms (a monotonic time) or the
 * cardN entries under drm_dir (a card added, removed or rebound) changed
 * since; otherwise from the cache, free VRAM included.
 */
json_t *node_gpu_cached(struct node_gpu_cache *c, const char *drm_dir,
    const char *rocm_version_file, int timeout_ms, int64_t max_age_ms, int64_t now_ms);

/* Frees what the cache holds (it can be used again). */
void node_gpu_cache_release(struct node_gpu_cache *c);

#endif
