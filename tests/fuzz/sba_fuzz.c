/*
 * Fuzz target for the agent job rules (lib/sba.c): the spec a user sends
 * (POST /v1/tasks job_spec_json) and the result an agent leaves in its
 * workspace, which the node and the server read back.  The input is JSON
 * text; its first byte picks what it is checked as.  Beyond not crashing:
 * a spec accepted without a job_id is refused when one is required, and
 * accepted again once the job_id is added.  Replayed as a unit test by
 * replay.c; `make fuzz` runs it under libFuzzer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "error.h"
#include "json.h"
#include "sba.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cy_error err = CY_ERROR_INIT;
	struct cy_buf why = CY_BUF_INIT;
	json_t *v;

	if (size < 1)
		return 0;
	v = cy_json_parse((const char *)data + 1, size - 1, false, &err);
	if (!v)
		return 0;
	if (data[0] & 1) {
		(void)cy_sba_result_check(v, (data[0] & 2) ? "job-1" : NULL, &why);
	} else if (cy_sba_spec_check(v, false, NULL, &why) == 0 && !json_object_get(v, "job_id")) {
		cy_buf_reset(&why);
		if (cy_sba_spec_check(v, true, NULL, &why) == 0)
			abort();
		json_object_set_new(v, "job_id", json_string("job-1"));
		cy_buf_reset(&why);
		if (cy_sba_spec_check(v, true, "job-1", &why) != 0)
			abort();
	}
	cy_buf_release(&why);
	json_decref(v);
	return 0;
}
