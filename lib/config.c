/*
 * Table-driven configuration over libyaml's event parser (redis
 * static_configs[], tmux options-table.c).  The YAML is walked as a stream of
 * events: nested mappings build dotted paths that must name a table key or a
 * prefix of one; values are checked against the key's type and every error
 * names file:line.  Defaults, environment variables and command-line values go
 * through the same text parser.  Aliases are refused, tags ignored, nesting
 * below free-form objects is limited to CY_CFG_MAX_DEPTH levels.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "alloc.h"
#include "buf.h"
#include "config.h"
#include "json.h"
#include "strnum.h"
#include "timeutil.h"
#include "banned.h"

#define CY_CFG_MAX_DEPTH 32
#define CY_CFG_MAX_FILE (4 * 1024 * 1024)

#define FIELD(target, key, type) ((type *)(void *)((char *)(target) + (key)->offset))
#define CFIELD(target, key, type) \
	((const type *)(const void *)((const char *)(target) + (key)->offset))

/* Parser state for one document. */
struct cfg_load {
	const char *name;
	const char *data;
	size_t len;
	yaml_parser_t parser;
	yaml_event_t ev;
	bool have_ev;
	const struct cy_cfg_key *keys;
	size_t nkeys;
	void *target;
	bool *seen;
	struct cy_error *err;
};

/* ---- small helpers ---- */

void
cy_strlist_free(struct cy_strlist *l)
{
	size_t i;

	if (!l)
		return;
	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

bool
cy_strlist_has(const struct cy_strlist *l, const char *s)
{
	size_t i;

	if (!l || !s)
		return false;
	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return true;
	return false;
}

static void
strlist_push(struct cy_strlist *l, const char *s, size_t n)
{
	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = xstrndup(s, n);
}

static const struct cy_cfg_key *
cfg_find(const struct cy_cfg_key *keys, size_t nkeys, const char *path)
{
	size_t i;

	for (i = 0; i < nkeys; i++)
		if (strcmp(keys[i].path, path) == 0)
			return &keys[i];
	return NULL;
}

/* Whether some table path starts with "path.". */
static bool
cfg_is_prefix(const struct cy_cfg_key *keys, size_t nkeys, const char *path)
{
	size_t i, n = strlen(path);

	for (i = 0; i < nkeys; i++)
		if (strncmp(keys[i].path, path, n) == 0 && keys[i].path[n] == '.')
			return true;
	return false;
}

/* Writes s seconds as "1h30m5s" into out; any long long fits in 64 bytes. */
static void
fmt_duration(long long s, char *out, size_t size)
{
	long long h, m;

	if (s <= 0) {
		xsnprintf(out, size, "%llds", s);
		return;
	}
	h = s / 3600;
	m = (s % 3600) / 60;
	s %= 60;
	/* %.0lld prints nothing for 0: "1h5s", not "1h0m5s". */
	xsnprintf(out, size, "%.0lld%s%.0lld%s%.0lld%s", h, h ? "h" : "", m, m ? "m" : "", s,
	    s ? "s" : "");
}

static int
parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };
	size_t i;

	for (i = 0; i < 3; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

static const char *
type_want(enum cy_cfg_type t)
{
	switch (t) {
	case CY_CFG_STR:
		return "a string";
	case CY_CFG_INT:
		return "an integer";
	case CY_CFG_BOOL:
		return "a boolean";
	case CY_CFG_ENUM:
		return "a string";
	case CY_CFG_DURATION:
		return "a duration";
	case CY_CFG_STRLIST:
		return "a list of strings";
	case CY_CFG_OBJECT:
		return "a mapping";
	}
	return "a value";
}

static int
enum_error(const struct cy_cfg_key *k, const char *origin, struct cy_error *err)
{
	struct cy_buf list = CY_BUF_INIT;
	size_t i;

	for (i = 0; k->choices && k->choices[i]; i++)
		cy_buf_addf(&list, "%s%s", i ? ", " : "", k->choices[i]);
	cy_error_set(err, EINVAL, "%s: '%s' wants one of: %s", origin, k->path, list.buf);
	cy_buf_release(&list);
	return -1;
}

/* Splits "a, b,c" into a list, trimming blanks and dropping empty items. */
static void
split_list(const char *s, struct cy_strlist *out)
{
	const char *p = s;

	while (*p) {
		const char *start, *end;

		while (*p == ' ' || *p == '\t')
			p++;
		start = p;
		while (*p && *p != ',')
			p++;
		end = p;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (end > start)
			strlist_push(out, start, end - start);
		if (*p == ',')
			p++;
	}
}

/* Frees what key `k` owns in target and zeroes it. */
static void
field_clear(const struct cy_cfg_key *k, void *target)
{
	switch (k->type) {
	case CY_CFG_STR:
	case CY_CFG_ENUM:
		FREE_AND_NULL(*FIELD(target, k, char *));
		break;
	case CY_CFG_INT:
	case CY_CFG_DURATION:
		*FIELD(target, k, long long) = 0;
		break;
	case CY_CFG_BOOL:
		*FIELD(target, k, bool) = false;
		break;
	case CY_CFG_STRLIST:
		cy_strlist_free(FIELD(target, k, struct cy_strlist));
		break;
	case CY_CFG_OBJECT: {
		json_t **j = FIELD(target, k, json_t *);

		json_decref(*j);
		*j = NULL;
		break;
	}
	}
}

/*
 * Sets key `k` from text.  `origin` prefixes errors ("FILE:LINE",
 * "environment VAR").  The field keeps its value on error.
 */
static int
field_set_text(const struct cy_cfg_key *k, void *target, const char *value, const char *origin,
    struct cy_error *err)
{
	long long lo = k->min, hi = k->max, v;
	const char *errstr = NULL;
	bool b;
	size_t i;

	switch (k->type) {
	case CY_CFG_STR:
		free(*FIELD(target, k, char *));
		*FIELD(target, k, char *) = xstrdup(value);
		return 0;
	case CY_CFG_ENUM:
		for (i = 0; k->choices && k->choices[i]; i++)
			if (strcmp(value, k->choices[i]) == 0)
				break;
		if (!k->choices || !k->choices[i])
			return enum_error(k, origin, err);
		free(*FIELD(target, k, char *));
		*FIELD(target, k, char *) = xstrdup(value);
		return 0;
	case CY_CFG_INT:
		if (lo == 0 && hi == 0) {
			lo = LLONG_MIN;
			hi = LLONG_MAX;
		}
		if (cy_strtonum(value, lo, hi, &v, &errstr) < 0) {
			if (k->min == 0 && k->max == 0)
				return cy_error_set(err, EINVAL, "%s: '%s' wants an integer",
				    origin, k->path);
			return cy_error_set(err, EINVAL,
			    "%s: '%s' wants an integer between %lld and %lld", origin, k->path, lo,
			    hi);
		}
		*FIELD(target, k, long long) = v;
		return 0;
	case CY_CFG_DURATION:
		if (cy_duration_parse(value, &v) < 0)
			return cy_error_set(err, EINVAL,
			    "%s: '%s' wants a duration such as 30s, 15m or 168h", origin, k->path);
		if ((lo || hi) && (v < lo || v > hi)) {
			char a[64], z[64];

			fmt_duration(lo, a, sizeof(a));
			fmt_duration(hi, z, sizeof(z));
			return cy_error_set(err, ERANGE,
			    "%s: '%s' wants a duration between %s and %s", origin, k->path, a, z);
		}
		*FIELD(target, k, long long) = v;
		return 0;
	case CY_CFG_BOOL:
		if (parse_bool(value, &b) < 0)
			return cy_error_set(err, EINVAL,
			    "%s: '%s' wants a boolean (true/false, yes/no, on/off)", origin,
			    k->path);
		*FIELD(target, k, bool) = b;
		return 0;
	case CY_CFG_STRLIST: {
		struct cy_strlist l = { .v = NULL, .n = 0 };

		split_list(value, &l);
		cy_strlist_free(FIELD(target, k, struct cy_strlist));
		*FIELD(target, k, struct cy_strlist) = l;
		return 0;
	}
	case CY_CFG_OBJECT: {
		struct cy_error jerr = CY_ERROR_INIT;
		json_t *j = cy_json_parse(value, strlen(value), true, &jerr);

		if (!j)
			return cy_error_set(err, EINVAL, "%s: '%s' wants a JSON object: %s", origin,
			    k->path, jerr.msg);
		json_decref(*FIELD(target, k, json_t *));
		*FIELD(target, k, json_t *) = j;
		return 0;
	}
	}
	return cy_error_set(err, EINVAL, "%s: '%s' has an unknown type", origin, k->path);
}

/* ---- YAML event walking ---- */

static size_t
offset_line(const struct cfg_load *ld, size_t off)
{
	size_t i, line = 1;

	if (off > ld->len)
		off = ld->len;
	for (i = 0; i < off; i++)
		if (ld->data[i] == '\n')
			line++;
	return line;
}

static int
ld_yaml_error(struct cfg_load *ld)
{
	yaml_parser_t *p = &ld->parser;
	size_t line;

	if (p->error == YAML_READER_ERROR)
		line = offset_line(ld, p->problem_offset);
	else
		line = p->problem_mark.line + 1;
	if (p->error == YAML_MEMORY_ERROR)
		return cy_error_set(ld->err, ENOMEM, "%s: yaml: out of memory", ld->name);
	if (p->context)
		return cy_error_set(ld->err, EINVAL, "%s:%zu: yaml: %s %s", ld->name, line,
		    p->problem ? p->problem : "syntax error", p->context);
	return cy_error_set(ld->err, EINVAL, "%s:%zu: yaml: %s", ld->name, line,
	    p->problem ? p->problem : "syntax error");
}

static size_t
ev_line(const struct cfg_load *ld)
{
	return ld->ev.start_mark.line + 1;
}

/* Advances to the next event; aliases are refused here. */
static int
ld_next(struct cfg_load *ld)
{
	if (ld->have_ev) {
		yaml_event_delete(&ld->ev);
		ld->have_ev = false;
	}
	if (!yaml_parser_parse(&ld->parser, &ld->ev))
		return ld_yaml_error(ld);
	ld->have_ev = true;
	if (ld->ev.type == YAML_ALIAS_EVENT)
		return cy_error_set(ld->err, EINVAL, "%s:%zu: YAML aliases are not supported",
		    ld->name, ev_line(ld));
	return 0;
}

static const char *
ev_scalar(const struct cfg_load *ld)
{
	return (const char *)ld->ev.data.scalar.value;
}

static bool
ev_is_null(const struct cfg_load *ld)
{
	const char *v = ev_scalar(ld);

	if (ld->ev.type != YAML_SCALAR_EVENT || ld->ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return !*v || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
	       strcmp(v, "NULL") == 0;
}

static bool
has_nul(const struct cfg_load *ld)
{
	return strlen(ev_scalar(ld)) != ld->ev.data.scalar.length;
}

static const char *
ev_kind(const struct cfg_load *ld)
{
	switch (ld->ev.type) {
	case YAML_MAPPING_START_EVENT:
		return "a mapping";
	case YAML_SEQUENCE_START_EVENT:
		return "a list";
	default:
		return "a scalar";
	}
}

/* A plain scalar as JSON: null, boolean, integer, real or string. */
static json_t *
scalar_to_json(const struct cfg_load *ld)
{
	const char *v = ev_scalar(ld);
	const char *errstr;
	long long n;
	char *end;
	double d;

	if (ld->ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return json_stringn(v, ld->ev.data.scalar.length);
	if (ev_is_null(ld))
		return json_null();
	if (strcasecmp(v, "true") == 0)
		return json_true();
	if (strcasecmp(v, "false") == 0)
		return json_false();
	if (cy_strtonum(v, LLONG_MIN, LLONG_MAX, &n, &errstr) == 0)
		return json_integer(n);
	if (strpbrk(v, "0123456789") && !strpbrk(v, "xXpP") && *v != ' ') {
		errno = 0;
		d = strtod(v, &end);
		if (end != v && !*end && errno == 0 && isfinite(d))
			return json_real(d);
	}
	return json_stringn(v, ld->ev.data.scalar.length);
}

/* Converts the value at the current event (and its children) to JSON. */
static int
ld_json(struct cfg_load *ld, int depth, json_t **out)
{
	json_t *j, *v;
	char *key;
	size_t line;

	if (depth > CY_CFG_MAX_DEPTH)
		return cy_error_set(ld->err, EINVAL, "%s:%zu: nesting deeper than %d levels",
		    ld->name, ev_line(ld), CY_CFG_MAX_DEPTH);
	switch (ld->ev.type) {
	case YAML_SCALAR_EVENT:
		*out = scalar_to_json(ld);
		return *out ? 0 :
			      cy_error_set(ld->err, EINVAL, "%s:%zu: invalid string", ld->name,
				  ev_line(ld));
	case YAML_SEQUENCE_START_EVENT:
		j = json_array();
		for (;;) {
			if (ld_next(ld) < 0)
				goto fail;
			if (ld->ev.type == YAML_SEQUENCE_END_EVENT)
				break;
			if (ld_json(ld, depth + 1, &v) < 0)
				goto fail;
			json_array_append_new(j, v);
		}
		*out = j;
		return 0;
	case YAML_MAPPING_START_EVENT:
		j = json_object();
		for (;;) {
			if (ld_next(ld) < 0)
				goto fail;
			if (ld->ev.type == YAML_MAPPING_END_EVENT)
				break;
			line = ev_line(ld);
			if (ld->ev.type != YAML_SCALAR_EVENT || has_nul(ld)) {
				cy_error_set(ld->err, EINVAL,
				    "%s:%zu: mapping keys must be strings", ld->name, line);
				goto fail;
			}
			if (json_object_get(j, ev_scalar(ld))) {
				cy_error_set(ld->err, EINVAL, "%s:%zu: duplicate key '%s'",
				    ld->name, line, ev_scalar(ld));
				goto fail;
			}
			key = xstrdup(ev_scalar(ld));
			if (ld_next(ld) < 0 || ld_json(ld, depth + 1, &v) < 0) {
				free(key);
				goto fail;
			}
			json_object_set_new(j, key, v);
			free(key);
		}
		*out = j;
		return 0;
	default:
		return cy_error_set(ld->err, EINVAL, "%s:%zu: unexpected YAML event", ld->name,
		    ev_line(ld));
	}
fail:
	json_decref(j);
	return -1;
}

/* Reads a sequence of scalars into key k (current event: the value). */
static int
ld_strlist(struct cfg_load *ld, const struct cy_cfg_key *k)
{
	struct cy_strlist l = { .v = NULL, .n = 0 };

	if (ld->ev.type != YAML_SEQUENCE_START_EVENT)
		return cy_error_set(ld->err, EINVAL, "%s:%zu: '%s' wants a list of strings, not %s",
		    ld->name, ev_line(ld), k->path, ev_kind(ld));
	for (;;) {
		if (ld_next(ld) < 0)
			goto fail;
		if (ld->ev.type == YAML_SEQUENCE_END_EVENT)
			break;
		if (ld->ev.type != YAML_SCALAR_EVENT || has_nul(ld)) {
			cy_error_set(ld->err, EINVAL,
			    "%s:%zu: '%s' wants a list of strings, not a list of %s", ld->name,
			    ev_line(ld), k->path,
			    ld->ev.type == YAML_SCALAR_EVENT        ? "binary strings" :
			    ld->ev.type == YAML_MAPPING_START_EVENT ? "mappings" :
								      "lists");
			goto fail;
		}
		strlist_push(&l, ev_scalar(ld), ld->ev.data.scalar.length);
	}
	cy_strlist_free(FIELD(ld->target, k, struct cy_strlist));
	*FIELD(ld->target, k, struct cy_strlist) = l;
	return 0;
fail:
	cy_strlist_free(&l);
	return -1;
}

/* Applies the value at the current event to key k. */
static int
ld_value(struct cfg_load *ld, const struct cy_cfg_key *k)
{
	char *origin;
	json_t *j;
	int rc;

	ld->seen[k - ld->keys] = true;
	if (ld->ev.type == YAML_SCALAR_EVENT && ev_is_null(ld))
		return 0; /* "key:" with no value keeps the default */
	switch (k->type) {
	case CY_CFG_STRLIST:
		return ld_strlist(ld, k);
	case CY_CFG_OBJECT:
		if (ld->ev.type != YAML_MAPPING_START_EVENT)
			return cy_error_set(ld->err, EINVAL, "%s:%zu: '%s' wants a mapping, not %s",
			    ld->name, ev_line(ld), k->path, ev_kind(ld));
		if (ld_json(ld, 1, &j) < 0)
			return -1;
		json_decref(*FIELD(ld->target, k, json_t *));
		*FIELD(ld->target, k, json_t *) = j;
		return 0;
	default:
		if (ld->ev.type != YAML_SCALAR_EVENT)
			return cy_error_set(ld->err, EINVAL, "%s:%zu: '%s' wants %s, not %s",
			    ld->name, ev_line(ld), k->path, type_want(k->type), ev_kind(ld));
		if (has_nul(ld))
			return cy_error_set(ld->err, EINVAL, "%s:%zu: '%s' contains a NUL byte",
			    ld->name, ev_line(ld), k->path);
		origin = xasprintf("%s:%zu", ld->name, ev_line(ld));
		rc = field_set_text(k, ld->target, ev_scalar(ld), origin, ld->err);
		free(origin);
		return rc;
	}
}

/* Walks a mapping (current event: its start) whose keys extend `prefix`. */
static int
ld_mapping(struct cfg_load *ld, const char *prefix, int depth)
{
	const struct cy_cfg_key *k;
	char **seen = NULL;
	size_t nseen = 0, i, line;
	char *path = NULL;
	int ret = -1;

	if (depth > CY_CFG_MAX_DEPTH)
		return cy_error_set(ld->err, EINVAL, "%s:%zu: nesting deeper than %d levels",
		    ld->name, ev_line(ld), CY_CFG_MAX_DEPTH);
	for (;;) {
		if (ld_next(ld) < 0)
			goto out;
		if (ld->ev.type == YAML_MAPPING_END_EVENT)
			break;
		line = ev_line(ld);
		if (ld->ev.type != YAML_SCALAR_EVENT || has_nul(ld)) {
			cy_error_set(ld->err, EINVAL, "%s:%zu: mapping keys must be strings",
			    ld->name, line);
			goto out;
		}
		for (i = 0; i < nseen; i++)
			if (strcmp(seen[i], ev_scalar(ld)) == 0)
				break;
		free(path);
		path = *prefix ? xasprintf("%s.%s", prefix, ev_scalar(ld)) : xstrdup(ev_scalar(ld));
		if (i < nseen) {
			cy_error_set(ld->err, EINVAL, "%s:%zu: duplicate key '%s'", ld->name, line,
			    path);
			goto out;
		}
		seen = xreallocarray(seen, nseen + 1, sizeof(*seen));
		seen[nseen++] = xstrdup(ev_scalar(ld));
		k = cfg_find(ld->keys, ld->nkeys, path);
		if (k && ld->seen[k - ld->keys]) {
			cy_error_set(ld->err, EINVAL, "%s:%zu: duplicate key '%s'", ld->name, line,
			    path);
			goto out;
		}
		if (!k && !cfg_is_prefix(ld->keys, ld->nkeys, path)) {
			cy_error_set(ld->err, EINVAL, "%s:%zu: unknown key '%s'", ld->name, line,
			    path);
			goto out;
		}
		if (ld_next(ld) < 0)
			goto out;
		if (k) {
			if (ld_value(ld, k) < 0)
				goto out;
		} else if (ld->ev.type == YAML_MAPPING_START_EVENT) {
			if (ld_mapping(ld, path, depth + 1) < 0)
				goto out;
		} else if (!(ld->ev.type == YAML_SCALAR_EVENT && ev_is_null(ld))) {
			cy_error_set(ld->err, EINVAL, "%s:%zu: '%s' wants a mapping, not %s",
			    ld->name, ev_line(ld), path, ev_kind(ld));
			goto out;
		}
	}
	ret = 0;
out:
	for (i = 0; i < nseen; i++)
		free(seen[i]);
	free(seen);
	free(path);
	return ret;
}

/* Parses the whole stream: at most one document whose root is a mapping. */
static int
ld_stream(struct cfg_load *ld)
{
	int ndocs = 0;

	if (ld_next(ld) < 0)
		return -1;
	if (ld->ev.type != YAML_STREAM_START_EVENT)
		return cy_error_set(ld->err, EINVAL, "%s: yaml: no stream start", ld->name);
	for (;;) {
		if (ld_next(ld) < 0)
			return -1;
		if (ld->ev.type == YAML_STREAM_END_EVENT)
			return 0;
		if (ld->ev.type != YAML_DOCUMENT_START_EVENT)
			return cy_error_set(ld->err, EINVAL, "%s:%zu: yaml: unexpected event",
			    ld->name, ev_line(ld));
		if (++ndocs > 1)
			return cy_error_set(ld->err, EINVAL,
			    "%s:%zu: only one YAML document is allowed", ld->name, ev_line(ld));
		if (ld_next(ld) < 0)
			return -1;
		if (ld->ev.type == YAML_MAPPING_START_EVENT) {
			if (ld_mapping(ld, "", 1) < 0)
				return -1;
		} else if (!(ld->ev.type == YAML_SCALAR_EVENT && ev_is_null(ld))) {
			return cy_error_set(ld->err, EINVAL,
			    "%s:%zu: the top level must be a mapping, not %s", ld->name,
			    ev_line(ld), ev_kind(ld));
		}
		if (ld_next(ld) < 0)
			return -1;
		if (ld->ev.type != YAML_DOCUMENT_END_EVENT)
			return cy_error_set(ld->err, EINVAL, "%s:%zu: yaml: unexpected event",
			    ld->name, ev_line(ld));
	}
}

/* Runs body over ld's input with a parser set up, then releases it. */
static int
ld_run(struct cfg_load *ld, int (*body)(struct cfg_load *, void *), void *arg)
{
	int ret;

	if (!yaml_parser_initialize(&ld->parser))
		return cy_error_set(ld->err, ENOMEM, "%s: yaml: cannot initialise parser",
		    ld->name);
	yaml_parser_set_input_string(&ld->parser, (const unsigned char *)ld->data, ld->len);
	ret = body(ld, arg);
	if (ld->have_ev)
		yaml_event_delete(&ld->ev);
	yaml_parser_delete(&ld->parser);
	return ret;
}

static int
ld_stream_body(struct cfg_load *ld, void *arg)
{
	(void)arg;
	return ld_stream(ld);
}

static int
cfg_parse(const char *name, const char *data, size_t len, const struct cy_cfg_key *keys,
    size_t nkeys, void *target, bool *seen, struct cy_error *err)
{
	struct cfg_load ld;

	memset(&ld, 0, sizeof(ld));
	ld.name = name;
	ld.data = data;
	ld.len = len;
	ld.keys = keys;
	ld.nkeys = nkeys;
	ld.target = target;
	ld.seen = seen;
	ld.err = err;
	return ld_run(&ld, ld_stream_body, NULL);
}

/* One document of any shape, converted whole (cy_yaml_to_json). */
static int
ld_document_json(struct cfg_load *ld, json_t **out)
{
	if (ld_next(ld) < 0)
		return -1;
	if (ld->ev.type != YAML_STREAM_START_EVENT)
		return cy_error_set(ld->err, EINVAL, "%s: yaml: no stream start", ld->name);
	if (ld_next(ld) < 0)
		return -1;
	if (ld->ev.type == YAML_STREAM_END_EVENT)
		return cy_error_set(ld->err, EINVAL, "%s: the document is empty", ld->name);
	if (ld_next(ld) < 0 || ld_json(ld, 1, out) < 0)
		return -1;
	if (ld_next(ld) < 0 || ld_next(ld) < 0)
		goto fail;
	if (ld->ev.type != YAML_STREAM_END_EVENT) {
		cy_error_set(ld->err, EINVAL, "%s:%zu: only one YAML document is allowed", ld->name,
		    ev_line(ld));
		goto fail;
	}
	return 0;
fail:
	json_decref(*out);
	*out = NULL;
	return -1;
}

static int
ld_document_body(struct cfg_load *ld, void *out)
{
	return ld_document_json(ld, out);
}

int
cy_yaml_to_json(const char *name, const char *data, size_t len, json_t **out, struct cy_error *err)
{
	struct cfg_load ld;

	*out = NULL;
	memset(&ld, 0, sizeof(ld));
	ld.name = name;
	ld.data = data;
	ld.len = len;
	ld.err = err;
	return ld_run(&ld, ld_document_body, out);
}

/* ---- load phases ---- */

static int
cfg_defaults(const struct cy_cfg_key *keys, size_t nkeys, void *target, struct cy_error *err)
{
	char origin[300];
	size_t i;

	for (i = 0; i < nkeys; i++) {
		field_clear(&keys[i], target);
		if (!keys[i].def)
			continue;
		xsnprintf(origin, sizeof(origin), "built-in default of '%s'", keys[i].path);
		if (field_set_text(&keys[i], target, keys[i].def, origin, err) < 0)
			return -1;
	}
	return 0;
}

static int
cfg_env(const struct cy_cfg_key *keys, size_t nkeys, void *target, bool *seen, struct cy_error *err)
{
	char origin[300];
	const char *v;
	size_t i;

	for (i = 0; i < nkeys; i++) {
		if (!keys[i].env || !(v = getenv(keys[i].env)) || !*v)
			continue;
		xsnprintf(origin, sizeof(origin), "environment %s", keys[i].env);
		if (field_set_text(&keys[i], target, v, origin, err) < 0)
			return -1;
		seen[i] = true;
	}
	return 0;
}

static int
cfg_required(const char *name, const struct cy_cfg_key *keys, size_t nkeys, const bool *seen,
    struct cy_error *err)
{
	size_t i;

	for (i = 0; i < nkeys; i++) {
		if (!keys[i].required || seen[i])
			continue;
		if (keys[i].env)
			return cy_error_set(err, EINVAL,
			    "%s: missing required key '%s' (or environment %s)", name, keys[i].path,
			    keys[i].env);
		return cy_error_set(err, EINVAL, "%s: missing required key '%s'", name,
		    keys[i].path);
	}
	return 0;
}

int
cy_config_load_mem(const char *name, const char *data, size_t len, const struct cy_cfg_key *keys,
    size_t nkeys, void *target, struct cy_error *err)
{
	bool *seen = xcalloc(nkeys ? nkeys : 1, sizeof(*seen));
	int ret = -1;

	if (!name)
		name = "configuration";
	if (cfg_defaults(keys, nkeys, target, err) < 0)
		goto out;
	if (data && cfg_parse(name, data, len, keys, nkeys, target, seen, err) < 0)
		goto out;
	if (cfg_env(keys, nkeys, target, seen, err) < 0)
		goto out;
	ret = cfg_required(name, keys, nkeys, seen, err);
out:
	free(seen);
	return ret;
}

/* Reads a whole regular file; 1 when it does not exist, 0 on success, -1 on error. */
static int
read_file(const char *path, char **out, size_t *outlen, struct cy_error *err)
{
	size_t len = 0, alloc = 8192;
	struct stat st;
	ssize_t r;
	char *buf;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		return cy_error_errno(err, "%s", path);
	}
	if (fstat(fd, &st) < 0) {
		cy_error_errno(err, "%s", path);
		close(fd);
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return cy_error_set(err, EISDIR, "%s: is a directory", path);
	}
	buf = xmalloc(alloc);
	for (;;) {
		if (len == alloc) {
			if (alloc >= CY_CFG_MAX_FILE) {
				free(buf);
				close(fd);
				return cy_error_set(err, EFBIG, "%s: file larger than %d bytes",
				    path, CY_CFG_MAX_FILE);
			}
			alloc *= 2;
			buf = xrealloc(buf, alloc);
		}
		r = read(fd, buf + len, alloc - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			cy_error_errno(err, "%s", path);
			free(buf);
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		len += r;
	}
	close(fd);
	*out = buf;
	*outlen = len;
	return 0;
}

int
cy_config_load(const char *path, bool must_exist, const struct cy_cfg_key *keys, size_t nkeys,
    void *target, struct cy_error *err)
{
	char *data = NULL;
	size_t len = 0;
	int r, ret;

	if (path) {
		r = read_file(path, &data, &len, err);
		if (r < 0)
			return -1;
		if (r == 1 && must_exist)
			return cy_error_set(err, ENOENT, "%s: no such file", path);
	}
	ret = cy_config_load_mem(path, data, len, keys, nkeys, target, err);
	free(data);
	return ret;
}

int
cy_config_set(const struct cy_cfg_key *keys, size_t nkeys, void *target, const char *path,
    const char *value, const char *origin, struct cy_error *err)
{
	const struct cy_cfg_key *k = cfg_find(keys, nkeys, path);

	if (!origin)
		origin = "command line";
	if (!k)
		return cy_error_set(err, EINVAL, "%s: unknown key '%s'", origin, path);
	return field_set_text(k, target, value ? value : "", origin, err);
}

void
cy_config_release(const struct cy_cfg_key *keys, size_t nkeys, void *target)
{
	size_t i;

	for (i = 0; i < nkeys; i++)
		field_clear(&keys[i], target);
}

/* ---- comparing ---- */

static bool
str_same(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

static bool
field_same(const struct cy_cfg_key *k, const void *a, const void *b)
{
	const struct cy_strlist *la, *lb;
	size_t i;

	switch (k->type) {
	case CY_CFG_STR:
	case CY_CFG_ENUM:
		return str_same(*CFIELD(a, k, char *), *CFIELD(b, k, char *));
	case CY_CFG_INT:
	case CY_CFG_DURATION:
		return *CFIELD(a, k, long long) == *CFIELD(b, k, long long);
	case CY_CFG_BOOL:
		return *CFIELD(a, k, bool) == *CFIELD(b, k, bool);
	case CY_CFG_STRLIST:
		la = CFIELD(a, k, struct cy_strlist);
		lb = CFIELD(b, k, struct cy_strlist);
		if (la->n != lb->n)
			return false;
		for (i = 0; i < la->n; i++)
			if (!str_same(la->v[i], lb->v[i]))
				return false;
		return true;
	case CY_CFG_OBJECT: {
		const json_t *ja = *CFIELD(a, k, json_t *), *jb = *CFIELD(b, k, json_t *);

		if (!ja || !jb)
			return (!ja || !json_object_size(ja)) && (!jb || !json_object_size(jb));
		return json_equal(ja, jb);
	}
	}
	return false;
}

size_t
cy_config_diff(const struct cy_cfg_key *keys, size_t nkeys, const void *a, const void *b,
    bool reloadable, struct cy_buf *out)
{
	size_t i, n = 0;

	for (i = 0; i < nkeys; i++) {
		if (keys[i].reloadable != reloadable || field_same(&keys[i], a, b))
			continue;
		if (n++)
			cy_buf_addch(out, ',');
		cy_buf_addstr(out, keys[i].path);
	}
	return n;
}

/* ---- printing ---- */

static bool
needs_quotes(const char *s)
{
	static const char *const words[] = { "true", "false", "yes", "no", "on", "off", "y", "n",
		"null", "~", NULL };
	const char *p;
	size_t i;

	if (!*s)
		return true;
	for (i = 0; words[i]; i++)
		if (strcasecmp(s, words[i]) == 0)
			return true;
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '/' || *s == '_'))
		return true;
	for (p = s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9'))
			continue;
		if (!strchr("_-./@+%=", *p) && !(*p == ':' && p[1] && p[1] != ' '))
			return true;
	}
	return false;
}

static void
print_str(FILE *out, const char *s)
{
	const unsigned char *p;

	if (!needs_quotes(s)) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", out);
		else if (*p == '\t')
			fputs("\\t", out);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(out, "\\x%02x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

static void
print_value(FILE *out, const struct cy_cfg_key *k, const void *target)
{
	const struct cy_strlist *l;
	const char *s;
	char d[64];
	char *js;
	size_t i;
	const json_t *j;

	switch (k->type) {
	case CY_CFG_STR:
	case CY_CFG_ENUM:
		s = *CFIELD(target, k, char *);
		if (!s)
			fputs("~", out);
		else if (k->secret)
			fputs("\"<redacted>\"", out);
		else
			print_str(out, s);
		break;
	case CY_CFG_INT:
		fprintf(out, "%lld", *CFIELD(target, k, long long));
		break;
	case CY_CFG_DURATION:
		fmt_duration(*CFIELD(target, k, long long), d, sizeof(d));
		fputs(d, out);
		break;
	case CY_CFG_BOOL:
		fputs(*CFIELD(target, k, bool) ? "true" : "false", out);
		break;
	case CY_CFG_STRLIST:
		l = CFIELD(target, k, struct cy_strlist);
		if (k->secret && l->n) {
			fputs("\"<redacted>\"", out);
			break;
		}
		fputc('[', out);
		for (i = 0; i < l->n; i++) {
			if (i)
				fputs(", ", out);
			print_str(out, l->v[i]);
		}
		fputc(']', out);
		break;
	case CY_CFG_OBJECT:
		j = *CFIELD(target, k, json_t *);
		if (!j) {
			fputs("{}", out);
			break;
		}
		if (k->secret) {
			fputs("\"<redacted>\"", out);
			break;
		}
		js = json_dumps(j, JSON_SORT_KEYS | JSON_ENCODE_ANY);
		fputs(js ? js : "{}", out);
		free(js);
		break;
	}
}

/* Prints the keys under `prefix` (which ends with '.' or is empty). */
static void
print_level(FILE *out, const struct cy_cfg_key *keys, size_t nkeys, const void *target,
    const char *prefix, int depth)
{
	size_t plen = strlen(prefix), i, j, clen;
	const char *comp, *dot;
	char *sub;
	bool dup;

	for (i = 0; i < nkeys; i++) {
		if (strncmp(keys[i].path, prefix, plen) != 0)
			continue;
		comp = keys[i].path + plen;
		dot = strchr(comp, '.');
		clen = dot ? (size_t)(dot - comp) : strlen(comp);
		dup = false;
		for (j = 0; j < i && !dup; j++)
			dup = strncmp(keys[j].path, prefix, plen) == 0 &&
			      strncmp(keys[j].path + plen, comp, clen) == 0 &&
			      (keys[j].path[plen + clen] == '.' || !keys[j].path[plen + clen]);
		if (dup)
			continue;
		fprintf(out, "%*s%.*s:", depth * 2, "", (int)clen, comp);
		if (!dot) {
			fputc(' ', out);
			print_value(out, &keys[i], target);
			if (keys[i].help)
				fprintf(out, "  # %s", keys[i].help);
			fputc('\n', out);
			continue;
		}
		fputc('\n', out);
		sub = xasprintf("%s%.*s.", prefix, (int)clen, comp);
		print_level(out, keys, nkeys, target, sub, depth + 1);
		free(sub);
	}
}

void
cy_config_print(FILE *out, const struct cy_cfg_key *keys, size_t nkeys, const void *target)
{
	print_level(out, keys, nkeys, target, "", 0);
}
