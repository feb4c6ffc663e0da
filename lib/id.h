/*
 * Identifiers and random secrets: UUIDv4 (lowercase, libuuid), ULID (26-char
 * Crockford Base32, monotonic within the process), random tokens from
 * getrandom(2).
 */
#ifndef CY_ID_H
#define CY_ID_H

#include <stdbool.h>
#include <stddef.h>

#define CY_UUID_LEN 36
#define CY_ULID_LEN 26

/* Fills `len` bytes from the kernel CSPRNG; aborts if it cannot. */
void cy_random_bytes(void *buf, size_t len);
/* out must hold CY_UUID_LEN + 1 bytes. */
void cy_uuid_v4(char out[CY_UUID_LEN + 1]);
/* True for a canonical 8-4-4-4-12 hex UUID (either case; libuuid's uuid_parse). */
bool cy_uuid_valid(const char *s);
/* Node slugs: 1-63 characters of [a-z0-9-]. */
bool cy_slug_valid(const char *s);
/* Node labels: 1-63 characters of [a-z0-9_.-]. */
bool cy_label_valid(const char *s);
/*
 * A model name as Ollama, llama.cpp and vLLM spell them ("qwen3.5:0.8b",
 * "library/llama3.2:1b", "hf.co/org/repo:Q4_K_M", "meta-llama/Llama-3-8B"):
 * [HOST[:PORT]/][NAMESPACE/...]MODEL[:TAG], each part starting with a
 * letter or digit and made of letters, digits, '.', '_' and '-' (no ".."),
 * the tag at most 128 bytes, the whole at most CY_MODEL_NAME_MAX bytes.
 */
#define CY_MODEL_NAME_MAX 200
bool cy_model_name_valid(const char *s);
/*
 * The name Ollama lists a model under: "registry.ollama.ai/" and
 * "library/" dropped, ":latest" added when the last part has no tag
 * ("llama3.2" -> "llama3.2:latest").  Into out; returns 0, or -1 when the
 * name does not fit (a cut name could match another model).
 */
int cy_model_name_canon(const char *name, char *out, size_t size)
    __attribute__((warn_unused_result));
/* out must hold CY_ULID_LEN + 1 bytes; successive calls increase strictly. */
void cy_ulid_new(char out[CY_ULID_LEN + 1]);
bool cy_ulid_valid(const char *s);
/*
 * A new ULID strictly greater than `floor` (a ULID of another process or
 * host, whose clock may be ahead), or just a new one when floor is NULL or
 * not a ULID: versions compared as strings stay monotonic.
 */
void cy_ulid_after(const char *floor, char out[CY_ULID_LEN + 1]);
/*
 * A random secret of `nbytes` entropy, base64url without padding, with an
 * optional prefix ("cyn_"); caller frees.
 */
char *cy_random_token(const char *prefix, size_t nbytes);
/*
 * Comparison of two NUL-terminated strings whose time does not depend on
 * their content (over their SHA-256 digests); NULL never equals.
 */
bool cy_streq_ct(const char *a, const char *b);

#endif
