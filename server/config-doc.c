/*
 * Checking and applying pushed configuration documents (config-doc.h).
 * The check is table-driven: each object of the document lists its members
 * with a type and a range, and anything else is an error naming its path.
 */
#include <stdio.h>
#include <string.h>

#include "config-doc.h"
#include "json.h"
#include "node-payload.h"
#include "banned.h"

#define LIST_MAX 256
#define STRING_MAX 512
#define NOTES_MAX 4096

enum member_kind { M_BOOL, M_INT, M_STRING, M_ENUM, M_STRLIST, M_OBJECT };

struct member {
	const char *name;
	enum member_kind kind;
	long long min, max;		/* M_INT */
	const char *const *choices;	/* M_ENUM */
	const struct member *sub;	/* M_OBJECT; NULL-terminated */
};

static const char *const network_choices[] = { "restricted", "none", "allowlist", NULL };

static const struct member sandbox_members[] = {
	{ "allowed_images", M_STRLIST, 0, 0, NULL, NULL },
	{ "default_network_policy", M_ENUM, 0, 0, network_choices, NULL },
	{ "allowed_egress_domains", M_STRLIST, 0, 0, NULL, NULL },
	{ "allow_privileged", M_BOOL, 0, 0, NULL, NULL },
	{ "allow_host_network", M_BOOL, 0, 0, NULL, NULL },
	{ "allow_device_mounts", M_BOOL, 0, 0, NULL, NULL },
	{ NULL }
};

static const struct member updates_members[] = {
	{ "enable_dynamic_config", M_BOOL, 0, 0, NULL, NULL },
	{ "poll_interval_seconds", M_INT, 0, 86400, NULL, NULL },
	{ "allow_service_restart", M_BOOL, 0, 0, NULL, NULL },
	{ NULL }
};

static const struct member policy_members[] = {
	{ "sandbox", M_OBJECT, 0, 0, NULL, sandbox_members },
	{ "updates", M_OBJECT, 0, 0, NULL, updates_members },
	{ NULL }
};

/* The ranges the node accepts (node/config-apply.c). */
static const struct member constraint_members[] = {
	{ "max_request_bytes", M_INT, 1024, 1073741824LL, NULL, NULL },
	{ "max_job_timeout_seconds", M_INT, 1, 31536000LL, NULL, NULL },
	{ "max_concurrency", M_INT, 1, 1024, NULL, NULL },
	{ NULL }
};

static const struct member image_members[] = {
	{ "cpu", M_STRING, 0, 0, NULL, NULL },
	{ "cuda", M_STRING, 0, 0, NULL, NULL },
	{ "rocm", M_STRING, 0, 0, NULL, NULL },
	{ NULL }
};

static const struct member inference_members[] = {
	{ "enabled", M_BOOL, 0, 0, NULL, NULL },
	{ "image", M_STRING, 0, 0, NULL, NULL },
	{ "images", M_OBJECT, 0, 0, NULL, image_members },
	{ "port", M_INT, 1, 65535, NULL, NULL },
	{ NULL }
};

static const struct member doc_members[] = {
	{ "policy", M_OBJECT, 0, 0, NULL, policy_members },
	{ "constraints", M_OBJECT, 0, 0, NULL, constraint_members },
	{ "inference_backend", M_OBJECT, 0, 0, NULL, inference_members },
	{ "notes", M_STRING, 0, 0, NULL, NULL },
	{ NULL }
};

static int check_object(const json_t *o, const struct member *m, const char *path,
	struct cy_buf *why);

/* A non-empty string without control characters, at most max bytes. */
static bool
good_string(const json_t *v, size_t max)
{
	const char *s = json_string_value(v);
	size_t i, n = s ? strlen(s) : 0;

	if (n == 0 || n > max || n != json_string_length(v))
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < ' ' || s[i] == 0x7f)
			return false;
	return true;
}

static int
check_member(const json_t *v, const struct member *m, const char *path, struct cy_buf *why)
{
	const char *const *c;
	json_t *e;
	size_t i;

	switch (m->kind) {
	case M_BOOL:
		if (json_is_boolean(v))
			return 0;
		cy_buf_addf(why, "%s must be true or false", path);
		return -1;
	case M_INT:
		if (json_is_integer(v) && json_integer_value(v) >= m->min &&
		    json_integer_value(v) <= m->max)
			return 0;
		cy_buf_addf(why, "%s must be an integer from %lld to %lld", path, m->min, m->max);
		return -1;
	case M_STRING:
		if (good_string(v, strcmp(m->name, "notes") ? STRING_MAX : NOTES_MAX))
			return 0;
		cy_buf_addf(why, "%s must be a non-empty string of printable characters", path);
		return -1;
	case M_ENUM:
		for (c = m->choices; json_is_string(v) && *c; c++)
			if (strcmp(json_string_value(v), *c) == 0)
				return 0;
		cy_buf_addf(why, "%s must be one of", path);
		for (c = m->choices; *c; c++)
			cy_buf_addf(why, "%s %s", c == m->choices ? "" : ",", *c);
		return -1;
	case M_STRLIST:
		if (!json_is_array(v) || json_array_size(v) > LIST_MAX) {
			cy_buf_addf(why, "%s must be a list of at most %d strings", path, LIST_MAX);
			return -1;
		}
		json_array_foreach(v, i, e)
			if (!good_string(e, STRING_MAX)) {
				cy_buf_addf(why, "%s[%zu] must be a non-empty string of printable "
					"characters", path, i);
				return -1;
			}
		return 0;
	case M_OBJECT:
		return check_object(v, m->sub, path, why);
	}
	return -1;
}

static int
check_object(const json_t *o, const struct member *members, const char *path,
	struct cy_buf *why)
{
	const struct member *m;
	const char *key;
	json_t *v;

	if (!json_is_object(o)) {
		cy_buf_addf(why, "%s must be an object", *path ? path : "the document");
		return -1;
	}
	json_object_foreach((json_t *)o, key, v) {
		char sub[256];

		for (m = members; m->name; m++)
			if (strcmp(m->name, key) == 0)
				break;
		snprintf(sub, sizeof(sub), "%s%s%.100s", path, *path ? "." : "", key);
		if (!m->name) {
			cy_buf_addf(why, "unknown key '%s'; allowed here:", sub);
			for (m = members; m->name; m++)
				cy_buf_addf(why, "%s %s", m == members ? "" : ",", m->name);
			return -1;
		}
		if (check_member(v, m, sub, why) < 0)
			return -1;
	}
	return 0;
}

int
config_doc_check(const json_t *doc, struct cy_buf *why)
{
	return check_object(doc, doc_members, "", why);
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
		node_inference_backend(cap, doc ? json_object_get(doc, "inference_backend") :
					      NULL));
}
