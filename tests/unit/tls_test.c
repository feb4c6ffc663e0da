/*
 * Unit tests for lib/tls.c: the self-signed key and certificate, loading a
 * pair (modes, mismatches, garbage, RSA, EC and Ed25519 pairs made by
 * openssl), the pin against openssl's own computation, pin shapes and the
 * loopback checks behind the plain-HTTP warnings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "error.h"
#include "fsutil.h"
#include "tls.h"
#include "tap.h"

static char base[] = "/tmp/cy-tls-test.XXXXXX";

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static void
test_selfsigned_and_load(void)
{
	struct cy_error err = CY_ERROR_INIT;
	char dir[256], cert[300], key[300], other[300], *c = NULL, *k = NULL;
	char pin[CY_TLS_PIN_SIZE], pin2[CY_TLS_PIN_SIZE], cmd[1200], want[128] = "";
	struct stat st;
	FILE *p;

	xsnprintf(dir, sizeof(dir), "%s/tls", base);
	xsnprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	xsnprintf(key, sizeof(key), "%s/key.pem", dir);
	ok(cy_tls_selfsigned(dir, "node-01", &err) == 0, "a key and certificate are made: %s",
	    err.msg);
	ok(stat(key, &st) == 0 && (st.st_mode & 0777) == 0600, "the key is mode 0600");
	ok(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700, "its directory is 0700");
	ok(cy_tls_load(cert, key, "c", "k", &c, &k, &err) == 0, "the pair loads: %s", err.msg);
	ok(c && strstr(c, "BEGIN CERTIFICATE"), "the certificate PEM");
	ok(k && strstr(k, "PRIVATE KEY"), "the key PEM");
	ok(cy_tls_pin(c, pin, &err) == 0 && cy_tls_pin_valid(pin), "its pin: %s", pin);
	/* openssl's own SPKI hash of the same certificate. */
	xsnprintf(cmd, sizeof(cmd),
	    "openssl x509 -in '%s' -pubkey -noout | openssl pkey -pubin -outform der | "
	    "openssl dgst -sha256 -binary | base64",
	    cert);
	p = popen(cmd, "r");
	if (p && fgets(want, sizeof(want), p))
		want[strcspn(want, "\n")] = '\0';
	if (p)
		pclose(p);
	ok(!strncmp(pin, "sha256//", 8) && !strcmp(pin + 8, want), "the pin is openssl's (%s)",
	    want);
	/* Made once: a second call keeps them. */
	free(c);
	cy_tls_free_key(&k);
	ok(cy_tls_selfsigned(dir, "node-01", &err) == 0 &&
		cy_tls_load(cert, key, "c", "k", &c, &k, &err) == 0 &&
		cy_tls_pin(c, pin2, &err) == 0 && !strcmp(pin, pin2),
	    "a second call keeps the key");
	free(c);
	cy_tls_free_key(&k);
	ok(k == NULL, "cy_tls_free_key frees and clears");

	/* Refusals name the key. */
	chmod(key, 0640);
	ok(cy_tls_load(cert, key, "c", "the.key", &c, &k, &err) < 0 && strstr(err.msg, "the.key") &&
		strstr(err.msg, "0640"),
	    "a group-readable key is refused: %s", err.msg);
	ok(c == NULL && k == NULL, "nothing is returned on failure");
	chmod(key, 0600);
	xsnprintf(other, sizeof(other), "%s/other", base);
	ok(cy_tls_selfsigned(other, "other", &err) == 0, "another pair");
	xsnprintf(other, sizeof(other), "%s/other/key.pem", base);
	ok(cy_tls_load(cert, other, "c", "the.key", &c, &k, &err) < 0 &&
		strstr(err.msg, "is not the key of c"),
	    "a key of another certificate is refused: %s", err.msg);
	ok(cy_tls_load(key, key, "the.cert", "k", &c, &k, &err) < 0 &&
		strstr(err.msg, "the.cert") && strstr(err.msg, "no PEM certificate"),
	    "a key given as the certificate is refused: %s", err.msg);
	chmod(cert, 0600);
	ok(cy_tls_load(cert, cert, "c", "the.key", &c, &k, &err) < 0 &&
		strstr(err.msg, "no unencrypted PEM private key"),
	    "a certificate given as the key is refused: %s", err.msg);
	chmod(cert, 0644);
	xsnprintf(other, sizeof(other), "%s/nul.pem", base);
	write_file(other, "", 0600);
	ok(cy_tls_load(cert, other, "c", "k", &c, &k, &err) < 0, "an empty key file is refused");
	ok(cy_tls_load(cert, base, "c", "k", &c, &k, &err) < 0 &&
		strstr(err.msg, "not a regular file"),
	    "a directory is refused: %s", err.msg);
	ok(cy_tls_load("/nonexistent/c.pem", key, "c", "k", &c, &k, &err) < 0 &&
		strstr(err.msg, "/nonexistent/c.pem"),
	    "a missing certificate is named: %s", err.msg);
	ok(cy_tls_pin("garbage", pin, &err) < 0, "no pin of garbage");
}

/* openssl's SPKI hash of the first certificate in path, in want. */
static void
openssl_pin(const char *path, char *want, size_t len)
{
	char cmd[1200];
	FILE *p;

	want[0] = '\0';
	xsnprintf(cmd, sizeof(cmd),
	    "openssl x509 -in '%s' -pubkey -noout | openssl pkey -pubin -outform der | "
	    "openssl dgst -sha256 -binary | base64",
	    path);
	p = popen(cmd, "r");
	if (p && fgets(want, (int)len, p))
		want[strcspn(want, "\n")] = '\0';
	if (p)
		pclose(p);
}

/* Pairs made by openssl: RSA (PKCS#8 and PKCS#1), EC (SEC1) and Ed25519. */
static void
test_openssl_pairs(void)
{
	static const struct {
		const char *name, *newkey, *convert;
	} pairs[] = {
		{ "rsa", "rsa:2048", NULL },
		{ "rsa1", "rsa:2048", "openssl pkey -traditional" },
		{ "ec", "ec -pkeyopt ec_paramgen_curve:P-384", "openssl ec" },
		{ "ed25519", "ed25519", NULL },
	};
	struct cy_error err = CY_ERROR_INIT;
	char cert[300], key[300], cmd[1200], pin[CY_TLS_PIN_SIZE], want[128], *c = NULL, *k = NULL;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		xsnprintf(cert, sizeof(cert), "%s/%s.crt", base, pairs[i].name);
		xsnprintf(key, sizeof(key), "%s/%s.key", base, pairs[i].name);
		xsnprintf(cmd, sizeof(cmd),
		    "openssl req -x509 -newkey %s -nodes -keyout '%s' -out '%s' -subj /CN=x "
		    "-days 2 2>/dev/null",
		    pairs[i].newkey, key, cert);
		rc = system(cmd);
		if (rc == 0 && pairs[i].convert) {
			xsnprintf(cmd, sizeof(cmd),
			    "%s -in '%s' -out '%s.2' 2>/dev/null && mv '%s.2' '%s'",
			    pairs[i].convert, key, key, key, key);
			rc = system(cmd);
		}
		if (rc != 0) {
			ok(0, "%s: openssl makes a pair", pairs[i].name);
			continue;
		}
		chmod(key, 0600);
		openssl_pin(cert, want, sizeof(want));
		ok(cy_tls_load(cert, key, "c", "k", &c, &k, &err) == 0, "%s: the pair loads: %s",
		    pairs[i].name, err.msg);
		ok(c && cy_tls_pin(c, pin, &err) == 0 && !strcmp(pin + 8, want),
		    "%s: the pin is openssl's (%s)", pairs[i].name, want);
		free(c);
		cy_tls_free_key(&k);
	}
	xsnprintf(cert, sizeof(cert), "%s/rsa.crt", base);
	xsnprintf(key, sizeof(key), "%s/ed25519.key", base);
	ok(cy_tls_load(cert, key, "c", "k", &c, &k, &err) < 0 &&
		strstr(err.msg, "is not the key of c"),
	    "an Ed25519 key for an RSA certificate is refused: %s", err.msg);
	xsnprintf(key, sizeof(key), "%s/rsa-enc.key", base);
	xsnprintf(cmd, sizeof(cmd),
	    "openssl pkey -in '%s/rsa.key' -aes256 -passout pass:x -out '%s' && chmod 600 '%s'",
	    base, key, key);
	ok(system(cmd) == 0 && cy_tls_load(cert, key, "c", "k", &c, &k, &err) < 0 &&
		strstr(err.msg, "no unencrypted PEM private key"),
	    "an encrypted key is refused: %s", err.msg);
}

static void
test_pin_shape(void)
{
	ok(cy_tls_pin_valid("sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="), "a pin");
	ok(cy_tls_pin_valid("sha256//u39nvlM31dOVC9/8zMfaA58nxwCj5dtZHhqp54jCFQU="), "+ and /");
	ok(!cy_tls_pin_valid(NULL), "NULL");
	ok(!cy_tls_pin_valid(""), "empty");
	ok(!cy_tls_pin_valid("sha256//AAAA="), "too short");
	ok(!cy_tls_pin_valid("sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), "no =");
	ok(!cy_tls_pin_valid("sha512//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="), "sha512");
	ok(!cy_tls_pin_valid("sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA!="), "bad char");
	ok(!cy_tls_pin_valid("sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=;x"), "trailer");
}

static void
test_loopback(void)
{
	ok(cy_tls_host_loopback("127.0.0.1") && cy_tls_host_loopback("127.1.2.3"), "127/8");
	ok(cy_tls_host_loopback("::1") && cy_tls_host_loopback("[::1]"), "::1");
	ok(cy_tls_host_loopback("localhost") && cy_tls_host_loopback("LOCALHOST"), "localhost");
	ok(cy_tls_host_loopback("::ffff:127.0.0.1"), "v4-mapped loopback");
	ok(!cy_tls_host_loopback("0.0.0.0") && !cy_tls_host_loopback("::"), "wildcards are not");
	ok(!cy_tls_host_loopback("") && !cy_tls_host_loopback(NULL), "any address is not");
	ok(!cy_tls_host_loopback("10.0.0.1") && !cy_tls_host_loopback("orch.example"), "others");
	ok(!cy_tls_host_loopback("localhost.example") && !cy_tls_host_loopback("128.0.0.1"),
	    "look-alikes");
	ok(cy_tls_url_loopback("http://127.0.0.1:12080") &&
		cy_tls_url_loopback("http://localhost/x") &&
		cy_tls_url_loopback("https://[::1]:1/") &&
		cy_tls_url_loopback("HTTP://user@127.0.0.1:80"),
	    "loopback URLs");
	ok(!cy_tls_url_loopback("http://orch:12080") &&
		!cy_tls_url_loopback("http://127.0.0.1.example/") &&
		!cy_tls_url_loopback("http://evil@orch/") &&
		!cy_tls_url_loopback("ftp://127.0.0.1") && !cy_tls_url_loopback("http://") &&
		!cy_tls_url_loopback("http://[::1"),
	    "others, user-info tricks and garbage are not");
	ok(cy_tls_url_https("https://x") && cy_tls_url_https("HTTPS://x") &&
		!cy_tls_url_https("http://x") && !cy_tls_url_https(NULL),
	    "https URLs");
}

int
main(void)
{
	if (!mkdtemp(base))
		tap_skip_all("cannot make a temporary directory");
	RUN_TEST(test_selfsigned_and_load);
	RUN_TEST(test_openssl_pairs);
	RUN_TEST(test_pin_shape);
	RUN_TEST(test_loopback);
	cy_rm_rf(base);
	return tap_done();
}
