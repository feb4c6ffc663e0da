/*
 * Checks and derivations on node payloads (node-payload.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caphash.h"
#include "id.h"
#include "json.h"
#include "node-payload.h"
#include "banned.h"

#define INFERENCE_PORT 11434

int node_payload_version(const json_t *obj, const char *what, struct cy_http_resp *resp)
{
	json_t *v = json_object_get(obj, "version");
	char *got;

	if (json_is_integer(v) && json_integer_value(v) == 1)
		return 0;
	got = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
	cy_resp_problem(resp, CY_PROBLEM_UNSUPPORTED_PAYLOAD_VERSION,
		"unsupported %s version %.40s; supported versions: 1", what, got ? got : "(none)");
	free(got);
	return -1;
}

int node_slug_matches(const json_t *body, const char *path, const char *node_slug,
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
		"%s '%.64s' does not match the authenticated node '%s'", path,
		json_string_value(v), node_slug);
	return -1;
}

bool node_url_valid(const char *url)
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

/* The typed fields of a capability report the server reads (contract 3.6). */
static const struct cap_field {
	const char *path;
	json_type type;
	json_int_t lo, hi;	/* integers only */
} cap_fields[] = {
	{ "reported_at", JSON_STRING, 0, 0 },
	{ "node.labels", JSON_ARRAY, 0, 0 },
	{ "compute.cpu_cores", JSON_INTEGER, 0, 1 << 20 },
	{ "compute.ram_mb", JSON_INTEGER, 0, (json_int_t)1 << 40 },
	{ "gpu.present", JSON_TRUE, 0, 0 },
	{ "gpu.devices", JSON_ARRAY, 0, 0 },
	{ "sandbox.supported", JSON_TRUE, 0, 0 },
	{ "sandbox.max_concurrency", JSON_INTEGER, 1, 100000 },
	{ "inference.supported", JSON_TRUE, 0, 0 },
	{ "inference.mode", JSON_STRING, 0, 0 },
	{ "inference.existing_service", JSON_TRUE, 0, 0 },
	{ "inference.running", JSON_TRUE, 0, 0 },
	{ "inference.available_models", JSON_ARRAY, 0, 0 },
	{ "inference.loaded_models", JSON_ARRAY, 0, 0 },
};

/* Model lists in a report: at most this many names of at most this length. */
#define CAP_MODELS_MAX 1024
#define CAP_MODEL_NAME_MAX 256

/* Checks one list of model names (issue 12): strings, bounded. */
static int cap_check_models(const json_t *cap, const char *path, struct cy_http_resp *resp)
{
	json_t *list = cy_json_path(cap, path), *v;
	size_t i;

	if (json_array_size(list) > CAP_MODELS_MAX) {
		cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "%s lists more than %d models", path,
			CAP_MODELS_MAX);
		return -1;
	}
	json_array_foreach(list, i, v)
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) > CAP_MODEL_NAME_MAX) {
			cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
				"%s[%zu] must be a model name (a string of 1 to %d bytes)", path, i,
				CAP_MODEL_NAME_MAX);
			return -1;
		}
	return 0;
}

static const char *cap_type_name(const struct cap_field *f)
{
	switch (f->type) {
	case JSON_STRING:
		return "a string";
	case JSON_ARRAY:
		return "an array";
	case JSON_TRUE:
		return "a boolean";
	default:
		return "an integer";
	}
}

int node_capability_check(const json_t *cap, struct cy_http_resp *resp)
{
	const struct cap_field *f;
	json_t *v, *l;
	size_t i;

	for (f = cap_fields; f < cap_fields + sizeof(cap_fields) / sizeof(cap_fields[0]); f++) {
		v = cy_json_path(cap, f->path);
		if (!v || json_is_null(v))
			continue;
		if (f->type == JSON_TRUE ? json_is_boolean(v) :
		    f->type == JSON_INTEGER ? json_is_integer(v) &&
		    json_integer_value(v) >= f->lo && json_integer_value(v) <= f->hi :
		    json_typeof(v) == f->type)
			continue;
		if (f->type == JSON_INTEGER)
			cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
				"%s must be an integer from %lld to %lld", f->path,
				(long long)f->lo, (long long)f->hi);
		else
			cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "%s must be %s", f->path,
				cap_type_name(f));
		return -1;
	}
	json_array_foreach(cy_json_path(cap, "node.labels"), i, l)
		if (!json_is_string(l)) {
			cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
				"node.labels[%zu] must be a string", i);
			return -1;
		}
	if (cap_check_models(cap, "inference.available_models", resp) < 0 ||
	    cap_check_models(cap, "inference.loaded_models", resp) < 0)
		return -1;
	return 0;
}

void node_capability_canon(const json_t *cap, char **text, char hash[72])
{
	*text = json_dumps(cap, JSON_COMPACT | JSON_SORT_KEYS);
	if (!*text)
		abort();
	cy_capability_hash(cap, hash);
}

/* True when the snapshot's node.labels holds `label`. */
static bool cap_has_label(const json_t *cap, const char *label)
{
	json_t *labels = cy_json_path(cap, "node.labels"), *v;
	size_t i;

	json_array_foreach(labels, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), label) == 0)
			return true;
	return false;
}

/* cpu, cuda or rocm from the GPU devices' features. */
static const char *cap_variant(const json_t *cap)
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
static const char *policy_image(const json_t *policy, const char *variant)
{
	const char *img = cy_json_str(json_object_get(policy, "images"), variant);

	return img ? img : cy_json_str(policy, "image");
}

json_t *node_inference_backend(const json_t *cap, const json_t *policy)
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
