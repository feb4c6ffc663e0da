/*
 * A relay: one HTTP request sent upstream from a thread of its own, whose
 * answer comes back to an httpd handler either streamed on, chunk by chunk,
 * through a cy_http_stream, or whole.  The gateway relays chat completions
 * to a node this way, and the node relays them to its inference backend.
 *
 * The handler starts the relay and waits for it to need the handler (a
 * thread-pool daemon suspends the request and resumes it from `wake`; a
 * thread-per-connection daemon blocks in cy_relay_wait).  Then
 * cy_relay_state() says what is there: RELAY_STREAM (the upstream answered
 * with a streamed body: make a cy_resp_stream and cy_relay_attach it; the
 * relay writes the body into it and closes it), or RELAY_DONE (the whole
 * answer, or a transport failure: cy_relay_result).  A client that goes
 * away stops the upstream request within about a second.
 */
#ifndef CY_RELAY_H
#define CY_RELAY_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "error.h"
#include "httpd.h"

enum cy_relay_state {
	RELAY_PENDING,
	RELAY_STREAM,
	RELAY_DONE
};

struct cy_relay_result {
	int rc;              /* 0 when an HTTP answer came (whatever its status) */
	struct cy_error err; /* rc < 0: the transport failure (code ETIMEDOUT, ...) */
	long status;
	char content_type[128];
	struct cy_buf body; /* a whole answer (empty for a streamed one) */
	bool streamed;      /* the answer was streamed to the client */
	bool client_gone;   /* the client left before the end */
	size_t bytes;       /* body bytes received from upstream */
};

struct cy_relay_spec {
	const char *method;
	const char *url;
	const char *body; /* copied */
	size_t body_len;
	const char *bearer;         /* copied; wiped when the relay ends */
	const char *const *headers; /* "Name: value" lines, NULL-terminated; copied */
	const char *pinned_pubkey;  /* https: the upstream's key pin (tls.h); copied */
	const char *ca_file;        /* https without a pin: CA bundle; must outlive the relay */
	long timeout_ms;            /* whole exchange; < 0 none */
	long connect_timeout_ms;    /* 0: 5 s */
	long idle_timeout_s;        /* no byte for this long fails the exchange; 0 none */
	size_t max_body;            /* cap of a whole answer (and of a stream: 0 none) */
	/* True when an answer with this status and content type is to be streamed. */
	bool (*want_stream)(long status, const char *content_type);
	/*
	 * Streamed data passes through filter when set (else it is written as
	 * is); data NULL marks the end (the exchange's result is in r).
	 * Returns -1 to stop the exchange.
	 */
	int (*filter)(void *arg, struct cy_http_stream *out, const char *data, size_t len,
	    const struct cy_relay_result *r);
	/* On the relay thread when all is over (no other callback follows). */
	void (*done)(void *arg, const struct cy_relay_result *r);
	/*
	 * A streamed answer whose upstream failed midway ends as cut
	 * (cy_http_stream_abort) rather than cleanly, so the client notices.
	 */
	bool abort_on_cut;
	/* Any thread: the relay needs the handler (state no longer PENDING). */
	void (*wake)(void *arg);
	void *arg;
};

/* A want_stream: a 200 answer of text/event-stream or application/x-ndjson. */
bool cy_relay_want_stream(long status, const char *content_type);

/* Starts the exchange on a new thread; NULL with err when it cannot. */
struct cy_relay *cy_relay_start(const struct cy_relay_spec *spec, struct cy_error *err);
enum cy_relay_state cy_relay_state(struct cy_relay *r);
/* Blocks until the state is no longer RELAY_PENDING. */
void cy_relay_wait(struct cy_relay *r);
/* In state RELAY_STREAM: the stream the body goes to (the relay closes it). */
void cy_relay_attach(struct cy_relay *r, struct cy_http_stream *st);
/* In state RELAY_DONE: the exchange's result (valid until cy_relay_release). */
const struct cy_relay_result *cy_relay_result(struct cy_relay *r);
/* In state RELAY_STREAM: status and content type of the upstream answer. */
long cy_relay_status(struct cy_relay *r, const char **content_type);
/* Stops the exchange from any thread (within about a second); state becomes DONE. */
void cy_relay_cancel(struct cy_relay *r);
/* The handler is done with r: stops the upstream if it still runs unattached. */
void cy_relay_release(struct cy_relay *r);
/*
 * The usual end of a handler on a thread-per-connection daemon: waits for
 * r, then passes a streamed answer on as it comes (its status and content
 * type), or answers with the whole one (its status, as JSON), or, when the
 * exchange failed, calls fail(resp, status, message) with 504 (timeout),
 * 503 (not reachable) or 502.  `what` names the upstream in messages.
 * Releases r.
 */
void cy_relay_respond(struct cy_relay *r, struct cy_http_resp *resp, cy_http_error_fn fail,
    const char *what);

#endif
