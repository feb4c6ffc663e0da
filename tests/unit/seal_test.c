/*
 * Unit tests for lib/seal.c (AES-256-GCM at rest) and lib/jobenv.c
 * (variable and secret names): round trips, the associated data binding a
 * value to its place, tampering, malformed input, and the name rules.
 */
#include <stdlib.h>
#include <string.h>

#include "jobenv.h"
#include "seal.h"
#include "tap.h"

static const unsigned char key[CY_SEAL_KEY_LEN] = "0123456789abcdef0123456789abcdef";
static const unsigned char other[CY_SEAL_KEY_LEN] = "0123456789abcdef0123456789abcdeX";

static void
test_round_trip(void)
{
	struct cy_error err = CY_ERROR_INIT;
	char *a = cy_seal_hex(key, "u/1/N", 5, "hunter22", 8);
	char *b = cy_seal_hex(key, "u/1/N", 5, "hunter22", 8);
	char *pt;
	size_t len = 0;

	ok(strlen(a) == 2 * (8 + CY_SEAL_OVERHEAD), "hex of nonce, ciphertext and tag");
	ok(strcmp(a, b) != 0, "a fresh nonce each time");
	ok(strstr(a, "hunter22") == NULL, "no plaintext in the sealed form");
	pt = cy_open_hex(key, "u/1/N", 5, a, &len, &err);
	is_str(pt, "hunter22", "opens with the same key and aad");
	is_int(len, 8, "length");
	free(pt);
	ok(!cy_open_hex(other, "u/1/N", 5, a, NULL, &err), "another key does not open it");
	ok(!cy_open_hex(key, "u/2/N", 5, a, NULL, &err), "other aad does not open it");
	ok(!cy_open_hex(key, NULL, 0, a, NULL, &err), "missing aad does not open it");
	a[30] = a[30] == '0' ? '1' : '0';
	ok(!cy_open_hex(key, "u/1/N", 5, a, NULL, &err), "an altered ciphertext does not open");
	free(a);
	free(b);
	a = cy_seal_hex(key, NULL, 0, "", 0);
	pt = cy_open_hex(key, NULL, 0, a, &len, &err);
	ok(pt && *pt == '\0' && len == 0, "empty plaintext");
	free(pt);
	free(a);
}

/*
 * A value sealed before (by OpenSSL's EVP AES-256-GCM, fixed nonce
 * 000102...0b) still opens: rows stored by earlier versions stay readable.
 */
static void
test_known_answer(void)
{
	static const char sealed[] = "000102030405060708090a0b"
				     "4590d508bc6ae09e"
				     "6d26cb97694409809dcef3a9f5a313f5";
	struct cy_error err = CY_ERROR_INIT;
	size_t len = 0;
	char *pt = cy_open_hex(key, "u/1/N", 5, sealed, &len, &err);

	is_str(pt, "hunter22", "a value sealed by the OpenSSL version opens");
	is_int(len, 8, "its length");
	free(pt);
}

static void
test_malformed(void)
{
	struct cy_error err = CY_ERROR_INIT;
	char shortv[2 * CY_SEAL_OVERHEAD - 1];

	memset(shortv, 'a', sizeof(shortv) - 1);
	shortv[sizeof(shortv) - 1] = '\0';
	ok(!cy_open_hex(key, NULL, 0, NULL, NULL, &err), "NULL");
	ok(!cy_open_hex(key, NULL, 0, "", NULL, &err), "empty");
	ok(!cy_open_hex(key, NULL, 0, shortv, NULL, &err), "shorter than nonce and tag");
	ok(!cy_open_hex(key, NULL, 0, "zz000000000000000000000000000000000000000000000000000000",
	       NULL, &err),
	    "not hex");
	ok(!cy_open_hex(key, NULL, 0, "000000000000000000000000000000000000000000000000000000000",
	       NULL, &err),
	    "odd length");
}

static void
test_hex(void)
{
	unsigned char b[4];
	char *h = cy_hex_encode("\x01\xab\xff", 3);

	is_str(h, "01abff", "encode");
	free(h);
	is_int(cy_hex_decode("01ABff", b, sizeof(b)), 3, "decode, either case");
	ok(b[0] == 1 && b[1] == 0xab && b[2] == 0xff, "decoded bytes");
	is_int(cy_hex_decode("0102030405", b, sizeof(b)), -1, "does not fit");
	is_int(cy_hex_decode("0g", b, sizeof(b)), -1, "not hex");
	is_int(cy_hex_decode("", b, sizeof(b)), 0, "empty");
}

static void
test_names(void)
{
	char longname[CY_ENV_NAME_MAX + 2];

	ok(cy_env_name_valid("A"), "one letter");
	ok(cy_env_name_valid("_x9"), "underscore first");
	ok(cy_env_name_valid("CYNODE_X"), "reserved names are valid names");
	ok(!cy_env_name_valid(""), "empty");
	ok(!cy_env_name_valid(NULL), "NULL");
	ok(!cy_env_name_valid("9A"), "digit first");
	ok(!cy_env_name_valid("A-B"), "dash");
	ok(!cy_env_name_valid("A=B"), "equals sign");
	ok(!cy_env_name_valid("A B"), "space");
	ok(!cy_env_name_valid("\xc3\xa9t\xc3\xa9"), "non-ASCII letters");
	memset(longname, 'A', sizeof(longname));
	longname[CY_ENV_NAME_MAX] = '\0';
	ok(cy_env_name_valid(longname), "at the length limit");
	longname[CY_ENV_NAME_MAX] = 'A';
	longname[CY_ENV_NAME_MAX + 1] = '\0';
	ok(!cy_env_name_valid(longname), "over the length limit");
	ok(cy_env_name_reserved("CYNODE_TASK_ID"), "CYNODE_TASK_ID reserved");
	ok(cy_env_name_reserved("CYNODE_"), "the bare prefix reserved");
	ok(cy_env_name_reserved("INFERENCE_PROXY_URL"), "INFERENCE_PROXY_URL reserved");
	ok(!cy_env_name_reserved("cynode_x"), "lower case is another name");
	ok(!cy_env_name_reserved("PATH"), "PATH is the job's");
	ok(cy_secret_name_valid("DB_PASSWORD"), "secret name");
	ok(!cy_secret_name_valid("CYNODE_TOKEN"), "reserved secret name");
	ok(!cy_secret_name_valid("1X"), "invalid secret name");
	longname[CY_SECRET_NAME_MAX] = '\0';
	ok(cy_secret_name_valid(longname), "secret name at its limit");
	longname[CY_SECRET_NAME_MAX] = 'A';
	longname[CY_SECRET_NAME_MAX + 1] = '\0';
	ok(!cy_secret_name_valid(longname), "secret name over its limit");
}

int
main(void)
{
	RUN_TEST(test_round_trip);
	RUN_TEST(test_known_answer);
	RUN_TEST(test_malformed);
	RUN_TEST(test_hex);
	RUN_TEST(test_names);
	return tap_done();
}
