/*
 * Table-driven configuration over libyaml (redis static_configs[], tmux
 * options-table.c).  A program lists its keys once; the table drives YAML
 * loading, validation, environment overrides, defaults and --print-config.
 *
 * Precedence: built-in default < YAML file < environment < command line
 * (cy_config_set).  Unknown keys and values of the wrong type are errors that
 * name file:line.
 */
#ifndef CY_CONFIG_H
#define CY_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "buf.h"
#include "error.h"

enum cy_cfg_type {
	CY_CFG_STR,      /* char *, owned */
	CY_CFG_INT,      /* long long, within [min, max] */
	CY_CFG_BOOL,     /* bool */
	CY_CFG_ENUM,     /* char *, one of choices */
	CY_CFG_DURATION, /* long long seconds, "30s" "15m" "168h" or a number; [min, max] */
	CY_CFG_STRLIST,  /* struct cy_strlist; YAML sequence of strings; env: comma-separated */
	CY_CFG_OBJECT,   /* json_t * (object), free-form mapping */
};

struct cy_strlist {
	char **v;
	size_t n;
};

struct cy_cfg_key {
	const char *path; /* dotted YAML path: "sandbox.timeouts.max_seconds" */
	enum cy_cfg_type type;
	size_t offset;              /* offsetof(target struct, field) */
	const char *def;            /* default as text; NULL = unset (NULL/0/false/empty) */
	long long min, max;         /* INT and DURATION bounds (both 0 = unbounded) */
	const char *const *choices; /* ENUM: NULL-terminated list */
	const char *env;            /* environment variable overriding the key, or NULL */
	bool required;              /* must be set by file or environment */
	bool secret;                /* redacted by cy_config_print */
	bool reloadable;            /* a running program applies it on SIGHUP */
	const char *help;           /* one line for --print-config and the sample */
};

/*
 * Applies defaults, then the YAML file at `path` (a missing file is an error
 * only when must_exist), then the environment.  Returns 0, or -1 with err
 * set ("FILE:LINE: unknown key 'sandbox.foo'", "FILE:LINE: 'x' wants an
 * integer between 1 and 10").
 */
int cy_config_load(const char *path, bool must_exist, const struct cy_cfg_key *keys, size_t nkeys,
    void *target, struct cy_error *err);
/*
 * Converts one YAML document of any shape (mapping, list or scalar) to JSON
 * with the scalar typing of CY_CFG_OBJECT values (plain true/false/null and
 * numbers typed, quoted scalars strings; aliases refused).  0 with *out (new
 * reference), or -1 with err naming `name`:line.
 */
int cy_yaml_to_json(const char *name, const char *data, size_t len, json_t **out,
    struct cy_error *err);
/*
 * As cy_config_load, over `len` bytes of YAML in memory (NULL data: defaults
 * and environment only); `name` prefixes errors.  Used by the fuzzer.
 */
int cy_config_load_mem(const char *name, const char *data, size_t len,
    const struct cy_cfg_key *keys, size_t nkeys, void *target, struct cy_error *err);
/* Sets the key `path` from text (a flag or env value); origin names it in errors. */
int cy_config_set(const struct cy_cfg_key *keys, size_t nkeys, void *target, const char *path,
    const char *value, const char *origin, struct cy_error *err);
/*
 * Appends to out the paths of the keys whose values differ between a and b
 * ("a.b,c.d"; values never: secrets stay out), among the keys whose
 * reloadable flag is `reloadable`.  Returns how many.
 */
size_t cy_config_diff(const struct cy_cfg_key *keys, size_t nkeys, const void *a, const void *b,
    bool reloadable, struct cy_buf *out);
/* Frees what the table's fields own. */
void cy_config_release(const struct cy_cfg_key *keys, size_t nkeys, void *target);
/* Prints the effective configuration as YAML, secrets as "<redacted>". */
void cy_config_print(FILE *out, const struct cy_cfg_key *keys, size_t nkeys, const void *target);

void cy_strlist_free(struct cy_strlist *l);
bool cy_strlist_has(const struct cy_strlist *l, const char *s);

#endif
