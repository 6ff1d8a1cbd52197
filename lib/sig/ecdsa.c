// SPDX-License-Identifier: MIT
/*
 * ECDSA in U-Boot's format: the value is r || s, each zero-padded to the
 * coordinate size (lib/ecdsa/ecdsa-libcrypto.c). File keys sign with the
 * RFC 6979 deterministic nonce so the same tree gives the same bytes:
 * OpenSSL 3.0 has no deterministic ECDSA, so the nonce is derived here with
 * OpenSSL's HMAC and handed to ECDSA_do_sign_ex as (k^-1, r); OpenSSL does
 * all the curve and signature arithmetic. That call belongs to the EC_KEY
 * API, deprecated in 3.0 but present; the deprecation is silenced for this
 * file only.
 */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/hmac.h>

#include "sig_internal.h"

#define HMAX EVP_MAX_MD_SIZE
#define QMAX 66 /* bytes of the largest order OpenSSL's curves have (P-521) */

struct drbg {
	const EVP_MD *md;
	size_t hlen;
	uint8_t K[HMAX], V[HMAX];
};

/* K = HMAC_K(V || sep || extra); V = HMAC_K(V). @sep < 0: only V = HMAC_K(V). */
static int drbg_step(struct drbg *g, int sep, const uint8_t *extra, size_t elen)
{
	uint8_t msg[HMAX + 1 + 2 * QMAX];
	unsigned int len;

	if (sep >= 0) {
		memcpy(msg, g->V, g->hlen);
		msg[g->hlen] = (uint8_t)sep;
		if (elen)
			memcpy(msg + g->hlen + 1, extra, elen);
		if (!HMAC(g->md, g->K, (int)g->hlen, msg, g->hlen + 1 + elen, g->K, &len))
			return -1;
	}
	return HMAC(g->md, g->K, (int)g->hlen, g->V, g->hlen, g->V, &len) ? 0 : -1;
}

/* RFC 6979 bits2int: the leftmost qlen bits of @b as an integer. */
static int bits2int(BIGNUM *out, const uint8_t *b, size_t blen, int qlen)
{
	if (!BN_bin2bn(b, (int)blen, out))
		return -1;
	if ((int)blen * 8 > qlen && !BN_rshift(out, out, (int)blen * 8 - qlen))
		return -1;
	return 0;
}

int bpi_rfc6979_k(const BIGNUM *q, const BIGNUM *x, const EVP_MD *md, const uint8_t *h1,
		  size_t hlen, unsigned int skip, BIGNUM *k)
{
	int qlen = BN_num_bits(q);
	size_t rlen = (size_t)(qlen + 7) / 8;
	uint8_t seed[2 * QMAX], T[QMAX + HMAX];
	struct drbg g = { .md = md, .hlen = (size_t)EVP_MD_get_size(md) };
	int ret = -1;

	if (rlen > QMAX || g.hlen > HMAX || g.hlen == 0)
		return -1;
	/* seed = int2octets(x) || bits2octets(h1) */
	if (BN_bn2binpad(x, seed, (int)rlen) < 0 || bits2int(k, h1, hlen, qlen))
		goto out;
	if (BN_cmp(k, q) >= 0 && !BN_sub(k, k, q))
		goto out;
	if (BN_bn2binpad(k, seed + rlen, (int)rlen) < 0)
		goto out;
	memset(g.V, 0x01, g.hlen);
	memset(g.K, 0x00, g.hlen);
	if (drbg_step(&g, 0x00, seed, 2 * rlen) || drbg_step(&g, 0x01, seed, 2 * rlen))
		goto out;
	for (;;) {
		size_t tlen = 0;

		while (tlen < rlen) {
			if (drbg_step(&g, -1, NULL, 0))
				goto out;
			memcpy(T + tlen, g.V, g.hlen);
			tlen += g.hlen;
		}
		if (bits2int(k, T, rlen, qlen))
			goto out;
		if (!BN_is_zero(k) && BN_cmp(k, q) < 0 && skip-- == 0)
			break;
		if (drbg_step(&g, 0x00, NULL, 0))
			goto out;
	}
	ret = 0;
out:
	OPENSSL_cleanse(seed, sizeof(seed));
	OPENSSL_cleanse(&g, sizeof(g));
	OPENSSL_cleanse(T, sizeof(T));
	return ret;
}

static int sig_to_value(const ECDSA_SIG *sig, unsigned int bits, uint8_t *value)
{
	const BIGNUM *r, *s;

	ECDSA_SIG_get0(sig, &r, &s);
	if (BN_bn2binpad(r, value, (int)bits / 8) < 0 ||
	    BN_bn2binpad(s, value + bits / 8, (int)bits / 8) < 0)
		return -1;
	return 0;
}

/* Deterministic signature with a file key. */
static int sign_rfc6979(const struct bp_key *key, const struct bpi_sig_algo *a,
			const uint8_t *hash, size_t hlen, uint8_t *value, struct bp_diag *d)
{
	EC_KEY *ec = EVP_PKEY_get1_EC_KEY(key->pkey);
	const EC_GROUP *g = ec ? EC_KEY_get0_group(ec) : NULL;
	const BIGNUM *q = g ? EC_GROUP_get0_order(g) : NULL;
	const BIGNUM *x = ec ? EC_KEY_get0_private_key(ec) : NULL;
	BN_CTX *ctx = BN_CTX_new_ex(NULL);
	BIGNUM *k = NULL, *kinv = NULL, *r = NULL;
	EC_POINT *R = NULL;
	ECDSA_SIG *sig = NULL;
	int ret = 0;

	if (ctx)
		BN_CTX_start(ctx);
	if (!q || !x || !ctx) {
		ret = bpi_sig_ssl_err(d, BP_ERR_CODEC, NULL, "cannot use the EC private key");
		goto out;
	}
	k = BN_CTX_get(ctx);
	kinv = BN_CTX_get(ctx);
	r = BN_CTX_get(ctx);
	R = EC_POINT_new(g);
	if (!r || !R) {
		ret = bpi_sig_ssl_err(d, BP_ERR_NOMEM, NULL, "out of memory");
		goto out;
	}
	BN_set_flags(k, BN_FLG_CONSTTIME);
	/* A candidate k giving r = 0 or s = 0 is skipped, as RFC 6979 says (never seen in practice). */
	for (unsigned int skip = 0; skip < 8 && !sig; skip++) {
		if (bpi_rfc6979_k(q, x, bpi_sig_md(a->hash), hash, hlen, skip, k) ||
		    !EC_POINT_mul(g, R, k, NULL, NULL, ctx) ||
		    !EC_POINT_get_affine_coordinates(g, R, r, NULL, ctx) ||
		    !BN_nnmod(r, r, q, ctx) || !BN_mod_inverse(kinv, k, q, ctx)) {
			ret = bpi_sig_ssl_err(d, BP_ERR_CODEC, NULL, "ECDSA nonce computation failed");
			goto out;
		}
		if (BN_is_zero(r))
			continue;
		sig = ECDSA_do_sign_ex(hash, (int)hlen, kinv, r, ec);
		ERR_clear_error();
	}
	if (!sig || sig_to_value(sig, a->bits, value))
		ret = bp_diag_set(d, BP_ERR_CODEC, NULL, "ECDSA signing failed");
out:
	ECDSA_SIG_free(sig);
	EC_POINT_free(R);
	if (ctx)
		BN_CTX_end(ctx);
	BN_CTX_free(ctx);
	EC_KEY_free(ec);
	return ret;
}

/* A token key: whatever the token does, DER from OpenSSL turned into r || s. */
static int sign_token(const struct bp_key *key, const struct bpi_sig_algo *a,
		      const uint8_t *hash, size_t hlen, uint8_t *value, struct bp_diag *d)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(key->pkey, NULL);
	uint8_t der[2 * QMAX + 16];
	const uint8_t *p = der;
	size_t len = sizeof(der);
	ECDSA_SIG *sig = NULL;
	int ret = 0;

	if (!c || EVP_PKEY_sign_init(c) <= 0 || EVP_PKEY_sign(c, der, &len, hash, hlen) <= 0)
		ret = bpi_sig_ssl_err(d, BP_ERR_CODEC, NULL, "ECDSA signing failed");
	else if (!(sig = d2i_ECDSA_SIG(NULL, &p, (long)len)) || sig_to_value(sig, a->bits, value))
		ret = bpi_sig_ssl_err(d, BP_ERR_CODEC, NULL, "the token's ECDSA signature is malformed");
	ECDSA_SIG_free(sig);
	EVP_PKEY_CTX_free(c);
	return ret;
}

int bpi_ecdsa_sign(const struct bp_key *k, const struct bpi_sig_algo *a, const uint8_t *hash,
		   size_t hlen, uint8_t *value, struct bp_diag *d)
{
	if (k->engine)
		return sign_token(k, a, hash, hlen, value, d);
	return sign_rfc6979(k, a, hash, hlen, value, d);
}

int bpi_ecdsa_verify(EVP_PKEY *pub, const struct bpi_sig_algo *a, const uint8_t *hash,
		     size_t hlen, const uint8_t *value, size_t len, struct bp_diag *d)
{
	size_t half = a->bits / 8;
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(value, (int)half, NULL), *s = BN_bin2bn(value + half, (int)half, NULL);
	unsigned char *der = NULL;
	EVP_PKEY_CTX *c = NULL;
	int dlen, ok = 0;

	if (len != 2 * half || !sig || !r || !s || !ECDSA_SIG_set0(sig, r, s)) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(sig);
		return bp_diag_set(d, BP_ERR_SIGNATURE, NULL, "malformed %s signature", a->name);
	}
	dlen = i2d_ECDSA_SIG(sig, &der);
	c = EVP_PKEY_CTX_new(pub, NULL);
	if (dlen > 0 && c && EVP_PKEY_verify_init(c) > 0)
		ok = EVP_PKEY_verify(c, der, (size_t)dlen, hash, hlen);
	OPENSSL_free(der);
	EVP_PKEY_CTX_free(c);
	ECDSA_SIG_free(sig);
	ERR_clear_error();
	if (ok != 1)
		return bp_diag_set(d, BP_ERR_SIGNATURE, NULL, "%s signature does not verify",
				   a->name);
	return 0;
}
