/*
 * -o yaml: the JSON value a command would print, written as one YAML
 * document by libyaml's emitter (block style, keys in the JSON's order).
 * A string that a YAML reader could take for something else (empty, a
 * number, a date, true/yes/on, null, ~) is double-quoted; a string holding
 * a newline is a literal block (|) when libyaml allows it, so a job's
 * output reads as it was written.  Parsed back, the document is the JSON
 * value again (tests/cynork/output.bats compares them).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "alloc.h"
#include "cynork.h"
#include "banned.h"

/* True when the plain scalar s would not read back as the string s. */
static bool
needs_quotes(const char *s)
{
	static const char *const words[] = { "y", "n", "yes", "no", "on", "off", "true", "false",
		"null", "~", NULL };
	size_t i;

	if (!*s || isdigit((unsigned char)*s) || strchr("+-.", *s))
		return true;
	for (i = 0; words[i]; i++)
		if (strcasecmp(s, words[i]) == 0)
			return true;
	return false;
}

static int
emit_scalar(yaml_emitter_t *em, const char *s, size_t len, bool string)
{
	yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
	yaml_event_t ev;

	if (string && needs_quotes(s))
		style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	else if (string && memchr(s, '\n', len))
		style = YAML_LITERAL_SCALAR_STYLE;
	if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)len, 1, 1, style))
		return -1;
	return yaml_emitter_emit(em, &ev) ? 0 : -1;
}

static int
emit_value(yaml_emitter_t *em, const json_t *v)
{
	yaml_event_t ev;
	const char *key;
	json_t *item;
	char num[64];
	size_t i;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
			YAML_BLOCK_MAPPING_STYLE) ||
		    !yaml_emitter_emit(em, &ev))
			return -1;
		json_object_foreach((json_t *)v, key, item) {
			if (emit_scalar(em, key, strlen(key), true) < 0 || emit_value(em, item) < 0)
				return -1;
		}
		if (!yaml_mapping_end_event_initialize(&ev) || !yaml_emitter_emit(em, &ev))
			return -1;
		return 0;
	case JSON_ARRAY:
		if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
			YAML_BLOCK_SEQUENCE_STYLE) ||
		    !yaml_emitter_emit(em, &ev))
			return -1;
		json_array_foreach(v, i, item) {
			if (emit_value(em, item) < 0)
				return -1;
		}
		if (!yaml_sequence_end_event_initialize(&ev) || !yaml_emitter_emit(em, &ev))
			return -1;
		return 0;
	case JSON_STRING:
		return emit_scalar(em, json_string_value(v), json_string_length(v), true);
	case JSON_INTEGER:
		xsnprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return emit_scalar(em, num, strlen(num), false);
	case JSON_REAL:
		/* Always with a '.' or an exponent: it reads back as a float. */
		/* The shortest of 15 or 17 digits that reads back as the same double. */
		xsnprintf(num, sizeof(num), "%.15g", json_real_value(v));
		if (strtod(num, NULL) != json_real_value(v))
			xsnprintf(num, sizeof(num), "%.17g", json_real_value(v));
		if (!strpbrk(num, ".eEn"))
			xsnprintf(num + strlen(num), sizeof(num) - strlen(num), ".0");
		return emit_scalar(em, num, strlen(num), false);
	case JSON_TRUE:
		return emit_scalar(em, "true", 4, false);
	case JSON_FALSE:
		return emit_scalar(em, "false", 5, false);
	case JSON_NULL:
		return emit_scalar(em, "null", 4, false);
	}
	return -1;
}

int
yaml_dump(FILE *f, const json_t *v)
{
	yaml_emitter_t em;
	yaml_event_t ev;
	int rc = -1;

	if (!yaml_emitter_initialize(&em))
		return -1;
	yaml_emitter_set_output_file(&em, f);
	yaml_emitter_set_unicode(&em, 1);
	yaml_emitter_set_width(&em, -1);
	yaml_emitter_set_indent(&em, 2);
	if (yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) &&
	    yaml_emitter_emit(&em, &ev) &&
	    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) &&
	    yaml_emitter_emit(&em, &ev) && emit_value(&em, v) == 0 &&
	    yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&em, &ev) &&
	    yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&em, &ev) &&
	    yaml_emitter_flush(&em))
		rc = 0;
	yaml_emitter_delete(&em);
	return rc;
}
