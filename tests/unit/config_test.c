/*
 * Unit tests for lib/config.c: YAML written to temporary files is loaded
 * against a sample table covering every key type; checks defaults, the
 * file < environment < cy_config_set precedence, every error message with
 * its line number, free-form objects, --print-config output with secrets
 * redacted, cy_config_diff (what changed, split by the reloadable flag,
 * secrets by path only), and that cy_config_release frees and zeroes (run
 * under SANITIZE=1 for leaks).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "json.h"
#include "tap.h"
#include "banned.h"

struct tcfg {
	long long version;
	char *url;
	long long connect;
	char *id;
	struct cy_strlist labels;
	json_t *meta;
	long long port;
	bool rootless;
	char *mode;
	char *secret;
	char *name;
};

static const char *const modes[] = { "allow", "sandbox_only", "disabled", NULL };

/* clang-format off */
static const struct cy_cfg_key keys[] = {
	{ .path = "version", .type = CY_CFG_INT, .offset = offsetof(struct tcfg, version),
	  .min = 1, .max = 1, .required = true, .help = "config format version" },
	{ .path = "orchestrator.url", .type = CY_CFG_STR, .offset = offsetof(struct tcfg, url),
	  .env = "T_URL", .required = true, .help = "orchestrator base URL" },
	{ .path = "orchestrator.timeouts.connect", .type = CY_CFG_DURATION,
	  .offset = offsetof(struct tcfg, connect), .def = "5s", .min = 1, .max = 3600,
	  .env = "T_CONNECT" },
	{ .path = "node.id", .type = CY_CFG_STR, .offset = offsetof(struct tcfg, id),
	  .required = true },
	{ .path = "node.labels", .type = CY_CFG_STRLIST, .offset = offsetof(struct tcfg, labels),
	  .def = "a, b", .env = "T_LABELS" },
	{ .path = "node.metadata", .type = CY_CFG_OBJECT, .offset = offsetof(struct tcfg, meta) },
	{ .path = "worker_api.listen_port", .type = CY_CFG_INT,
	  .offset = offsetof(struct tcfg, port), .def = "12090", .min = 1, .max = 65535,
	  .env = "T_PORT" },
	{ .path = "sandbox.rootless", .type = CY_CFG_BOOL,
	  .offset = offsetof(struct tcfg, rootless), .def = "true" },
	{ .path = "sandbox.mode", .type = CY_CFG_ENUM, .offset = offsetof(struct tcfg, mode),
	  .def = "allow", .choices = modes, .reloadable = true },
	{ .path = "auth.secret", .type = CY_CFG_STR, .offset = offsetof(struct tcfg, secret),
	  .env = "T_SECRET", .secret = true },
	{ .path = "node.name", .type = CY_CFG_STR, .offset = offsetof(struct tcfg, name) },
};
/* clang-format on */
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

#define MIN_YAML "version: 1\norchestrator:\n  url: http://o:12082\nnode:\n  id: n1\n"

static char tmpdir[] = "/tmp/cy-config-test-XXXXXX";
static char path[512];
static char msg[600];

static void
write_file(const char *text)
{
	FILE *f;

	xsnprintf(path, sizeof(path), "%s/node.yaml", tmpdir);
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
}

/* Loads text from a file; msg gets the error with the file name replaced by "F". */
static int
load(const char *text, struct tcfg *c)
{
	struct cy_error err = CY_ERROR_INIT;
	size_t n;
	int rc;

	write_file(text);
	memset(c, 0, sizeof(*c));
	rc = cy_config_load(path, true, keys, NKEYS, c, &err);
	n = strlen(path);
	if (strncmp(err.msg, path, n) == 0)
		xsnprintf(msg, sizeof(msg), "F%s", err.msg + n);
	else
		xsnprintf(msg, sizeof(msg), "%s", err.msg);
	return rc;
}

static void
clear_env(void)
{
	unsetenv("T_URL");
	unsetenv("T_CONNECT");
	unsetenv("T_LABELS");
	unsetenv("T_PORT");
	unsetenv("T_SECRET");
}

static void
test_good_file(void)
{
	struct tcfg c;
	int rc;

	rc = load("# comment\n"
		  "version: 1\n"
		  "orchestrator:\n"
		  "  url: \"http://o:12082\"\n"
		  "  timeouts:\n"
		  "    connect: 15m\n"
		  "node:\n"
		  "  id: n1\n"
		  "  labels: [x, \"y z\"]\n"
		  "  metadata:\n"
		  "    rack: 7\n"
		  "    ok: true\n"
		  "    tag: '5'\n"
		  "    nested: {a: [1, 2.5, b], c: ~}\n"
		  "worker_api:\n"
		  "  listen_port: \"8080\"\n"
		  "sandbox:\n"
		  "  rootless: Off\n"
		  "  mode: sandbox_only\n"
		  "auth:\n"
		  "  secret: s3cret\n",
	    &c);
	is_int(rc, 0, "good file loads");
	is_str(msg, "", "no error");
	is_int(c.version, 1, "int");
	is_str(c.url, "http://o:12082", "quoted string");
	is_int(c.connect, 900, "duration 15m");
	is_str(c.id, "n1", "nested string");
	is_int(c.labels.n, 2, "list length");
	ok(cy_strlist_has(&c.labels, "y z") && cy_strlist_has(&c.labels, "x"), "list items");
	ok(!cy_strlist_has(&c.labels, "a"), "default list replaced");
	is_int(c.port, 8080, "quoted integer accepted");
	ok(!c.rootless, "bool Off");
	is_str(c.mode, "sandbox_only", "enum");
	is_str(c.secret, "s3cret", "secret string");
	ok(json_is_object(c.meta), "object");
	ok(json_integer_value(json_object_get(c.meta, "rack")) == 7, "object integer");
	ok(json_is_true(json_object_get(c.meta, "ok")), "object bool");
	ok(json_is_string(json_object_get(c.meta, "tag")), "quoted scalar stays a string");
	ok(json_is_array(json_object_get(json_object_get(c.meta, "nested"), "a")),
	    "object nested array");
	ok(json_is_null(json_object_get(json_object_get(c.meta, "nested"), "c")), "object null");
	cy_config_release(keys, NKEYS, &c);
	ok(!c.url && !c.id && !c.meta && !c.labels.v && !c.labels.n && !c.mode && !c.secret,
	    "release zeroes owned fields");
}

static void
test_defaults(void)
{
	struct tcfg c;

	is_int(load(MIN_YAML, &c), 0, "minimal file loads");
	is_int(c.connect, 5, "duration default");
	is_int(c.labels.n, 2, "list default");
	ok(cy_strlist_has(&c.labels, "a") && cy_strlist_has(&c.labels, "b"),
	    "list default items trimmed");
	is_int(c.port, 12090, "int default");
	ok(c.rootless, "bool default");
	is_str(c.mode, "allow", "enum default");
	ok(c.secret == NULL && c.name == NULL && c.meta == NULL, "unset defaults");
	cy_config_release(keys, NKEYS, &c);

	is_int(load(MIN_YAML "sandbox:\n  mode:\n", &c), 0, "null value keeps default");
	is_str(c.mode, "allow", "null value keeps default value");
	cy_config_release(keys, NKEYS, &c);
}

static void
test_empty(void)
{
	struct cy_error err = CY_ERROR_INIT;
	struct tcfg c;

	setenv("T_URL", "http://env", 1);
	is_int(load("", &c), -1, "empty file: required keys missing");
	is_str(msg, "F: missing required key 'version'", "empty file message");
	cy_config_release(keys, NKEYS, &c);
	is_int(load("# only a comment\n---\n", &c), -1, "comment-only file");
	is_str(msg, "F: missing required key 'version'", "comment-only message");
	cy_config_release(keys, NKEYS, &c);
	clear_env();

	memset(&c, 0, sizeof(c));
	is_int(cy_config_load_mem("m", "", 0, keys, 3, &c, &err), -1, "mem: missing");
	is_str(err.msg, "m: missing required key 'version'", "mem message");
	cy_config_release(keys, NKEYS, &c);

	memset(&c, 0, sizeof(c));
	is_int(cy_config_load("/nonexistent/x.yaml", false, keys + 2, 1, &c, &err), 0,
	    "missing optional file is fine");
	is_int(c.connect, 5, "missing file: defaults");
	is_int(cy_config_load("/nonexistent/x.yaml", true, keys + 2, 1, &c, &err), -1,
	    "missing required file");
	is_str(err.msg, "/nonexistent/x.yaml: no such file", "missing file message");
	cy_config_release(keys, NKEYS, &c);
}

static void
test_env(void)
{
	struct cy_error err = CY_ERROR_INIT;
	struct tcfg c;

	setenv("T_URL", "http://env:1", 1);
	setenv("T_CONNECT", "1h", 1);
	setenv("T_LABELS", " p ,q,, r", 1);
	setenv("T_PORT", "9000", 1);
	is_int(load(MIN_YAML "worker_api:\n  listen_port: 1234\n", &c), 0, "env loads");
	is_str(c.url, "http://env:1", "env beats file");
	is_int(c.connect, 3600, "env duration beats default");
	is_int(c.labels.n, 3, "env list comma-separated");
	ok(cy_strlist_has(&c.labels, "r") && cy_strlist_has(&c.labels, "p"), "env list items");
	is_int(c.port, 9000, "env int beats file");

	is_int(cy_config_set(keys, NKEYS, &c, "worker_api.listen_port", "7", "--port", &err), 0,
	    "set int");
	is_int(c.port, 7, "set beats env");
	is_int(cy_config_set(keys, NKEYS, &c, "orchestrator.url", "http://x", NULL, &err), 0,
	    "set string frees previous");
	is_str(c.url, "http://x", "set string");
	is_int(cy_config_set(keys, NKEYS, &c, "sandbox.mode", "disabled", "--mode", &err), 0,
	    "set enum");
	is_str(c.mode, "disabled", "set enum value");
	is_int(cy_config_set(keys, NKEYS, &c, "node.metadata", "{\"a\": 1}", "--meta", &err), 0,
	    "set object from JSON");
	ok(json_integer_value(json_object_get(c.meta, "a")) == 1, "set object value");
	is_int(cy_config_set(keys, NKEYS, &c, "worker_api.listen_port", "0", "--port", &err), -1,
	    "set out of range");
	is_str(err.msg, "--port: 'worker_api.listen_port' wants an integer between 1 and 65535",
	    "set error names origin");
	is_int(c.port, 7, "failed set keeps value");
	is_int(cy_config_set(keys, NKEYS, &c, "nope", "1", "--nope", &err), -1, "set unknown");
	is_str(err.msg, "--nope: unknown key 'nope'", "set unknown message");
	cy_config_release(keys, NKEYS, &c);
	clear_env();

	setenv("T_CONNECT", "soon", 1);
	is_int(load(MIN_YAML, &c), -1, "bad env duration");
	is_str(msg,
	    "environment T_CONNECT: 'orchestrator.timeouts.connect' wants a duration "
	    "such as 30s, 15m or 168h",
	    "env error names variable");
	cy_config_release(keys, NKEYS, &c);
	setenv("T_CONNECT", "2h", 1);
	is_int(load(MIN_YAML, &c), -1, "env duration out of range");
	is_str(msg,
	    "environment T_CONNECT: 'orchestrator.timeouts.connect' wants a duration "
	    "between 1s and 1h",
	    "env duration range message");
	cy_config_release(keys, NKEYS, &c);
	clear_env();

	setenv("T_URL", "http://only-env", 1);
	is_int(load("version: 1\nnode: {id: n}\n", &c), 0, "required key from env");
	is_str(c.url, "http://only-env", "required env value");
	cy_config_release(keys, NKEYS, &c);
	clear_env();
}

struct err_case {
	const char *yaml;
	const char *want;
};

static void
test_errors(void)
{
	/* clang-format off */
	static const struct err_case cases[] = {
		{ .yaml = MIN_YAML "nodes:\n  x: 1\n", .want = "F:6: unknown key 'nodes'" },
		{ .yaml = MIN_YAML "sandbox:\n  foo:\n    bar: 1\n",
	  .want = "F:7: unknown key 'sandbox.foo'" },
		{ .yaml = MIN_YAML "worker_api:\n  listen_port: many\n",
	  .want = "F:7: 'worker_api.listen_port' wants an integer between 1 and 65535" },
		{ .yaml = MIN_YAML "worker_api:\n  listen_port: 70000\n",
	  .want = "F:7: 'worker_api.listen_port' wants an integer between 1 and 65535" },
		{ .yaml = MIN_YAML "worker_api:\n  listen_port: 99999999999999999999999999\n",
	  .want = "F:7: 'worker_api.listen_port' wants an integer between 1 and 65535" },
		{ .yaml = "version: 2\n", .want = "F:1: 'version' wants an integer between 1 and 1" },
		{ .yaml = MIN_YAML "sandbox:\n  mode: maybe\n",
	  .want = "F:7: 'sandbox.mode' wants one of: allow, sandbox_only, disabled" },
		{ .yaml = MIN_YAML "sandbox:\n  rootless: perhaps\n",
	  .want = "F:7: 'sandbox.rootless' wants a boolean (true/false, yes/no, on/off)" },
		{ .yaml = MIN_YAML "  labels: x\n",
	  .want = "F:6: 'node.labels' wants a list of strings, not a scalar" },
		{ .yaml = MIN_YAML "  labels:\n  - [a]\n",
	  .want = "F:7: 'node.labels' wants a list of strings, not a list of lists" },
		{ .yaml = MIN_YAML "  name:\n    first: a\n",
	  .want = "F:7: 'node.name' wants a string, not a mapping" },
		{ .yaml = MIN_YAML "  name: [a]\n", .want = "F:6: 'node.name' wants a string, not a list" },
		{ .yaml = MIN_YAML "  metadata: 5\n",
	  .want = "F:6: 'node.metadata' wants a mapping, not a scalar" },
		{ .yaml = MIN_YAML "sandbox: 5\n", .want = "F:6: 'sandbox' wants a mapping, not a scalar" },
		{ .yaml = "version: 1\norchestrator:\n  url: x\n",
	  .want = "F: missing required key 'node.id'" },
		{ .yaml = "node:\n  id: a\n  id: b\n", .want = "F:3: duplicate key 'node.id'" },
		{ .yaml = "node:\n  id: a\nversion: 1\nnode:\n  name: b\n",
	  .want = "F:4: duplicate key 'node'" },
		{ .yaml = "node:\n  metadata: {a: 1, a: 2}\n", .want = "F:2: duplicate key 'a'" },
		{ .yaml = "version: 1\nnode:\n  id: \"abc\n",
	  .want = "F:4: yaml: found unexpected end of stream while scanning a "
	  "quoted scalar" },
		{ .yaml = "version: 1\nnode:\n  id: a\n b: c\n",
	  .want = "F:4: yaml: did not find expected key while parsing a "
	  "block mapping" },
		{ .yaml = "node:\n  id: &x a\n  name: *x\n", .want = "F:3: YAML aliases are not supported" },
		{ .yaml = "- 1\n- 2\n", .want = "F:1: the top level must be a mapping, not a list" },
		{ .yaml = "hello\n", .want = "F:1: the top level must be a mapping, not a scalar" },
		{ .yaml = MIN_YAML "---\nversion: 1\n", .want = "F:6: only one YAML document is allowed" },
		{ .yaml = "[1]: 2\n", .want = "F:1: mapping keys must be strings" },
		{ .yaml = "version: 1\n\"\\0\": 2\n", .want = "F:2: mapping keys must be strings" },
		{ .yaml = MIN_YAML "orchestrator:\n", .want = "F:6: duplicate key 'orchestrator'" },
		{ .yaml = MIN_YAML "orchestrator.url: y\n",
	  .want = "F:6: duplicate key 'orchestrator.url'" },
		{ .yaml = "orchestrator:\n  timeouts:\n    connect: 2h\n",
	  .want = "F:3: 'orchestrator.timeouts.connect' wants a duration between 1s and 1h" },
		{ .yaml = "version: 1\n\xff\xfe: 2\n" },
	};
	/* clang-format on */
	struct tcfg c;
	char name[64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		xsnprintf(name, sizeof(name), "error case %zu fails", i);
		is_int(load(cases[i].yaml, &c), -1, name);
		xsnprintf(name, sizeof(name), "error case %zu message", i);
		if (cases[i].want)
			is_str(msg, cases[i].want, name);
		else
			ok(strncmp(msg, "F:2: yaml: ", 11) == 0, "%s (%s)", name, msg);
		cy_config_release(keys, NKEYS, &c);
	}
}

static void
test_garbage(void)
{
	struct cy_error err = CY_ERROR_INIT;
	char deep[400], junk[256];
	struct tcfg c;
	size_t i;

	/* Deep nesting under an object is refused, not recursed into. */
	xsnprintf(deep, sizeof(deep), "node:\n  metadata:\n    a: ");
	for (i = strlen(deep); i < sizeof(deep) - 100; i++)
		deep[i] = '[';
	deep[i] = '\0';
	memset(&c, 0, sizeof(c));
	is_int(cy_config_load_mem("d", deep, strlen(deep), keys, NKEYS, &c, &err), -1,
	    "deep nesting refused");
	ok(strstr(err.msg, "nesting deeper than") != NULL, "deep nesting message: %s", err.msg);
	cy_config_release(keys, NKEYS, &c);

	/* Binary junk: an error, never a crash. */
	srand(42);
	for (i = 0; i < 200; i++) {
		size_t j;

		for (j = 0; j < sizeof(junk); j++)
			junk[j] = (char)(rand() & 0xff);
		memset(&c, 0, sizeof(c));
		cy_config_load_mem("j", junk, sizeof(junk), keys, NKEYS, &c, &err);
		cy_config_release(keys, NKEYS, &c);
	}
	ok(1, "binary junk survives");
}

static void
test_print(void)
{
	char *buf = NULL;
	size_t len = 0;
	struct tcfg c;
	FILE *f;

	is_int(load(MIN_YAML "auth:\n  secret: hunter2\nnode:\n", &c), -1, "(duplicate node key)");
	cy_config_release(keys, NKEYS, &c);
	is_int(load("version: 1\norchestrator:\n  url: http://o:12082\nnode:\n  id: \"yes\"\n"
		    "  name: \"a b\"\n  metadata: {k: v}\nauth:\n  secret: hunter2\n",
		   &c),
	    0, "print: loads");
	f = open_memstream(&buf, &len);
	cy_config_print(f, keys, NKEYS, &c);
	fclose(f);
	is_str(buf,
	    "version: 1  # config format version\n"
	    "orchestrator:\n"
	    "  url: http://o:12082  # orchestrator base URL\n"
	    "  timeouts:\n"
	    "    connect: 5s\n"
	    "node:\n"
	    "  id: \"yes\"\n"
	    "  labels: [a, b]\n"
	    "  metadata: {\"k\": \"v\"}\n"
	    "  name: \"a b\"\n"
	    "worker_api:\n"
	    "  listen_port: 12090\n"
	    "sandbox:\n"
	    "  rootless: true\n"
	    "  mode: allow\n"
	    "auth:\n"
	    "  secret: \"<redacted>\"\n",
	    "print output");
	ok(strstr(buf, "hunter2") == NULL, "secret not printed");
	free(buf);

	/* The printed form loads back to the same values. */
	buf = NULL;
	f = open_memstream(&buf, &len);
	cy_config_print(f, keys, NKEYS, &c);
	fclose(f);
	cy_config_release(keys, NKEYS, &c);
	is_int(load(buf, &c), 0, "printed config loads back");
	is_str(c.id, "yes", "round trip quoted word");
	is_str(c.name, "a b", "round trip spaced string");
	is_int(c.connect, 5, "round trip duration");
	free(buf);
	cy_config_release(keys, NKEYS, &c);
}

#define Y2J(text, j, err) cy_yaml_to_json("doc", text, strlen(text), j, err)

static void
test_yaml_to_json(void)
{
	struct cy_error err = CY_ERROR_INIT;
	static const char doc[] =
	    "policy:\n  sandbox:\n    allowed_images: [host, 'busybox']\n"
	    "    allow_privileged: false\nconstraints:\n  max_concurrency: 2\n  ratio: 0.5\n"
	    "notes: \"7\"\nempty: ~\n";
	json_t *j = NULL;

	ok(cy_yaml_to_json("doc", doc, strlen(doc), &j, &err) == 0, "a mapping converts");
	ok(json_is_array(cy_json_path(j, "policy.sandbox.allowed_images")), "flow list");
	ok(json_is_false(cy_json_path(j, "policy.sandbox.allow_privileged")), "boolean");
	ok(json_integer_value(cy_json_path(j, "constraints.max_concurrency")) == 2, "integer");
	ok(json_is_real(cy_json_path(j, "constraints.ratio")), "real");
	ok(json_is_string(json_object_get(j, "notes")), "quoted number stays a string");
	ok(json_is_null(json_object_get(j, "empty")), "~ is null");
	json_decref(j);
	ok(Y2J("{\"a\": [1, 2]}", &j, &err) == 0 && json_is_object(j), "JSON is YAML");
	json_decref(j);
	ok(Y2J("- 1\n- x\n", &j, &err) == 0 && json_is_array(j), "a list at the top");
	json_decref(j);
	ok(Y2J("", &j, &err) < 0 && j == NULL, "empty refused");
	ok(Y2J("a: 1\n---\nb: 2\n", &j, &err) < 0 && strstr(err.msg, "only one") != NULL,
	    "two documents refused");
	ok(Y2J("a: &x 1\nb: *x\n", &j, &err) < 0 && strstr(err.msg, "doc:2") != NULL,
	    "alias refused with its line");
	ok(Y2J("a: [1,\n", &j, &err) < 0 && strstr(err.msg, "doc:") != NULL,
	    "syntax error names the document");
	ok(Y2J("a: 1\na: 2\n", &j, &err) < 0 && strstr(err.msg, "duplicate") != NULL,
	    "duplicate key refused");
}

/* diff_of A B RELOADABLE: the paths cy_config_diff gives between two files. */
static size_t
diff_of(const char *a, const char *b, bool reloadable, char *out, size_t outsz)
{
	struct cy_buf d = CY_BUF_INIT;
	struct tcfg ca, cb;
	size_t n;

	if (load(a, &ca) < 0 || load(b, &cb) < 0) {
		xsnprintf(out, outsz, "load failed: %s", msg);
		return 999;
	}
	n = cy_config_diff(keys, NKEYS, &ca, &cb, reloadable, &d);
	xsnprintf(out, outsz, "%s", d.len ? d.buf : "");
	cy_buf_release(&d);
	cy_config_release(keys, NKEYS, &ca);
	cy_config_release(keys, NKEYS, &cb);
	return n;
}

static void
test_diff(void)
{
	char out[512];

	is_int(diff_of(MIN_YAML, MIN_YAML, false, out, sizeof(out)), 0, "same file: no change");
	is_str(out, "", "nothing named");
	is_int(diff_of(MIN_YAML, MIN_YAML, true, out, sizeof(out)), 0, "no reloadable change");
	is_int(diff_of(MIN_YAML "  labels: [a, c]\n  metadata: {k: 1}\n",
		   MIN_YAML "  labels: [a, d]\n  metadata: {k: 2}\n", false, out, sizeof(out)),
	    2, "a list item and an object member changed");
	is_str(out, "node.labels,node.metadata", "both named in table order");
	is_int(diff_of(MIN_YAML, MIN_YAML "  metadata: {}\n", false, out, sizeof(out)), 0,
	    "an empty object is no object");
	is_int(diff_of(MIN_YAML "auth:\n  secret: one\nsandbox:\n  rootless: true\n",
		   "version: 1\norchestrator:\n  url: http://p:1\n  timeouts:\n    connect: 6s\n"
		   "node:\n  id: n1\nworker_api:\n  listen_port: 1\nauth:\n  secret: two\n"
		   "sandbox:\n  rootless: false\n  mode: disabled\n",
		   false, out, sizeof(out)),
	    5, "string, duration, int, secret, bool changed");
	is_str(out,
	    "orchestrator.url,orchestrator.timeouts.connect,worker_api.listen_port,sandbox.rootless,"
	    "auth.secret",
	    "named by path, the secret's value nowhere");
	is_int(diff_of(MIN_YAML, MIN_YAML "sandbox:\n  mode: disabled\n", true, out, sizeof(out)),
	    1, "the reloadable key apart");
	is_str(out, "sandbox.mode", "named");
	is_int(diff_of(MIN_YAML, MIN_YAML "sandbox:\n  mode: disabled\n", false, out, sizeof(out)),
	    0, "not among the others");
}

int
main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	clear_env();
	RUN_TEST(test_good_file);
	RUN_TEST(test_defaults);
	RUN_TEST(test_empty);
	RUN_TEST(test_env);
	RUN_TEST(test_errors);
	RUN_TEST(test_garbage);
	RUN_TEST(test_print);
	RUN_TEST(test_yaml_to_json);
	RUN_TEST(test_diff);
	unlink(path);
	rmdir(tmpdir);
	return tap_done();
}
