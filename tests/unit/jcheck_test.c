/*
 * Unit tests for lib/jcheck.c: every type, bound and flag of a row, open
 * and closed objects, the payload version, nested paths, and the one
 * sentence each failure produces.
 */
#include <stdlib.h>
#include <string.h>

#include "id.h"
#include "jcheck.h"
#include "json.h"
#include "tap.h"

static const char *const modes[] = { "prompt", "script", "commands", NULL };

/* clang-format off */
static const struct cy_jcheck req_members = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "labels", .type = CY_JC_ARRAY, .null_ok = true, .max = 3,
		  .item = &(const struct cy_jcheck_field){ .type = CY_JC_STRING, .min = 1,
			.max = 8 } },
		{ .name = "gpus", .type = CY_JC_INT, .null_ok = true, .min = 0, .max = 16 }),
};

static const struct cy_jcheck body = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "prompt", .type = CY_JC_STRING, .required = true, .min = 1 },
		{ .name = "input_mode", .type = CY_JC_STRING, .null_ok = true, .choices = modes },
		{ .name = "task_name", .type = CY_JC_STRING, .max = 20 },
		{ .name = "password", .type = CY_JC_STRING, .min = 8, .max = 64 },
		{ .name = "note", .type = CY_JC_STRING, .min = 1, .max = 10, .printable = true },
		{ .name = "project_id", .type = CY_JC_STRING, .valid = cy_uuid_valid,
		  .shape = "a UUID" },
		{ .name = "ids", .type = CY_JC_ARRAY, .min = 1,
		  .item = &(const struct cy_jcheck_field){ .type = CY_JC_STRING,
			.valid = cy_uuid_valid, .shape = "a UUID" } },
		{ .name = "timeout_seconds", .type = CY_JC_INT, .min = 1, .max = 10800 },
		{ .name = "use_inference", .type = CY_JC_BOOL, .null_ok = true },
		{ .name = "requirements", .type = CY_JC_OBJECT, .sub = &req_members },
		{ .name = "extra", .type = CY_JC_OBJECT },
		{ .name = "anything", .type = CY_JC_ANY }),
};
/* clang-format on */

/* No fields at all. */
static const struct cy_jcheck none = { .fields = NULL };

/* Members no row names are fine. */
/* clang-format off */
static const struct cy_jcheck open_obj = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "n", .type = CY_JC_INT, .min = 0, .max = 9 }),
	.open = true,
};

/* Versioned payloads. */
static const struct cy_jcheck report = {
	.fields = CY_JCHECK_ROWS(
		{ .name = "slug", .type = CY_JC_STRING, .required = true }),
	.version = 1,
	.what = "capability report",
};
/* clang-format on */

static const struct cy_jcheck closed = {
	.fields = NULL,
	.version = 1,
	.what = "heartbeat",
};

/* A JSON text, the spec it is checked against, and what must come out. */
struct jcase {
	const struct cy_jcheck *spec;
	const char *text;
	int rc;
	const char *why; /* NULL: no message */
};

#define RUN_CASES(c) run_cases((c), sizeof(c) / sizeof((c)[0]))

/* Checks text against spec: the result, and the message (NULL: none). */
static void
check(const struct cy_jcheck *spec, const char *text, int want_rc, const char *want_why)
{
	struct cy_error err = CY_ERROR_INIT;
	struct cy_buf why = CY_BUF_INIT;
	json_t *v = cy_json_parse(text, strlen(text), false, &err);
	int rc;

	if (!v) {
		ok(0, "parses: %s (%s)", text, err.msg);
		return;
	}
	rc = cy_jcheck(v, spec, &why);
	is_int(rc, want_rc, text);
	is_str(why.buf, want_why ? want_why : "", "  its message");
	cy_buf_release(&why);
	json_decref(v);
}

/* Checks every case of a table. */
static void
run_cases(const struct jcase *c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		check(c[i].spec, c[i].text, c[i].rc, c[i].why);
}

static void
test_good(void)
{
	/* clang-format off */
	static const struct jcase c[] = {
		{ &body, "{\"prompt\":\"x\"}", 0, NULL },
		{ &body, "{\"prompt\":\"x\",\"input_mode\":null,\"use_inference\":null,"
		  "\"requirements\":{\"labels\":null,\"gpus\":null}}", 0, NULL },
		{ &body, "{\"prompt\":\"x\",\"input_mode\":\"script\",\"task_name\":\"\","
		  "\"password\":\"12345678\",\"note\":\"ok here\","
		  "\"project_id\":\"0b4ad4a2-2e2b-4f5e-9c35-8c1a6d1e2f3a\","
		  "\"ids\":[\"0b4ad4a2-2e2b-4f5e-9c35-8c1a6d1e2f3a\"],\"timeout_seconds\":10800,"
		  "\"use_inference\":true,\"requirements\":{\"labels\":[\"a\",\"bb\"],\"gpus\":0},"
		  "\"extra\":{\"whatever\":[1,2]},\"anything\":[null]}", 0, NULL },
	};
	/* clang-format on */

	RUN_CASES(c);
}

static void
test_types(void)
{
	/* clang-format off */
	static const struct jcase c[] = {
		{ &body, "{\"prompt\":5}", -1, "prompt must be a non-empty string" },
		{ &body, "{\"prompt\":\"\"}", -1, "prompt must be a non-empty string" },
		{ &body, "{\"prompt\":null}", -1, "prompt must be a non-empty string" },
		{ &body, "{\"prompt\":\"x\",\"input_mode\":\"shell\"}", -1,
		  "input_mode must be one of prompt, script, commands" },
		{ &body, "{\"prompt\":\"x\",\"input_mode\":3}", -1,
		  "input_mode must be one of prompt, script, commands" },
		{ &body, "{\"prompt\":\"x\",\"task_name\":\"123456789012345678901\"}", -1,
		  "task_name must be a string of at most 20 bytes" },
		{ &body, "{\"prompt\":\"x\",\"task_name\":null}", -1,
		  "task_name must be a string of at most 20 bytes" },
		{ &body, "{\"prompt\":\"x\",\"password\":\"short\"}", -1,
		  "password must be a string of 8 to 64 bytes" },
		{ &body, "{\"prompt\":\"x\",\"note\":\"a\\tb\"}", -1,
		  "note must be a non-empty string of at most 10 bytes without control "
		  "characters" },
		{ &body, "{\"prompt\":\"x\",\"project_id\":\"nope\"}", -1,
		  "project_id must be a UUID" },
		{ &body, "{\"prompt\":\"x\",\"ids\":[]}", -1, "ids must be a non-empty array" },
		{ &body, "{\"prompt\":\"x\",\"ids\":{}}", -1, "ids must be a non-empty array" },
		{ &body, "{\"prompt\":\"x\",\"ids\":[\"0b4ad4a2-2e2b-4f5e-9c35-8c1a6d1e2f3a\",7]}",
		  -1, "ids[1] must be a UUID" },
		{ &body, "{\"prompt\":\"x\",\"timeout_seconds\":0}", -1,
		  "timeout_seconds must be an integer from 1 to 10800" },
		{ &body, "{\"prompt\":\"x\",\"timeout_seconds\":10801}", -1,
		  "timeout_seconds must be an integer from 1 to 10800" },
		{ &body, "{\"prompt\":\"x\",\"timeout_seconds\":1.5}", -1,
		  "timeout_seconds must be an integer from 1 to 10800" },
		{ &body, "{\"prompt\":\"x\",\"timeout_seconds\":\"5\"}", -1,
		  "timeout_seconds must be an integer from 1 to 10800" },
		{ &body, "{\"prompt\":\"x\",\"use_inference\":\"yes\"}", -1,
		  "use_inference must be true or false" },
		{ &body, "{\"prompt\":\"x\",\"requirements\":[]}", -1,
		  "requirements must be an object" },
		{ &body, "{\"prompt\":\"x\",\"extra\":\"x\"}", -1, "extra must be an object" },
	};
	/* clang-format on */

	RUN_CASES(c);
}

static void
test_nested(void)
{
	/* clang-format off */
	static const struct jcase c[] = {
		{ &body, "{\"prompt\":\"x\",\"requirements\":{\"labels\":[\"a\",\"\"]}}", -1,
		  "requirements.labels[1] must be a non-empty string of at most 8 bytes" },
		{ &body,
		  "{\"prompt\":\"x\",\"requirements\":{\"labels\":[\"a\",\"b\",\"c\",\"d\"]}}", -1,
		  "requirements.labels must be an array of at most 3 items" },
		{ &body, "{\"prompt\":\"x\",\"requirements\":{\"gpus\":17}}", -1,
		  "requirements.gpus must be an integer from 0 to 16" },
		{ &body, "{\"prompt\":\"x\",\"requirements\":{\"gpu\":1}}", -1,
		  "unknown field 'requirements.gpu' (known: labels, gpus)" },
	};
	/* clang-format on */

	RUN_CASES(c);
}

static void
test_required_and_unknown(void)
{
	/* clang-format off */
	static const struct jcase c[] = {
		{ &body, "{}", -1, "prompt is required" },
		/* An unknown field is reported before a missing one: it is usually the same. */
		{ &body, "{\"promt\":\"x\"}", -1,
		  "unknown field 'promt' (known: prompt, input_mode, task_name, password, note, "
		  "project_id, ids, timeout_seconds, use_inference, requirements, extra, "
		  "anything)" },
		{ &none, "{}", 0, NULL },
		{ &none, "{\"a\":1}", -1, "unknown field 'a' (it takes no fields)" },
		{ &body, "[]", -1, "the value must be an object" },
	};
	/* clang-format on */

	RUN_CASES(c);
}

static void
test_open(void)
{
	static const struct jcase c[] = {
		{ &open_obj, "{\"n\":1,\"new_field\":{\"x\":[1]}}", 0, NULL },
		{ &open_obj, "{\"n\":10,\"new_field\":1}", -1, "n must be an integer from 0 to 9" },
	};

	RUN_CASES(c);
}

static void
test_version(void)
{
	/* clang-format off */
	static const struct jcase c[] = {
		{ &report, "{\"version\":1,\"slug\":\"a\"}", 0, NULL },
		{ &closed, "{\"version\":1}", 0, NULL },
		{ &report, "{\"version\":2,\"slug\":5}", -2,
		  "unsupported capability report version 2; supported versions: 1" },
		{ &report, "{\"slug\":\"a\"}", -2,
		  "unsupported capability report version (none); supported versions: 1" },
		{ &report, "{\"version\":\"1\"}", -2,
		  "unsupported capability report version \"1\"; supported versions: 1" },
		{ &report, "{\"version\":1}", -1, "slug is required" },
	};
	/* clang-format on */

	RUN_CASES(c);
}

static void
test_long_names(void)
{
	struct cy_buf text = CY_BUF_INIT, want = CY_BUF_INIT;
	size_t i;

	/* A long unknown name is cut on a character boundary (é is two bytes). */
	cy_buf_addstr(&text, "{\"prompt\":\"x\",\"");
	for (i = 0; i < 100; i++)
		cy_buf_addstr(&text, "\xc3\xa9");
	cy_buf_addstr(&text, "\":1}");
	cy_buf_addstr(&want, "unknown field '");
	for (i = 0; i < 64; i++)
		cy_buf_addstr(&want, "\xc3\xa9");
	cy_buf_addstr(&want,
	    "...' (known: prompt, input_mode, task_name, password, note, "
	    "project_id, ids, timeout_seconds, use_inference, requirements, extra, anything)");
	check(&body, text.buf, -1, want.buf);
	cy_buf_release(&text);
	cy_buf_release(&want);
	/* Control characters of a name do not reach the message. */
	check(&open_obj, "{\"n\":1,\"a\\nb\":1}", 0, NULL);
	check(&none, "{\"a\\nb\\u001b[31m\":1}", -1,
	    "unknown field 'a?b?[31m' (it takes no fields)");
}

/* The tables as JSON Schema (lib/jcheck-schema.c), compared as compact sorted text. */
static void
schema_is(const struct cy_jcheck *spec, const char *want, const char *name)
{
	json_t *s = cy_jcheck_schema(spec);
	char *got = json_dumps(s, JSON_COMPACT | JSON_SORT_KEYS);

	is_str(got, want, name);
	free(got);
	json_decref(s);
}

static void
test_schema(void)
{
	schema_is(&none, "{\"additionalProperties\":false,\"properties\":{},\"type\":\"object\"}",
	    "no fields: a closed empty object");
	schema_is(&open_obj,
	    "{\"properties\":{\"n\":{\"maximum\":9,\"minimum\":0,\"type\":\"integer\"}},"
	    "\"type\":\"object\"}",
	    "an open object has no additionalProperties");
	schema_is(&report,
	    "{\"additionalProperties\":false,\"properties\":{\"slug\":{\"type\":\"string\"},"
	    "\"version\":{\"const\":1}},\"required\":[\"version\",\"slug\"],\"type\":\"object\"}",
	    "a versioned payload: version is a required const");
	schema_is(&req_members,
	    "{\"additionalProperties\":false,\"properties\":{\"gpus\":{\"maximum\":16,"
	    "\"minimum\":0,\"type\":[\"integer\",\"null\"]},\"labels\":{\"items\":{"
	    "\"description\":\"lengths count UTF-8 bytes\",\"maxLength\":8,\"minLength\":1,"
	    "\"type\":\"string\"},\"maxItems\":3,\"type\":[\"array\",\"null\"]}},"
	    "\"type\":\"object\"}",
	    "null_ok members may be null; array items and bounds");
	{
		json_t *s = cy_jcheck_schema(&body), *p = json_object_get(s, "properties");
		char *t;

		t = json_dumps(json_object_get(p, "input_mode"), JSON_COMPACT | JSON_SORT_KEYS);
		is_str(t,
		    "{\"enum\":[\"prompt\",\"script\",\"commands\",null],"
		    "\"type\":[\"string\",\"null\"]}",
		    "choices are an enum");
		free(t);
		t = json_dumps(json_object_get(p, "project_id"), JSON_COMPACT | JSON_SORT_KEYS);
		is_str(t, "{\"description\":\"a UUID\",\"format\":\"uuid\",\"type\":\"string\"}",
		    "a UUID row has format uuid");
		free(t);
		t = json_dumps(json_object_get(p, "note"), JSON_COMPACT | JSON_SORT_KEYS);
		is_str(t,
		    "{\"description\":\"lengths count UTF-8 bytes; no control characters\","
		    "\"maxLength\":10,\"minLength\":1,\"type\":\"string\"}",
		    "printable strings say so");
		free(t);
		ok(json_is_object(json_object_get(p, "anything")) &&
			json_object_size(json_object_get(p, "anything")) == 0,
		    "ANY is the empty schema");
		is_str(json_string_value(json_object_get(json_object_get(p, "extra"), "type")),
		    "object", "an object without rows is any object");
		t = json_dumps(json_object_get(s, "required"), JSON_COMPACT);
		is_str(t, "[\"prompt\"]", "required lists the required rows");
		free(t);
		json_decref(s);
	}
}

int
main(void)
{
	RUN_TEST(test_good);
	RUN_TEST(test_types);
	RUN_TEST(test_nested);
	RUN_TEST(test_required_and_unknown);
	RUN_TEST(test_open);
	RUN_TEST(test_version);
	RUN_TEST(test_long_names);
	RUN_TEST(test_schema);
	return tap_done();
}
