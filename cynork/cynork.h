/*
 * cynork: shared declarations.  One command table (cmd-table.c) drives
 * parsing and --help (cmd.c), the nearest-name suggestions, the hidden
 * `__spec` dump, completion (complete.c: the shell and `__complete` share
 * it), the interactive shell (shell.c) and the man pages (man.c); each
 * command group has its own file (cmd-auth.c, cmd-task.c, ...).
 */
#ifndef CYNORK_H
#define CYNORK_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sysexits.h>

#include "buf.h"
#include "error.h"

/*
 * Exit codes: one table (exit.c) with their names and meanings, from which
 * cynork(1) EXIT STATUS is generated.  cynork's own failures are sysexits.h
 * codes (64-78); a job's own code passes through only in the commands that
 * wait for a job (CMD_JOB_EXIT), where any failure of cynork's own is 125.
 */
enum cy_exit {
	EXIT_OK = 0,
	EXIT_JOB_FAILED = 1,           /* the job failed without an exit code */
	EXIT_USAGE = EX_USAGE,         /* 64: the command line */
	EXIT_VALIDATION = EX_DATAERR,  /* 65: the gateway refused the data (400, 413, 422) */
	EXIT_NOT_FOUND = EX_NOINPUT,   /* 66: gateway 404 */
	EXIT_GATEWAY = EX_UNAVAILABLE, /* 69: cannot connect, 5xx, unhealthy */
	EXIT_INTERNAL = EX_SOFTWARE,   /* 70: cannot write stdout, fork, ... */
	EXIT_CONFLICT = EX_CANTCREAT,  /* 73: gateway 409, the file exists */
	EXIT_TEMPFAIL = EX_TEMPFAIL,   /* 75: request timed out, 429: try again */
	EXIT_PROTOCOL = EX_PROTOCOL,   /* 76: a malformed response */
	EXIT_AUTH = EX_NOPERM,         /* 77: not logged in, 401, 403, credential helper */
	EXIT_CONFIG = EX_CONFIG,       /* 78: the config file */
	EXIT_TIMEOUT = 124,            /* a --timeout ran out; the job timed out */
	EXIT_WAIT_FAILED = 125,        /* cynork failed while waiting for a job */
	EXIT_INTERRUPTED = 130,        /* Ctrl-C inside `cynork shell` */
	EXIT_CANCELED = 143,           /* the task was canceled (128 + SIGTERM) */
};
/* A job's own exit code, returned tagged by the waiting commands (cmd_run untags it). */
#define EXIT_JOB_TAG 0x10000
#define EXIT_JOB(code) (EXIT_JOB_TAG | (code))

/* One row of the exit code table (exit.c). */
struct exit_code {
	int code;
	const char *name;    /* the "reason" of -o json's cynork_error */
	const char *meaning; /* plain text for cynork(1) and --help */
};
extern const struct exit_code exit_codes[];
/* The name of an exit code ("unavailable"), or "error" for one not in the table. */
const char *exit_name(int code);

enum opt_kind {
	OPT_BOOL,     /* no argument */
	OPT_STR,      /* one argument */
	OPT_INT,      /* integer within [min, max] */
	OPT_ENUM,     /* one of choices */
	OPT_DURATION, /* "30s", "5m", ... */
	OPT_LIST,     /* repeatable string */
};

struct opt {
	const char *name; /* long name, without "--" */
	char shrt;        /* short letter, 0 for none */
	char shrt_alias;  /* another accepted short letter (an older one), 0 for none */
	enum opt_kind kind;
	const char *arg; /* argument name for help: "PATH", "N" */
	const char *help;
	const char *const *choices; /* OPT_ENUM */
	long long min, max;         /* OPT_INT; min: OPT_DURATION's least seconds */
	const char *alias;          /* another accepted long name, or NULL */
};

#define MAX_OPTS 48
#define MAX_ARGS 16       /* values of one repeatable option */
#define MAX_POS_ARGS 1000 /* positional arguments (task wait: the server's task_ids limit) */

/* Parsed options of one command line: values indexed like the option table. */
struct parsed {
	const char *val[MAX_OPTS]; /* last value (OPT_BOOL: "1") */
	const char *list[MAX_OPTS][MAX_ARGS];
	size_t nlist[MAX_OPTS];
	const char *args[MAX_POS_ARGS]; /* positional arguments */
	size_t nargs;
	const struct cmd *cmd;
};

struct ctx;

#define CMD_NEEDS_AUTH 0x1   /* fail with exit 3 when no token is held */
#define CMD_HIDDEN 0x2       /* not listed in help */
#define CMD_NO_SHELL 0x4     /* not available inside `cynork shell` */
#define CMD_NO_CONFIG 0x8    /* runs without loading the config file */
#define CMD_OWN_PAGE 0x10    /* a top-level command with its own man page, cynork-NAME(1) */
#define CMD_ANY_CONTEXT 0x40 /* runs when the selected context is not in the file */
#define CMD_CSV 0x80         /* a list that prints -o csv (others refuse it) */
/*
 * The command passes a job's exit code through: always, or (with job_flags)
 * when one of those flags is given.  Then any failure of cynork's own,
 * usage errors included, exits EXIT_WAIT_FAILED (125).
 */
#define CMD_JOB_EXIT 0x20

/*
 * Positional arguments named "<task>" in usage complete to task names from
 * the server, "<node>" to node slugs; option arguments named PATH, FILE or
 * DIR complete to file names, OPT_ENUM to its choices.
 */
struct cmd {
	const char *path;    /* "task create" */
	const char *aliases; /* space-separated other names of the last word */
	const char *summary;
	const char *usage;      /* positional part: "<task>" */
	const struct opt *opts; /* terminated by a zeroed entry; may be NULL */
	int min_args, max_args;
	unsigned flags;
	/* Usage checks that must win over the auth precondition; may be NULL. */
	int (*check)(const struct parsed *p);
	int (*exec)(struct ctx *c, const struct parsed *p);
	/*
	 * Optional longer description for the man page and --help: plain text,
	 * paragraphs separated by a blank line.  May be left out of a row.
	 */
	const char *doc;
	/* With CMD_JOB_EXIT: the bool flags that make it wait for a job (NULL: always). */
	const char *const *job_flags;
};

/*
 * Global options and the resolved configuration, built once per process.
 * The five per-context keys below are the active context's: the file's
 * top level for the context "default" (every file before contexts
 * existed), or contexts.NAME's.
 */
struct cfg {
	char *path;
	char *gateway_url;
	char *token;
	char *refresh_token;
	char *credential_helper;
	char *ca_file; /* CA bundle verifying an https gateway */
	json_t *extra; /* unknown keys, kept on rewrite */
	bool loaded;
	char *helper_token;    /* from the credential helper (never written) */
	char *context;         /* the active context's name ("default": the top level) */
	char *current_context; /* the file's current_context (NULL: default) */
	json_t *contexts;      /* the file's named contexts: name -> {key: value} */
	json_t *top;           /* the top-level keys while a named context is active */
	bool context_unknown;  /* the active context is not in the file (yet) */
};
#define CFG_DEFAULT_CONTEXT "default"

struct ctx {
	const char *config_path; /* --config, CYNORK_CONFIG */
	const char *context_opt; /* --context */
	const char *output;      /* table|wide|text|json|yaml|name */
	bool output_given;       /* -o was given (else text on a terminal where a command has it) */
	bool quiet;
	bool no_color;
	struct cfg cfg;
	const char *gateway; /* effective gateway URL */
	const char *ca_file; /* effective CA bundle: --cacert, CYNORK_CA_FILE, ca_file */
	const char *token;   /* effective token (env wins) */
	bool token_from_env;
	bool helper_tried; /* credential helper asked once */
	bool cfg_ready;    /* cfg loaded (once per process or shell) */
	bool in_shell;     /* running a line of `cynork shell` */
	const char *user;  /* shell: logged-in user, for the prompt */
};

extern const struct cmd *const cmd_table[];
extern const size_t cmd_table_len;

/* cmd.c */
int cmd_main(int argc, char **argv);
/*
 * Runs one command line (argv without the program name) with the session
 * `sess`: its configuration is loaded on first use and kept, so the shell
 * resolves config and token once.  Global flags apply to this line only.
 */
int cmd_run(struct ctx *sess, int argc, char **argv);
void ctx_release(struct ctx *c);
extern const struct opt global_opts[];
const char *cmd_word(const struct cmd *cmd);
bool cmd_is_child(const struct cmd *cmd, const char *parent);
const struct cmd *cmd_find_child(const char *parent, const char *word);
const struct cmd *cmd_find(const char *path);
void help_print(FILE *out, const char *path, const struct cmd *cmd);
/* Finds an option by long name (or alias) or short letter; -1 if none. */
int opt_lookup(const struct opt *opts, const char *lng, char shrt);
bool opt_is_file(const struct opt *o);
const char *opt_get(const struct parsed *p, const char *name);
bool opt_set(const struct parsed *p, const char *name);
size_t opt_list(const struct parsed *p, const char *name, const char *const **out);
/* Prints "cynork: error: ..." to stderr and returns code. */
int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An impossible state (a programming error): says where and aborts. */
#define BUG(...) cynork_bug(__FILE__, __LINE__, __VA_ARGS__)
void cynork_bug(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));
void note(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Asks "<question>? [y/N]" on stderr unless the command's -y/--yes was
 * given; true to go on (y or Y).  False with *rc 0 for any other answer
 * ("nothing done" on stderr), or with *rc EXIT_USAGE (reported) when
 * standard input is not a terminal to ask on.
 */
bool confirm(struct ctx *c, const struct parsed *p, int *rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* -o json or -o yaml: one document on stdout (print_json writes the chosen one). */
bool out_json(const struct ctx *c);
bool out_name(const struct ctx *c);
/* -o csv: lists as RFC 4180 CSV (csv.c), every column, absent values empty. */
bool out_csv(const struct ctx *c);
/* -o wide: lists show their COL_WIDE columns too. */
bool out_wide(const struct ctx *c);
/*
 * The person-oriented view of a command that has one (task get, nodes get,
 * task result, task list): -o text, or no -o while stdout is a terminal.
 */
bool out_text(const struct ctx *c);

/* config.c */
int cfg_load(struct ctx *c);
/* Persists the session: the file, or the credential helper for the token. */
int cfg_save(struct ctx *c);
void cfg_release(struct cfg *cfg);
/* Sets c->token from CYNORK_TOKEN, the file, or the helper's answer. */
void cfg_resolve_token(struct ctx *c);
/* Asks the credential helper for the token once, when nothing else has one. */
int cfg_helper_fetch(struct ctx *c);
/* The directory of the config file (for history), or NULL. */
char *cfg_dir(const struct ctx *c);
/* A context name: 1 to 63 of [a-z0-9._-], starting with a letter or digit. */
bool cfg_context_name_ok(const char *name);
/* A gateway URL: http:// or https://, a host, no space or control character; else why not. */
const char *cfg_url_problem(const char *url);
/* Makes the active context (unknown until now) one of the file's, with no keys. */
void cfg_context_create(struct cfg *cfg);

/* credhelper.c: the credential helper protocol (spec/cli.md section 2). */
/* Asks the helper for the token; returns 0 (secret may be NULL) or an exit code. */
/* context: the named context the secret is for (sent as "context"), NULL for default. */
int credhelper_get(const char *helper, const char *context, char **secret);
int credhelper_store(const char *helper, const char *context, const char *secret);
int credhelper_erase(const char *helper, const char *context);

/* complete.c: the completion engine shared by `__complete` and the shell. */
enum comp_dir {
	COMP_DEFAULT,
	COMP_FILES,
	COMP_NOSPACE
};
/*
 * Candidates for the last word of words[0..n-1] (the command line without
 * the program name; words[n-1] is the partial word, maybe "").  Adds them
 * to cands (a JSON array of strings); returns the directive.
 */
enum comp_dir complete_words(struct ctx *c, int n, char **words, bool shell, json_t *cands);
int complete_main(int argc, char **argv);
/* Model ids from the gateway for the partial word cur (cached briefly, errors silent). */
void complete_models(struct ctx *c, const char *cur, json_t *cands);

/* shell.c, completion.c, man.c */
/* Set by Ctrl-C inside the shell: stops the running request (exit 130). */
extern volatile sig_atomic_t cynork_interrupted;
extern const struct cmd cmd_shell, cmd_completion, cmd_help, cmd_man;
/* man-text.c: the hand-written roff parts of cynork(1). */
extern const char man_description[], man_environment[], man_files[], man_credhelper[];
extern const char man_exit_status[], man_examples[], man_differences[];
/* man-output.c: OUTPUT and JSON OUTPUT of cynork(1). */
extern const char man_output[], man_json[];
/*
 * A top-level command with its own page (CMD_OWN_PAGE): the hand-written
 * roff of cynork-NAME(1) around the generated synopsis and options.
 */
struct man_own_page {
	const char *path;             /* the command */
	const char *description;      /* DESCRIPTION */
	void (*generated)(FILE *out); /* sections generated from a table, or NULL */
	const char *sections;         /* the remaining sections (.SH ...) */
};
extern const struct man_own_page man_own_pages[];
/* Writes text escaped for roff (dashes, backslashes, a leading dot). */
void man_roff(FILE *out, const char *s);

/* client.c */
/*
 * Calls the gateway.  body may be NULL; on success *out gets the parsed JSON
 * response (or NULL for an empty body) and EXIT_OK is returned.  On HTTP
 * errors the problem detail is printed and the exit code for the status is
 * returned.  With auth, the token is sent and refreshed once on a 401.
 */
int api_call(struct ctx *c, const char *method, const char *path, json_t *body, bool auth,
    json_t **out);
int api_call_h(struct ctx *c, const char *method, const char *path, json_t *body, bool auth,
    const char *const *headers, long timeout_ms, json_t **out, long *status);
/*
 * Sets o's TLS options for the gateway (the CA file); the first call warns
 * on stderr (unless -q) when the gateway is plain HTTP to another host.
 */
struct cy_httpc_opts;
void client_tls(struct ctx *c, struct cy_httpc_opts *o);
/*
 * POSTs size bytes of the file fd (from its start; streamed, never whole
 * in memory) to path as a raw body, like api_call otherwise.
 */
int api_upload(struct ctx *c, const char *path, int fd, long long size, const char *const *headers,
    json_t **out);
/* Reports a transport failure (cannot connect, timeout; EINTR: interrupted); the exit code. */
int api_transport_fail(struct ctx *c, const struct cy_error *err);

/*
 * A streamed call (chat replies): the body of a 2xx response goes to fn as
 * it arrives (fn returns non-zero to stop: err ECANCELED).  api_stream()
 * returns EXIT_OK when the whole 2xx body arrived; the exit code of an
 * error status, which it reports like api_call (the token refreshed once
 * on a 401); or -1 on a transport failure, not reported, with err set
 * (EINTR when abort_flag was set; `started` says whether fn got bytes).
 */
struct api_stream {
	const char *const *headers; /* extra "Name: value" lines or NULL */
	long timeout_ms;            /* whole request; 0: no limit */
	long idle_timeout_s;        /* fail when no byte came for this long; 0: none */
	volatile sig_atomic_t *abort_flag;
	int (*fn)(void *arg, const char *data, size_t len);
	void *arg;
	size_t max_response; /* the whole body's cap; 0: 64 MiB */
	/* results */
	long status;
	char content_type[128];
	bool started;
	struct cy_error err;
};
int api_stream(struct ctx *c, const char *method, const char *path, json_t *body,
    struct api_stream *s);
/* Percent-encodes a path segment into a new string. */
char *url_escape(const char *s);

/* csv.c: RFC 4180 fields (quoted when they hold , " CR LF or edge blanks) and records (CRLF). */
void csv_field(struct cy_buf *b, const char *s);
/* Whether a spreadsheet would run s as a formula (csv_field then prefixes '). */
bool csv_is_formula(const char *s);
void csv_record(struct cy_buf *b, const char *const *fields, size_t n);

/* query.c: the query string of filtered lists. */
/* RFC 3339 as given, or now minus a duration ("1h"): a new string, or NULL when neither. */
char *query_time(const char *v);
/* The time flags named by keys (NULL-terminated) parse: 0, or fail()'s exit code. */
int query_time_check(const struct parsed *p, const char *const *keys);
/* Appends "?key=value" or "&key=value", value escaped; nothing when value is NULL. */
void query_add(struct cy_buf *q, const char *key, const char *value);
/* query_add with a time flag's value made RFC 3339 (query_time). */
void query_add_time(struct cy_buf *q, const char *key, const char *value);

/* output.c */
/* Sets the document format print_json writes: JSON, or YAML for -o yaml. */
void out_set_yaml(bool yaml);
/* Starts/extends a record line: " key=value". */
void rec_add(struct cy_buf *line, const char *key, const char *value);
void rec_addll(struct cy_buf *line, const char *key, long long value);
int print_line(struct cy_buf *line);
/* Steals v; YAML under -o yaml (a second document of one command after "---"). */
int print_json(json_t *v);
/* yaml-out.c: v as a YAML document (block style) on f; 0 or -1. */
int yaml_dump(FILE *f, const json_t *v);
int out_flush(void);
/*
 * A thing as -o json shows it: a new object with the server's "id" named
 * key ("schedule_id", "webhook_id"), first, as the record lines and tables
 * call it (one name per thing); the other keys as they came.
 */
json_t *out_id_view(const json_t *o, const char *key);
/* out_id_view of each object of the array list: a new array. */
json_t *out_ids_view(const json_t *list, const char *key);
/* The string at key for a TAB table cell, "-" when absent or empty. */
const char *out_dash(const json_t *o, const char *key);

/*
 * table.c: a list as a table through libsmartcols.  Columns are a table
 * ending in a NULL name; each row gets exactly one cell per column (NULL or
 * "" prints "-").
 */
#define COL_WIDE 0x1  /* only with -o wide */
#define COL_TRUNC 0x2 /* may be cut to the terminal's width */
#define COL_RIGHT 0x4 /* numbers: aligned right */
#define COL_STATE 0x8 /* a state: coloured on a terminal */
#define COL_TIME 0x10 /* an RFC 3339 time: how long ago on a terminal ("5m ago") */
struct col {
	const char *name;
	unsigned flags;
};
struct out_table;
struct out_table *table_new(const struct ctx *c, const struct parsed *p, const struct col *cols);
void table_row(struct out_table *t);
void table_cell(struct out_table *t, const char *value);
void table_cellf(struct out_table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The string, integer or boolean at key of o as the next cell. */
void table_cell_key(struct out_table *t, const json_t *o, const char *key);
/* Prints the table and frees it; 0 or an exit code. */
int table_print(struct out_table *t);
/* True when standard output is a terminal. */
bool out_tty(void);
/* Colour on: stdout a terminal, no --no-color, no NO_COLOR. */
bool out_color(const struct ctx *c);
/* The colour name of a state (completed green, failed red, ...) or NULL. */
const char *state_color(const char *state);
/* "\033[32mSTATE\033[0m" when colour is on, else the state itself; caller frees. */
char *state_text(const struct ctx *c, const char *state);

/*
 * view.c: the task object of -o json (task_json_view: a new object from
 * the server's), the -o text views of task get and nodes get, and human
 * durations ("850ms", "1.2s", "3m 12s", "1h") and times ("... UTC (5s ago)").
 */
json_t *task_json_view(const json_t *srv);
/*
 * A CreateTask body (a schedule's task) as -o json shows it: the input
 * under the name of its mode (commands an array, script, or prompt) like
 * task_json_view, the other keys as they came.  A new object.
 */
json_t *task_body_view(const json_t *body);
int task_get_text(const struct ctx *c, const json_t *srv);
int nodes_get_text(const struct ctx *c, const json_t *n);
void fmt_duration(double seconds, struct cy_buf *out);
void fmt_when(const char *rfc3339, struct cy_buf *out);
/* How long ago, seconds since: "just now", "42s ago", "3m ago", "2h ago", "4d ago", "in 5m". */
void fmt_age(long long seconds, struct cy_buf *out);

/* cmd-models.c, shared with chat and completion */
/* GET /v1/models into *out (EXIT_OK), or the reported error's exit code. */
int models_get(struct ctx *c, long timeout_ms, json_t **out);
/* The model ids of a /v1/models answer, sorted: a new array of strings. */
json_t *models_ids(const json_t *res);

/* cmd-auth.c, shared with cmd-user.c */
/* Prompts on stderr and reads one line (echo off for secrets on a terminal). */
char *prompt(const char *label, bool secret);
/* All of stdin as a password, one trailing newline stripped; NULL when too long. */
char *password_from_stdin(void);

/*
 * input.c: a file flag's path must be a readable regular file (not a
 * symbolic link) of at most max bytes ("-", standard input, passes); then
 * its content, NUL bytes refused.  Both return 0 or fail()'s exit code.
 */
int check_file(const char *flag, const char *path, long long max);
int read_input(const char *flag, const char *path, size_t max, struct cy_buf *out);

/*
 * attach.c: the files of task create --attach.  A file is attached under
 * its base name, a directory as all the regular files below it under
 * <directory name>/<path inside it>.  attach_collect checks every path
 * (exists, readable, regular files only, no symlinks, safe unique names)
 * before anything is sent: 0 or fail()'s exit code (EXIT_USAGE).
 * attach_upload sends each (POST /v1/uploads with its X-Content-SHA256)
 * and returns the CreateTask attachments array in *out.
 */
struct attach_file {
	char *path;
	char *name;
	long long size;
};
struct attach_list {
	struct attach_file *v;
	size_t n, alloc;
};
int attach_collect(const char *const *args, size_t nargs, struct attach_list *out);
int attach_upload(struct ctx *c, const struct attach_list *l, json_t **out);
void attach_list_release(struct attach_list *l);

/* cmd-task.c, shared with cmd-task-create.c and cmd-task-wait.c */
/* The longest single long poll cynork asks for (the server allows 60). */
#define POLL_MAX_S 30
/* Seconds for the next long poll before `deadline` (cy_mono_ms; 0: none), 0 once passed. */
long long task_poll_seconds(int64_t deadline);
/* True for a terminal task status (completed, failed, canceled, superseded). */
bool task_status_ended(const char *status);
/* label: how progress names the task (its name), NULL for id. */
int task_wait_and_print(struct ctx *c, const char *id, const char *label, long long timeout_s,
    bool exit_status);

/*
 * progress.c: a wait's state changes on stderr when it is a terminal and
 * -q was not given ("task T: queued → running on node-01 → completed,
 * exit 0 after 1.2 s").  PROGRESS_LINE grows one line; PROGRESS_LINES
 * writes a line per change (the job's output comes between them).
 */
enum progress_mode {
	PROGRESS_LINE,
	PROGRESS_LINES
};
struct progress {
	bool on;
	enum progress_mode mode;
	char *task;      /* as the lines name it */
	char *ref;       /* as requests name it */
	char status[32]; /* the last status shown */
	int steps;
	int polled; /* long polls asked */
	int64_t t0; /* cy_mono_ms at the start of the wait */
};
/* ref: the task's id or name for requests; label: how the lines name it (NULL: ref). */
void progress_start(struct progress *pg, struct ctx *c, const char *ref, const char *label,
    enum progress_mode mode);
/* The long poll's seconds: at most a few while progress shows (pg may be NULL). */
long long progress_poll_s(struct progress *pg, long long wait);
/* Shows status if it changed (not an end state; running asks for the node). pg may be NULL. */
void progress_update(struct progress *pg, struct ctx *c, const char *status);
/* The end, from a task result: its status, exit code and the time waited. */
void progress_end(struct progress *pg, json_t *result);
void progress_release(struct progress *pg);
/* Ends an open progress line (before any other message on stderr). */
void progress_break(void);

/* cmd-task-create-job.c: the job's fields of task create (mode: the input mode). */
int create_job_check(const struct parsed *p, const char *mode);
void create_job_fields(const struct parsed *p, json_t *req);
int task_print_result(struct ctx *c, json_t *res);
/*
 * A job array's summary ({spec, cap, size, counts} of GET /v1/tasks/{id}):
 * "0-19%3: 20 elements, 12 completed, 3 running, 5 held"; caller frees.
 */
char *task_array_summary(const json_t *array);
int task_exit_code(json_t *res);
/*
 * Prints task's output of `stream` (stdout, stderr, all) as the job writes
 * it, until the task has ended (stderr's text to stderr when split);
 * extra is appended to the query ("" or "&index=N": one array element).
 */
struct progress;
int task_logs_follow(struct ctx *c, const char *task, const char *stream, const char *extra,
    bool split, struct progress *pg);
/* task create --follow: the output as it comes, then the job's exit code. */
int task_attach(struct ctx *c, const char *id, const char *label);

#endif
