/*
 * Per-node worker bearer tokens, encrypted at rest: AES-256-GCM with the key
 * SHA-256("cynode worker token key" || JWT secret), a random 12-byte nonce,
 * stored as nonce || ciphertext || tag.  The stored form travels to and from
 * SQL as lowercase hex (decode($n, 'hex') / encode(col, 'hex')).
 */
#ifndef SERVER_NODE_TOKEN_H
#define SERVER_NODE_TOKEN_H

#include "error.h"

/* Encrypts `token`; returns the hex of nonce||ciphertext||tag, caller frees. */
char *node_token_seal(const char *token);
/* Decrypts the hex form; returns the token (caller frees) or NULL with err set. */
char *node_token_open(const char *hex, struct cy_error *err);

#endif
