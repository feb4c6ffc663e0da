/*
 * Checks and derivations on node payloads (node-payload.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caphash.h"
#include "id.h"
#include "jcheck.h"
#include "json.h"
#include "node-payload.h"
#include "tls.h"
#include "banned.h"

#define INFERENCE_PORT 11434

int
node_slug_matches(const json_t *body, const char *path, const char *node_slug,
    struct cy_http_resp *resp)
{
	json_t *v = cy_json_path(body, path);

	if (!json_is_string(v)) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "%s must be a string: the authenticated node's slug '%s'", path, node_slug);
		return -1;
	}
	if (strcmp(json_string_value(v), node_slug) == 0)
		return 0;
	cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
	    "%s '%.64s' does not match the authenticated node '%s'", path, json_string_value(v),
	    node_slug);
	return -1;
}

bool
node_url_valid(const char *url)
{
	const char *host;
	size_t i;

	if (strncmp(url, "http://", 7) == 0)
		host = url + 7;
	else if (strncmp(url, "https://", 8) == 0)
		host = url + 8;
	else
		return false;
	if (*host == '\0' || *host == '/' || *host == ':')
		return false;
	for (i = 0; url[i]; i++)
		if ((unsigned char)url[i] <= ' ' || url[i] == 0x7f)
			return false;
	return strlen(url) <= 2048;
}

/* Model lists in a report: at most this many names of at most this length. */
#define CAP_MODELS_MAX 1024
#define CAP_MODEL_NAME_MAX 256

/* clang-format off */
#define CAP_BOOL(n) { .name = (n), .type = CY_JC_BOOL, .null_ok = true }
#define CAP_INT(n, lo, hi) { .name = (n), .type = CY_JC_INT, .null_ok = true, .min = (lo), \
	.max = (hi) }
#define CAP_OBJECT(n, s) { .name = (n), .type = CY_JC_OBJECT, .null_ok = true, .sub = &(s) }
#define CAP_MODELS(n) { .name = (n), .type = CY_JC_ARRAY, .null_ok = true, \
	.max = CAP_MODELS_MAX, .item = &(const struct cy_jcheck_field){ .type = CY_JC_STRING, \
		.min = 1, .max = CAP_MODEL_NAME_MAX } }

/*
 * The parts of a capability report (contract 3.6) the server reads, with
 * their types; every object is open, so what a newer node adds is kept as
 * reported.  node.node_slug is checked by the routes (register needs one,
 * a report must name the authenticated node).
 */
static const struct cy_jcheck cap_node = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "node_slug", .type = CY_JC_STRING },
		{ .name = "labels", .type = CY_JC_ARRAY, .null_ok = true,
		  .item = &(const struct cy_jcheck_field){ .type = CY_JC_STRING } }),
	.open = true,
};

static const struct cy_jcheck cap_compute = {
	.fields = CY_JCHECK_ROWS(
		CAP_INT("cpu_cores", 0, 1 << 20),
		CAP_INT("ram_mb", 0, 1LL << 40)),
	.open = true,
};

static const struct cy_jcheck cap_gpu = {
	.fields = CY_JCHECK_ROWS(
		CAP_BOOL("present"),
		{ .name = "devices", .type = CY_JC_ARRAY, .null_ok = true }),
	.open = true,
};

static const struct cy_jcheck cap_sandbox = {
	.fields = CY_JCHECK_ROWS(
		CAP_BOOL("supported"),
		CAP_INT("max_concurrency", 1, 100000)),
	.open = true,
};

static const struct cy_jcheck cap_inference = {
	.fields = CY_JCHECK_ROWS(
		CAP_BOOL("supported"),
		{ .name = "mode", .type = CY_JC_STRING, .null_ok = true },
		CAP_BOOL("existing_service"),
		CAP_BOOL("running"),
		CAP_MODELS("available_models"),
		CAP_MODELS("loaded_models")),
	.open = true,
};

static const struct cy_jcheck cap_worker_api = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "base_url", .type = CY_JC_STRING, .null_ok = true },
		{ .name = "tls_pubkey_sha256", .type = CY_JC_STRING, .null_ok = true,
		  .valid = cy_tls_pin_valid, .shape = "sha256//<base64 SHA-256 of the public key>" }),
	.open = true,
};

const struct cy_jcheck node_capability_report = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "reported_at", .type = CY_JC_STRING, .null_ok = true },
		CAP_OBJECT("node", cap_node),
		CAP_OBJECT("compute", cap_compute),
		CAP_OBJECT("gpu", cap_gpu),
		CAP_OBJECT("sandbox", cap_sandbox),
		CAP_OBJECT("inference", cap_inference),
		CAP_OBJECT("worker_api", cap_worker_api)),
	.open = true,
	.version = 1,
	.what = "capability report",
};
/* clang-format on */

void
node_capability_canon(const json_t *cap, char **text, char hash[72])
{
	*text = json_dumps(cap, JSON_COMPACT | JSON_SORT_KEYS);
	if (!*text)
		abort();
	cy_capability_hash(cap, hash);
}

/* True when the snapshot's node.labels holds `label`. */
static bool
cap_has_label(const json_t *cap, const char *label)
{
	json_t *labels = cy_json_path(cap, "node.labels"), *v;
	size_t i;

	json_array_foreach(labels, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), label) == 0)
			return true;
	return false;
}

/* cpu, cuda or rocm from the GPU devices' features. */
static const char *
cap_variant(const json_t *cap)
{
	json_t *devs = cy_json_path(cap, "gpu.devices"), *d;
	bool cuda = false;
	size_t i;

	json_array_foreach(devs, i, d) {
		if (cy_json_path(d, "features.rocm_version"))
			return "rocm";
		if (cy_json_path(d, "features.cuda_capability"))
			cuda = true;
	}
	return cuda ? "cuda" : "cpu";
}

/* The image for a variant: the policy's images.<variant>, else its image. */
static const char *
policy_image(const json_t *policy, const char *variant)
{
	const char *img = cy_json_str(json_object_get(policy, "images"), variant);

	return img ? img : cy_json_str(policy, "image");
}

json_t *
node_inference_backend(const json_t *cap, const json_t *policy)
{
	json_t *inf = cap ? json_object_get(cap, "inference") : NULL, *o;
	const char *mode, *variant, *img;
	json_int_t port = INFERENCE_PORT;

	/* Contract 3.4: the first rule that matches wins. */
	if (!json_is_object(inf) || cy_json_bool(inf, "existing_service", false))
		return json_pack("{s:b}", "enabled", 0);
	mode = cy_json_str(inf, "mode");
	if ((mode && strcmp(mode, "disabled") == 0) || !cy_json_bool(inf, "supported", false) ||
	    cap_has_label(cap, "sandbox_only"))
		return json_pack("{s:b}", "enabled", 0);
	/* Rule 5: a pushed policy may disable inference, unless the node requires it. */
	if (json_is_false(json_object_get(policy, "enabled")) &&
	    !(mode && strcmp(mode, "require") == 0))
		return json_pack("{s:b}", "enabled", 0);
	variant = cap_variant(cap);
	if (json_is_integer(json_object_get(policy, "port")))
		port = json_integer_value(json_object_get(policy, "port"));
	o = json_pack("{s:b, s:s, s:I}", "enabled", 1, "variant", variant, "port", port);
	if ((img = policy_image(policy, variant)))
		json_object_set_new(o, "image", json_string(img));
	return o;
}
