/*
 * Password hashing (contract section 8): Argon2id, m=65536 KiB, t=3, p=2,
 * 16-byte random salt, 32-byte hash, stored as a PHC string
 * "$argon2id$v=19$m=65536,t=3,p=2$<salt>$<hash>".  Verification takes the
 * parameters from the stored string (libargon2 parses them) and compares in
 * constant time.
 */
#include <argon2.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "core.h"
#include "id.h"
#include "banned.h"

#define PW_T_COST 3
#define PW_M_COST 65536
#define PW_PARALLEL 2
#define PW_SALT_LEN 16
#define PW_HASH_LEN 32
#define PW_MAX_LEN 4096

char *
password_hash(const char *password, struct cy_error *err)
{
	unsigned char salt[PW_SALT_LEN];
	size_t enclen, pwlen = strlen(password);
	char *enc;
	int rc;

	if (pwlen > PW_MAX_LEN) {
		cy_error_set(err, EINVAL, "password longer than %d bytes", PW_MAX_LEN);
		return NULL;
	}
	cy_random_bytes(salt, sizeof(salt));
	enclen = argon2_encodedlen(PW_T_COST, PW_M_COST, PW_PARALLEL, PW_SALT_LEN, PW_HASH_LEN,
	    Argon2_id);
	enc = xmalloc(enclen);
	rc = argon2id_hash_encoded(PW_T_COST, PW_M_COST, PW_PARALLEL, password, pwlen, salt,
	    sizeof(salt), PW_HASH_LEN, enc, enclen);
	if (rc != ARGON2_OK) {
		free(enc);
		cy_error_set(err, EIO, "argon2id: %s", argon2_error_message(rc));
		return NULL;
	}
	return enc;
}

int
password_verify(const char *phc, const char *password, struct cy_error *err)
{
	size_t pwlen = strlen(password);
	int rc;

	if (strncmp(phc, "$argon2id$", 10) != 0) {
		cy_error_set(err, EINVAL, "stored password hash is not argon2id");
		return -1;
	}
	if (pwlen > PW_MAX_LEN)
		return 0;
	rc = argon2id_verify(phc, password, pwlen);
	if (rc == ARGON2_OK)
		return 1;
	if (rc == ARGON2_VERIFY_MISMATCH)
		return 0;
	cy_error_set(err, EINVAL, "stored password hash: %s", argon2_error_message(rc));
	return -1;
}
