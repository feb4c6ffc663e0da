/*
 * HTTP client wrapper over libcurl for blocking requests.  Each thread
 * reuses one easy handle, so connections are kept alive between calls.
 * Response bodies are capped at opts->max_response bytes while reading, or
 * handed to opts->on_data piece by piece as they arrive (streams: NDJSON,
 * server-sent events).
 */
#ifndef CY_HTTPC_H
#define CY_HTTPC_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "error.h"

struct cy_httpc_resp;

/*
 * curl_global_init for a program that speaks only http(s): the first
 * request calls it; a program with handles of its own (the dispatcher)
 * calls it at start.  0, or -1 when libcurl cannot start.
 */
int cy_curl_global_init(void);

struct cy_httpc_opts {
	long timeout_ms;            /* whole request; 0 = 30 s */
	long connect_timeout_ms;    /* 0 = 5 s */
	size_t max_response;        /* 0 = 16 MiB */
	const char *bearer;         /* Authorization: Bearer <bearer> when non-NULL */
	const char *content_type;   /* default "application/json" when a body is sent */
	const char *user_agent;     /* default "cynode/<version>" */
	const char *ca_file;        /* CA bundle for https, NULL = system default */
	const char *pinned_pubkey;  /* https: "sha256//..." the server's key must match (tls.h) */
	const char *const *headers; /* extra "Name: value" lines, NULL-terminated */
	const char *unix_socket;    /* connect to this Unix socket instead of the URL's host */
	/* When non-NULL: the request stops (err EINTR) once *abort_flag is set. */
	volatile sig_atomic_t *abort_flag;
	/* When non-NULL: polled about once a second and on each read; non-zero stops (EINTR). */
	int (*abort_fn)(void *arg);
	void *abort_arg;
	/*
	 * Streaming: when on_data is set, the body is not collected in
	 * resp->body but passed to on_data as it arrives, with the response's
	 * status and content type already in resp.  on_data returns 0 to go on
	 * or -1 to stop the transfer (err ECANCELED).  max_response still caps
	 * the whole body.
	 */
	int (*on_data)(void *arg, const struct cy_httpc_resp *resp, const char *data, size_t len);
	void *on_data_arg;
	/* With a stream: fail (ETIMEDOUT) when no byte came for this long; 0 = no limit. */
	long idle_timeout_s;
	/* timeout_ms < 0: no limit on the whole request (streams). */
	/*
	 * Uploads: with upload set, the request body is read from upload_fd
	 * as it goes out (never whole in memory), upload_size bytes sent
	 * with that Content-Length; body must then be NULL.  A file that
	 * gives fewer bytes fails the request (EIO).
	 */
	bool upload;
	int upload_fd;
	long long upload_size;
	/*
	 * Refuse to connect to an address that is not public (ipaddr.h),
	 * checked on the address connected to, so a name that resolves to
	 * one (DNS rebinding included) fails too (err EACCES).
	 */
	bool public_only;
};

struct cy_httpc_resp {
	long status;
	struct cy_buf body;
	char content_type[128];
	long retry_after; /* seconds from Retry-After, -1 when absent */
};

/* clang-format off */
#define CY_HTTPC_RESP_INIT { .body = CY_BUF_INIT, .retry_after = -1 }
/* clang-format on */

/*
 * Sends a request.  Returns 0 when an HTTP response arrived (whatever its
 * status), or -1 with err set on a transport failure: err->code is
 * ECONNREFUSED, ETIMEDOUT, EPROTO (TLS handshake or verification failed:
 * certificate not trusted, name or pinned key mismatch), EFBIG (response over the cap), EINTR
 * (stopped by opts->abort_flag), ECANCELED (stopped by opts->on_data) or EIO.
 */
int cy_httpc_request(const char *method, const char *url, const void *body, size_t body_len,
    const struct cy_httpc_opts *opts, struct cy_httpc_resp *resp, struct cy_error *err);
void cy_httpc_resp_release(struct cy_httpc_resp *resp);
/* Releases this thread's handle (call before a thread exits). */
void cy_httpc_thread_cleanup(void);

#endif
