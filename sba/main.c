/*
 * cynode-sba [JOB_JSON]: runs an agent job's spec (sba.h).  JOB_JSON is
 * the RunJobRequest the node copies into the sandbox (default
 * /job/job.json); the spec is its sandbox.sba.  Exit status: 0 when the
 * job completed, 1 when a step or the model failed it, 2 when the spec or
 * the environment is not usable (nothing was run).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "fsutil.h"
#include "id.h"
#include "json.h"
#include "runner.h"
#include "version.h"
#include "banned.h"

/*
 * Under AddressSanitizer (make SANITIZE=1) the runner runs in the sandbox,
 * where LeakSanitizer cannot stop the world (no ptrace) and would fail the
 * job; leaks are checked where the runner runs outside one
 * (tests/server/sba.bats sets ASAN_OPTIONS, which wins over this).
 */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
	return "detect_leaks=0";
}

/* The spec's steps in order; false when one failed the job (why says which). */
static bool
run_spec_steps(struct sba_run *r, struct cy_buf *context, char **last_answer, struct cy_buf *why)
{
	json_t *st, *rec;
	size_t i;

	json_array_foreach(json_object_get(r->spec, "steps"), i, st) {
		const char *type = cy_json_str(st, "type"), *id = cy_json_str(st, "id");
		struct cy_buf data = CY_BUF_INIT;

		printf("==> step %zu/%zu: %s%s%s\n", i + 1,
		    json_array_size(json_object_get(r->spec, "steps")), type, id ? " " : "",
		    id ? id : "");
		fflush(stdout);
		if (!strcmp(type, "run")) {
			json_t *a = json_object_get(st, "argv"), *v;
			const char **argv = xcalloc(json_array_size(a) + 1, sizeof(char *));
			long long t = SBA_STEP_TIMEOUT_DEFAULT;
			size_t k;

			json_array_foreach(a, k, v)
				argv[k] = json_string_value(v);
			(void)cy_json_int(st, "timeout_seconds", &t);
			rec = sba_step_run(r, "spec", argv, t);
			free(argv);
		} else if (!strcmp(type, "write_file")) {
			json_t *c = json_object_get(st, "content");

			rec = sba_step_write(r, "spec", cy_json_str(st, "path"),
			    json_string_value(c), json_string_length(c));
		} else {
			json_t *msgs = json_pack("[{s:s, s:s}]", "role", "user", "content",
			    cy_json_str(st, "prompt"));
			json_t *msg;
			const char *ans;

			if (cy_json_str(r->spec, "instructions"))
				json_array_insert_new(msgs, 0,
				    json_pack("{s:s, s:s}", "role", "system", "content",
					cy_json_str(r->spec, "instructions")));
			msg = sba_chat(r, msgs, NULL, &data);
			ans = msg ? cy_json_str(msg, "content") : NULL;

			rec = json_pack("{s:s, s:s, s:s}", "type", "inference", "origin", "spec",
			    "status", msg ? "ok" : "failed");
			r->nstep++;
			if (!msg) {
				json_object_set_new(rec, "error",
				    json_string(data.buf ? data.buf : "no answer"));
			} else {
				printf("%s\n", ans ? ans : "");
				json_object_set_new(rec, "output", json_string(ans ? ans : ""));
				free(*last_answer);
				*last_answer = xstrdup(ans ? ans : "");
				if (cy_json_str(st, "save_as")) {
					json_t *w =
					    sba_step_write(r, "spec", cy_json_str(st, "save_as"),
						*last_answer, strlen(*last_answer));

					r->nstep--; /* part of this step */
					if (!sba_step_ok(w)) {
						json_object_set(rec, "status",
						    json_object_get(w, "status"));
						json_object_set(rec, "error",
						    json_object_get(w, "error"));
					}
					json_object_set_new(rec, "save_as",
					    json_string(cy_json_str(st, "save_as")));
					json_decref(w);
				}
			}
			json_decref(msg);
			json_decref(msgs);
		}
		json_object_set_new(rec, "id",
		    id ? json_string(id) : json_sprintf("step-%zu", i + 1));
		json_array_append_new(r->steps, rec);
		cy_buf_addf(context, "Step %s (%s): %s", cy_json_str(rec, "id"), type,
		    cy_json_str(rec, "status"));
		if (cy_json_str(rec, "output"))
			cy_buf_addf(context, "\n%.2000s", cy_json_str(rec, "output"));
		cy_buf_addch(context, '\n');
		cy_buf_release(&data);
		if (!sba_step_ok(rec) && !cy_json_bool(st, "continue_on_error", false)) {
			cy_buf_addf(why, "step %s (%s) %s%s%s", cy_json_str(rec, "id"), type,
			    cy_json_str(rec, "status"), cy_json_str(rec, "error") ? ": " : "",
			    cy_json_str(rec, "error") ? cy_json_str(rec, "error") : "");
			return false;
		}
	}
	return true;
}

/* <workspace>/.cynode/sba_result.json, written whole then renamed into place. */
static int
write_result(const struct sba_run *r, const json_t *res)
{
	char *dir = xasprintf("%s/" CY_SBA_RESULT_DIR, r->workspace);
	char *tmp = xasprintf("%s/.%s.tmp", dir, CY_SBA_RESULT_FILE);
	char *dst = xasprintf("%s/%s", dir, CY_SBA_RESULT_FILE);
	char *text = cy_json_dump(res);
	int fd = -1, rc = -1;

	if (cy_mkdir_p(dir, 0755, 0755) == 0 &&
	    (fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644)) >= 0 &&
	    cy_write_all(fd, text, strlen(text)) == 0 && close(fd) == 0 && (fd = -1) &&
	    rename(tmp, dst) == 0)
		rc = 0;
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		fprintf(stderr, "cynode-sba: cannot write %s: %s\n", dst, strerror(errno));
	free(dir);
	free(tmp);
	free(dst);
	free(text);
	return rc;
}

static json_t *
load_spec(const char *path, json_t **req, struct cy_buf *why)
{
	struct cy_buf text = CY_BUF_INIT;
	struct cy_error err = CY_ERROR_INIT;
	json_t *spec;

	if (cy_buf_read_file(&text, path, 16 * 1024 * 1024) < 0) {
		cy_buf_addf(why, "cannot read %s: %s", path, strerror(errno));
		cy_buf_release(&text);
		return NULL;
	}
	*req = cy_json_parse(text.buf, text.len, true, &err);
	cy_buf_release(&text);
	if (!*req) {
		cy_buf_addf(why, "%s: %s", path, err.msg);
		return NULL;
	}
	spec = cy_json_path(*req, "sandbox.sba");
	if (!spec)
		cy_buf_addf(why, "%s has no sandbox.sba (not an agent job)", path);
	return spec;
}

int
main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/job/job.json";
	struct cy_buf why = CY_BUF_INIT, context = CY_BUF_INIT;
	struct sba_run r = { 0 };
	json_t *req = NULL, *res;
	char *reply = NULL;
	bool ok = true;
	int code;

	if (argc > 1 && !strcmp(argv[1], "--version")) {
		printf("cynode-sba %s (protocol %s)\n", CYNODE_VERSION, CY_SBA_PROTOCOL);
		return 0;
	}
	if (argc > 2 || (argc > 1 && argv[1][0] == '-')) {
		fprintf(stderr, "usage: cynode-sba [JOB_JSON]   (the node runs it in an agent "
				"job's sandbox; see README \"Agent jobs\")\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	r.workspace =
	    getenv("CYNODE_WORKSPACE_DIR") ? getenv("CYNODE_WORKSPACE_DIR") : "/workspace";
	r.spec = load_spec(path, &req, &why);
	if (r.spec && cy_sba_spec_check(r.spec, true, getenv("CYNODE_JOB_ID"), &why) < 0)
		r.spec = NULL;
	r.model = r.spec && cy_json_str(r.spec, "model") ? cy_json_str(r.spec, "model") :
							   getenv("CYNODE_INFERENCE_MODEL");
	if (r.spec && r.model && !cy_model_name_valid(r.model)) {
		cy_buf_addstr(&why, "CYNODE_INFERENCE_MODEL is not a model name");
		r.spec = NULL;
	}
	if (r.spec && !r.model) {
		cy_buf_addstr(&why, "no model: the spec names none and CYNODE_INFERENCE_MODEL is "
				    "not set");
		r.spec = NULL;
	}
	if (r.spec && sba_infer_setup(&r, getenv("INFERENCE_PROXY_URL"), &why) < 0)
		r.spec = NULL;
	if (!r.spec) {
		fprintf(stderr, "cynode-sba: %s\n", why.buf);
		cy_buf_release(&why);
		json_decref(req);
		return 2;
	}
	r.job_id = cy_json_str(r.spec, "job_id");
	r.steps = json_array();
	r.artifacts = json_array();
	r.usage = json_object();
	printf("==> agent job %s: model %s, %zu step(s)%s\n", r.job_id, r.model,
	    json_array_size(json_object_get(r.spec, "steps")),
	    cy_json_str(r.spec, "goal") ? ", then the goal" : "");
	ok = run_spec_steps(&r, &context, &reply, &why);
	if (ok && cy_json_str(r.spec, "goal")) {
		free(reply);
		reply = NULL;
		printf("==> goal: the model works on it (at most %lld tool calls)\n",
		    json_integer_value(json_object_get(r.spec, "max_steps")) ?:
			CY_SBA_AGENT_STEPS_DEFAULT);
		ok = sba_agent(&r, cy_json_str(r.spec, "goal"), context.buf, &reply, &why) == 0;
	}
	res = json_pack("{s:s, s:s, s:s, s:o, s:o, s:s, s:o}", "protocol_version", CY_SBA_PROTOCOL,
	    "job_id", r.job_id, "status", ok ? "completed" : "failed", "steps", r.steps,
	    "artifacts", r.artifacts, "model", r.model, "usage", r.usage);
	if (!res) { /* a model name from the environment that is not UTF-8 */
		fprintf(stderr, "cynode-sba: cannot build the result (model '%s')\n", r.model);
		json_decref(req);
		free(reply);
		free(r.socket);
		free(r.base_url);
		cy_buf_release(&why);
		cy_buf_release(&context);
		return 2;
	}
	if (cy_json_str(r.spec, "task_id"))
		json_object_set_new(res, "task_id", json_string(cy_json_str(r.spec, "task_id")));
	json_object_set_new(res, "reply", reply ? json_string(reply) : json_null());
	if (!ok)
		json_object_set_new(res, "error", json_string(why.buf ? why.buf : "failed"));
	if (reply)
		printf("==> reply\n%s\n", reply);
	if (!ok)
		printf("==> failed: %s\n", why.buf ? why.buf : "");
	code = write_result(&r, res) < 0 ? 1 : ok ? 0 : 1;
	json_decref(res);
	json_decref(req);
	free(reply);
	free(r.socket);
	free(r.base_url);
	cy_buf_release(&why);
	cy_buf_release(&context);
	return code;
}
