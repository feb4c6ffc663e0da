/*
 * TLS material over OpenSSL's libcrypto (see tls.h).
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "alloc.h"
#include "buf.h"
#include "fsutil.h"
#include "tls.h"
#include "banned.h"

#define CERT_MAX (1024 * 1024)
#define KEY_MAX (64 * 1024)
#define SELFSIGNED_DAYS 3650

/* The last OpenSSL error as text ("" when none). */
static const char *
ssl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();

	buf[0] = '\0';
	if (e)
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

/*
 * Reads a PEM file of at most max bytes; with secret, it must not be
 * accessible by group or others.  key names the config key in errors.
 */
static char *
pem_read_file(const char *path, const char *key, bool secret, size_t max, struct cy_error *err)
{
	struct cy_buf b = CY_BUF_INIT;
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		cy_error_errno(err, "%s: '%s'", key, path);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		cy_error_set(err, EINVAL, "%s: '%s' is not a regular file", key, path);
		close(fd);
		return NULL;
	}
	if (secret && (st.st_mode & 077)) {
		cy_error_set(err, EPERM,
		    "%s: '%s' has mode %04o: it must be readable by its owner only (0600 or 0400)",
		    key, path, (unsigned)(st.st_mode & 07777));
		close(fd);
		return NULL;
	}
	if (cy_buf_read_fd(&b, fd, max) < 0) {
		cy_error_errno(err, "%s: '%s'", key, path);
		close(fd);
		if (secret)
			explicit_bzero(b.buf, b.len);
		cy_buf_release(&b);
		return NULL;
	}
	close(fd);
	if (strlen(b.buf) != b.len) {
		cy_error_set(err, EINVAL, "%s: '%s' holds a NUL byte: not PEM", key, path);
		if (secret)
			explicit_bzero(b.buf, b.len);
		cy_buf_release(&b);
		return NULL;
	}
	return cy_buf_detach(&b, NULL);
}

static X509 *
pem_cert(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;

	BIO_free(bio);
	return x;
}

static EVP_PKEY *
pem_key(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"") : NULL;

	BIO_free(bio);
	return k;
}

int
cy_tls_load(const char *cert_file, const char *key_file, const char *cert_key, const char *key_key,
    char **cert_pem, char **key_pem, struct cy_error *err)
{
	char *cert = NULL, *key = NULL, why[256];
	X509 *x = NULL;
	EVP_PKEY *k = NULL;
	int ret = -1;

	*cert_pem = *key_pem = NULL;
	if (!(cert = pem_read_file(cert_file, cert_key, false, CERT_MAX, err)))
		goto out;
	if (!(key = pem_read_file(key_file, key_key, true, KEY_MAX, err)))
		goto out;
	if (!(x = pem_cert(cert))) {
		cy_error_set(err, EINVAL, "%s: '%s' holds no PEM certificate (%s)", cert_key,
		    cert_file, ssl_reason(why, sizeof(why)));
		goto out;
	}
	if (!(k = pem_key(key))) {
		cy_error_set(err, EINVAL, "%s: '%s' holds no unencrypted PEM private key (%s)",
		    key_key, key_file, ssl_reason(why, sizeof(why)));
		goto out;
	}
	if (X509_check_private_key(x, k) != 1) {
		ERR_clear_error();
		cy_error_set(err, EINVAL, "%s: the key in '%s' is not the key of %s '%s'", key_key,
		    key_file, cert_key, cert_file);
		goto out;
	}
	*cert_pem = cert;
	*key_pem = key;
	cert = key = NULL;
	ret = 0;
out:
	X509_free(x);
	EVP_PKEY_free(k);
	free(cert);
	cy_tls_free_key(&key);
	return ret;
}

void
cy_tls_free_key(char **key_pem)
{
	if (*key_pem) {
		explicit_bzero(*key_pem, strlen(*key_pem));
		FREE_AND_NULL(*key_pem);
	}
}

int
cy_tls_pin(const char *cert_pem, char out[CY_TLS_PIN_SIZE], struct cy_error *err)
{
	unsigned char md[32], *der = NULL;
	unsigned int mdlen = 0;
	X509 *x = pem_cert(cert_pem);
	int n;

	if (!x) {
		ERR_clear_error();
		return cy_error_set(err, EINVAL, "no PEM certificate");
	}
	n = i2d_PUBKEY(X509_get0_pubkey(x), &der);
	X509_free(x);
	if (n <= 0 || !EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL)) {
		OPENSSL_free(der);
		ERR_clear_error();
		return cy_error_set(err, EINVAL, "cannot hash the certificate's public key");
	}
	OPENSSL_free(der);
	memcpy(out, "sha256//", 8);
	EVP_EncodeBlock((unsigned char *)out + 8, md, (int)mdlen);
	return 0;
}

bool
cy_tls_pin_valid(const char *s)
{
	size_t i;

	if (!s || strlen(s) != CY_TLS_PIN_SIZE - 1 || strncmp(s, "sha256//", 8) != 0 ||
	    s[CY_TLS_PIN_SIZE - 2] != '=')
		return false;
	for (i = 8; i < CY_TLS_PIN_SIZE - 2; i++)
		if (!(s[i] >= 'A' && s[i] <= 'Z') && !(s[i] >= 'a' && s[i] <= 'z') &&
		    !(s[i] >= '0' && s[i] <= '9') && s[i] != '+' && s[i] != '/')
			return false;
	return true;
}

/* Writes data to path (mode) through a temporary file and a rename. */
static int
write_file_atomic(const char *path, const char *data, size_t len, mode_t mode, struct cy_error *err)
{
	char *tmp = xasprintf("%s.tmp", path);
	int fd, ret = -1;

	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0) {
		cy_error_errno(err, "cannot create '%s'", tmp);
		goto out;
	}
	if (cy_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		cy_error_errno(err, "cannot write '%s'", tmp);
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		cy_error_errno(err, "cannot rename '%s'", tmp);
		unlink(tmp);
		goto out;
	}
	ret = 0;
out:
	free(tmp);
	return ret;
}

/* A PEM rendering of an object written by fn into a memory BIO. */
static char *
bio_string(BIO *bio)
{
	char *data;
	long n = BIO_get_mem_data(bio, &data);

	return n > 0 ? xstrndup(data, (size_t)n) : NULL;
}

/* Adds one X509v3 extension given in openssl.cnf syntax. */
static int
add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

/* A new self-signed certificate for k naming name; NULL on failure. */
static X509 *
selfsigned_cert(EVP_PKEY *k, const char *name)
{
	X509 *x = X509_new();
	X509_NAME *subj;
	BIGNUM *bn = BN_new();
	char *san;
	int ok;

	ok = x && bn && X509_set_version(x, 2) &&
	     BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) &&
	     BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) &&
	     X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
	     X509_time_adj_ex(X509_getm_notAfter(x), SELFSIGNED_DAYS, 0, NULL) &&
	     X509_set_pubkey(x, k);
	BN_free(bn);
	if (ok) {
		subj = X509_get_subject_name(x);
		ok = X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8,
			 (const unsigned char *)name, -1, -1, 0) &&
		     X509_set_issuer_name(x, subj);
	}
	san = xasprintf("DNS:%s,DNS:localhost,IP:127.0.0.1,IP:::1", name);
	ok = ok && add_ext(x, NID_subject_alt_name, san) == 0 &&
	     add_ext(x, NID_basic_constraints, "critical,CA:FALSE") == 0 &&
	     add_ext(x, NID_key_usage, "critical,digitalSignature") == 0 &&
	     add_ext(x, NID_ext_key_usage, "serverAuth") == 0 && X509_sign(x, k, EVP_sha256()) > 0;
	free(san);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

int
cy_tls_selfsigned(const char *dir, const char *name, struct cy_error *err)
{
	char *key_path = xasprintf("%s/key.pem", dir), *cert_path = xasprintf("%s/cert.pem", dir);
	char *key_pem = NULL, *cert_pem = NULL, why[256];
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	BIO *kb = NULL, *cb = NULL;
	int ret = -1;

	if (access(key_path, F_OK) == 0 && access(cert_path, F_OK) == 0) {
		ret = 0;
		goto out;
	}
	if (cy_mkdir_p(dir, 0755, 0700) < 0 && errno != EEXIST) {
		cy_error_errno(err, "cannot create '%s'", dir);
		goto out;
	}
	k = EVP_EC_gen("P-256");
	x = k ? selfsigned_cert(k, name) : NULL;
	kb = BIO_new(BIO_s_mem());
	cb = BIO_new(BIO_s_mem());
	if (!x || !kb || !cb || !PEM_write_bio_PrivateKey(kb, k, NULL, NULL, 0, NULL, NULL) ||
	    !PEM_write_bio_X509(cb, x) || !(key_pem = bio_string(kb)) ||
	    !(cert_pem = bio_string(cb))) {
		cy_error_set(err, EIO, "cannot make a key and certificate: %s",
		    ssl_reason(why, sizeof(why)));
		goto out;
	}
	/* The key first: a certificate is never left without its key. */
	if (write_file_atomic(key_path, key_pem, strlen(key_pem), 0600, err) < 0 ||
	    write_file_atomic(cert_path, cert_pem, strlen(cert_pem), 0644, err) < 0)
		goto out;
	ret = 0;
out:
	BIO_free(kb);
	BIO_free(cb);
	X509_free(x);
	EVP_PKEY_free(k);
	cy_tls_free_key(&key_pem);
	free(cert_pem);
	free(key_path);
	free(cert_path);
	return ret;
}

void
cy_tls_curl(void *curl, const char *pin, const char *ca_file)
{
	CURL *h = curl;

	if (pin && *pin) {
		/* The pin names the exact key: a self-signed certificate is fine. */
		curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, pin);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
		return;
	}
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca_file && *ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, ca_file);
}

bool
cy_tls_host_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	char buf[64];
	size_t n;

	if (!host)
		return false;
	n = strlen(host);
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof(buf)) {
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = '\0';
		host = buf;
	}
	if (!strcasecmp(host, "localhost") || !strcasecmp(host, "localhost."))
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		       (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return false;
}

bool
cy_tls_url_https(const char *url)
{
	return url && !strncasecmp(url, "https://", 8);
}

bool
cy_tls_url_loopback(const char *url)
{
	const char *h, *e;
	char host[256];
	size_t n;

	if (!url)
		return false;
	if (!strncasecmp(url, "http://", 7))
		h = url + 7;
	else if (!strncasecmp(url, "https://", 8))
		h = url + 8;
	else
		return false;
	if ((e = strchr(h, '@')) && e < h + strcspn(h, "/"))
		h = e + 1;
	if (*h == '[')
		e = strchr(h, ']') ? strchr(h, ']') + 1 : NULL;
	else
		e = h + strcspn(h, ":/?#");
	if (!e)
		return false;
	n = (size_t)(e - h);
	if (n == 0 || n >= sizeof(host))
		return false;
	memcpy(host, h, n);
	host[n] = '\0';
	return cy_tls_host_loopback(host);
}
