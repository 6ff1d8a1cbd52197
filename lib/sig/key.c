// SPDX-License-Identifier: MIT
/*
 * Signing keys (struct bp_key): PEM files through OpenSSL's decoders, or
 * PKCS#11 URIs (pkcs11.c). Key files are read whole (they are small) and
 * never prompt: an encrypted PEM key takes its passphrase from the PIN.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <bootpack/buf.h>

#include "sig_internal.h"
#include "util/esc.h"
#include "util/util.h"

/* Key files are a few KiB; a big file is not a key. */
#define KEY_FILE_MAX (1u << 20)

enum bpi_key_type bpi_key_type(const EVP_PKEY *pub, unsigned int *bits)
{
	char group[64];

	*bits = 0;
	switch (EVP_PKEY_get_base_id(pub)) {
	case EVP_PKEY_RSA:
		*bits = (unsigned int)EVP_PKEY_get_bits(pub);
		return BPI_KEY_RSA;
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_utf8_string_param(pub, OSSL_PKEY_PARAM_GROUP_NAME, group,
						   sizeof(group), NULL)) {
			if (!strcmp(group, "prime256v1"))
				*bits = 256;
			else if (!strcmp(group, "secp384r1"))
				*bits = 384;
		}
		ERR_clear_error();
		return BPI_KEY_EC;
	default:
		return BPI_KEY_OTHER;
	}
}

int bpi_key_public_copy(const EVP_PKEY *src, EVP_PKEY **out, const char *path,
			struct bp_diag *d)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	int len;

	/* Through SubjectPublicKeyInfo: works for provider and engine keys alike. */
	len = i2d_PUBKEY((EVP_PKEY *)src, &der);
	if (len <= 0)
		return bpi_sig_ssl_err(d, BP_ERR_FORMAT, path, "cannot read the public key");
	p = der;
	*out = d2i_PUBKEY(NULL, &p, len);
	OPENSSL_free(der);
	if (!*out)
		return bpi_sig_ssl_err(d, BP_ERR_FORMAT, path, "cannot read the public key");
	return 0;
}

/* A type U-Boot verifies, or BP_ERR_UNSUPPORTED naming what it is. */
int bpi_key_check_type(const EVP_PKEY *pub, const char *path, struct bp_diag *d)
{
	unsigned int bits;

	switch (bpi_key_type(pub, &bits)) {
	case BPI_KEY_RSA:
		return 0;
	case BPI_KEY_EC:
		if (bits)
			return 0;
		return bp_diag_set(d, BP_ERR_UNSUPPORTED, path,
				   "EC key on a curve U-Boot does not verify (expected P-256 or P-384)");
	default:
		return bp_diag_set(d, BP_ERR_UNSUPPORTED, path,
				   "%s key: U-Boot verifies RSA and ECDSA keys only",
				   OBJ_nid2sn(EVP_PKEY_get_base_id(pub)));
	}
}

static int no_prompt(char *buf, int size, int rwflag, void *u)
{
	const char *pin = u;
	size_t n;

	(void)rwflag;
	if (!pin)
		return -1;
	n = strlen(pin);
	if (n > (size_t)size)
		return -1;
	memcpy(buf, pin, n);
	return (int)n;
}

static bool has(const struct bp_buf *b, const char *s)
{
	return b->len && memmem(b->data, b->len, s, strlen(s));
}

/* The file name without directory and a .key/.pem/.crt suffix, as mkimage names keys. */
static char *name_from_path(const char *path)
{
	static const char *const suffixes[] = { ".key", ".pem", ".crt" };
	const char *base = strrchr(path, '/');
	size_t len;

	base = base ? base + 1 : path;
	len = strlen(base);
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t sl = strlen(suffixes[i]);

		if (len > sl && !strcmp(base + len - sl, suffixes[i])) {
			len -= sl;
			break;
		}
	}
	return strndup(base, len);
}

static int read_pem(struct bp_key *k, const char *path, const char *pin, bool want_private,
		    struct bp_diag *d)
{
	struct bp_buf b = BP_BUF_INIT;
	EVP_PKEY *pkey = NULL;
	BIO *bio = NULL;
	int ret;

	ret = bpi_read_file(path, KEY_FILE_MAX, &b, d);
	if (ret)
		goto out;
	ret = BP_ERR_NOMEM;
	bio = BIO_new_mem_buf(b.len ? (const void *)b.data : "", (int)b.len);
	if (!bio)
		goto nomem;
	pkey = PEM_read_bio_PrivateKey(bio, NULL, no_prompt, (void *)pin);
	if (pkey) {
		k->priv = want_private;
	} else if (want_private) {
		if (has(&b, "ENCRYPTED"))
			ret = bp_diag_set(d, BP_ERR_FORMAT, path,
					  pin ? "cannot decrypt the private key with the PIN given"
					      : "encrypted private key: give its passphrase as the PIN");
		else if (has(&b, "-----BEGIN CERTIFICATE-----"))
			ret = bp_diag_set(d, BP_ERR_FORMAT, path,
					  "a certificate, not a private key: signing needs the private key");
		else if (has(&b, "PUBLIC KEY-----"))
			ret = bp_diag_set(d, BP_ERR_FORMAT, path,
					  "a public key, not a private key: signing needs the private key");
		else
			ret = bp_diag_set(d, BP_ERR_FORMAT, path,
					  "not a PEM private key (expected an RSA or EC private key "
					  "or a pkcs11: URI)");
		ERR_clear_error();
		goto out;
	} else {
		X509 *cert;

		ERR_clear_error();
		(void)BIO_reset(bio);
		pkey = PEM_read_bio_PUBKEY(bio, NULL, no_prompt, NULL);
		if (!pkey) {
			ERR_clear_error();
			(void)BIO_reset(bio);
			cert = PEM_read_bio_X509(bio, NULL, no_prompt, NULL);
			if (cert) {
				pkey = X509_get_pubkey(cert);
				X509_free(cert);
			}
		}
		if (!pkey) {
			ret = bp_diag_set(d, BP_ERR_FORMAT, path,
					  "no PEM key or certificate found (expected an RSA or EC "
					  "private key, public key or X.509 certificate)");
			ERR_clear_error();
			goto out;
		}
	}
	ret = bpi_key_check_type(pkey, path, d);
	if (!ret)
		ret = bpi_key_public_copy(pkey, &k->pub, path, d);
	if (!ret && k->priv) {
		k->pkey = pkey;
		pkey = NULL;
	}
	if (!ret) {
		k->name = name_from_path(path);
		if (!k->name)
			goto nomem;
	}
	goto out;
nomem:
	ret = bp_diag_set(d, BP_ERR_NOMEM, path, "out of memory");
out:
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	if (b.data)
		OPENSSL_cleanse(b.data, b.len);
	bp_buf_free(&b);
	return ret;
}

static int key_open(const char *spec, const char *pin, bool want_private, struct bp_key **out,
		    struct bp_diag *d)
{
	struct bp_key *k;
	int ret;

	bp_diag_clear(d);
	*out = NULL;
	if (!spec || !*spec)
		return bp_diag_set(d, BP_ERR_INVALID, NULL, "no key given");
	k = calloc(1, sizeof(*k));
	if (!k)
		return bp_diag_set(d, BP_ERR_NOMEM, NULL, "out of memory");
	if (bpi_is_pkcs11_uri(spec))
		ret = bpi_pkcs11_open(k, spec, pin, want_private, d);
	else
		ret = read_pem(k, spec, pin, want_private, d);
	if (ret) {
		bp_key_close(k);
		return ret;
	}
	*out = k;
	return 0;
}

int bp_key_open(const char *spec, const char *pin, struct bp_key **out, struct bp_diag *d)
{
	return key_open(spec, pin, true, out, d);
}

int bp_key_open_public(const char *spec, const char *pin, struct bp_key **out,
		       struct bp_diag *d)
{
	return key_open(spec, pin, false, out, d);
}

void bp_key_close(struct bp_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	EVP_PKEY_free(k->pub);
	bpi_pkcs11_close(k);
	free(k->name);
	free(k);
}

const char *bp_key_name(const struct bp_key *k)
{
	return k ? k->name : NULL;
}

int bp_key_algo(const struct bp_key *k, const char *hash, char *buf, size_t bufsz,
		struct bp_diag *d)
{
	struct bpi_sig_algo a;
	unsigned int bits;
	char name[32];
	int ret;

	bp_diag_clear(d);
	if (!k || !buf)
		return bp_diag_set(d, BP_ERR_INVALID, NULL, "no key or buffer");
	switch (bpi_key_type(k->pub, &bits)) {
	case BPI_KEY_RSA:
		if (bits != 2048 && bits != 3072 && bits != 4096)
			return bp_diag_set(d, BP_ERR_UNSUPPORTED, NULL,
					   "RSA-%u key: U-Boot verifies RSA 2048, 3072 and 4096 only",
					   bits);
		snprintf(name, sizeof(name), "%.8s,rsa%u", hash ? hash : "sha256", bits);
		break;
	case BPI_KEY_EC:
		if (!bits)
			return bp_diag_set(d, BP_ERR_UNSUPPORTED, NULL,
					   "EC key on a curve U-Boot does not verify");
		snprintf(name, sizeof(name), "%.8s,ecdsa%u", hash ? hash : "sha256", bits);
		break;
	default:
		return bp_diag_set(d, BP_ERR_UNSUPPORTED, NULL, "not an RSA or EC key");
	}
	/* Validates the hash name too. */
	ret = bpi_sig_algo_parse(name, NULL, &a, d);
	if (ret)
		return bp_diag_set(d, ret, NULL, "unknown hash algorithm '%s' (expected sha1, "
				   "sha256, sha384 or sha512)", BPI_ESC(hash));
	if (strlen(a.name) >= bufsz)
		return bp_diag_set(d, BP_ERR_INVALID, NULL, "buffer too small for '%s'", a.name);
	memcpy(buf, a.name, strlen(a.name) + 1);
	return 0;
}

int bpi_sig_key_check(const struct bp_key *k, const struct bpi_sig_algo *a, struct bp_diag *d)
{
	unsigned int bits;
	enum bpi_key_type t;

	if (!k || !k->pub)
		return bp_diag_set(d, BP_ERR_INVALID, NULL, "no key");
	t = bpi_key_type(k->pub, &bits);
	if (a->kind == BPI_SIG_RSA && t == BPI_KEY_RSA && bits == a->bits)
		return 0;
	if (a->kind == BPI_SIG_ECDSA && t == BPI_KEY_EC && bits == a->bits)
		return 0;
	if (t == BPI_KEY_RSA)
		return bp_diag_set(d, BP_ERR_INVALID, NULL,
				   "key '%s' is RSA-%u, algorithm '%s' needs %s%u", BPI_ESC(k->name),
				   bits, a->name, a->kind == BPI_SIG_RSA ? "RSA-" : "EC P-", a->bits);
	if (t == BPI_KEY_EC && bits)
		return bp_diag_set(d, BP_ERR_INVALID, NULL,
				   "key '%s' is EC P-%u, algorithm '%s' needs %s%u", BPI_ESC(k->name),
				   bits, a->name, a->kind == BPI_SIG_RSA ? "RSA-" : "EC P-", a->bits);
	return bp_diag_set(d, BP_ERR_INVALID, NULL, "key '%s' cannot sign '%s'",
			   BPI_ESC(k->name), a->name);
}
