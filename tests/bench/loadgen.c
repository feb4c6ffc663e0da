/*
 * loadgen: a small HTTP load generator for the benchmarks (tests/bench).
 * It sends N requests with at most C in flight over keep-alive connections
 * from one thread (libcurl's multi interface), times each one and prints
 * one line of key=value figures:
 *
 *	ok=N failed=N seconds=S rate=R p50_ms=X p99_ms=Y max_ms=Z
 *
 * Usage: loadgen -u URL [-X METHOD] [-d BODY] [-t TOKEN] [-n N] [-c C]
 *                [-o FILE] [-l FILE] [-s STATUS]
 * -o appends each response body (one line each) to FILE; -l writes each
 * request's start (ms since the first) and latency (ms), one request a
 * line in the order they ended, to FILE (where in the run the slow ones
 * were); -s is the HTTP status that counts as success (default: any 2xx).
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "httpc.h"
#include "banned.h"

struct slot {
	CURL *easy;
	struct curl_slist *hdrs;
	struct cy_buf body;
	double t0;
	int busy;
};

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static size_t
on_data(char *p, size_t sz, size_t n, void *arg)
{
	cy_buf_add(arg, p, sz * n);
	return sz * n;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
usage(void)
{
	fprintf(stderr, "usage: loadgen -u URL [-X METHOD] [-d BODY] [-t TOKEN] [-n N] "
			"[-c C] [-o FILE] [-l FILE] [-s STATUS]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *url = NULL, *method = "GET", *body = NULL, *token = NULL, *outf = NULL;
	const char *latf = NULL;
	long n = 1, c = 1, want = 0, sent = 0, done = 0, ok = 0, failed = 0, i;
	struct slot *slots;
	double *lat, start, secs;
	CURLM *multi;
	FILE *out = NULL, *latout = NULL;
	char *auth = NULL;
	int opt, running;

	while ((opt = getopt(argc, argv, "u:X:d:t:n:c:o:l:s:")) != -1) {
		switch (opt) {
		case 'u':
			url = optarg;
			break;
		case 'X':
			method = optarg;
			break;
		case 'd':
			body = optarg;
			break;
		case 't':
			token = optarg;
			break;
		case 'n':
			n = atol(optarg);
			break;
		case 'c':
			c = atol(optarg);
			break;
		case 'o':
			outf = optarg;
			break;
		case 'l':
			latf = optarg;
			break;
		case 's':
			want = atol(optarg);
			break;
		default:
			usage();
		}
	}
	if (!url || n < 1 || c < 1)
		usage();
	if (c > n)
		c = n;
	if (outf && !(out = fopen(outf, "a"))) {
		perror(outf);
		return 2;
	}
	if (latf && !(latout = fopen(latf, "w"))) {
		perror(latf);
		return 2;
	}
	if (cy_curl_global_init() < 0)
		return 2;
	multi = curl_multi_init();
	curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, c);
	slots = xcalloc((size_t)c, sizeof(*slots));
	lat = xcalloc((size_t)n, sizeof(*lat));
	if (token)
		auth = xasprintf("Authorization: Bearer %s", token);
	for (i = 0; i < c; i++) {
		struct slot *s = &slots[i];

		s->easy = curl_easy_init();
		cy_buf_init(&s->body, 0);
		if (auth)
			s->hdrs = curl_slist_append(s->hdrs, auth);
		if (body)
			s->hdrs = curl_slist_append(s->hdrs, "Content-Type: application/json");
		s->hdrs = curl_slist_append(s->hdrs, "Expect:");
		curl_easy_setopt(s->easy, CURLOPT_URL, url);
		curl_easy_setopt(s->easy, CURLOPT_CUSTOMREQUEST, method);
		curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->hdrs);
		if (body)
			curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_data);
		curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, &s->body);
		curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
		curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, 120000L);
		curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(s->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	}
	start = now_ms();
	while (done < n) {
		CURLMsg *m;
		int left;

		for (i = 0; i < c && sent < n; i++) {
			if (slots[i].busy)
				continue;
			cy_buf_reset(&slots[i].body);
			slots[i].t0 = now_ms();
			slots[i].busy = 1;
			curl_multi_add_handle(multi, slots[i].easy);
			sent++;
		}
		curl_multi_perform(multi, &running);
		while ((m = curl_multi_info_read(multi, &left))) {
			struct slot *s;
			long code = 0;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
			curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &code);
			lat[done] = now_ms() - s->t0;
			if (latout)
				fprintf(latout, "%.3f %.3f\n", s->t0 - start, lat[done]);
			done++;
			if (m->data.result == CURLE_OK &&
			    (want ? code == want : code >= 200 && code < 300)) {
				ok++;
			} else {
				if (failed < 3)
					fprintf(stderr,
					    "loadgen: request failed: %s, HTTP %ld: %.200s\n",
					    curl_easy_strerror(m->data.result), code, s->body.buf);
				failed++;
			}
			if (out)
				fprintf(out, "%s\n", s->body.buf);
			curl_multi_remove_handle(multi, m->easy_handle);
			s->busy = 0;
		}
		if (done < n)
			curl_multi_poll(multi, NULL, 0, 100, NULL);
	}
	secs = (now_ms() - start) / 1000.0;
	qsort(lat, (size_t)n, sizeof(*lat), cmp_double);
	printf("ok=%ld failed=%ld seconds=%.3f rate=%.1f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n", ok,
	    failed, secs, (double)n / secs, lat[(n - 1) / 2], lat[(n - 1) * 99 / 100], lat[n - 1]);
	for (i = 0; i < c; i++) {
		curl_easy_cleanup(slots[i].easy);
		curl_slist_free_all(slots[i].hdrs);
		cy_buf_release(&slots[i].body);
	}
	curl_multi_cleanup(multi);
	curl_global_cleanup();
	if (out)
		fclose(out);
	if (latout)
		fclose(latout);
	free(slots);
	free(lat);
	free(auth);
	return failed ? 1 : 0;
}
