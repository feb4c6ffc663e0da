/*
 * Fuzz target for cynork's dotenv parser (cynork/dotenv.c, task create
 * --env-file).  Beyond not crashing it checks that what it accepts holds
 * only variable names a job may set, with string values, and that an
 * error names the file and a line.  Replayed as a unit test by replay.c;
 * `make fuzz` runs it under libFuzzer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dotenv.h"
#include "jobenv.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cy_buf why = CY_BUF_INIT;
	json_t *env = json_object(), *v;
	const char *k;

	if (dotenv_parse((const char *)data, size, "f.env", env, &why) == 0) {
		if (why.len)
			abort();
		json_object_foreach(env, k, v) {
			if (!cy_env_name_valid(k) || cy_env_name_reserved(k) || !json_is_string(v))
				abort();
		}
	} else if (strncmp(why.buf, "f.env:", 6) != 0) {
		abort();
	}
	json_decref(env);
	cy_buf_release(&why);
	return 0;
}
