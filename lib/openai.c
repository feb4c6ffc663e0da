/*
 * OpenAI-shaped errors (see openai.h).
 */
#include <stdarg.h>

#include "buf.h"
#include "openai.h"
#include "banned.h"

const char *
cy_openai_code(int status)
{
	switch (status) {
	case 400:
		return "invalid_request";
	case 401:
		return "unauthorized";
	case 403:
		return "forbidden";
	case 404:
		return "model_not_found";
	case 408:
		return "canceled";
	case 413:
		return "request_too_large";
	case 429:
		return "rate_limited";
	case 502:
		return "inference_failed";
	case 503:
		return "inference_unavailable";
	case 504:
		return "timeout";
	default:
		return status >= 500 ? "internal_error" : "invalid_request";
	}
}

json_t *
cy_openai_error_json(int status, const char *message)
{
	json_t *e = json_pack("{s:{s:s, s:s, s:n, s:s}}", "error", "message", message, "type",
	    "cynodeai_error", "param", "code", cy_openai_code(status));

	/* json_pack refuses a message that is not UTF-8. */
	return e ? e :
		   json_pack("{s:{s:s, s:s, s:n, s:s}}", "error", "message",
		       "(message not valid UTF-8)", "type", "cynodeai_error", "param", "code",
		       cy_openai_code(status));
}

void
cy_openai_error(struct cy_http_resp *resp, int status, const char *detail)
{
	cy_resp_json(resp, status, cy_openai_error_json(status, detail));
}

void
cy_openai_fail(struct cy_http_resp *resp, int status, const char *fmt, ...)
{
	struct cy_buf m = CY_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	cy_buf_vaddf(&m, fmt, ap);
	va_end(ap);
	cy_openai_error(resp, status, m.buf);
	cy_buf_release(&m);
}
