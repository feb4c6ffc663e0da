/*
 * capability_hash over the canonical form of a capability report (caphash.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "caphash.h"
#include "digest.h"
#include "id.h"
#include "banned.h"

void
cy_capability_hash(const json_t *cap, char out[CY_CAPHASH_LEN + 1])
{
	json_t *c = json_deep_copy(cap), *o, *d;
	char hex[65], *text;
	size_t i;

	if (!c)
		abort();
	/*
	 * Volatile figures change between two reports of the same machine and
	 * would make every report look new: the time, free RAM and storage,
	 * and free VRAM (per device from nvidia-smi's memory.free or amdgpu's
	 * mem_info_vram_used, and its total).  Total VRAM, models and
	 * features stay in.
	 */
	json_object_del(c, "reported_at");
	o = json_object_get(c, "compute");
	if (json_is_object(o)) {
		json_object_del(o, "ram_available_mb");
		json_object_del(o, "storage_free_mb");
	}
	o = json_object_get(c, "gpu");
	if (json_is_object(o)) {
		json_object_del(o, "total_available_vram_mb");
		json_array_foreach(json_object_get(o, "devices"), i, d)
			if (json_is_object(d))
				json_object_del(d, "available_vram_mb");
	}
	text = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	if (!text)
		abort();
	cy_sha256_hex(text, strlen(text), hex);
	xsnprintf(out, CY_CAPHASH_LEN + 1, "sha256:%s", hex);
	free(text);
	json_decref(c);
}
