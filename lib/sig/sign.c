// SPDX-License-Identifier: MIT
/*
 * Signing and verifying regions in U-Boot's value format. RSA values are
 * the big-endian modulus-sized integer OpenSSL produces; PSS is written with
 * a zero-length salt (reproducible; U-Boot's padding_pss_verify takes any
 * salt length) and verified with any salt length, since mkimage signs with
 * OpenSSL's default (the longest). Every signature made is verified before
 * it is returned: a token or a fault that produces a wrong value is an
 * error here, not an unbootable image later.
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/rsa.h>

#include "sig_internal.h"
#include "util/esc.h"

static int rsa_ctx_setup(EVP_PKEY_CTX *c, const struct bpi_sig_algo *a, bool sign)
{
	const EVP_MD *md = bpi_sig_md(a->hash);

	if (EVP_PKEY_CTX_set_signature_md(c, md) <= 0)
		return -1;
	if (!a->pss)
		return EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) <= 0 ? -1 : 0;
	if (EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PSS_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(c, md) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(c, sign ? 0 : RSA_PSS_SALTLEN_AUTO) <= 0)
		return -1;
	return 0;
}

static int rsa_verify(EVP_PKEY *pub, const struct bpi_sig_algo *a, const uint8_t *hash,
		      size_t hlen, const uint8_t *value, size_t len, struct bp_diag *d)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pub, NULL);
	int ok;

	if (!c || EVP_PKEY_verify_init(c) <= 0 || rsa_ctx_setup(c, a, false)) {
		EVP_PKEY_CTX_free(c);
		return bpi_sig_ssl_err(d, BP_ERR_CODEC, NULL, "cannot set up RSA verification");
	}
	ok = EVP_PKEY_verify(c, value, len, hash, hlen);
	EVP_PKEY_CTX_free(c);
	ERR_clear_error();
	if (ok != 1)
		return bp_diag_set(d, BP_ERR_SIGNATURE, NULL, "%s signature does not verify",
				   a->name);
	return 0;
}

static int rsa_sign(const struct bp_key *k, const struct bpi_sig_algo *a, const uint8_t *hash,
		    size_t hlen, uint8_t *value, struct bp_diag *d)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k->pkey, NULL);
	size_t len = bpi_sig_len(a);
	int ret = 0;

	if (!c || EVP_PKEY_sign_init(c) <= 0 || rsa_ctx_setup(c, a, true)) {
		ret = bpi_sig_ssl_err(d, BP_ERR_CODEC, NULL, "cannot set up RSA signing");
	} else if (EVP_PKEY_sign(c, value, &len, hash, hlen) <= 0) {
		ret = bpi_sig_ssl_err(d, BP_ERR_CODEC, NULL, "RSA signing failed");
	} else if (len != bpi_sig_len(a)) {
		ret = bp_diag_set(d, BP_ERR_CODEC, NULL, "RSA signature of %zu bytes, expected %zu",
				  len, bpi_sig_len(a));
	}
	EVP_PKEY_CTX_free(c);
	return ret;
}

int bpi_sig_sign(const struct bp_key *k, const struct bpi_sig_algo *a,
		 const struct bpi_region *r, size_t n, uint8_t *value, struct bp_diag *d)
{
	uint8_t hash[BP_HASH_MAX_LEN];
	size_t hlen = bp_hash_len(a->hash);
	struct bp_key *mk = (struct bp_key *)k;
	int ret;

	ret = bpi_sig_key_check(k, a, d);
	if (ret)
		return ret;
	if (!k->priv || !k->pkey)
		return bp_diag_set(d, BP_ERR_INVALID, NULL,
				   "key '%s' is a public key: signing needs the private key",
				   BPI_ESC(k->name));
	ret = bpi_sig_digest(a->hash, r, n, hash, d);
	if (ret)
		return ret;
	if (k->locked)
		pthread_mutex_lock(&mk->lock);
	if (a->kind == BPI_SIG_RSA)
		ret = rsa_sign(k, a, hash, hlen, value, d);
	else
		ret = bpi_ecdsa_sign(k, a, hash, hlen, value, d);
	if (k->locked)
		pthread_mutex_unlock(&mk->lock);
	if (ret)
		return ret;
	if (a->kind == BPI_SIG_RSA)
		ret = rsa_verify(k->pub, a, hash, hlen, value, bpi_sig_len(a), d);
	else
		ret = bpi_ecdsa_verify(k->pub, a, hash, hlen, value, bpi_sig_len(a), d);
	if (ret)
		return bp_diag_set(d, BP_ERR_CODEC, NULL,
				   "the %s signature made with key '%s' does not verify with its "
				   "public key", a->name, BPI_ESC(k->name));
	return 0;
}

int bpi_sig_verify(const struct bpi_pubkey *k, const struct bpi_sig_algo *a,
		   const struct bpi_region *r, size_t n, const uint8_t *value, size_t len,
		   struct bp_diag *d)
{
	uint8_t hash[BP_HASH_MAX_LEN];
	unsigned int bits;
	enum bpi_key_type t;
	int ret;

	if (!k || !k->pkey)
		return bp_diag_set(d, BP_ERR_INVALID, NULL, "no public key");
	t = bpi_key_type(k->pkey, &bits);
	/* U-Boot's rsa_verify_with_keynode wants the key's "algo" to be the signature's. */
	if (a->kind == BPI_SIG_RSA && k->has_algo && strcmp(k->algo.name, a->name))
		return bp_diag_set(d, BP_ERR_SIGNATURE, NULL,
				   "key '%s' is for '%s', the signature is '%s'",
				   BPI_ESC(k->name), k->algo.name, a->name);
	if (a->kind == BPI_SIG_RSA && !k->has_algo)
		return bp_diag_set(d, BP_ERR_SIGNATURE, NULL,
				   "RSA key '%s' has no 'algo' (U-Boot cannot use it)",
				   BPI_ESC(k->name));
	if ((a->kind == BPI_SIG_RSA) != (t == BPI_KEY_RSA) || bits != a->bits)
		return bp_diag_set(d, BP_ERR_SIGNATURE, NULL,
				   "key '%s' is %s%u, the signature is '%s'", BPI_ESC(k->name),
				   t == BPI_KEY_RSA ? "RSA-" : "EC P-", bits, a->name);
	if (len != bpi_sig_len(a))
		return bp_diag_set(d, BP_ERR_SIGNATURE, NULL,
				   "%s signature value of %zu bytes, expected %zu", a->name, len,
				   bpi_sig_len(a));
	ret = bpi_sig_digest(a->hash, r, n, hash, d);
	if (ret)
		return ret;
	if (a->kind == BPI_SIG_RSA)
		return rsa_verify(k->pkey, a, hash, bp_hash_len(a->hash), value, len, d);
	return bpi_ecdsa_verify(k->pkey, a, hash, bp_hash_len(a->hash), value, len, d);
}
