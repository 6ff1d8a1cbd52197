/* SPDX-License-Identifier: MIT */
/*
 * Internal signature layer (bpi_: not exported): U-Boot's signature
 * algorithms over a list of regions, private keys (struct bp_key, PEM or
 * PKCS#11) and the public keys U-Boot keeps in its control devicetree.
 * All cryptography is OpenSSL's; this layer only maps U-Boot's names and
 * byte formats onto it. lib/fit/ uses it and never calls OpenSSL itself.
 */
#ifndef BP_SIG_H
#define BP_SIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bootpack/error.h>
#include <bootpack/hash.h>
#include <bootpack/sign.h>

enum bpi_sig_kind { BPI_SIG_RSA, BPI_SIG_ECDSA };

/* A parsed U-Boot algorithm name, "sha256,rsa2048" plus padding. */
struct bpi_sig_algo {
	enum bp_hash_algo hash;     /* BP_HASH_SHA1..BP_HASH_SHA512 */
	enum bpi_sig_kind kind;
	unsigned int bits;          /* RSA 2048/3072/4096; ECDSA 256/384 */
	bool pss;                   /* RSA padding "pss" (else "pkcs-1.5") */
	char name[24];              /* canonical "sha256,rsa2048" */
};

/* Longest signature value: RSA-4096. */
#define BPI_SIG_MAX_LEN 512

/*
 * Parse @algo ("sha256,rsa2048", "sha384,ecdsa384"...) and @padding (NULL,
 * "pkcs-1.5" or "pss"; pss only for RSA). Unknown names are
 * BP_ERR_UNSUPPORTED with the name (escaped) in the message.
 */
int bpi_sig_algo_parse(const char *algo, const char *padding, struct bpi_sig_algo *a,
		       struct bp_diag *d);

/* Length of a signature value of @a: bits/8 for RSA, 2 * bits/8 for ECDSA (r || s). */
size_t bpi_sig_len(const struct bpi_sig_algo *a);

struct bpi_region {
	const void *data;
	size_t size;
};

/* BP_ERR_INVALID with a clear message when @k cannot sign with @a (type or size). */
int bpi_sig_key_check(const struct bp_key *k, const struct bpi_sig_algo *a, struct bp_diag *d);

/*
 * Sign the concatenation of @n regions with @k as U-Boot expects the
 * "value" property: RSA big-endian, modulus-sized; ECDSA r || s, each
 * zero-padded to the coordinate size. Deterministic for file keys (see
 * <bootpack/sign.h>). Safe to call from several threads with one key.
 * Writes bpi_sig_len(@a) bytes to @value.
 */
int bpi_sig_sign(const struct bp_key *k, const struct bpi_sig_algo *a,
		 const struct bpi_region *r, size_t n, uint8_t *value, struct bp_diag *d);

/* A public key node from a control devicetree (untrusted input). */
struct bpi_pubkey {
	const char *node;           /* "key-dev" (points into the devicetree) */
	const char *name;           /* key-name-hint, else node minus "key-" */
	bool has_algo;
	struct bpi_sig_algo algo;   /* from "algo" (padding from the signature node) */
	enum bp_key_required required;
	void *pkey;                 /* EVP_PKEY *, owned */
};

/*
 * Read the key node at @node of @fdt (already checked with fdt_check_full
 * or equivalent). Every property is validated: rsa,num-bits 2048..4096 and
 * matching the modulus length, odd modulus, exponent > 1 and odd, r-squared
 * and n0-inverse consistent with the modulus; ecdsa,curve known, points on the
 * curve. BP_ERR_FORMAT with a clear message otherwise.
 */
int bpi_pubkey_read(const void *fdt, int node, struct bpi_pubkey *out, struct bp_diag *d);
void bpi_pubkey_free(struct bpi_pubkey *k);

/*
 * 0 when @value is @k's signature with @a over the regions;
 * BP_ERR_SIGNATURE when it is not (wrong length included). As U-Boot's
 * rsa_verify_with_keynode, an RSA key must have an "algo" equal to the
 * signature's (a sha256,rsa2048 key never verifies a sha1,rsa2048
 * signature); ECDSA keys need none (mkimage 2023.01 writes none). PSS
 * signatures verify with any salt length (mkimage signs with OpenSSL's
 * default, the longest).
 */
int bpi_sig_verify(const struct bpi_pubkey *k, const struct bpi_sig_algo *a,
		   const struct bpi_region *r, size_t n, const uint8_t *value, size_t len,
		   struct bp_diag *d);

/*
 * Add (or replace) /signature/key-@name in @fdt (open, with room; BP_ERR_TOOBIG
 * asks the caller to grow it and retry) holding @k's public key for @a, with
 * key-name-hint @name (NULL: bp_key_name(@k)) and "required" as @req says.
 * A replaced node is emptied first, so nothing of an older key stays. After
 * BP_ERR_TOOBIG the tree may hold part of the node; growing that same tree
 * and calling again gives the bytes a single call with room gives. RSA
 * nodes equal mkimage -K's (same properties, order and values); ECDSA nodes
 * have mkimage's ecdsa,curve/x-point/y-point plus key-name-hint, algo and
 * required (mkimage 2023.01 writes only the point, at /signature/NAME).
 */
int bpi_pubkey_write(void *fdt, const struct bp_key *k, const char *name,
		     const struct bpi_sig_algo *a, enum bp_key_required req, struct bp_diag *d);

#endif
