/*
 * infer.c: the runner's one way to a model: the OpenAI-compatible
 * /v1/chat/completions of the node's inference proxy, over the job's Unix
 * socket (libcurl's CURLOPT_UNIX_SOCKET_PATH through lib/httpc).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "alloc.h"
#include "httpc.h"
#include "json.h"
#include "runner.h"
#include "banned.h"

#define CHAT_TIMEOUT_MS (15L * 60 * 1000)
#define CHAT_ANSWER_MAX (8 * 1024 * 1024)

int
sba_infer_setup(struct sba_run *r, const char *url, struct cy_buf *why)
{
	static const char scheme[] = "http+unix://";
	const char *p, *end;
	char *path;
	int len = 0;

	if (!url || strncmp(url, scheme, sizeof(scheme) - 1)) {
		cy_buf_addf(why,
		    "INFERENCE_PROXY_URL is %s: the node gives agent jobs an "
		    "http+unix:// inference socket",
		    url ? "not http+unix://" : "not set");
		return -1;
	}
	p = url + sizeof(scheme) - 1;
	end = p + strcspn(p, "/");
	/* The host part is the socket's path, percent-encoded (libcurl decodes it). */
	path = end > p ? curl_easy_unescape(NULL, p, (int)(end - p), &len) : NULL;
	if (!path || len == 0 || path[0] != '/' || (int)strlen(path) != len) {
		curl_free(path);
		cy_buf_addf(why, "INFERENCE_PROXY_URL '%s' names no socket path", url);
		return -1;
	}
	r->socket = xstrdup(path);
	curl_free(path);
	r->base_url = xasprintf("http://localhost%s", end);
	while (strlen(r->base_url) > 16 && r->base_url[strlen(r->base_url) - 1] == '/')
		r->base_url[strlen(r->base_url) - 1] = '\0';
	return 0;
}

static void
usage_add(struct sba_run *r, const json_t *usage)
{
	const char *k[] = { "prompt_tokens", "completion_tokens" };
	size_t i;

	for (i = 0; i < 2; i++) {
		long long have = 0, more = 0;

		(void)cy_json_int(r->usage, k[i], &have);
		if (cy_json_int(usage, k[i], &more) == 0 && more > 0)
			json_object_set_new(r->usage, k[i], json_integer(have + more));
	}
}

json_t *
sba_chat(struct sba_run *r, const json_t *messages, const json_t *tools, struct cy_buf *why)
{
	struct cy_httpc_opts o = { .timeout_ms = CHAT_TIMEOUT_MS,
		.unix_socket = r->socket,
		.max_response = CHAT_ANSWER_MAX };
	struct cy_httpc_resp resp = CY_HTTPC_RESP_INIT;
	struct cy_error err = CY_ERROR_INIT;
	json_t *req =
	    json_pack("{s:s, s:O, s:b}", "model", r->model, "messages", messages, "stream", 0);
	json_t *ans = NULL, *msg = NULL;
	char *body, *url = xasprintf("%s/v1/chat/completions", r->base_url);

	if (tools)
		json_object_set(req, "tools", (json_t *)tools);
	body = cy_json_dump(req);
	if (cy_httpc_request("POST", url, body, strlen(body), &o, &resp, &err) < 0) {
		cy_buf_addf(why, "the inference socket: %s", err.msg);
	} else if (!(ans = cy_json_parse(resp.body.buf, resp.body.len, true, &err))) {
		cy_buf_addf(why, "the model's answer (HTTP %ld) is not JSON: %s", resp.status,
		    err.msg);
	} else if (resp.status != 200) {
		const char *m = cy_json_path_str(ans, "error.message");

		cy_buf_addf(why, "the model answered HTTP %ld: %.300s", resp.status,
		    m                         ? m :
		    cy_json_str(ans, "error") ? cy_json_str(ans, "error") :
						"no reason");
	} else if (!json_is_object(
		       msg = json_object_get(json_array_get(json_object_get(ans, "choices"), 0),
			   "message"))) {
		cy_buf_addstr(why, "the model's answer has no choices[0].message");
		msg = NULL;
	} else {
		json_incref(msg);
		usage_add(r, json_object_get(ans, "usage"));
	}
	json_decref(ans);
	json_decref(req);
	free(body);
	free(url);
	cy_httpc_resp_release(&resp);
	return msg;
}
