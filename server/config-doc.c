/*
 * Checking and applying pushed configuration documents (config-doc.h).
 * The check is a jcheck table (lib/jcheck.h): each object of the document
 * lists its members with a type and a range, and anything else is an error
 * naming its path.
 */
#include <string.h>

#include "config-doc.h"
#include "jcheck.h"
#include "json.h"
#include "node-payload.h"
#include "banned.h"

#define LIST_MAX 256
#define STRING_MAX 512
#define NOTES_MAX 4096

static const char *const network_choices[] = { "restricted", "none", "allowlist", NULL };

/* A setting's text: non-empty, printable, bounded. */
#define DOC_STRING(n) \
	{ \
		.name = (n), .type = CY_JC_STRING, .min = 1, .max = STRING_MAX, .printable = true \
	}
/* clang-format off */
#define DOC_BOOL(n) { .name = (n), .type = CY_JC_BOOL }
#define DOC_INT(n, lo, hi) { .name = (n), .type = CY_JC_INT, .min = (lo), .max = (hi) }
#define DOC_OBJECT(n, s) { .name = (n), .type = CY_JC_OBJECT, .sub = &(s) }
/* clang-format on */

static const struct cy_jcheck_field doc_string = {
	.type = CY_JC_STRING,
	.min = 1,
	.max = STRING_MAX,
	.printable = true,
};

/* A list of settings' texts. */
/* clang-format off */
#define DOC_LIST(n) { .name = (n), .type = CY_JC_ARRAY, .max = LIST_MAX, .item = &doc_string }

static const struct cy_jcheck sandbox_members = {
	.fields = CY_JCHECK_ROWS(
		DOC_LIST("allowed_images"),
		{ .name = "default_network_policy", .type = CY_JC_STRING,
		  .choices = network_choices },
		DOC_LIST("allowed_egress_domains"),
		DOC_BOOL("allow_privileged"),
		DOC_BOOL("allow_host_network"),
		DOC_BOOL("allow_device_mounts")),
};

static const struct cy_jcheck updates_members = {
	.fields = CY_JCHECK_ROWS(
		DOC_BOOL("enable_dynamic_config"),
		DOC_INT("poll_interval_seconds", 0, 86400),
		DOC_BOOL("allow_service_restart")),
};

static const struct cy_jcheck policy_members = {
	.fields = CY_JCHECK_ROWS(
		DOC_OBJECT("sandbox", sandbox_members),
		DOC_OBJECT("updates", updates_members)),
};

/* The ranges the node accepts (node/config-apply.c). */
static const struct cy_jcheck constraint_members = {
	.fields = CY_JCHECK_ROWS(
		DOC_INT("max_request_bytes", 1024, 1073741824LL),
		DOC_INT("max_job_timeout_seconds", 1, 31536000LL),
		DOC_INT("max_concurrency", 1, 1024)),
};

static const struct cy_jcheck image_members = {
	.fields = CY_JCHECK_ROWS(
		DOC_STRING("cpu"),
		DOC_STRING("cuda"),
		DOC_STRING("rocm")),
};

static const struct cy_jcheck inference_members = {
	.fields = CY_JCHECK_ROWS(
		DOC_BOOL("enabled"),
		DOC_STRING("image"),
		DOC_OBJECT("images", image_members),
		DOC_INT("port", 1, 65535)),
};

static const struct cy_jcheck doc_members = {
	.fields = CY_JCHECK_ROWS(
		DOC_OBJECT("policy", policy_members),
		DOC_OBJECT("constraints", constraint_members),
		DOC_OBJECT("inference_backend", inference_members),
		{ .name = "notes", .type = CY_JC_STRING, .min = 1, .max = NOTES_MAX,
		  .printable = true }),
	.what = "document",
};
/* clang-format on */

int
config_doc_check(const json_t *doc, struct cy_buf *why)
{
	return cy_jcheck(doc, &doc_members, why) == CY_JCHECK_OK ? 0 : -1;
}

/* Copies the members of src (if an object) into the object at dst.key. */
static void
overlay(json_t *dst, const char *key, const json_t *src)
{
	json_t *d = json_object_get(dst, key);

	if (!json_is_object(src))
		return;
	if (!json_is_object(d)) {
		d = json_object();
		json_object_set_new(dst, key, d);
	}
	json_object_update(d, (json_t *)src);
}

void
config_doc_apply(json_t *payload, const json_t *doc, const json_t *cap)
{
	json_t *policy = json_object_get(payload, "policy");

	if (doc) {
		overlay(policy, "sandbox", cy_json_path(doc, "policy.sandbox"));
		overlay(policy, "updates", cy_json_path(doc, "policy.updates"));
		overlay(payload, "constraints", json_object_get(doc, "constraints"));
		if (json_is_string(json_object_get(doc, "notes")))
			json_object_set(payload, "notes", json_object_get(doc, "notes"));
	}
	json_object_set_new(payload, "inference_backend",
	    node_inference_backend(cap, doc ? json_object_get(doc, "inference_backend") : NULL));
}
