/*
 * Table-driven checks of JSON objects: request bodies (a route's body
 * table, applied by cy_req_json in lib/httpd.c), pushed configuration
 * documents, capability reports.  An object is described by rows, one per
 * member: its type, whether it is required, its bounds (the value of an
 * integer, the bytes of a string, the items of an array), the choices or
 * the shape of a string, the rows of a sub-object.  A member the rows do
 * not name is an error unless the object is open.  The first thing wrong
 * is reported as one sentence naming its JSON path:
 *
 *	task_name must be a string of at most 200 bytes
 *	requirements.labels[2] must be a non-empty string of at most 128 bytes
 *	unknown field 'promt' (known: prompt, input_mode, task_name, ...)
 *	timeout_seconds must be an integer from 1 to 10800
 *	prompt is required
 *
 * The order is fixed: the payload version (objects that carry one), then
 * members no row names, then the rows in table order.
 */
#ifndef CY_JCHECK_H
#define CY_JCHECK_H

#include <jansson.h>
#include <stdbool.h>

#include "buf.h"

enum cy_jcheck_type {
	CY_JC_ANY, /* any value (the handler checks it) */
	CY_JC_BOOL,
	CY_JC_INT,    /* an integer from min to max */
	CY_JC_STRING, /* min to max bytes (max 0: no limit); never a NUL byte */
	CY_JC_ARRAY,  /* min to max items (max 0: no limit), each as `item` says */
	CY_JC_OBJECT, /* members as `sub` says (NULL: any object) */
};

struct cy_jcheck;

/* One member of an object (or, as an array's `item`, each item: no name). */
struct cy_jcheck_field {
	const char *name; /* NULL ends a table */
	enum cy_jcheck_type type;
	bool required;
	bool null_ok;                       /* null stands for absent */
	long long min, max;                 /* see the types */
	bool printable;                     /* STRING: no control characters */
	const char *const *choices;         /* STRING: one of these (NULL-terminated) */
	bool (*valid)(const char *s);       /* STRING: its shape ... */
	const char *shape;                  /* ... in words for messages ("a UUID"); with or
					     * without valid, it replaces the bounds there */
	const struct cy_jcheck_field *item; /* ARRAY: each item; NULL: anything */
	const struct cy_jcheck *sub;        /* OBJECT: its members */
};

/* An object: its member rows, and what it does with others. */
struct cy_jcheck {
	const struct cy_jcheck_field *fields; /* CY_JCHECK_ROWS(...); NULL: none */
	bool open;                            /* members no row names are accepted and left alone */
	/*
	 * When > 0 the object carries "version": this integer, checked before
	 * anything else (contract section 1, Versioning): the rows describe
	 * that version only.  `what` names the payload in messages.
	 */
	int version;
	const char *what;
};

/*
 * The rows of an object, ended by the row without a name that
 * struct cy_jcheck wants:
 *
 *	.fields = CY_JCHECK_ROWS(
 *		{ .name = "prompt", .type = CY_JC_STRING, .required = true, .min = 1 },
 *		{ .name = "wait", .type = CY_JC_INT, .min = 0, .max = 60 }),
 */
#define CY_JCHECK_ROWS(...) ((const struct cy_jcheck_field[]){ __VA_ARGS__, { 0 } })

/* What cy_jcheck() found. */
enum cy_jcheck_result {
	CY_JCHECK_OK = 0,
	CY_JCHECK_INVALID = -1, /* a member is missing, unknown or wrong */
	CY_JCHECK_VERSION = -2, /* a payload version other than the one described */
};

/*
 * Checks the object v against spec.  CY_JCHECK_OK, or a negative
 * cy_jcheck_result with one sentence in why (appended) naming the JSON path
 * of what is wrong and what is expected.
 */
int cy_jcheck(const json_t *v, const struct cy_jcheck *spec, struct cy_buf *why);

/*
 * The object spec as a JSON Schema (draft 2020-12, OpenAPI 3.1's dialect;
 * lib/jcheck-schema.c): a new reference.
 */
json_t *cy_jcheck_schema(const struct cy_jcheck *spec);

#endif
