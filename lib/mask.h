/*
 * A streaming masker for job output: every occurrence of a secret value
 * (of at least CY_MASK_MIN bytes) in a byte stream comes out as "***",
 * also when it is split across reads, overlaps another secret or repeats
 * back to back (one "***" for a run of masked bytes).  Bytes that may still
 * turn out to be the start of a secret are held back until the next feed
 * shows they are not, or until the flush at the end of the stream; a
 * stream without secrets passes through unchanged.  Linear in the bytes fed
 * times the number of secrets (one KMP automaton per secret).  The node
 * puts it where it reads a job's stdout and stderr, so everything
 * downstream (results, logs) only ever sees masked bytes.
 */
#ifndef CY_MASK_H
#define CY_MASK_H

#include <stddef.h>

#include "buf.h"

#define CY_MASK_MIN 4
#define CY_MASK_TEXT "***"

struct cy_mask;

/*
 * A masker for the values (NULL-terminated list; values shorter than
 * CY_MASK_MIN are not masked); NULL when none is to be masked, which the
 * other functions take as "pass through".  Caller frees with cy_mask_free.
 */
struct cy_mask *cy_mask_new(const char *const *values);
/* Appends to out what of the stream so far, plus n bytes of p, is settled. */
void cy_mask_feed(struct cy_mask *m, const void *p, size_t n, struct cy_buf *out);
/* The end of the stream: appends what was held back. */
void cy_mask_flush(struct cy_mask *m, struct cy_buf *out);
/* Wipes the values and what was held, and frees m (NULL is fine). */
void cy_mask_free(struct cy_mask *m);

#endif
