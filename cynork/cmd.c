/*
 * The command dispatcher: parses global options and the command path from
 * argv, parses the command's options from its table entry, checks the
 * table's preconditions (needs auth), and runs the command.  The same
 * table produces --help, `cynork help CMD`, the nearest-name suggestions for
 * unknown commands and flags, and the hidden `cynork __spec` JSON dump from
 * which man pages and completions are generated.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "cynork.h"
#include "strnum.h"
#include "timeutil.h"
#include "banned.h"

static const char *const output_choices[] = { "table", "wide", "text", "json", "yaml", "name",
	"csv", NULL };

/* Global options: accepted before or after the command words. */
/* clang-format off */
const struct opt global_opts[] = {
	{ .name = "cacert", .kind = OPT_STR, .arg = "FILE",
	  .help = "CA bundle verifying an https gateway (also CYNORK_CA_FILE, ca_file in the config file)" },
	{ .name = "config", .shrt = 'c', .kind = OPT_STR, .arg = "PATH",
	  .help = "configuration file (also CYNORK_CONFIG; default $XDG_CONFIG_HOME/cynork/config.yaml)" },
	{ .name = "context", .kind = OPT_STR, .arg = "NAME",
	  .help = "the context of the config file to use (also CYNORK_CONTEXT; see cynork context)" },
	{ .name = "output", .shrt = 'o', .kind = OPT_ENUM, .arg = "FORMAT",
	  .help = "output format: table, wide, text, json, yaml, name or csv (lists that say so)",
	  .choices = output_choices },
	{ .name = "quiet", .shrt = 'q', .kind = OPT_BOOL,
	  .help = "suppress non-essential messages on stderr" },
	{ .name = "no-color", .kind = OPT_BOOL, .help = "disable colour (also NO_COLOR)" },
	{ .name = "help", .shrt = 'h', .kind = OPT_BOOL, .help = "show help for the command" },
	{ NULL }
};
/* clang-format on */

/* The last failure's message, for -o json's cynork_error. */
static char last_error[1024];

int
fail(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cy_vsnprintf_clip(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	progress_break();
	fputs("cynork: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

void
cynork_bug(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "cynork: BUG: %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

bool
confirm(struct ctx *c, const struct parsed *p, int *rc, const char *fmt, ...)
{
	va_list ap;
	int ch, first;

	*rc = EXIT_OK;
	if (opt_set(p, "yes"))
		return true;
	/* No one to ask: a script must say -y, never get a silent "no". */
	if (!isatty(STDIN_FILENO)) {
		*rc = fail(EXIT_USAGE,
		    "'cynork %s' asks for confirmation and standard input is not a terminal; "
		    "give -y to go on",
		    p->cmd->path);
		return false;
	}
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("? [y/N] ", stderr);
	fflush(stderr);
	first = getchar();
	ch = first;
	while (ch != EOF && ch != '\n')
		ch = getchar();
	if (first == 'y' || first == 'Y')
		return true;
	note(c, "nothing done");
	return false;
}

void
note(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->quiet)
		return;
	progress_break();
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

bool
out_json(const struct ctx *c)
{
	return strcmp(c->output, "json") == 0 || strcmp(c->output, "yaml") == 0;
}

bool
out_wide(const struct ctx *c)
{
	return strcmp(c->output, "wide") == 0;
}

bool
out_text(const struct ctx *c)
{
	return strcmp(c->output, "text") == 0 || (!c->output_given && out_tty());
}

bool
out_csv(const struct ctx *c)
{
	return strcmp(c->output, "csv") == 0;
}

bool
out_name(const struct ctx *c)
{
	return strcmp(c->output, "name") == 0;
}

static int
opt_index(const struct opt *opts, const char *name)
{
	int i;

	for (i = 0; opts && opts[i].name; i++)
		if (strcmp(opts[i].name, name) == 0)
			return i;
	return -1;
}

const char *
opt_get(const struct parsed *p, const char *name)
{
	int i = opt_index(p->cmd->opts, name);

	/* A name not in the command's table is a typo in the code, never input. */
	if (i < 0)
		BUG("command '%s' has no option '--%s'", p->cmd->path, name);
	return p->val[i];
}

bool
opt_set(const struct parsed *p, const char *name)
{
	return opt_get(p, name) != NULL;
}

size_t
opt_list(const struct parsed *p, const char *name, const char *const **out)
{
	int i = opt_index(p->cmd->opts, name);

	if (i < 0)
		BUG("command '%s' has no option '--%s'", p->cmd->path, name);
	*out = p->list[i];
	return p->nlist[i];
}

/* Levenshtein distance, for suggestions. */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t *row = xcalloc(lb + 1, sizeof(*row)), prev, tmp, d;

	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			tmp = row[j];
			d = prev + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < d)
				d = row[j] + 1;
			if (row[j - 1] + 1 < d)
				d = row[j - 1] + 1;
			row[j] = d;
			prev = tmp;
		}
	}
	d = row[lb];
	free(row);
	return d;
}

/* The last word of a command path. */
const char *
cmd_word(const struct cmd *cmd)
{
	const char *s = strrchr(cmd->path, ' ');

	return s ? s + 1 : cmd->path;
}

/* True when cmd is a direct child of the group path `parent` ("" = top). */
bool
cmd_is_child(const struct cmd *cmd, const char *parent)
{
	size_t lp = strlen(parent);

	if (lp == 0)
		return strchr(cmd->path, ' ') == NULL;
	return strncmp(cmd->path, parent, lp) == 0 && cmd->path[lp] == ' ' &&
	       strchr(cmd->path + lp + 1, ' ') == NULL;
}

static bool
word_matches(const struct cmd *cmd, const char *word)
{
	const char *a = cmd->aliases;
	size_t lw = strlen(word);

	if (strcmp(cmd_word(cmd), word) == 0)
		return true;
	while (a && *a) {
		size_t n = strcspn(a, " ");

		if (n == lw && strncmp(a, word, n) == 0)
			return true;
		a += n;
		while (*a == ' ')
			a++;
	}
	return false;
}

const struct cmd *
cmd_find_child(const char *parent, const char *word)
{
	size_t i;

	for (i = 0; i < cmd_table_len; i++)
		if (cmd_is_child(cmd_table[i], parent) && word_matches(cmd_table[i], word))
			return cmd_table[i];
	return NULL;
}

/*
 * A name at edit distance d from what was typed is worth suggesting when at
 * most 3 edits and at most half of the typed word changed: "verison" gets
 * version, "bogus" does not get login.
 */
static bool
near_enough(const char *typed, size_t d)
{
	return d <= 3 && d * 2 <= strlen(typed);
}

/* Fills buf with "; did you mean 'NAME'?" for the nearest command, or "". */
static const char *
suggest_command(char *buf, size_t size, const char *parent, const char *word)
{
	size_t i, best = (size_t)-1;
	const char *name = NULL;

	for (i = 0; i < cmd_table_len; i++) {
		size_t d;

		if (!cmd_is_child(cmd_table[i], parent) || (cmd_table[i]->flags & CMD_HIDDEN))
			continue;
		d = edit_distance(word, cmd_word(cmd_table[i]));
		if (d < best) {
			best = d;
			name = cmd_word(cmd_table[i]);
		}
	}
	buf[0] = '\0';
	if (name && near_enough(word, best))
		xsnprintf(buf, size, "; did you mean '%s%s%s'?", parent, *parent ? " " : "", name);
	return buf;
}

static const char *
suggest_flag(char *buf, size_t size, const struct opt *opts, const char *flag)
{
	const struct opt *sets[2] = { opts, global_opts };
	const char *name = NULL;
	size_t best = (size_t)-1, s, i;

	for (s = 0; s < 2; s++)
		for (i = 0; sets[s] && sets[s][i].name; i++) {
			size_t d = edit_distance(flag, sets[s][i].name);

			if (d < best) {
				best = d;
				name = sets[s][i].name;
			}
		}
	buf[0] = '\0';
	if (flag[0] && name && near_enough(flag, best))
		xsnprintf(buf, size, "; did you mean '--%s'?", name);
	return buf;
}

static void
help_opts(FILE *out, const struct opt *opts)
{
	size_t i;

	for (i = 0; opts && opts[i].name; i++) {
		char left[64];

		if (opts[i].shrt && opts[i].shrt_alias)
			xsnprintf(left, sizeof(left), "-%c, -%c, --%s%s%s", opts[i].shrt,
			    opts[i].shrt_alias, opts[i].name, opts[i].arg ? " " : "",
			    opts[i].arg ? opts[i].arg : "");
		else if (opts[i].shrt)
			xsnprintf(left, sizeof(left), "-%c, --%s%s%s", opts[i].shrt, opts[i].name,
			    opts[i].arg ? " " : "", opts[i].arg ? opts[i].arg : "");
		else
			xsnprintf(left, sizeof(left), "    --%s%s%s", opts[i].name,
			    opts[i].arg ? " " : "", opts[i].arg ? opts[i].arg : "");
		fprintf(out, "  %-28s %s\n", left, opts[i].help);
	}
}

/* Prints help for the group or command `path` ("" = top level). */
/* Prints plain-text paragraphs (blank-line separated) wrapped at 78 columns. */
static void
help_wrap(FILE *out, const char *text)
{
	const char *s = text;
	size_t col = 0;

	while (*s) {
		size_t n;

		if (*s == '\n') {
			fputc('\n', out);
			col = 0;
			s++;
			continue;
		}
		if (*s == ' ') {
			s++;
			continue;
		}
		n = strcspn(s, " \n");
		if (col && col + 1 + n > 78) {
			fputc('\n', out);
			col = 0;
		}
		if (col) {
			fputc(' ', out);
			col++;
		}
		fwrite(s, 1, n, out);
		col += n;
		s += n;
	}
	if (col)
		fputc('\n', out);
}

void
help_print(FILE *out, const char *path, const struct cmd *cmd)
{
	size_t i, width = 12;

	if (cmd && cmd->exec) {
		fprintf(out, "usage: cynork %s [flags]%s%s\n\n%s\n", cmd->path,
		    cmd->usage ? " " : "", cmd->usage ? cmd->usage : "", cmd->summary);
		if (cmd->doc) {
			fputc('\n', out);
			help_wrap(out, cmd->doc);
		}
		if (cmd->aliases)
			fprintf(out, "\naliases: %s\n", cmd->aliases);
		if (cmd->opts && cmd->opts[0].name) {
			fprintf(out, "\nflags:\n");
			help_opts(out, cmd->opts);
		}
	} else {
		fprintf(out, "usage: cynork [global flags] %s%s<command> [flags] [args]\n\n", path,
		    *path ? " " : "");
		if (cmd)
			fprintf(out, "%s\n\n", cmd->summary);
		fprintf(out, "commands:\n");
		for (i = 0; i < cmd_table_len; i++) /* the summaries line up */
			if (cmd_is_child(cmd_table[i], path) &&
			    !(cmd_table[i]->flags & CMD_HIDDEN) &&
			    strlen(cmd_word(cmd_table[i])) > width)
				width = strlen(cmd_word(cmd_table[i]));
		for (i = 0; i < cmd_table_len; i++) {
			const struct cmd *e = cmd_table[i];

			if (!cmd_is_child(e, path) || (e->flags & CMD_HIDDEN))
				continue;
			fprintf(out, "  %-*s %s\n", (int)width, cmd_word(e), e->summary);
		}
	}
	fprintf(out, "\nglobal flags:\n");
	help_opts(out, global_opts);
	if (!cmd || !cmd->exec)
		fprintf(out, "\nrun 'cynork %s%s<command> --help' for a command's flags\n", path,
		    *path ? " " : "");
}

/* Validates and stores one option value; returns 0 or EXIT_USAGE. */
static int
opt_store(struct parsed *p, const struct opt *o, int idx, const char *val, const char *shown)
{
	const char *errstr;
	long long n;
	size_t i;

	switch (o->kind) {
	case OPT_BOOL:
		p->val[idx] = "1";
		return 0;
	case OPT_INT:
		if (cy_strtonum(val, o->min, o->max, &n, &errstr) < 0)
			return fail(EXIT_USAGE,
			    "invalid value '%s' for %s: want an integer from %lld to %lld", val,
			    shown, o->min, o->max);
		break;
	case OPT_ENUM:
		for (i = 0; o->choices[i]; i++)
			if (strcmp(o->choices[i], val) == 0)
				break;
		if (!o->choices[i]) {
			struct cy_buf b = CY_BUF_INIT;

			for (i = 0; o->choices[i]; i++)
				cy_buf_addf(&b, "%s%s", i ? ", " : "", o->choices[i]);
			fail(EXIT_USAGE, "invalid value '%s' for %s: want one of %s", val, shown,
			    b.buf);
			cy_buf_release(&b);
			return EXIT_USAGE;
		}
		break;
	case OPT_DURATION:
		if (cy_duration_parse(val, &n) < 0 || n <= 0)
			return fail(EXIT_USAGE, "invalid duration '%s' for %s (e.g. 30s, 5m, 1h)",
			    val, shown);
		/* .min: the least number of seconds, when set. */
		if (n < o->min)
			return fail(EXIT_USAGE, "invalid value '%s' for %s: want at least %llds",
			    val, shown, o->min);
		break;
	case OPT_LIST:
		if (p->nlist[idx] >= MAX_ARGS)
			return fail(EXIT_USAGE, "too many %s values (at most %d)", shown, MAX_ARGS);
		p->list[idx][p->nlist[idx]++] = val;
		break;
	case OPT_STR:
		break;
	}
	p->val[idx] = val;
	return 0;
}

/* Finds an option by long name (or alias) or short letter in a table. */
int
opt_lookup(const struct opt *opts, const char *lng, char shrt)
{
	int i;

	for (i = 0; opts && opts[i].name; i++) {
		if (lng && (strcmp(opts[i].name, lng) == 0 ||
			       (opts[i].alias && strcmp(opts[i].alias, lng) == 0)))
			return i;
		if (!lng && shrt && (opts[i].shrt == shrt || opts[i].shrt_alias == shrt))
			return i;
	}
	return -1;
}

/*
 * Handles one option word at argv[*i] for the current command (cmd may be
 * NULL while still in a group).  Returns 0 or an exit code.
 */
static int
parse_opt(int argc, char **argv, int *i, const struct cmd *cmd, struct parsed *p, struct parsed *g)
{
	const char *arg = argv[*i], *val = NULL, *eq;
	char lng[64], shown[80];
	const struct opt *opts = cmd ? cmd->opts : NULL;
	const struct opt *o;
	struct parsed *dst;
	int idx;
	char shrt = 0;

	if (arg[1] == '-') {
		size_t n;

		eq = strchr(arg + 2, '=');
		n = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);

		if (n >= sizeof(lng))
			n = sizeof(lng) - 1;
		memcpy(lng, arg + 2, n);
		lng[n] = '\0';
		if (eq)
			val = eq + 1;
		xsnprintf(shown, sizeof(shown), "--%s", lng);
	} else {
		shrt = arg[1];
		if (arg[2])
			val = arg + 2;
		lng[0] = '\0';
		xsnprintf(shown, sizeof(shown), "-%c", shrt);
	}
	idx = opt_lookup(opts, lng[0] ? lng : NULL, shrt);
	dst = p;
	o = idx >= 0 ? &opts[idx] : NULL;
	if (!o) {
		idx = opt_lookup(global_opts, lng[0] ? lng : NULL, shrt);
		if (idx < 0) {
			char hint[128];

			suggest_flag(hint, sizeof(hint), opts, lng);
			if (cmd)
				return fail(EXIT_USAGE,
				    "unknown flag '%s' for 'cynork %s'%s (see 'cynork %s --help')",
				    shown, cmd->path, hint, cmd->path);
			return fail(EXIT_USAGE, "unknown flag '%s'%s (see 'cynork --help')", shown,
			    hint);
		}
		o = &global_opts[idx];
		dst = g;
	}
	if (o->kind == OPT_BOOL) {
		if (val && arg[1] == '-')
			return fail(EXIT_USAGE, "flag '%s' takes no value", shown);
		if (val && arg[1] != '-')
			return fail(EXIT_USAGE, "unknown flag '%s'", arg);
		return opt_store(dst, o, idx, "1", shown);
	}
	if (!val) {
		if (*i + 1 >= argc)
			return fail(EXIT_USAGE, "flag '%s' needs a value (%s)", shown,
			    o->arg ? o->arg : "value");
		val = argv[++*i];
	}
	return opt_store(dst, o, idx, val, shown);
}

static void
spec_opts(json_t *arr, const struct opt *opts)
{
	static const char *const kinds[] = { "bool", "string", "int", "enum", "duration", "list" };
	size_t i, j;

	for (i = 0; opts && opts[i].name; i++) {
		json_t *o = json_pack("{s:s, s:s, s:s}", "name", opts[i].name, "kind",
		    kinds[opts[i].kind], "help", opts[i].help);
		char s[2] = { opts[i].shrt, 0 };

		if (opts[i].shrt)
			json_object_set_new(o, "short", json_string(s));
		if (opts[i].shrt_alias) {
			s[0] = opts[i].shrt_alias;
			json_object_set_new(o, "short_alias", json_string(s));
		}
		if (opts[i].arg)
			json_object_set_new(o, "arg", json_string(opts[i].arg));
		if (opts[i].alias)
			json_object_set_new(o, "alias", json_string(opts[i].alias));
		if (opts[i].kind == OPT_INT) {
			json_object_set_new(o, "min", json_integer(opts[i].min));
			json_object_set_new(o, "max", json_integer(opts[i].max));
		}
		if (opts[i].kind == OPT_DURATION && opts[i].min > 0)
			json_object_set_new(o, "min", json_integer(opts[i].min));
		if (opts[i].choices) {
			json_t *c = json_array();

			for (j = 0; opts[i].choices[j]; j++)
				json_array_append_new(c, json_string(opts[i].choices[j]));
			json_object_set_new(o, "choices", c);
		}
		json_array_append_new(arr, o);
	}
}

/* `cynork __spec`: the command table as JSON, for generators. */
static int
spec_dump(void)
{
	json_t *root = json_object(), *cmds = json_array(), *g = json_array();
	size_t i;

	for (i = 0; i < cmd_table_len; i++) {
		const struct cmd *e = cmd_table[i];
		json_t *o, *opts;

		if (e->flags & CMD_HIDDEN)
			continue;
		opts = json_array();
		o = json_pack("{s:s, s:s, s:b, s:b}", "path", e->path, "summary", e->summary,
		    "group", e->exec == NULL, "needs_auth", (e->flags & CMD_NEEDS_AUTH) != 0);
		if (e->aliases)
			json_object_set_new(o, "aliases", json_string(e->aliases));
		if (e->usage)
			json_object_set_new(o, "usage", json_string(e->usage));
		/* true: passes a job's exit code through always; else with these flags. */
		if ((e->flags & CMD_JOB_EXIT) && !e->job_flags) {
			json_object_set_new(o, "job_exit", json_true());
		} else if (e->flags & CMD_JOB_EXIT) {
			json_t *jf = json_array();
			size_t k;

			for (k = 0; e->job_flags[k]; k++)
				json_array_append_new(jf, json_string(e->job_flags[k]));
			json_object_set_new(o, "job_exit", jf);
		}
		spec_opts(opts, e->opts);
		json_object_set_new(o, "options", opts);
		json_array_append_new(cmds, o);
	}
	spec_opts(g, global_opts);
	json_object_set_new(root, "global_options", g);
	json_object_set_new(root, "commands", cmds);
	return print_json(root);
}

static const char *
parsed_global(const struct parsed *g, const char *name)
{
	int i = opt_index(global_opts, name);

	return g->val[i];
}

/* `cynork help [WORDS...]`: help for a group or command. */
static int
help_exec(struct ctx *c, const struct parsed *p)
{
	struct cy_buf path = CY_BUF_INIT;
	const struct cmd *cmd = NULL;
	size_t i;

	for (i = 0; i < p->nargs; i++) {
		const struct cmd *next = cmd_find_child(path.buf, p->args[i]);

		if (!next) {
			char hint[160];

			fail(EXIT_USAGE, "unknown command '%s%s%s'%s", path.buf,
			    path.len ? " " : "", p->args[i],
			    suggest_command(hint, sizeof(hint), path.buf, p->args[i]));
			cy_buf_release(&path);
			return EXIT_USAGE;
		}
		cmd = next;
		cy_buf_reset(&path);
		cy_buf_addstr(&path, cmd->path);
	}
	help_print(stdout, path.buf, cmd);
	cy_buf_release(&path);
	return 0;
}

const struct cmd cmd_help = {
	.path = "help",
	.summary = "show help for a command",
	.usage = "[<command>...]",
	.max_args = MAX_ARGS,
	.flags = CMD_NO_CONFIG,
	.exec = help_exec,
	.doc = "Prints the usage, flags and subcommands of the named group or command, "
	       "the same text as COMMAND --help.",
};

void
ctx_release(struct ctx *c)
{
	cfg_release(&c->cfg);
	c->token = NULL;
	c->cfg_ready = false;
}

/*
 * Parses argv into the command, its options (p) and the global options (g).
 * Returns 0, an exit code, or -1 when the line was fully handled (__spec).
 */
static int
parse_line(int argc, char **argv, const struct cmd **cmdp, struct parsed *p, struct parsed *g,
    const char **pathp)
{
	const struct cmd *cmd = NULL;
	const char *path = "";
	bool opts_done = false;
	int i, rc;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (!opts_done && strcmp(a, "--") == 0) {
			opts_done = true;
			continue;
		}
		if (!opts_done && a[0] == '-' && a[1] != '\0') {
			rc = parse_opt(argc, argv, &i, cmd && cmd->exec ? cmd : NULL, p, g);
			if (rc)
				return rc;
			continue;
		}
		if (!cmd || !cmd->exec) {
			const struct cmd *next;

			if (!cmd && strcmp(a, "__spec") == 0) {
				spec_dump();
				return -1;
			}
			next = cmd_find_child(path, a);
			if (!next) {
				char hint[160];

				return fail(EXIT_USAGE,
				    "unknown command '%s%s%s'%s (see 'cynork %s%s--help')", path,
				    *path ? " " : "", a,
				    suggest_command(hint, sizeof(hint), path, a), path,
				    *path ? " " : "");
			}
			cmd = next;
			*cmdp = cmd; /* known to the caller even when a later word fails */
			path = cmd->path;
			continue;
		}
		if (p->nargs >= MAX_POS_ARGS)
			return fail(EXIT_USAGE, "too many arguments to 'cynork %s' (at most %d)",
			    cmd->path, MAX_POS_ARGS);
		p->args[p->nargs++] = a;
	}
	*cmdp = cmd;
	*pathp = path;
	return 0;
}

/*
 * Whether cmd, as given, waits for a job and passes its exit code through.
 * p is NULL when the line did not parse: then the words are looked at.
 */
static bool
cmd_job_mode(const struct cmd *cmd, const struct parsed *p, int argc, char **argv)
{
	size_t i;
	int j, k;

	if (!cmd || !(cmd->flags & CMD_JOB_EXIT))
		return false;
	if (!cmd->job_flags)
		return true;
	for (i = 0; cmd->job_flags[i]; i++) {
		if (p) {
			if (opt_set(p, cmd->job_flags[i]))
				return true;
			continue;
		}
		k = opt_lookup(cmd->opts, cmd->job_flags[i], 0);
		for (j = 0; j < argc; j++) {
			if (argv[j][0] != '-')
				continue;
			if ((argv[j][1] == '-' && strcmp(argv[j] + 2, cmd->job_flags[i]) == 0) ||
			    (k >= 0 && argv[j][1] && !argv[j][2] &&
				(argv[j][1] == cmd->opts[k].shrt ||
				    argv[j][1] == cmd->opts[k].shrt_alias)))
				return true;
		}
	}
	return false;
}

/*
 * Runs one line; *cmdp gets the command (when known), *json whether -o
 * json applies and *job whether it passes a job's exit code through.
 */
static int
run_line(struct ctx *sess, int argc, char **argv, const struct cmd **cmdp, bool *json, bool *job)
{
	struct parsed p, g;
	struct ctx c;
	const struct cmd *cmd = NULL;
	const char *path = "";
	int rc;

	/* Fresh option state for every line: nothing leaks between shell lines. */
	memset(&p, 0, sizeof(p));
	memset(&g, 0, sizeof(g));
	rc = parse_line(argc, argv, &cmd, &p, &g, &path);
	*cmdp = cmd;
	*json = strcmp(parsed_global(&g, "output") ? parsed_global(&g, "output") :
		       sess->output                ? sess->output :
						     "table",
		    "json") == 0;
	if (rc < 0)
		return out_flush();
	if (rc) {
		*job = cmd_job_mode(cmd, NULL, argc, argv);
		return rc;
	}
	if (cmd && cmd->exec) {
		p.cmd = cmd;
		*job = cmd_job_mode(cmd, &p, argc, argv);
	}
	c = *sess;
	c.output = parsed_global(&g, "output") ? parsed_global(&g, "output") :
		   sess->output                ? sess->output :
						 "table";
	c.output_given = parsed_global(&g, "output") || sess->output;
	out_set_yaml(strcmp(c.output, "yaml") == 0);
	if (out_csv(&c) && cmd && cmd->exec && !(cmd->flags & CMD_CSV))
		return fail(EXIT_USAGE,
		    "'-o csv' is not supported by '%s' (it is by audit list, accounting list and "
		    "accounting summary)",
		    cmd->path);
	c.quiet = sess->quiet || parsed_global(&g, "quiet") != NULL;
	c.no_color = sess->no_color || parsed_global(&g, "no-color") != NULL ||
		     (getenv("NO_COLOR") && *getenv("NO_COLOR"));
	if (parsed_global(&g, "config")) {
		if (sess->in_shell)
			return fail(EXIT_USAGE,
			    "--config cannot change inside the shell; start 'cynork --config PATH shell'");
		c.config_path = parsed_global(&g, "config");
	}
	if (parsed_global(&g, "context")) {
		if (sess->in_shell)
			return fail(EXIT_USAGE,
			    "--context cannot change inside the shell; use 'context use NAME' or start "
			    "'cynork --context NAME shell'");
		if (!cfg_context_name_ok(parsed_global(&g, "context")))
			return fail(EXIT_USAGE,
			    "invalid value '%s' for --context: want 1 to 63 of a-z, 0-9, '.', '_', '-'",
			    parsed_global(&g, "context"));
		c.context_opt = parsed_global(&g, "context");
	}
	if (parsed_global(&g, "help")) {
		help_print(stdout, path, cmd);
		return out_flush();
	}
	if (!cmd || !cmd->exec) {
		help_print(stderr, path, cmd);
		return EXIT_USAGE;
	}
	if (sess->in_shell && (cmd->flags & CMD_NO_SHELL))
		return fail(EXIT_USAGE, "'%s' is not available inside the shell", cmd->path);
	if ((int)p.nargs < cmd->min_args)
		return fail(EXIT_USAGE, "'cynork %s' needs %s (see 'cynork %s --help')", cmd->path,
		    cmd->usage ? cmd->usage : "arguments", cmd->path);
	if (cmd->max_args >= 0 && (int)p.nargs > cmd->max_args)
		return fail(EXIT_USAGE, "'cynork %s' takes %s%s; unexpected '%s'", cmd->path,
		    cmd->usage ? cmd->usage : "no arguments", cmd->usage ? " only" : "",
		    p.args[cmd->max_args]);
	if (cmd->check && (rc = cmd->check(&p)) != 0)
		return rc;
	if (!(cmd->flags & CMD_NO_CONFIG) && !c.cfg_ready) {
		rc = cfg_load(&c);
		c.cfg_ready = true;
	}
	if (rc == 0 && !(cmd->flags & (CMD_NO_CONFIG | CMD_ANY_CONTEXT)) && c.cfg.context_unknown)
		rc = fail(EXIT_NOT_FOUND, "unknown context '%s'; 'cynork context list' shows them",
		    c.cfg.context);
	if (parsed_global(&g, "cacert"))
		c.ca_file = parsed_global(&g, "cacert");
	if (rc == 0 && c.ca_file && access(c.ca_file, R_OK) < 0)
		rc = fail(EXIT_USAGE,
		    "cannot read the CA file '%s' (--cacert, CYNORK_CA_FILE, ca_file): %s",
		    c.ca_file, strerror(errno));
	if (rc == 0 && (cmd->flags & CMD_NEEDS_AUTH) && !c.token)
		rc = cfg_helper_fetch(&c);
	if (rc == 0 && (cmd->flags & CMD_NEEDS_AUTH) && !c.token)
		rc = fail(EXIT_AUTH, "not logged in: run 'cynork login' or set CYNORK_TOKEN");
	if (rc == 0)
		rc = cmd->exec(&c, &p);
	if (out_flush() != 0 && rc == 0)
		rc = EXIT_INTERNAL;
	/* Keep what the session learnt (loaded config, new tokens). */
	sess->cfg = c.cfg;
	sess->cfg_ready = c.cfg_ready;
	sess->helper_tried = c.helper_tried;
	sess->token_from_env = c.token_from_env;
	sess->gateway = c.gateway;
	sess->user = c.user;
	if (!sess->config_path)
		sess->config_path = c.config_path;
	if (!sess->context_opt)
		sess->context_opt = c.context_opt;
	if (sess->cfg_ready)
		cfg_resolve_token(sess);
	else
		sess->token = NULL; /* the command let go of the configuration */
	return rc;
}

int
cmd_run(struct ctx *sess, int argc, char **argv)
{
	const struct cmd *cmd = NULL;
	bool json = false, job = false;
	int rc;

	last_error[0] = '\0';
	rc = run_line(sess, argc, argv, &cmd, &json, &job);
	if (rc & EXIT_JOB_TAG)
		return rc & 0xff; /* the job's own code */
	if (!job || rc == EXIT_OK || rc == EXIT_INTERRUPTED)
		return rc;
	/* cynork's own failure where a job's code was expected: 125, saying so. */
	fprintf(stderr, "cynork: exit %d: cynork failed (%d, %s), not the job\n", EXIT_WAIT_FAILED,
	    rc, exit_name(rc));
	if (json) {
		print_json(json_pack("{s:{s:i, s:s, s:s}}", "cynork_error", "code", rc, "reason",
		    exit_name(rc), "message", last_error));
		out_flush();
	}
	return EXIT_WAIT_FAILED;
}

int
cmd_main(int argc, char **argv)
{
	struct ctx sess;
	int rc;

	if (argc >= 2 && strcmp(argv[1], "__complete") == 0)
		return complete_main(argc - 2, argv + 2);
	memset(&sess, 0, sizeof(sess));
	rc = cmd_run(&sess, argc - 1, argv + 1);
	ctx_release(&sess);
	return rc;
}
