/*
 * Sealing values at rest: AES-256-GCM (GnuTLS) with a random 12-byte
 * nonce, the stored form nonce || ciphertext || tag (CY_SEAL_OVERHEAD bytes
 * more than the plaintext) as lowercase hex, the way SQL reads and writes
 * it (decode($n, 'hex') / encode(col, 'hex')).  Optional associated data
 * binds a sealed value to where it is stored (its owner and name), so a
 * ciphertext copied into another row does not open.  The caller owns the
 * key and its derivation.
 */
#ifndef CY_SEAL_H
#define CY_SEAL_H

#include <stddef.h>

#include "error.h"

#define CY_SEAL_KEY_LEN 32
#define CY_SEAL_NONCE_LEN 12
#define CY_SEAL_TAG_LEN 16
#define CY_SEAL_OVERHEAD (CY_SEAL_NONCE_LEN + CY_SEAL_TAG_LEN)

/*
 * Seals len bytes of pt under key, with aad (aadlen bytes; NULL and 0 for
 * none); returns the hex of nonce || ciphertext || tag, caller frees.
 */
char *cy_seal_hex(const unsigned char key[CY_SEAL_KEY_LEN], const void *aad, size_t aadlen,
    const void *pt, size_t len);
/*
 * Opens the hex form sealed with the same key and aad: the plaintext,
 * NUL-terminated (caller frees; *len gets its length when len is not
 * NULL), or NULL with err set (malformed, wrong key, other aad, altered).
 */
char *cy_open_hex(const unsigned char key[CY_SEAL_KEY_LEN], const void *aad, size_t aadlen,
    const char *hex, size_t *len, struct cy_error *err);

/* Lowercase hex of len bytes; caller frees. */
char *cy_hex_encode(const void *p, size_t len);
/*
 * Decodes hex (either case, even length) into out, which holds `size`
 * bytes; returns the number of bytes, or -1 when it is not hex or does not
 * fit.
 */
long cy_hex_decode(const char *hex, unsigned char *out, size_t size);

#endif
