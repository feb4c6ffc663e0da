/*
 * Fuzz target for lib/config.c: loads arbitrary bytes as YAML through
 * cy_config_load_mem against a small table with every key type, then prints
 * and releases the result; and the same bytes as one document through
 * cy_yaml_to_json (cynork config push -f).  Replayed as a unit test by replay.c; `make fuzz`
 * runs it under libFuzzer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fcfg {
	long long version, port, timeout;
	char *url, *mode, *secret;
	bool flag;
	struct cy_strlist labels;
	json_t *meta;
};

static const char *const modes[] = { "allow", "sandbox_only", "disabled", NULL };

/* clang-format off */
static const struct cy_cfg_key keys[] = {
	{ .path = "version", .type = CY_CFG_INT, .offset = offsetof(struct fcfg, version),
	  .def = "1", .min = 1, .max = 1 },
	{ .path = "a.url", .type = CY_CFG_STR, .offset = offsetof(struct fcfg, url),
	  .def = "http://x" },
	{ .path = "a.b.port", .type = CY_CFG_INT, .offset = offsetof(struct fcfg, port),
	  .def = "80", .min = 1, .max = 65535 },
	{ .path = "a.b.timeout", .type = CY_CFG_DURATION, .offset = offsetof(struct fcfg, timeout),
	  .def = "30s", .min = 1, .max = 86400 },
	{ .path = "a.mode", .type = CY_CFG_ENUM, .offset = offsetof(struct fcfg, mode),
	  .def = "allow", .choices = modes },
	{ .path = "a.flag", .type = CY_CFG_BOOL, .offset = offsetof(struct fcfg, flag),
	  .def = "false" },
	{ .path = "a.labels", .type = CY_CFG_STRLIST, .offset = offsetof(struct fcfg, labels),
	  .def = "x,y" },
	{ .path = "a.meta", .type = CY_CFG_OBJECT, .offset = offsetof(struct fcfg, meta) },
	{ .path = "s.secret", .type = CY_CFG_STR, .offset = offsetof(struct fcfg, secret),
	  .secret = true },
};
/* clang-format on */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cy_error err = CY_ERROR_INIT;
	struct fcfg c = { 0 };
	json_t *doc = NULL;
	FILE *null = fopen("/dev/null", "w");
	size_t n = sizeof(keys) / sizeof(keys[0]);

	if (cy_config_load_mem("fuzz", (const char *)data, size, keys, n, &c, &err) == 0 && null)
		cy_config_print(null, keys, n, &c);
	cy_config_release(keys, n, &c);
	/* The same bytes as a whole document (cynork config push -f). */
	if (cy_yaml_to_json("fuzz", (const char *)data, size, &doc, &err) == 0)
		json_decref(doc);
	if (null)
		fclose(null);
	return 0;
}
