/*
 * cynork task create: exactly one input mode (-p/-t text, -f task file,
 * -s script, --command..., --commands-file), file checks before any request
 * (regular file, no symlink, readable, size limits; `-` reads stdin), the
 * job's environment (--env, --env-file, --secret: names checked before any
 * request), then POST /v1/tasks and, with --wait, the job's own exit code.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "arrayspec.h"
#include "cynork.h"
#include "id.h"
#include "dotenv.h"
#include "jobenv.h"
#include "json.h"
#include "relpath.h"
#include "task-body.h"
#include "timeutil.h"
#include "banned.h"

#define TASK_FILE_MAX (1024 * 1024)
#define SCRIPT_MAX (256 * 1024)
#define COMMANDS_FILE_MAX (64 * 1024)
#define ENV_FILE_MAX (256 * 1024)

const char *const task_mode_choices[] = { "prompt", "script", "commands", NULL };
const char *const task_network_choices[] = { "restricted", "none", "host", NULL };
static const char *const mode_flags[] = { "prompt", "task", "task-file", "script", "command",
	"commands-file", NULL };

static void drop_blank_lines(struct cy_buf *in, struct cy_buf *out);

/*
 * The job's environment from --env-file (each file in order) and --env
 * K=V (after them, so they win) into env; its secrets from --secret
 * NAME[=VAR] into refs ([{name, env}]) when refs is not NULL.  Names are
 * checked as the server does: exit 64 with the reason.
 */
static int
env_collect(const struct parsed *p, json_t *env, json_t *refs)
{
	struct cy_buf text = CY_BUF_INIT, why = CY_BUF_INIT;
	const char *const *list;
	size_t i, n;
	int rc = 0;

	n = opt_list(p, "env-file", &list);
	for (i = 0; i < n && rc == 0; i++) {
		cy_buf_reset(&text);
		if ((rc = read_input("env-file", list[i], ENV_FILE_MAX, &text)) != 0)
			break;
		if (dotenv_parse(text.buf, text.len, list[i], env, &why) < 0)
			rc = fail(EXIT_USAGE, "--env-file %s", why.buf);
	}
	cy_buf_release(&text);
	cy_buf_release(&why);
	n = opt_list(p, "env", &list);
	for (i = 0; i < n && rc == 0; i++) {
		const char *eq = strchr(list[i], '=');
		char *k = eq ? xstrndup(list[i], (size_t)(eq - list[i])) : xstrdup(list[i]);

		if (!eq)
			rc = fail(EXIT_USAGE, "invalid value '%s' for --env: want KEY=VALUE",
			    list[i]);
		else if (!cy_env_name_valid(k))
			rc = fail(EXIT_USAGE, "invalid value '%s' for --env: '%s' is not %s",
			    list[i], k, CY_ENV_NAME_SHAPE);
		else if (cy_env_name_reserved(k))
			rc = fail(EXIT_USAGE,
			    "--env %s: the name is reserved (the node sets CYNODE_* and INFERENCE_PROXY_URL)",
			    k);
		else
			json_object_set_new(env, k, json_string(eq + 1));
		free(k);
	}
	n = opt_list(p, "secret", &list);
	for (i = 0; i < n && rc == 0; i++) {
		const char *eq = strchr(list[i], '=');
		char *name = eq ? xstrndup(list[i], (size_t)(eq - list[i])) : xstrdup(list[i]);
		const char *var = eq ? eq + 1 : name;

		if (!cy_secret_name_valid(name))
			rc = fail(EXIT_USAGE, "invalid value '%s' for --secret: '%s' is not %s",
			    list[i], name, CY_SECRET_NAME_SHAPE);
		else if (!cy_env_name_valid(var) || cy_env_name_reserved(var))
			rc = fail(EXIT_USAGE,
			    "invalid value '%s' for --secret: '%s' is not a variable name a job may set",
			    list[i], var);
		else if (json_object_get(env, var))
			rc = fail(EXIT_USAGE, "variable '%s' is set by --env and by --secret %s",
			    var, list[i]);
		else if (refs)
			json_array_append_new(refs,
			    json_pack("{s:s, s:s}", "name", name, "env", var));
		free(name);
	}
	return rc;
}

/*
 * --after TASK[:COND]: the condition is the part after the last ':' when it
 * is ok, notok or any (a task name may hold ':' otherwise).
 */
static bool
after_split(const char *arg, char *task, size_t size, const char **cond)
{
	const char *colon = strrchr(arg, ':');
	size_t n = strlen(arg);

	*cond = "ok";
	if (colon && (!strcmp(colon + 1, "ok") || !strcmp(colon + 1, "notok") ||
			 !strcmp(colon + 1, "any"))) {
		*cond = colon + 1;
		n = (size_t)(colon - arg);
	}
	if (n == 0 || n >= size || n > 200)
		return false;
	memcpy(task, arg, n);
	task[n] = '\0';
	return true;
}

static json_t *
after_json(const struct parsed *p)
{
	const char *const *list, *cond;
	size_t i, n = opt_list(p, "after", &list);
	json_t *arr = json_array();
	char task[256];

	for (i = 0; i < n; i++)
		if (after_split(list[i], task, sizeof(task), &cond))
			json_array_append_new(arr,
			    json_pack("{s:s, s:s}", "task", task, "condition", cond));
	return arr;
}

#define JOB_SPEC_MAX (1024 * 1024)

/* The --job-spec file as JSON: an object, else NULL and a usage error printed. */
static json_t *
sba_spec_read(const struct parsed *p, int *rc)
{
	struct cy_buf text = CY_BUF_INIT;
	json_error_t e;
	json_t *v = NULL;

	*rc = read_input("job-spec", opt_get(p, "job-spec"), JOB_SPEC_MAX, &text);
	if (*rc == 0) {
		v = json_loadb(text.buf ? text.buf : "", text.len, 0, &e);
		if (!json_is_object(v)) {
			*rc = fail(EXIT_USAGE, "--job-spec '%s': %s", opt_get(p, "job-spec"),
			    v ? "want a JSON object" : e.text);
			json_decref(v);
			v = NULL;
		}
	}
	cy_buf_release(&text);
	return v;
}

/*
 * --job-spec: a readable file of a JSON object, with prompt input or none
 * (a spec from stdin cannot share it with -f -).  The server checks the
 * spec's members (job_spec_json.*).
 */
static int
sba_spec_check(const struct parsed *p, size_t modes)
{
	const char *f = opt_get(p, "job-spec");
	json_t *v;
	int rc;

	if (!f || !*f)
		return fail(EXIT_USAGE, "--job-spec needs a file (- reads stdin)");
	if (strcmp(f, "-") == 0) {
		if (opt_get(p, "task-file") && !strcmp(opt_get(p, "task-file"), "-"))
			return fail(EXIT_USAGE, "--job-spec - and -f - cannot both read stdin");
		return 0; /* read once, when the request is built */
	}
	if ((rc = check_file("job-spec", f, JOB_SPEC_MAX)) != 0)
		return rc;
	(void)modes;
	v = sba_spec_read(p, &rc);
	json_decref(v);
	return rc;
}

/* Caches the spec: stdin can be read once. */
static json_t *sba_spec_cached;

static json_t *
sba_spec_load(const struct parsed *p)
{
	int rc;

	if (!sba_spec_cached)
		sba_spec_cached = sba_spec_read(p, &rc);
	return json_incref(sba_spec_cached);
}

/* The task text of an agent job given by its spec alone: the goal, else the file's name. */
static int
sba_spec_text(const struct parsed *p, struct cy_buf *text)
{
	json_t *v = sba_spec_load(p);
	const char *goal = v ? cy_json_str(v, "goal") : NULL;

	if (!v)
		return EXIT_USAGE;
	if (goal && *goal)
		cy_buf_addstr(text, goal);
	else
		cy_buf_addf(text, "agent job (%s)", opt_get(p, "job-spec"));
	json_decref(v);
	return 0;
}

int
task_body_check(const struct parsed *p)
{
	const char *const *list, *mode;
	size_t i, n, modes = 0;
	int rc;

	for (i = 0; mode_flags[i]; i++)
		modes += opt_set(p, mode_flags[i]);
	if (opt_set(p, "job-spec") && (rc = sba_spec_check(p, modes)) != 0)
		return rc;
	if (modes == 0 && !opt_set(p, "job-spec"))
		return fail(EXIT_USAGE,
		    "give one input: -p TEXT, -f FILE, -s SCRIPT, --command CMD or --commands-file FILE");
	if (modes > 1)
		return fail(EXIT_USAGE,
		    "give only one of -p/--prompt, -t/--task, -f/--task-file, -s/--script, --command, --commands-file");
	n = opt_list(p, "command", &list);
	for (i = 0; i < n; i++)
		if (list[i][strspn(list[i], " \t\r\n")] == '\0')
			return fail(EXIT_USAGE, "--command '%s' is empty", list[i]);
	if (opt_get(p, "project-id") && !cy_uuid_valid(opt_get(p, "project-id")))
		return fail(EXIT_USAGE, "invalid value '%s' for --project-id: want a UUID",
		    opt_get(p, "project-id"));
	if ((opt_get(p, "prompt") && !*opt_get(p, "prompt")) ||
	    (opt_get(p, "task") && !*opt_get(p, "task")))
		return fail(EXIT_USAGE, "the task text is empty");
	if (opt_get(p, "task-file") &&
	    (rc = check_file("task-file", opt_get(p, "task-file"), TASK_FILE_MAX)))
		return rc;
	if (opt_get(p, "script") && (rc = check_file("script", opt_get(p, "script"), SCRIPT_MAX)))
		return rc;
	if (opt_get(p, "commands-file") &&
	    (rc = check_file("commands-file", opt_get(p, "commands-file"), COMMANDS_FILE_MAX)))
		return rc;
	if (opt_get(p, "commands-file") && strcmp(opt_get(p, "commands-file"), "-") != 0) {
		struct cy_buf raw = CY_BUF_INIT, kept = CY_BUF_INIT;

		rc = read_input("commands-file", opt_get(p, "commands-file"), COMMANDS_FILE_MAX,
		    &raw);
		if (rc == 0) {
			drop_blank_lines(&raw, &kept);
			if (kept.len == 0)
				rc = fail(EXIT_USAGE, "--commands-file '%s' has no commands",
				    opt_get(p, "commands-file"));
		}
		cy_buf_release(&raw);
		cy_buf_release(&kept);
		if (rc)
			return rc;
	}
	n = opt_list(p, "artifact", &list);
	for (i = 0; i < n; i++) {
		const char *why = NULL;

		if (!cy_relglob_valid(list[i], strlen(list[i]), &why))
			return fail(EXIT_USAGE,
			    "--artifact '%s': %s (patterns are relative to /workspace)", list[i],
			    why);
	}
	/* --model goes with prompt input, --use-inference with sandbox input. */
	mode = opt_get(p, "input-mode") ? opt_get(p, "input-mode") :
	       opt_set(p, "prompt") || opt_set(p, "task") || opt_set(p, "task-file") || modes == 0 ?
					  "prompt" :
	       opt_set(p, "script") ? "script" :
				      "commands";
	if (opt_get(p, "model") && strcmp(mode, "prompt") != 0)
		return fail(EXIT_USAGE,
		    "--model goes with prompt input (-p, -t, -f): a %s task runs in the sandbox; give it --use-inference to reach a model",
		    mode);
	if (opt_get(p, "model") && !*opt_get(p, "model"))
		return fail(EXIT_USAGE,
		    "--model needs a model id ('cynork models list' shows them)");
	if ((opt_set(p, "use-sba") || opt_set(p, "job-spec")) && strcmp(mode, "prompt") != 0)
		return fail(EXIT_USAGE,
		    "--use-sba runs an agent on prompt input (-p, -t, -f) or on --job-spec: a %s task runs its own command (give it --use-inference to reach a model)",
		    mode);
	if (opt_set(p, "after")) {
		const char *const *al, *cond;
		size_t k, na = opt_list(p, "after", &al);
		char task[256];

		if (na > 64)
			return fail(EXIT_USAGE, "--after: at most 64 tasks");
		for (k = 0; k < na; k++)
			if (!after_split(al[k], task, sizeof(task), &cond))
				return fail(EXIT_USAGE,
				    "--after '%s': want TASK or TASK:ok, TASK:notok, TASK:any (TASK an id or a name)",
				    al[k]);
	}
	if (opt_set(p, "skill")) {
		const char *const *sk;
		size_t k, nk = opt_list(p, "skill", &sk);

		if (strcmp(mode, "prompt") != 0)
			return fail(EXIT_USAGE,
			    "--skill goes with prompt input (-p, -t, -f) or --use-sba: a %s task runs its own command",
			    mode);
		if (nk > 8)
			return fail(EXIT_USAGE, "--skill: at most 8 skills a task");
		for (k = 0; k < nk; k++)
			if (!*sk[k] || strlen(sk[k]) > 128)
				return fail(EXIT_USAGE,
				    "--skill '%s': want a skill's name or id ('cynork skills list')",
				    sk[k]);
	}
	if (opt_get(p, "array")) {
		struct cy_array_spec a;
		char why[256];

		if (strcmp(mode, "prompt") == 0 || opt_set(p, "use-sba") || opt_set(p, "job-spec"))
			return fail(EXIT_USAGE,
			    "--array goes with --command, --script or --commands-file: a prompt task or an agent cannot be an array");
		if (cy_array_spec_parse(opt_get(p, "array"), strlen(opt_get(p, "array")), &a, why,
			sizeof(why)) < 0)
			return fail(EXIT_USAGE, "--array '%.200s': %s (want %s)",
			    opt_get(p, "array"), why, CY_ARRAY_SPEC_SHAPE);
		cy_array_spec_release(&a);
	}
	if (opt_set(p, "use-inference") && strcmp(mode, "prompt") == 0)
		return fail(EXIT_USAGE,
		    "--use-inference goes with --command, --script or --commands-file: a prompt task is answered by a model already");
	if ((rc = create_job_check(p, mode)) != 0)
		return rc;
	if ((opt_set(p, "env") || opt_set(p, "env-file") || opt_set(p, "secret")) &&
	    strcmp(mode, "prompt") == 0 && !opt_set(p, "use-sba") && !opt_set(p, "job-spec"))
		return fail(EXIT_USAGE,
		    "--env, --env-file and --secret go with --command, --script or --commands-file: a prompt task runs no command");
	if (opt_set(p, "env") || opt_set(p, "env-file") || opt_set(p, "secret")) {
		json_t *env = json_object();

		rc = env_collect(p, env, NULL);
		json_decref(env);
		if (rc)
			return rc;
	}
	return 0;
}

/* The checks of task create's own flags (attachments, waiting), then the body's. */
static int
create_check(const struct parsed *p)
{
	const char *const *list;
	size_t n;
	int rc;

	if ((rc = task_body_check(p)) != 0)
		return rc;
	if ((n = opt_list(p, "attach", &list)) > 0) {
		struct attach_list files = { 0 };

		rc = attach_collect(list, n, &files);
		attach_list_release(&files);
		if (rc)
			return rc;
	}
	if (opt_set(p, "wait") && opt_set(p, "result"))
		return fail(EXIT_USAGE, "give only one of --wait and --result");
	if (opt_set(p, "follow") && (opt_set(p, "wait") || opt_set(p, "result")))
		return fail(EXIT_USAGE,
		    "--follow waits for the task already: give it without --wait and --result");
	if (opt_set(p, "wait-timeout") && !opt_set(p, "wait") && !opt_set(p, "result"))
		return fail(EXIT_USAGE, "--wait-timeout goes with --wait or --result");
	if (opt_get(p, "idempotency-key")) {
		const char *k = opt_get(p, "idempotency-key");
		size_t len = strlen(k), j;

		for (j = 0; j < len; j++)
			if (k[j] < 0x21 || k[j] > 0x7e)
				break;
		if (len == 0 || len > 255 || j < len)
			return fail(EXIT_USAGE,
			    "--idempotency-key '%s': want 1 to 255 printable characters without spaces",
			    k);
	}
	return 0;
}

/* Keeps the non-blank lines of text, joined with \n. */
static void
drop_blank_lines(struct cy_buf *in, struct cy_buf *out)
{
	const char *s = in->buf;

	while (*s) {
		size_t n = strcspn(s, "\n"), k;
		bool blank = true;

		for (k = 0; k < n; k++)
			if (s[k] != ' ' && s[k] != '\t' && s[k] != '\r')
				blank = false;
		if (!blank) {
			if (out->len)
				cy_buf_addch(out, '\n');
			cy_buf_add(out, s, n);
		}
		s += n;
		if (*s == '\n')
			s++;
	}
}

/* Builds the prompt text and input mode from the chosen flag. */
static int
build_input(const struct parsed *p, struct cy_buf *text, const char **mode)
{
	struct cy_buf raw = CY_BUF_INIT;
	const char *const *cmds;
	size_t i, n;
	int rc = 0;

	if (opt_get(p, "prompt") || opt_get(p, "task")) {
		cy_buf_addstr(text,
		    opt_get(p, "prompt") ? opt_get(p, "prompt") : opt_get(p, "task"));
		*mode = "prompt";
	} else if (opt_get(p, "task-file")) {
		rc = read_input("task-file", opt_get(p, "task-file"), TASK_FILE_MAX, text);
		*mode = "prompt";
	} else if (opt_get(p, "script")) {
		rc = read_input("script", opt_get(p, "script"), SCRIPT_MAX, text);
		*mode = "script";
	} else if (opt_set(p, "job-spec") && !opt_set(p, "command") &&
		   !opt_set(p, "commands-file")) {
		/* An agent job from its spec alone: its goal, or the file, names the task. */
		rc = sba_spec_text(p, text);
		*mode = "prompt";
	} else if ((n = opt_list(p, "command", &cmds)) > 0) {
		for (i = 0; i < n; i++)
			cy_buf_addf(text, "%s%s", i ? "\n" : "", cmds[i]);
		*mode = "commands";
	} else {
		rc = read_input("commands-file", opt_get(p, "commands-file"), COMMANDS_FILE_MAX,
		    &raw);
		drop_blank_lines(&raw, text);
		*mode = "commands";
	}
	cy_buf_release(&raw);
	if (rc == 0 && text->len == 0)
		rc = fail(EXIT_USAGE, "the task input is empty");
	if (opt_get(p, "input-mode"))
		*mode = opt_get(p, "input-mode");
	return rc;
}

int
task_body_build(const struct parsed *p, json_t **out)
{
	struct cy_buf text = CY_BUF_INIT;
	const char *mode = "prompt", *const * att;
	json_t *req;
	size_t n;
	int rc;

	*out = NULL;
	if ((rc = build_input(p, &text, &mode)) != 0)
		goto out;
	req = json_pack("{s:s, s:s}", "prompt", text.buf, "input_mode", mode);
	if (opt_get(p, "project-id"))
		json_object_set_new(req, "project_id", json_string(opt_get(p, "project-id")));
	if (opt_get(p, "model"))
		json_object_set_new(req, "model", json_string(opt_get(p, "model")));
	if (opt_set(p, "use-inference"))
		json_object_set_new(req, "use_inference", json_true());
	if (opt_set(p, "after"))
		json_object_set_new(req, "after", after_json(p));
	if (opt_set(p, "allow-pending"))
		json_object_set_new(req, "allow_pending", json_true());
	if (opt_get(p, "array"))
		json_object_set_new(req, "array", json_string(opt_get(p, "array")));
	if (opt_set(p, "skill")) {
		const char *const *sk;
		size_t k, nk = opt_list(p, "skill", &sk);
		json_t *arr = json_array();

		for (k = 0; k < nk; k++)
			json_array_append_new(arr, json_string(sk[k]));
		json_object_set_new(req, "skills", arr);
	}
	if (opt_set(p, "use-sba") || opt_set(p, "job-spec")) {
		json_t *spec = opt_set(p, "job-spec") ? sba_spec_load(p) : NULL;

		if (opt_set(p, "job-spec") && !spec) {
			json_decref(req);
			rc = EXIT_USAGE;
			goto out;
		}
		json_object_set_new(req, "use_sba", json_true());
		if (spec)
			json_object_set_new(req, "job_spec_json", spec);
	}
	create_job_fields(p, req);
	if (opt_set(p, "env") || opt_set(p, "env-file") || opt_set(p, "secret")) {
		json_t *env = json_object(), *refs = json_array();

		if ((rc = env_collect(p, env, refs)) != 0) {
			json_decref(env);
			json_decref(refs);
			json_decref(req);
			goto out;
		}
		json_object_set_new(req, "env", env);
		json_object_set_new(req, "secrets", refs);
	}
	if ((n = opt_list(p, "artifact", &att)) > 0) {
		json_t *a = json_array();
		size_t i;

		for (i = 0; i < n; i++)
			json_array_append_new(a, json_string(att[i]));
		json_object_set_new(req, "artifacts", a);
	}
	*out = req;
out:
	cy_buf_release(&text);
	/* The next command of a shell or chat session reads its own spec. */
	json_decref(sba_spec_cached);
	sba_spec_cached = NULL;
	return rc;
}

static int
task_create(struct ctx *c, const struct parsed *p)
{
	struct cy_buf line = CY_BUF_INIT;
	const char *id;
	const char *const *att;
	long long timeout_s = 0;
	json_t *req, *res = NULL;
	size_t n;
	int rc;

	if (opt_set(p, "follow") && out_json(c))
		return fail(EXIT_USAGE, "--follow prints the job's output, not JSON: drop -o json");
	if (opt_get(p, "wait-timeout"))
		cy_duration_parse(opt_get(p, "wait-timeout"), &timeout_s);
	if ((rc = task_body_build(p, &req)) != 0)
		goto out;
	if (opt_get(p, "name"))
		json_object_set_new(req, "task_name", json_string(opt_get(p, "name")));
	if ((n = opt_list(p, "attach", &att)) > 0) {
		struct attach_list files = { 0 };
		json_t *a = NULL;

		/* Checked again: the files may have changed since create_check. */
		rc = attach_collect(att, n, &files);
		if (rc == 0)
			rc = attach_upload(c, &files, &a);
		attach_list_release(&files);
		if (rc) {
			json_decref(a);
			json_decref(req);
			goto out;
		}
		json_object_set_new(req, "attachments", a);
	}
	if (opt_get(p, "idempotency-key")) {
		char *hdr = xasprintf("Idempotency-Key: %s", opt_get(p, "idempotency-key"));
		const char *hdrs[] = { hdr, NULL };

		rc = api_call_h(c, "POST", "/v1/tasks", req, true, hdrs, 0, &res, NULL);
		free(hdr);
	} else {
		rc = api_call(c, "POST", "/v1/tasks", req, true, &res);
	}
	json_decref(req);
	if (rc)
		goto out;
	id = cy_json_str(res, "task_id") ? cy_json_str(res, "task_id") : cy_json_str(res, "id");
	if (!id) {
		rc = fail(EXIT_PROTOCOL, "malformed response: no task id");
		goto out;
	}
	if (opt_set(p, "follow")) {
		note(c, "task %s created; its output follows", id);
		rc = task_attach(c, id, cy_json_str(res, "task_name"));
		goto out;
	}
	if (opt_set(p, "wait") || opt_set(p, "result")) {
		note(c, "task %s created; waiting for it to end", id);
		rc = task_wait_and_print(c, id, cy_json_str(res, "task_name"), timeout_s,
		    opt_set(p, "wait"));
		goto out;
	}
	if (out_json(c)) {
		json_t *o =
		    json_pack("{s:s, s:s?}", "task_id", id, "status", cy_json_str(res, "status"));

		if (cy_json_str(res, "task_name"))
			json_object_set_new(o, "task_name",
			    json_string(cy_json_str(res, "task_name")));
		if (json_is_object(json_object_get(res, "array")))
			json_object_set(o, "array", json_object_get(res, "array"));
		/* Always echoed (cli.md 1.2): what was attached, [] for nothing. */
		if (json_is_array(json_object_get(res, "attachments")))
			json_object_set(o, "attachments", json_object_get(res, "attachments"));
		else
			json_object_set_new(o, "attachments", json_array());
		print_json(o);
	} else if (out_name(c)) {
		printf("%s\n", id);
	} else {
		rec_add(&line, "task_id", id);
		if (cy_json_str(res, "task_name"))
			rec_add(&line, "task_name", cy_json_str(res, "task_name"));
		rec_add(&line, "status", cy_json_str(res, "status"));
		print_line(&line);
	}
out:
	json_decref(res);
	return rc;
}

/* clang-format off */
static const struct opt create_opts[] = {
	TASK_BODY_OPTS,
	{ .name = "name", .kind = OPT_STR, .arg = "NAME",
	  .help = "suggested task name (normalised; suffixed when taken)", .alias = "task-name" },
	{ .name = "attach", .shrt = 'a', .kind = OPT_LIST, .arg = "PATH",
	  .help = "upload a file, or a directory's files, into /workspace (repeatable)",
	  .alias = "attachment" },
	{ .name = "wait", .shrt = 'w', .kind = OPT_BOOL,
	  .help = "wait for the task and exit with the job's exit code" },
	{ .name = "result", .kind = OPT_BOOL,
	  .help = "wait for the task and print its result (exit 0)" },
	{ .name = "follow", .shrt = 'F', .kind = OPT_BOOL,
	  .help = "print the job's stdout and stderr as it writes them, then exit with its exit code" },
	{ .name = "wait-timeout", .kind = OPT_DURATION, .arg = "DUR",
	  .help = "with --wait or --result: give up waiting after DUR (exit 124)" },
	{ .name = "idempotency-key", .kind = OPT_STR, .arg = "KEY",
	  .help = "a retried create with the same KEY returns the first task" },
	{ NULL }
};
/* clang-format on */

static const char *const create_job_flags[] = { "wait", "follow", NULL };

const struct cmd cmd_task_create = {
	.path = "task create",
	.summary = "create a task",
	.opts = create_opts,
	.flags = CMD_NEEDS_AUTH | CMD_JOB_EXIT,
	.job_flags = create_job_flags,
	.check = create_check,
	.exec = task_create,
	.doc =
	    "Creates a task. Exactly one input mode is required: -p/--prompt or -t/--task (text answered by a model on a node that serves one; the task's stdout is the answer), -f/--task-file (the same, from a file), -s/--script (run in the sandbox), --command (repeatable, run in order) or --commands-file (its non-blank lines). Zero or several modes are a usage error (exit 64), checked before the login.\n\nFile flags are checked before any request: the path must exist, be a regular file (not a directory, not a symbolic link), be readable and be within its size limit; - reads standard input (not for --attach).\n\nWith -a/--attach PATH (repeatable) the files are uploaded (POST /v1/uploads, streamed from disk, checked with their SHA-256) and placed in the job's /workspace before its command runs: a file as /workspace/BASENAME, a directory as all the regular files below it, /workspace/DIR/RELATIVE/PATH (a directory is how several files with their layout go in; no tar is made). Every path is checked before anything is uploaded or created: a missing or unreadable file, a symbolic link, anything that is not a regular file, or a name given twice is a usage error (exit 64). The server caps the size of each file (413 naming the limit), the number of attachments and their total (limits.* in server.yaml); -o json always carries attachments: the files attached (name, size, sha256), [] when none.\n\nWith --artifact GLOB (repeatable; a path or a fnmatch pattern relative to /workspace, a trailing / for a directory and all below it) the job returns the files it selects instead of the default out/: after the job ends, completed, failed or timed out, the node uploads them (regular files only, symbolic links never followed, within its limits; what it dropped is in the result's artifacts.dropped with the reason). task artifacts list and get fetch them. A pattern that is absolute, holds .. or is empty is a usage error (exit 64).\n\nPrints task_id=ID [task_name=NAME] status=S (-o name: only the id). With --wait, waits for the task (server long poll), prints its result line like task result and exits with the job's own exit code: 0 completed, N when the job exited N, 1 failed without an exit code, 124 when the job's --timeout or the --wait-timeout ran out (the latter leaves the job running), 143 when the task was canceled; any failure of cynork's own (bad flag, no login, gateway unreachable) exits 125 and says its own code on standard error (-o json: a cynork_error object). With --result it prints the same line and exits 0. With --wait or --result on a terminal (standard error, and no -q), the state changes show on standard error as one growing line, task NAME: queued → running on NODE → completed, exit 0 after 1.2 s (the time waited), before the result line; --follow shows them a line each between the job's output.\n\nWith --follow (-F), cynork stays attached to the task: it prints the job's standard output on its standard output and the job's standard error on its standard error as the job writes them (streamed by the node, read back like task logs --follow), and exits with the job's exit code as --wait does. A queued task prints nothing until it runs; Ctrl-C detaches and leaves the task running.\n\nThe job's fields: --image (default: the node's sandbox.default_image), --timeout DUR (the job is stopped after DUR; at most 3h, default 1h, a node may cap it), --network (restricted, the default, and none: no network; host only where the node and the orchestrator's policy allow it), --cpus N and --memory SIZE (CPU cores and memory such as 512M or 2G: reserved on the node while the job runs, so a job waits until a node has them free, and the most its sandbox may use; more than any node has is refused unless --allow-pending), --tmp SIZE (the size of its private /tmp, capped by the node), --disk SIZE (the size of /workspace: a node refuses more than its sandbox.resources.max_workspace_mb, and a node that cannot limit workspaces refuses the flag; a write past it fails inside the job with 'No space left on device'; what the job keeps in /workspace and /tmp counts against its memory), --priority N (-1000 to 1000, higher first; the queue's priority is added), --queue NAME (the queue the job waits in, with its limits; default: default), --max-attempts N (1 to 100), --backoff DUR (0s to 24h between attempts), --label K=V (repeatable: only a node having every label runs the job) and --gpus N (only a node with N GPUs or more). A bad value is a usage error (exit 64) before any request; --image, --network, --cpus, --memory, --disk and --tmp go with sandbox input only. task get shows them back.\n\nWith --idempotency-key KEY (1 to 255 printable characters), a create retried with the same key returns the task the first one made instead of making a second one, so a retried CI step never runs twice.\n\nWith prompt input, --model MODEL names the model that answers (cynork models list shows them; an unknown one is refused); without it the server picks one. A --command, --script or --commands-file job gets a model only with --use-inference: its sandbox then has INFERENCE_PROXY_URL (http+unix://...), a socket to the node's model service, and still no network. --model with sandbox input or --use-inference with prompt input is a usage error (exit 64).\n\nWith --use-sba the prompt goes to an agent instead: cynode-sba runs in the job's sandbox (no network, the host image) and works toward the prompt with the model through the job's inference socket, calling tools (run_command, write_file, read_file) in /workspace, at most 8 calls; the model's last answer is the reply (task result prints reply=..., -o json has reply and sba_result: protocol_version, job_id, status, steps, artifacts). --job-spec FILE (- reads stdin; implies --use-sba) gives the whole spec instead: {\"protocol_version\": \"1.0\", \"steps\": [{\"type\": \"run\", \"argv\": [...]}, {\"type\": \"write_file\", \"path\": ..., \"content\": ...}, {\"type\": \"inference\", \"prompt\": ..., \"save_as\": ...}], \"goal\": ..., \"max_steps\": N, \"model\": ...}; the steps run in order, then the goal. Without -p/-t/-f the spec's goal (or the file's name) is the task's text. --env, --secret, --attach and --artifact work as for sandbox jobs. A spec the server refuses (an unknown member, a major version other than 1) names the member.\n\nWith --skill NAME (repeatable, at most 8; a name or an id of one of your skills, cynork skills list), a prompt task's model gets the skills' Markdown as its system prompt, and an agent its instructions. The server copies them into the task when it is created (a later skills update does not change it); an unknown skill is refused naming it.\n\nWith --array SPEC (sandbox input only) the task is a job array: one job per index of SPEC, a list of indexes and ranges such as 0-99, 1,3,5-9 or 0-20:5 (a step), at most 10000 indexes from 0 to 1000000, optionally ending in %N: at most N elements queued or running at once, the others held (pending reason ArrayLimit) and released in index order as elements end. Each element runs the same command with CYNODE_ARRAY_INDEX (its index) and CYNODE_ARRAY_TASK_ID (the task's id) in its environment. The task is running while elements run, completed when all completed, failed when all ended and one failed; task cancel cancels every element; --after holds the whole array, and a task --after an array waits for all of it. task get shows the counts per state, task result a line per element (index, status, exit_code, stdout, stderr; -o json: elements). With --wait an array exits 0 when all elements completed, else with the first failing element's code (by index): its exit code, 124 when it timed out, 1 without one; 143 when canceled. A bad SPEC is a usage error (exit 64).",
};
