/*
 * Unit tests for server/password.c: the stored password hash is
 * Argon2id with the contract's parameters (section 8: m=65536 KiB, t=3,
 * p=2, 16-byte salt, 32-byte hash, PHC string, unpadded base64), salted per
 * password, verified by libargon2 and compared in constant time.  Links the
 * server's objects (srv-*_test rule in the Makefile).
 */
#include <argon2.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "tap.h"

#define PREFIX "$argon2id$v=19$m=65536,t=3,p=2$"

/* Length of the unpadded base64 field that starts at s and ends at '$' or NUL. */
static size_t
b64_field(const char *s)
{
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
}

static void
test_format(void)
{
	struct cy_error err = CY_ERROR_INIT;
	char *h = password_hash("correct horse battery staple", &err);
	const char *salt, *hash;

	ok(h != NULL, "hash computed");
	if (!h)
		return;
	ok(!strncmp(h, PREFIX, strlen(PREFIX)), "argon2id, v=19, m=65536, t=3, p=2: %s", h);
	salt = h + strlen(PREFIX);
	is_int(b64_field(salt), 22, "salt is 16 bytes (22 unpadded base64 characters)");
	hash = salt + 22;
	ok(*hash == '$', "salt and hash separated by '$'");
	is_int(b64_field(hash + 1), 43, "hash is 32 bytes (43 unpadded base64 characters)");
	is_int(strlen(hash + 1), 43, "nothing after the hash (no padding)");
	is_int(argon2id_verify(h, "correct horse battery staple", 28), ARGON2_OK,
	    "libargon2 itself verifies it as argon2id");
	is_int(argon2i_verify(h, "correct horse battery staple", 28), ARGON2_DECODING_FAIL,
	    "it is not argon2i");
	free(h);
}

static void
test_verify(void)
{
	struct cy_error err = CY_ERROR_INIT;
	char *a = password_hash("s3cret-pass", &err), *b = password_hash("s3cret-pass", &err);

	ok(a && b, "two hashes computed");
	if (!a || !b)
		goto out;
	ok(strcmp(a, b) != 0, "the same password gets a different salt each time");
	is_int(password_verify(a, "s3cret-pass", &err), 1, "right password matches");
	is_int(password_verify(b, "s3cret-pass", &err), 1, "second hash matches too");
	is_int(password_verify(a, "s3cret-pasS", &err), 0, "wrong password does not");
	is_int(password_verify(a, "", &err), 0, "empty password does not");
	is_int(password_verify("$argon2i$v=19$m=65536,t=3,p=2$AAAA$AAAA", "x", &err), -1,
	    "a non-argon2id hash is an error");
	is_int(password_verify("$argon2id$v=19$m=65536,t=3,p=2$!!$!!", "x", &err), -1,
	    "a malformed hash is an error");
	{
		/* Parameters come from the stored string: a weaker stored hash still verifies. */
		char enc[256];
		const unsigned char salt[16] = "0123456789abcdef";

		ok(argon2id_hash_encoded(1, 1024, 1, "pw", 2, salt, sizeof(salt), 32, enc,
		       sizeof(enc)) == ARGON2_OK,
		    "reference hash with other parameters");
		is_int(password_verify(enc, "pw", &err), 1, "verified with its own parameters");
		is_int(password_verify(enc, "pW", &err), 0, "and rejects a wrong password");
	}
out:
	free(a);
	free(b);
}

static void
test_limits(void)
{
	struct cy_error err = CY_ERROR_INIT;
	char *big = malloc(5000), *h;

	memset(big, 'a', 4999);
	big[4999] = '\0';
	h = password_hash(big, &err);
	ok(h == NULL, "a password over 4096 bytes is refused: %s", err.msg);
	free(h);
	free(big);
}

int
main(void)
{
	RUN_TEST(test_format);
	RUN_TEST(test_verify);
	RUN_TEST(test_limits);
	return tap_done();
}
