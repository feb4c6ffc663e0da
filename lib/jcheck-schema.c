/*
 * A jcheck table as JSON Schema (draft 2020-12, what OpenAPI 3.1 uses):
 * the request bodies of the OpenAPI documents (api/) are checked against
 * the tables the server really applies (cynode-server --route-bodies,
 * tests/openapi-check).  What a table cannot say in JSON Schema words (a
 * shape checked by a function) goes into the description; string bounds
 * count bytes, which the description says too.
 */
#include <jansson.h>
#include <string.h>

#include "buf.h"
#include "id.h"
#include "jcheck.h"

#include "banned.h"

static json_t *field_schema(const struct cy_jcheck_field *f, bool nullable);

/* {"type": t} or {"type": [t, "null"]}. */
static json_t *
typed(const char *t, bool nullable)
{
	if (!nullable)
		return json_pack("{s:s}", "type", t);
	return json_pack("{s:[s,s]}", "type", t, "null");
}

/* A string row: bounds, choices, shape. */
static json_t *
string_schema(const struct cy_jcheck_field *f, bool nullable)
{
	json_t *s = typed("string", nullable), *e;
	const char *const *c;
	struct cy_buf d = CY_BUF_INIT;

	if (f->choices) {
		e = json_array();
		for (c = f->choices; *c; c++)
			json_array_append_new(e, json_string(*c));
		if (nullable)
			json_array_append_new(e, json_null());
		json_object_set_new(s, "enum", e);
	}
	if (f->valid == cy_uuid_valid)
		json_object_set_new(s, "format", json_string("uuid"));
	if (f->min > 0)
		json_object_set_new(s, "minLength", json_integer(f->min));
	if (f->max > 0)
		json_object_set_new(s, "maxLength", json_integer(f->max));
	if (f->shape)
		cy_buf_addstr(&d, f->shape);
	if (f->max > 0 || f->min > 1)
		cy_buf_addf(&d, "%s%s", d.len ? "; " : "", "lengths count UTF-8 bytes");
	if (f->printable)
		cy_buf_addf(&d, "%s%s", d.len ? "; " : "", "no control characters");
	if (d.len)
		json_object_set_new(s, "description", json_string(d.buf));
	cy_buf_release(&d);
	return s;
}

json_t *
cy_jcheck_schema(const struct cy_jcheck *spec)
{
	json_t *s = json_pack("{s:s}", "type", "object"), *props = json_object(),
	       *req = json_array();
	const struct cy_jcheck_field *f;

	if (spec->version > 0) {
		json_object_set_new(props, "version", json_pack("{s:i}", "const", spec->version));
		json_array_append_new(req, json_string("version"));
	}
	for (f = spec->fields; f && f->name; f++) {
		/* A required member that is null is missing: null only for optional ones. */
		json_object_set_new(props, f->name, field_schema(f, f->null_ok && !f->required));
		if (f->required)
			json_array_append_new(req, json_string(f->name));
	}
	json_object_set_new(s, "properties", props);
	if (json_array_size(req))
		json_object_set_new(s, "required", req);
	else
		json_decref(req);
	if (!spec->open)
		json_object_set_new(s, "additionalProperties", json_false());
	return s;
}

static json_t *
field_schema(const struct cy_jcheck_field *f, bool nullable)
{
	json_t *s = NULL;

	switch (f->type) {
	case CY_JC_ANY:
		return json_object();
	case CY_JC_BOOL:
		return typed("boolean", nullable);
	case CY_JC_INT:
		s = typed("integer", nullable);
		json_object_set_new(s, "minimum", json_integer(f->min));
		json_object_set_new(s, "maximum", json_integer(f->max));
		return s;
	case CY_JC_STRING:
		return string_schema(f, nullable);
	case CY_JC_ARRAY:
		s = typed("array", nullable);
		if (f->min > 0)
			json_object_set_new(s, "minItems", json_integer(f->min));
		if (f->max > 0)
			json_object_set_new(s, "maxItems", json_integer(f->max));
		if (f->item)
			json_object_set_new(s, "items", field_schema(f->item, f->item->null_ok));
		return s;
	case CY_JC_OBJECT:
		if (!f->sub)
			return typed("object", nullable);
		s = cy_jcheck_schema(f->sub);
		if (nullable)
			json_object_set_new(s, "type", json_pack("[s,s]", "object", "null"));
		return s;
	}
	return json_object();
}
