/*
 * HTTP client wrapper over libcurl (see httpc.h).  Each thread keeps one easy
 * handle in a pthread key (released by the key destructor or
 * cy_httpc_thread_cleanup); curl_easy_reset between requests clears options
 * but keeps the connection and DNS caches, so keep-alive works.  The
 * handles also share one connection cache (a curl share object), so a
 * short-lived thread (a relay) reuses the connection an earlier one opened.
 * The body is capped while it is read; transport errors map to errno
 * values.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "httpc.h"
#include "ipaddr.h"
#include "tls.h"
#include "version.h"
#include "banned.h"

#define DEFAULT_TIMEOUT_MS 30000L
#define DEFAULT_CONNECT_TIMEOUT_MS 5000L
#define DEFAULT_MAX_RESPONSE (16u * 1024 * 1024)

static pthread_once_t httpc_once = PTHREAD_ONCE_INIT;
static pthread_key_t httpc_key;
static int httpc_init_failed;
static CURLSH *httpc_share;
static pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];

static void
share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *arg)
{
	(void)h;
	(void)access;
	(void)arg;
	if ((unsigned)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&share_locks[data]);
}

static void
share_unlock(CURL *h, curl_lock_data data, void *arg)
{
	(void)h;
	(void)arg;
	if ((unsigned)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&share_locks[data]);
}

struct xfer {
	struct cy_httpc_resp *resp;
	const struct cy_httpc_opts *opts;
	CURL *h;
	size_t max;
	size_t seen; /* body bytes so far (streams) */
	int over;
	int stopped;     /* on_data asked to stop */
	int head_done;   /* status and content type copied into resp */
	bool not_public; /* public_only refused the address */
};

static void
handle_destroy(void *h)
{
	if (h)
		curl_easy_cleanup(h);
}

/*
 * Debian's libcurl links libssh2, whose initialization, run by
 * curl_global_init, loads all of OpenSSL's ciphers and engines: 1.5 MiB
 * resident in every process that makes a request (a third of the node's
 * idle memory above its libraries) and 0.25 ms at each start.  cynode's
 * handles speak only http and https (CURLOPT_PROTOCOLS_STR, checked below),
 * and OpenSSL 3 initializes itself at first use anyway, so libssh2 is
 * initialized first without its crypto (libssh2_init(LIBSSH2_INIT_NO_CRYPTO),
 * its public API; later calls only count).  The symbol is looked up, not
 * linked: a libcurl without libssh2 needs nothing.  libssh2_init is not
 * thread-safe: once per process.
 */
static pthread_once_t curl_global_once = PTHREAD_ONCE_INIT;
static int curl_global_failed;

static void
curl_global_start(void)
{
	int (*ssh2_init)(int) = (int (*)(int))dlsym(RTLD_DEFAULT, "libssh2_init");
	CURL *h;

	if (ssh2_init)
		ssh2_init(1 /* LIBSSH2_INIT_NO_CRYPTO */);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		curl_global_failed = 1;
		return;
	}
	/* A libcurl that cannot be held to http(s) is not used at all. */
	h = curl_easy_init();
	if (!h || curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK) {
		fprintf(stderr, "cynode: this libcurl cannot be limited to http and https "
				"(CURLOPT_PROTOCOLS_STR needs 7.85 or later)\n");
		curl_global_failed = 1;
	}
	if (h)
		curl_easy_cleanup(h);
}

int
cy_curl_global_init(void)
{
	pthread_once(&curl_global_once, curl_global_start);
	return curl_global_failed ? -1 : 0;
}

static void
httpc_init(void)
{
	int i;

	if (cy_curl_global_init() < 0 ||
	    pthread_key_create(&httpc_key, handle_destroy) != 0) {
		httpc_init_failed = 1;
		return;
	}
	for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&share_locks[i], NULL);
	httpc_share = curl_share_init();
	if (httpc_share &&
	    (curl_share_setopt(httpc_share, CURLSHOPT_LOCKFUNC, share_lock) ||
		curl_share_setopt(httpc_share, CURLSHOPT_UNLOCKFUNC, share_unlock) ||
		curl_share_setopt(httpc_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) ||
		curl_share_setopt(httpc_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS))) {
		curl_share_cleanup(httpc_share);
		httpc_share = NULL;
	}
}

static CURL *
handle_get(void)
{
	CURL *h;

	pthread_once(&httpc_once, httpc_init);
	if (httpc_init_failed)
		return NULL;
	h = pthread_getspecific(httpc_key);
	if (h) {
		curl_easy_reset(h);
		return h;
	}
	h = curl_easy_init();
	if (h)
		pthread_setspecific(httpc_key, h);
	return h;
}

void
cy_httpc_thread_cleanup(void)
{
	CURL *h;

	pthread_once(&httpc_once, httpc_init);
	if (httpc_init_failed)
		return;
	h = pthread_getspecific(httpc_key);
	if (h) {
		pthread_setspecific(httpc_key, NULL);
		curl_easy_cleanup(h);
	}
}

/* Copies the status and content type into resp once the body starts. */
static void
head_capture(struct xfer *x)
{
	char *ctype = NULL;

	if (x->head_done)
		return;
	x->head_done = 1;
	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->resp->status);
	if (curl_easy_getinfo(x->h, CURLINFO_CONTENT_TYPE, &ctype) == CURLE_OK && ctype)
		cy_snprintf_clip(x->resp->content_type, sizeof(x->resp->content_type), "%s", ctype);
}

static size_t
write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct xfer *x = userp;
	size_t n = size * nmemb;

	if (x->opts->on_data) {
		if (n > x->max - x->seen) {
			x->over = 1;
			return 0;
		}
		x->seen += n;
		head_capture(x);
		if (x->opts->on_data(x->opts->on_data_arg, x->resp, data, n) < 0) {
			x->stopped = 1;
			return 0;
		}
		return n;
	}
	if (n > x->max - x->resp->body.len) {
		x->over = 1;
		return 0;
	}
	cy_buf_add(&x->resp->body, data, n);
	return n;
}

static size_t
header_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct xfer *x = userp;
	size_t n = size * nmemb;
	char line[128];
	const char *v;
	char *end;
	long secs;

	/* A new status line (after 100 Continue, say) starts a new header set. */
	if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		x->resp->retry_after = -1;
		return n;
	}
	if (n < 12 || strncasecmp(data, "Retry-After:", 12) != 0)
		return n;
	/* A Retry-After line longer than line[] is no number worth reading. */
	if (cy_snprintf(line, sizeof(line), "%.*s", (int)n, data) < 0)
		return n;
	v = line + 12;
	while (*v == ' ' || *v == '\t')
		v++;
	errno = 0;
	secs = strtol(v, &end, 10);
	while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
		end++;
	if (errno == 0 && end != v && *end == '\0' && secs >= 0)
		x->resp->retry_after = secs;
	return n;
}

/* Progress callback: a non-zero return makes libcurl stop the transfer. */
static int
abort_cb(void *data, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	const struct cy_httpc_opts *o = data;

	if (o->abort_flag && *o->abort_flag)
		return 1;
	return o->abort_fn && o->abort_fn(o->abort_arg) ? 1 : 0;
}

/*
 * With public_only: a socket only for a public address, before any
 * connect, so nothing reaches (or probes) a private one.
 */
static curl_socket_t
opensocket_public_cb(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct xfer *x = arg;
	char ip[INET6_ADDRSTRLEN] = "";

	(void)purpose;
	if (a->family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)&a->addr)->sin_addr, ip,
		    sizeof(ip));
	else if (a->family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&a->addr)->sin6_addr, ip,
		    sizeof(ip));
	if (!cy_ip_public(ip)) {
		x->not_public = true;
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype, a->protocol);
}

/* The handle's options for one request (the handle is reused: all set). */
static void
httpc_setopts(CURL *h, const char *url, const struct cy_httpc_opts *opts, struct xfer *x,
    char *errbuf)
{
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (opts->unix_socket)
		curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, opts->unix_socket);
	if (httpc_share)
		curl_easy_setopt(h, CURLOPT_SHARE, httpc_share);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION,
	    opts->public_only ? opensocket_public_cb : NULL);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, opts->public_only ? (void *)x : NULL);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
	    opts->timeout_ms < 0 ? 0L :
	    opts->timeout_ms > 0 ? opts->timeout_ms :
				   DEFAULT_TIMEOUT_MS);
	if (opts->idle_timeout_s > 0) {
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, opts->idle_timeout_s);
	}
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
	    opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(h, CURLOPT_USERAGENT,
	    opts->user_agent ? opts->user_agent : "cynode/" CYNODE_VERSION);
	cy_tls_curl(h, opts->pinned_pubkey, opts->ca_file);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, opts->abort_flag || opts->abort_fn ? 0L : 1L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION,
	    opts->abort_flag || opts->abort_fn ? abort_cb : NULL);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)opts);
}

/* Reads an upload's next bytes from its file (cy_httpc_opts.upload_fd). */
static size_t
upload_cb(char *buf, size_t size, size_t nmemb, void *userp)
{
	const struct cy_httpc_opts *opts = userp;
	ssize_t n;

	do
		n = read(opts->upload_fd, buf, size * nmemb);
	while (n < 0 && errno == EINTR);
	return n < 0 ? CURL_READFUNC_ABORT : (size_t)n;
}

/* The method and the body; true when a body (and so a Content-Type) goes out. */
static bool
httpc_method(CURL *h, const char *method, const void *body, size_t body_len,
    const struct cy_httpc_opts *opts)
{
	bool sends_body = body != NULL || strcmp(method, "POST") == 0 ||
			  strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0;

	if (opts->upload) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, upload_cb);
		curl_easy_setopt(h, CURLOPT_READDATA, (void *)opts);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)opts->upload_size);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
		return true;
	}
	if (strcmp(method, "GET") == 0 && !body) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
		return false;
	}
	if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
		return false;
	}
	if (sends_body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? (const char *)body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0));
	}
	if (strcmp(method, "POST") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	return sends_body;
}

/* The request headers: bearer, content type, the caller's own. */
static struct curl_slist *
httpc_headers(const struct cy_httpc_opts *opts, bool sends_body)
{
	struct curl_slist *hdrs = NULL;
	char *line;
	size_t i;

	if (opts->bearer) {
		line = xasprintf("Authorization: Bearer %s", opts->bearer);
		hdrs = curl_slist_append(hdrs, line);
		explicit_bzero(line, strlen(line));
		free(line);
	}
	if (sends_body) {
		line = xasprintf("Content-Type: %s",
		    opts->content_type ? opts->content_type : "application/json");
		hdrs = curl_slist_append(hdrs, line);
		free(line);
	}
	for (i = 0; opts->headers && opts->headers[i]; i++)
		hdrs = curl_slist_append(hdrs, opts->headers[i]);
	return hdrs;
}

/* A failed transfer as an errno-coded error. */
static int
httpc_error(CURLcode rc, const struct xfer *x, const char *method, const char *url,
    const char *errbuf, struct cy_error *err)
{
	const char *msg = errbuf[0] ? errbuf : curl_easy_strerror(rc);

	if (x->not_public)
		return cy_error_set(err, EACCES,
		    "%s: refused: the destination is not a public address (loopback, private, "
		    "link-local or reserved)",
		    method);
	if (x->stopped)
		return cy_error_set(err, ECANCELED, "%s %s: stopped by the receiver", method, url);
	if (x->over || rc == CURLE_FILESIZE_EXCEEDED)
		return cy_error_set(err, EFBIG, "%s %s: response body larger than %zu bytes",
		    method, url, x->max);
	if (rc == CURLE_ABORTED_BY_CALLBACK)
		return cy_error_set(err, EINTR, "%s %s: interrupted", method, url);
	if (rc == CURLE_COULDNT_CONNECT)
		return cy_error_set(err, ECONNREFUSED, "%s %s: %s", method, url, msg);
	if (rc == CURLE_OPERATION_TIMEDOUT)
		return cy_error_set(err, ETIMEDOUT, "%s %s: %s", method, url, msg);
	if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH ||
	    rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CONNECT_ERROR)
		return cy_error_set(err, EPROTO, "%s %s: TLS: %s", method, url, msg);
	return cy_error_set(err, EIO, "%s %s: %s", method, url, msg);
}

int
cy_httpc_request(const char *method, const char *url, const void *body, size_t body_len,
    const struct cy_httpc_opts *opts, struct cy_httpc_resp *resp, struct cy_error *err)
{
	static const struct cy_httpc_opts defaults;
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs;
	struct xfer x;
	CURLcode rc;
	CURL *h;

	if (!opts)
		opts = &defaults;
	cy_buf_reset(&resp->body);
	resp->status = 0;
	resp->content_type[0] = '\0';
	resp->retry_after = -1;
	h = handle_get();
	if (!h)
		return cy_error_set(err, EIO, "%s %s: cannot initialise libcurl", method, url);
	memset(&x, 0, sizeof(x));
	x.resp = resp;
	x.opts = opts;
	x.h = h;
	x.max = opts->max_response ? opts->max_response : DEFAULT_MAX_RESPONSE;
	httpc_setopts(h, url, opts, &x, errbuf);
	hdrs = httpc_headers(opts, httpc_method(h, method, body, body_len, opts));
	if (hdrs)
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	rc = curl_easy_perform(h);
	curl_slist_free_all(hdrs);
	/* The handle outlives this call: drop pointers to our stack. */
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	if (rc != CURLE_OK) {
		cy_buf_reset(&resp->body);
		return httpc_error(rc, &x, method, url, errbuf, err);
	}
	x.head_done = 0;
	head_capture(&x);
	return 0;
}

void
cy_httpc_resp_release(struct cy_httpc_resp *resp)
{
	cy_buf_release(&resp->body);
}
