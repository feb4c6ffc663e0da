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

static const struct cy_cfg_key keys[] = {
	{ "version", CY_CFG_INT, offsetof(struct fcfg, version), "1", 1, 1 },
	{ "a.url", CY_CFG_STR, offsetof(struct fcfg, url), "http://x" },
	{ "a.b.port", CY_CFG_INT, offsetof(struct fcfg, port), "80", 1, 65535 },
	{ "a.b.timeout", CY_CFG_DURATION, offsetof(struct fcfg, timeout), "30s", 1, 86400 },
	{ "a.mode", CY_CFG_ENUM, offsetof(struct fcfg, mode), "allow", 0, 0, modes },
	{ "a.flag", CY_CFG_BOOL, offsetof(struct fcfg, flag), "false" },
	{ "a.labels", CY_CFG_STRLIST, offsetof(struct fcfg, labels), "x,y" },
	{ "a.meta", CY_CFG_OBJECT, offsetof(struct fcfg, meta) },
	{ "s.secret", CY_CFG_STR, offsetof(struct fcfg, secret), NULL, 0, 0, NULL, NULL, false,
		true },
};

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
