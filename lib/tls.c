/*
 * TLS material over GnuTLS (see tls.h).
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
#include <time.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "alloc.h"
#include "buf.h"
#include "digest.h"
#include "fsutil.h"
#include "tls.h"
#include "banned.h"

#define CERT_MAX (1024 * 1024)
#define KEY_MAX (64 * 1024)
#define SELFSIGNED_DAYS 3650

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

/* A GnuTLS datum over the NUL-terminated text s (not copied). */
static gnutls_datum_t
text_datum(const char *s)
{
	gnutls_datum_t d = { (unsigned char *)s, (unsigned int)strlen(s) };

	return d;
}

/* The first certificate of a PEM text in *crt; a GnuTLS error code on failure. */
static int
pem_cert(const char *pem, gnutls_x509_crt_t *crt)
{
	gnutls_datum_t d = text_datum(pem);
	int ret;

	*crt = NULL;
	if ((ret = gnutls_x509_crt_init(crt)) < 0)
		return ret;
	if ((ret = gnutls_x509_crt_import(*crt, &d, GNUTLS_X509_FMT_PEM)) < 0) {
		gnutls_x509_crt_deinit(*crt);
		*crt = NULL;
	}
	return ret;
}

/*
 * The unencrypted private key of a PEM text in *k (PKCS#1, SEC1 or PKCS#8:
 * any type GnuTLS knows); a GnuTLS error code on failure.  The empty
 * password keeps GnuTLS from asking for one.
 */
static int
pem_key(const char *pem, gnutls_x509_privkey_t *k)
{
	gnutls_datum_t d = text_datum(pem);
	int ret;

	*k = NULL;
	if ((ret = gnutls_x509_privkey_init(k)) < 0)
		return ret;
	if ((ret = gnutls_x509_privkey_import2(*k, &d, GNUTLS_X509_FMT_PEM, "", 0)) < 0) {
		gnutls_x509_privkey_deinit(*k);
		*k = NULL;
	}
	return ret;
}

/* True when k is the private key of crt's public key (same SHA-256 key id). */
static bool
key_matches(gnutls_x509_crt_t crt, gnutls_x509_privkey_t k)
{
	unsigned char a[32], b[32];
	size_t alen = sizeof(a), blen = sizeof(b);

	return gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, a, &alen) == 0 &&
	       gnutls_x509_privkey_get_key_id(k, GNUTLS_KEYID_USE_SHA256, b, &blen) == 0 &&
	       alen == blen && !memcmp(a, b, alen);
}

int
cy_tls_load(const char *cert_file, const char *key_file, const char *cert_key, const char *key_key,
    char **cert_pem, char **key_pem, struct cy_error *err)
{
	char *cert = NULL, *key = NULL;
	gnutls_x509_crt_t x = NULL;
	gnutls_x509_privkey_t k = NULL;
	int ret = -1, e;

	*cert_pem = *key_pem = NULL;
	if (!(cert = pem_read_file(cert_file, cert_key, false, CERT_MAX, err)))
		goto out;
	if (!(key = pem_read_file(key_file, key_key, true, KEY_MAX, err)))
		goto out;
	if ((e = pem_cert(cert, &x)) < 0) {
		cy_error_set(err, EINVAL, "%s: '%s' holds no PEM certificate (%s)", cert_key,
		    cert_file, gnutls_strerror(e));
		goto out;
	}
	if ((e = pem_key(key, &k)) < 0) {
		cy_error_set(err, EINVAL, "%s: '%s' holds no unencrypted PEM private key (%s)",
		    key_key, key_file, gnutls_strerror(e));
		goto out;
	}
	if (!key_matches(x, k)) {
		cy_error_set(err, EINVAL, "%s: the key in '%s' is not the key of %s '%s'", key_key,
		    key_file, cert_key, cert_file);
		goto out;
	}
	*cert_pem = cert;
	*key_pem = key;
	cert = key = NULL;
	ret = 0;
out:
	if (x)
		gnutls_x509_crt_deinit(x);
	if (k)
		gnutls_x509_privkey_deinit(k);
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

_Static_assert(CY_TLS_PIN_SIZE == 8 + CY_BASE64_SIZE(CY_SHA256_LEN), "sha256// and the base64 of a digest");

int
cy_tls_pin(const char *cert_pem, char out[CY_TLS_PIN_SIZE], struct cy_error *err)
{
	unsigned char md[CY_SHA256_LEN];
	gnutls_datum_t der = { NULL, 0 };
	gnutls_x509_crt_t x;
	gnutls_pubkey_t pub = NULL;
	int ret = -1;

	if (pem_cert(cert_pem, &x) < 0)
		return cy_error_set(err, EINVAL, "no PEM certificate");
	if (gnutls_pubkey_init(&pub) < 0) {
		pub = NULL;
		goto out;
	}
	if (gnutls_pubkey_import_x509(pub, x, 0) < 0 ||
	    gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &der) < 0)
		goto out;
	cy_sha256(der.data, der.size, md);
	memcpy(out, "sha256//", 8);
	cy_base64(md, sizeof(md), out + 8);
	ret = 0;
out:
	gnutls_free(der.data);
	if (pub)
		gnutls_pubkey_deinit(pub);
	gnutls_x509_crt_deinit(x);
	if (ret < 0)
		cy_error_set(err, EINVAL, "cannot hash the certificate's public key");
	return ret;
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

/*
 * A copy of an exported PEM (NUL-terminated), the export overwritten and
 * freed; NULL when the export failed (ret < 0).
 */
static char *
pem_string(int ret, gnutls_datum_t *d)
{
	char *s = ret >= 0 && d->size ? xstrndup((const char *)d->data, d->size) : NULL;

	if (d->data) {
		explicit_bzero(d->data, d->size);
		gnutls_free(d->data);
	}
	d->data = NULL;
	d->size = 0;
	return s;
}

/* A new self-signed certificate for k naming name in *out; a GnuTLS error code on failure. */
static int
selfsigned_cert(gnutls_x509_privkey_t k, const char *name, gnutls_x509_crt_t *out)
{
	static const unsigned char ip4[4] = { 127, 0, 0, 1 };
	static const unsigned char ip6[16] = { [15] = 1 };
	unsigned char serial[16];
	gnutls_x509_crt_t x;
	time_t now = time(NULL);
	int ret;

	*out = NULL;
	if ((ret = gnutls_x509_crt_init(&x)) < 0)
		return ret;
	/* Positive and exactly 16 bytes long in DER: the top bit clear, the next one set. */
	if ((ret = gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial))) >= 0) {
		serial[0] = (serial[0] & 0x7f) | 0x40;
		ret = gnutls_x509_crt_set_serial(x, serial, sizeof(serial));
	}
	if (ret >= 0)
		ret = gnutls_x509_crt_set_version(x, 3);
	if (ret >= 0)
		ret = gnutls_x509_crt_set_activation_time(x, now - 3600);
	if (ret >= 0)
		ret = gnutls_x509_crt_set_expiration_time(x,
		    now + (time_t)SELFSIGNED_DAYS * 24 * 60 * 60);
	if (ret >= 0)
		ret = gnutls_x509_crt_set_key(x, k);
	if (ret >= 0)
		ret = gnutls_x509_crt_set_dn_by_oid(x, GNUTLS_OID_X520_COMMON_NAME, 0, name,
		    (unsigned int)strlen(name));
	if (ret >= 0)
		ret = gnutls_x509_crt_set_subject_alt_name(x, GNUTLS_SAN_DNSNAME, name,
		    (unsigned int)strlen(name), GNUTLS_FSAN_SET);
	if (ret >= 0)
		ret = gnutls_x509_crt_set_subject_alt_name(x, GNUTLS_SAN_DNSNAME, "localhost",
		    strlen("localhost"), GNUTLS_FSAN_APPEND);
	if (ret >= 0)
		ret = gnutls_x509_crt_set_subject_alt_name(x, GNUTLS_SAN_IPADDRESS, ip4,
		    sizeof(ip4), GNUTLS_FSAN_APPEND);
	if (ret >= 0)
		ret = gnutls_x509_crt_set_subject_alt_name(x, GNUTLS_SAN_IPADDRESS, ip6,
		    sizeof(ip6), GNUTLS_FSAN_APPEND);
	/* GnuTLS marks basicConstraints and keyUsage critical. */
	if (ret >= 0)
		ret = gnutls_x509_crt_set_basic_constraints(x, 0, -1);
	if (ret >= 0)
		ret = gnutls_x509_crt_set_key_usage(x, GNUTLS_KEY_DIGITAL_SIGNATURE);
	if (ret >= 0)
		ret = gnutls_x509_crt_set_key_purpose_oid(x, GNUTLS_KP_TLS_WWW_SERVER, 0);
	if (ret >= 0)
		ret = gnutls_x509_crt_sign2(x, x, k, GNUTLS_DIG_SHA256, 0);
	if (ret < 0) {
		gnutls_x509_crt_deinit(x);
		return ret;
	}
	*out = x;
	return 0;
}

int
cy_tls_selfsigned(const char *dir, const char *name, struct cy_error *err)
{
	char *key_path = xasprintf("%s/key.pem", dir), *cert_path = xasprintf("%s/cert.pem", dir);
	char *key_pem = NULL, *cert_pem = NULL;
	gnutls_x509_privkey_t k = NULL;
	gnutls_x509_crt_t x = NULL;
	gnutls_datum_t d = { NULL, 0 };
	int ret = -1, e;

	if (access(key_path, F_OK) == 0 && access(cert_path, F_OK) == 0) {
		ret = 0;
		goto out;
	}
	if (cy_mkdir_p(dir, 0755, 0700) < 0 && errno != EEXIST) {
		cy_error_errno(err, "cannot create '%s'", dir);
		goto out;
	}
	if ((e = gnutls_x509_privkey_init(&k)) < 0)
		k = NULL;
	else
		e = gnutls_x509_privkey_generate(k, GNUTLS_PK_ECDSA,
		    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
	if (e >= 0)
		e = selfsigned_cert(k, name, &x);
	if (e >= 0) {
		e = gnutls_x509_privkey_export2_pkcs8(k, GNUTLS_X509_FMT_PEM, NULL,
		    GNUTLS_PKCS_PLAIN, &d);
		if (!(key_pem = pem_string(e, &d)) && e >= 0)
			e = GNUTLS_E_INTERNAL_ERROR;
	}
	if (e >= 0) {
		e = gnutls_x509_crt_export2(x, GNUTLS_X509_FMT_PEM, &d);
		if (!(cert_pem = pem_string(e, &d)) && e >= 0)
			e = GNUTLS_E_INTERNAL_ERROR;
	}
	if (e < 0) {
		cy_error_set(err, EIO, "cannot make a key and certificate: %s", gnutls_strerror(e));
		goto out;
	}
	/* The key first: a certificate is never left without its key. */
	if (write_file_atomic(key_path, key_pem, strlen(key_pem), 0600, err) < 0 ||
	    write_file_atomic(cert_path, cert_pem, strlen(cert_pem), 0644, err) < 0)
		goto out;
	ret = 0;
out:
	if (x)
		gnutls_x509_crt_deinit(x);
	if (k)
		gnutls_x509_privkey_deinit(k);
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
