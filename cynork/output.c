/*
 * cynork output: record lines of logfmt-quoted key=value pairs (spec/cli.md
 * section 9, decision 4) and pretty JSON or YAML (exactly one value on
 * stdout), and a state in colour.  A failed write to stdout is an error at
 * exit (git's run_builtin check).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "cynork.h"
#include "json.h"
#include "logfmt.h"
#include "banned.h"

void
rec_add(struct cy_buf *line, const char *key, const char *value)
{
	cy_logfmt_pair(line, key, value ? value : "");
}

void
rec_addll(struct cy_buf *line, const char *key, long long value)
{
	char num[32];

	xsnprintf(num, sizeof(num), "%lld", value);
	cy_logfmt_pair(line, key, num);
}

int
print_line(struct cy_buf *line)
{
	fwrite(line->buf, 1, line->len, stdout);
	fputc('\n', stdout);
	cy_buf_release(line);
	return 0;
}

static bool yaml_out;
static int yaml_docs; /* documents printed by this command */

void
out_set_yaml(bool yaml)
{
	yaml_out = yaml;
	yaml_docs = 0;
}

int
print_json(json_t *v)
{
	char *s;
	int rc = 0;

	if (yaml_out) {
		/* Several documents (task wait A B, nodes logs --follow): a YAML stream. */
		if (yaml_docs++)
			fputs("---\n", stdout);
		if (yaml_dump(stdout, v) < 0)
			rc = fail(EXIT_INTERNAL, "cannot write the YAML document");
		json_decref(v);
		return rc;
	}
	s = cy_json_dump_pretty(v);
	fputs(s, stdout);
	free(s);
	json_decref(v);
	return 0;
}

char *
state_text(const struct ctx *c, const char *state)
{
	static const struct {
		const char *name, *sgr;
	} sgr[] = { { "green", "32" }, { "red", "31" }, { "yellow", "33" }, { "cyan", "36" } };
	const char *color = out_color(c) ? state_color(state) : NULL;
	size_t i;

	for (i = 0; color && i < sizeof(sgr) / sizeof(sgr[0]); i++)
		if (strcmp(sgr[i].name, color) == 0)
			return xasprintf("\033[%sm%s\033[0m", sgr[i].sgr, state);
	return xstrdup(state ? state : "-");
}

int
out_flush(void)
{
	if (fflush(stdout) != 0 || ferror(stdout))
		return fail(EXIT_INTERNAL, "cannot write to standard output: %s", strerror(errno));
	return 0;
}

json_t *
out_id_view(const json_t *o, const char *key)
{
	json_t *v = json_object(), *item;
	const char *k;

	if (json_object_get(o, "id"))
		json_object_set(v, key, json_object_get(o, "id"));
	json_object_foreach((json_t *)o, k, item) {
		if (strcmp(k, "id") != 0)
			json_object_set(v, k, item);
	}
	return v;
}

json_t *
out_ids_view(const json_t *list, const char *key)
{
	json_t *a = json_array(), *item;
	size_t i;

	json_array_foreach(list, i, item)
		json_array_append_new(a, out_id_view(item, key));
	return a;
}

const char *
out_dash(const json_t *o, const char *key)
{
	const char *s = cy_json_str(o, key);

	return s && *s ? s : "-";
}
