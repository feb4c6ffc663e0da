/*
 * What lib/httpd.c and lib/httpd-stream.c share and nothing else sees: the
 * daemon's state and the hooks of streamed responses.
 */
#ifndef CY_HTTPD_INT_H
#define CY_HTTPD_INT_H

#include <microhttpd.h>
#include <pthread.h>

#include "httpd.h"

struct cy_httpd {
	struct MHD_Daemon *mhd;
	struct cy_httpd_config cfg;
	unsigned port;
	pthread_mutex_t streams_lock;
	struct cy_http_stream *streams; /* responses being streamed */
	int stopping;                   /* atomic: cy_httpd_stop has begun */
	char *tls_cert, *tls_key;       /* copies of the PEMs when serving HTTPS */
};

/*
 * The MHD response of a stream the handler made (registered with d so a
 * stop can end it), or NULL (the stream then ended) when none could be made.
 */
struct MHD_Response *httpd_stream_response(struct cy_httpd *d, struct MHD_Connection *conn,
    struct cy_http_stream *st);
/* A stream that never reached MHD: ends it and drops the request's reference. */
void httpd_stream_abandon(struct cy_http_stream *st);
/* At stop: parked streams are resumed so MHD can end them. */
void httpd_streams_stop(struct cy_httpd *d);

#endif
