/*
 * TLS material shared by the three programs (GnuTLS): loading a
 * certificate and its private key from PEM files (the key file must be
 * readable by its owner only), the public-key pin of a certificate in the
 * form libcurl's CURLOPT_PINNEDPUBLICKEY takes ("sha256//<base64>"), a
 * node's own P-256 key and self-signed certificate, and the verification
 * options of a libcurl handle.  The listeners serve TLS through
 * libmicrohttpd (GnuTLS); see cy_httpd_config.tls_cert_pem.
 */
#ifndef CY_TLS_H
#define CY_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

/* "sha256//" + 44 base64 characters + NUL. */
#define CY_TLS_PIN_SIZE 53

/*
 * Reads cert_file (PEM, the certificate first, then any chain) and key_file
 * (PEM private key, a regular file not accessible by group or others),
 * checks that both parse and that the key is the certificate's.  cert_key
 * and key_key name the configuration keys in errors.  0 with *cert_pem and
 * *key_pem set (the caller frees; cy_tls_free_key wipes the key), or -1.
 */
int cy_tls_load(const char *cert_file, const char *key_file, const char *cert_key,
    const char *key_key, char **cert_pem, char **key_pem, struct cy_error *err);
/* Overwrites and frees a private key PEM. */
void cy_tls_free_key(char **key_pem);
/* The pin of the first certificate in cert_pem (SHA-256 of its SubjectPublicKeyInfo). */
int cy_tls_pin(const char *cert_pem, char out[CY_TLS_PIN_SIZE], struct cy_error *err);
/* True when s has the shape of a pin. */
bool cy_tls_pin_valid(const char *s);
/*
 * Makes dir/key.pem (a new P-256 key, mode 0600) and dir/cert.pem (a
 * self-signed certificate for it naming `name`, valid ten years) unless
 * both are there already.  dir is created (0700) when missing.
 */
int cy_tls_selfsigned(const char *dir, const char *name, struct cy_error *err);
/*
 * Sets how the libcurl easy handle `curl` checks an https server: with
 * pin, the server's key must be the pinned one (the certificate chain and
 * name are not checked: the pin names the exact key); else with ca_file,
 * the chain must lead to that CA; else to the system CAs.  Verification is
 * never turned off otherwise.
 */
void cy_tls_curl(void *curl, const char *pin, const char *ca_file);
/* True for a loopback listen host or URL host ("localhost", 127.0.0.0/8, ::1). */
bool cy_tls_host_loopback(const char *host);
/* The host of an http(s) URL is loopback (false when it does not parse). */
bool cy_tls_url_loopback(const char *url);
/* True when url starts with "https://" (case-insensitive). */
bool cy_tls_url_https(const char *url);

#endif
