/*
 * Unit tests for the pure parts of node/inference*.c: inference.url
 * parsing, OLLAMA_HOST forming, the model name check and the listed name,
 * the /api/pull progress parser (status changes, 10% steps per layer,
 * errors), the check of a config payload's inference_backend, and which
 * hosts count as this machine's (only there can a backend be started).
 */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "inference-backend.h"
#include "id.h"
#include "inference.h"
#include "tap.h"

static void
test_parse_url(void)
{
	/* clang-format off */
	static const struct {
		const char *url, *host;
		unsigned port;
	} good[] = {
		{ .url = "http://127.0.0.1:11434", .host = "127.0.0.1", .port = 11434 },
		{ .url = "http://127.0.0.1:11434/", .host = "127.0.0.1", .port = 11434 },
		{ .url = "http://gpu-box:8080", .host = "gpu-box", .port = 8080 },
		{ .url = "http://gpu-box", .host = "gpu-box", .port = 11434 },
		{ .url = "http://[::1]:1", .host = "::1", .port = 1 },
		{ .url = "http://[fe80::1]", .host = "fe80::1", .port = 11434 },
		{ .url = "http://Ollama.example.COM:65535", .host = "Ollama.example.COM", .port = 65535 },
	};
	/* clang-format on */
	static const char *const bad[] = { "", "https://h:1", "ftp://h", "http://", "http://:80",
		"http://h:0", "http://h:65536", "http://h:", "http://h:80/api", "http://h:80?x=1",
		"http://u@h:80", "http://h h", "http://[::1", "http://[zz]:80", "http://-h:80",
		"http://h:8a", "http://h:80//", "HTTP://h:80", "http://h:+80", "http://h:080000" };
	char host[256];
	unsigned port, i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct cy_error err = CY_ERROR_INIT;
		int rc = node_inference_parse_url(good[i].url, host, sizeof(host), &port, &err);

		ok(rc == 0, "accepts %s", good[i].url);
		if (rc == 0) {
			is_str(host, good[i].host, "host");
			is_int(port, good[i].port, "port");
		} else {
			printf("#   %s\n", err.msg);
		}
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cy_error err = CY_ERROR_INIT;

		ok(node_inference_parse_url(bad[i], host, sizeof(host), &port, &err) < 0 &&
			err.msg[0],
		    "refuses '%s' (%s)", bad[i], err.msg);
	}
	{
		struct cy_error err = CY_ERROR_INIT;
		char small[4];

		ok(node_inference_parse_url("http://longhost:1", small, sizeof(small), &port,
		       &err) < 0,
		    "a host longer than the buffer is refused, not cut");
	}
}

static void
test_hostport(void)
{
	char out[64];

	node_inference_hostport("127.0.0.1", 11434, out, sizeof(out));
	is_str(out, "127.0.0.1:11434", "IPv4");
	node_inference_hostport("::1", 9, out, sizeof(out));
	is_str(out, "[::1]:9", "IPv6 bracketed");
	node_inference_hostport("gpu-box", 80, out, sizeof(out));
	is_str(out, "gpu-box:80", "a name");
}

static void
test_model_names(void)
{
	static const char *const good[] = { "qwen3.5:0.8b", "llama3.2", "library/llama3.2:1b",
		"hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M", "a", "x_y-z.1:latest",
		"registry.example.com:5000/team/model:v1", "localhost:5000/m", "m:_tag",
		"nomic-embed-text:v1.5" };
	static const char *const bad[] = { "", ":tag", "model:", "/model", "model/", "a//b",
		"-model", ".model", "model:-tag", "model:t:g", "mo del", "model\t", "../model",
		"a/../b", "a..b", "ns/model:tag/x", "host:port/m", "host:123456/m", "ns/host:1/m",
		"model;rm", "model$", "mödel", "a/:b", "model:.tag" };
	char longname[CY_MODEL_NAME_MAX + 2];
	unsigned i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ok(cy_model_name_valid(good[i]), "valid: %s", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(!cy_model_name_valid(bad[i]), "invalid: '%s'", bad[i]);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ok(!cy_model_name_valid(longname), "longer than %d bytes: invalid", CY_MODEL_NAME_MAX);
	longname[CY_MODEL_NAME_MAX] = '\0';
	ok(cy_model_name_valid(longname), "exactly %d bytes: valid", CY_MODEL_NAME_MAX);
}

/* cy_model_name_canon into out, or "(does not fit)". */
static const char *
canon(const char *name, char *out, size_t size)
{
	return cy_model_name_canon(name, out, size) < 0 ? "(does not fit)" : out;
}

static void
test_model_canon(void)
{
	char out[256];

	is_str(canon("llama3.2", out, sizeof(out)), "llama3.2:latest", "no tag: latest");
	is_str(canon("library/llama3.2:1b", out, sizeof(out)), "llama3.2:1b", "library/ dropped");
	is_str(canon("registry.ollama.ai/library/qwen3.5:0.8b", out, sizeof(out)), "qwen3.5:0.8b",
	    "the default registry dropped");
	is_str(canon("hf.co/x/y:Q4_K_M", out, sizeof(out)), "hf.co/x/y:Q4_K_M",
	    "other registries kept");
	is_str(canon("localhost:5000/m", out, sizeof(out)), "localhost:5000/m:latest",
	    "a registry port is not a tag");
	is_str(canon("abcdefg", out, 14), "(does not fit)", "a name that does not fit fails");
}

/* Feeds a line; returns the event, msg in m. */
static enum inference_pull_event
feed(struct inference_pull *p, const char *line, struct cy_buf *m)
{
	return node_inference_pull_line(p, line, strlen(line), m);
}

static void
test_pull_progress(void)
{
	struct inference_pull p;
	struct cy_buf m = CY_BUF_INIT;
	int i, progress = 0;
	char line[256];

	node_inference_pull_init(&p);
	is_int(feed(&p, "{\"status\":\"pulling manifest\"}", &m), INFERENCE_PULL_STATUS,
	    "first status");
	is_str(m.buf, "pulling manifest", "status text");
	is_int(feed(&p, "{\"status\":\"pulling manifest\"}", &m), INFERENCE_PULL_NONE,
	    "the same status again: nothing");
	is_int(feed(&p, "", &m), INFERENCE_PULL_NONE, "an empty line: nothing");
	is_int(feed(&p,
		   "{\"status\":\"pulling abc\",\"digest\":\"sha256:abc\",\"total\":1000,"
		   "\"completed\":0}",
		   &m),
	    INFERENCE_PULL_STATUS, "a new layer is a new status");
	is_str(m.buf, "pulling abc 0%", "with its percentage");
	/* 1000 progress lines, one byte each: ten 10% steps, not 1000 log lines. */
	for (i = 1; i <= 1000; i++) {
		xsnprintf(line, sizeof(line),
		    "{\"status\":\"pulling abc\",\"digest\":\"sha256:abc\","
		    "\"total\":1000,\"completed\":%d}",
		    i);
		if (feed(&p, line, &m) == INFERENCE_PULL_PROGRESS)
			progress++;
	}
	is_int(progress, 10, "one progress event per 10%");
	is_str(m.buf, "sha256:abc 100%", "the last step is 100%");
	xsnprintf(line, sizeof(line),
	    "{\"status\":\"pulling abc\",\"digest\":\"sha256:abc\","
	    "\"total\":1000,\"completed\":500}");
	is_int(feed(&p, line, &m), INFERENCE_PULL_NONE, "going back does not log");
	is_int(feed(&p,
		   "{\"status\":\"pulling def\",\"digest\":\"sha256:def\",\"total\":10,"
		   "\"completed\":5}",
		   &m),
	    INFERENCE_PULL_STATUS, "second layer");
	is_int(feed(&p,
		   "{\"status\":\"pulling def\",\"digest\":\"sha256:def\",\"total\":10,"
		   "\"completed\":10}",
		   &m),
	    INFERENCE_PULL_PROGRESS, "second layer done");
	is_str(m.buf, "sha256:def 100%", "progress text");
	is_int(feed(&p,
		   "{\"status\":\"pulling def\",\"digest\":\"sha256:def\",\"total\":10,"
		   "\"completed\":99}",
		   &m),
	    INFERENCE_PULL_NONE, "completed over total is 100%");
	is_int(feed(&p, "{\"status\":\"verifying sha256 digest\"}", &m), INFERENCE_PULL_STATUS,
	    "verifying");
	is_int(feed(&p, "{\"status\":\"success\"}", &m), INFERENCE_PULL_DONE, "success");
	ok(p.success, "success recorded");

	node_inference_pull_init(&p);
	is_int(feed(&p, "{\"error\":\"pull model manifest: file does not exist\"}", &m),
	    INFERENCE_PULL_ERROR, "an error object");
	is_str(p.error, "pull model manifest: file does not exist", "its message");
	node_inference_pull_init(&p);
	is_int(feed(&p, "<html>", &m), INFERENCE_PULL_ERROR, "not JSON is an error");
	node_inference_pull_init(&p);
	is_int(feed(&p, "[1]", &m), INFERENCE_PULL_ERROR, "not an object is an error");
	is_int(feed(&p, "{\"other\":1}", &m), INFERENCE_PULL_NONE, "no status: nothing");
	is_int(feed(&p, "{\"status\":\"x\",\"digest\":\"d\",\"total\":0,\"completed\":5}", &m),
	    INFERENCE_PULL_STATUS, "a zero total is no percentage");
	is_str(m.buf, "x", "no percentage shown");
	is_int(feed(&p, "{\"status\":\"y\",\"digest\":\"d\",\"total\":-5,\"completed\":-1}", &m),
	    INFERENCE_PULL_STATUS, "negative numbers are ignored");
	/* More layers than slots: status lines still come, progress stays quiet. */
	node_inference_pull_init(&p);
	for (i = 0; i < INFERENCE_PULL_LAYERS + 5; i++) {
		xsnprintf(line, sizeof(line),
		    "{\"status\":\"pulling %d\",\"digest\":\"d%d\","
		    "\"total\":10,\"completed\":1}",
		    i, i);
		feed(&p, line, &m);
	}
	is_int(p.nlayers, INFERENCE_PULL_LAYERS, "layers tracked are bounded");
	xsnprintf(line, sizeof(line),
	    "{\"status\":\"pulling %d\",\"digest\":\"d%d\","
	    "\"total\":10,\"completed\":9}",
	    INFERENCE_PULL_LAYERS + 4, INFERENCE_PULL_LAYERS + 4);
	is_int(feed(&p, line, &m), INFERENCE_PULL_NONE, "an untracked layer logs no progress");
	cy_buf_release(&m);
}

static void
test_backend_check(void)
{
	static const char *const good[] = { "null", "{}", "{\"enabled\":false}",
		"{\"enabled\":true,\"variant\":\"cuda\",\"port\":11434}",
		"{\"enabled\":true,\"image\":\"docker.io/ollama/ollama:0.5.1@sha256:abc\"}",
		"{\"enabled\":true,\"env\":{\"X\":\"1\"},\"selected_model\":\"m\"}" };
	static const char *const bad[] = { "[]", "{\"enabled\":\"yes\"}", "{\"enabled\":1}",
		"{\"variant\":\"tpu\"}", "{\"variant\":7}", "{\"port\":0}", "{\"port\":70000}",
		"{\"port\":\"80\"}", "{\"image\":\"--privileged\"}", "{\"image\":\"\"}",
		"{\"image\":\"a b\"}", "{\"image\":5}", "{\"image\":\"x;rm\"}" };
	unsigned i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct cy_error err = CY_ERROR_INIT;
		json_t *j = json_loads(good[i], JSON_DECODE_ANY, NULL);

		ok(node_inference_check(j, &err) == 0, "accepted: %s %s", good[i], err.msg);
		json_decref(j);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cy_error err = CY_ERROR_INIT;
		json_t *j = json_loads(bad[i], JSON_DECODE_ANY, NULL);

		ok(node_inference_check(j, &err) < 0 && strstr(err.msg, "inference_backend"),
		    "refused: %s (%s)", bad[i], err.msg);
		json_decref(j);
	}
	ok(node_inference_check(NULL, NULL) == 0, "absent is fine");
}

static void
test_host_local(void)
{
	ok(inf_host_local("127.0.0.1"), "127.0.0.1 is local");
	ok(inf_host_local("127.8.9.10"), "all of 127/8 is loopback");
	ok(inf_host_local("localhost"), "localhost is local");
	ok(inf_host_local("::1"), "::1 is local");
	ok(inf_host_local("0.0.0.0"), "0.0.0.0 (every local address) is local");
	ok(!inf_host_local("192.0.2.1"), "a documentation address is not local");
	ok(!inf_host_local("2001:db8::1"), "nor an IPv6 one");
	ok(!inf_host_local("no-such-host.invalid"), "a name that does not resolve is not local");
}

int
main(void)
{
	RUN_TEST(test_parse_url);
	RUN_TEST(test_hostport);
	RUN_TEST(test_model_names);
	RUN_TEST(test_model_canon);
	RUN_TEST(test_pull_progress);
	RUN_TEST(test_backend_check);
	RUN_TEST(test_host_local);
	return tap_done();
}
