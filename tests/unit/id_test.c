/*
 * Unit tests for lib/id.c: UUIDs, ULIDs, random tokens, SHA-256 and the
 * constant-time comparison.
 */
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "id.h"
#include "tap.h"

static void
test_uuid(void)
{
	char a[CY_UUID_LEN + 1], b[CY_UUID_LEN + 1];

	cy_uuid_v4(a);
	cy_uuid_v4(b);
	ok(cy_uuid_valid(a), "generated uuid is valid: %s", a);
	ok(strcmp(a, b) != 0, "two uuids differ");
	ok(a[14] == '4', "version 4");
	ok(strchr("89ab", a[19]) != NULL, "RFC 4122 variant");
	ok(strspn(a, "0123456789abcdef-") == CY_UUID_LEN, "lowercase");
	ok(cy_uuid_valid("123e4567-E89B-12d3-a456-426614174000"), "upper case accepted");
	ok(!cy_uuid_valid("123e4567e89b12d3a456426614174000"), "no dashes rejected");
	ok(!cy_uuid_valid("123e4567-e89b-12d3-a456-42661417400g"), "non-hex rejected");
	ok(!cy_uuid_valid("123e4567-e89b-12d3-a456-4266141740000"), "too long rejected");
	ok(!cy_uuid_valid(""), "empty rejected");
	ok(!cy_uuid_valid("../../etc/passwd"), "path rejected");
	ok(!cy_uuid_valid("123e4567-e89b-12d3-a456-42661417400"), "too short rejected");
	ok(!cy_uuid_valid("123e4567e-89b-12d3-a456-426614174000"), "dash out of place rejected");
	ok(!cy_uuid_valid("{23e4567-e89b-12d3-a456-426614174000}"), "braces rejected");
	ok(!cy_uuid_valid("123e4567-e89b-12d3-a456-426614174000\n"), "trailing newline rejected");
	ok(!cy_uuid_valid(" 23e4567-e89b-12d3-a456-426614174000"), "leading space rejected");
	ok(!cy_uuid_valid(NULL), "NULL rejected");
	ok(cy_uuid_valid("00000000-0000-0000-0000-000000000000"), "the nil UUID is well-formed");
}

static void
test_ulid(void)
{
	char prev[CY_ULID_LEN + 1], cur[CY_ULID_LEN + 1];
	int i, mono = 1, valid = 1;

	cy_ulid_new(prev);
	for (i = 0; i < 10000; i++) {
		cy_ulid_new(cur);
		if (strcmp(cur, prev) <= 0)
			mono = 0;
		if (!cy_ulid_valid(cur))
			valid = 0;
		memcpy(prev, cur, sizeof(cur));
	}
	ok(mono, "10000 ULIDs in a row strictly increase");
	ok(valid, "all are valid");
	is_int(strlen(cur), CY_ULID_LEN, "26 characters");
	ok(strspn(cur, "0123456789ABCDEFGHJKMNPQRSTVWXYZ") == CY_ULID_LEN, "Crockford alphabet");
	ok(!cy_ulid_valid("1"), "literal \"1\" is not a ULID");
	ok(!cy_ulid_valid("01ARZ3NDEKTSV4RRFFQ69G5FAU"), "U is not in the alphabet");
	ok(!cy_ulid_valid("81ARZ3NDEKTSV4RRFFQ69G5FAV"), "first char above 7 overflows 128 bits");
	ok(cy_ulid_valid("01ARZ3NDEKTSV4RRFFQ69G5FAV"), "a known-good ULID");

	cy_ulid_after("7ZZZZZZZZZZZZZZZZZZZZZZZZY", cur);
	is_str(cur, "7ZZZZZZZZZZZZZZZZZZZZZZZZZ", "after a future floor: the floor plus one");
	cy_ulid_after("6zzzzzzzzzzzzzzzzzzzzzzzzz", cur);
	is_str(cur, "70000000000000000000000000", "the carry runs through every digit");
	cy_ulid_after("01ARZ3NDEKTSV4RRFFQ69G5FAV", cur);
	ok(strcmp(cur, "01ARZ3NDEKTSV4RRFFQ69G5FAV") > 0 && cy_ulid_valid(cur),
	    "after a past floor: a new ULID");
	cy_ulid_after(NULL, prev);
	cy_ulid_after("garbage", cur);
	ok(strcmp(cur, prev) > 0, "no floor or a bad one: a new ULID");
}

static void
test_tokens(void)
{
	char *t = cy_random_token("cyn_", 32), *u = cy_random_token(NULL, 32);
	char hex[65];

	ok(strncmp(t, "cyn_", 4) == 0, "prefix kept");
	is_int(strlen(t), 4 + 43, "32 bytes of base64url without padding");
	ok(strspn(t + 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 43,
	    "base64url alphabet");
	ok(strcmp(t + 4, u) != 0, "tokens differ");
	free(t);
	free(u);
	{
		static const size_t nb[] = { 1, 2, 3, 4, 16, 33 }, nc[] = { 2, 3, 4, 6, 22, 44 };
		size_t i;
		int dash = 0, under = 0, bad = 0;

		for (i = 0; i < sizeof(nb) / sizeof(nb[0]); i++) {
			t = cy_random_token("p", nb[i]);
			ok(strlen(t) == 1 + nc[i], "%zu bytes: %zu characters, no padding", nb[i],
			    nc[i]);
			free(t);
		}
		/* 62 and 63 are '-' and '_', never '+', '/' or '='. */
		for (i = 0; i < 1000; i++) {
			t = cy_random_token(NULL, 30);
			dash |= strchr(t, '-') != NULL;
			under |= strchr(t, '_') != NULL;
			bad |= strpbrk(t, "+/=") != NULL;
			free(t);
		}
		ok(dash && under && !bad, "1000 tokens: '-' and '_' seen, '+', '/', '=' never");
	}
	cy_sha256_hex("abc", 3, hex);
	is_str(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	    "SHA-256 test vector");
	ok(cy_streq_ct("secret", "secret"), "equal strings");
	ok(!cy_streq_ct("secret", "secreT"), "different strings");
	ok(!cy_streq_ct("secret", "secret2"), "different lengths");
	ok(!cy_streq_ct("", "x"), "empty vs non-empty");
	ok(!cy_streq_ct("secret2", "secret"), "longer than expected");
	ok(cy_streq_ct("", ""), "two empty strings");
	ok(!cy_streq_ct(NULL, "x") && !cy_streq_ct("x", NULL), "NULL never equals");
}

static void
test_slugs(void)
{
	ok(cy_slug_valid("node-01"), "slug");
	ok(cy_slug_valid("a"), "one-character slug");
	ok(!cy_slug_valid(""), "empty slug");
	ok(!cy_slug_valid(NULL), "NULL slug");
	ok(!cy_slug_valid("Node"), "upper case in a slug");
	ok(!cy_slug_valid("a_b"), "'_' in a slug");
	ok(cy_slug_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
	    "63 characters");
	ok(!cy_slug_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
	    "64 characters");
	ok(cy_label_valid("rack_2.a-b"), "label with '_' and '.'");
	ok(!cy_label_valid("GPU"), "upper case in a label");
	ok(!cy_label_valid("a b"), "space in a label");
	ok(!cy_label_valid(""), "empty label");
}

static void
test_model_names(void)
{
	static const char *const good[] = { "qwen3.5:0.8b", "library/llama3.2:1b",
		"hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M", "meta-llama/Llama-3-8B",
		"gpt-4o", "a", "m_1", NULL };
	static const char *const bad[] = { "", ":latest", "/abs", "a/", "a:", "a b", "a..b", "a//b",
		"-x", ".x", "a\nb", "mod\u00e9l", "a;b", "a?b", "a@b", "a:b:c", "host:1234567/m",
		NULL };
	char long_name[CY_MODEL_NAME_MAX + 2];
	size_t i;

	for (i = 0; good[i]; i++)
		ok(cy_model_name_valid(good[i]), "model name '%s'", good[i]);
	for (i = 0; bad[i]; i++)
		ok(!cy_model_name_valid(bad[i]), "not a model name: '%s'", bad[i]);
	ok(!cy_model_name_valid(NULL), "NULL model name");
	memset(long_name, 'm', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	ok(!cy_model_name_valid(long_name), "model name over the limit");
	long_name[CY_MODEL_NAME_MAX] = '\0';
	ok(cy_model_name_valid(long_name), "model name at the limit");
}

int
main(void)
{
	RUN_TEST(test_uuid);
	RUN_TEST(test_slugs);
	RUN_TEST(test_ulid);
	RUN_TEST(test_tokens);
	RUN_TEST(test_model_names);
	return tap_done();
}
