/*
 * Checking JSON objects against tables of member rows (jcheck.h): one walk
 * over the value that keeps the JSON path of where it is, and stops at the
 * first thing wrong with one sentence naming that path.
 */
#include <stdlib.h>
#include <string.h>

#include "jcheck.h"
#include "json.h"
#include "banned.h"

/* Bytes of a member name (or a path) shown in a message; longer ones are cut. */
#define SHOWN_MAX 128

/* The state of one check: where it is, and where the message goes. */
struct walk {
	struct cy_buf path; /* "requirements.labels[2]"; "" at the top */
	struct cy_buf *why;
};

/*
 * Appends a member name: cut on a character boundary after max bytes (with
 * "..."), control characters shown as '?' (messages reach terminals and logs).
 */
static void
add_name(struct cy_buf *b, const char *s, size_t max)
{
	size_t n = strlen(s), start, end, i, from = b->len;

	if (n <= max || !cy_utf8_valid(s, n)) {
		cy_buf_add(b, s, n <= max ? n : max);
	} else {
		cy_utf8_window(s, n, 0, max, &start, &end);
		cy_buf_add(b, s, end);
		cy_buf_addstr(b, "...");
	}
	for (i = from; i < b->len; i++)
		if ((unsigned char)b->buf[i] < ' ' || b->buf[i] == 0x7f)
			b->buf[i] = '?';
}

/* Descends into member `key` (or item `index` when key is NULL); returns the old length. */
static size_t
path_push(struct walk *w, const char *key, size_t index)
{
	size_t len = w->path.len;

	if (!key) {
		cy_buf_addf(&w->path, "[%zu]", index);
		return len;
	}
	if (len)
		cy_buf_addch(&w->path, '.');
	add_name(&w->path, key, SHOWN_MAX);
	return len;
}

/* Appends "a string", "a non-empty array", "a string of 8 to 64 bytes", ... */
static void
add_sized(struct cy_buf *b, const char *article, const char *noun, const char *unit, long long min,
    long long max)
{
	if (min == 1)
		cy_buf_addf(b, "a non-empty %s", noun);
	else
		cy_buf_addf(b, "%s %s", article, noun);
	if (min > 1 && max > 0)
		cy_buf_addf(b, " of %lld to %lld %s", min, max, unit);
	else if (min > 1)
		cy_buf_addf(b, " of at least %lld %s", min, unit);
	else if (max > 0)
		cy_buf_addf(b, " of at most %lld %s", max, unit);
}

/* Appends a list of words: "a, b, c". */
static void
add_list(struct cy_buf *b, const char *const *words)
{
	const char *const *c;

	for (c = words; *c; c++)
		cy_buf_addf(b, "%s%s", c == words ? "" : ", ", *c);
}

/* Appends what a value of row f must be ("an integer from 1 to 10"). */
static void
add_expected(struct cy_buf *b, const struct cy_jcheck_field *f)
{
	switch (f->type) {
	case CY_JC_ANY:
		cy_buf_addstr(b, "a JSON value");
		break;
	case CY_JC_BOOL:
		cy_buf_addstr(b, "true or false");
		break;
	case CY_JC_INT:
		cy_buf_addf(b, "an integer from %lld to %lld", f->min, f->max);
		break;
	case CY_JC_OBJECT:
		cy_buf_addstr(b, "an object");
		break;
	case CY_JC_ARRAY:
		add_sized(b, "an", "array", "items", f->min, f->max);
		break;
	case CY_JC_STRING:
		if (f->shape) {
			cy_buf_addstr(b, f->shape);
		} else if (f->choices) {
			cy_buf_addstr(b, "one of ");
			add_list(b, f->choices);
		} else {
			add_sized(b, "a", "string", "bytes", f->min, f->max);
			if (f->printable)
				cy_buf_addstr(b, " without control characters");
		}
		break;
	}
}

/* "<path> must be <expected>"; returns CY_JCHECK_INVALID. */
static int
must_be(struct walk *w, const struct cy_jcheck_field *f)
{
	cy_buf_addf(w->why, "%s must be ", w->path.buf);
	add_expected(w->why, f);
	return CY_JCHECK_INVALID;
}

/* True when the string value v fits row f. */
static bool
string_ok(const json_t *v, const struct cy_jcheck_field *f)
{
	const char *s = json_string_value(v);
	const char *const *c;
	size_t i, n;

	if (!s || (n = json_string_length(v)) != strlen(s))
		return false;
	if ((long long)n < f->min || (f->max > 0 && (long long)n > f->max))
		return false;
	for (i = 0; f->printable && i < n; i++)
		if ((unsigned char)s[i] < ' ' || s[i] == 0x7f)
			return false;
	if (f->choices) {
		for (c = f->choices; *c && strcmp(*c, s); c++)
			;
		if (!*c)
			return false;
	}
	return !f->valid || f->valid(s);
}

static int check_value(struct walk *w, const json_t *v, const struct cy_jcheck_field *f);

/*
 * Checks the value v of row f at member key (or at item index when key is
 * NULL) of the walk's path; a NULL v is a required member that is missing.
 */
static int
check_at(struct walk *w, const char *key, size_t index, const json_t *v,
    const struct cy_jcheck_field *f)
{
	size_t len = path_push(w, key, index);
	int rc = CY_JCHECK_INVALID;

	if (v)
		rc = check_value(w, v, f);
	else
		cy_buf_addf(w->why, "%s is required", w->path.buf);
	cy_buf_setlen(&w->path, len);
	return rc;
}

/* Checks the array v of row f: its size, then each item. */
static int
check_array(struct walk *w, const json_t *v, const struct cy_jcheck_field *f)
{
	size_t i, n = json_array_size(v);
	json_t *e;
	int rc;

	if (!json_is_array(v) || (long long)n < f->min || (f->max > 0 && (long long)n > f->max))
		return must_be(w, f);
	if (!f->item)
		return CY_JCHECK_OK;
	json_array_foreach(v, i, e)
		if (!(json_is_null(e) && f->item->null_ok) &&
		    (rc = check_at(w, NULL, i, e, f->item)) != CY_JCHECK_OK)
			return rc;
	return CY_JCHECK_OK;
}

/* The version check of a versioned object: 0, or CY_JCHECK_VERSION with why filled. */
static int
check_version(struct walk *w, const json_t *o, const struct cy_jcheck *spec)
{
	json_t *v = json_object_get(o, "version");
	char *got;

	if (json_is_integer(v) && json_integer_value(v) == spec->version)
		return CY_JCHECK_OK;
	got = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
	cy_buf_addf(w->why, "unsupported %s version ", spec->what ? spec->what : "payload");
	add_name(w->why, got ? got : "(none)", 40);
	cy_buf_addf(w->why, "; supported versions: %d", spec->version);
	free(got);
	return CY_JCHECK_VERSION;
}

/* True when a row of spec (or its version) names member key. */
static bool
known(const struct cy_jcheck *spec, const char *key)
{
	const struct cy_jcheck_field *f;

	for (f = spec->fields; f && f->name; f++)
		if (strcmp(f->name, key) == 0)
			return true;
	return spec->version > 0 && strcmp(key, "version") == 0;
}

/* "unknown field '<path>' (known: a, b)"; returns CY_JCHECK_INVALID. */
static int
unknown(struct walk *w, const struct cy_jcheck *spec, const char *key)
{
	const struct cy_jcheck_field *f;
	size_t len = path_push(w, key, 0);

	cy_buf_addf(w->why, "unknown field '%s' (", w->path.buf);
	cy_buf_setlen(&w->path, len);
	if (!spec->fields || !spec->fields->name) {
		cy_buf_addstr(w->why, "it takes no fields)");
		return CY_JCHECK_INVALID;
	}
	cy_buf_addstr(w->why, "known: ");
	for (f = spec->fields; f->name; f++)
		cy_buf_addf(w->why, "%s%s", f == spec->fields ? "" : ", ", f->name);
	cy_buf_addch(w->why, ')');
	return CY_JCHECK_INVALID;
}

/* Checks the object o: its version, members no row names, then each row. */
static int
check_object(struct walk *w, const json_t *o, const struct cy_jcheck *spec)
{
	const struct cy_jcheck_field *f;
	const char *key;
	json_t *v;
	int rc;

	if (spec->version > 0 && (rc = check_version(w, o, spec)) != 0)
		return rc;
	if (!spec->open)
		json_object_foreach((json_t *)o, key, v)
			if (!known(spec, key))
				return unknown(w, spec, key);
	for (f = spec->fields; f && f->name; f++) {
		v = json_object_get(o, f->name);
		if (v && !(json_is_null(v) && f->null_ok))
			rc = check_at(w, f->name, 0, v, f);
		else
			rc = f->required ? check_at(w, f->name, 0, NULL, f) : CY_JCHECK_OK;
		if (rc)
			return rc;
	}
	return CY_JCHECK_OK;
}

/* Checks the value v of row f (at the walk's path). */
static int
check_value(struct walk *w, const json_t *v, const struct cy_jcheck_field *f)
{
	bool ok = false;

	switch (f->type) {
	case CY_JC_ANY:
		ok = true;
		break;
	case CY_JC_BOOL:
		ok = json_is_boolean(v);
		break;
	case CY_JC_INT:
		ok = json_is_integer(v) && json_integer_value(v) >= f->min &&
		     json_integer_value(v) <= f->max;
		break;
	case CY_JC_STRING:
		ok = string_ok(v, f);
		break;
	case CY_JC_ARRAY:
		return check_array(w, v, f);
	case CY_JC_OBJECT:
		if (!json_is_object(v))
			break;
		return f->sub ? check_object(w, v, f->sub) : CY_JCHECK_OK;
	}
	return ok ? CY_JCHECK_OK : must_be(w, f);
}

int
cy_jcheck(const json_t *v, const struct cy_jcheck *spec, struct cy_buf *why)
{
	struct walk w = { .path = CY_BUF_INIT, .why = why };
	int rc;

	if (!json_is_object(v)) {
		cy_buf_addf(why, "the %s must be an object", spec->what ? spec->what : "value");
		return CY_JCHECK_INVALID;
	}
	rc = check_object(&w, v, spec);
	cy_buf_release(&w.path);
	return rc;
}
