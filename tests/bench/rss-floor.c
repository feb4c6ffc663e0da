/*
 * rss-floor: the resident memory of a program that only loads the shared
 * libraries cynode-node links (one call into each, so the linker keeps
 * them), starts libcurl the way the node does (cy_curl_global_init) and
 * does nothing else.  The node's own memory is what it holds
 * above this floor.  Prints "rss_kb=N pss_kb=N uss_kb=N".
 */
#include <curl/curl.h>
#include <gnutls/gnutls.h>
#include <jansson.h>
#include <microhttpd.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <uuid/uuid.h>
#include <yaml.h>

#include "httpc.h"

int
main(void)
{
	char line[256];
	long long rss = 0, pss = 0, priv = 0, v;
	json_t *j = json_object();
	uuid_t u;
	FILE *f;

	if (cy_curl_global_init() < 0)
		return 1;
	uuid_generate(u);
	if (!MHD_get_version() || !yaml_get_version_string() || !seccomp_version() ||
	    !gnutls_check_version(NULL))
		return 1;
	json_decref(j);
	f = fopen("/proc/self/smaps_rollup", "r");
	if (!f)
		return 1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Rss: %lld", &v) == 1)
			rss = v;
		else if (sscanf(line, "Pss: %lld", &v) == 1)
			pss = v;
		else if (sscanf(line, "Private_Clean: %lld", &v) == 1 ||
			 sscanf(line, "Private_Dirty: %lld", &v) == 1)
			priv += v;
	}
	fclose(f);
	printf("rss_kb=%lld pss_kb=%lld uss_kb=%lld\n", rss, pss, priv);
	curl_global_cleanup();
	return 0;
}
