/* SPDX-License-Identifier: MIT */
/* Shared by the files of lib/sig/ only (bpi_: not exported). */
#ifndef BP_SIG_INTERNAL_H
#define BP_SIG_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "sig.h"

struct bp_key {
	EVP_PKEY *pkey;          /* what signs: a file key, or the token's handle */
	EVP_PKEY *pub;           /* provider-native public half (key nodes, checks) */
	char *name;              /* bp_key_name() */
	bool priv;               /* @pkey can sign */
	/* Token keys: the engine instance that owns @pkey, and a lock because
	 * a PKCS#11 session is not to be used by two threads at once. */
	void *engine;            /* ENGINE *, or NULL for a file key */
	void *ui;                /* UI_METHOD * that refuses to prompt */
	bool locked;
	pthread_mutex_t lock;
};

enum bpi_key_type { BPI_KEY_OTHER, BPI_KEY_RSA, BPI_KEY_EC };

/* The type of @pub, and its size: RSA modulus bits or EC order bits (0 for other curves). */
enum bpi_key_type bpi_key_type(const EVP_PKEY *pub, unsigned int *bits);

/* 0 for a key U-Boot can verify (RSA, EC P-256/P-384), else BP_ERR_UNSUPPORTED. */
int bpi_key_check_type(const EVP_PKEY *pub, const char *path, struct bp_diag *d);

/* The OpenSSL digest for @h (sha1..sha512), else NULL. */
const EVP_MD *bpi_sig_md(enum bp_hash_algo h);

/* Hash the concatenation of the regions with @h into @out (bp_hash_len(@h) bytes). */
int bpi_sig_digest(enum bp_hash_algo h, const struct bpi_region *r, size_t n,
		   uint8_t out[BP_HASH_MAX_LEN], struct bp_diag *d);

/*
 * Record @err with "@what: <OpenSSL's reason>" in @d and empty OpenSSL's
 * error queue, so a later call never reports this failure's reason.
 */
int bpi_sig_ssl_err(struct bp_diag *d, int err, const char *path, const char *what);

/* Token keys (pkcs11.c). @spec starts with "pkcs11:". */
bool bpi_is_pkcs11_uri(const char *spec);
int bpi_pkcs11_open(struct bp_key *k, const char *spec, const char *pin, bool want_private,
		    struct bp_diag *d);
void bpi_pkcs11_close(struct bp_key *k);
/* @spec without any pin-value attribute, for messages (caller frees; NULL on ENOMEM). */
char *bpi_pkcs11_redact(const char *spec);

/*
 * A provider-native public key with the public half of @src, whatever
 * holds @src (a file, a token's engine): what key nodes are written from.
 */
int bpi_key_public_copy(const EVP_PKEY *src, EVP_PKEY **out, const char *path,
			struct bp_diag *d);

/* U-Boot's Montgomery constants for modulus @n: -1/n mod 2^32 and (2^bits)^2 mod n. */
int bpi_rsa_uboot_params(const BIGNUM *n, uint32_t *n0inv, BIGNUM *rr);

/* ECDSA (ecdsa.c). */
/*
 * RFC 6979 section 3.2: the deterministic nonce k for private key @x and
 * message hash @h1 (@hlen bytes) on a group of order @q, with HMAC-@md.
 * @skip: how many valid candidates to pass over (0 normally; the signer
 * asks for the next one in the rare case a k gives r or s = 0).
 */
int bpi_rfc6979_k(const BIGNUM *q, const BIGNUM *x, const EVP_MD *md, const uint8_t *h1,
		  size_t hlen, unsigned int skip, BIGNUM *k);
int bpi_ecdsa_sign(const struct bp_key *k, const struct bpi_sig_algo *a, const uint8_t *hash,
		   size_t hlen, uint8_t *value, struct bp_diag *d);
int bpi_ecdsa_verify(EVP_PKEY *pub, const struct bpi_sig_algo *a, const uint8_t *hash,
		     size_t hlen, const uint8_t *value, size_t len, struct bp_diag *d);

#endif
