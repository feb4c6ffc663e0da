/*
 * cynork's gateway client: one function that sends a JSON request through
 * lib/httpc, maps the HTTP status to cynork's exit codes (spec/cli.md
 * section 4), prints the problem detail as a one-line error, retries a 429
 * once after Retry-After, and refreshes the session once on a 401 when a
 * refresh token is stored.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "cynork.h"
#include "httpc.h"
#include "json.h"
#include "tls.h"
#include "version.h"
#include "banned.h"

#define RESPONSE_MAX (64 * 1024 * 1024)
#define STREAM_ERROR_MAX (64 * 1024)

char *
url_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	struct cy_buf b = CY_BUF_INIT;

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' || ch == '~')
			cy_buf_addch(&b, ch);
		else
			cy_buf_addf(&b, "%%%c%c", hex[ch >> 4], hex[ch & 15]);
	}
	return cy_buf_detach(&b, NULL);
}

static int
exit_for_status(long status)
{
	if (status == 401 || status == 403)
		return EXIT_AUTH;
	if (status == 404)
		return EXIT_NOT_FOUND;
	if (status == 409)
		return EXIT_CONFLICT;
	if (status == 400 || status == 413 || status == 422)
		return EXIT_VALIDATION;
	if (status == 429)
		return EXIT_TEMPFAIL;
	return EXIT_GATEWAY;
}

/*
 * The message of an error body: problem+json's detail (or title), the
 * OpenAI shape's error.message (the /v1/models and /v1/chat/completions
 * endpoints), or a short plain-text body; NULL when there is none.
 * *code gets the OpenAI error code when there is one.  Caller frees.
 */
static char *
error_message(const struct cy_httpc_resp *r, char **code)
{
	json_t *j = cy_json_parse(r->body.buf, r->body.len, true, NULL);
	json_t *oai = j ? json_object_get(j, "error") : NULL;
	const char *msg = NULL;
	bool is_json = j != NULL;
	char *out = NULL;

	*code = NULL;
	if (json_is_object(oai)) {
		msg = cy_json_str(oai, "message");
		if (cy_json_str(oai, "code"))
			*code = xstrdup(cy_json_str(oai, "code"));
	} else if (json_is_string(oai)) {
		msg = json_string_value(oai);
	}
	if (!msg && j)
		msg = cy_json_str(j, "detail") ? cy_json_str(j, "detail") : cy_json_str(j, "title");
	if (msg && *msg)
		out = xstrdup(msg);
	json_decref(j);
	/* A proxy's plain-text answer: its first line, when short and printable. */
	if (!out && !is_json && r->body.len > 0 && r->body.len <= 512 &&
	    strncmp(r->content_type, "text/plain", 10) == 0) {
		size_t n = strcspn(r->body.buf, "\r\n"), i;

		for (i = 0; i < n; i++)
			if ((unsigned char)r->body.buf[i] < 0x20 || r->body.buf[i] == 0x7f)
				break;
		if (n > 0 && i == n)
			out = xstrndup(r->body.buf, n);
	}
	return out;
}

/* Prints the error of a non-2xx response and returns its exit code. */
static int
report_http_error(const struct cy_httpc_resp *r)
{
	char *code, *msg = error_message(r, &code);
	int rc = exit_for_status(r->status);

	fail(rc, "%s (HTTP %ld)%s", msg ? msg : "request failed", r->status,
	    r->status == 401 ? "; run 'cynork login' or set CYNORK_TOKEN" :
	    r->status == 403 && !(msg && strstr(msg, "does not allow")) ?
			       "; your role or token scope does not allow this" :
	    code && strcmp(code, "model_not_found") == 0 ?
			       "; 'cynork models list' shows the models" :
	    r->status >= 500 ? "; the gateway failed: retry later or ask its operator" :
			       "");
	free(msg);
	free(code);
	return rc;
}

/* Exchanges the stored refresh token for a new pair; 0 on success. */
static int
refresh_session(struct ctx *c)
{
	struct cy_httpc_opts o = { .timeout_ms = 30000, .max_response = RESPONSE_MAX };
	struct cy_httpc_resp r = CY_HTTPC_RESP_INIT;
	struct cy_error err = CY_ERROR_INIT;
	char *url, *body;
	json_t *req, *j = NULL;
	const char *at, *rt;
	int rc = -1;

	if (c->token_from_env || !c->cfg.refresh_token)
		return -1;
	url = xasprintf("%s/v1/auth/refresh", c->gateway);
	req = json_pack("{s:s}", "refresh_token", c->cfg.refresh_token);
	body = json_dumps(req, JSON_COMPACT);
	o.user_agent = "cynork/" CYNODE_VERSION;
	client_tls(c, &o);
	if (cy_httpc_request("POST", url, body, strlen(body), &o, &r, &err) == 0 &&
	    r.status == 200 && (j = cy_json_parse(r.body.buf, r.body.len, true, NULL)) &&
	    (at = cy_json_str(j, "access_token")) && (rt = cy_json_str(j, "refresh_token"))) {
		free(c->cfg.token);
		free(c->cfg.refresh_token);
		c->cfg.token = xstrdup(at);
		c->cfg.refresh_token = xstrdup(rt);
		c->token = c->cfg.token;
		rc = cfg_save(c) == 0 ? 0 : -1;
	}
	json_decref(j);
	json_decref(req);
	explicit_bzero(body, strlen(body));
	free(body);
	free(url);
	cy_httpc_resp_release(&r);
	return rc;
}

/*
 * After an error status: true when the request is to be sent again (once
 * with a refreshed session after a 401, once after a 429's Retry-After).
 */
static bool
retry_status(struct ctx *c, const struct cy_httpc_resp *r, bool auth, bool *refreshed,
    bool *retried)
{
	if (r->status == 401 && auth && !*refreshed && refresh_session(c) == 0) {
		*refreshed = true;
		return true;
	}
	if (r->status == 429 && !*retried && r->retry_after >= 0 && r->retry_after <= 10) {
		*retried = true;
		sleep((unsigned)r->retry_after);
		return true;
	}
	return false;
}

void
client_tls(struct ctx *c, struct cy_httpc_opts *o)
{
	static bool warned;

	o->ca_file = c->ca_file;
	if (warned || c->quiet || cy_tls_url_https(c->gateway) || cy_tls_url_loopback(c->gateway))
		return;
	warned = true;
	fprintf(stderr,
	    "cynork: warning: %s is plain HTTP to another host: the password and the token "
	    "cross the network unencrypted; use an https:// gateway_url\n",
	    c->gateway);
}

int
api_transport_fail(struct ctx *c, const struct cy_error *err)
{
	if (err->code == EINTR)
		return fail(EXIT_INTERRUPTED, "interrupted");
	if (err->code == EPROTO)
		return fail(EXIT_GATEWAY,
		    "cannot verify the gateway at %s: %s; if it uses a private CA, give its "
		    "certificate with --cacert FILE, CYNORK_CA_FILE or ca_file in the config file",
		    c->gateway, err->msg);
	if (err->code == ETIMEDOUT)
		return fail(EXIT_TEMPFAIL, "the gateway at %s did not answer in time: %s",
		    c->gateway, err->msg);
	return fail(EXIT_GATEWAY,
	    "cannot reach the gateway at %s: %s; check that cynode-server runs there (gateway_url, CYNORK_GATEWAY_URL)",
	    c->gateway, err->msg);
}

int
api_call_h(struct ctx *c, const char *method, const char *path, json_t *body, bool auth,
    const char *const *headers, long timeout_ms, json_t **out, long *status)
{
	struct cy_httpc_opts o = { .timeout_ms = timeout_ms ? timeout_ms : 30000,
		.max_response = RESPONSE_MAX,
		.user_agent = "cynork/" CYNODE_VERSION,
		.headers = headers };
	struct cy_httpc_resp r = CY_HTTPC_RESP_INIT;
	struct cy_error err = CY_ERROR_INIT;
	char *url = xasprintf("%s%s", c->gateway, path);
	char *data = body ? json_dumps(body, JSON_COMPACT) : NULL;
	bool refreshed = false, retried = false;
	int rc;

	if (out)
		*out = NULL;
	client_tls(c, &o);
again:
	o.bearer = auth ? c->token : NULL;
	cy_httpc_resp_release(&r);
	/* Set only by the SIGINT handler of the shell and chat sessions. */
	o.abort_flag = &cynork_interrupted;
	if (cy_httpc_request(method, url, data, data ? strlen(data) : 0, &o, &r, &err) < 0) {
		rc = api_transport_fail(c, &err);
		goto out;
	}
	if (status)
		*status = r.status;
	if (retry_status(c, &r, auth, &refreshed, &retried))
		goto again;
	if (r.status < 200 || r.status >= 300) {
		rc = report_http_error(&r);
		goto out;
	}
	rc = EXIT_OK;
	if (out && r.body.len) {
		*out = cy_json_parse(r.body.buf, r.body.len, false, &err);
		if (!*out)
			rc =
			    fail(EXIT_PROTOCOL, "malformed response from the gateway: %s", err.msg);
	}
out:
	if (data) {
		explicit_bzero(data, strlen(data));
		free(data);
	}
	free(url);
	cy_httpc_resp_release(&r);
	return rc;
}

int
api_call(struct ctx *c, const char *method, const char *path, json_t *body, bool auth, json_t **out)
{
	return api_call_h(c, method, path, body, auth, NULL, 0, out, NULL);
}

int
api_upload(struct ctx *c, const char *path, int fd, long long size, const char *const *headers,
    json_t **out)
{
	struct cy_httpc_opts o = { .timeout_ms = -1,
		.idle_timeout_s = 120,
		.max_response = RESPONSE_MAX,
		.user_agent = "cynork/" CYNODE_VERSION,
		.content_type = "application/octet-stream",
		.headers = headers,
		.upload = true,
		.upload_fd = fd,
		.upload_size = size };
	struct cy_httpc_resp r = CY_HTTPC_RESP_INIT;
	struct cy_error err = CY_ERROR_INIT;
	char *url = xasprintf("%s%s", c->gateway, path);
	bool refreshed = false, retried = false;
	int rc;

	*out = NULL;
	client_tls(c, &o);
again:
	o.bearer = c->token;
	o.abort_flag = &cynork_interrupted;
	cy_httpc_resp_release(&r);
	if (lseek(fd, 0, SEEK_SET) < 0) {
		rc = fail(EXIT_USAGE, "cannot rewind the file: %s", strerror(errno));
		goto out;
	}
	if (cy_httpc_request("POST", url, NULL, 0, &o, &r, &err) < 0) {
		rc = api_transport_fail(c, &err);
		goto out;
	}
	if (retry_status(c, &r, true, &refreshed, &retried))
		goto again;
	if (r.status < 200 || r.status >= 300) {
		rc = report_http_error(&r);
		goto out;
	}
	rc = EXIT_OK;
	*out = cy_json_parse(r.body.buf, r.body.len, false, &err);
	if (!*out)
		rc = fail(EXIT_PROTOCOL, "malformed response from the gateway: %s", err.msg);
out:
	free(url);
	cy_httpc_resp_release(&r);
	return rc;
}

/* The state of one streamed call: the error body is kept for the report. */
struct stream_xfer {
	struct api_stream *s;
	struct cy_buf errbody;
};

static int
stream_data(void *arg, const struct cy_httpc_resp *r, const char *data, size_t len)
{
	struct stream_xfer *x = arg;
	struct api_stream *s = x->s;

	if (r->status < 200 || r->status >= 300) {
		if (x->errbody.len < STREAM_ERROR_MAX)
			cy_buf_add(&x->errbody, data,
			    len < STREAM_ERROR_MAX - x->errbody.len ?
				len :
				STREAM_ERROR_MAX - x->errbody.len);
		return 0;
	}
	if (!s->started) {
		s->started = true;
		s->status = r->status;
		xsnprintf(s->content_type, sizeof(s->content_type), "%s", r->content_type);
	}
	return s->fn(s->arg, data, len) == 0 ? 0 : -1;
}

int
api_stream(struct ctx *c, const char *method, const char *path, json_t *body, struct api_stream *s)
{
	struct cy_httpc_opts o = { .timeout_ms = s->timeout_ms ? s->timeout_ms : -1,
		.max_response = RESPONSE_MAX,
		.user_agent = "cynork/" CYNODE_VERSION,
		.headers = s->headers,
		.idle_timeout_s = s->idle_timeout_s,
		.abort_flag = s->abort_flag,
		.on_data = stream_data };
	struct cy_httpc_resp r = CY_HTTPC_RESP_INIT;
	struct stream_xfer x = { .s = s, .errbody = CY_BUF_INIT };
	char *url = xasprintf("%s%s", c->gateway, path);
	char *data = body ? json_dumps(body, JSON_COMPACT) : NULL;
	bool refreshed = false, retried = false;
	int rc;

	o.on_data_arg = &x;
	if (s->max_response)
		o.max_response = s->max_response;
	client_tls(c, &o);
	cy_error_clear(&s->err);
again:
	o.bearer = c->token;
	s->started = false;
	s->status = 0;
	s->content_type[0] = '\0';
	cy_buf_reset(&x.errbody);
	if (cy_httpc_request(method, url, data, data ? strlen(data) : 0, &o, &r, &s->err) < 0) {
		rc = -1;
		goto out;
	}
	s->status = r.status;
	if (r.status < 200 || r.status >= 300) {
		struct cy_httpc_resp er = r;

		er.body = x.errbody;
		if (retry_status(c, &er, true, &refreshed, &retried))
			goto again;
		rc = report_http_error(&er);
		goto out;
	}
	if (!s->started)
		xsnprintf(s->content_type, sizeof(s->content_type), "%s", r.content_type);
	rc = EXIT_OK;
out:
	if (data) {
		explicit_bzero(data, strlen(data));
		free(data);
	}
	free(url);
	cy_buf_release(&x.errbody);
	cy_httpc_resp_release(&r);
	return rc;
}
