/*
 * Fuzz target for what the node reads from its inference backend and
 * from the orchestrator about inference: the lines of a streamed
 * /api/pull (node_inference_pull_line, fed line by line in one pull), the
 * config payload's inference_backend object (node_inference_check), a
 * prompt job's inference object (prompt_job_parse) and inference.url
 * (node_inference_parse_url).  Beyond not crashing: a URL that parses
 * gives a host and a port in range.  Replayed as a unit test by replay.c;
 * `make fuzz` runs it under libFuzzer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "../../node/inference.h"
#include "../../node/prompt-job.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cy_buf msg = CY_BUF_INIT, why = CY_BUF_INIT;
	struct cy_error err = CY_ERROR_INIT;
	struct inference_pull pull;
	struct prompt_job pj;
	char *s = xmalloc(size + 1), host[256];
	const char *line = s, *nl;
	unsigned port;
	json_t *j;

	memcpy(s, data, size);
	s[size] = '\0';
	node_inference_pull_init(&pull);
	while ((nl = memchr(line, '\n', (size_t)(s + size - line))) != NULL) {
		node_inference_pull_line(&pull, line, (size_t)(nl - line), &msg);
		line = nl + 1;
	}
	node_inference_pull_line(&pull, line, (size_t)(s + size - line), &msg);
	j = json_loadb(s, size, 0, NULL);
	if (j) {
		node_inference_check(j, &err);
		memset(&pj, 0, sizeof(pj));
		prompt_job_parse(j, &pj, &why);
		json_decref(j);
	}
	if (node_inference_parse_url(s, host, sizeof(host), &port, &err) == 0 &&
	    (port == 0 || port > 65535 || host[0] == '\0'))
		abort();
	cy_buf_release(&msg);
	cy_buf_release(&why);
	free(s);
	return 0;
}
