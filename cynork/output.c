/*
 * cynork output: record lines of logfmt-quoted key=value pairs (spec/cli.md
 * section 9, decision 4) and pretty JSON (exactly one value on stdout).  A
 * failed write to stdout is an error at exit (git's run_builtin check).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int
print_json(json_t *v)
{
	char *s = cy_json_dump_pretty(v);

	fputs(s, stdout);
	free(s);
	json_decref(v);
	return 0;
}

int
out_flush(void)
{
	if (fflush(stdout) != 0 || ferror(stdout))
		return fail(EXIT_INTERNAL, "cannot write to standard output: %s", strerror(errno));
	return 0;
}

const char *
out_dash(const json_t *o, const char *key)
{
	const char *s = cy_json_str(o, key);

	return s && *s ? s : "-";
}
