/*
 * Unit tests for lib/sba.c: the agent job spec and result rules.
 */
#include <string.h>

#include "buf.h"
#include "error.h"
#include "json.h"
#include "sba.h"
#include "tap.h"

/* Checks text as a spec; *why gets the reason (released by the caller). */
static int
spec(const char *text, bool need_id, const char *job_id, struct cy_buf *why)
{
	struct cy_error err = CY_ERROR_INIT;
	json_t *v = cy_json_parse(text, strlen(text), false, &err);
	int rc;

	cy_buf_reset(why);
	rc = cy_sba_spec_check(v, need_id, job_id, why);
	json_decref(v);
	return rc;
}

static int
result(const char *text, const char *job_id, struct cy_buf *why)
{
	struct cy_error err = CY_ERROR_INIT;
	json_t *v = cy_json_parse(text, strlen(text), false, &err);
	int rc;

	cy_buf_reset(why);
	rc = cy_sba_result_check(v, job_id, why);
	json_decref(v);
	return rc;
}

static bool
says(const struct cy_buf *why, const char *s)
{
	return why->buf && strstr(why->buf, s);
}

static void
test_specs(void)
{
	struct cy_buf why = CY_BUF_INIT;

	ok(spec("{\"protocol_version\":\"1.0\",\"goal\":\"g\"}", false, NULL, &why) == 0,
	    "a goal alone");
	ok(spec("{\"protocol_version\":\"1.7\",\"job_id\":\"j-1\",\"steps\":[{\"type\":\"run\","
		"\"argv\":[\"true\"],\"timeout_seconds\":5}]}",
	       true, "j-1", &why) == 0,
	    "steps with the job's id, a later minor version");
	ok(spec("{\"protocol_version\":\"1.0\",\"goal\":\"g\"}", true, NULL, &why) < 0 &&
		says(&why, "job_id is required"),
	    "job_id missing when required");
	ok(spec("{\"protocol_version\":\"1.0\",\"job_id\":\"a\",\"goal\":\"g\"}", true, "b", &why) <
		    0 &&
		says(&why, "not this job's"),
	    "another job's id");
	ok(spec("{\"protocol_version\":\"2.0\",\"goal\":\"g\"}", false, NULL, &why) < 0 &&
		says(&why, "major version 2"),
	    "major 2");
	ok(spec("{\"protocol_version\":\"10.0\",\"goal\":\"g\"}", false, NULL, &why) < 0 &&
		says(&why, "major version 10"),
	    "major 10 (not read as 1)");
	ok(spec("{\"protocol_version\":\"1\",\"goal\":\"g\"}", false, NULL, &why) < 0 &&
		says(&why, "protocol_version"),
	    "a version without a minor");
	ok(spec("{\"protocol_version\":\"1.0\",\"goal\":\"g\",\"x\":1}", false, NULL, &why) < 0 &&
		says(&why, "unknown field 'x'"),
	    "unknown field named");
	ok(spec("{\"protocol_version\":\"1.0\",\"steps\":[{\"type\":\"run\",\"argv\":[\"a\"],"
		"\"zz\":1}]}",
	       false, NULL, &why) < 0 &&
		says(&why, "steps[0]") && says(&why, "zz"),
	    "unknown step field named");
	ok(spec("{\"protocol_version\":\"1.0\",\"steps\":[{\"type\":\"inference\",\"argv\":[\"a\"],"
		"\"prompt\":\"p\"}]}",
	       false, NULL, &why) < 0 &&
		says(&why, "steps[0].argv does not go with a step of type inference"),
	    "a member of another step type");
	ok(spec(
	       "{\"protocol_version\":\"1.0\",\"steps\":[{\"type\":\"write_file\",\"path\":\"a\"}]}",
	       false, NULL, &why) < 0 &&
		says(&why, "steps[0].content is required"),
	    "write_file without content");
	ok(spec("{\"protocol_version\":\"1.0\",\"steps\":[{\"type\":\"write_file\",\"path\":\"/etc/"
		"x\",\"content\":\"\"}]}",
	       false, NULL, &why) < 0 &&
		says(&why, "steps[0].path"),
	    "an absolute path");
	ok(spec("{\"protocol_version\":\"1.0\",\"steps\":[]}", false, NULL, &why) < 0 &&
		says(&why, "goal or steps"),
	    "nothing to do");
	ok(spec("[1]", false, NULL, &why) < 0 && says(&why, "JSON object"), "not an object");
	ok(spec("{\"protocol_version\":\"1.0\",\"goal\":\"g\",\"max_steps\":65}", false, NULL,
	       &why) < 0 &&
		says(&why, "max_steps"),
	    "max_steps over 64");
	cy_buf_release(&why);
}

static void
test_results(void)
{
	struct cy_buf why = CY_BUF_INIT;
	const char *good =
	    "{\"protocol_version\":\"1.0\",\"job_id\":\"j\",\"status\":\"completed\","
	    "\"steps\":[{\"type\":\"run\",\"status\":\"ok\",\"more\":1}],"
	    "\"artifacts\":[\"out/a\"],\"reply\":\"r\",\"later\":true}";

	ok(result(good, "j", &why) == 0, "a result, with members a later 1.x may add");
	ok(result(good, "k", &why) < 0 && says(&why, "not this job's"), "another job's result");
	ok(result("{\"protocol_version\":\"1.0\",\"job_id\":\"j\",\"status\":\"completed\","
		  "\"steps\":[]}",
	       NULL, &why) < 0 &&
		says(&why, "artifacts is required"),
	    "artifacts missing");
	ok(result("{\"protocol_version\":\"1.0\",\"job_id\":\"j\",\"status\":\"done\","
		  "\"steps\":[],\"artifacts\":[]}",
	       NULL, &why) < 0 &&
		says(&why, "status"),
	    "an unknown status");
	ok(result("{\"protocol_version\":\"1.0\",\"job_id\":\"j\",\"status\":\"failed\","
		  "\"steps\":[{\"type\":\"run\"}],\"artifacts\":[]}",
	       NULL, &why) < 0 &&
		says(&why, "steps[0].status"),
	    "a step without a status");
	ok(result("{\"protocol_version\":\"3.0\",\"job_id\":\"j\",\"status\":\"failed\","
		  "\"steps\":[],\"artifacts\":[]}",
	       NULL, &why) < 0 &&
		says(&why, "major version 3"),
	    "major 3");
	ok(result("\"text\"", NULL, &why) < 0, "not an object");
	cy_buf_release(&why);
}

int
main(void)
{
	RUN_TEST(test_specs);
	RUN_TEST(test_results);
	return tap_done();
}
