/*
 * JSON helpers over jansson: parsing with readable error messages, typed
 * field access that tolerates absent keys and wrong types, dotted-path
 * lookup, and compact or pretty serialisation.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "error.h"
#include "json.h"

#include "banned.h"

json_t *
cy_json_parse(const char *data, size_t len, bool want_object, struct cy_error *err)
{
	json_error_t jerr;
	json_t *v;

	if (data == NULL) {
		cy_error_set(err, 0, "invalid JSON: no data");
		return NULL;
	}
	v = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (v == NULL) {
		if (jerr.line > 0)
			cy_error_set(err, 0, "invalid JSON at line %d column %d: %s", jerr.line,
			    jerr.column, jerr.text);
		else
			cy_error_set(err, 0, "invalid JSON: %s", jerr.text);
		return NULL;
	}
	if (want_object && !json_is_object(v)) {
		json_decref(v);
		cy_error_set(err, 0, "invalid JSON: expected an object");
		return NULL;
	}
	return v;
}

const char *
cy_json_str(const json_t *obj, const char *key)
{
	json_t *v;

	if (!json_is_object(obj) || key == NULL)
		return NULL;
	v = json_object_get(obj, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

json_t *
cy_json_path(const json_t *obj, const char *path)
{
	json_t *cur = (json_t *)obj;
	const char *p = path, *dot;
	char key[256];
	size_t n;

	if (obj == NULL || path == NULL)
		return NULL;
	for (;;) {
		if (!json_is_object(cur))
			return NULL;
		dot = strchr(p, '.');
		n = dot ? (size_t)(dot - p) : strlen(p);
		if (n == 0 || n >= sizeof(key))
			return NULL;
		memcpy(key, p, n);
		key[n] = '\0';
		cur = json_object_get(cur, key);
		if (cur == NULL)
			return NULL;
		if (dot == NULL)
			return cur;
		p = dot + 1;
	}
}

const char *
cy_json_path_str(const json_t *obj, const char *path)
{
	json_t *v = cy_json_path(obj, path);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

int
cy_json_int(const json_t *obj, const char *key, long long *out)
{
	json_t *v;
	double d;

	if (!json_is_object(obj) || key == NULL)
		return -1;
	v = json_object_get(obj, key);
	if (json_is_integer(v)) {
		if (out)
			*out = (long long)json_integer_value(v);
		return 0;
	}
	if (json_is_real(v)) {
		/* Accept 5.0 but not 5.5 or values beyond the range of long long. */
		d = json_real_value(v);
		if (d != d || d < -9.2e18 || d > 9.2e18 || d != (double)(long long)d)
			return -1;
		if (out)
			*out = (long long)d;
		return 0;
	}
	return -1;
}

bool
cy_json_bool(const json_t *obj, const char *key, bool def)
{
	json_t *v;

	if (!json_is_object(obj) || key == NULL)
		return def;
	v = json_object_get(obj, key);
	if (!json_is_boolean(v))
		return def;
	return json_is_true(v);
}

/* A UTF-8 continuation byte (10xxxxxx). */
static bool
utf8_cont(const char *s, size_t i)
{
	return ((unsigned char)s[i] & 0xC0) == 0x80;
}

/*
 * The length of the UTF-8 character at p[0..n): 1-4, 0 when the bytes
 * there are no valid character, -1 when they are the start of one that
 * n cuts short.
 */
static int
utf8_char(const unsigned char *p, size_t n)
{
	size_t k, len;
	unsigned long cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	for (k = 1; k < len; k++) {
		if (k == n)
			return -1;
		if ((p[k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[k] & 0x3f);
		/* Overlong forms, UTF-16 surrogates and code points past U+10FFFF. */
		if (k == 1 &&
		    ((len == 3 && cp < 0x20) || (len == 4 && cp < 0x10) ||
			(len == 3 && cp >= 0x360 && cp <= 0x37f) || (len == 4 && cp > 0x10f)))
			return 0;
	}
	return (int)len;
}

bool
cy_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	int len;

	while (i < n) {
		if ((len = utf8_char(p + i, n - i)) <= 0)
			return false;
		i += (size_t)len;
	}
	return true;
}

size_t
cy_utf8_sanitize(const char *s, size_t n, bool final, struct cy_buf *out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0;
	int len;

	while (i < n) {
		len = p[i] ? utf8_char(p + i, n - i) : 0;
		if (len < 0 && !final)
			break;
		if (len > 0) {
			i += (size_t)len;
			continue;
		}
		cy_buf_add(out, s + run, i - run);
		cy_buf_addstr(out, "\xef\xbf\xbd"); /* U+FFFD */
		run = ++i;
	}
	cy_buf_add(out, s + run, i - run);
	return i;
}

void
cy_utf8_window(const char *s, size_t n, size_t off, size_t max, size_t *start, size_t *end)
{
	size_t a = off < n ? off : n, b;

	while (a < n && utf8_cont(s, a))
		a++;
	b = n - a > max ? a + max : n;
	while (b > a && b < n && utf8_cont(s, b))
		b--;
	if (b == a && a < n) {
		/* max is smaller than the character at a: take that one. */
		b = a + 1;
		while (b < n && utf8_cont(s, b))
			b++;
	}
	*start = a;
	*end = b;
}

char *
cy_json_dump(const json_t *v)
{
	/* jansson allocates with malloc(), so callers release with free(). */
	char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);

	return s ? s : xstrdup("null");
}

char *
cy_json_dump_pretty(const json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	char *res;

	if (s == NULL)
		return xstrdup("null\n");
	res = xasprintf("%s\n", s);
	free(s);
	return res;
}

void
cy_json_wipe(json_t *v)
{
	const char *k;
	json_t *e;
	size_t i;

	if (json_is_string(v)) {
		/* jansson owns the bytes; nothing reads them once v is wiped. */
		explicit_bzero((char *)json_string_value(v), json_string_length(v));
	} else if (json_is_object(v)) {
		json_object_foreach(v, k, e)
			cy_json_wipe(e);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, e)
			cy_json_wipe(e);
	}
}
