// SPDX-License-Identifier: MIT
/* U-Boot's signature algorithm names ("sha256,rsa2048") and their digests. */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "sig_internal.h"
#include "hash/hasher.h"
#include "util/esc.h"

static const struct {
	const char *name;
	enum bpi_sig_kind kind;
	unsigned int bits;
} crypto_algos[] = {
	{ "rsa2048", BPI_SIG_RSA, 2048 },
	{ "rsa3072", BPI_SIG_RSA, 3072 },
	{ "rsa4096", BPI_SIG_RSA, 4096 },
	{ "ecdsa256", BPI_SIG_ECDSA, 256 },
	{ "ecdsa384", BPI_SIG_ECDSA, 384 },
};

#define EXPECTED "expected sha1, sha256, sha384 or sha512, a comma, and rsa2048, rsa3072, " \
		 "rsa4096, ecdsa256 or ecdsa384, e.g. sha256,rsa2048"

int bpi_sig_algo_parse(const char *algo, const char *padding, struct bpi_sig_algo *a,
		       struct bp_diag *d)
{
	const char *comma = algo ? strchr(algo, ',') : NULL;
	char hash[8];
	size_t hlen;
	size_t i;

	memset(a, 0, sizeof(*a));
	if (!algo)
		return bp_diag_set(d, BP_ERR_UNSUPPORTED, NULL, "no signature algorithm (" EXPECTED ")");
	hlen = comma ? (size_t)(comma - algo) : 0;
	if (!comma || hlen >= sizeof(hash))
		goto unknown;
	memcpy(hash, algo, hlen);
	hash[hlen] = '\0';
	if (!strcmp(hash, "sha1"))
		a->hash = BP_HASH_SHA1;
	else if (!strcmp(hash, "sha256"))
		a->hash = BP_HASH_SHA256;
	else if (!strcmp(hash, "sha384"))
		a->hash = BP_HASH_SHA384;
	else if (!strcmp(hash, "sha512"))
		a->hash = BP_HASH_SHA512;
	else
		goto unknown;
	for (i = 0; i < sizeof(crypto_algos) / sizeof(crypto_algos[0]); i++)
		if (!strcmp(comma + 1, crypto_algos[i].name))
			break;
	if (i == sizeof(crypto_algos) / sizeof(crypto_algos[0]))
		goto unknown;
	a->kind = crypto_algos[i].kind;
	a->bits = crypto_algos[i].bits;
	snprintf(a->name, sizeof(a->name), "%s,%s", hash, crypto_algos[i].name);

	if (!padding || !strcmp(padding, "pkcs-1.5"))
		return 0;
	if (!strcmp(padding, "pss")) {
		if (a->kind != BPI_SIG_RSA)
			return bp_diag_set(d, BP_ERR_UNSUPPORTED, NULL,
					   "padding 'pss' is for RSA, not '%s'", a->name);
		a->pss = true;
		return 0;
	}
	return bp_diag_set(d, BP_ERR_UNSUPPORTED, NULL,
			   "unknown signature padding '%s' (expected pkcs-1.5 or pss)",
			   BPI_ESC(padding));
unknown:
	return bp_diag_set(d, BP_ERR_UNSUPPORTED, NULL, "unknown signature algorithm '%s' (" EXPECTED ")",
			   BPI_ESC(algo));
}

size_t bpi_sig_len(const struct bpi_sig_algo *a)
{
	return a->kind == BPI_SIG_RSA ? a->bits / 8 : 2 * (a->bits / 8);
}

const EVP_MD *bpi_sig_md(enum bp_hash_algo h)
{
	switch (h) {
	case BP_HASH_SHA1: return EVP_sha1();
	case BP_HASH_SHA256: return EVP_sha256();
	case BP_HASH_SHA384: return EVP_sha384();
	case BP_HASH_SHA512: return EVP_sha512();
	default: return NULL;
	}
}

int bpi_sig_digest(enum bp_hash_algo h, const struct bpi_region *r, size_t n,
		   uint8_t out[BP_HASH_MAX_LEN], struct bp_diag *d)
{
	struct bpi_hasher hs;
	int ret;

	if (!bpi_sig_md(h))
		return bp_diag_set(d, BP_ERR_INVALID, NULL, "not a signature hash algorithm");
	ret = bpi_hasher_init(&hs, h, d);
	for (size_t i = 0; !ret && i < n; i++)
		ret = bpi_hasher_update(&hs, r[i].data, r[i].size, d);
	if (!ret)
		return bpi_hasher_final(&hs, out, d);
	bpi_hasher_free(&hs);
	return ret;
}

int bpi_sig_ssl_err(struct bp_diag *d, int err, const char *path, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	if (reason)
		return bp_diag_set(d, err, path, "%s: %s", what, reason);
	return bp_diag_set(d, err, path, "%s", what);
}
